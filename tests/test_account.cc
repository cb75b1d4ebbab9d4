// FLOPs against hand-written Chinchilla (Appendix F) formulas, parameters and
// the weight-memory encodings against hand counts.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "models/account.h"
#include "models/graph.h"
#include "workloads/sparsity.h"

namespace {

struct Accounted {
  mdl_graph *g = nullptr;
  std::vector<mdl_cost> per_op;
  mdl_cost total;
  Accounted(const char *name, int64_t seq_len, double sparsity) {
    mdl_gpt m;
    EXPECT_EQ(mdl_gpt_preset(name, &m), 0);
    char err[256] = "";
    g = mdl_graph_build(&m, seq_len, err, sizeof err);
    EXPECT_NE(g, nullptr) << err;
    std::vector<int64_t> nnz(mdl_graph_op_count(g));
    const wl_sparsity spec = wl_sparsity_uniform(sparsity);
    wl_sparsity_nnz(&spec, g, nnz.data());
    per_op.resize(nnz.size());
    mdl_account(g, nnz.data(), per_op.data(), &total);
  }
  ~Accounted() { mdl_graph_destroy(g); }
  const mdl_cost &cost_of(const char *op_name) const {
    for (size_t i = 0; i < per_op.size(); i++)
      if (std::strcmp(mdl_graph_op(g, i)->name, op_name) == 0) return per_op[i];
    ADD_FAILURE() << "no op " << op_name;
    return per_op[0];
  }
};

// The Chinchilla forward-pass terms of one sequence, written out by hand;
// sparsifiable terms use the integer nonzero counts (density x size, rounded
// to nearest) that the accounting states it uses.
struct Hand {
  long double dense, sparse, sparse_real;
};
Hand chinchilla(int64_t L, int64_t d, int64_t H, int64_t f, int64_t V, int64_t S, double sparsity) {
  const long double dens = 1.0L - (long double)sparsity;
  const long double nnz_dd = std::llround((1.0 - sparsity) * (double)(d * d));
  const long double nnz_df = std::llround((1.0 - sparsity) * (double)(d * f));
  const long double Sd = S, dd = d, Hd = H, fd = f, Vd = V;
  const long double qkv = 2 * 3 * Sd * dd * dd, scores = 2 * Sd * Sd * dd, softmax = 3 * Hd * Sd * Sd;
  const long double sv = 2 * Sd * Sd * dd, out = 2 * Sd * dd * dd, ffn = 2 * Sd * 2 * dd * fd;
  const long double logits = 2 * Sd * dd * Vd;  // the embedding term 2 S V d is excluded
  Hand h;
  h.dense = L * (qkv + scores + softmax + sv + out + ffn) + logits;
  h.sparse = L * (2 * Sd * (4 * nnz_dd + 2 * nnz_df) + scores + softmax + sv) + logits;
  h.sparse_real = L * (dens * (qkv + out + ffn) + scores + softmax + sv) + logits;
  return h;
}

TEST(Account, FlopsMatchChinchillaForTwoPresetsAtTwoLevels) {
  const struct {
    const char *name;
    int64_t L, d, H, f;
  } presets[] = {{"1.3B", 24, 2048, 16, 8192}, {"125M", 12, 768, 12, 3072}};
  for (const auto &p : presets) {
    for (double s : {0.0, 0.75, 0.9}) {
      Accounted a(p.name, 2048, s);
      Hand h = chinchilla(p.L, p.d, p.H, p.f, 50257, 2048, s);
      EXPECT_EQ((long double)a.total.flops_dense, h.dense) << p.name << " s=" << s;
      EXPECT_EQ((long double)a.total.flops_sparse, h.sparse) << p.name << " s=" << s;
      // Rounding each of the 6 L sparse matrices to whole nonzeros moves its
      // term by at most half a weight, i.e. by S FLOPs.
      EXPECT_LE(std::fabs((long double)a.total.flops_sparse - h.sparse_real), 6.0L * p.L * 2048) << p.name << " s=" << s;
    }
  }
  // The headline figure: GPT-3 1.3B, one 2048-token sequence, dense.
  Accounted dense("1.3B", 2048, 0.0);
  EXPECT_EQ(dense.total.flops_dense, 6198854156288LL);
}

TEST(Account, EmbeddingLookupIsCountedPerOpButNotInTheTotal) {
  Accounted a("125M", 512, 0.5);
  const mdl_cost &emb = a.cost_of("embed");
  EXPECT_EQ(emb.flops_dense, 2LL * 512 * 50257 * 768);
  int64_t sum = 0;
  for (size_t i = 0; i < a.per_op.size(); i++)
    if (mdl_kind_in_inference(mdl_graph_op(a.g, i)->kind)) sum += a.per_op[i].flops_sparse;
  EXPECT_EQ(a.total.flops_sparse, sum);
  EXPECT_EQ(a.cost_of("L0.ln1").flops_dense, 0);     // layernorm: not a Chinchilla term
  EXPECT_EQ(a.cost_of("L0.softmax").flops_dense, 3LL * 12 * 512 * 512);
  EXPECT_EQ(a.cost_of("lm_head").flops_sparse, a.cost_of("lm_head").flops_dense);  // never sparsified
}

TEST(Account, SparsityRemovesOnlySparsifiableWeights) {
  Accounted dense("350M", 1024, 0.0), sparse("350M", 1024, 0.5);
  const int64_t d = 1024, f = 4096, L = 24;
  const int64_t sparsifiable = L * (4 * d * d + 2 * d * f);
  EXPECT_EQ(dense.total.weight_elems, sparsifiable);
  EXPECT_EQ(dense.total.params_dense - dense.total.params_sparse, 0);
  EXPECT_EQ(sparse.total.params_dense - sparse.total.params_sparse, sparsifiable / 2);
  EXPECT_EQ(sparse.total.weight_nnz, sparsifiable / 2);
  // Tied LM head owns no parameters; the embedding and position tables do.
  EXPECT_EQ(dense.cost_of("lm_head").params_dense, 0);
  EXPECT_EQ(dense.cost_of("embed").params_dense, 50257LL * d);
  EXPECT_EQ(dense.cost_of("pos_embed").params_dense, 2048LL * d);
  EXPECT_EQ(dense.cost_of("L3.ln2").params_dense, 2 * d);
}

TEST(Account, WeightEncodingsMatchHandCounts) {
  Accounted a("125M", 2048, 0.5);
  const int64_t d = 768, nnz = d * d / 2;
  const mdl_cost &q = a.cost_of("L0.q");
  EXPECT_EQ(q.weight_nnz, nnz);
  EXPECT_EQ(q.params_dense, d * d + d);
  EXPECT_EQ(q.params_sparse, nnz + d);
  EXPECT_EQ(q.bytes_dense, 2 * (d * d + d));                      // fp16
  EXPECT_EQ(q.bytes_sparse, 4 * nnz + 2 * d);                     // 16-bit value + 16-bit index
  EXPECT_EQ(q.bytes_csr, (2 + 2) * nnz + 4 * (d + 1) + 2 * d);    // + 32-bit row pointers
  EXPECT_EQ(q.bytes_bitmap, d * d / 8 + 2 * nnz + 2 * d);         // 1 bit per element
  const mdl_cost &emb = a.cost_of("embed");
  EXPECT_EQ(emb.bytes_sparse, emb.bytes_dense);                   // never sparsified: stays dense
  EXPECT_EQ(emb.bytes_csr, emb.bytes_dense);
  EXPECT_EQ(a.total.bytes_dense, 2 * a.total.params_dense);
}

TEST(Account, CsrIndexWidensPastSixteenBitsAndBitmapRoundsUp) {
  mdl_op op;
  std::memset(&op, 0, sizeof op);
  op.kind = MDL_OP_FFN_UP;
  op.batch = 1;
  op.m = 3;
  op.k = 5;
  op.n = 70001;  // more columns than a 16-bit index reaches
  op.weight_rows = 5;
  op.weight_cols = 70001;
  op.sparsifiable = true;
  mdl_cost c;
  mdl_op_cost(&op, 10, &c);
  EXPECT_EQ(c.bytes_csr, (2 + 4) * 10 + 4 * 6);
  EXPECT_EQ(c.bytes_bitmap, (5 * 70001 + 7) / 8 + 2 * 10);
  EXPECT_EQ(c.flops_sparse, 2 * 3 * 10);
  EXPECT_EQ(c.flops_dense, 2LL * 3 * 5 * 70001);
}

TEST(Account, FiguresAreMonotoneInSparsity) {
  mdl_cost prev;
  bool first = true;
  for (double s = 0.0; s < 0.99; s += 0.07) {
    Accounted a("760M", 2048, s);
    if (!first) {
      EXPECT_LT(a.total.flops_sparse, prev.flops_sparse) << s;
      EXPECT_LT(a.total.params_sparse, prev.params_sparse) << s;
      EXPECT_LT(a.total.bytes_sparse, prev.bytes_sparse) << s;
      EXPECT_EQ(a.total.flops_dense, prev.flops_dense);
    }
    EXPECT_LE(a.total.flops_sparse, a.total.flops_dense);
    prev = a.total;
    first = false;
  }
}

TEST(Account, NnzRoundsToNearest) {
  EXPECT_EQ(mdl_nnz(10, 0.25), 3);  // 2.5 rounds away from zero
  EXPECT_EQ(mdl_nnz(10, 0.24), 2);
  EXPECT_EQ(mdl_nnz(4194304, 0.1), 419430);
  EXPECT_EQ(mdl_nnz(7, 1.0), 7);
  EXPECT_EQ(mdl_nnz(7, 0.0), 0);
}

TEST(Account, DensityOnlyAppliesToSparsifiableOps) {
  mdl_op op;
  std::memset(&op, 0, sizeof op);
  const wl_sparsity s = wl_sparsity_uniform(0.8);
  op.sparsifiable = true;
  EXPECT_NEAR(wl_sparsity_density(&s, &op), 0.2, 1e-15);
  op.sparsifiable = false;
  EXPECT_EQ(wl_sparsity_density(&s, &op), 1.0);
  char err[128];
  EXPECT_EQ(wl_sparsity_check(0.999, err, sizeof err), 0);
  EXPECT_EQ(wl_sparsity_check(1.0, err, sizeof err), -1);
  EXPECT_EQ(wl_sparsity_check(NAN, err, sizeof err), -1);
}

}  // namespace
