// The README's claims about the model that no other suite asserted (issue
// 16), each against a figure derived independently of the code that makes
// it (a definition written out, a count from the masks, a monotone trend, a
// bound), on tiny configurations: the run's totals against their
// definitions at a clock that is not the default (and no cycle moved by
// the clock); the weights the wafer holds in each PE's kernel's encoding
// (0.4 holds more than dense, yet runs faster); the run's executed FLOPs at
// the masks' nonzeros; causal attention's cost growing with the
// micro-batch's position (up to twice the mean); smaller micro-batches
// shortening both the fill and the interval (more than sparsity does);
// `wafersim kernel`'s interval_model within 3 % where compute sets the
// pace; train serving messages that meet one after the other (wavelet
// interleaves them); attention's columns holding whole heads or even slices
// of one; the value+index encoding beating dense only below 50 % density;
// sparsity lowering the placer's interval (each GEMM on its fewest
// columns); and
// kinds.csv's sums of the busiest PEs' compute.
#include <gtest/gtest.h>
#include <jansson.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "fabric/fabric.h"
#include "kernels/cost.h"
#include "kernels/estimate.h"
#include "kernels/kind.h"
#include "kernels/pipeline.h"
#include "sim/config.h"
#include "sim/engine/engine.h"
#include "sim/place.h"
#include "sim/run.h"
#include "sim/sweep.h"
#include "sim/table.h"
#include "workloads/mask.h"
#include "ws_test.h"

namespace {

using wstest::RunPtr;
using wstest::simulate;
using wstest::tiny;

// ---- 1. the totals are what the README defines them to be, at any clock ----

// README, "The end-to-end run": seconds are cycles at the clock, tokens/s
// the sequence's tokens over them, peak_flops_per_s PEs x 4 FMAC x 2 x clock
// (the mesh's PEs: 64 x 64 here), flops_per_s flops_simulated / seconds,
// steady_interval the mean cycles per micro-batch after the first ((cycles
// - fill) / (M - 1): both count their last cycle + 1), saved = dense -
// executed, weight_bytes and pes_used the ops' sums, kernel_mix the share
// of weight-GEMM PEs running the sparse kernel. At 850 MHz (the SDK's
// clock, not the default) so that a 1.1 GHz written into a formula shows;
// and "a faster clock moves the seconds and rates and no cycle count":
// every op's cycles, first cycle, bound and busiest PE are the same at
// 850 MHz and 1.1 GHz, and the seconds scale by exactly 1.1 / 0.85.
TEST(Claims, RunTotalsFollowTheirDefinitionsAndTheClockMovesNoCycle) {
  const ws_config slow = wstest::config(tiny({"workload.sparsity=0.75", "fabric.clock=850MHz"}));
  const ws_config fast = wstest::config(tiny({"workload.sparsity=0.75"}));
  RunPtr rs = simulate(slow), rf = simulate(fast);
  ASSERT_TRUE(rs && rf);
  const ws_run_totals *t = ws_run_totals_of(rs.get()), *u = ws_run_totals_of(rf.get());
  const double clock = 850e6, pes = 64.0 * 64.0, seq = 128, M = 8;
  EXPECT_EQ(t->micro_batches, 8u);
  EXPECT_DOUBLE_EQ(t->seconds, (double)t->cycles / clock);
  EXPECT_DOUBLE_EQ(t->tokens_per_s, seq / t->seconds);
  EXPECT_DOUBLE_EQ(t->peak_flops_per_s, pes * 4 * 2 * clock);
  EXPECT_DOUBLE_EQ(t->flops_simulated, 2.0 * (double)t->macs);
  EXPECT_DOUBLE_EQ(t->flops_per_s, t->flops_simulated / t->seconds);
  EXPECT_DOUBLE_EQ(t->peak_fraction, t->flops_per_s / t->peak_flops_per_s);
  EXPECT_EQ(t->steady_interval, (t->cycles - t->fill_cycles) / (uint64_t)(M - 1));
  EXPECT_DOUBLE_EQ(t->flops_saved, t->flops_dense - t->flops_executed);
  EXPECT_DOUBLE_EQ(t->flops_reduction, t->flops_dense / t->flops_executed);
  EXPECT_EQ(t->pes_mesh, 4096u);
  uint64_t weight_bytes = 0, pes_used = 0, gemm_pes = 0, sparse_pes = 0;
  for (uint32_t i = 0; i < ws_run_op_count(rs.get()); i++) {
    const ws_run_op *o = ws_run_op_at(rs.get(), i), *p = ws_run_op_at(rf.get(), i);
    weight_bytes += o->weight_bytes;
    pes_used += o->pes;
    const std::string kernel = o->kernel;  // a weight GEMM's: sparse, dense or mixed (LM head included)
    if (kernel == "sparse" || kernel == "dense" || kernel == "mixed") {
      gemm_pes += o->pes;
      sparse_pes += o->sparse_pes;
      EXPECT_EQ(o->sparse_pes == o->pes, kernel == "sparse") << o->name;
      EXPECT_EQ(o->sparse_pes == 0, kernel == "dense") << o->name;
    } else {
      EXPECT_EQ(o->sparse_pes, 0u) << o->name;
    }
    ASSERT_STREQ(o->name, p->name);
    EXPECT_EQ(o->cycles, p->cycles) << o->name;
    EXPECT_EQ(o->first, p->first) << o->name;
    EXPECT_EQ(o->bound, p->bound) << o->name;
    EXPECT_EQ(o->busy_max, p->busy_max) << o->name;
  }
  EXPECT_EQ(t->weight_bytes, weight_bytes);
  EXPECT_EQ(t->pes_used, pes_used);
  EXPECT_DOUBLE_EQ(t->kernel_mix, (double)sparse_pes / (double)gemm_pes);
  EXPECT_GT(sparse_pes, 0u);
  std::printf("[ claims ] 850 MHz: %llu cycles, %.6g s, %.6g tokens/s; kernel_mix %.4f (%llu of %llu weight-GEMM PEs)\n",
              (unsigned long long)t->cycles, t->seconds, t->tokens_per_s, t->kernel_mix,
              (unsigned long long)sparse_pes, (unsigned long long)gemm_pes);
  EXPECT_EQ(t->cycles, u->cycles);
  EXPECT_EQ(t->fill_cycles, u->fill_cycles);
  EXPECT_EQ(t->steady_interval, u->steady_interval);
  EXPECT_EQ(t->bound, u->bound);
  EXPECT_EQ(t->placer_interval, u->placer_interval);
  EXPECT_DOUBLE_EQ(t->seconds / u->seconds, 1.1e9 / 850e6);
  EXPECT_DOUBLE_EQ(u->tokens_per_s / t->tokens_per_s, 1.1e9 / 850e6);
}

// ---- 2. weights held in each PE's kernel's encoding ----

// README: weight_bytes is what the wafer holds "in each PE's kernel's
// encoding": a sparse-kernel PE keeps 16-bit value + 16-bit index per
// nonzero (4 B) and a 16-bit length per tile row (kernels/cost.h; the README
// leaves the lengths out), a dense-kernel PE its whole fp16 tile (2 B an
// element), the
// tile from the stage's cut points and its nonzeros counted weight by weight
// from the mask. Then "0.4 holds more than dense: at 40 % zeros a
// value-and-index pair per nonzero is larger than the dense tile, yet
// faster": 0.6 x 4 B > 2 B, so the run at 0.4 (bernoulli; the auto kernel
// picks sparse on most PEs) holds more weight bytes than the dense run and
// still ends sooner. Catches a sparse PE charged 2 B (value only) or its
// dense tile, a dense PE charged its nonzeros, an op's bytes not its PEs'.
TEST(Claims, WeightsHeldAreEachPesTileInItsKernelsEncodingAndPoint4HoldsMoreThanDense) {
  uint64_t held[2] = {0, 0}, cycles[2] = {0, 0};
  const char *levels[2] = {"0", "0.4"};
  for (int l = 0; l < 2; l++) {
    const ws_config c = wstest::config(tiny({std::string("workload.sparsity=") + levels[l]}));
    wstest::Simulated s;
    ASSERT_TRUE(wstest::simulate_placed(c, s));
    RunPtr r = simulate(c);
    ASSERT_TRUE(r);
    uint32_t sparse_total = 0, gemm_total = 0;
    for (uint32_t si = 0; si < s.stages.size(); si++) {
      const krn_stage &st = s.stages[si];
      const ws_run_op *o = ws_run_op_at(r.get(), si);
      ASSERT_STREQ(o->name, st.name);
      EXPECT_EQ(o->weight_bytes, krn_pipe_stats(s.p, si).weight_bytes) << st.name;
      if (st.kind != KRN_STAGE_GEMM) continue;
      const uint32_t rows = st.region.h, cols = st.region.w;
      uint64_t bytes = 0;
      for (uint32_t i = 0; i < rows; i++)
        for (uint32_t j = 0; j < cols; j++) {
          const uint32_t band = st.nrev ? cols - 1 - j : j;
          const uint32_t k0 = wstest::cut_at(st.k_cut, st.k, rows, i), k1 = wstest::cut_at(st.k_cut, st.k, rows, i + 1);
          const uint32_t n0 = wstest::cut_at(st.n_cut, st.n, cols, band), n1 = wstest::cut_at(st.n_cut, st.n, cols, band + 1);
          const krn_pe_stats pe = krn_pipe_pe(s.p, si, i * cols + j);
          const uint64_t want =
              pe.kernel == KRN_SPARSE ? 4 * wstest::kept(st.mask, k0, k1, n0, n1) + 2 * (uint64_t)(k1 - k0)
                                     : 2 * (uint64_t)(k1 - k0) * (n1 - n0);
          EXPECT_EQ(pe.weights, want) << st.name << " PE (" << i << ", " << j << ")";
          bytes += want;
          sparse_total += pe.kernel == KRN_SPARSE;
          gemm_total++;
        }
      EXPECT_EQ(o->weight_bytes, bytes) << st.name;
    }
    held[l] = ws_run_totals_of(r.get())->weight_bytes;
    cycles[l] = ws_run_totals_of(r.get())->cycles;
    std::printf("[ claims ] sparsity %s: %llu weight bytes held, %u of %u GEMM PEs sparse, %llu cycles\n", levels[l],
                (unsigned long long)held[l], sparse_total, gemm_total, (unsigned long long)cycles[l]);
    if (l == 1) {
      EXPECT_GT(sparse_total * 2, gemm_total) << "0.4 no longer runs mostly sparse here: the claim needs another point";
    }
  }
  EXPECT_GT(held[1], held[0]) << "0.4 holds more than dense";
  EXPECT_LT(cycles[1], cycles[0]) << "yet faster";
}

// ---- 3. the run's executed FLOPs are the masks' nonzeros ----

// README: the run reports "FLOPs dense / executed / saved exactly as
// `wafersim flops` counts them (each weight at its mask's nonzeros)". Written
// out: executed = Chinchilla's dense count (tiny: 126,222,336) less
// 2 S (K N - nnz) for every sparse weight, nnz counted weight by weight from
// the placed stages' masks; and `wafersim flops --tiling 1x1` (which takes
// its nonzeros from the masks) gives the same figure. Bernoulli masks keep
// about, not exactly, round(density K N), so plain `flops` (which uses that
// rounding) differs from the run there: printed, not asserted, and the
// README's wording is corrected in the report. With magnitude masks (exact
// count) all three agree. Catches the run's accounting taking the nominal
// density instead of the masks, or a weight's mask counted twice / skipped.
TEST(Claims, RunsExecutedFlopsAreTheMasksNonzeros) {
  const double dense = 126222336.0, S = 128;
  for (const char *pattern : {"bernoulli", "magnitude"}) {
    const std::vector<std::string> sets =
        tiny({"workload.sparsity=0.5", std::string("workload.pattern=") + pattern});
    const ws_config c = wstest::config(sets);
    char err[1024] = "";
    std::unique_ptr<ws_placement, void (*)(ws_placement *)> p(ws_place(&c, err, sizeof err), ws_placement_destroy);
    ASSERT_TRUE(p) << err;
    double want = dense;
    uint32_t masked = 0;
    for (uint32_t i = 0; i < ws_placement_count(p.get()); i++) {
      const krn_stage &st = ws_placement_stage(p.get(), i)->stage;
      if (st.kind != KRN_STAGE_GEMM || !st.mask) continue;
      masked++;
      want -= 2 * S * ((double)st.k * st.n - (double)wstest::kept(st.mask, 0, st.k, 0, st.n));
    }
    EXPECT_EQ(masked, 12u) << "q, k, v, attn_out, ffn_up and ffn_down of two layers";
    RunPtr r = simulate(c);
    ASSERT_TRUE(r);
    const ws_run_totals *t = ws_run_totals_of(r.get());
    EXPECT_EQ(t->flops_dense, dense) << pattern;
    EXPECT_EQ(t->flops_executed, want) << pattern;
    std::vector<std::string> args = {"flops", "--format", "csv"};
    for (const auto &x : sets) args.insert(args.end(), {"--set", x});
    auto plain = wstest::run_cli(args);
    args.insert(args.end(), {"--tiling", "1x1"});
    auto tiled = wstest::run_cli(args);
    ASSERT_EQ(plain.status, 0) << plain.err;
    ASSERT_EQ(tiled.status, 0) << tiled.err;
    // the fourth column of the second line: flops_sparse
    const auto fourth = [](const std::string &out) {
      std::string line = out.substr(out.find('\n') + 1);
      size_t at = 0;
      for (int i = 0; i < 3; i++) at = line.find(',', at) + 1;
      return std::stod(line.substr(at, line.find(',', at) - at));
    };
    EXPECT_EQ(fourth(tiled.out), want) << pattern;
    std::printf("[ claims ] %s 0.5: run executed %.0f, flops --tiling 1x1 %.0f, plain flops %.0f\n", pattern,
                t->flops_executed, fourth(tiled.out), fourth(plain.out));
    if (std::string(pattern) == "magnitude") {
      EXPECT_EQ(fourth(plain.out), want);
    }
  }
}

// ---- 4. causal attention's cost grows with the micro-batch's position ----

// README: "Causal attention costs a micro-batch in proportion to its
// position, up to twice the mean for the last ones, so the simulated steady
// interval sits above the placer's." Micro-batch m of b tokens scores
// b (m b) + b (b + 1) / 2 (query, key) pairs: affine in m, and the last one's
// below twice the mean over the sequence (its constant term is half the
// mean's). An attention stage simulated alone (the last stage, fed by three
// fast GEMMs standing in for q, k and v): the time between consecutive
// micro-batches' outputs never falls and grows by the same step, within
// the few cycles the fabric adds, from one micro-batch to the next; the
// last gap is above the mean gap and at most twice it. And in the tiny
// run the simulated steady interval is above the placer's slowest stage's
// (which takes attention's mean work).
// Catches attention charged its mean (flat gaps), its whole sequence every
// micro-batch (flat), or non-causally.
TEST(Claims, CausalAttentionCostGrowsWithThePositionUpToTwiceTheMean) {
  const uint32_t b = 16, mbs = 16, n = 256;
  for (const uint32_t m : {0u, 1u, 5u, 7u}) {
    uint64_t all = 0;
    for (uint32_t r = 0; r < 4; r++) all += krn_attn_pairs(b, m, r, 4);
    EXPECT_EQ(all, (uint64_t)b * m * b + b * (b + 1) / 2) << m;
  }
  const ws_config c = wstest::config({});
  krn_machine mach;
  fab_config fc;
  ws_config_machine(&c, &mach);
  ws_config_fabric(&c, &fc);
  fc.width = 40;
  fc.height = 16;
  fc.fidelity = FAB_TRAIN;
  std::vector<double> done;
  {
    wstest::Simulated s;
    ASSERT_TRUE(wstest::simulate_fed_attention(fc, mach, {26, 0, 4, 16}, n, 8, b, mbs, s));
    for (uint32_t m = 0; m < mbs; m++) done.push_back((double)krn_pipe_done(s.p, m));
  }
  // two micro-batches are in flight (double-buffered inputs), so outputs
  // come in pairs: the window over two, done(m) - done(m - 2), is the cost
  // of a micro-batch and its neighbour; the last (m = M - 1: the drain, the
  // output PE to itself) left out of the trend
  const double mean = (done[mbs - 1] - done[0]) / (double)(mbs - 1);
  std::vector<double> window;
  for (uint32_t m = 2; m < mbs; m++) window.push_back(done[m] - done[m - 2]);
  std::printf("[ claims ] attention 4x16, b %u, %u micro-batches: mean %.0f cycles a micro-batch; done(m) - done(m - 2):",
              b, mbs, mean);
  for (double w : window) std::printf(" %.0f", w);
  std::printf("\n");
  // from m = 4 on (micro-batches 1 and 2 find their inputs already waiting
  // while the stage fills: the first windows are not yet steady)
  for (size_t i = 3; i + 1 < window.size(); i++)
    EXPECT_GT(window[i], window[i - 1]) << "the cost grows with the position: m = " << i + 2;
  // affine in the position: a row's pairs of micro-batch m are 16 m + 8.5
  // (b = 16 keys a row on 16 rows), so pairs(m) + pairs(m - 1) grow 3.5x
  // from m = 4 to m = M - 2; the per-micro-batch constants make the
  // simulated windows grow less, but at least half as much
  const double pairs_first = 16 * 4 + 8.5 + 16 * 3 + 8.5, pairs_last = 16 * (mbs - 2) + 8.5 + 16 * (mbs - 3) + 8.5;
  EXPECT_GT(window[window.size() - 2] / window[2], 0.5 * pairs_last / pairs_first);
  for (double w : window) EXPECT_LE(w / 2, 2 * mean) << "up to twice the mean";
  EXPECT_GT(window[window.size() - 2] / 2, mean) << "the last ones above the mean";
  // the run: the placer sizes attention for its mean micro-batch, so the
  // simulated pace is slower than the placer's
  const ws_config t = wstest::config(tiny({}));
  char err[1024] = "";
  std::unique_ptr<ws_placement, void (*)(ws_placement *)> pl(ws_place(&t, err, sizeof err), ws_placement_destroy);
  ASSERT_TRUE(pl) << err;
  uint64_t slowest = 0;
  for (uint32_t i = 0; i < ws_placement_count(pl.get()); i++)
    slowest = std::max(slowest, ws_placement_stage(pl.get(), i)->est.interval);
  RunPtr r = simulate(t);
  ASSERT_TRUE(r);
  EXPECT_EQ(ws_run_totals_of(r.get())->placer_interval, slowest);
  EXPECT_GT(ws_run_totals_of(r.get())->steady_interval, slowest);
}

// ---- 5. the micro-batch size: fill and interval scale with it ----

// README: "Micro-batch size matters more than sparsity here ...
// micro-batches of 4 tokens finish in 0.90 M cycles against 2.46 M for 16
// (the fill and the interval both scale with the micro-batch)". On tiny (64
// tokens): the fill, the steady interval and the cycles grow strictly with
// b = 4, 8, 16, and going from 16 to 4 tokens gains more than pruning 84 %
// of the weights at 16. Catches a pipeline whose stages' work or messages
// do not follow b (a fixed cost per micro-batch), or a fill that ignores it.
TEST(Claims, SmallerMicroBatchesShortenTheFillAndTheIntervalMoreThanSparsityDoes) {
  ws_run_totals at[3];
  const uint32_t bs[3] = {4, 8, 16};
  for (int i = 0; i < 3; i++) {
    RunPtr r = simulate(wstest::config(tiny({"workload.seq_len=64", "workload.micro_batch=" + std::to_string(bs[i])})));
    ASSERT_TRUE(r);
    at[i] = *ws_run_totals_of(r.get());
    std::printf("[ claims ] b %2u: %llu cycles, fill %llu, steady %llu\n", bs[i], (unsigned long long)at[i].cycles,
                (unsigned long long)at[i].fill_cycles, (unsigned long long)at[i].steady_interval);
  }
  for (int i = 1; i < 3; i++) {
    EXPECT_GT(at[i].fill_cycles, at[i - 1].fill_cycles) << bs[i];
    EXPECT_GT(at[i].steady_interval, at[i - 1].steady_interval) << bs[i];
    EXPECT_GT(at[i].cycles, at[i - 1].cycles) << bs[i];
  }
  RunPtr sp = simulate(wstest::config(tiny({"workload.seq_len=64", "workload.micro_batch=16", "workload.sparsity=0.84"})));
  ASSERT_TRUE(sp);
  const double by_batch = (double)at[2].cycles / (double)at[0].cycles,
               by_sparsity = (double)at[2].cycles / (double)ws_run_totals_of(sp.get())->cycles;
  std::printf("[ claims ] speedup from b 16 to 4: %.3f; from dense to 0.84 at b 16: %.3f\n", by_batch, by_sparsity);
  EXPECT_GT(by_batch, by_sparsity);
}

// ---- 6. `wafersim kernel`'s interval_model ----

// README: the stage model `wafersim kernel` prints (interval_model) is
// "within 1-3 % where compute sets the pace" of the simulated interval.
// Compute sets the pace where the busiest PE's compute is at least 80 % of
// the simulated interval (as in Cli.KernelReportsCostModelAndSimulation,
// which allows 5 %); here 3 %, on two weight shapes, three micro-batch
// sizes, three levels and both kernels (measured up to 1.3 %).
TEST(Claims, KernelIntervalModelWithinThreePercentWhereComputeSetsThePace) {
  const struct {
    const char *op, *region;
  } cases[] = {{"L0.ffn_up", "32x16"}, {"L0.attn_out", "16x16"}};
  uint32_t compute_bound = 0;
  for (const auto &k : cases) {
    auto r = wstest::run_cli({"kernel", "--model", "125M", "--op", k.op, "--region", k.region, "--batch", "1,4,16",
                              "--sparsity", "0,0.5,0.9", "--kernel", "sparse,dense", "--micro-batches", "8",
                              "--format", "json"});
    ASSERT_EQ(r.status, 0) << r.err;
    json_error_t je;
    json_t *doc = json_loads(r.out.c_str(), 0, &je);
    ASSERT_NE(doc, nullptr) << je.text;
    json_t *rows = json_object_get(doc, "kernel");
    ASSERT_TRUE(json_is_array(rows));
    ASSERT_EQ(json_array_size(rows), 18u);
    for (size_t i = 0; i < json_array_size(rows); i++) {
      json_t *row = json_array_get(rows, i);
      const double sim = (double)json_integer_value(json_object_get(row, "cycles_interval")),
                   model = (double)json_integer_value(json_object_get(row, "interval_model")),
                   pe = (double)json_integer_value(json_object_get(row, "cycles_pe_max"));
      ASSERT_GT(sim, 0) << k.op << " row " << i;
      if (pe < 0.8 * sim) continue;
      compute_bound++;
      EXPECT_NEAR(model, sim, 0.03 * sim) << k.op << " b " << json_integer_value(json_object_get(row, "batch"))
                                          << " sparsity " << json_real_value(json_object_get(row, "sparsity")) << " "
                                          << json_string_value(json_object_get(row, "kernel"));
    }
    json_decref(doc);
  }
  EXPECT_GE(compute_bound, 24u);
}

// ---- 7. train serves messages that meet one after the other ----

// README: train fidelity has "no back-pressure, and messages that meet are
// served one after the other instead of interleaved" (wavelet, the
// reference, interleaves them). Two messages of n wavelets from (0,0) and
// (1,0) to (2,0) share the link into (2,0) and its ramp: in train one is
// delivered whole first, at n plus the path (n + 2 R + L at most: one hop
// and two ramps, or two hops for the far one), the other at 2 n + 2 R + L;
// in wavelet both finish near 2 n (each got about every other cycle). The
// last delivery is the same in both (Fidelity.TwoMessagesOnOneLink...).
TEST(Claims, TrainServesMessagesThatMeetWholeWaveletInterleavesThem) {
  const uint32_t n = 200;
  for (fab_fidelity fid : {FAB_TRAIN, FAB_WAVELET}) {
    char err[512] = "";
    sim_engine *e = sim_engine_create(nullptr, err, sizeof err);
    const fab_config fc = wstest::fabric_config(fid, 8, 4);
    fab_fabric *f = fab_create(e, &fc, err, sizeof err);
    ASSERT_NE(f, nullptr) << err;
    std::vector<uint64_t> done;
    fab_on_delivery(
        f, [](void *ctx, fab_pe, uint32_t, fab_xfer, uint64_t cycle) { static_cast<std::vector<uint64_t> *>(ctx)->push_back(cycle); },
        &done);
    uint32_t ra = 0, rb = 0;
    fab_xfer xa = 0, xb = 0;
    ASSERT_EQ(fab_route_path(f, fab_at(8, 0, 0), fab_at(8, 2, 0), &ra, err, sizeof err), 0) << err;
    ASSERT_EQ(fab_route_path(f, fab_at(8, 1, 0), fab_at(8, 2, 0), &rb, err, sizeof err), 0) << err;
    ASSERT_EQ(fab_send(f, ra, n, 0, &xa, err, sizeof err), 0) << err;
    ASSERT_EQ(fab_send(f, rb, n, 0, &xb, err, sizeof err), 0) << err;
    ASSERT_EQ(sim_engine_run(e), 0) << sim_engine_error(e);
    fab_destroy(f);
    sim_engine_destroy(e);
    ASSERT_EQ(done.size(), 2u);
    std::sort(done.begin(), done.end());
    std::printf("[ claims ] %s: the two messages delivered at %llu and %llu\n", fab_fidelity_name(fid),
                (unsigned long long)done[0], (unsigned long long)done[1]);
    EXPECT_EQ(done[1], 2u * n + 2);  // last wavelet consumed at 2 n + 2 R + L - 1
    if (fid == FAB_TRAIN) {
      EXPECT_LE(done[0], (uint64_t)n + 4) << "served whole, the first ends after its own n";
    } else {
      EXPECT_GE(done[0], 2u * n - 4) << "interleaved, both end near 2 n";
    }
  }
}

// ---- 8. attention's columns hold whole heads, or even slices of one ----

// README: attention takes "whole heads per column, or with more columns
// than heads each head cut evenly over its share of them (at most one
// column per feature)". For every width from 1 to n of a 4-head and a
// 16-head attention (d 64 and 2048): the columns' feature ranges cover the
// features in order, each non-empty; up to `heads` columns each holds whole
// heads; past it each column lies within one head, and each head has
// floor or ceil of columns / heads columns, its slices differing by at most
// one feature. And on tiny, placed with 4 and 8 heads at micro-batches of 8
// and 32, the attention stages take at most one column per feature and at
// most seq_len rows. Catches a cut that straddles two heads (scores summed
// over the wrong features), or a head left without a column.
TEST(Claims, AttentionColumnsHoldWholeHeadsOrEvenSlicesOfOne) {
  for (const uint32_t heads : {4u, 16u}) {
    krn_stage s{};
    s.kind = KRN_STAGE_ATTENTION;
    s.heads = heads;
    s.n = heads == 4 ? 64 : 2048;
    const uint32_t dh = s.n / heads;
    for (uint32_t c = 1; c <= s.n; c++) {
      std::vector<uint32_t> cols(heads, 0);
      uint32_t prev = (uint32_t)krn_kind_slot_start(&s, s.n, c, 0);
      ASSERT_EQ(prev, 0u);
      uint32_t widest = 0, narrowest = UINT32_MAX;
      for (uint32_t j = 0; j < c; j++) {
        const uint32_t f0 = prev, f1 = (uint32_t)krn_kind_slot_start(&s, s.n, c, j + 1);
        ASSERT_LT(f0, f1) << heads << " heads, " << c << " columns: column " << j << " is empty";
        if (c <= heads) {
          ASSERT_EQ(f0 % dh, 0u) << c << " columns: column " << j << " starts inside a head";
          ASSERT_EQ(f1 % dh, 0u) << c << " columns: column " << j << " ends inside a head";
        } else {
          ASSERT_EQ(f0 / dh, (f1 - 1) / dh) << c << " columns: column " << j << " straddles two heads";
          cols[f0 / dh]++;
          widest = std::max(widest, f1 - f0);
          narrowest = std::min(narrowest, f1 - f0);
        }
        prev = f1;
      }
      ASSERT_EQ(prev, s.n) << c << " columns";
      if (c > heads) {
        for (uint32_t h = 0; h < heads; h++) {
          EXPECT_GE(cols[h], c / heads) << c << " columns, head " << h;
          EXPECT_LE(cols[h], (c + heads - 1) / heads) << c << " columns, head " << h;
        }
        EXPECT_LE(widest, (dh + c / heads - 1) / (c / heads)) << c << " columns";
        EXPECT_GE(narrowest, dh / ((c + heads - 1) / heads)) << c << " columns";
      }
    }
  }
  for (const char *heads : {"4", "8"})
    for (const char *b : {"8", "32"}) {
      const ws_config c =
          wstest::config(tiny({std::string("model.heads=") + heads, std::string("workload.micro_batch=") + b}));
      char err[1024] = "";
      std::unique_ptr<ws_placement, void (*)(ws_placement *)> p(ws_place(&c, err, sizeof err), ws_placement_destroy);
      ASSERT_TRUE(p) << err;
      uint32_t seen = 0;
      for (uint32_t i = 0; i < ws_placement_count(p.get()); i++) {
        const krn_stage &st = ws_placement_stage(p.get(), i)->stage;
        if (st.kind != KRN_STAGE_ATTENTION) continue;
        seen++;
        EXPECT_EQ(st.heads, (uint32_t)c.model.heads);
        EXPECT_LE(st.region.w, st.n) << st.name << " heads " << heads << " b " << b;
        EXPECT_LE(st.region.h, (uint32_t)c.workload.seq_len) << st.name;
      }
      EXPECT_EQ(seen, 2u);
    }
}

// ---- 9. the value+index encoding beats dense fp16 only below 50 % density ----

// README: "the value+index encoding (4 B per nonzero) only beats dense fp16
// below 50% density". `wafersim flops` for GPT-3 1.3B: weight_bytes_sparse
// is above weight_bytes_dense at 49 % zeros (density 0.51), equal at 50 %
// and below at 51 %; and its excess at 49 % is exactly (4 x 0.51 - 2) B a
// sparsifiable weight (1,207,959,552 of them, round(density K N) per
// matrix). Catches a sparse encoding of other than 4 B, or an overhead per
// nonzero or per weight in the accounting that moves the crossover.
TEST(Claims, ValueIndexEncodingBeatsDenseOnlyBelowHalfDensity) {
  auto r = wstest::run_cli({"flops", "--sparsity", "0.49,0.5,0.51", "--format", "json"});
  ASSERT_EQ(r.status, 0) << r.err;
  json_error_t je;
  json_t *doc = json_loads(r.out.c_str(), 0, &je);
  ASSERT_NE(doc, nullptr) << je.text;
  json_t *rows = json_object_get(json_object_get(doc, "flops"), "totals");
  ASSERT_EQ(json_array_size(rows), 3u);
  double diff[3], nnz[3];
  for (size_t i = 0; i < 3; i++) {
    json_t *row = json_array_get(rows, i);
    diff[i] = (double)json_integer_value(json_object_get(row, "weight_bytes_sparse")) -
              (double)json_integer_value(json_object_get(row, "weight_bytes_dense"));
    nnz[i] = (double)json_integer_value(json_object_get(row, "weight_nnz"));
  }
  json_decref(doc);
  const double weights = 1207959552.0;  // 24 layers x (4 x 2048^2 + 2 x 2048 x 8192)
  EXPECT_GT(diff[0], 0) << "at density 0.51 the pairs are larger than the dense weights";
  EXPECT_EQ(diff[1], 0) << "at density 0.5 they are the same size";
  EXPECT_LT(diff[2], 0) << "at density 0.49 they are smaller";
  for (int i = 0; i < 3; i++) EXPECT_EQ(diff[i], 4 * nnz[i] - 2 * weights) << i;
  EXPECT_NEAR(nnz[0], 0.51 * weights, 144);  // 144 matrices, each rounded to the nearest
}

// ---- 10. sparsity lowers the pace: the freed PEs go to the others ----

// README: "every stage gets the fewest columns that meet a target interval
// and fit in SRAM", and with attention's heads cut over columns the PEs
// that sparsity frees in the GEMMs lower the interval instead of sitting
// idle. On tiny at 0, 0.4, 0.64, 0.84 and 0.95: the placer's interval never
// rises with the level and is lower at 0.95 than dense; attention's
// estimate is within it; and no GEMM could have done with one column less
// (its estimate on w - 1 columns, uniform cuts, exceeds the interval or
// does not fit). Catches a placer that leaves freed PEs idle, or gives a
// stage more columns than the pace needs.
TEST(Claims, SparsityLowersTheIntervalAndEveryGemmHasItsFewestColumns) {
  const char *levels[] = {"0", "0.4", "0.64", "0.84", "0.95"};
  uint64_t first = 0, prev = UINT64_MAX;
  for (const char *level : levels) {
    const ws_config c = wstest::config(tiny({std::string("workload.sparsity=") + level}));
    krn_machine m;
    fab_config fc;
    ws_config_machine(&c, &m);
    ws_config_fabric(&c, &fc);
    char err[1024] = "";
    std::unique_ptr<ws_placement, void (*)(ws_placement *)> p(ws_place(&c, err, sizeof err), ws_placement_destroy);
    ASSERT_TRUE(p) << err;
    const ws_place_totals *t = ws_placement_totals(p.get());
    for (uint32_t i = 0; i < ws_placement_count(p.get()); i++) {
      const ws_placed *s = ws_placement_stage(p.get(), i);
      if (s->stage.kind == KRN_STAGE_ATTENTION) {
        EXPECT_LE(s->est.interval, t->stage_max) << level;
      }
      if (s->stage.kind != KRN_STAGE_GEMM || s->stage.region.w < 2) continue;
      krn_stage narrower = s->stage;
      narrower.region.w -= 1;
      narrower.k_cut = narrower.n_cut = nullptr;
      narrower.mirror = narrower.flip = narrower.nrev = false; /* as the placer weighs it, before orienting it */
      krn_estimate e;
      ASSERT_EQ(krn_estimate_stage(&m, &fc, &narrower, (uint32_t)c.workload.micro_batch, (uint32_t)c.workload.seq_len,
                                   s->consumers, &e, err, sizeof err),
                0)
          << err;
      /* the placer's target is within 1/2000 of the pace it reports, and orienting the stages after the
         search moves their estimates by a few cycles: a column less must miss the pace by more than 1 % */
      EXPECT_TRUE(e.interval > 0.99 * (double)t->stage_max || !e.fits)
          << level << " " << s->stage.name << " on " << narrower.region.w << " columns: " << e.interval << " cycles, "
          << (e.fits ? "fits" : "does not fit") << "; the pace is " << t->stage_max;
    }
    EXPECT_LE(t->stage_max, prev) << level;
    if (first == 0) first = t->stage_max;
    prev = t->stage_max;
    std::printf("[ claims ] sparsity %s: %llu PEs, slowest stage %llu cycles\n", level, (unsigned long long)t->pes_used,
                (unsigned long long)t->stage_max);
  }
  EXPECT_LT(prev, first);
}

// ---- 11. kinds.csv: each op kind's summed busiest-PE compute ----

// README: "`kinds.csv` has, per point, each op kind's summed busiest-PE
// compute cycles" (the stacked `kinds` figure). A sweep of tiny over dense
// and 0.75, its kinds table against each point run on its own: per kind,
// the sum of busy_max over the ops of that kind (five layernorms, two of
// every layer op, one embedding and LM head). Catches a kind's column
// summing another figure (the span, the mean PE), a kind left out or an op
// counted under the wrong kind, or the points' columns swapped.
TEST(Claims, KindsTableSumsEachKindsBusiestPeCompute) {
  const ws_config c = wstest::config(tiny({}));
  const double levels[] = {0.75};
  const ws_sweep_spec spec = {levels, 1, nullptr, nullptr, 0, 1, nullptr, nullptr};
  char err[1024] = "";
  std::unique_ptr<ws_sweep, void (*)(ws_sweep *)> sw(ws_sweep_run(&c, &spec, err, sizeof err), ws_sweep_destroy);
  ASSERT_TRUE(sw) << err;
  std::unique_ptr<ws_table, void (*)(ws_table *)> k(ws_sweep_kinds_table(sw.get()), ws_table_destroy);
  ASSERT_TRUE(k);
  char *buf = nullptr;
  size_t len = 0;
  FILE *out = open_memstream(&buf, &len);
  ASSERT_EQ(ws_table_write(k.get(), WS_FORMAT_CSV, out), 0);
  std::fclose(out);
  const std::string csv(buf, len);
  std::free(buf);
  std::vector<std::vector<std::string>> rows;
  size_t at = 0;
  while (at < csv.size()) {
    const size_t end = csv.find('\n', at);
    const std::string line = csv.substr(at, end - at);
    at = end == std::string::npos ? csv.size() : end + 1;
    std::vector<std::string> cells;
    size_t c0 = 0;
    for (;;) {
      const size_t c1 = line.find(',', c0);
      cells.push_back(line.substr(c0, c1 - c0));
      if (c1 == std::string::npos) break;
      c0 = c1 + 1;
    }
    rows.push_back(cells);
  }
  ASSERT_EQ(rows.size(), 3u) << csv;
  ASSERT_EQ(rows[0][0], "sparsity");
  const char *level_sets[2] = {"workload.sparsity=0", "workload.sparsity=0.75"};
  for (int p = 0; p < 2; p++) {
    RunPtr r = simulate(wstest::config(tiny({level_sets[p]})));
    ASSERT_TRUE(r);
    uint32_t kinds_seen = 0;
    for (size_t col = 2; col < rows[0].size(); col++) {
      uint64_t sum = 0;
      uint32_t ops = 0;
      for (uint32_t i = 0; i < ws_run_op_count(r.get()); i++) {
        const ws_run_op *o = ws_run_op_at(r.get(), i);
        if (rows[0][col] == o->kind) {
          sum += o->busy_max;
          ops++;
        }
      }
      EXPECT_GT(ops, 0u) << rows[0][col] << ": a kind with no op";
      EXPECT_EQ(std::stoull(rows[1 + p][col]), sum) << rows[0][col] << " at " << level_sets[p];
      kinds_seen += ops;
    }
    EXPECT_EQ(kinds_seen, ws_run_op_count(r.get())) << "every op under one kind";
  }
}

}  // namespace
