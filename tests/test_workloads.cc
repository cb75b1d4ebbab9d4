// Workloads: masks of every pattern are one consistent mask under any tiling;
// bernoulli tiles are binomial; magnitude, nm and block masks are exact and
// nested across levels; the sparsity spec's precedence; the pruning schedule;
// the model's masks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "models/account.h"
#include "models/graph.h"
#include "workloads/mask.h"
#include "workloads/sparsity.h"
#include "workloads/weights.h"

namespace {

using Mask = std::unique_ptr<wl_mask, void (*)(wl_mask *)>;
Mask own(wl_mask *m) { return Mask(m, wl_mask_destroy); }
Mask make(uint32_t r, uint32_t c, double d, uint64_t seed) { return own(wl_mask_bernoulli(r, c, d, seed)); }

wl_pattern pattern(wl_pattern_kind kind) {
  wl_pattern p{};
  p.kind = kind;
  p.nm_group = 4;
  p.block = 4;
  p.row_sigma = 0.5;
  p.col_sigma = 0.5;
  p.outlier_fraction = 0.02;
  p.outlier_scale = 8;
  return p;
}

Mask make(const wl_pattern &p, uint32_t r, uint32_t c, double d, uint64_t seed) {
  char err[256] = "";
  wl_mask *m = wl_mask_make(&p, r, c, d, seed, err, sizeof err);
  EXPECT_NE(m, nullptr) << err;
  return own(m);
}

const wl_pattern_kind kGenerated[] = {WL_PATTERN_BERNOULLI, WL_PATTERN_MAGNITUDE, WL_PATTERN_NM, WL_PATTERN_BLOCK};

// Whether every kept weight of `inner` is kept in `outer`.
bool nested(const wl_mask *inner, const wl_mask *outer) {
  for (uint32_t r = 0; r < wl_mask_rows(inner); r++)
    for (uint32_t c = 0; c < wl_mask_cols(inner); c++)
      if (wl_mask_get(inner, r, c) && !wl_mask_get(outer, r, c)) return false;
  return true;
}

TEST(Mask, EveryPatternsTilesAddUpToTheWholeForAnyCutPoints) {
  const uint32_t R = 296, C = 520;  // 296 = 4 x 74: nm and block fit; 520 is not a multiple of 64
  const uint32_t rc[] = {0, 1, 64, 68, 200, 296}, cc[] = {0, 63, 64, 128, 132, 516, 520};
  for (wl_pattern_kind kind : kGenerated) {
    Mask m = make(pattern(kind), R, C, 0.5, 5);
    uint64_t sum = 0;
    for (int i = 0; i + 1 < 6; i++)
      for (int j = 0; j + 1 < 7; j++) sum += wl_mask_count(m.get(), rc[i], rc[i + 1], cc[j], cc[j + 1]);
    EXPECT_EQ(sum, wl_mask_nnz(m.get())) << wl_pattern_name(kind);
    const wl_tile_stats t = wl_mask_tiles(m.get(), rc, 5, cc, 6);
    EXPECT_EQ(t.nnz, sum);
    EXPECT_EQ(t.tiles, 30u);
    EXPECT_LE(t.min, t.mean);
    EXPECT_GE((double)t.max, t.mean);
    // The counts equal the bits one by one, per row and per column.
    std::vector<uint64_t> rows(R), cols(C), rows_bits(R, 0), cols_bits(C, 0);
    wl_mask_row_counts(m.get(), rows.data());
    wl_mask_col_counts(m.get(), cols.data());
    uint64_t bits = 0;
    for (uint32_t r = 0; r < R; r++)
      for (uint32_t c = 0; c < C; c++)
        if (wl_mask_get(m.get(), r, c)) bits++, rows_bits[r]++, cols_bits[c]++;
    EXPECT_EQ(bits, wl_mask_nnz(m.get())) << wl_pattern_name(kind);
    EXPECT_EQ(rows, rows_bits) << wl_pattern_name(kind);
    EXPECT_EQ(cols, cols_bits) << wl_pattern_name(kind);
    EXPECT_EQ(wl_mask_count(m.get(), 10, 11, 5, 6), (uint64_t)wl_mask_get(m.get(), 10, 5));
    EXPECT_EQ(wl_mask_count(m.get(), 0, 1000, 0, 1000), wl_mask_nnz(m.get()));  // bounds clip
  }
}

TEST(Mask, BernoulliHasItsDensityAndDependsOnlyOnItsSeed) {
  const uint64_t n = 1000ull * 1000;
  for (double d : {0.0, 0.05, 0.5, 0.838, 1.0}) {
    Mask m = make(1000, 1000, d, 42);
    const double sd = std::sqrt(n * d * (1 - d));
    EXPECT_NEAR((double)wl_mask_nnz(m.get()), n * d, 5 * sd + 0.5) << d;  // 5 sigma
  }
  Mask a = make(200, 300, 0.4, 7), b = make(200, 300, 0.4, 7), c = make(200, 300, 0.4, 8);
  uint64_t same = 0, differ = 0;
  for (uint32_t r = 0; r < 200; r++)
    for (uint32_t col = 0; col < 300; col++) {
      same += wl_mask_get(a.get(), r, col) == wl_mask_get(b.get(), r, col);
      differ += wl_mask_get(a.get(), r, col) != wl_mask_get(c.get(), r, col);
    }
  EXPECT_EQ(same, 200u * 300);
  EXPECT_GT(differ, 200u * 300 / 4);
  // A row does not depend on how many rows the matrix has.
  Mask tall = make(400, 300, 0.4, 7);
  for (uint32_t col = 0; col < 300; col++) EXPECT_EQ(wl_mask_get(a.get(), 150, col), wl_mask_get(tall.get(), 150, col));
}

// Tiles of t = 32 x 32 weights: each count is Binomial(1024, d). Over 1024
// tiles the sample mean has standard error sqrt(v / 1024), and the sample
// variance, v x chi^2(1023) / 1023, a standard deviation of v sqrt(2 / 1023).
// Bounds of 5 standard errors: a correct generator fails one seed with
// probability about 6e-7 per statistic (normal tails), so the 2 x 3 x 3
// checks below raise a false alarm with probability about 1e-5.
TEST(Mask, BernoulliTileCountsMatchTheBinomialMeanAndVariance) {
  const uint32_t N = 1024, T = 32, tiles = (N / T) * (N / T), t = T * T;
  std::vector<uint32_t> cut(N / T + 1);
  wl_cuts_even(N, N / T, cut.data());
  for (double d : {0.05, 0.3, 0.84}) {
    for (uint64_t seed : {1, 2, 3}) {
      Mask m = make(N, N, d, seed);
      double sum = 0, sum2 = 0;
      for (uint32_t i = 0; i < N / T; i++)
        for (uint32_t j = 0; j < N / T; j++) {
          const double k = (double)wl_mask_count(m.get(), cut[i], cut[i + 1], cut[j], cut[j + 1]);
          sum += k;
          sum2 += k * k;
        }
      const double mean = sum / tiles, var = (sum2 - tiles * mean * mean) / (tiles - 1);
      const double mu = t * d, v = t * d * (1 - d);
      EXPECT_NEAR(mean, mu, 5 * std::sqrt(v / tiles)) << "d " << d << " seed " << seed;
      EXPECT_NEAR(var, v, 5 * v * std::sqrt(2.0 / (tiles - 1))) << "d " << d << " seed " << seed;
    }
  }
}

TEST(Mask, MagnitudeHitsTheLevelExactlyAndNestsAcrossLevels) {
  const wl_pattern p = pattern(WL_PATTERN_MAGNITUDE);
  const uint32_t R = 256, C = 384;
  double levels[64];
  char err[256];
  const int n = wl_schedule(0.25, 0.9, levels, 64, err, sizeof err);
  ASSERT_GT(n, 2) << err;
  Mask prev = make(p, R, C, 1.0, 11);
  EXPECT_EQ(wl_mask_nnz(prev.get()), (uint64_t)R * C);
  for (int i = 1; i < n; i++) {
    const double density = 1.0 - levels[i];
    Mask m = make(p, R, C, density, 11);
    const uint64_t want = (uint64_t)std::llround(density * R * C);
    EXPECT_EQ(wl_mask_nnz(m.get()), want) << levels[i];
    uint64_t bits = 0;
    for (uint32_t r = 0; r < R; r++)
      for (uint32_t c = 0; c < C; c++) bits += wl_mask_get(m.get(), r, c);
    EXPECT_EQ(bits, want);
    EXPECT_TRUE(nested(m.get(), prev.get())) << "level " << levels[i] << " not inside " << levels[i - 1];
    prev = std::move(m);
  }
}

// Outlier rows and columns keep far more than their share: the slowest tile
// of a magnitude mask is heavier than a Bernoulli one's at the same density.
TEST(Mask, MagnitudeOutliersMakeDenseRowsAndColumns) {
  const uint32_t R = 512, C = 512;
  Mask mag = make(pattern(WL_PATTERN_MAGNITUDE), R, C, 0.25, 3), ber = make(R, C, 0.25, 3);
  std::vector<uint64_t> rows(R);
  wl_mask_row_counts(mag.get(), rows.data());
  const uint64_t densest = *std::max_element(rows.begin(), rows.end());
  EXPECT_GT(densest, 2 * C / 4) << "an outlier row keeps more than twice the mean";
  std::vector<uint32_t> cut(17);
  wl_cuts_even(R, 16, cut.data());
  const wl_tile_stats a = wl_mask_tiles(mag.get(), cut.data(), 16, cut.data(), 16);
  const wl_tile_stats b = wl_mask_tiles(ber.get(), cut.data(), 16, cut.data(), 16);
  EXPECT_GT(a.imbalance, b.imbalance + 0.2);
  // With no spread and no outliers the scales are all 1: rows keep about
  // their share (binomial-like spread; 6 sigma).
  wl_pattern flat = pattern(WL_PATTERN_MAGNITUDE);
  flat.row_sigma = flat.col_sigma = 0;
  flat.outlier_fraction = 0;
  Mask f = make(flat, R, C, 0.25, 3);
  wl_mask_row_counts(f.get(), rows.data());
  for (uint64_t k : rows) EXPECT_NEAR((double)k, C / 4.0, 6 * std::sqrt(C * 0.25 * 0.75));
}

TEST(Mask, NmKeepsExactlyNOfEveryMAlongKAndNests) {
  for (uint32_t M : {4u, 8u, 6u}) {
    wl_pattern p = pattern(WL_PATTERN_NM);
    p.nm_group = M;
    const uint32_t R = 24 * M / (M % 4 ? 2 : 1), C = 70;
    Mask prev(nullptr, wl_mask_destroy);
    for (uint32_t N = M; N >= 1; N--) {
      Mask m = make(p, R, C, (double)N / M, 9);
      for (uint32_t g = 0; g < R / M; g++)
        for (uint32_t c = 0; c < C; c++)
          ASSERT_EQ(wl_mask_count(m.get(), g * M, (g + 1) * M, c, c + 1), N) << N << ":" << M << " group " << g;
      EXPECT_EQ(wl_mask_nnz(m.get()), (uint64_t)R * C * N / M);
      if (prev) {
        EXPECT_TRUE(nested(m.get(), prev.get())) << N << ":" << M;
      }
      prev = std::move(m);
    }
  }
  char err[256];
  wl_pattern p = pattern(WL_PATTERN_NM);
  EXPECT_EQ(wl_mask_make(&p, 8, 8, 0.1, 1, err, sizeof err), nullptr);
  EXPECT_NE(std::string(err).find("not a whole number"), std::string::npos) << err;
  EXPECT_EQ(wl_mask_make(&p, 6, 8, 0.5, 1, err, sizeof err), nullptr);
  EXPECT_NE(std::string(err).find("nm_group 4 does not divide K = 6"), std::string::npos) << err;
}

TEST(Mask, BlockKeepsWholeBlocksExactlyAndNests) {
  const uint32_t R = 64, C = 96, b = 4, blocks = (R / b) * (C / b);
  Mask prev(nullptr, wl_mask_destroy);
  for (double d : {1.0, 0.5, 0.25, 0.1, 0.0}) {
    Mask m = make(pattern(WL_PATTERN_BLOCK), R, C, d, 2);
    uint64_t kept = 0;
    for (uint32_t i = 0; i < R / b; i++)
      for (uint32_t j = 0; j < C / b; j++) {
        const uint64_t n = wl_mask_count(m.get(), i * b, (i + 1) * b, j * b, (j + 1) * b);
        ASSERT_TRUE(n == 0 || n == b * b) << "block " << i << "," << j << " has " << n;
        kept += n == b * b;
      }
    EXPECT_EQ(kept, (uint64_t)std::llround(d * blocks)) << d;
    EXPECT_EQ(wl_mask_nnz(m.get()), kept * b * b);
    if (prev) {
      EXPECT_TRUE(nested(m.get(), prev.get())) << d;
    }
    prev = std::move(m);
  }
  char err[256];
  wl_pattern p = pattern(WL_PATTERN_BLOCK);
  EXPECT_EQ(wl_mask_make(&p, 64, 90, 0.5, 1, err, sizeof err), nullptr);
  EXPECT_NE(std::string(err).find("blocks of 4 x 4 do not tile a 64 x 90 weight"), std::string::npos) << err;
}

TEST(Mask, TopKeepsTheLargestKeysAndBreaksTiesByIndex) {
  std::vector<uint32_t> key(6 * 7);
  for (size_t i = 0; i < key.size(); i++) key[i] = (uint32_t)((i * 37) % 42) << 10;  // a permutation
  for (uint64_t keep : {0u, 1u, 17u, 42u}) {
    Mask m = own(wl_mask_top(6, 7, key.data(), keep));
    EXPECT_EQ(wl_mask_nnz(m.get()), keep);
    for (size_t i = 0; i < key.size(); i++)
      EXPECT_EQ(wl_mask_get(m.get(), (uint32_t)(i / 7), (uint32_t)(i % 7)), (key[i] >> 10) >= 42 - keep) << i;
  }
  std::vector<uint32_t> same(40, 12345);  // all tied: the first ones in row-major order
  same[39] = 12346;
  Mask m = own(wl_mask_top(5, 8, same.data(), 4));
  EXPECT_TRUE(wl_mask_get(m.get(), 4, 7));
  for (uint32_t c = 0; c < 3; c++) EXPECT_TRUE(wl_mask_get(m.get(), 0, c));
  EXPECT_EQ(wl_mask_nnz(m.get()), 4u);
  EXPECT_EQ(wl_mask_count(m.get(), 0, 5, 0, 8), 4u);
}

// Balanced cut points: strictly increasing from 0 to n, and every part within
// one row's count of the ideal share; a magnitude mask's outlier rows make
// them differ from even cuts.
TEST(Mask, BalancedCutsGiveEveryPartAboutItsShare) {
  std::vector<uint64_t> count(100);
  for (uint32_t i = 0; i < 100; i++) count[i] = (i * 37) % 11 + (i == 50 ? 200 : 0);
  uint64_t total = 0, most = 0;
  for (uint64_t c : count) total += c, most = std::max(most, c);
  for (uint32_t parts : {1u, 3u, 7u, 100u}) {
    std::vector<uint32_t> cut(parts + 1);
    wl_cuts_balanced(count.data(), 100, parts, cut.data());
    ASSERT_EQ(cut[0], 0u);
    ASSERT_EQ(cut[parts], 100u);
    for (uint32_t p = 0; p < parts; p++) {
      ASSERT_LT(cut[p], cut[p + 1]) << parts;
      uint64_t sum = 0;
      for (uint32_t i = cut[p]; i < cut[p + 1]; i++) sum += count[i];
      if (parts < 100) {
        EXPECT_LE((double)sum, (double)total / parts + most) << parts << " part " << p;
      }
    }
  }
  Mask m = make(pattern(WL_PATTERN_MAGNITUDE), 256, 256, 0.25, 3);
  std::vector<uint64_t> rows(256);
  wl_mask_row_counts(m.get(), rows.data());
  std::vector<uint32_t> bal(9), even(9);
  wl_cuts_balanced(rows.data(), 256, 8, bal.data());
  wl_cuts_even(256, 8, even.data());
  const wl_tile_stats b = wl_mask_tiles(m.get(), bal.data(), 8, even.data(), 8);
  const wl_tile_stats u = wl_mask_tiles(m.get(), even.data(), 8, even.data(), 8);
  EXPECT_EQ(b.nnz, u.nnz);
  EXPECT_NE(bal, even);
}

TEST(Schedule, EachStepRemovesAFractionOfWhatRemainsUntilTheTarget) {
  double l[64];
  char err[256];
  ASSERT_EQ(wl_schedule(0.2, 0.84, l, 64, err, sizeof err), 10) << err;
  const double want[] = {0, 0.2, 0.36, 0.488, 0.5904, 0.67232, 0.737856, 0.7902848, 0.83222784, 0.84};
  for (int i = 0; i < 10; i++) EXPECT_NEAR(l[i], want[i], 1e-12) << i;
  for (int i = 0; i < 8; i++) EXPECT_NEAR((1 - l[i + 1]) / (1 - l[i]), 0.8, 1e-12);  // the last step is shorter
  ASSERT_EQ(wl_schedule(0.5, 0.75, l, 64, err, sizeof err), 3);  // lands on the target exactly
  EXPECT_EQ(l[2], 0.75);
  ASSERT_EQ(wl_schedule(0.3, 0.0, l, 64, err, sizeof err), 1);
  EXPECT_EQ(l[0], 0.0);
  EXPECT_EQ(wl_schedule(0.0, 0.5, l, 64, err, sizeof err), -1);
  EXPECT_NE(std::string(err).find("expected a fraction of the remaining weights in (0, 1)"), std::string::npos);
  EXPECT_EQ(wl_schedule(0.2, 1.0, l, 64, err, sizeof err), -1);
  EXPECT_EQ(wl_schedule(0.01, 0.99, l, 64, err, sizeof err), -1);
  EXPECT_NE(std::string(err).find("more than 64 levels"), std::string::npos) << err;
}

// A small model whose weights hold a few thousand elements each.
struct Tiny {
  mdl_gpt gpt{"custom", 3, 64, 4, 16, 256, 500, 32, MDL_ARCH_GPT, 4, 0};
  mdl_graph *g;
  Tiny() {
    char err[256];
    g = mdl_graph_build(&gpt, 32, err, sizeof err);
    EXPECT_NE(g, nullptr) << err;
  }
  ~Tiny() { mdl_graph_destroy(g); }
};

TEST(Sparsity, LayerOverridesKindOverridesTheGlobalLevel) {
  Tiny t;
  wl_sparsity s = wl_sparsity_uniform(0.5);
  s.kind[MDL_OP_FFN_UP] = 0.9;
  s.layer[1] = 0.25;
  for (size_t i = 0; i < mdl_graph_op_count(t.g); i++) {
    const mdl_op *op = mdl_graph_op(t.g, i);
    double want = !op->sparsifiable ? 0.0 : op->layer == 1 ? 0.25 : op->kind == MDL_OP_FFN_UP ? 0.9 : 0.5;
    EXPECT_EQ(wl_sparsity_level(&s, op), want) << op->name;
    EXPECT_EQ(op->sparsifiable, wl_sparsity_kind_sparsifiable(op->kind)) << op->name;
  }
}

TEST(Weights, EverySparseWeightHasItsMaskTheSameWithAnyThreads) {
  Tiny t;
  wl_sparsity s = wl_sparsity_uniform(0.75);
  s.kind[MDL_OP_Q] = 0.5;
  for (wl_pattern_kind kind : kGenerated) {
    wl_spec spec{&s, pattern(kind), nullptr, 77, 1};
    char err[256] = "";
    std::unique_ptr<wl_weights, void (*)(wl_weights *)> one(wl_weights_build(t.g, &spec, err, sizeof err),
                                                            wl_weights_destroy);
    ASSERT_NE(one, nullptr) << err;
    spec.threads = 3;
    std::unique_ptr<wl_weights, void (*)(wl_weights *)> three(wl_weights_build(t.g, &spec, err, sizeof err),
                                                              wl_weights_destroy);
    ASSERT_NE(three, nullptr) << err;
    size_t bytes = 0;
    for (size_t i = 0; i < mdl_graph_op_count(t.g); i++) {
      const mdl_op *op = mdl_graph_op(t.g, i);
      const wl_mask *a = wl_weights_mask(one.get(), i), *b = wl_weights_mask(three.get(), i);
      ASSERT_EQ(a != nullptr, op->sparsifiable) << op->name;
      if (!a) continue;
      bytes += wl_mask_bytes_used(a);
      EXPECT_EQ((int64_t)wl_mask_rows(a), op->weight_rows);
      EXPECT_EQ((int64_t)wl_mask_cols(a), op->weight_cols);
      EXPECT_TRUE(nested(a, b) && nested(b, a)) << op->name;
      if (kind != WL_PATTERN_BERNOULLI) {  // the exact patterns keep the accounting's count
        EXPECT_EQ((int64_t)wl_mask_nnz(a), mdl_nnz(op->weight_rows * op->weight_cols, wl_sparsity_density(&s, op)))
            << op->name;
      }
      Mask alone = own(wl_weights_op_mask(t.g, i, &spec, err, sizeof err));
      ASSERT_NE(alone, nullptr) << err;
      EXPECT_TRUE(nested(a, alone.get()) && nested(alone.get(), a)) << op->name;
    }
    EXPECT_EQ(wl_weights_bytes(one.get()), bytes);
  }
  // A pattern that cannot lay out a level names the op.
  s.kind[MDL_OP_FFN_DOWN] = 0.9;
  wl_spec spec{&s, pattern(WL_PATTERN_NM), nullptr, 77, 2};
  char err[256] = "";
  EXPECT_EQ(wl_weights_build(t.g, &spec, err, sizeof err), nullptr);
  EXPECT_NE(std::string(err).find("op L0.ffn_down: nm: sparsity 0.9"), std::string::npos) << err;
}

}  // namespace
