// The end-to-end run and the sweep on small configurations: the invariants
// of issue 8 (cycles never below the analytic bound, per op and in total;
// the dense run's FLOPs equal Chinchilla's closed form; the FLOP rate
// within the PEs' busy cycles; train within a derived distance of wavelet;
// determinism is test_check.cc's, MACs per PE test_model_checks.cc's), the
// sweep's speedups, and the reports and errors of `wafersim run` and
// `wafersim sweep`.
#include <gtest/gtest.h>
#include <jansson.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "sim/config.h"
#include "kernels/pipeline.h"
#include "sim/place.h"
#include "sim/run.h"
#include "sim/sweep.h"
#include "ws_test.h"

namespace {

using wstest::RunPtr;
using wstest::simulate;
using wstest::tiny;

std::vector<std::string> cli_sets(const std::vector<std::string> &sets) {
  std::vector<std::string> args;
  for (const auto &s : sets) {
    args.push_back("--set");
    args.push_back(s);
  }
  return args;
}

// Cycles never below the analytic lower bound, per op and in total, and
// the FLOP rate within what the PEs' busy cycles allow: a PE executes at
// most fmac_fp16 multiply-accumulates a busy cycle (its widest SIMD), so
// flops_per_s / peak = macs / (PEs x fmac x cycles) is at most the mesh's
// busy share, sum of busy cycles / (PEs x cycles) (tiny dense: 0.064 against
// a busy share of 0.081; "at most 1" could not catch a FLOP count even ten
// times too large). The MACs themselves are counted PE by PE in
// ModelChecks.EveryPeExecutesItsTilesNonzerosOrItsWholeTile.
TEST(Run, CyclesRespectTheBoundAndTheFlopRateTheBusyCycles) {
  for (const char *level : {"0", "0.5", "0.9"}) {
    const ws_config c = wstest::config(tiny({std::string("workload.sparsity=") + level}));
    RunPtr r = simulate(c);
    ASSERT_TRUE(r);
    const ws_run_totals *t = ws_run_totals_of(r.get());
    EXPECT_GE(t->cycles, t->bound) << level;
    EXPECT_GT(t->bound, 0u);
    EXPECT_GE(t->cycles, t->fill_cycles);
    EXPECT_EQ(t->micro_batches, 8u);
    EXPECT_LE(t->sram_max, (uint64_t)c.fabric.sram_per_pe);
    double busy = 0;
    for (uint32_t i = 0; i < ws_run_op_count(r.get()); i++) {
      const ws_run_op *o = ws_run_op_at(r.get(), i);
      EXPECT_GE(o->cycles, o->bound) << o->name << " at " << level;
      EXPECT_GE(o->cycles, o->busy_max) << o->name;
      EXPECT_LE(o->utilisation, 1.0) << o->name;
      busy += o->utilisation * (double)o->pes * (double)t->cycles;
    }
    const double share = busy / ((double)t->pes_mesh * (double)t->cycles);
    std::printf("[ run ] sparsity %s: peak fraction %.4f, busy share %.4f\n", level, t->peak_fraction, share);
    EXPECT_LE(t->peak_fraction, share * (1 + 1e-12)) << level;
    EXPECT_LE((double)t->macs, (double)c.fabric.fmac_fp16 * busy * (1 + 1e-12)) << level;
    EXPECT_GT(t->peak_fraction, 0.0);
  }
}

// The dense run's FLOPs against Chinchilla's closed form (Hoffmann et al.
// 2022, appendix F), written out for the two tiny layers (L = 2, d = 128,
// H = 4, f = 512, V = 256, S = 128): per layer QKV 2 3 S d^2, scores
// 2 S^2 d, softmax 3 H S^2, scores x V 2 S^2 d, output 2 S d^2, FFN
// 2 S 2 d f; logits 2 S d V; embeddings not counted. The flops command's
// figure is checked against the same number, not against the run's (both
// come from one function).
TEST(Run, DenseFlopsEqualChinchillasClosedForm) {
  const double L = 2, d = 128, H = 4, f = 512, V = 256, S = 128;
  const double layer = 2 * 3 * S * d * d + 2 * S * S * d + 3 * H * S * S + 2 * S * S * d + 2 * S * d * d + 2 * S * 2 * d * f;
  const double want = L * layer + 2 * S * d * V;
  EXPECT_EQ(want, 126222336.0);  // written out
  const auto sets = cli_sets(tiny({}));
  std::vector<std::string> flops = {"flops", "--format", "json"};
  flops.insert(flops.end(), sets.begin(), sets.end());
  const auto fl = wstest::run_cli(flops);
  ASSERT_EQ(fl.status, 0) << fl.err;
  json_error_t je;
  json_t *doc = json_loads(fl.out.c_str(), 0, &je);
  ASSERT_NE(doc, nullptr) << je.text;
  json_t *row = json_array_get(json_object_get(json_object_get(doc, "flops"), "totals"), 0);
  EXPECT_EQ((double)json_integer_value(json_object_get(row, "flops_dense")), want);
  EXPECT_EQ((double)json_integer_value(json_object_get(row, "flops_sparse")), want);
  json_decref(doc);
  RunPtr r = simulate(wstest::config(tiny({})));
  ASSERT_TRUE(r);
  EXPECT_EQ(ws_run_totals_of(r.get())->flops_dense, want);
  EXPECT_EQ(ws_run_totals_of(r.get())->flops_executed, want);
}

// Train fidelity against the wavelet reference on the whole pipeline, within
// what train's two approximations can cost, derived from the placed stages
// (not from a measurement). Both fidelities move one wavelet per cycle per
// unit (link, ramp, receive unit) and conserve work; an uncontended message
// is exact in both (the probes' bound_exact). They differ only where
// messages share a unit: (1) train serves a message whole behind the one
// before it instead of interleaving them wavelet by wavelet, which moves
// either one's end by at most the other's length; (2) it has no
// back-pressure, which in wavelet holds a sender only while the unit
// downstream is busy with another message: again at most that message's
// length. The messages a stage's PEs share units with are its own data
// messages of a micro-batch (x and its relay along a row, q, k and v and
// their relays along a column, outputs to each consumer), at most
//   e_s = b x (its widest tile's features) / 2 wavelets
// (its partial sums run on their column's own chain, meeting only the row
// head's relay of x, which is no longer). So:
//   fill (micro-batch 0 through the stages): |d| <= sum of e_s over the
//     longest chain of producers and consumers;
//   steady interval (the slowest stage, once per micro-batch): |d| <= max e_s;
//   cycles = fill + (M - 1) steady: |d| <= the fill's + (M - 1) max e_s.
// The embedding's tile_k counts table rows, not features: its e_s is its
// output's. Here: a chain of 5,768 wavelets, the widest message 688 (FFN-up's
// output), tolerances 18.2 % (cycles), 13.9 % (fill), 28.9 % (steady).
// Measured after the one-column layernorm's all-reduce: train 57,812 /
// 42,869 / 2,134 cycles, wavelet 58,186 / 41,510 / 2,382 (-0.6 %, +3.3 %,
// -10.4 %); before it 56,679 / 41,468 / 2,173 against 56,831 / 40,315 / 2,359; train before it shared
// units by color took them whole (then 67,841 / 42,271 / 3,663 against
// 59,725 / 42,222 / 2,033: steady +80 %, which the steady tolerance catches).
// The same holds for a batch of two sequences (workload.batch), whose
// micro-batches are twice as many through the same stages.
TEST(Run, TrainWithinOneSharedMessagePerStageOfWavelet) {
  for (const char *batch : {"workload.batch=1", "workload.batch=2"}) {
    SCOPED_TRACE(batch);
    ws_run_totals t[2];
    const char *fid[2] = {"sim.fidelity=train", "sim.fidelity=wavelet"};
    const ws_config c = wstest::config(tiny({"workload.sparsity=0.5", batch}));
    for (int i = 0; i < 2; i++) {
      RunPtr r = simulate(wstest::config(tiny({"workload.sparsity=0.5", batch, fid[i]})));
      ASSERT_TRUE(r);
      t[i] = *ws_run_totals_of(r.get());
    }
    char err[1024] = "";
    std::unique_ptr<ws_placement, void (*)(ws_placement *)> p(ws_place(&c, err, sizeof err), ws_placement_destroy);
    ASSERT_TRUE(p) << err;
    const uint64_t b = (uint64_t)c.workload.micro_batch, M = t[1].micro_batches;
    const uint32_t n = ws_placement_count(p.get());
    std::vector<uint64_t> chain(n, 0);
    uint64_t widest = 0, path = 0;
    for (uint32_t i = 0; i < n; i++) {
      const ws_placed *s = ws_placement_stage(p.get(), i);
      const uint32_t features = s->stage.kind == KRN_STAGE_GEMM ? std::max(s->est.tile_k, s->est.tile_n) : s->est.tile_n;
      const uint64_t e = b * features / 2; /* the embedding's tile_k counts table rows, not features */
      uint64_t before = 0;
      for (int k = 0; k < KRN_MAX_INPUTS; k++)
        if (s->stage.in[k] >= 0) before = std::max(before, chain[(size_t)s->stage.in[k]]);
      chain[i] = before + e;
      widest = std::max(widest, e);
      path = std::max(path, chain[i]);
    }
    const double tol_fill = (double)path / (double)t[1].fill_cycles, tol_steady = (double)widest / (double)t[1].steady_interval,
                 tol_cycles = ((double)path + (double)(M - 1) * (double)widest) / (double)t[1].cycles;
    std::printf("[ run ] 2 layers on 64x64: train %llu cycles (fill %llu, steady %llu), wavelet %llu (%llu, %llu); "
                "derived tolerances %.1f %% / %.1f %% / %.1f %% (chain %llu, widest message %llu wavelets)\n",
                (unsigned long long)t[0].cycles, (unsigned long long)t[0].fill_cycles,
                (unsigned long long)t[0].steady_interval, (unsigned long long)t[1].cycles,
                (unsigned long long)t[1].fill_cycles, (unsigned long long)t[1].steady_interval, 100 * tol_cycles,
                100 * tol_fill, 100 * tol_steady, (unsigned long long)path, (unsigned long long)widest);
    EXPECT_NEAR((double)t[0].cycles / (double)t[1].cycles, 1.0, tol_cycles);
    EXPECT_NEAR((double)t[0].fill_cycles / (double)t[1].fill_cycles, 1.0, tol_fill);
    EXPECT_NEAR((double)t[0].steady_interval / (double)t[1].steady_interval, 1.0, tol_steady);
    EXPECT_LT(tol_steady, 0.8) << "the derivation no longer catches train taking units whole";
    EXPECT_EQ(t[0].macs, t[1].macs);
  }
}

// A sweep: dense first, each row's cycles those of the same point run on
// its own, speedups their ratio to the dense run's; FLOPs and parameters
// fall as the sparsity grows (test_check.cc: the same files on one worker
// or two).
TEST(Sweep, DenseFirstAndMonotone) {
  const ws_config c = wstest::config(tiny({}));
  const double levels[] = {0.9, 0.5};
  // each point's cycles from its own run, outside the sweep: the rows'
  // order (dense first, then ascending), their cycles and every speedup
  // (the dense point's cycles / the point's) are checked against them
  const double want_level[] = {0, 0.5, 0.9};
  uint64_t cycles[3];
  for (int i = 0; i < 3; i++) {
    RunPtr one = simulate(wstest::config(tiny({"workload.sparsity=" + std::to_string(want_level[i])})));
    ASSERT_TRUE(one);
    cycles[i] = ws_run_totals_of(one.get())->cycles;
  }
  EXPECT_NE(cycles[0], cycles[2]);
  {
    const unsigned jobs = 2;
    const ws_sweep_spec spec = {levels, 2, nullptr, nullptr, 0, jobs, nullptr, nullptr};
    char err[1024] = "";
    ws_sweep *s = ws_sweep_run(&c, &spec, err, sizeof err);
    ASSERT_NE(s, nullptr) << err;
    ws_table *t = ws_sweep_table(s);
    ASSERT_NE(t, nullptr);
    ASSERT_EQ(ws_table_rows(t), 3u); /* 0, 0.5, 0.9 */
    json_t *rows = ws_table_json(t);
    double last_flops = 0, last_params = 0;
    for (size_t i = 0; i < 3; i++) {
      json_t *row = json_array_get(rows, i);
      const double fr = json_real_value(json_object_get(row, "flops_reduction"));
      const double pr = json_real_value(json_object_get(row, "params_reduction"));
      EXPECT_DOUBLE_EQ(json_real_value(json_object_get(row, "sparsity")), want_level[i]);
      EXPECT_EQ((uint64_t)json_integer_value(json_object_get(row, "cycles")), cycles[i]) << want_level[i];
      EXPECT_DOUBLE_EQ(json_real_value(json_object_get(row, "speedup")), (double)cycles[0] / (double)cycles[i])
          << want_level[i];
      EXPECT_GT(fr, last_flops);
      EXPECT_GT(pr, last_params);
      last_flops = fr;
      last_params = pr;
    }
    json_decref(rows);
    ws_table *k = ws_sweep_kinds_table(s);
    ASSERT_NE(k, nullptr);
    EXPECT_EQ(ws_table_rows(k), 3u);
    ws_table_destroy(k);
    ws_table_destroy(t);
    ws_sweep_destroy(s);
  }
}

// The reports on disk: every file there, the CSV headers as documented.
TEST(RunCli, WritesItsReports) {
  const std::string dir = wstest::temp_dir("run_out") + "/nested";
  std::vector<std::string> args = {"run", "--out", dir, "--format", "csv"};
  const auto sets = cli_sets(tiny({"workload.sparsity=0.5"}));
  args.insert(args.end(), sets.begin(), sets.end());
  const auto r = wstest::run_cli(args);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.rfind("op,layer,kind,kernel,", 0), 0u) << r.out.substr(0, 80);
  EXPECT_NE(r.err.find("wafersim run: simulating: 100% after "), std::string::npos) << "progress for a log: " << r.err;
  for (const char *name : {"run.json", "totals.csv", "ops.csv", "pes.csv"}) {
    const std::string text = wstest::read_file(dir + "/" + name);
    EXPECT_FALSE(text.empty()) << name;
  }
  const std::string pes = wstest::read_file(dir + "/pes.csv");
  EXPECT_EQ(pes.rfind("x,y,stage,op,busy_cycles,busy_fraction,sram_bytes\n", 0), 0u);
  EXPECT_EQ((size_t)std::count(pes.begin(), pes.end(), '\n'), 64u * 64u + 1u);
}

TEST(RunCli, BadInputIsAClearError) {
  struct Case {
    std::vector<std::string> args;
    const char *says;
  } cases[] = {
      {{"run", "--set", "sim.functional=true"}, "sim.functional"},
      {{"run", "--out", "/proc/no/such"}, "/proc/no"},
      {{"sweep", "--vary", "workload.micro_batch"}, "expected KEY=V1,V2"},
      {{"sweep", "--vary", "workload.no_such_key=1,2"}, "workload.no_such_key"},
      {{"sweep", "--vary", "workload.micro_batch=16,7"}, "micro_batch"},
      {{"sweep", "-j", "0"}, "--jobs"},
      {{"sweep", "--sparsity", "0.5", "--schedule", "0.2,0.8"}, "use one"},
      {{"run", "--mesh", "16x16"}, "does not fit"},
  };
  for (const auto &c : cases) {
    const auto r = wstest::run_cli(c.args);
    EXPECT_NE(r.status, 0) << c.args[1];
    EXPECT_NE(r.err.find(c.says), std::string::npos) << c.args[1] << ": " << r.err;
  }
}

}  // namespace
