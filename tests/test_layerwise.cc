// The layer-by-layer strategy and auto (issue 20, items 1 and 5): on the
// tiny model the ops run one after another and their spans and hand-offs add
// up to the run's cycles; a weight GEMM executes every weight of every
// copy's tokens (dense: tokens x k x n MACs; sparse: tokens x nonzeros); no
// run beats the wafer's bound; the plan's model is close to the simulation;
// every PE holds every layer's weights within its SRAM; auto keeps the
// strategy its models time faster and runs exactly that one; sweeps report
// the strategy and both models; what the strategy cannot do is an input
// error.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/kind.h"
#include "sim/config.h"
#include "sim/input.h"
#include "sim/run.h"
#include "ws_test.h"

namespace {

using wstest::RunPtr;
using wstest::simulate;
using wstest::tiny;

// GEMM stage i's executed MACs if every PE ran the dense kernel, or exactly
// the kept weights (sparse), over every token.
struct GemmShape {
  std::string name;
  uint64_t dense_macs, kept_macs;
};

std::vector<GemmShape> gemm_shapes(const ws_config &c) {
  ws_input in;
  char err[WS_CONFIG_ERR_MAX];
  EXPECT_EQ(ws_input_create(&in, &c, err, sizeof err), 0) << err;
  EXPECT_EQ(ws_input_masks(&in, WS_WORK_MASKS, err, sizeof err), 0) << err;
  std::vector<GemmShape> out;
  for (uint32_t i = 0; i < in.low.n; i++) {
    const krn_stage &s = in.low.stages[i];
    if (!krn_kind_of(s.kind)->picks_kernel) continue;
    const uint32_t op = in.low.first_op[i];
    const wl_mask *mask = mdl_graph_op(in.g, op)->sparsifiable ? wl_weights_mask(in.w, op) : nullptr;
    const uint64_t nnz = mask ? wl_mask_nnz(mask) : (uint64_t)s.k * s.n;
    out.push_back({s.name, (uint64_t)in.tokens * s.k * s.n, (uint64_t)in.tokens * nnz});
  }
  ws_input_destroy(&in);
  return out;
}

TEST(Layerwise, OpsRunOneAfterAnotherAndAddUp) {
  for (const char *level : {"0", "0.84"}) {
    const ws_config c = wstest::config(tiny({"sim.strategy=layerwise", std::string("workload.sparsity=") + level}));
    RunPtr r = simulate(c);
    ASSERT_TRUE(r);
    const ws_run_totals *t = ws_run_totals_of(r.get());
    EXPECT_STREQ(t->strategy, "layerwise");
    EXPECT_GE(t->replicas, 1u);
    EXPECT_EQ(t->replicas & (t->replicas - 1), 0u) << "a power of two";
    EXPECT_EQ(t->pes_used, t->pes_mesh);
    EXPECT_EQ(t->micro_batches, 1u);
    EXPECT_EQ(t->fill_cycles, t->cycles);
    // one op at a time: each starts no sooner than the one before ends; Q
    // and GELU, each reading only the op right before, end no sooner than
    // that op's last part of output crossed half a replica's region each way
    // (Q's region: the tiny model's weights are wider and taller than a
    // replica); K and V, whose input Q's hand-off left where they read it
    // (the same rows' centres), start as Q and K end
    uint64_t rw = 0, rh = 0;
    for (uint32_t i = 0; i < ws_run_op_count(r.get()) && !rw; i++)
      if (std::string(ws_run_op_at(r.get(), i)->kind) == "q")
        rw = ws_run_op_at(r.get(), i)->region.w, rh = ws_run_op_at(r.get(), i)->region.h;
    EXPECT_EQ(rw * rh * t->replicas, (uint64_t)c.fabric.width * c.fabric.height) << "the copies tile the mesh";
    const uint64_t region = 2 * c.fabric.ramp_latency + (rw + rh) / 2 * c.fabric.hop_latency;
    uint64_t end = 0;
    for (uint32_t i = 0; i < ws_run_op_count(r.get()); i++) {
      const ws_run_op *o = ws_run_op_at(r.get(), i);
      const std::string kind = o->kind;
      if (kind == "k" || kind == "v") EXPECT_EQ(o->first, end) << o->name;
      else if (kind == "q" || kind == "gelu") EXPECT_GE(o->first + o->cycles, end + region) << o->name;
      else EXPECT_GE(o->first, end) << o->name;
      EXPECT_GE(o->cycles, o->busy_max) << o->name; // its busiest PE computes within its span
      EXPECT_LE(o->sram_max, c.fabric.sram_per_pe) << o->name;
      end = o->first + o->cycles;
    }
    EXPECT_EQ(t->cycles, end) << "the run ends with its last op";
    EXPECT_LE(t->bound_fraction, 1.0) << level;
    EXPECT_GE(t->bound_cycles_wafer, 1u);
    EXPECT_LE(t->sram_max, c.fabric.sram_per_pe);
    // the plan's model against the simulated GEMMs: within 5 %
    EXPECT_NEAR((double)t->layerwise_cycles_model, (double)t->cycles, 0.05 * (double)t->cycles) << level;
    EXPECT_EQ(t->pipeline_cycles_model, 0u);
  }
}

TEST(Layerwise, GemmsExecuteEveryKeptWeightOfEveryToken) {
  // dense: the dense kernel's MACs, tokens x k x n; sparse kernel forced:
  // exactly the kept weights, whatever the replicas
  for (const char *kernel : {"dense", "sparse"}) {
    const ws_config c = wstest::config(
        tiny({"sim.strategy=layerwise", "workload.sparsity=0.84", std::string("kernels.kernel=") + kernel}));
    const std::vector<GemmShape> shapes = gemm_shapes(c);
    RunPtr r = simulate(c);
    ASSERT_TRUE(r);
    size_t g = 0;
    for (uint32_t i = 0; i < ws_run_op_count(r.get()); i++) {
      const ws_run_op *o = ws_run_op_at(r.get(), i);
      if (g == shapes.size() || shapes[g].name != o->name) continue;
      const bool dense = std::string(kernel) == "dense" || shapes[g].dense_macs == shapes[g].kept_macs;
      EXPECT_EQ(o->macs, dense ? shapes[g].dense_macs : shapes[g].kept_macs) << o->name << " " << kernel;
      g++;
    }
    EXPECT_EQ(g, shapes.size()) << "every weight GEMM has its row";
  }
}

// Attention on the whole mesh (kernels/mesh_attention.h), every (head,
// sequence) on its region: each causal (query, key) pair of each head and
// sequence scored and multiplied into V exactly once, 2 x dh MACs a pair;
// simulated (its events counted), within its span.
TEST(Layerwise, AttentionExecutesEveryCausalPairOnce) {
  for (const char *batch : {"1", "2"}) {
    const ws_config c = wstest::config(tiny({"sim.strategy=layerwise", std::string("workload.batch=") + batch}));
    RunPtr r = simulate(c);
    ASSERT_TRUE(r);
    const uint64_t T = c.workload.seq_len, heads = c.model.heads, dh = c.model.d_model / heads;
    const uint64_t want = std::stoull(batch) * heads * T * (T + 1) / 2 * 2 * dh;
    uint32_t seen = 0;
    for (uint32_t i = 0; i < ws_run_op_count(r.get()); i++) {
      const ws_run_op *o = ws_run_op_at(r.get(), i);
      if (std::string(o->kind) != "attention") continue;
      seen++;
      EXPECT_EQ(o->macs, want) << o->name << " batch " << batch;
      EXPECT_STREQ(o->kernel, "mesh") << o->name;
      EXPECT_GE(o->cycles, o->busy_max) << o->name;
      EXPECT_LE(o->pes, c.fabric.width * c.fabric.height) << o->name;
    }
    EXPECT_EQ(seen, c.model.layers) << "an attention row a layer";
    EXPECT_GT(ws_run_totals_of(r.get())->events, 0u);
  }
}

// The plan's two best (replicas and their grid) by its model are both
// simulated when their models are within sim.auto_margin, and the faster run
// kept: with every runner-up simulated (margin 1000) no run is slower than
// the best model's alone (margin 0), at any level.
TEST(Layerwise, TheFasterOfTheTwoBestPlansIsKept) {
  for (const char *level : {"0", "0.84"}) {
    const std::vector<std::string> base = tiny({"sim.strategy=layerwise", std::string("workload.sparsity=") + level});
    std::vector<std::string> one = base, two = base;
    one.push_back("sim.auto_margin=0");
    two.push_back("sim.auto_margin=1000");
    RunPtr a = simulate(wstest::config(one)), b = simulate(wstest::config(two));
    ASSERT_TRUE(a && b);
    EXPECT_LE(ws_run_totals_of(b.get())->cycles, ws_run_totals_of(a.get())->cycles) << level;
    EXPECT_GE(ws_run_totals_of(b.get())->layerwise_cycles_model, ws_run_totals_of(a.get())->layerwise_cycles_model)
        << level << ": the kept plan's model is the best's or the runner-up's";
  }
}

TEST(Layerwise, IsDeterministic) {
  const ws_config c = wstest::config(tiny({"sim.strategy=layerwise", "workload.sparsity=0.5"}));
  RunPtr a = simulate(c), b = simulate(c);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(ws_run_totals_of(a.get())->cycles, ws_run_totals_of(b.get())->cycles);
  EXPECT_EQ(ws_run_totals_of(a.get())->macs, ws_run_totals_of(b.get())->macs);
  EXPECT_EQ(ws_run_totals_of(a.get())->replicas, ws_run_totals_of(b.get())->replicas);
}

TEST(Layerwise, LessSramFewerReplicas) {
  // every PE keeps every layer's tiles of its replica: with less SRAM the
  // plan can afford fewer copies, and what it keeps still fits
  const ws_config big = wstest::config(tiny({"sim.strategy=layerwise"}));
  const ws_config small = wstest::config(tiny({"sim.strategy=layerwise", "fabric.sram_per_pe=12KB"}));
  RunPtr a = simulate(big), b = simulate(small);
  ASSERT_TRUE(a && b);
  EXPECT_LT(ws_run_totals_of(b.get())->replicas, ws_run_totals_of(a.get())->replicas);
  EXPECT_LE(ws_run_totals_of(b.get())->sram_max, 12u * 1024);
}

// sim.auto_margin 0: the faster model's strategy, run alone; a margin the
// models fall within (1000 takes any two): both run and the faster run is
// kept, whatever the models say; the default margin: whichever of the two
// the models' distance asks for. Either way auto's run is exactly that
// strategy's run alone.
TEST(Auto, KeepsTheFasterModelOrTheFasterOfBothWithinTheMargin) {
  struct Case {
    const char *hop, *mb;
  };
  for (const Case &k : {Case{"30", "8"}, Case{"1", "16"}})
    for (const char *margin : {"0", "0.15", "1000"}) {
      const std::vector<std::string> sets = {std::string("fabric.hop_latency=") + k.hop,
                                             std::string("workload.micro_batch=") + k.mb};
      std::vector<std::string> a = tiny(sets), l = tiny(sets);
      a.insert(a.end(), {"sim.strategy=auto", std::string("sim.auto_margin=") + margin});
      l.push_back("sim.strategy=layerwise");
      RunPtr r = simulate(wstest::config(a)), rp = simulate(wstest::config(tiny(sets)));
      RunPtr rl = simulate(wstest::config(l));
      ASSERT_TRUE(r && rp && rl);
      const ws_run_totals *t = ws_run_totals_of(r.get()), *tp = ws_run_totals_of(rp.get()),
                          *tl = ws_run_totals_of(rl.get());
      const double pm = (double)t->pipeline_cycles_model, lm = (double)t->layerwise_cycles_model, m = std::stod(margin);
      ASSERT_GT(pm, 0);
      ASSERT_GT(lm, 0);
      std::string want = pm <= lm ? "pipeline" : "layerwise";
      if (pm <= lm * (1 + m) && lm <= pm * (1 + m)) want = tl->cycles < tp->cycles ? "layerwise" : "pipeline";
      const ws_run_totals *alone = want == "pipeline" ? tp : tl;
      EXPECT_EQ(t->strategy, want) << k.hop << " " << k.mb << " " << margin;
      EXPECT_EQ(t->cycles, alone->cycles) << k.hop << " " << k.mb << " " << margin;
      EXPECT_EQ(t->macs, alone->macs) << k.hop << " " << k.mb << " " << margin;
      if (m >= 1000) {
        EXPECT_EQ(t->cycles, std::min(tp->cycles, tl->cycles)) << k.hop << " " << k.mb;
      }
    }
}

TEST(Auto, SweepReportsTheStrategyAndBothModels) {
  std::vector<std::string> args = {"sweep", "--sparsity", "0,0.84", "--format", "csv"};
  for (const auto &s : tiny({"sim.strategy=auto"})) args.insert(args.end(), {"--set", s});
  const wstest::CliResult r = wstest::run_cli(args);
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string header = r.out.substr(0, r.out.find('\n'));
  for (const char *col : {"strategy", "replicas", "pipeline_cycles_model", "layerwise_cycles_model"})
    EXPECT_NE(header.find(col), std::string::npos) << col;
  EXPECT_TRUE(r.out.find(",layerwise,") != std::string::npos || r.out.find(",pipeline,") != std::string::npos)
      << r.out;
}

TEST(Layerwise, WhatItCannotDoIsAnInputError) {
  std::vector<std::string> args = {"run"};
  for (const auto &s : tiny({"sim.strategy=layerwise", "sim.functional=true"})) args.insert(args.end(), {"--set", s});
  wstest::CliResult r = wstest::run_cli(args);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("sim.functional: true needs sim.strategy: pipeline"), std::string::npos) << r.err;
  // the tiny model's weights fit 8 x 8 PEs of 14 KB in all (the input's
  // check), but not beside what each op needs at a PE
  args = {"run"};
  for (const auto &s : tiny({"sim.strategy=layerwise", "fabric.width=8", "fabric.height=8", "fabric.sram_per_pe=14KB",
                             "kernels.sram_reserve=0"}))
    args.insert(args.end(), {"--set", s});
  r = wstest::run_cli(args);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("fabric.sram_per_pe"), std::string::npos) << r.err;
}

}  // namespace
