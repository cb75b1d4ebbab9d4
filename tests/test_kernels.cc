// Kernels: the PE cost model against hand counts, GEMM stages against a
// plain matrix product and their cycle closed form, executed MACs, SRAM and
// its error, the kernel choice, and a tiny GPT through placed stages
// against an independent reference forward pass.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels/cost.h"
#include "kernels/lower.h"
#include "kernels/pipeline.h"
#include "models/graph.h"
#include "workloads/mask.h"
#include "ws_test.h"

namespace {

krn_machine machine() {
  krn_machine m{};
  m.simd_fp16 = 4;
  m.simd_fp32 = 1;
  m.sparse_setup = 2;
  m.dense_setup = 1;
  m.task_switch = 10;
  m.exp_cycles = 8;
  m.acc_bytes = 4;
  m.sram = 48 * 1024;
  m.sram_reserve = 8 * 1024;
  return m;
}

TEST(Cost, GemmMatchesHandCounts) {
  const krn_machine m = machine();
  // sparse: 10 + nnz (2 + ceil(b / 4)); dense: 10 + min(kt b (1 + ceil(nt / 4)), kt nt (1 + ceil(b / 4)))
  krn_cost s = krn_gemm_cost(&m, KRN_SPARSE, 32, 16, 100, 16);
  EXPECT_EQ(s.cycles, 10u + 100 * (2 + 4));
  EXPECT_EQ(s.macs, 100u * 16);
  EXPECT_EQ(s.sram, 8192u + 2 * 32 * 16 * 2 + 2 * 16 * 16 * 4 + 4 * 100 + 2 * 32);
  krn_cost d = krn_gemm_cost(&m, KRN_DENSE, 32, 16, 100, 16);
  EXPECT_EQ(d.cycles, 10u + std::min(32u * 16 * (1 + 4), 32u * 16 * (1 + 4)));
  EXPECT_EQ(d.macs, 32u * 16 * 16);
  EXPECT_EQ(d.sram, 8192u + 2 * 32 * 16 * 2 + 2 * 16 * 16 * 4 + 2 * 32 * 16);
  // b = 1: the dense kernel runs along the weight rows, 4 wide.
  krn_cost d1 = krn_gemm_cost(&m, KRN_DENSE, 32, 16, 100, 1);
  EXPECT_EQ(d1.cycles, 10u + 32 * 1 * (1 + 4));
  krn_cost s1 = krn_gemm_cost(&m, KRN_SPARSE, 32, 16, 100, 1);
  EXPECT_EQ(s1.cycles, 10u + 100 * 3);
}

TEST(Cost, AutoPicksDenseWhenDenseAndSparseWhenSparse) {
  const krn_machine m = machine();
  const uint32_t kt = 64, nt = 64;
  for (uint32_t b : {1u, 16u, 64u}) {
    EXPECT_EQ(krn_gemm_pick(&m, kt, nt, (uint64_t)kt * nt, b), KRN_DENSE) << b;
    EXPECT_EQ(krn_gemm_pick(&m, kt, nt, (uint64_t)kt * nt / 20, b), KRN_SPARSE) << b;
    // The crossover density: where the sparse kernel stops being slower.
    uint64_t nnz = (uint64_t)kt * nt;
    while (nnz > 0 && krn_gemm_pick(&m, kt, nt, nnz, b) == KRN_DENSE) nnz--;
    const double cross = (double)nnz / (kt * nt);
    std::printf("[ crossover] b = %2u: sparse wins below density %.3f (sparsity %.3f)\n", b, cross, 1 - cross);
    // b = 1: dense runs 4-wide along rows, sparse pays 3 cycles a nonzero: density 17 / (3 x 64) ~ 0.09
    if (b == 1) {
      EXPECT_NEAR(cross, 17.0 / (3 * 64), 0.01);
    }
  }
}

TEST(Cost, AttentionPairsAreCausalAndCoverEveryPairOnce) {
  // Over all rows, pairs of micro-batch mb = sum over its queries of (position + 1).
  for (uint32_t rows : {1u, 3u, 4u}) {
    for (uint32_t mb : {0u, 1u, 5u}) {
      const uint32_t b = 8;
      uint64_t all = 0;
      for (uint32_t r = 0; r < rows; r++) all += krn_attn_pairs(b, mb, r, rows);
      uint64_t want = 0;
      for (uint32_t q = 0; q < b; q++) want += (uint64_t)mb * b + q + 1;
      EXPECT_EQ(all, want) << rows << " " << mb;
    }
  }
  const krn_machine m = machine();
  const krn_cost c = krn_attn_cost(&m, 2, 16, 100, 8, 4, 64, 1);
  EXPECT_EQ(c.cycles, krn_attn_phase(&m, 1, 2, 16, 100).cycles + krn_attn_phase(&m, 2, 2, 16, 100).cycles);
  EXPECT_EQ(c.cycles, 2u * 10 + 2 * 200 * 4 + 200 * (8 + 2));
  EXPECT_EQ(c.macs, 2u * 200 * 16);
  // A batch of sequences: each one's K and V cache beside the others (64 /
  // 4 = 16 keys of 2 heads of 16, K and V, fp16), and nothing else more (a
  // query scores the keys of its own sequence only). 0 sequences count as 1.
  const krn_cost three = krn_attn_cost(&m, 2, 16, 100, 8, 4, 64, 3);
  EXPECT_EQ(three.sram - c.sram, 2u * 16 * 2 * 16 * 2 * 2);
  EXPECT_EQ(three.cycles, c.cycles);
  EXPECT_EQ(krn_attn_cost(&m, 2, 16, 100, 8, 4, 64, 0).sram, c.sram);
}

// ---- a harness for pipelines ----

struct Pipe {
  sim_engine *e = nullptr;
  fab_fabric *f = nullptr;
  krn_pipe *p = nullptr;
  char err[512] = "";
  Pipe(uint32_t w, uint32_t h, fab_fidelity fid) {
    e = sim_engine_create(nullptr, err, sizeof err);
    const fab_config c = wstest::fabric_config(fid, w, h);
    f = fab_create(e, &c, err, sizeof err);
  }
  ~Pipe() {
    krn_pipe_destroy(p);
    fab_destroy(f);
    sim_engine_destroy(e);
  }
  bool start(const krn_machine &m, const std::vector<krn_stage> &st, const krn_run &run) {
    p = krn_pipe_create(e, f, &m, st.data(), (uint32_t)st.size(), &run, err, sizeof err);
    return p != nullptr;
  }
  void finish() {
    ASSERT_EQ(sim_engine_run(e), 0) << sim_engine_error(e);
    ASSERT_EQ(krn_pipe_check(p, err, sizeof err), 0) << err;
    ASSERT_EQ(fab_check_finished(f, err, sizeof err), 0) << err;
  }
};

std::vector<float> randoms(size_t n, uint32_t seed, float scale) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<float> v(n);
  for (auto &x : v) x = u(g);
  return v;
}

krn_stage gemm_stage(fab_rect r, uint32_t k, uint32_t n, krn_kernel kern, const wl_mask *mask, const float *w,
                     const float *bias) {
  krn_stage s = wstest::gemm_stage("gemm", r, k, n, kern, mask);
  s.weight = w;
  s.bias = bias;
  s.bias_add = bias != nullptr;
  return s;
}

class Fid : public ::testing::TestWithParam<fab_fidelity> {};
INSTANTIATE_TEST_SUITE_P(Both, Fid, ::testing::Values(FAB_WAVELET, FAB_TRAIN),
                         [](const auto &p) { return std::string(fab_fidelity_name(p.param)); });

TEST_P(Fid, GemmStageComputesTheMaskedProduct) {
  const uint32_t K = 40, N = 28, S = 12, B = 4;
  auto W = randoms(K * N, 1, 0.5f), x = randoms(S * K, 2, 1.0f), bias = randoms(N, 3, 0.1f);
  std::unique_ptr<wl_mask, void (*)(wl_mask *)> mask(wl_mask_bernoulli(K, N, 0.3, 9), wl_mask_destroy);
  for (krn_kernel kern : {KRN_SPARSE, KRN_DENSE, KRN_AUTO}) {
    for (fab_rect r : {fab_rect{1, 1, 3, 4}, fab_rect{5, 2, 1, 1}, fab_rect{0, 6, 4, 1}, fab_rect{7, 0, 1, 5}}) {
      Pipe run(12, 12, GetParam());
      krn_run rr{B, S / B, S, true, nullptr, x.data(), 0, 0};
      ASSERT_TRUE(run.start(machine(), {gemm_stage(r, K, N, kern, mask.get(), W.data(), bias.data())}, rr)) << run.err;
      run.finish();
      double worst = 0;
      for (uint32_t mb = 0; mb < S / B; mb++) {
        const float *y = krn_pipe_output(run.p, mb);
        for (uint32_t t = 0; t < B; t++)
          for (uint32_t n = 0; n < N; n++) {
            double ref = bias[n];
            for (uint32_t k = 0; k < K; k++)
              if (wl_mask_get(mask.get(), k, n)) ref += (double)x[(mb * B + t) * K + k] * W[k * N + n];
            worst = std::max(worst, std::fabs(ref - y[t * N + n]));
          }
      }
      EXPECT_LT(worst, 1e-5) << krn_kernel_name(kern) << " " << r.w << "x" << r.h;
    }
  }
}

// The MACs each PE executed, against its tile counted weight by weight
// from the mask (wl_mask_get; the pipeline counts with wl_mask_count):
// nonzeros x tokens on the sparse kernel, the whole tile x tokens on the
// dense one (it multiplies the zeros), whichever each PE ran with auto; the
// op's sum is then the mask's nonzeros x tokens only where every PE is sparse.
TEST(Kernels, ExecutedMacsAreEachPesTileAtItsKernel) {
  const uint32_t K = 48, N = 36, S = 16, B = 8, rows = 3, cols = 4;
  std::unique_ptr<wl_mask, void (*)(wl_mask *)> mask(wl_mask_bernoulli(K, N, 0.25, 4), wl_mask_destroy);
  for (krn_kernel kern : {KRN_SPARSE, KRN_DENSE, KRN_AUTO}) {
    Pipe run(8, 8, FAB_TRAIN);
    krn_run rr{B, S / B, S, false, nullptr, nullptr, 0, 0};
    ASSERT_TRUE(run.start(machine(), {gemm_stage({0, 0, cols, rows}, K, N, kern, mask.get(), nullptr, nullptr)}, rr))
        << run.err;
    run.finish();
    uint64_t all = 0, kept_all = 0, sparse = 0;
    for (uint32_t i = 0; i < rows; i++)
      for (uint32_t j = 0; j < cols; j++) {
        const uint32_t k0 = K * i / rows, k1 = K * (i + 1) / rows, n0 = N * j / cols, n1 = N * (j + 1) / cols;
        uint64_t kept = 0;
        for (uint32_t k = k0; k < k1; k++)
          for (uint32_t n = n0; n < n1; n++) kept += wl_mask_get(mask.get(), k, n);
        const krn_pe_stats pe = krn_pipe_pe(run.p, 0, i * cols + j);
        if (kern != KRN_AUTO) {
          EXPECT_EQ(pe.kernel, kern);
        }
        const uint64_t want = pe.kernel == KRN_SPARSE ? kept : (uint64_t)(k1 - k0) * (n1 - n0);
        EXPECT_EQ(pe.macs, want * S) << krn_kernel_name(kern) << " " << i << "," << j;
        all += pe.macs;
        kept_all += kept;
        sparse += pe.kernel == KRN_SPARSE;
      }
    EXPECT_EQ(kept_all, wl_mask_nnz(mask.get()));
    EXPECT_EQ(krn_pipe_stats(run.p, 0).macs, all);
    EXPECT_EQ(krn_pipe_stats(run.p, 0).sparse_pes, sparse);
    if (kern == KRN_SPARSE) {
      EXPECT_EQ(all, kept_all * S);  // the op's nonzeros x tokens
    }
    if (kern == KRN_DENSE) {
      EXPECT_EQ(all, (uint64_t)K * N * S);
    }
  }
}

// One micro-batch of a GEMM stage: each row's first PE multicasts its x
// (n_i = ceil(K_i b / 2) wavelets, the last reaching column j at n_i - 1 + 2R + j);
// PE (i, j) computes C_ij; each column's chain starts at its top PE when it is
// done, at PE i at max(start_(i-1) + 2R + L + A, end_ij), runs w = b N_j
// wavelets, and the last PE adds the bias (10 + ceil(b N_j / 4)).
TEST_P(Fid, OneGemmMicroBatchMatchesItsClosedForm) {
  const krn_machine mc = machine();
  const uint32_t K = 40, N = 24, B = 8;
  std::unique_ptr<wl_mask, void (*)(wl_mask *)> mask(wl_mask_bernoulli(K, N, 0.5, 11), wl_mask_destroy);
  std::vector<float> bias(N, 0.0f);
  for (krn_kernel kern : {KRN_SPARSE, KRN_DENSE}) {
    for (auto [rows, cols] : {std::pair{1u, 1u}, {3u, 1u}, {1u, 4u}, {4u, 3u}}) {
      Pipe run(10, 10, GetParam());
      krn_run rr{B, 1, B, false, nullptr, nullptr, 0, 0};
      krn_stage s = gemm_stage({2, 1, cols, rows}, K, N, kern, mask.get(), nullptr, nullptr);
      s.bias_add = true;
      ASSERT_TRUE(run.start(mc, {s}, rr)) << run.err;
      run.finish();
      uint64_t want = 0;
      for (uint32_t j = 0; j < cols; j++) {
        const uint32_t n0 = N * j / cols, n1 = N * (j + 1) / cols, nt = n1 - n0;
        uint64_t chain = 0;
        for (uint32_t i = 0; i < rows; i++) {
          const uint32_t k0 = K * i / rows, k1 = K * (i + 1) / rows, kt = k1 - k0;
          const uint64_t n_x = (kt * B + 1) / 2;
          const uint64_t in = j == 0 ? 0 : n_x - 1 + 2 + j;  // the first PE holds x from the start
          const uint64_t end = in + krn_gemm_cost(&mc, kern, kt, nt, wl_mask_count(mask.get(), k0, k1, n0, n1), B).cycles;
          chain = i == 0 ? end : std::max(chain + 2 + 1 + 1, end);
        }
        const uint64_t sums = rows > 1 ? chain + B * nt - 1 : chain;  // the last partial sum in
        want = std::max(want, sums + 10 + (B * nt + 3) / 4);
      }
      EXPECT_EQ(krn_pipe_done(run.p, 0), want) << krn_kernel_name(kern) << " " << cols << "x" << rows;
    }
  }
}

// Tall regions side by side, as a placer lays a layer out: GELU and layernorm
// on 64 x 1 PEs, GEMMs 64 x 8, attention 64 x 16 (a layer's stages from its
// FFN to the attention output; the residual adds' long routes are not here).
// Every input row of a GEMM and every element-wise PE takes its own pieces;
// with routes that go Y first they spread over the rows, and attention takes
// q, k and v in, and sends its output, through one PE per column at
// staggered rows, so a router carries few colors.
TEST(Kernels, TallRegionsSideBySideStayWithinAFewColors) {
  const uint32_t R = 64, d = 256, H = 16;
  std::vector<krn_stage> st;
  auto add = [&](krn_stage_kind kind, uint32_t x, uint32_t w, uint32_t k, uint32_t n, int in0, int in1, int in2) {
    krn_stage s = kind == KRN_STAGE_GEMM ? gemm_stage(fab_rect{x, 0, w, R}, k, n, KRN_DENSE, nullptr, nullptr, nullptr)
                                         : krn_stage{};
    s.kind = kind;
    s.name = "stage";
    s.region = fab_rect{x, 0, w, R};
    s.k = k;
    s.n = n;
    s.in[0] = in0, s.in[1] = in1, s.in[2] = in2;
    s.heads = kind == KRN_STAGE_ATTENTION ? H : 0;
    st.push_back(s);
  };
  add(KRN_STAGE_GEMM, 0, 8, d, 2 * d, -1, -1, -1);          // 0: up
  add(KRN_STAGE_GELU, 8, 1, 0, 2 * d, 0, -1, -1);           // 1
  add(KRN_STAGE_GEMM, 9, 8, 2 * d, d, 1, -1, -1);           // 2: down
  add(KRN_STAGE_LAYERNORM, 17, 1, 0, d, 2, -1, -1);         // 3
  add(KRN_STAGE_GEMM, 18, 8, d, d, 3, -1, -1);              // 4: q
  add(KRN_STAGE_GEMM, 26, 8, d, d, 3, -1, -1);              // 5: k
  add(KRN_STAGE_GEMM, 34, 8, d, d, 3, -1, -1);              // 6: v
  add(KRN_STAGE_ATTENTION, 42, H, 0, d, 4, 5, 6);           // 7
  add(KRN_STAGE_GEMM, 58, 8, d, d, 7, -1, -1);              // 8: attention output
  Pipe run(66, R, FAB_TRAIN);
  krn_machine m = machine();
  m.sram = 1 << 20;
  krn_run rr{8, 4, 32, false, nullptr, nullptr, 0, 0};
  ASSERT_TRUE(run.start(m, st, rr)) << run.err;
  run.finish();
  const uint32_t colors = fab_routes_colors_max(fab_routes_of(run.f));
  std::printf("[ colors ] 9 stages, 64 rows each: %u colors at the busiest router\n", colors);
  EXPECT_LE(colors, 16u);
}

TEST(Kernels, SramIsCountedAndAPeThatDoesNotFitIsAnError) {
  krn_machine m = machine();
  const uint32_t K = 256, N = 256, B = 16;
  Pipe run(8, 8, FAB_TRAIN);
  krn_run rr{B, 1, B, false, nullptr, nullptr, 0, 0};
  // dense 256 x 256 on 2 x 2 PEs: 128 x 128 x 2 B = 32 KiB of weights + buffers > 40 KiB free
  ASSERT_FALSE(run.start(m, {gemm_stage({0, 0, 2, 2}, K, N, KRN_DENSE, nullptr, nullptr, nullptr)}, rr));
  const std::string e = run.err;
  EXPECT_NE(e.find("stage gemm: PE (0,0) needs"), std::string::npos) << e;
  const uint64_t need = krn_gemm_cost(&m, KRN_DENSE, 128, 128, 128 * 128, B).sram;
  EXPECT_NE(e.find(std::to_string(need) + " bytes of SRAM, the PE has 49152"), std::string::npos) << e;
  Pipe ok(8, 8, FAB_TRAIN);  // on 4 x 4 PEs it fits, and the stats report it
  ASSERT_TRUE(ok.start(m, {gemm_stage({0, 0, 4, 4}, K, N, KRN_DENSE, nullptr, nullptr, nullptr)}, rr)) << ok.err;
  ok.finish();
  EXPECT_EQ(krn_pipe_stats(ok.p, 0).sram_max, krn_gemm_cost(&m, KRN_DENSE, 64, 64, 64 * 64, B).sram);
  EXPECT_EQ(krn_pipe_stats(ok.p, 0).sram_max, 8192u + 2 * 64 * 16 * 2 + 2 * 64 * 16 * 4 + 2 * 64 * 64);
}

// ---- a tiny GPT through the placed stages ----

struct TinyGpt {
  uint32_t L = 2, d = 64, H = 4, f = 256, V = 50, S = 16, B = 4;
  mdl_gpt gpt{};
  std::vector<float> E, P;                               // token and position tables
  std::vector<std::vector<float>> W, bias, gain, shift;  // per stage
  std::vector<std::unique_ptr<wl_mask, void (*)(wl_mask *)>> masks;
  std::vector<uint32_t> tokens;
};

// Stages laid out in shelves on a mesh `width` wide, two PEs apart so that
// routes between them spread over the gaps (with one, a residual's long
// route finds no color free all along it: colors are a placement matter).
// Attention on attn_w x attn_h PEs (more columns than heads: heads cut over columns).
void place(std::vector<krn_stage> &st, uint32_t width, uint32_t *height, uint32_t attn_w = 2, uint32_t attn_h = 2) {
  uint32_t x = 0, y = 0, shelf = 0, elementwise = 0;
  for (auto &s : st) {
    uint32_t w = 2, h = 1;
    switch (s.kind) {
      case KRN_STAGE_EMBED: w = 2, h = 2; break;
      case KRN_STAGE_GEMM: w = s.n > 64 ? 4 : 2, h = s.k > 64 ? 4 : 2; break;
      case KRN_STAGE_ATTENTION: w = attn_w, h = attn_h; break;
      default:  // element-wise stages on one row and on 3 x 2 PEs, in turn
        w = elementwise % 2 ? 3 : 4, h = elementwise % 2 ? 2 : 1;
        elementwise++;
        break;
    }
    if (x + w > width) x = 0, y += shelf + 2, shelf = 0;
    s.region = fab_rect{x, y, w, h};
    x += w + 2;
    shelf = std::max(shelf, h);
  }
  *height = y + shelf;
}

// The reference: a plain forward pass over the whole sequence, in double.
std::vector<double> reference(const TinyGpt &g, const std::vector<krn_stage> &st) {
  const uint32_t S = g.S, d = g.d;
  auto lin = [&](const std::vector<double> &x, uint32_t si, uint32_t K, uint32_t N) {
    std::vector<double> y((size_t)S * N);
    for (uint32_t t = 0; t < S; t++)
      for (uint32_t n = 0; n < N; n++) {
        double a = st[si].bias_add ? g.bias[si][n] : 0.0;
        for (uint32_t k = 0; k < K; k++)
          if (!st[si].mask || wl_mask_get(st[si].mask, k, n)) a += x[(size_t)t * K + k] * g.W[si][(size_t)k * N + n];
        y[(size_t)t * N + n] = a;
      }
    return y;
  };
  auto norm = [&](const std::vector<double> &x, uint32_t si) {
    std::vector<double> y(x.size());
    for (uint32_t t = 0; t < S; t++) {
      double mean = 0, var = 0;
      for (uint32_t i = 0; i < d; i++) mean += x[(size_t)t * d + i];
      mean /= d;
      for (uint32_t i = 0; i < d; i++) var += (x[(size_t)t * d + i] - mean) * (x[(size_t)t * d + i] - mean);
      var /= d;
      for (uint32_t i = 0; i < d; i++)
        y[(size_t)t * d + i] = (x[(size_t)t * d + i] - mean) / std::sqrt(var + 1e-5) * g.gain[si][i] + g.shift[si][i];
    }
    return y;
  };
  std::vector<std::vector<double>> out(st.size());
  for (uint32_t si = 0; si < st.size(); si++) {
    const krn_stage &s = st[si];
    const auto &a = s.in[0] >= 0 ? out[s.in[0]] : out[0];
    switch (s.kind) {
      case KRN_STAGE_EMBED: {
        out[si].resize((size_t)S * d);
        for (uint32_t t = 0; t < S; t++)
          for (uint32_t i = 0; i < d; i++) out[si][(size_t)t * d + i] = g.E[(size_t)g.tokens[t] * d + i] + g.P[(size_t)t * d + i];
        break;
      }
      case KRN_STAGE_LAYERNORM: out[si] = norm(a, si); break;
      case KRN_STAGE_GEMM: out[si] = lin(a, si, s.k, s.n); break;
      case KRN_STAGE_GELU:
        out[si].resize(a.size());
        for (size_t e = 0; e < a.size(); e++)
          out[si][e] = 0.5 * a[e] * (1 + std::tanh(std::sqrt(2 / M_PI) * (a[e] + 0.044715 * a[e] * a[e] * a[e])));
        break;
      case KRN_STAGE_ADD:
        out[si].resize(a.size());
        for (size_t e = 0; e < a.size(); e++) out[si][e] = a[e] + out[s.in[1]][e];
        break;
      case KRN_STAGE_SWIGLU:
      case KRN_STAGE_ROTARY:
        ADD_FAILURE() << "a llama stage in a GPT graph";
        break;
      case KRN_STAGE_ATTENTION: {
        const auto &q = out[s.in[0]], &k = out[s.in[1]], &v = out[s.in[2]];
        const uint32_t dh = d / g.H;
        out[si].assign((size_t)S * d, 0.0);
        for (uint32_t h = 0; h < g.H; h++)
          for (uint32_t t = 0; t < S; t++) {
            std::vector<double> sc(t + 1);
            double mx = -1e300, sum = 0;
            for (uint32_t u = 0; u <= t; u++) {
              double a2 = 0;
              for (uint32_t e = 0; e < dh; e++) a2 += q[(size_t)t * d + h * dh + e] * k[(size_t)u * d + h * dh + e];
              sc[u] = a2 / std::sqrt((double)dh);
              mx = std::max(mx, sc[u]);
            }
            for (uint32_t u = 0; u <= t; u++) sum += (sc[u] = std::exp(sc[u] - mx));
            for (uint32_t u = 0; u <= t; u++)
              for (uint32_t e = 0; e < dh; e++) out[si][(size_t)t * d + h * dh + e] += sc[u] / sum * v[(size_t)u * d + h * dh + e];
          }
        break;
      }
    }
  }
  return out.back();
}

// The tiny GPT, attention on attn_w x attn_h PEs, against the reference; the run's last cycle.
uint64_t tiny_gpt_matches(fab_fidelity fid, uint32_t attn_w, uint32_t attn_h) {
  TinyGpt g;
  g.gpt = mdl_gpt{"custom", (int64_t)g.L, (int64_t)g.d, (int64_t)g.H, (int64_t)(g.d / g.H), (int64_t)g.f, (int64_t)g.V, (int64_t)g.S, MDL_ARCH_GPT, (int64_t)g.H, 0};
  char err[256];
  mdl_graph *graph = mdl_graph_build(&g.gpt, g.S, err, sizeof err);
  EXPECT_NE(graph, nullptr) << err;
  if (!graph) return 0;
  krn_lowered low;
  EXPECT_EQ(krn_lower(graph, &low, err, sizeof err), 0) << err;
  std::vector<krn_stage> st(low.stages, low.stages + low.n);
  EXPECT_EQ(st.size(), 3u + 2 * 12);  // embed+pos, 12 per layer (attention fused), final ln, lm_head
  g.E = randoms((size_t)g.V * g.d, 100, 0.5f);
  g.P = randoms((size_t)g.S * g.d, 101, 0.1f);
  g.W.resize(st.size());
  g.bias.resize(st.size());
  g.gain.resize(st.size());
  g.shift.resize(st.size());
  for (uint32_t si = 0; si < st.size(); si++) {
    krn_stage &s = st[si];
    const mdl_op *op = mdl_graph_op(graph, low.first_op[si]);
    if (s.kind == KRN_STAGE_EMBED) {
      s.weight = g.E.data();
      s.bias = g.P.data();
    } else if (s.kind == KRN_STAGE_LAYERNORM) {
      g.gain[si] = randoms(g.d, 200 + si, 0.2f);
      for (auto &x : g.gain[si]) x += 1.0f;
      g.shift[si] = randoms(g.d, 300 + si, 0.1f);
      s.weight = g.gain[si].data();
      s.bias = g.shift[si].data();
    } else if (s.kind == KRN_STAGE_GEMM) {
      if (op->kind == MDL_OP_LM_HEAD) {  // tied to the token table: W = E^T
        g.W[si].resize((size_t)g.d * g.V);
        for (uint32_t k = 0; k < g.d; k++)
          for (uint32_t n = 0; n < g.V; n++) g.W[si][(size_t)k * g.V + n] = g.E[(size_t)n * g.d + k];
      } else {
        g.W[si] = randoms((size_t)s.k * s.n, 400 + si, 1.0f / std::sqrt((float)s.k));
        g.bias[si] = randoms(s.n, 500 + si, 0.05f);
        s.bias = g.bias[si].data();
      }
      s.weight = g.W[si].data();
      if (op->sparsifiable) {  // a random mask; LM head and embeddings stay dense
        g.masks.emplace_back(wl_mask_bernoulli(s.k, s.n, 0.5, 600 + si), wl_mask_destroy);
        s.mask = g.masks.back().get();
      }
      s.kernel = si % 2 ? KRN_SPARSE : KRN_DENSE;  // both kernels in one model
    }
  }
  std::mt19937 tg(7);
  for (uint32_t t = 0; t < g.S; t++) g.tokens.push_back(tg() % g.V);
  uint32_t height;
  place(st, 32, &height, attn_w, attn_h);
  Pipe run(32, height, fid);
  krn_run rr{g.B, g.S / g.B, g.S, true, g.tokens.data(), nullptr, 0, 0};
  const bool started = run.start(machine(), st, rr);
  EXPECT_TRUE(started) << run.err;
  if (!started) return 0;
  run.finish();
  const std::vector<double> ref = reference(g, st);
  double worst = 0, scale = 0;
  for (uint32_t mb = 0; mb < g.S / g.B; mb++) {
    const float *y = krn_pipe_output(run.p, mb);
    EXPECT_NE(y, nullptr);
    if (!y) return 0;
    for (uint32_t t = 0; t < g.B; t++)
      for (uint32_t n = 0; n < g.V; n++) {
        const double r = ref[(size_t)(mb * g.B + t) * g.V + n];
        worst = std::max(worst, std::fabs(r - y[t * g.V + n]));
        scale = std::max(scale, std::fabs(r));
      }
  }
  std::printf("[ tiny gpt ] %s, attention %u x %u: %zu stages on 32 x %u PEs (%u colors at the busiest router), logits up to %.3f, "
              "worst difference %.2e, done at cycle %llu\n",
              fab_fidelity_name(fid), attn_w, attn_h, st.size(), height, fab_routes_colors_max(fab_routes_of(run.f)), scale,
              worst, (unsigned long long)krn_pipe_done(run.p, g.S / g.B - 1));
  EXPECT_LT(worst, 1e-4 * std::max(1.0, scale));  // fp32 against double
  EXPECT_GT(scale, 0.1);                           // the logits are not trivially small
  const uint64_t done = krn_pipe_done(run.p, g.S / g.B - 1);
  krn_lowered_free(&low);
  mdl_graph_destroy(graph);
  return done;
}

TEST_P(Fid, TinyGptThroughPlacedStagesMatchesAReferenceForwardPass) { EXPECT_GT(tiny_gpt_matches(GetParam(), 2, 2), 0u); }

// Attention with its heads cut over several columns (issue 19): 2 columns a
// head (8 x 2 PEs for 4 heads), and unevenly, 1 or 2 columns a head (6 x 3):
// the partial scores summed along each row, every column's slice of P x V
// normalised by its own copy of the sum. The logits match the same
// reference; and on twice the columns the attention of the tiny GPT is no
// slower to the last token than on whole heads.
TEST_P(Fid, TinyGptWithHeadsCutOverColumnsMatchesTheReference) {
  const uint64_t whole = tiny_gpt_matches(GetParam(), 4, 2), cut = tiny_gpt_matches(GetParam(), 8, 2);
  EXPECT_GT(tiny_gpt_matches(GetParam(), 6, 3), 0u);
  EXPECT_GT(cut, 0u);
  EXPECT_LE(cut, whole);
}

}  // namespace
