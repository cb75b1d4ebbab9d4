// Issue 16, no silently wrong output and bounded work: a sweep's rows carry
// the labels of what ran (the --vary key rule, points that would be the same
// run), every size the user controls is bounded before the work starts
// (mesh, region/tiling, kernel tokens, sweep points and jobs, estimated
// memory), and every input error of run, sweep and place exits 2 with one
// line.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "models/graph.h"
#include "sim/bounds.h"
#include "sim/cli.h"
#include "sim/sweep.h"
#include "ws_test.h"

namespace {

using wstest::run_cli;

const std::string kTiny = wstest::source_path("tests/expected/tiny-dense.yaml");

// One line on stderr, nothing on stdout, exit 2, the line containing `want`.
void expect_refused(const std::vector<std::string> &args, const std::string &want) {
  std::string all;
  for (const auto &a : args) all += a + " ";
  auto r = run_cli(args);
  EXPECT_EQ(r.status, WS_EXIT_BAD_INPUT) << all << "\n" << r.err;
  EXPECT_NE(r.err.find(want), std::string::npos) << all << "\nwant: " << want << "\ngot: " << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << all << ": one line: " << r.err;
  EXPECT_EQ(r.out, "") << all;
}

// A custom GPT whose mask bitmaps alone are 10 TiB (96 layers, d_model 2^18,
// d_ff 2^20, at 99.9 % sparsity with 1 GiB of SRAM a PE, so that its weights
// fit the mesh): no test machine has that memory.
const std::vector<std::string> kHuge = {"--set", "model.preset=custom", "--set", "model.layers=96",
                                        "--set", "model.d_model=262144", "--set", "model.heads=64",
                                        "--set", "model.d_ff=1048576", "--set", "model.vocab=256",
                                        "--set", "model.context=2048", "--set", "workload.sparsity=0.999",
                                        "--set", "fabric.sram_per_pe=1GiB"};

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string> &b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// ---- 1. a sweep labels its rows with what ran ----

TEST(Limits, SweepRefusesAVaryKeyItSetsItself) {
  // before: exit 0, and every level ran at the --vary value under its own label
  expect_refused({"sweep", kTiny, "--vary", "workload.sparsity=0.5,0.6", "--sparsity", "0.9", "-j", "1"},
                 "--vary workload.sparsity: the sweep sets it itself");
}

TEST(Limits, SweepRefusesAVaryKeyThatChangesNoFigure) {
  expect_refused({"sweep", kTiny, "--vary", "output.format=csv,json", "--sparsity", "0.9", "-j", "1"},
                 "--vary output.format: changes no figure");
  expect_refused({"sweep", kTiny, "--vary", "fabrik.width=1,2", "-j", "1"}, "--vary fabrik.width: not a configuration key");
}

TEST(Limits, SweepRefusesLevelsThatChangeNothing) {
  // every sparsifiable kind overridden: workload.sparsity (the levels) reaches no weight
  std::vector<std::string> kinds = {"sweep", kTiny, "--sparsity", "0.5,0.9", "-j", "1"};
  for (const char *k : {"q", "k", "v", "attn_out", "ffn_up", "ffn_down"})
    kinds = with(kinds, {"--set", std::string("workload.sparsity_by_kind.") + k + "=0.5"});
  expect_refused(kinds, "sparsity 0 and 0.5 are the same run");
  // every layer overridden (the tiny model has two)
  expect_refused({"sweep", kTiny, "--sparsity", "0.9", "-j", "1", "--set", "workload.sparsity_by_layer.0=0.5", "--set",
                  "workload.sparsity_by_layer.1=0.7"},
                 "change nothing");
  // a value repeated, or one that means the same
  expect_refused({"sweep", kTiny, "--vary", "kernels.sparse_setup=2,2", "--sparsity", "0.9", "-j", "1"},
                 "--vary kernels.sparse_setup: 2 and 2 are the same run");
  expect_refused({"sweep", kTiny, "--vary", "fabric.width=64,064", "--sparsity", "0.9", "-j", "1"},
                 "--vary fabric.width: 64 and 064 are the same run");
}

TEST(Limits, SweepWithAPartialOverrideRunsAndItsLevelsDiffer) {
  // layer 0 overridden, layer 1 still at the level: the levels do change the run
  auto r = run_cli({"sweep", kTiny, "--sparsity", "0.9", "-j", "1", "--format", "csv", "--set",
                    "workload.sparsity_by_layer.0=0.5"});
  ASSERT_EQ(r.status, 0) << r.err;
  std::vector<std::vector<std::string>> rows;  // sparsity, cycles, ...
  size_t at = r.out.find('\n') + 1;
  for (size_t end; (end = r.out.find('\n', at)) != std::string::npos; at = end + 1) {
    std::vector<std::string> row;
    const std::string line = r.out.substr(at, end - at);
    for (size_t c = 0, e; c <= line.size(); c = e + 1) {
      e = line.find(',', c);
      if (e == std::string::npos) e = line.size();
      row.push_back(line.substr(c, e - c));
    }
    rows.push_back(row);
  }
  ASSERT_EQ(rows.size(), 2u) << r.out;
  EXPECT_EQ(rows[0][0], "0");
  EXPECT_EQ(rows[1][0], "0.9");
  EXPECT_NE(rows[0][1], rows[1][1]) << r.out;  // the cycles differ: the level reached layer 1
}

TEST(Limits, FlopsLevelsThatChangeNothingAreRefusedToo) {
  std::vector<std::string> kinds;
  for (const char *k : {"q", "k", "v", "attn_out", "ffn_up", "ffn_down"})
    kinds = with(kinds, {"--set", std::string("workload.sparsity_by_kind.") + k + "=0.5"});
  const ws_config all = wstest::config({"workload.sparsity_by_kind.q=0.5", "workload.sparsity_by_kind.k=0.5",
                                        "workload.sparsity_by_kind.v=0.5", "workload.sparsity_by_kind.attn_out=0.5",
                                        "workload.sparsity_by_kind.ffn_up=0.5", "workload.sparsity_by_kind.ffn_down=0.5"});
  EXPECT_FALSE(ws_config_sparsity_reaches(&all));
  const ws_config one_kind = wstest::config({"workload.sparsity_by_kind.q=0.5"}),
                  one_layer = wstest::config({"workload.sparsity_by_layer.0=0.5"});
  EXPECT_TRUE(ws_config_sparsity_reaches(&one_kind));
  EXPECT_TRUE(ws_config_sparsity_reaches(&one_layer));
  // before: exit 0 with rows labelled 0.5 and 0.9, both at the overrides' 0.5
  expect_refused(with({"flops", "--sparsity", "0.5,0.9"}, kinds), "--sparsity: workload.sparsity_by_kind");
  expect_refused({"flops", kTiny, "--schedule", "0.2,0.5", "--set", "workload.sparsity_by_layer.0=0.5", "--set",
                  "workload.sparsity_by_layer.1=0.7"},
                 "--schedule: workload.sparsity_by_kind / sparsity_by_layer give every sparse weight its level");
  // without levels of its own, flops reports the configuration as it is
  auto r = run_cli(with({"flops", "--format", "csv"}, kinds));
  EXPECT_EQ(r.status, 0) << r.err;
}

TEST(Limits, VaryValueErrorsNameVary) {
  expect_refused({"sweep", kTiny, "--vary", "workload.micro_batch=x", "-j", "1"},
                 "--vary workload.micro_batch: expected an integer in [1, 16777216] or auto, got 'x'");
  expect_refused({"sweep", kTiny, "--vary", "workload.micro_batch=3", "-j", "1"},
                 "--vary: workload.micro_batch: 3 tokens do not divide workload.seq_len = 128");
}

// ---- 2. bounded work ----

TEST(Limits, SweepPointsAndJobsAreBounded) {
  std::string levels;
  for (int i = 1; i <= 255; i++) levels += (i > 1 ? "," : "") + std::to_string(i / 300.0);
  // 255 levels + dense = 256 points x 2 values
  expect_refused({"sweep", kTiny, "--sparsity", levels, "--vary", "kernels.sparse_setup=1,2", "-j", "1"},
                 "256 levels (dense included) x 2 values = 512 points: at most 256 in a sweep");
  expect_refused({"sweep", kTiny, "-j", "65"}, "-j 65: at most 64 runs at once");
}

TEST(Limits, MeshAboveTheLimitIsRefusedWithTheConfiguration) {
  ws_config c;
  char err[WS_CONFIG_ERR_MAX];
  ASSERT_EQ(ws_config_init_default(&c, err, sizeof err), 0);
  ASSERT_EQ(ws_config_set(&c, "fabric.width=2048", err, sizeof err), 0);
  ASSERT_EQ(ws_config_set(&c, "fabric.height=2048", err, sizeof err), 0);
  EXPECT_EQ(ws_config_finish(&c, err, sizeof err), 0) << err;  // 2^22 exactly: allowed
  ASSERT_EQ(ws_config_set(&c, "fabric.width=2049", err, sizeof err), 0);
  ASSERT_NE(ws_config_finish(&c, err, sizeof err), 0);
  EXPECT_STREQ(err,
               "--set: fabric.width x fabric.height: a 2049 x 2048 mesh has 4196352 PEs, at most 4194304 are allowed "
               "(2^22, 5.6 CS-2 wafers: the placer's time and memory grow with the mesh)");
  // every command, before any work (before: place ran the placer, then exited 1, run 2, on 2^31 PEs)
  for (const char *cmd : {"flops", "config", "kernel", "place", "run", "sweep"})
    expect_refused({cmd, "--set", "fabric.width=65536", "--set", "fabric.height=32769"},
                   "a 65536 x 32769 mesh has 2147549184 PEs, at most 4194304");
  expect_refused({"probe", "allreduce", "--mesh", "4000x4000"}, "a 4000 x 4000 mesh has 16000000 PEs");
}

TEST(Limits, RegionRuleIsOneForFlopsTilingAndKernelRegion) {
  mdl_op op{};
  std::snprintf(op.name, sizeof op.name, "L0.q");
  op.weight_rows = 128;
  op.weight_cols = 512;
  char err[512];
  EXPECT_EQ(ws_bounds_region(&op, 512, 128, "--region", err, sizeof err), 0);
  EXPECT_NE(ws_bounds_region(&op, 513, 1, "--region", err, sizeof err), 0);
  EXPECT_STREQ(err, "--region: a 513x1 region gives L0.q (128 x 512) an empty tile: at most 512 columns (N) and 128 rows (K)");
  EXPECT_NE(ws_bounds_region(&op, 1, 129, "--tiling", err, sizeof err), 0);
  op.weight_rows = op.weight_cols = 1 << 20;
  EXPECT_EQ(ws_bounds_region(&op, 2048, 2048, "--region", err, sizeof err), 0);
  EXPECT_NE(ws_bounds_region(&op, 2049, 2048, "--region", err, sizeof err), 0);
  EXPECT_NE(std::string(err).find("4196352 PEs, at most 4194304"), std::string::npos) << err;
  // both commands, on the tiny model (d_model 128: no weight has fewer rows or columns)
  auto ok = run_cli({"flops", kTiny, "--tiling", "128x128", "--format", "csv"});
  EXPECT_EQ(ok.status, 0) << ok.err;
  // before: --tiling 100000x100000 on GPT-3 1.3B ran 86 s
  expect_refused({"flops", kTiny, "--tiling", "129x1"}, "--tiling: a 129x1 region gives");
  expect_refused({"flops", "--tiling", "100000x100000"}, "--tiling: a 100000x100000 region gives");
  expect_refused({"kernel", kTiny, "--op", "L0.q", "--region", "129x1"},
                 "--region: a 129x1 region gives L0.q (128 x 128) an empty tile");
  expect_refused({"kernel", "--region", "8192x2048"}, "a 8192x2048 region has 16777216 PEs, at most 4194304");
}

TEST(Limits, KernelSimulatesAtMostOneContextOfTokens) {
  const ws_config c = wstest::config({});  // GPT-3 1.3B: context 2048
  const uint32_t batches[] = {1, 16};
  char err[512];
  EXPECT_EQ(ws_bounds_tokens(&c, batches, 2, 128, err, sizeof err), 0);  // 16 x 128 = 2048
  EXPECT_NE(ws_bounds_tokens(&c, batches, 2, 129, err, sizeof err), 0);
  EXPECT_STREQ(err, "--micro-batches 129 x --batch 16 = 2064 tokens, at most model.context = 2048 of GPT-3 1.3B (the "
                    "longest sequence it takes)");
  // before: no cap, 6 GB after 20 s
  expect_refused({"kernel", "--micro-batches", "1000000000"}, "--micro-batches 1000000000 x --batch 16");
}

TEST(Limits, WaveletFidelityProbesAreBoundedInWaveletHops) {
  // before: unicast --wavelets 2000000000 in wavelet fidelity ran past 20 s (an event per wavelet per hop)
  expect_refused({"probe", "unicast", "--wavelets", "2000000000", "--fidelity", "wavelet"},
                 "--wavelets 2000000000 x 1742 links = 3.484e+12 wavelet-hops in wavelet fidelity, at most 2^28 "
                 "(268435456)");
  // multicast-row on 750 x 994: 994 rows x 749 links = 744506 a wavelet; 360 of them fit in 2^28, 361 do not
  expect_refused({"probe", "multicast-row", "--wavelets", "361", "--fidelity", "wavelet"}, "x 744506 links");
  expect_refused({"probe", "random", "--mesh", "64x64", "--messages", "1000", "--wavelets", "2098", "--fidelity",
                  "wavelet"},
                 "x 128000 links");
  for (const char *pattern : {"reduce-column", "multicast-reduce", "allreduce", "region-copy"})
    expect_refused({"probe", pattern, "--wavelets", "2000000000", "--fidelity", "wavelet"}, "wavelet-hops");
  // train fidelity moves a message as one event per hop: not bounded by wavelets
  auto r = run_cli({"probe", "unicast", "--mesh", "8x8", "--wavelets", "2000000000", "--format", "csv"});
  EXPECT_EQ(r.status, 0) << r.err;
  r = run_cli({"probe", "unicast", "--wavelets", "1000", "--fidelity", "wavelet", "--format", "csv"});
  EXPECT_EQ(r.status, 0) << r.err;  // the full wafer's corner to corner: 1.7 M wavelet-hops
}

TEST(Limits, MemoryEstimateIsTheMasksPlusACostPerPe) {
  const ws_config c = wstest::config({}, "schema_version: 1\nfabric: {width: 64, height: 64}\n"
                                         "model: {preset: custom, layers: 2, d_model: 128, heads: 4, d_ff: 512, "
                                         "vocab: 256, context: 128}\nworkload: {seq_len: 128, micro_batch: 16}\n");
  // a layer: q, k, v, attn_out 128 x 128 bits, ffn_up 128 x 512, ffn_down 512 x 128; keys 4 B x 128 x 512
  const uint64_t masks = 2 * (4 * 128 * 2 * 8 + 128 * 8 * 8 + 512 * 2 * 8) + 4 * 128 * 512;
  uint64_t got = 0;
  EXPECT_EQ(ws_bounds_memory(&c, WS_WORK_MASKS, &got), masks);
  EXPECT_EQ(got, masks);
  EXPECT_EQ(ws_bounds_memory(&c, WS_WORK_PLACE, nullptr), masks + 4096ull * WS_PLACE_BYTES_PER_PE);
  const uint64_t run = ws_bounds_memory(&c, WS_WORK_RUN, nullptr);
  EXPECT_EQ(run, masks + 4096ull * WS_RUN_BYTES_PER_PE);
  char err[512];
  EXPECT_EQ(ws_bounds_memory_check(&c, WS_WORK_RUN, 1, run, err, sizeof err), 0);
  EXPECT_NE(ws_bounds_memory_check(&c, WS_WORK_RUN, 1, run - 1, err, sizeof err), 0);
  EXPECT_NE(std::string(err).find("physical memory"), std::string::npos) << err;
  EXPECT_EQ(ws_bounds_memory_check(&c, WS_WORK_RUN, 2, 2 * run, err, sizeof err), 0);
  EXPECT_NE(ws_bounds_memory_check(&c, WS_WORK_RUN, 3, 2 * run, err, sizeof err), 0);  // three at once
  EXPECT_NE(std::string(err).find("3 runs at once (-j)"), std::string::npos) << err;
  EXPECT_EQ(ws_bounds_memory_check(&c, WS_WORK_RUN, 1, 0, err, sizeof err), 0);  // budget unknown
  EXPECT_GT(ws_bounds_budget(), 1ull << 28);
}

TEST(Limits, MemoryAboveTheMachineIsRefusedBeforeAnyWork) {
  for (const char *cmd : {"place", "run", "sweep"})
    expect_refused(with({cmd}, kHuge), "GPT-3 custom on a 750 x 994 mesh needs an estimated");
  expect_refused(with({"flops", "--tiling", "2x2"}, kHuge), "building the masks of GPT-3 custom needs an estimated");
  expect_refused(with({"kernel", "--region", "1x1"}, kHuge), "L0.ffn_up on a 1x1 region needs an estimated");
}

// ---- 3. every input error of run, sweep and place: exit 2, one line ----

TEST(Limits, EveryInputErrorOfRunSweepPlaceExitsTwoWithOneLine) {
  const struct {
    std::vector<std::string> args;
    const char *want;
  } errors[] = {
      {{"--set", "fabrik.width=3"}, "--set fabrik.width: unknown key"},
      {{"--set", "fabric.clock=1.1"}, "--set fabric.clock: expected a frequency"},
      {{"--model", "175B"}, "does not fit: its weights need"},  // unplaceable
      {{kTiny, "--set", "fabric.colors=12", "--set", "placer.shelf_height=16"},
       "does not route within fabric.colors = 12"},  // unroutable (before: place exited 1)
      {{"--set", "fabric.width=4096", "--set", "fabric.height=1025"}, "at most 4194304 are allowed"},
      {kHuge, "needs an estimated"},
  };
  for (const char *cmd : {"place", "run", "sweep"})
    for (const auto &e : errors) {
      std::vector<std::string> args = with({cmd}, e.args);
      if (std::string(cmd) == "sweep") args = with(args, {"--sparsity", "0.5", "-j", "1"});
      expect_refused(args, e.want);
    }
  expect_refused({"sweep", kTiny, "--vary", "workload.sparsity=0.5"}, "--vary workload.sparsity");
  expect_refused({"sweep", kTiny, "--vary", "workload.micro_batch"}, "--vary: expected KEY=V1,V2");
  expect_refused({"flops", "--tiling", "100000x100000"}, "--tiling");
}

}  // namespace
