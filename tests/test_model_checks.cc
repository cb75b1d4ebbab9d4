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

using wstest::RunPtr;
using wstest::simulate;

// A regression point's configuration (tests/expected/NAME.yaml), then sets.
ws_config point(const std::string &name, const std::vector<std::string> &sets = {}) {
  return wstest::config(sets, wstest::read_file(wstest::source_path("tests/expected/" + name + ".yaml")));
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
    wstest::Simulated s;
    ASSERT_TRUE(wstest::simulate_placed(c, s)) << name;
    krn_machine m;
    ws_config_machine(&c, &m);
    const uint32_t b = (uint32_t)c.workload.micro_batch, seq = (uint32_t)c.workload.seq_len;
    for (uint32_t i = 0; i < s.stages.size(); i++)
      EXPECT_EQ(krn_pipe_stats(s.p, i).busy_max, krn_estimate_busy(&m, &s.stages[i], b, seq))
          << name << " " << s.stages[i].name;
  }
}

// ---- 2. MACs and FLOPs from what the simulated PEs executed ----

// Every weight-GEMM PE executed, over the sequence, its tile's nonzeros x
// tokens MACs if it ran the sparse kernel and its whole tile x tokens if it
// ran the dense one (the auto kernel's dense PEs multiply the zeros): the
// tile from the stage's cut points (band j in column w - 1 - j when nrev),
// its nonzeros counted weight by weight from the mask. tiny-sparse at 50 %
// magnitude masks has an op where the auto kernel mixes the two (at 75 %,
// since attention's heads are cut over columns, every GEMM's PEs agree).
// The op rows' and the run's MACs are these summed, and flops_simulated is
// twice the run's.
TEST(ModelChecks, EveryPeExecutesItsTilesNonzerosOrItsWholeTile) {
  const ws_config c = point("tiny-sparse", {"workload.sparsity=0.5"});
  wstest::Simulated s;
  ASSERT_TRUE(wstest::simulate_placed(c, s));
  RunPtr r = simulate(c);
  ASSERT_TRUE(r);
  const uint32_t seq = (uint32_t)c.workload.seq_len;
  uint32_t mixed = 0;
  uint64_t run_macs = 0;
  for (uint32_t si = 0; si < s.stages.size(); si++) {
    const krn_stage &st = s.stages[si];
    const krn_stage_stats stats = krn_pipe_stats(s.p, si);
    const ws_run_op *o = ws_run_op_at(r.get(), si);
    ASSERT_STREQ(o->name, st.name);
    EXPECT_EQ(o->macs, stats.macs) << st.name;
    run_macs += o->macs;
    if (st.kind != KRN_STAGE_GEMM) continue;
    const uint32_t rows = st.region.h, cols = st.region.w;
    uint64_t op_macs = 0, nnz_tokens = 0;
    uint32_t sparse = 0;
    for (uint32_t i = 0; i < rows; i++)
      for (uint32_t j = 0; j < cols; j++) {
        const uint32_t band = st.nrev ? cols - 1 - j : j;
        const uint32_t k0 = wstest::cut_at(st.k_cut, st.k, rows, i), k1 = wstest::cut_at(st.k_cut, st.k, rows, i + 1);
        const uint32_t n0 = wstest::cut_at(st.n_cut, st.n, cols, band), n1 = wstest::cut_at(st.n_cut, st.n, cols, band + 1);
        const krn_pe_stats pe = krn_pipe_pe(s.p, si, i * cols + j);
        ASSERT_TRUE(pe.kernel == KRN_SPARSE || pe.kernel == KRN_DENSE) << st.name;
        const uint64_t nnz = wstest::kept(st.mask, k0, k1, n0, n1);
        const uint64_t want = (pe.kernel == KRN_SPARSE ? nnz : (uint64_t)(k1 - k0) * (n1 - n0)) * seq;
        EXPECT_EQ(pe.macs, want) << st.name << " PE (" << i << ", " << j << ") "
                                 << (pe.kernel == KRN_SPARSE ? "sparse" : "dense");
        sparse += pe.kernel == KRN_SPARSE;
        op_macs += pe.macs;
        nnz_tokens += nnz * seq;
      }
    EXPECT_EQ(op_macs, stats.macs) << st.name;
    EXPECT_EQ(sparse, o->sparse_pes) << st.name;
    if (sparse > 0 && sparse < rows * cols) {
      mixed++;
      EXPECT_GT(op_macs, nnz_tokens) << st.name << ": its dense PEs multiply zeros";
    }
  }
  EXPECT_GE(mixed, 1u) << "tiny-sparse no longer has an op that mixes the kernels: pick a configuration that does";
  const ws_run_totals *t = ws_run_totals_of(r.get());
  EXPECT_EQ(t->macs, run_macs);
  EXPECT_EQ(t->flops_simulated, 2.0 * (double)run_macs);
  EXPECT_DOUBLE_EQ(t->flops_per_s, t->flops_simulated / t->seconds);
  EXPECT_LT(t->flops_simulated, t->flops_executed) << "causal attention does about half of the accounting's S x S";
}

// The dense run's MACs in closed form, from cost.h's counts written out for
// tiny-dense (L = 2 layers, d = 128, f = 512, V = 256, S = 128 tokens):
// the weight GEMMs S (4 d^2 + 2 d f) per layer and S d V for the LM head;
// causal attention d S (S + 1) per layer (a dot product and an AXPY of the
// head size per head and (query, key) pair, S (S + 1) / 2 pairs); layernorm
// 4 S d each (2L + 1 of them); GELU 5 S f per layer. FLOP/s and the share of
// the peak follow from it: 2 MACs x clock / cycles, over PEs x 4 x 2 x clock.
TEST(ModelChecks, DenseMacsAndFlopRateMatchTheClosedForm) {
  const ws_config c = point("tiny-dense");
  RunPtr r = simulate(c);
  ASSERT_TRUE(r);
  const uint64_t L = 2, d = 128, f = 512, V = 256, S = 128;
  const uint64_t macs = L * S * (4 * d * d + 2 * d * f) + S * d * V + L * d * S * (S + 1) + (2 * L + 1) * 4 * S * d +
                        L * 5 * S * f;
  EXPECT_EQ(macs, 59736064u);  // the figure, written out
  const ws_run_totals *t = ws_run_totals_of(r.get());
  EXPECT_EQ(t->macs, macs);
  const double clock = 1.1e9, seconds = (double)t->cycles / clock;
  EXPECT_DOUBLE_EQ(t->flops_per_s, 2.0 * (double)macs / seconds);
  EXPECT_DOUBLE_EQ(t->peak_fraction, (double)macs / (64.0 * 64.0 * 4.0 * (double)t->cycles));
}

// ---- 5. the seed, and the placer's estimates of the other stages ----

// sim.seed changes a run: with a random pattern (bernoulli at 0.5) two seeds
// give different masks (counted weight by weight: about half the weights of
// a 128 x 128 matrix differ between two independent draws, and at least a
// third must) and so different tiles and cycles; the same seed gives the
// same masks and the same figures.
TEST(ModelChecks, TheSeedChangesMasksAndCyclesAndTheSameSeedRepeats) {
  const auto cfg = [](const char *seed) {
    return point("tiny-sparse", {"workload.pattern=bernoulli", "workload.sparsity=0.5", std::string("sim.seed=") + seed});
  };
  const ws_config a = cfg("1"), b = cfg("2"), a2 = cfg("1");
  char err[1024] = "";
  std::unique_ptr<ws_placement, void (*)(ws_placement *)> pa(ws_place(&a, err, sizeof err), ws_placement_destroy),
      pb(ws_place(&b, err, sizeof err), ws_placement_destroy), pa2(ws_place(&a2, err, sizeof err), ws_placement_destroy);
  ASSERT_TRUE(pa && pb && pa2) << err;
  for (uint32_t i = 0; i < ws_placement_count(pa.get()); i++) {
    const krn_stage &sa = ws_placement_stage(pa.get(), i)->stage, &sb = ws_placement_stage(pb.get(), i)->stage,
                    &sa2 = ws_placement_stage(pa2.get(), i)->stage;
    if (!sa.mask) continue;
    ASSERT_TRUE(sb.mask && sa2.mask) << sa.name;
    uint64_t differ = 0, differ_same = 0;
    for (uint32_t k = 0; k < sa.k; k++)
      for (uint32_t n = 0; n < sa.n; n++) {
        differ += wl_mask_get(sa.mask, k, n) != wl_mask_get(sb.mask, k, n);
        differ_same += wl_mask_get(sa.mask, k, n) != wl_mask_get(sa2.mask, k, n);
      }
    EXPECT_GT(differ * 3, (uint64_t)sa.k * sa.n) << sa.name;
    EXPECT_EQ(differ_same, 0u) << sa.name;
  }
  RunPtr ra = simulate(a), rb = simulate(b), ra2 = simulate(a2);
  ASSERT_TRUE(ra && rb && ra2);
  const ws_run_totals *ta = ws_run_totals_of(ra.get()), *tb = ws_run_totals_of(rb.get()),
                      *ta2 = ws_run_totals_of(ra2.get());
  EXPECT_NE(ta->cycles, tb->cycles);
  EXPECT_NE(ta->flops_executed, tb->flops_executed);
  EXPECT_EQ(ta->cycles, ta2->cycles);
  EXPECT_EQ(ta->events, ta2->events);
  EXPECT_EQ(ta->macs, ta2->macs);
  EXPECT_EQ(ta->flops_executed, ta2->flops_executed);
}

// A stage fed by entry GEMMs (the host's x, K = 4, 8 columns each: faster
// than the stage), simulated alone on a small mesh; its steady interval per
// micro-batch beside krn_estimate_stage's (consumers 0: the last stage).
struct Isolated {
  uint64_t est = 0, sim_mean = 0, sim_first = 0, est_latency = 0;
};

Isolated isolated(krn_stage st, uint32_t feeders, uint32_t b, uint32_t mbs, fab_fidelity fid) {
  ws_config c = wstest::config({});
  krn_machine m;
  fab_config fc;
  ws_config_machine(&c, &m);
  ws_config_fabric(&c, &fc);
  fc.width = 48;
  fc.height = 32;
  fc.fidelity = fid;
  const uint32_t in_n = st.kind == KRN_STAGE_GEMM ? st.k : st.n;
  std::vector<krn_stage> stages;
  for (uint32_t i = 0; i < feeders; i++) {
    stages.push_back(wstest::gemm_stage("feeder", {i * 8, 0, 8, 1}, 4, in_n, KRN_DENSE));
  }
  st.region.x = feeders * 8 + 2;
  for (uint32_t i = 0; i < KRN_MAX_INPUTS; i++) st.in[i] = i < feeders ? (int)i : -1;
  stages.push_back(st);
  Isolated out;
  char err[1024] = "";
  krn_estimate e;
  EXPECT_EQ(krn_estimate_stage(&m, &fc, &st, b, b * mbs, 0, &e, err, sizeof err), 0) << err;
  out.est = e.interval;
  out.est_latency = e.latency;
  sim_engine *eng = sim_engine_create(nullptr, err, sizeof err);
  fab_fabric *f = fab_create(eng, &fc, err, sizeof err);
  const krn_run run = {b, mbs, b * mbs, false, nullptr, nullptr, 0, 0};
  krn_pipe *p = krn_pipe_create(eng, f, &m, stages.data(), (uint32_t)stages.size(), &run, err, sizeof err);
  EXPECT_NE(p, nullptr) << err;
  if (p) {
    EXPECT_EQ(sim_engine_run(eng), 0);
    EXPECT_EQ(krn_pipe_check(p, err, sizeof err), 0) << err;
    if (st.kind == KRN_STAGE_ATTENTION) { /* micro-batches 1 .. mbs - 1 at the whole sequence's mean work */
      uint64_t all = 0, later = 0;
      for (uint32_t mb = 0; mb < mbs; mb++) {
        const uint64_t pairs = krn_attn_pairs(b, mb, 0, st.region.h);
        all += pairs;
        later += mb > 0 ? pairs : 0;
      }
      out.sim_mean = (uint64_t)std::llround((double)(krn_pipe_done(p, mbs - 1) - krn_pipe_done(p, 0)) * (double)all /
                                            ((double)later * mbs));
    } else {
      out.sim_mean = (krn_pipe_done(p, mbs - 1) - krn_pipe_done(p, 1)) / (mbs - 2);
    }
    out.sim_first = krn_pipe_done(p, 0) + 1;
  }
  krn_pipe_destroy(p);
  fab_destroy(f);
  sim_engine_destroy(eng);
  return out;
}

krn_stage stage_of(krn_stage_kind kind, const char *name, uint32_t w, uint32_t h, uint32_t n) {
  krn_stage s{};
  s.kind = kind;
  s.name = name;
  s.region = {0, 0, w, h};
  s.n = n;
  return s;
}

// The placer's model of a layernorm, GELU, residual add and attention stage
// (krn_estimate_stage) against the stage simulated alone, fed by faster
// GEMMs, in both fidelities (the GEMM's is `wafersim kernel`'s
// interval_model, README). What the estimate leaves out, and so the
// tolerance:
// - compute-bound stages (layernorm, GELU here): nothing. The busiest PE's
//   compute is the same cost.h cycles, and its inputs, statistics and
//   outputs move while it computes the other micro-batch (double buffers):
//   equal to the cycle.
// - ramp-bound stages (the add, two inputs of b f / 2 wavelets a PE): the
//   estimate counts the wavelets per micro-batch; the simulation adds the
//   gap before each micro-batch's first wavelet arrives, at most the route's
//   latency (hops from the farthest feeder PE + the two ramps).
// - attention: the estimate puts the output PE's normalisation on the PE
//   with the most (query, key) pairs, row 0, which is not the output row:
//   it may exceed the simulation by up to the normalisation's cycles; it
//   takes the sequence's mean causal work, and the simulated mean leaves out
//   micro-batch 0 (its outputs start the clock), so the simulated interval
//   is rescaled by the pairs of micro-batches 1 .. M - 1 against all M
//   (krn_attn_pairs), which is exact for the work per pair but scales the
//   per-micro-batch constants (two task switches and the normalisation) by
//   the same ratio: that share is added to the lower tolerance.
// Regions of one column (and attention's staggered input rows) keep the
// feeders' messages on separate links: a layout that funnels several into
// one link (a 2 x 4 add fed from one row: 1,040 cycles against 512) is
// link-bound, which the stage model does not claim to see.
TEST(ModelChecks, PlacerEstimatesOfTheOtherStagesMatchTheirSimulation) {
  const uint32_t b = 16;
  const ws_config c = wstest::config({});
  krn_machine m;
  ws_config_machine(&c, &m);
  for (fab_fidelity fid : {FAB_TRAIN, FAB_WAVELET}) {
    struct Case {
      krn_stage s;
      uint32_t feeders, mbs;
    } cases[] = {
        {stage_of(KRN_STAGE_LAYERNORM, "layernorm 1x16", 1, 16, 256), 1, 8},
        {stage_of(KRN_STAGE_LAYERNORM, "layernorm 2x8", 2, 8, 256), 1, 8},
        {stage_of(KRN_STAGE_LAYERNORM, "layernorm 1x4", 1, 4, 256), 1, 8},
        {stage_of(KRN_STAGE_GELU, "gelu 1x16", 1, 16, 256), 1, 8},
        {stage_of(KRN_STAGE_GELU, "gelu 2x2", 2, 2, 256), 1, 8},
        {stage_of(KRN_STAGE_ADD, "add 1x4", 1, 4, 256), 2, 8},
        {stage_of(KRN_STAGE_ADD, "add 1x2", 1, 2, 256), 2, 8},
        {stage_of(KRN_STAGE_ATTENTION, "attention 4x8", 4, 8, 256), 3, 8},
        {stage_of(KRN_STAGE_ATTENTION, "attention 8x16", 8, 16, 256), 3, 8},
        {stage_of(KRN_STAGE_ATTENTION, "attention 2x8", 2, 8, 256), 3, 8},
        {stage_of(KRN_STAGE_ATTENTION, "attention 8x4", 8, 4, 256), 3, 16},
    };
    for (auto &cs : cases) {
      cs.s.heads = 8;
      const Isolated r = isolated(cs.s, cs.feeders, b, cs.mbs, fid);
      const std::string what = std::string(cs.s.name) + " " + fab_fidelity_name(fid);
      const uint32_t x0 = cs.feeders * 8 + 2, rows = cs.s.region.h, cols = cs.s.region.w;
      const uint64_t route = x0 + cols - 1 + rows - 1 + 2 * c.fabric.ramp_latency;  // farthest feeder PE (0, 0)
      std::printf("[ estimate ] %-16s %-7s estimated %6llu simulated %6llu (%+.1f %%)\n", cs.s.name,
                  fab_fidelity_name(fid), (unsigned long long)r.est, (unsigned long long)r.sim_mean,
                  100.0 * ((double)r.sim_mean - (double)r.est) / (double)r.est);
      if (cs.s.kind == KRN_STAGE_LAYERNORM || cs.s.kind == KRN_STAGE_GELU) {
        EXPECT_EQ(r.sim_mean, r.est) << what;
      } else if (cs.s.kind == KRN_STAGE_ADD) {
        EXPECT_GE(r.sim_mean, r.est) << what;
        EXPECT_LE(r.sim_mean, r.est + route) << what;
      } else {
        const uint32_t heads = cs.s.heads / cols, dh = cs.s.n / cs.s.heads;
        const uint64_t norm = krn_attn_norm_cost(&m, heads * dh, b).cycles;
        uint64_t all = 0, later = 0;
        for (uint32_t mb = 0; mb < cs.mbs; mb++) {
          all += krn_attn_pairs(b, mb, 0, rows);
          later += mb > 0 ? krn_attn_pairs(b, mb, 0, rows) : 0;
        }
        const double scale = (double)all * (cs.mbs - 1) / ((double)later * cs.mbs);
        const double constants = (double)(2 * m.task_switch + norm) * (1.0 - scale);
        EXPECT_GE((double)r.sim_mean, (double)r.est - (double)norm - constants) << what;
        EXPECT_LE(r.sim_mean, r.est + route) << what;
      }
    }
  }
}

}  // namespace
