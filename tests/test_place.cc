// The placer: legal layouts (inside the mesh, disjoint, every PE within
// SRAM, consecutive stages touching, every route colored within the budget),
// determinism, the balanced tiling's bands and fullest tiles recounted from the masks, and its
// errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "kernels/pipeline.h"
#include "sim/config.h"
#include "sim/engine/engine.h"
#include "sim/place.h"
#include "workloads/mask.h"
#include "ws_test.h"

namespace {

using Placement = std::unique_ptr<ws_placement, void (*)(ws_placement *)>;
using wstest::config;

const char kSmall[] =
    "schema_version: 1\n"
    "fabric: {width: 96, height: 64}\n"
    "model: {preset: custom, layers: 2, d_model: 256, heads: 8, d_ff: 1024, vocab: 2000, context: 128}\n"
    "workload: {seq_len: 128, micro_batch: 16, sparsity: 0.5, pattern: magnitude}\n";

Placement place(const ws_config &c) {
  char err[WS_CONFIG_ERR_MAX] = "";
  ws_placement *p = ws_place(&c, err, sizeof err);
  EXPECT_NE(p, nullptr) << err;
  return Placement(p, ws_placement_destroy);
}

// Every region inside the mesh and disjoint; every stage's busiest PE within
// SRAM; the stage count and the PEs used add up.
void expect_legal(const ws_config &c, const ws_placement *p) {
  const uint32_t n = ws_placement_count(p), W = (uint32_t)c.fabric.width, H = (uint32_t)c.fabric.height;
  std::vector<int> owner((size_t)W * H, -1);
  uint64_t pes = 0;
  for (uint32_t i = 0; i < n; i++) {
    const ws_placed *s = ws_placement_stage(p, i);
    const fab_rect q = s->stage.region;
    ASSERT_GT(q.w * q.h, 0u) << s->stage.name;
    ASSERT_LE(q.x + q.w, W) << s->stage.name;
    ASSERT_LE(q.y + q.h, H) << s->stage.name;
    for (uint32_t y = q.y; y < q.y + q.h; y++)
      for (uint32_t x = q.x; x < q.x + q.w; x++) {
        ASSERT_EQ(owner[(size_t)y * W + x], -1) << s->stage.name << " overlaps at " << x << "," << y;
        owner[(size_t)y * W + x] = (int)i;
      }
    EXPECT_TRUE(s->est.fits) << s->stage.name;
    EXPECT_LE(s->est.sram, (uint64_t)c.fabric.sram_per_pe) << s->stage.name;
    EXPECT_EQ(s->est.pes, q.w * q.h);
    pes += s->est.pes;
  }
  const ws_place_totals *t = ws_placement_totals(p);
  EXPECT_EQ(t->pes_used, pes);
  EXPECT_EQ(t->stages, n);
  EXPECT_GE((double)t->stage_max, t->stage_mean);
  // Consecutive stages touch on a shelf; a shelf ends only before a GELU,
  // which starts the next shelf at the same end (the gap: what the shelf
  // left unused, less than its width).
  const uint32_t h = t->shelf_height;
  for (uint32_t i = 0; i + 1 < n; i++) {
    const krn_stage &a = ws_placement_stage(p, i)->stage, &b = ws_placement_stage(p, i + 1)->stage;
    const fab_rect qa = a.region, qb = b.region;
    if (qa.y / h == qb.y / h) {
      EXPECT_TRUE(qa.x + qa.w == qb.x || qb.x + qb.w == qa.x) << a.name << " and " << b.name << " touch";
    } else {
      EXPECT_EQ(qb.y / h, qa.y / h + 1) << b.name;
      EXPECT_EQ(b.kind, KRN_STAGE_GELU) << b.name << " starts a shelf";
      EXPECT_TRUE(qb.x == 0 || qb.x + qb.w == W) << b.name << " starts its shelf at the end the last one ended";
      EXPECT_EQ(qa.y / h % 2 == 0, qb.x + qb.w == W) << b.name;
    }
  }
  EXPECT_LT(t->hops_next_max, W);
  if (t->routes_ok) {
    EXPECT_LE(t->colors_max, (uint32_t)c.fabric.colors);
  }
}

TEST(Place, ASmallModelIsLegalDeterministicAndReportsItsRoutes) {
  const ws_config c = config({}, kSmall);
  Placement a = place(c), b = place(c);
  ASSERT_TRUE(a && b);
  expect_legal(c, a.get());
  ASSERT_EQ(ws_placement_count(a.get()), ws_placement_count(b.get()));
  for (uint32_t i = 0; i < ws_placement_count(a.get()); i++) {
    const fab_rect x = ws_placement_stage(a.get(), i)->stage.region, y = ws_placement_stage(b.get(), i)->stage.region;
    EXPECT_TRUE(x.x == y.x && x.y == y.y && x.w == y.w && x.h == y.h) << i;
  }
  const ws_place_totals *t = ws_placement_totals(a.get());
  EXPECT_TRUE(t->routes_ok) << t->route_error;
  // one shelf height given: that one
  const ws_config one = config({"placer.shelf_height=32"}, kSmall);
  Placement d = place(one);
  ASSERT_TRUE(d);
  expect_legal(one, d.get());
  EXPECT_EQ(ws_placement_totals(d.get())->shelf_height, 32u);
  std::printf("[ place ] small: %llu of %llu PEs, max %llu, mean %.0f (PE-weighted %.0f), routes %s\n",
              (unsigned long long)t->pes_used, (unsigned long long)t->pes_mesh, (unsigned long long)t->stage_max,
              t->stage_mean, t->stage_mean_pe, t->routes_ok ? "ok" : "fail");
}

// GPT-3 1.3B on the full CS-2 mesh, dense and at 75 % sparsity: legal,
// every route of the pipeline colored within the router's 24, and balanced.
// Balance is the slowest stage against the PE-weighted mean stage (how busy
// the average PE is; see the issue 7 note for why not the plain mean over
// stages, which the 97 layernorm and residual stages, 1-2 % of the PEs far
// below any target, pull down to 1.56-1.71): at most 1.15 dense, and at 0.75
// with micro-batches of 8 tokens; with 16 at most 1.3: attention cannot
// take more than 16 columns (one per head), so its interval, with the output
// PE's normalisation counted, is the floor (8,562 cycles on 16 x 248 PEs),
// and the GEMMs sized around it keep 20-30 % of slack (1.2 before the
// normalisation was counted).
TEST(Place, Gpt3_1_3BRoutesWithin24ColorsOnTheFullWaferBalanced) {
  struct Case {
    const char *sparsity, *micro_batch;
    double bound;
  };
  for (const Case &k : {Case{"0", "16", 1.15}, Case{"0.75", "8", 1.15}, Case{"0.75", "16", 1.3}}) {
    const ws_config c =
        config({std::string("workload.sparsity=") + k.sparsity, std::string("workload.micro_batch=") + k.micro_batch});
    Placement p = place(c);
    ASSERT_TRUE(p);
    expect_legal(c, p.get());
    const ws_place_totals *t = ws_placement_totals(p.get());
    EXPECT_TRUE(t->routes_ok) << t->route_error;
    EXPECT_LE(t->colors_max, 24u);
    const double pe_weighted = (double)t->stage_max / t->stage_mean_pe;
    EXPECT_LE(pe_weighted, k.bound) << k.sparsity << " b " << k.micro_batch;
    std::printf("[ place ] 1.3B at %s, b %s: %llu PEs, shelf %u, stage max %llu, max/mean %.3f, max/PE-weighted "
                "mean %.3f, colors %u, %.1f s\n",
                k.sparsity, k.micro_batch, (unsigned long long)t->pes_used, t->shelf_height,
                (unsigned long long)t->stage_max, (double)t->stage_max / t->stage_mean, pe_weighted, t->colors_max,
                t->wall_s);
  }
}

// Every other preset that fits the CS-2 mesh dense is legal and routes
// within the colors (6.7B and larger do not fit dense: their own tests).
TEST(Place, EveryPresetThatFitsIsLegalAndRoutes) {
  for (const char *preset : {"125M", "350M", "760M", "2.7B"}) {
    const ws_config c = config({std::string("model.preset=") + preset});
    Placement p = place(c);
    ASSERT_TRUE(p) << preset;
    expect_legal(c, p.get());
    const ws_place_totals *t = ws_placement_totals(p.get());
    EXPECT_TRUE(t->routes_ok) << preset << ": " << t->route_error;
    std::printf("[ place ] %s: %llu PEs, stage max %llu, max/PE-weighted mean %.3f, colors %u, %.1f s\n", preset,
                (unsigned long long)t->pes_used, (unsigned long long)t->stage_max,
                (double)t->stage_max / t->stage_mean_pe, t->colors_max, t->wall_s);
  }
  char err[WS_CONFIG_ERR_MAX] = "";
  const ws_config big = config({"model.preset=6.7B"});
  EXPECT_EQ(ws_place(&big, err, sizeof err), nullptr);
  EXPECT_NE(std::string(err).find("too small"), std::string::npos) << err;
}

// The placed pipeline of a 2-layer model of 16 heads runs all its 32
// micro-batches through. Its later stages lag the embedding by more
// micro-batches than a stage keeps state for: they are armed as they catch
// up (before, a lagging PE found its micro-batch's entries taken by a later
// one). The residual adds take their skip inputs 10 and 14 deep, so the
// residual's producer runs that far ahead of them: a slot whose entry
// already holds a later micro-batch has freed the one a message waits for
// (before, that message waited for ever).
TEST(Place, APlacedPipelineRunsEveryMicroBatchThrough) {
  const ws_config c = config({}, "schema_version: 1\n"
                                 "fabric: {width: 300, height: 200}\n"
                                 "model: {preset: custom, layers: 2, d_model: 1024, heads: 16, d_ff: 4096, vocab: 2000, "
                                 "context: 512}\n"
                                 "workload: {seq_len: 512, micro_batch: 16, sparsity: 0}\n");
  Placement p = place(c);
  ASSERT_TRUE(p);
  ASSERT_TRUE(ws_placement_totals(p.get())->routes_ok);
  std::vector<krn_stage> stages;
  for (uint32_t i = 0; i < ws_placement_count(p.get()); i++) stages.push_back(ws_placement_stage(p.get(), i)->stage);
  fab_config fc;
  krn_machine m;
  ws_config_fabric(&c, &fc);
  ws_config_machine(&c, &m);
  char err[512] = "";
  sim_engine *e = sim_engine_create(nullptr, err, sizeof err);
  fab_fabric *f = fab_create(e, &fc, err, sizeof err);
  ASSERT_NE(f, nullptr) << err;
  const uint32_t mbs = 32;
  const krn_run run = {.b = 16, .micro_batches = mbs, .seq = 512, .functional = false, .tokens = nullptr, .input = nullptr, .feedback = 0, .prompt = 0};
  krn_pipe *pipe = krn_pipe_create(e, f, &m, stages.data(), (uint32_t)stages.size(), &run, err, sizeof err);
  ASSERT_NE(pipe, nullptr) << err;
  ASSERT_EQ(sim_engine_run(e), 0) << sim_engine_error(e);
  EXPECT_EQ(krn_pipe_check(pipe, err, sizeof err), 0) << err;
  for (uint32_t mb = 1; mb < mbs; mb++) EXPECT_GT(krn_pipe_done(pipe, mb), krn_pipe_done(pipe, mb - 1)) << mb;
  for (const krn_stage &s : stages) {  // the residual adds' skip inputs (6 and 4 stages skipped)
    if (s.kind == KRN_STAGE_ADD) {
      EXPECT_TRUE(s.depth[0] == 14 || s.depth[0] == 10) << s.name << " " << (int)s.depth[0];
      EXPECT_EQ(krn_depth(&s, 1), 2u) << s.name;  // the projection beside it
    }
  }
  EXPECT_EQ(fab_check_finished(f, err, sizeof err), 0) << err;
  std::printf("[ place ] 2 layers of 16 heads: micro-batch 0 out at %llu cycles, 31 at %llu; placer's slowest stage %llu\n",
              (unsigned long long)krn_pipe_done(pipe, 0), (unsigned long long)krn_pipe_done(pipe, mbs - 1),
              (unsigned long long)ws_placement_totals(p.get())->stage_max);
  krn_pipe_destroy(pipe);
  fab_destroy(f);
  sim_engine_destroy(e);
}

// Balanced tiling, recounted from the masks weight by weight (not with the
// placer's wl_mask_count): where a stage kept balanced cut points, every
// band of them holds at most its share of the nonzeros plus one row's or
// column's (what cutting at the running sum's multiples guarantees), its
// fullest tile is the placer's nnz_max, and that is lighter than the
// fullest tile of even cut points; with magnitude masks (outlier rows and
// columns) some stage keeps them and the fullest tiles get lighter in sum.
// (The placer keeps balanced cuts only where they are lighter, so comparing
// its own two estimates, as this test once did, could not fail.)
TEST(Place, BalancedTilingEvensTheBandsAndLightensTheFullestTile) {
  for (const char *pattern : {"magnitude", "bernoulli"}) {
    const ws_config c = config({"placer.tiling=balanced", std::string("workload.pattern=") + pattern}, kSmall);
    Placement p = place(c);
    ASSERT_TRUE(p);
    uint64_t bal = 0, uni = 0, kept = 0;
    for (uint32_t i = 0; i < ws_placement_count(p.get()); i++) {
      const ws_placed *s = ws_placement_stage(p.get(), i);
      const krn_stage &st = s->stage;
      if (st.kind != KRN_STAGE_GEMM || !st.mask) continue;
      const uint32_t R = st.region.h, C = st.region.w;
      std::vector<uint64_t> row(st.k, 0), col(st.n, 0);
      for (uint32_t k = 0; k < st.k; k++)
        for (uint32_t n = 0; n < st.n; n++)
          if (wl_mask_get(st.mask, k, n)) row[k]++, col[n]++;
      uint64_t total = 0, row_max = 0, col_max = 0;
      for (uint64_t v : row) total += v, row_max = std::max(row_max, v);
      for (uint64_t v : col) col_max = std::max(col_max, v);
      std::vector<uint32_t> ke(R + 1), ne(C + 1);
      for (uint32_t x = 0; x <= R; x++) ke[x] = (uint32_t)((uint64_t)x * st.k / R);
      for (uint32_t x = 0; x <= C; x++) ne[x] = (uint32_t)((uint64_t)x * st.n / C);
      const uint32_t *kc = st.k_cut ? st.k_cut : ke.data(), *nc = st.n_cut ? st.n_cut : ne.data();
      const auto fullest = [&](const uint32_t *kcut, const uint32_t *ncut) {
        uint64_t most = 0;
        for (uint32_t a = 0; a < R; a++)
          for (uint32_t b = 0; b < C; b++) {
            uint64_t n = 0;
            for (uint32_t k = kcut[a]; k < kcut[a + 1]; k++)
              for (uint32_t x = ncut[b]; x < ncut[b + 1]; x++) n += wl_mask_get(st.mask, k, x);
            most = std::max(most, n);
          }
        return most;
      };
      const uint64_t mine = fullest(kc, nc), even = fullest(ke.data(), ne.data());
      EXPECT_EQ(mine, s->est.nnz_max) << st.name << " " << pattern;
      EXPECT_EQ(even, s->uniform.nnz_max) << st.name << " " << pattern;
      if (st.n_cut || st.k_cut) {
        kept++;
        EXPECT_LT(mine, even) << st.name << " " << pattern << ": kept balanced cuts that are not lighter";
      } else {
        EXPECT_EQ(mine, even) << st.name;
      }
      for (uint32_t b = 0; st.n_cut && b < C; b++) {
        uint64_t band = 0;
        for (uint32_t x = st.n_cut[b]; x < st.n_cut[b + 1]; x++) band += col[x];
        EXPECT_LE((double)band, (double)total / C + (double)col_max) << st.name << " column band " << b;
      }
      // K is cut evenly after a column of features (the placer's rule): only
      // cut points that are not the even ones were balanced
      const bool k_balanced = st.k_cut && !std::equal(ke.begin(), ke.end(), st.k_cut);
      for (uint32_t a = 0; k_balanced && a < R; a++) {
        uint64_t band = 0;
        for (uint32_t k = st.k_cut[a]; k < st.k_cut[a + 1]; k++) band += row[k];
        EXPECT_LE((double)band, (double)total / R + (double)row_max) << st.name << " row band " << a;
      }
      bal += mine;
      uni += even;
    }
    std::printf("[ place ] %s: fullest tiles %llu balanced vs %llu uniform (sum over sparse GEMMs), %llu stages kept "
                "balanced cuts\n",
                pattern, (unsigned long long)bal, (unsigned long long)uni, (unsigned long long)kept);
    if (std::string(pattern) == "magnitude") {
      EXPECT_GT(kept, 0u);
      EXPECT_LT(bal, uni);
    }
  }
}

TEST(Place, ModelsThatCannotFitAreClearErrors) {
  char err[WS_CONFIG_ERR_MAX] = "";
  const ws_config big = config({"model.preset=175B", "workload.pattern=bernoulli"});
  EXPECT_EQ(ws_place(&big, err, sizeof err), nullptr);
  EXPECT_NE(std::string(err).find("does not fit"), std::string::npos) << err;
  EXPECT_NE(std::string(err).find("bytes"), std::string::npos) << err;
  const ws_config tiny_mesh = config({"fabric.width=16", "fabric.height=16"}, kSmall);
  EXPECT_EQ(ws_place(&tiny_mesh, err, sizeof err), nullptr);
  EXPECT_NE(std::string(err).find("too small"), std::string::npos) << err;
  const ws_config few_colors = config({"fabric.colors=4"}, kSmall);
  EXPECT_EQ(ws_place(&few_colors, err, sizeof err), nullptr);
  EXPECT_NE(std::string(err).find("within fabric.colors = 4"), std::string::npos) << err;
}

TEST(Place, CliWritesStagesTotalsAndTheMap) {
  const std::string yaml = wstest::write_temp("place_small.yaml", kSmall);
  const std::string map = std::string(::testing::TempDir()) + "place_map.csv";
  auto r = wstest::run_cli({"place", yaml, "--format", "csv", "--map", map});
  ASSERT_TRUE(r.status == 0 || r.status == 1) << r.err;
  EXPECT_EQ(r.out.rfind("op,layer,x,y,w,h,pes,tile_k,tile_n,nnz_max,nnz_mean,stage_cycles,sram_max_bytes,colors_max", 0),
            0u)
      << r.out;
  EXPECT_NE(r.err.find("pes_used"), std::string::npos) << r.err;  // the totals, on stderr with CSV
  FILE *f = std::fopen(map.c_str(), "r");
  ASSERT_NE(f, nullptr);
  int lines = 0;
  for (int ch; (ch = std::fgetc(f)) != EOF;) lines += ch == '\n';
  std::fclose(f);
  EXPECT_EQ(lines, 1 + 96 * 64);
}

}  // namespace
