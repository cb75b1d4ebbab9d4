// The end-to-end run and the sweep on small configurations: the invariants
// of issue 8 (cycles never below the analytic bound, per op and in total;
// executed MACs equal nonzeros x tokens; the dense run's FLOPs equal the
// flops command's; FLOP/s never above peak; train and wavelet fidelity
// close; determinism is test_check.cc's), the sweep's speedups, and the
// reports and errors of `wafersim run` and `wafersim sweep`.
#include <gtest/gtest.h>
#include <jansson.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "sim/config.h"
#include "sim/run.h"
#include "sim/sweep.h"
#include "ws_test.h"

namespace {

using RunPtr = std::unique_ptr<ws_run, void (*)(ws_run *)>;

// Two decoder layers on 64 x 64 PEs: 8 micro-batches of 16 tokens.
const std::vector<std::string> kTiny = {
    "fabric.width=64",    "fabric.height=64",    "model.preset=custom", "model.layers=2",
    "model.d_model=128",  "model.heads=4",       "model.d_ff=512",      "model.vocab=256",
    "model.context=128",  "workload.seq_len=128", "workload.micro_batch=16"};

std::vector<std::string> tiny(std::vector<std::string> more) {
  std::vector<std::string> s = kTiny;
  s.insert(s.end(), more.begin(), more.end());
  return s;
}

std::vector<std::string> cli_sets(const std::vector<std::string> &sets) {
  std::vector<std::string> args;
  for (const auto &s : sets) {
    args.push_back("--set");
    args.push_back(s);
  }
  return args;
}

RunPtr simulate(const ws_config &c) {
  char err[1024] = "";
  RunPtr r(ws_run_simulate(&c, nullptr, nullptr, err, sizeof err), ws_run_destroy);
  EXPECT_TRUE(r) << err;
  return r;
}

// Cycles never below the analytic lower bound, per op and in total; FLOP/s
// never above the peak; every weight GEMM executes nonzeros x tokens MACs.
TEST(Run, CyclesRespectTheBoundAndMacsMatchTheMasks) {
  for (const char *level : {"0", "0.5", "0.9"}) {
    const ws_config c = wstest::config(tiny({std::string("workload.sparsity=") + level}));
    RunPtr r = simulate(c);
    ASSERT_TRUE(r);
    const ws_run_totals *t = ws_run_totals_of(r.get());
    EXPECT_GE(t->cycles, t->bound) << level;
    EXPECT_GT(t->bound, 0u);
    EXPECT_GE(t->cycles, t->fill_cycles);
    EXPECT_LE(t->peak_fraction, 1.0);
    EXPECT_EQ(t->micro_batches, 8u);
    EXPECT_LE(t->sram_max, (uint64_t)c.fabric.sram_per_pe);
    uint64_t nnz_tokens = 0, gemm_macs = 0;
    for (uint32_t i = 0; i < ws_run_op_count(r.get()); i++) {
      const ws_run_op *o = ws_run_op_at(r.get(), i);
      EXPECT_GE(o->cycles, o->bound) << o->name << " at " << level;
      EXPECT_GE(o->cycles, o->busy_max) << o->name;
      EXPECT_LE(o->utilisation, 1.0) << o->name;
      const bool gemm = std::string(o->kernel) == "sparse" || std::string(o->kernel) == "dense" ||
                        std::string(o->kernel) == "mixed";
      if (!gemm) continue;
      gemm_macs += o->macs;
      nnz_tokens += (uint64_t)std::llround(o->nnz_mean * o->pes) * 128u;
    }
    // the weight GEMMs' FLOPs (2 per MAC) are the executed FLOPs less attention's
    EXPECT_EQ(gemm_macs, nnz_tokens) << level;
    EXPECT_LE(2.0 * (double)gemm_macs, t->flops_executed) << level;
  }
}

// The dense run's FLOPs are the flops command's, to the FLOP.
TEST(Run, DenseFlopsEqualTheFlopsCommand) {
  const auto sets = cli_sets(tiny({}));
  std::vector<std::string> flops = {"flops", "--format", "json"};
  flops.insert(flops.end(), sets.begin(), sets.end());
  const auto f = wstest::run_cli(flops);
  ASSERT_EQ(f.status, 0) << f.err;
  json_error_t je;
  json_t *doc = json_loads(f.out.c_str(), 0, &je);
  ASSERT_NE(doc, nullptr) << je.text;
  json_t *row = json_array_get(json_object_get(json_object_get(doc, "flops"), "totals"), 0);
  const double dense = (double)json_integer_value(json_object_get(row, "flops_dense"));
  const double sparse = (double)json_integer_value(json_object_get(row, "flops_sparse"));
  json_decref(doc);
  RunPtr r = simulate(wstest::config(tiny({})));
  ASSERT_TRUE(r);
  EXPECT_EQ(ws_run_totals_of(r.get())->flops_dense, dense);
  EXPECT_EQ(ws_run_totals_of(r.get())->flops_executed, sparse);
  EXPECT_GT(dense, 0);
}

// Train fidelity against the wavelet reference on the whole pipeline: total
// cycles, the first micro-batch's latency and the steady interval. Measured
// when written: train 58,663 / 40,164 / 2,284 cycles, wavelet 59,725 /
// 42,222 / 2,033 (train took links, ramps and receive units whole before
// it shared them by color: 67,841 / 42,271 / 3,663).
TEST(Run, TrainIsCloseToWaveletOnTwoLayers) {
  ws_run_totals t[2];
  const char *fid[2] = {"sim.fidelity=train", "sim.fidelity=wavelet"};
  for (int i = 0; i < 2; i++) {
    RunPtr r = simulate(wstest::config(tiny({"workload.sparsity=0.5", fid[i]})));
    ASSERT_TRUE(r);
    t[i] = *ws_run_totals_of(r.get());
  }
  std::printf("[ run ] 2 layers on 64x64: train %llu cycles (fill %llu, steady %llu), wavelet %llu (%llu, %llu)\n",
              (unsigned long long)t[0].cycles, (unsigned long long)t[0].fill_cycles,
              (unsigned long long)t[0].steady_interval, (unsigned long long)t[1].cycles,
              (unsigned long long)t[1].fill_cycles, (unsigned long long)t[1].steady_interval);
  EXPECT_NEAR((double)t[0].cycles / (double)t[1].cycles, 1.0, 0.05);
  EXPECT_NEAR((double)t[0].fill_cycles / (double)t[1].fill_cycles, 1.0, 0.06);
  EXPECT_NEAR((double)t[0].steady_interval / (double)t[1].steady_interval, 1.0, 0.15);
  EXPECT_EQ(t[0].macs, t[1].macs);
}

// A sweep: dense first and speedup 1; FLOPs and parameters fall as the
// sparsity grows (test_check.cc: the same files on one worker or two).
TEST(Sweep, DenseFirstAndMonotone) {
  const ws_config c = wstest::config(tiny({}));
  const double levels[] = {0.9, 0.5};
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
      if (i == 0) {
        EXPECT_DOUBLE_EQ(json_real_value(json_object_get(row, "speedup")), 1.0);
      }
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
