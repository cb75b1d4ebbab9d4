// Llama-family blocks (model.arch llama: RMSNorm, rotary position,
// grouped-query attention, a SwiGLU feed-forward, an untied LM head): the
// graph and its closed-form parameter count (Llama 3 8B's published
// 8,030,261,248), the accounting's sparsifiable weights, the functional pass
// through the placed pipeline against an independent forward pass written
// here (rotary as complex multiplication, as Meta's reference code; the
// key/value heads repeated to every query head, as Hugging Face's), which
// catches deliberate faults; the layer-by-layer decode's KV cache at the
// key/value heads' width (a key/value head's group of queries on one
// region: tests/test_mesh_decode.cc).
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <string>

#include "models/account.h"
#include "models/graph.h"
#include "sim/functional.h"
#include "sim/run.h"
#include "workloads/sparsity.h"
#include "workloads/values.h"
#include "workloads/weights.h"
#include "ws_test.h"

namespace {

mdl_gpt preset(const char *name) {
  mdl_gpt m;
  EXPECT_EQ(mdl_gpt_preset(name, &m), 0) << name;
  return m;
}

using GraphPtr = std::unique_ptr<mdl_graph, void (*)(mdl_graph *)>;
GraphPtr graph(const mdl_gpt &m, int64_t s) {
  char err[256] = "";
  GraphPtr g(mdl_graph_build(&m, s, err, sizeof err), mdl_graph_destroy);
  EXPECT_TRUE(g) << err;
  return g;
}

int64_t dense_params(const mdl_gpt &m) {
  GraphPtr g = graph(m, 16);
  std::vector<int64_t> nnz(mdl_graph_op_count(g.get()), 0);
  const wl_sparsity dense = wl_sparsity_uniform(0.0);
  wl_sparsity_nnz(&dense, g.get(), nnz.data());
  mdl_cost total;
  mdl_account(g.get(), nnz.data(), nullptr, &total);
  return total.params_dense;
}

TEST(Llama, PresetsFollowTheirSources) {
  const mdl_gpt m = preset("llama3-8b");  // Dubey et al. 2024, Table 3; Meta's config.json
  EXPECT_EQ(m.arch, MDL_ARCH_LLAMA);
  EXPECT_EQ(m.layers, 32);
  EXPECT_EQ(m.d_model, 4096);
  EXPECT_EQ(m.heads, 32);
  EXPECT_EQ(m.kv_heads, 8);
  EXPECT_EQ(m.d_head, 128);
  EXPECT_EQ(m.d_ff, 14336);
  EXPECT_EQ(m.vocab, 128256);
  EXPECT_DOUBLE_EQ(m.rope_theta, 500000.0);
  // Meta-Llama-3-8B's parameter count, as its released checkpoint has it
  EXPECT_EQ(dense_params(m), 8030261248);
  const mdl_gpt t = preset("llama-tiny");
  char err[256];
  EXPECT_EQ(mdl_gpt_check(&t, err, sizeof err), 0) << err;
  EXPECT_EQ(t.heads % t.kv_heads, 0);
  EXPECT_LT(t.kv_heads, t.heads);  // it exercises grouped-query attention
}

// Per block: q and o d x d, k and v d x (kv_heads d_head), gate, up and down
// d x d_ff, two RMSNorm gains of d, no biases; then the embedding and the
// untied head V x d each and the final gain d.
TEST(Llama, ParameterCountsMatchTheClosedForm) {
  for (const char *name : {"llama3-8b", "llama-tiny"}) {
    const mdl_gpt m = preset(name);
    const int64_t d = m.d_model, dkv = m.kv_heads * m.d_head, f = m.d_ff;
    EXPECT_EQ(dense_params(m), m.layers * (2 * d * d + 2 * d * dkv + 3 * d * f + 2 * d) + 2 * m.vocab * d + d) << name;
  }
}

TEST(Llama, GraphHasEveryOpInOrderWithItsShape) {
  const mdl_op_kind block[] = {MDL_OP_RMSNORM,  MDL_OP_Q,        MDL_OP_K,        MDL_OP_V,        MDL_OP_ROTARY,
                               MDL_OP_ROTARY,   MDL_OP_SCORES,   MDL_OP_SOFTMAX,  MDL_OP_SCORES_V, MDL_OP_ATTN_OUT,
                               MDL_OP_RESIDUAL, MDL_OP_RMSNORM,  MDL_OP_FFN_GATE, MDL_OP_FFN_UP,   MDL_OP_SWIGLU,
                               MDL_OP_FFN_DOWN, MDL_OP_RESIDUAL};
  const mdl_gpt m = preset("llama-tiny");
  const int64_t s = 32, d = m.d_model, dkv = m.kv_heads * m.d_head, f = m.d_ff;
  GraphPtr g = graph(m, s);
  const size_t n = mdl_graph_op_count(g.get()), per = sizeof block / sizeof block[0];
  ASSERT_EQ(n, per * m.layers + 3);
  EXPECT_EQ(mdl_graph_op(g.get(), 0)->kind, MDL_OP_EMBED);  // no position table: the position is rotary
  EXPECT_EQ(mdl_graph_op(g.get(), n - 2)->kind, MDL_OP_RMSNORM);
  const mdl_op *head = mdl_graph_op(g.get(), n - 1);
  EXPECT_EQ(head->kind, MDL_OP_LM_HEAD);
  EXPECT_FALSE(head->weight_tied);
  EXPECT_FALSE(head->sparsifiable);
  for (size_t i = 1; i + 2 < n; i++) {
    const mdl_op *op = mdl_graph_op(g.get(), i);
    EXPECT_EQ(op->kind, block[(i - 1) % per]) << op->name;
    EXPECT_EQ(op->bias, 0) << op->name;
    EXPECT_EQ(op->sparsifiable, wl_sparsity_kind_sparsifiable(op->kind)) << op->name;
    EXPECT_TRUE(mdl_arch_has(MDL_ARCH_LLAMA, op->kind)) << op->name;
    if (op->kind == MDL_OP_K || op->kind == MDL_OP_V) {
      EXPECT_EQ(op->weight_cols, dkv) << op->name;
    }
    if (op->kind == MDL_OP_FFN_GATE || op->kind == MDL_OP_FFN_UP) {
      EXPECT_EQ(op->weight_cols, f) << op->name;
    }
    if (op->kind == MDL_OP_RMSNORM) {
      EXPECT_EQ(op->norm_params, d) << op->name;
    }
    if (op->kind == MDL_OP_SCORES) {  // every query head against the keys of its group's key/value head
      EXPECT_EQ(op->batch, m.heads);
      EXPECT_EQ(mdl_graph_op(g.get(), (size_t)op->in[1])->n, dkv) << op->name;
    }
  }
  for (mdl_op_kind k : {MDL_OP_POS_EMBED, MDL_OP_LAYERNORM, MDL_OP_GELU}) EXPECT_FALSE(mdl_arch_has(MDL_ARCH_LLAMA, k));
  for (mdl_op_kind k : {MDL_OP_RMSNORM, MDL_OP_ROTARY, MDL_OP_FFN_GATE, MDL_OP_SWIGLU})
    EXPECT_FALSE(mdl_arch_has(MDL_ARCH_GPT, k));
}

// FLOPs: every projection 2 m k n dense, 2 m nnz sparse (gate, up and down
// among them); the element-wise ops (RMSNorm, rotary, SwiGLU) count none.
TEST(Llama, SparsityCutsEveryProjectionsFlopsAndNoOther) {
  const mdl_gpt m = preset("llama-tiny");
  GraphPtr g = graph(m, 32);
  const size_t n = mdl_graph_op_count(g.get());
  std::vector<int64_t> nnz(n);
  const wl_sparsity half = wl_sparsity_uniform(0.5);
  wl_sparsity_nnz(&half, g.get(), nnz.data());
  std::vector<mdl_cost> per(n);
  mdl_cost total;
  mdl_account(g.get(), nnz.data(), per.data(), &total);
  int64_t proj_dense = 0, proj_sparse = 0, other = 0;
  for (size_t i = 0; i < n; i++) {
    const mdl_op *op = mdl_graph_op(g.get(), i);
    if (op->kind == MDL_OP_RMSNORM || op->kind == MDL_OP_ROTARY || op->kind == MDL_OP_SWIGLU) {
      EXPECT_EQ(per[i].flops_dense, 0) << op->name;
    }
    if (op->sparsifiable) {
      EXPECT_EQ(per[i].flops_dense, 2 * op->m * op->weight_rows * op->weight_cols) << op->name;
      EXPECT_EQ(per[i].flops_sparse, 2 * op->m * nnz[i]) << op->name;
      proj_dense += per[i].flops_dense;
      proj_sparse += per[i].flops_sparse;
    } else if (mdl_kind_in_inference(op->kind)) {
      other += per[i].flops_dense;
      EXPECT_EQ(per[i].flops_sparse, per[i].flops_dense) << op->name;
    }
  }
  EXPECT_EQ(total.flops_dense, proj_dense + other);
  EXPECT_EQ(total.flops_sparse, proj_sparse + other);
  EXPECT_NEAR((double)proj_sparse / proj_dense, 0.5, 1e-3);
}

// ---- the functional pass ----

enum class Fault { kNone, kNoRotary, kGroupsInterleaved, kGateUpSwapped };

using wstest::Mat;

std::vector<float> values(const ws_config &c, const std::string &op, wl_values_role role, uint32_t rows,
                          uint32_t cols) {
  std::vector<float> v((size_t)rows * cols);
  wl_values_fill((uint64_t)c.sim.seed, op.c_str(), role, rows, cols, v.data());
  return v;
}

// The independent Llama forward pass: logits [S x V] in double.
Mat reference(const ws_config &c, Fault fault = Fault::kNone) {
  const uint32_t S = (uint32_t)c.workload.seq_len, d = (uint32_t)c.model.d_model, H = (uint32_t)c.model.heads;
  const uint32_t KV = (uint32_t)c.model.kv_heads, dh = d / H, dkv = KV * dh, f = (uint32_t)c.model.d_ff;
  const uint32_t V = (uint32_t)c.model.vocab, L = (uint32_t)c.model.layers;
  char err[512];
  GraphPtr g(mdl_graph_build(&c.model, S, err, sizeof err), mdl_graph_destroy);
  EXPECT_TRUE(g) << err;
  wl_sparsity sp;
  ws_config_sparsity(&c, &sp);
  const wl_spec spec = ws_config_spec(&c, &sp);
  std::unique_ptr<wl_weights, void (*)(wl_weights *)> w(wl_weights_build(g.get(), &spec, err, sizeof err),
                                                         wl_weights_destroy);
  EXPECT_TRUE(w) << err;
  std::vector<uint32_t> tok(S);
  wl_values_tokens((uint64_t)c.sim.seed, S, V, tok.data());

  auto linear = [&](const Mat &x, const std::string &op, uint32_t K, uint32_t N) {
    const std::vector<float> W = values(c, op, WL_VALUES_WEIGHT, K, N);
    const int i = mdl_graph_find(g.get(), op.c_str());
    const wl_mask *mask = i >= 0 && mdl_graph_op(g.get(), (size_t)i)->sparsifiable ? wl_weights_mask(w.get(), (size_t)i) : nullptr;
    Mat y((size_t)S * N, 0.0);
    for (uint32_t t = 0; t < S; t++)
      for (uint32_t n = 0; n < N; n++)
        for (uint32_t k = 0; k < K; k++)
          if (!mask || wl_mask_get(mask, k, n)) y[(size_t)t * N + n] += x[(size_t)t * K + k] * W[(size_t)k * N + n];
    return y;
  };
  auto rmsnorm = [&](const Mat &x, const std::string &op) {
    const std::vector<float> gain = values(c, op, WL_VALUES_GAIN, 1, d);
    Mat y(x.size());
    for (uint32_t t = 0; t < S; t++) {
      double ms = 0;
      for (uint32_t i = 0; i < d; i++) ms += x[(size_t)t * d + i] * x[(size_t)t * d + i] / d;
      for (uint32_t i = 0; i < d; i++) y[(size_t)t * d + i] = x[(size_t)t * d + i] / std::sqrt(ms + 1e-5) * gain[i];
    }
    return y;
  };
  // Meta's apply_rotary_emb: adjacent features as one complex number, times e^(i t theta_j)
  auto rotate = [&](Mat &x, uint32_t width) {
    if (fault == Fault::kNoRotary) return;
    for (uint32_t t = 0; t < S; t++)
      for (uint32_t h = 0; h < width / dh; h++)
        for (uint32_t j = 0; j < dh / 2; j++) {
          double *p = &x[(size_t)t * width + h * dh + 2 * j];
          const double freq = 1.0 / std::pow(c.model.rope_theta, 2.0 * j / dh);
          const std::complex<double> z = std::complex<double>(p[0], p[1]) * std::polar(1.0, t * freq);
          p[0] = z.real(), p[1] = z.imag();
        }
  };
  // Hugging Face's repeat_kv: key/value head h / (H / KV) copied to query head h
  auto repeat = [&](const Mat &x) {
    Mat y((size_t)S * d);
    for (uint32_t t = 0; t < S; t++)
      for (uint32_t h = 0; h < H; h++) {
        const uint32_t src = fault == Fault::kGroupsInterleaved ? h % KV : h / (H / KV);
        for (uint32_t e = 0; e < dh; e++) y[(size_t)t * d + h * dh + e] = x[(size_t)t * dkv + src * dh + e];
      }
    return y;
  };

  const std::vector<float> E = values(c, "embed", WL_VALUES_TABLE, V, d);
  Mat x((size_t)S * d);
  for (uint32_t t = 0; t < S; t++)
    for (uint32_t i = 0; i < d; i++) x[(size_t)t * d + i] = E[(size_t)tok[t] * d + i];
  for (uint32_t l = 0; l < L; l++) {
    const std::string n = "L" + std::to_string(l) + ".";
    const Mat h = rmsnorm(x, n + "ln1");
    Mat q = linear(h, n + "q", d, d), k = linear(h, n + "k", d, dkv);
    const Mat v = repeat(linear(h, n + "v", d, dkv));
    rotate(q, d);
    rotate(k, dkv);
    const Mat a = wstest::causal_attention(q, repeat(k), v, S, H, dh);
    const Mat o = linear(a, n + "attn_out", d, d);
    Mat r1(x.size());
    for (size_t e = 0; e < x.size(); e++) r1[e] = x[e] + o[e];
    const Mat h2 = rmsnorm(r1, n + "ln2");
    Mat gate = linear(h2, n + "ffn_gate", d, f), up = linear(h2, n + "ffn_up", d, f);
    if (fault == Fault::kGateUpSwapped) std::swap(gate, up);
    for (size_t e = 0; e < gate.size(); e++) gate[e] = gate[e] / (1 + std::exp(-gate[e])) * up[e];
    const Mat down = linear(gate, n + "ffn_down", f, d);
    for (size_t e = 0; e < x.size(); e++) x[e] = r1[e] + down[e];
  }
  return linear(rmsnorm(x, "final.ln"), "lm_head", d, V);  // untied
}

using wstest::max_abs;
using wstest::max_diff;

// llama-tiny (4 query heads on 2 key/value heads) on a 128 x 64 mesh in
// shelves of 16 rows (its narrowest op, k_rope, turns 16 pairs), 32 tokens;
// one key/value head for all four (multi-query) in shelves of 8 on a mesh
// twice as wide (its keys multicast to every column: 128 wide does not route
// in 24 colors).
std::vector<std::string> tiny(std::vector<std::string> more) {
  std::vector<std::string> s = {"fabric.width=128",      "fabric.height=64",     "model.preset=llama-tiny",
                                "workload.seq_len=32",   "placer.shelf_height=16", "sim.functional=true",
                                "sim.strategy=pipeline"};
  s.insert(s.end(), more.begin(), more.end());
  return s;
}

std::vector<std::string> custom(uint32_t kv_heads, const char *width, const char *shelf) {
  return tiny({std::string("fabric.width=") + width, "model.preset=custom", "model.arch=llama", "model.layers=2", "model.d_model=64", "model.heads=4",
               "model.kv_heads=" + std::to_string(kv_heads), "model.d_ff=176", "model.vocab=256", "model.context=64",
               std::string("placer.shelf_height=") + shelf});
}

struct Case {
  const char *name;
  std::vector<std::string> sets;
};
void PrintTo(const Case &c, std::ostream *os) { *os << c.name; }

class LlamaFunctional : public ::testing::TestWithParam<Case> {};

// The pipeline's logits against the independent pass; the run's own
// reference (sim/functional.c) agrees with it to double rounding.
TEST_P(LlamaFunctional, LogitsMatchAnIndependentForwardPass) {
  const ws_config c = wstest::config(GetParam().sets);
  char err[1024] = "";
  std::unique_ptr<ws_run, void (*)(ws_run *)> r(ws_run_simulate(&c, nullptr, nullptr, err, sizeof err), ws_run_destroy);
  ASSERT_TRUE(r) << err;
  const ws_functional_result *fr = ws_run_functional(r.get());
  ASSERT_NE(fr, nullptr);
  const Mat ref = reference(c);
  const double worst = max_diff(ref, ws_run_logits(r.get()));
  const double tol = WS_FUNCTIONAL_TOLERANCE * std::max(1.0, max_abs(ref));
  std::printf("[ llama ] %s: logits up to %.3f, worst difference %.2e, tolerance %.2e\n", GetParam().name,
              max_abs(ref), worst, tol);
  EXPECT_LE(worst, tol);
  EXPECT_GT(max_abs(ref), 1.0);
  EXPECT_TRUE(fr->ok);
  std::vector<uint32_t> tok(c.workload.seq_len);
  wl_values_tokens((uint64_t)c.sim.seed, (uint32_t)c.workload.seq_len, (uint32_t)c.model.vocab, tok.data());
  std::unique_ptr<double, void (*)(void *)> own(ws_functional_reference(&c, tok.data(), err, sizeof err), std::free);
  ASSERT_TRUE(own) << err;
  EXPECT_LT(max_diff(ref, own.get()), 1e-9 * std::max(1.0, max_abs(ref)));
}

INSTANTIATE_TEST_SUITE_P(
    Blocks, LlamaFunctional,
    ::testing::Values(Case{"llama_tiny", tiny({})}, Case{"llama_tiny_sparse", tiny({"workload.sparsity=0.5"})},
                      Case{"multi_query", custom(1, "256", "8")}, Case{"multi_head", custom(4, "128", "16")}),
    [](const ::testing::TestParamInfo<Case> &i) { return std::string(i.param.name); });

// Each fault moves the logits by far more than the tolerance: the comparison
// can fail.
TEST(LlamaFunctional, TheToleranceCatchesEachFault) {
  const ws_config c = wstest::config(tiny({}));
  const Mat good = reference(c);
  const double tol = WS_FUNCTIONAL_TOLERANCE * std::max(1.0, max_abs(good));
  for (Fault f : {Fault::kNoRotary, Fault::kGroupsInterleaved, Fault::kGateUpSwapped}) {
    const Mat bad = reference(c, f);
    EXPECT_GT(max_diff(good, bad.data()), 10 * tol) << (int)f;
  }
}

// ---- decode: a key/value head's cache shared by its group of queries ----

// The layer-by-layer decode keeps every layer's cache of each key/value
// head: per layer 2 x keys x kv_heads x d_head x 2 bytes, a quarter of what
// llama-tiny's 4 heads would hold with one key/value head each... and its
// attention executes every query head's MACs.
TEST(LlamaDecode, TheCacheIsTheKeyValueHeadsAndEveryQueryHeadScores) {
  const std::vector<std::string> base = {"fabric.width=64", "fabric.height=64", "model.preset=llama-tiny",
                                         "workload.seq_len=64", "workload.phase=decode", "workload.new_tokens=4",
                                         "sim.strategy=layerwise"};
  wstest::RunPtr r = wstest::simulate(wstest::config(base));
  ASSERT_TRUE(r);
  const mdl_gpt m = preset("llama-tiny");
  for (uint32_t i = 0; i < ws_run_op_count(r.get()); i++) {
    const ws_run_op *o = ws_run_op_at(r.get(), i);
    if (std::string(o->kind) == "attention") {  // the last step: 68 keys, every query head
      EXPECT_EQ(o->macs, 2ull * 68 * m.d_head * m.heads) << o->name;
    }
  }
  wstest::RunPtr b = wstest::simulate(wstest::config([&] {
    auto s = base;
    s.push_back("sim.strategy=bound");
    return s;
  }()));
  ASSERT_TRUE(b);
  EXPECT_GT(ws_run_totals_of(r.get())->cycles, ws_run_totals_of(b.get())->cycles);
  // the cache that does not fit is refused naming the keys; with every head its own key/value head it needs 2x more
  const std::vector<std::string> big = {"fabric.width=16", "fabric.height=16", "model.preset=custom", "model.arch=llama",
                                        "model.layers=2", "model.d_model=128", "model.heads=4", "model.d_ff=256",
                                        "model.vocab=256", "model.context=256", "workload.seq_len=128",
                                        "workload.phase=decode", "workload.new_tokens=4", "workload.batch=80",
                                        "sim.strategy=layerwise", "workload.sparsity=0.9"};
  auto with_kv = [&](const char *kv) {
    std::vector<std::string> s = big;
    s.push_back(std::string("model.kv_heads=") + kv);
    std::vector<std::string> args = {"run"};
    for (const std::string &x : s) args.insert(args.end(), {"--set", x});
    return wstest::run_cli(args);
  };
  // 80 sequences x 132 keys x 2 layers x (kv_heads x 32) x 4 bytes on 256 PEs: 4 heads 33 KiB a PE beside the
  // weights (past 48 KiB), 2 heads 16.5 KiB
  const wstest::CliResult mha = with_kv("4"), gqa = with_kv("2");
  EXPECT_EQ(gqa.status, 0) << gqa.err;
  EXPECT_EQ(mha.status, 2) << mha.out;
  EXPECT_NE(mha.err.find("workload.seq_len + workload.new_tokens"), std::string::npos) << mha.err;
}

}  // namespace
