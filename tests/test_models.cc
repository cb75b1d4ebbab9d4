// The GPT-3 presets and the layer graph: op count, order, shapes, edges and
// parameter counts for every preset; dimension and size checks.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "models/account.h"
#include "models/gpt.h"
#include "models/graph.h"

namespace {

struct Graph {
  mdl_graph *g;
  explicit Graph(const mdl_gpt &m, int64_t s) {
    char err[256] = "";
    g = mdl_graph_build(&m, s, err, sizeof err);
    EXPECT_NE(g, nullptr) << err;
  }
  ~Graph() { mdl_graph_destroy(g); }
  const mdl_op &op(size_t i) const { return *mdl_graph_op(g, i); }
  size_t count() const { return mdl_graph_op_count(g); }
};

mdl_gpt preset(const char *name) {
  mdl_gpt m;
  EXPECT_EQ(mdl_gpt_preset(name, &m), 0) << name;
  return m;
}

TEST(Models, PresetsFollowTheGpt3Table) {
  // Brown et al. 2020, Table 2.1 (1.3B: 16 heads of 128 and 13B: d_model 5120,
  // the self-consistent values; see models/gpt.c).
  const struct {
    const char *name;
    int64_t layers, d_model, heads, d_head;
  } table[] = {{"125M", 12, 768, 12, 64},   {"350M", 24, 1024, 16, 64},  {"760M", 24, 1536, 16, 96},
               {"1.3B", 24, 2048, 16, 128}, {"2.7B", 32, 2560, 32, 80},  {"6.7B", 32, 4096, 32, 128},
               {"13B", 40, 5120, 40, 128},  {"175B", 96, 12288, 96, 128}};
  size_t gpt = 0; // the GPT presets come first, in the table's order; the Llama ones after
  for (size_t i = 0; i < mdl_gpt_preset_count(); i++) gpt += preset(mdl_gpt_preset_name(i)).arch == MDL_ARCH_GPT;
  ASSERT_EQ(gpt, sizeof table / sizeof table[0]);
  for (size_t i = 0; i < gpt; i++) {
    mdl_gpt m = preset(table[i].name);
    EXPECT_STREQ(mdl_gpt_preset_name(i), table[i].name);
    EXPECT_EQ(m.arch, MDL_ARCH_GPT);
    EXPECT_EQ(m.kv_heads, m.heads);
    EXPECT_EQ(m.layers, table[i].layers);
    EXPECT_EQ(m.d_model, table[i].d_model);
    EXPECT_EQ(m.heads, table[i].heads);
    EXPECT_EQ(m.d_head, table[i].d_head);
    EXPECT_EQ(m.d_ff, 4 * m.d_model);
    EXPECT_EQ(m.vocab, 50257);
    EXPECT_EQ(m.context, 2048);
    char err[256];
    EXPECT_EQ(mdl_gpt_check(&m, err, sizeof err), 0) << err;
  }
  mdl_gpt m;
  EXPECT_EQ(mdl_gpt_preset("gpt3-1.3b", &m), 0);
  EXPECT_STREQ(m.name, "1.3B");
  EXPECT_EQ(mdl_gpt_preset("3B", &m), -1);
}

TEST(Models, CheckRejectsInconsistentDimensions) {
  char err[256];
  mdl_gpt m = preset("125M");
  m.heads = 7;
  EXPECT_EQ(mdl_gpt_check(&m, err, sizeof err), -1);
  EXPECT_NE(std::string(err).find("heads = 7 does not divide d_model = 768"), std::string::npos) << err;
  m = preset("125M");
  m.d_head = 32;
  EXPECT_EQ(mdl_gpt_check(&m, err, sizeof err), -1);
  EXPECT_NE(std::string(err).find("heads x d_head"), std::string::npos) << err;
  m = preset("125M");
  m.d_ff = 0;
  EXPECT_EQ(mdl_gpt_check(&m, err, sizeof err), -1);
  EXPECT_NE(std::string(err).find("d_ff = 0"), std::string::npos) << err;
  m = preset("125M");
  m.vocab = -3;
  EXPECT_EQ(mdl_gpt_check(&m, err, sizeof err), -1);
}

TEST(Models, GraphHasEveryOpInOrderWithItsShape) {
  const mdl_op_kind block[] = {MDL_OP_LAYERNORM, MDL_OP_Q,        MDL_OP_K,        MDL_OP_V,
                               MDL_OP_SCORES,    MDL_OP_SOFTMAX,  MDL_OP_SCORES_V, MDL_OP_ATTN_OUT,
                               MDL_OP_RESIDUAL,  MDL_OP_LAYERNORM, MDL_OP_FFN_UP,  MDL_OP_GELU,
                               MDL_OP_FFN_DOWN,  MDL_OP_RESIDUAL};
  for (size_t p = 0; p < mdl_gpt_preset_count(); p++) {
    const mdl_gpt m = preset(mdl_gpt_preset_name(p));
    if (m.arch != MDL_ARCH_GPT) continue; // Llama's graph: test_llama.cc
    const int64_t s = 2048, d = m.d_model, f = m.d_ff, h = m.heads, dh = m.d_head, v = m.vocab;
    Graph g(m, s);
    ASSERT_EQ(g.count(), (size_t)(14 * m.layers + 4)) << m.name;
    EXPECT_EQ(g.op(0).kind, MDL_OP_EMBED);
    EXPECT_EQ(g.op(1).kind, MDL_OP_POS_EMBED);
    EXPECT_EQ(g.op(g.count() - 2).kind, MDL_OP_LAYERNORM);
    EXPECT_EQ(g.op(g.count() - 1).kind, MDL_OP_LM_HEAD);
    std::set<std::string> names;
    for (size_t i = 0; i < g.count(); i++) {
      const mdl_op &op = g.op(i);
      EXPECT_TRUE(names.insert(op.name).second) << "duplicate name " << op.name;
      for (int in : op.in) EXPECT_TRUE(in == MDL_NO_INPUT || (in >= 0 && (size_t)in < i)) << op.name;
      const bool sparse_kind = op.kind == MDL_OP_Q || op.kind == MDL_OP_K || op.kind == MDL_OP_V ||
                               op.kind == MDL_OP_ATTN_OUT || op.kind == MDL_OP_FFN_UP || op.kind == MDL_OP_FFN_DOWN;
      EXPECT_EQ(op.sparsifiable, sparse_kind) << op.name;
      if (i >= 2 && i < g.count() - 2) {
        EXPECT_EQ(op.kind, block[(i - 2) % 14]) << op.name;
        EXPECT_EQ(op.layer, (int)((i - 2) / 14)) << op.name;
      } else {
        EXPECT_EQ(op.layer, -1) << op.name;
      }
      struct Shape {
        int64_t batch, m, k, n, rows, cols;
      } want;
      switch (op.kind) {
        case MDL_OP_EMBED: want = {1, s, v, d, v, d}; break;
        case MDL_OP_POS_EMBED: want = {1, s, 0, d, m.context, d}; break;
        case MDL_OP_LAYERNORM: want = {1, s, 0, d, 0, 0}; break;
        case MDL_OP_Q: case MDL_OP_K: case MDL_OP_V: case MDL_OP_ATTN_OUT: want = {1, s, d, d, d, d}; break;
        case MDL_OP_SCORES: want = {h, s, dh, s, 0, 0}; break;
        case MDL_OP_SOFTMAX: want = {h, s, 0, s, 0, 0}; break;
        case MDL_OP_SCORES_V: want = {h, s, s, dh, 0, 0}; break;
        case MDL_OP_RESIDUAL: want = {1, s, 0, d, 0, 0}; break;
        case MDL_OP_FFN_UP: want = {1, s, d, f, d, f}; break;
        case MDL_OP_GELU: want = {1, s, 0, f, 0, 0}; break;
        case MDL_OP_FFN_DOWN: want = {1, s, f, d, f, d}; break;
        case MDL_OP_LM_HEAD: want = {1, s, d, v, d, v}; break;
        default: FAIL() << "unexpected kind in " << op.name; return;
      }
      EXPECT_EQ(op.batch, want.batch) << op.name;
      EXPECT_EQ(op.m, want.m) << op.name;
      EXPECT_EQ(op.k, want.k) << op.name;
      EXPECT_EQ(op.n, want.n) << op.name;
      EXPECT_EQ(op.weight_rows, want.rows) << op.name;
      EXPECT_EQ(op.weight_cols, want.cols) << op.name;
      EXPECT_EQ(op.dtype, (op.kind == MDL_OP_SOFTMAX || op.kind == MDL_OP_LAYERNORM) ? MDL_FP32 : MDL_FP16);
    }
    EXPECT_TRUE(g.op(g.count() - 1).weight_tied);
  }
}

TEST(Models, EdgesFollowThePreLayernormBlock) {
  Graph g(preset("125M"), 128);
  auto idx = [&](const char *name) {
    for (size_t i = 0; i < g.count(); i++)
      if (std::string(g.op(i).name) == name) return (int)i;
    ADD_FAILURE() << "no op " << name;
    return -2;
  };
  auto inputs = [&](const char *name) {
    const mdl_op &op = g.op((size_t)idx(name));
    return std::vector<int>{op.in[0], op.in[1]};
  };
  EXPECT_EQ(inputs("L0.ln1"), (std::vector<int>{idx("pos_embed"), MDL_NO_INPUT}));
  EXPECT_EQ(inputs("L0.scores"), (std::vector<int>{idx("L0.q"), idx("L0.k")}));
  EXPECT_EQ(inputs("L0.scores_v"), (std::vector<int>{idx("L0.softmax"), idx("L0.v")}));
  EXPECT_EQ(inputs("L0.res1"), (std::vector<int>{idx("pos_embed"), idx("L0.attn_out")}));
  EXPECT_EQ(inputs("L0.res2"), (std::vector<int>{idx("L0.res1"), idx("L0.ffn_down")}));
  EXPECT_EQ(inputs("L1.ln1"), (std::vector<int>{idx("L0.res2"), MDL_NO_INPUT}));
  EXPECT_EQ(inputs("final.ln"), (std::vector<int>{idx("L11.res2"), MDL_NO_INPUT}));
  EXPECT_EQ(inputs("lm_head"), (std::vector<int>{idx("final.ln"), MDL_NO_INPUT}));
}

int64_t dense_params(const mdl_gpt &m) {
  Graph g(m, m.context);
  std::vector<int64_t> nnz(g.count());
  for (size_t i = 0; i < g.count(); i++) nnz[i] = g.op(i).weight_rows * g.op(i).weight_cols;
  mdl_cost total;
  mdl_account(g.g, nnz.data(), nullptr, &total);
  return total.params_dense;
}

TEST(Models, ParameterCountsMatchTheClosedForm) {
  // Per block: 4 d^2 + 4 d (attention weights and biases) + 2 d f + f + d (FFN)
  // + 4 d (two layernorms); plus V d (tied with the LM head) + context d + 2 d.
  for (size_t p = 0; p < mdl_gpt_preset_count(); p++) {
    mdl_gpt m = preset(mdl_gpt_preset_name(p));
    if (m.arch != MDL_ARCH_GPT) continue; // Llama's closed form: test_llama.cc
    const int64_t d = m.d_model, f = m.d_ff;
    const int64_t want = m.layers * (4 * d * d + 4 * d + 2 * d * f + f + d + 4 * d) + m.vocab * d + m.context * d + 2 * d;
    EXPECT_EQ(dense_params(m), want) << m.name;
  }
}

TEST(Models, ParameterCountsMatchTheNominalSizes) {
  // The paper's names round the count: within half a unit of the last digit
  // of the name, or 2% where the name rounds coarser than that (350M is
  // 355.9M by this count, 2.7B is 2.65B: the paper's own figures).
  const struct {
    const char *name;
    double nominal, tol;
  } sizes[] = {{"125M", 125e6, 0.5e6}, {"350M", 350e6, 7e6},    {"760M", 760e6, 5e6},  {"1.3B", 1.3e9, 0.05e9},
               {"2.7B", 2.7e9, 0.054e9}, {"6.7B", 6.7e9, 0.05e9}, {"13B", 13e9, 0.5e9}, {"175B", 175e9, 0.5e9}};
  for (const auto &sz : sizes) {
    const double got = (double)dense_params(preset(sz.name));
    EXPECT_NEAR(got, sz.nominal, sz.tol) << sz.name << ": " << got;
  }
}

TEST(Models, GraphRejectsBadSequenceLengthsAndOverflow) {
  char err[256];
  mdl_gpt m = preset("125M");
  EXPECT_EQ(mdl_graph_build(&m, 0, err, sizeof err), nullptr);
  EXPECT_NE(std::string(err).find("sequence length 0 outside [1, 2048]"), std::string::npos) << err;
  EXPECT_EQ(mdl_graph_build(&m, 2049, err, sizeof err), nullptr);
  m.heads = 5;
  EXPECT_EQ(mdl_graph_build(&m, 16, err, sizeof err), nullptr);
  EXPECT_NE(std::string(err).find("does not divide"), std::string::npos) << err;
  // Dimensions at the accepted limit whose FLOP counts would pass 2^63.
  mdl_gpt huge = {"custom", 1, 1 << 24, 1, 1 << 24, 1 << 24, 1 << 24, 1 << 24, MDL_ARCH_GPT, 1, 0};
  EXPECT_EQ(mdl_graph_build(&huge, 1 << 24, err, sizeof err), nullptr);
  EXPECT_NE(std::string(err).find("overflow 64 bits"), std::string::npos) << err;
}

TEST(Models, KindNamesRoundTrip) {
  for (int k = 0; k < MDL_OP_KIND_COUNT; k++)
    EXPECT_EQ(mdl_op_kind_parse(mdl_op_kind_name((mdl_op_kind)k)), k);
  EXPECT_EQ(mdl_op_kind_parse("conv"), -1);
}

}  // namespace
