// The strategy seam (sim/strategy/strategy.h) and the bound strategy
// (issue 17, items 1, 3, 4 and 6): the bound equals a hand count from
// kernels/cost.h's formulas on a 2-layer model, dense and 2:4 sparse; it is
// never above a simulated strategy's cycles, nor its work above the
// simulated PEs' busy cycles, on every test configuration; every run
// reports it; the sweep compares strategies side by side; the run input
// keeps new tokens and keys apart; bad strategies, phases and meshes are
// input errors naming the key.
#include <gtest/gtest.h>
#include <jansson.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sim/config.h"
#include "sim/input.h"
#include "sim/run.h"
#include "ws_test.h"

namespace {

using wstest::RunPtr;
using wstest::simulate;

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string> &more) {
  a.insert(a.end(), more.begin(), more.end());
  return a;
}

ws_config from_file(const std::string &rel, const std::vector<std::string> &sets = {}) {
  ws_config c;
  char err[WS_CONFIG_ERR_MAX];
  EXPECT_EQ(ws_config_init_default(&c, err, sizeof err), 0) << err;
  EXPECT_EQ(ws_config_load_file(&c, wstest::source_path(rel).c_str(), err, sizeof err), 0) << err;
  for (const auto &s : sets) EXPECT_EQ(ws_config_set(&c, s.c_str(), err, sizeof err), 0) << err;
  EXPECT_EQ(ws_config_finish(&c, err, sizeof err), 0) << err;
  return c;
}

uint64_t cdiv(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

// The hand count: each op of the 2-layer model held whole by one PE at one
// vector of all S tokens, in PE-cycles, from cost.h's formulas (written out
// here, not called); `kept` the share of each sparsifiable weight kept
// (exact for 2:4), the cheaper GEMM kernel taken.
struct Hand {
  uint64_t work = 0, weights = 0;
};

Hand hand_count(const ws_config &c, double kept) {
  const uint64_t ts = c.kernels.task_switch, s16 = c.fabric.fmac_fp16, s32 = c.fabric.fmac_fp32;
  const uint64_t ds = c.kernels.dense_setup, ss = c.kernels.sparse_setup, ex = c.kernels.exp_cycles;
  const uint64_t S = c.workload.seq_len, d = c.model.d_model, H = c.model.heads, dh = d / H, f = c.model.d_ff,
                 V = c.model.vocab, ctx = c.model.context, L = c.model.layers;
  Hand h;
  // weight GEMM Y[S x N] = X[S x K] W[K x N]: sparse nnz (ss + ceil(S / simd)),
  // dense the better loop order, each + a task start; a bias add after
  auto gemm = [&](uint64_t K, uint64_t N, bool sparsifiable, bool bias) {
    const uint64_t nnz = sparsifiable ? (uint64_t)((double)(K * N) * kept) : K * N;
    const uint64_t sparse = ts + nnz * (ss + cdiv(S, s16));
    const uint64_t dense = ts + std::min(K * S * (ds + cdiv(N, s16)), K * N * (ds + cdiv(S, s16)));
    h.work += std::min(sparse, dense) + (bias ? ts + cdiv(N * S, s16) : 0);
    h.weights += sparsifiable ? std::min(4 * nnz + 2 * K, 2 * K * N) : 2 * K * N;
  };
  auto layernorm = [&]() {  // two phases of 2 e fp32 operations, an inverse square root a token
    h.work += 2 * (ts + cdiv(2 * d * S, s32)) + S * ex;
    h.weights += 2 * 2 * d;  // gain and shift, fp16
  };
  auto add = [&]() { h.work += ts + cdiv(d * S, s16); };
  // embedding: S token rows and S position rows copied, d features each
  h.work += ts + 2 * S * cdiv(d, s16);
  h.weights += 2 * (V + ctx) * d;
  for (uint64_t l = 0; l < L; l++) {
    layernorm();
    for (int m = 0; m < 3; m++) gemm(d, d, true, true);  // q, k, v
    // causal attention: S (S + 1) / 2 pairs x H heads; scores and scores x V a
    // dot of dh each, an exp and the max and sum; the output normalised
    const uint64_t ph = S * (S + 1) / 2 * H, dots = ph * cdiv(dh, s16);
    h.work += (ts + dots + ph) + (ts + dots + ph * (ex + 1)) + (ts + cdiv(S * d, s32));
    gemm(d, d, true, true);  // attn_out
    add();
    layernorm();
    gemm(d, f, true, true);                     // ffn_up
    h.work += ts + f * S * ex + cdiv(5 * f * S, s16);  // GELU: a tanh and 5 multiply-adds an element
    gemm(f, d, true, true);                     // ffn_down
    add();
  }
  layernorm();
  gemm(d, V, false, false);  // lm_head: dense, no bias
  return h;
}

void expect_hand_count(const std::vector<std::string> &sets, double kept) {
  const ws_config c = wstest::config(wstest::tiny(with(sets, {"sim.strategy=bound"})));
  RunPtr r = simulate(c);
  ASSERT_TRUE(r);
  const ws_run_totals *t = ws_run_totals_of(r.get());
  const Hand h = hand_count(c, kept);
  const uint64_t P = 64 * 64;
  EXPECT_EQ(t->cycles, cdiv(h.work, P));
  EXPECT_EQ(t->bound_cycles_wafer, t->cycles);
  EXPECT_DOUBLE_EQ(t->bound_fraction, 1.0);
  EXPECT_EQ(t->weight_bytes, h.weights);
  EXPECT_EQ(t->pes_used, P);
  EXPECT_DOUBLE_EQ(t->seconds, (double)t->cycles / (double)c.fabric.clock);
  EXPECT_DOUBLE_EQ(t->tokens_per_s, 128.0 / t->seconds);
  // FLOP/s: the accounting's executed FLOPs (as `wafersim flops` counts them) over the bound's time
  EXPECT_DOUBLE_EQ(t->flops_per_s, t->flops_executed / t->seconds);
  EXPECT_DOUBLE_EQ(t->peak_fraction, t->flops_per_s / (double)(P * 4 * 2) / (double)c.fabric.clock);
}

TEST(Strategy, BoundEqualsTheHandCountOnATwoLayerModel) {
  expect_hand_count({}, 1.0);  // dense: every GEMM at its dense kernel
  // 2:4: exactly half of each sparsifiable weight kept; the sparse kernel is cheaper there
  expect_hand_count({"workload.pattern=nm", "workload.sparsity=0.5"}, 0.5);
}

// On every test configuration: the bound never above the simulated cycles
// (bound_fraction in (0, 1]), the bound strategy's cycles the pipeline's
// bound_cycles_wafer, and the bound's work (its ops' busy PE-cycles) never
// above what the simulated PEs were busy: the same cost functions at their
// cheapest.
TEST(Strategy, BoundNeverAboveThePipelineOnEveryTestConfiguration) {
  for (const char *name : {"tiny-dense", "tiny-sparse", "tiny-wavelet", "small-125m"}) {
    SCOPED_TRACE(name);
    const std::string yaml = std::string("tests/expected/") + name + ".yaml";
    RunPtr pipe = simulate(from_file(yaml));
    RunPtr bound = simulate(from_file(yaml, {"sim.strategy=bound"}));
    ASSERT_TRUE(pipe && bound);
    const ws_run_totals *p = ws_run_totals_of(pipe.get()), *b = ws_run_totals_of(bound.get());
    EXPECT_GT(p->bound_cycles_wafer, 0u);
    EXPECT_LE(p->bound_cycles_wafer, p->cycles);
    EXPECT_GT(p->bound_fraction, 0.0);
    EXPECT_LE(p->bound_fraction, 1.0);
    EXPECT_DOUBLE_EQ(p->bound_fraction, (double)p->bound_cycles_wafer / (double)p->cycles);
    EXPECT_EQ(b->cycles, p->bound_cycles_wafer);
    EXPECT_EQ(b->bound_cycles_wafer, b->cycles);
    ASSERT_EQ(ws_run_op_count(pipe.get()), ws_run_op_count(bound.get()));
    double busy_pipe = 0, busy_bound = 0;
    for (uint32_t i = 0; i < ws_run_op_count(pipe.get()); i++) {
      const ws_run_op *po = ws_run_op_at(pipe.get(), i), *bo = ws_run_op_at(bound.get(), i);
      EXPECT_STREQ(po->name, bo->name);
      busy_pipe += po->utilisation * po->pes * (double)p->cycles;
      busy_bound += bo->utilisation * bo->pes * (double)b->cycles;
    }
    EXPECT_LE(busy_bound, busy_pipe * (1 + 1e-9));
    // the same model and masks: the same accounting
    EXPECT_DOUBLE_EQ(b->flops_executed, p->flops_executed);
    EXPECT_EQ(b->params, p->params);
  }
}

TEST(Strategy, SweepComparesStrategiesSideBySide) {
  const wstest::CliResult r = wstest::run_cli(
      {"sweep", wstest::source_path("tests/expected/tiny-sparse.yaml"), "--sparsity", "0.5", "--vary",
       "sim.strategy=pipeline,bound", "--set", "output.format=json"});
  ASSERT_EQ(r.status, 0) << r.err;
  json_error_t je;
  json_t *doc = json_loads(r.out.c_str(), 0, &je);
  ASSERT_TRUE(doc) << je.text;
  json_t *points = json_object_get(json_object_get(doc, "sweep"), "points");
  ASSERT_EQ(json_array_size(points), 4u);  // levels 0 and 0.5 at each strategy
  for (size_t i = 0; i < 2; i++) {
    json_t *pipe = json_array_get(points, i), *bound = json_array_get(points, i + 2);
    EXPECT_STREQ(json_string_value(json_object_get(pipe, "value")), "pipeline");
    EXPECT_STREQ(json_string_value(json_object_get(bound, "value")), "bound");
    const json_int_t limit = json_integer_value(json_object_get(pipe, "bound_cycles_wafer"));
    EXPECT_EQ(json_integer_value(json_object_get(bound, "cycles")), limit);
    EXPECT_EQ(json_integer_value(json_object_get(bound, "bound_cycles_wafer")), limit);
    EXPECT_DOUBLE_EQ(json_real_value(json_object_get(bound, "bound_fraction")), 1.0);
    EXPECT_LT(json_real_value(json_object_get(pipe, "bound_fraction")), 1.0);
  }
  json_decref(doc);
}

// A bound run's document is one the output schema describes, and `check`
// reruns it to the same figures (check does not know which strategy ran).
TEST(Strategy, CheckTakesABoundRunLikeAnyOther) {
  const wstest::CliResult r = wstest::run_cli({"run", wstest::source_path("tests/expected/tiny-sparse.yaml"), "--set",
                                               "sim.strategy=bound", "--set", "output.format=json"});
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string path = wstest::write_temp("bound_run.json", r.out);
  const wstest::CliResult c = wstest::run_cli({"check", "--baseline", path});
  EXPECT_EQ(c.status, 0) << c.out << c.err;
  EXPECT_NE(c.out.find("check: 0 of "), std::string::npos) << c.out;
}

// The embedded default (GPT-3 1.3B on the whole wafer) bounds in well under a second.
TEST(Strategy, BoundOfTheDefaultIsFast) {
  RunPtr r = simulate(wstest::config({"sim.strategy=bound"}));
  ASSERT_TRUE(r);
  EXPECT_LT(ws_run_totals_of(r.get())->wall_s, 1.0);
  EXPECT_EQ(ws_run_totals_of(r.get())->pes_used, 750u * 994u);
}

TEST(Strategy, TheRunInputKeepsNewTokensAndKeysApart) {
  const ws_config c = wstest::config(wstest::tiny());
  ws_input in;
  char err[WS_CONFIG_ERR_MAX] = "";
  ASSERT_EQ(ws_input_create(&in, &c, err, sizeof err), 0) << err;
  EXPECT_EQ(in.phase, WS_PHASE_PREFILL);
  EXPECT_EQ(in.tokens, 128u);  // prefill: every token of the sequence is new
  EXPECT_EQ(in.keys, 128u);    // and the last attends to all of them
  EXPECT_EQ(in.micro_batches, 8u);
  EXPECT_EQ(in.low.n, 27u);    // embed, 2 x 12 per layer, final layernorm, lm_head
  EXPECT_EQ(in.w, nullptr);    // no masks until a strategy asks
  EXPECT_TRUE(ws_input_dense(&in));
  ws_input_destroy(&in);
}

TEST(Strategy, BadStrategiesPhasesAndMeshesAreInputErrors) {
  const std::string tiny = wstest::source_path("tests/expected/tiny-dense.yaml");
  wstest::CliResult r = wstest::run_cli({"run", tiny, "--set", "sim.strategy=systolic"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "wafersim: --set sim.strategy: expected one of: pipeline, bound, layerwise, auto, stream, got 'systolic'\n");
  r = wstest::run_cli({"run", tiny, "--set", "workload.phase=finetune"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "wafersim: --set workload.phase: expected one of: prefill, decode, generate, train, got 'finetune'\n");
  // tiny-dense pins the pipeline and micro_batch 16: a decode there takes a token a micro-batch (README)
  r = wstest::run_cli({"run", tiny, "--set", "workload.phase=decode", "--set", "workload.seq_len=64"});
  EXPECT_EQ(r.status, 0) << r.err;
  r = wstest::run_cli({"run", tiny, "--set", "workload.phase=generate", "--set", "sim.strategy=layerwise"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("workload.new_tokens: a prompt of workload.seq_len = 128 tokens and 32 new ones exceed the "
                       "context of model custom (128 tokens)"),
            std::string::npos)
      << r.err;
  r = wstest::run_cli({"run", tiny, "--set", "sim.strategy=bound", "--set", "sim.functional=true"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("sim.functional: true needs sim.strategy: pipeline"), std::string::npos) << r.err;
  // dense fp16: two layers of 4 x 2 x 128 x 128 + 2 x 2 x 128 x 512, lm_head 2 x 128 x 256,
  // tables 2 x (256 + 128) x 128, 5 layernorms x 512 = 952832 bytes; 4 x 4 PEs x 40 KiB = 655360
  r = wstest::run_cli({"run", tiny, "--set", "sim.strategy=bound", "--set", "fabric.width=4", "--set",
                       "fabric.height=4"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err,
            "wafersim run: bound: GPT-3 custom does not fit: its weights in their smaller encoding need 952832 bytes, "
            "the 4 x 4 mesh offers 655360 (fabric.sram_per_pe - kernels.sram_reserve = 40960 bytes a PE); sparsity, "
            "a larger mesh or more SRAM would\n");
}

}  // namespace
