// The placer's limit report (issue 19, item 3): what stops it lowering the
// interval, and at which stage. Each limit is checked by what it means
// physically, on tiny-dense's model: a stage at its smallest useful tile
// (attention at one head per column) gains nothing from a wider mesh; a
// full mesh (pes) or a run of stages wider than the mesh (width) does, and
// the full mesh is nearly all used. The run's totals and the sweep's rows
// carry the placement's limit.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "kernels/pipeline.h"
#include "sim/place.h"
#include "sim/run.h"
#include "sim/sweep.h"
#include "ws_test.h"

namespace {

using PlacePtr = std::unique_ptr<ws_placement, void (*)(ws_placement *)>;

PlacePtr place(const std::vector<std::string> &more) {
  const ws_config c = wstest::config(wstest::tiny(more));
  char err[WS_CONFIG_ERR_MAX] = "";
  PlacePtr p(ws_place(&c, err, sizeof err), ws_placement_destroy);
  EXPECT_TRUE(p) << err;
  return p;
}

const ws_placed *stage_named(const ws_placement *p, const std::string &name) {
  for (uint32_t i = 0; i < ws_placement_count(p); i++)
    if (name == ws_placement_stage(p, i)->stage.name) return ws_placement_stage(p, i);
  return nullptr;
}

// A stage at its kind's smallest useful share (tiny at d_model 32: the
// embedding, a column a feature) stops the interval: `tile`, and a wider
// mesh does not lower it.
TEST(PlaceLimit, AStageAtItsSmallestShareIsATileAndAWiderMeshDoesNotHelp) {
  PlacePtr p = place({"fabric.width=256", "model.d_model=32", "model.d_ff=128"}),
           wide = place({"fabric.width=512", "model.d_model=32", "model.d_ff=128"});
  ASSERT_TRUE(p && wide);
  const ws_place_totals *t = ws_placement_totals(p.get());
  EXPECT_STREQ(t->limit, "tile");
  EXPECT_NE(stage_named(p.get(), t->limit_stage), nullptr) << t->limit_stage;
  EXPECT_LT(t->pes_used, t->pes_mesh); /* PEs left over that it cannot use */
  EXPECT_STREQ(ws_placement_totals(wide.get())->limit, "tile");
  EXPECT_EQ(ws_placement_totals(wide.get())->stage_max, t->stage_max);
}

// Attention is no longer held to a column per head (issue 19): on a mesh
// twice as wide, tiny's attention takes more columns than it has heads,
// and the interval falls.
TEST(PlaceLimit, AttentionGrowsPastItsHeadsOnAWiderMesh) {
  PlacePtr p = place({}), wide = place({"fabric.width=128"});
  ASSERT_TRUE(p && wide);
  const ws_placed *a = stage_named(wide.get(), "L0.attention");
  ASSERT_NE(a, nullptr);
  EXPECT_GT(a->stage.region.w, a->stage.heads);
  EXPECT_LT(ws_placement_totals(wide.get())->stage_max, ws_placement_totals(p.get())->stage_max);
}

TEST(PlaceLimit, AFullMeshIsPesAndMorePesHelp) {
  PlacePtr p = place({"fabric.height=16"}), wider = place({"fabric.height=16", "fabric.width=96"});
  ASSERT_TRUE(p && wider);
  const ws_place_totals *t = ws_placement_totals(p.get());
  EXPECT_STREQ(t->limit, "pes");
  EXPECT_STREQ(t->limit_stage, "");
  EXPECT_GE(t->pes_used * 10, t->pes_mesh * 9); /* the mesh is (nearly) full */
  EXPECT_LT(ws_placement_totals(wider.get())->stage_max, t->stage_max);
}

TEST(PlaceLimit, StagesWiderThanTheMeshAreWidthAndAWiderMeshHelps) {
  PlacePtr p = place({"fabric.width=24"}), wider = place({"fabric.width=64"});
  ASSERT_TRUE(p && wider);
  const ws_place_totals *t = ws_placement_totals(p.get());
  EXPECT_STREQ(t->limit, "width");
  EXPECT_NE(stage_named(p.get(), t->limit_stage), nullptr) << t->limit_stage;
  EXPECT_LT(ws_placement_totals(wider.get())->stage_max, t->stage_max);
}

TEST(PlaceLimit, TheRunAndTheSweepReportThePlacementsLimit) {
  PlacePtr p = place({"fabric.height=16"});
  ASSERT_TRUE(p);
  wstest::RunPtr r = wstest::simulate(wstest::config(wstest::tiny({"fabric.height=16"})));
  ASSERT_TRUE(r);
  EXPECT_STREQ(ws_run_totals_of(r.get())->limit, ws_placement_totals(p.get())->limit);
  EXPECT_STREQ(ws_run_totals_of(r.get())->limit_stage, ws_placement_totals(p.get())->limit_stage);
  const wstest::CliResult s = wstest::run_cli({"sweep", wstest::source_path("tests/expected/tiny-dense.yaml"),
                                               "--sparsity", "0.5", "--format", "csv", "-j", "1"});
  ASSERT_EQ(s.status, 0) << s.err;
  const std::string header = s.out.substr(0, s.out.find('\n'));
  EXPECT_NE(header.find(",limit,limit_stage"), std::string::npos) << header;
  EXPECT_NE(s.out.find(",width,L1.ffn_up,"), std::string::npos) << s.out;
}

}  // namespace

namespace {

// When no layout fits, the error says, per group of shelf heights, what
// stops them (tall shelves run out of mesh, middle and short ones out of
// width, at different stages), and each reason is what the placer says with
// that height fixed; on shelves of 4 rows attention has too few rows for 32
// sequences' keys, and the SRAM reason names the bytes.
TEST(PlaceLimit, NoLayoutSaysWhatStopsEachShelfHeight) {
  const std::string yaml = wstest::source_path("tests/expected/tiny-dense.yaml");
  const std::vector<std::string> base = {"place", yaml, "--set", "workload.batch=32", "--set", "fabric.width=14"};
  const wstest::CliResult r = wstest::run_cli(base);
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("wafersim place: the 14 x 64 mesh is too small for the 27 stages of GPT-3 custom at any "
                       "interval: shelves of 64 to 32 rows: the stages need more shelves than the mesh has; shelves "
                       "of 21 to 16 rows: the stages up to L1.ffn_up need more than the mesh's 14 columns on one "
                       "shelf; shelves of 12 to 8 rows: the stages up to L0.res1 need more than the mesh's 14 columns on one shelf "
                       "(placer.shelf_height"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
  for (const auto &[h, why] : std::vector<std::pair<std::string, std::string>>{
           {"32", "shelves of 32 rows: the stages need more shelves than the mesh has"},
           {"16", "shelves of 16 rows: the stages up to L1.ffn_up need more than the mesh's 14 columns"},
           {"12", "shelves of 12 rows: the stages up to L0.res1 need more than the mesh's 14 columns"},
           {"4", "stage L0.attention does not fit: even on 14 x 4 PEs its fullest PE needs 58016 bytes of SRAM, a "
                 "PE has 49152 (fabric.sram_per_pe; or a smaller workload.micro_batch or workload.batch)"}}) {
    std::vector<std::string> args = base;
    args.insert(args.end(), {"--set", "placer.shelf_height=" + h});
    const wstest::CliResult one = wstest::run_cli(args);
    EXPECT_EQ(one.status, 2) << h;
    EXPECT_NE(one.err.find(why), std::string::npos) << h << ": " << one.err;
  }
}

}  // namespace
