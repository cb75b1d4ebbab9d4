// The placer's fast paths against slow references written out here tile by
// tile: a band's tiles counted in one pass (wl_mask_band_counts) against
// wl_mask_count per tile; the GEMM estimate, which groups its tiles and
// counts each band once, against the per-tile estimate it replaced (every
// tile counted with wl_mask_count, its kernel picked and costed on its own);
// and the bounds the placer's search decides most shapes with
// (krn_estimate_bounds), which must hold the exact figures.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/cost.h"
#include "kernels/estimate.h"
#include "kernels/pipeline.h"
#include "workloads/mask.h"
#include "ws_test.h"

namespace {

using Mask = std::unique_ptr<wl_mask, void (*)(wl_mask *)>;

Mask bernoulli(uint32_t rows, uint32_t cols, double density, uint64_t seed) {
  return Mask(wl_mask_bernoulli(rows, cols, density, seed), wl_mask_destroy);
}

krn_machine machine(uint64_t sram_kib = 48, uint32_t sparse_setup = 2) {
  krn_machine m{};
  m.simd_fp16 = 4;
  m.simd_fp32 = 1;
  m.sparse_setup = sparse_setup;
  m.dense_setup = 1;
  m.task_switch = 10;
  m.exp_cycles = 8;
  m.acc_bytes = 4;
  m.sram = sram_kib * 1024;
  m.sram_reserve = 8 * 1024;
  return m;
}

uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

// The GEMM estimate as it was before the fast path (kernels/estimate.h):
// tile by tile, nonzeros from wl_mask_count, the kernel picked and costed per
// tile, every PE's wavelets tracked; then the interval as krn_estimate_stage
// takes it.
krn_estimate reference(const krn_machine &m, const fab_config &fc, const krn_stage &s, uint32_t b,
                       uint32_t consumers) {
  const uint32_t r = s.region.h, c = s.region.w, acc = m.acc_bytes;
  auto cut = [](const uint32_t *given, uint32_t n, uint32_t parts, uint32_t i) {
    return given ? given[i] : (uint32_t)((uint64_t)i * n / parts);
  };
  krn_estimate e{};
  e.pes = r * c;
  uint64_t nnz_sum = 0, kt_max = 0, nt_max = 0;
  for (uint32_t i = 0; i < r; i++)
    for (uint32_t j = 0; j < c; j++) {
      const uint32_t k0 = cut(s.k_cut, s.k, r, i), n0 = cut(s.n_cut, s.n, c, j);
      const uint32_t kt = cut(s.k_cut, s.k, r, i + 1) - k0, nt = cut(s.n_cut, s.n, c, j + 1) - n0;
      const uint64_t nnz = s.mask ? wl_mask_count(s.mask, k0, k0 + kt, n0, n0 + nt) : (uint64_t)kt * nt;
      const krn_kernel k = s.kernel == KRN_AUTO ? krn_gemm_pick(&m, kt, nt, nnz, b) : s.kernel;
      krn_cost cost = krn_gemm_cost(&m, k, kt, nt, nnz, b);
      if (i == (s.flip ? 0 : r - 1) && s.bias_add) cost.cycles += krn_add_cost(&m, nt, b).cycles;
      const uint64_t x = ceil_div((uint64_t)kt * b, 2), part = ceil_div((uint64_t)nt * b * acc, 4);
      const uint64_t in = x + (i > 0 ? part : 0),
                     out = (j == 0 && c > 1 ? x : 0) + (i + 1 < r ? part : consumers * ceil_div((uint64_t)nt * b, 2));
      e.compute = std::max(e.compute, cost.cycles);
      e.sram = std::max(e.sram, cost.sram);
      e.ramp_in = std::max(e.ramp_in, in);
      e.ramp_out = std::max(e.ramp_out, out);
      e.sparse_pes += k == KRN_SPARSE;
      nnz_sum += nnz;
      e.nnz_max = std::max(e.nnz_max, nnz);
      kt_max = std::max<uint64_t>(kt_max, kt);
      nt_max = std::max<uint64_t>(nt_max, nt);
    }
  e.nnz_mean = (double)nnz_sum / ((double)r * c);
  e.tile_k = (uint32_t)kt_max;
  e.tile_n = (uint32_t)nt_max;
  const uint64_t hop_red = 2 * fc.ramp_latency + fc.hop_latency + fc.add_latency;
  const uint64_t x = ceil_div(kt_max * b, 2), part = ceil_div(nt_max * b * acc, 4), y = ceil_div(nt_max * b, 2);
  e.latency = x + (uint64_t)(c - 1) * fc.hop_latency + 2 * fc.ramp_latency + e.compute +
              (r > 1 ? part + (uint64_t)(r - 1) * hop_red : 0) + consumers * y;
  e.fits = e.sram <= m.sram;
  e.interval = std::max(std::max(e.compute, e.ramp_in * fc.consume_cycles), std::max(e.ramp_out, ceil_div(e.latency, 2)));
  return e;
}

krn_stage gemm(uint32_t r, uint32_t c, uint32_t k, uint32_t n, krn_kernel kern, const wl_mask *mask) {
  return wstest::gemm_stage("gemm", {0, 0, c, r}, k, n, kern, mask);
}

void expect_same(const krn_estimate &got, const krn_estimate &want, const std::string &what) {
  EXPECT_EQ(got.pes, want.pes) << what;
  EXPECT_EQ(got.compute, want.compute) << what;
  EXPECT_EQ(got.ramp_in, want.ramp_in) << what;
  EXPECT_EQ(got.ramp_out, want.ramp_out) << what;
  EXPECT_EQ(got.latency, want.latency) << what;
  EXPECT_EQ(got.interval, want.interval) << what;
  EXPECT_EQ(got.sram, want.sram) << what;
  EXPECT_EQ(got.nnz_max, want.nnz_max) << what;
  EXPECT_EQ(got.nnz_mean, want.nnz_mean) << what;  // the same sum over the same tiles: bit for bit
  EXPECT_EQ(got.tile_k, want.tile_k) << what;
  EXPECT_EQ(got.tile_n, want.tile_n) << what;
  EXPECT_EQ(got.sparse_pes, want.sparse_pes) << what;
  EXPECT_EQ(got.fits, want.fits) << what;
}

// A band's tiles counted in one pass equal wl_mask_count tile by tile: widths
// on and off 64-bit words, empty tiles (repeated cut points), cut points and
// rows past the matrix (clipped as wl_mask_count clips them).
TEST(MaskBand, CountsEqualWlMaskCountTileByTile) {
  std::mt19937_64 rng(18);
  uint64_t tiles = 0, kept = 0;
  for (auto [rows, cols] : {std::pair{1u, 1u}, {7u, 64u}, {33u, 130u}, {64u, 200u}, {20u, 1000u}, {5u, 4097u}}) {
    for (double density : {0.0, 0.16, 0.5, 1.0}) {
      Mask m = bernoulli(rows, cols, density, rng());
      for (int trial = 0; trial < 20; trial++) {
        const uint32_t parts = 1 + (uint32_t)(rng() % 40);
        std::vector<uint32_t> cut(parts + 1);
        for (auto &x : cut) x = (uint32_t)(rng() % (cols + 10));  // some past the last column
        std::sort(cut.begin(), cut.end());
        if (trial % 2) cut[0] = 0;
        const uint32_t r0 = (uint32_t)(rng() % rows), r1 = r0 + (uint32_t)(rng() % (rows + 3 - r0));
        std::vector<uint64_t> out(parts, 12345);
        wl_mask_band_counts(m.get(), r0, r1, cut.data(), parts, out.data());
        for (uint32_t j = 0; j < parts; j++) {
          const uint64_t want = wl_mask_count(m.get(), r0, r1, cut[j], cut[j + 1]);
          ASSERT_EQ(out[j], want) << rows << "x" << cols << " density " << density << " rows " << r0 << ".." << r1
                                  << " cols " << cut[j] << ".." << cut[j + 1];
          tiles++;
          kept += want;
        }
      }
    }
  }
  EXPECT_GT(kept, 0u);  // not all empty
  EXPECT_GT(tiles, 1000u);
}

struct Case {
  uint32_t r, c, k, n;
  double density;  // < 0: no mask (every weight kept)
};

// The grouped GEMM estimate equals the tile-by-tile reference, field by
// field, over kernels, densities on both sides of where auto turns dense,
// bias on the first or last row, consumers, micro-batches, a machine whose
// sparse kernel costs no more per nonzero, an SRAM that some tiles overflow,
// more than a chunk of columns, and cut points given (balanced by nonzeros:
// many distinct tile shapes, tile by tile; and even ones given explicitly).
TEST(EstimateFast, GemmEqualsTheTileByTileReference) {
  const fab_config fc = wstest::fabric_config(FAB_TRAIN, 64, 64);
  const std::vector<Case> cases = {
      {1, 1, 8, 8, 0.3},         {1, 7, 40, 40, 0.5},      {5, 1, 40, 40, 0.05},    {3, 4, 48, 36, 0.25},
      {13, 9, 200, 150, 0.16},   {40, 30, 64, 64, 0.9},    {7, 23, 256, 1024, 0.1}, {2, 1100, 64, 2100, 0.2},
      {16, 33, 512, 512, -1.0},  {9, 5, 300, 777, 0.6},    {100, 3, 400, 96, 0.3},  {31, 17, 31, 17, 1.0},
      {6, 6, 600, 600, 0.0},     {4, 64, 1024, 4096, 0.16}};
  std::mt19937_64 rng(1818);
  uint64_t checked = 0, sparse = 0, dense = 0, overflow = 0;
  for (const Case &cs : cases) {
    Mask m = cs.density >= 0 ? bernoulli(cs.k, cs.n, cs.density, rng()) : Mask(nullptr, wl_mask_destroy);
    std::vector<uint64_t> rows(cs.k), cols(cs.n);
    if (m) wl_mask_row_counts(m.get(), rows.data()), wl_mask_col_counts(m.get(), cols.data());
    std::vector<uint32_t> kb(cs.r + 1), nb(cs.c + 1), ke(cs.r + 1), ne(cs.c + 1);
    if (m) wl_cuts_balanced(rows.data(), cs.k, cs.r, kb.data()), wl_cuts_balanced(cols.data(), cs.n, cs.c, nb.data());
    wl_cuts_even(cs.k, cs.r, ke.data());
    wl_cuts_even(cs.n, cs.c, ne.data());
    for (krn_kernel kern : {KRN_AUTO, KRN_SPARSE, KRN_DENSE})
      for (int cuts = 0; cuts < 3; cuts++) {
        if (cuts == 1 && !m) continue;
        krn_stage s = gemm(cs.r, cs.c, cs.k, cs.n, kern, m.get());
        if (cuts == 1) s.k_cut = kb.data(), s.n_cut = nb.data();
        if (cuts == 2) s.k_cut = ke.data(), s.n_cut = ne.data();
        for (const krn_machine &mc : {machine(), machine(16, 0)})
          for (uint32_t b : {1u, 16u, 6u})
            for (int v = 0; v < 4; v++) {
              s.bias_add = v % 2;
              s.flip = v / 2;
              const uint32_t consumers = (uint32_t)(rng() % 4);
              const std::string what = std::to_string(cs.r) + "x" + std::to_string(cs.c) + " of " +
                                       std::to_string(cs.k) + "x" + std::to_string(cs.n) + " density " +
                                       std::to_string(cs.density) + " " + krn_kernel_name(kern) + " cuts " +
                                       std::to_string(cuts) + " b " + std::to_string(b) + " v " + std::to_string(v);
              const krn_estimate want = reference(mc, fc, s, b, consumers);
              krn_estimate got;
              char err[256];
              ASSERT_EQ(krn_estimate_stage(&mc, &fc, &s, b, b * 4, consumers, &got, err, sizeof err), 0) << err;
              expect_same(got, want, what);
              EXPECT_EQ(krn_estimate_busy(&mc, &s, b, b * 4), 4 * want.compute) << what;
              checked++;
              sparse += want.sparse_pes > 0;
              dense += want.sparse_pes < want.pes;
              overflow += !want.fits;
            }
      }
  }
  // the cases reach both kernels under auto, and SRAM both ways
  EXPECT_GT(sparse, 0u);
  EXPECT_GT(dense, 0u);
  EXPECT_GT(overflow, 0u);
  EXPECT_GT(checked, 1000u);
}

// krn_estimate_bounds holds the exact estimate: lo <= compute, sram, latency,
// interval <= hi; hi.fits only where it fits, !lo.fits only where it does
// not; exact without a mask. And they decide something: on a wide region of
// a sparse mask hi is within a few times the exact interval.
TEST(EstimateBounds, GemmBoundsHoldTheEstimate) {
  const fab_config fc = wstest::fabric_config(FAB_TRAIN, 64, 64);
  std::mt19937_64 rng(2018);
  uint64_t decided = 0;
  for (int trial = 0; trial < 300; trial++) {
    const uint32_t k = 1 + (uint32_t)(rng() % 600), n = 1 + (uint32_t)(rng() % 900);
    const uint32_t r = 1 + (uint32_t)(rng() % std::min<uint32_t>(k, 60)), c = 1 + (uint32_t)(rng() % std::min<uint32_t>(n, 200));
    const double density = trial % 7 == 0 ? -1.0 : (double)(rng() % 101) / 100.0;
    Mask m = density >= 0 ? bernoulli(k, n, density, rng()) : Mask(nullptr, wl_mask_destroy);
    const krn_kernel kern = (krn_kernel)(rng() % 3);
    krn_stage s = gemm(r, c, k, n, kern, m.get());
    s.bias_add = rng() % 2;
    s.flip = rng() % 2;
    const krn_machine mc = machine(trial % 3 ? 48 : 12, trial % 5 ? 2 : 0);
    const uint32_t b = 1 + (uint32_t)(rng() % 20), consumers = (uint32_t)(rng() % 3);
    krn_estimate e, lo, hi;
    char err[256];
    ASSERT_EQ(krn_estimate_stage(&mc, &fc, &s, b, b, consumers, &e, err, sizeof err), 0) << err;
    ASSERT_EQ(krn_estimate_bounds(&mc, &fc, &s, b, b, consumers, &lo, &hi, err, sizeof err), 0) << err;
    const std::string what = std::to_string(r) + "x" + std::to_string(c) + " of " + std::to_string(k) + "x" +
                             std::to_string(n) + " density " + std::to_string(density) + " " + krn_kernel_name(kern);
    EXPECT_LE(lo.compute, e.compute) << what;
    EXPECT_GE(hi.compute, e.compute) << what;
    EXPECT_LE(lo.sram, e.sram) << what;
    EXPECT_GE(hi.sram, e.sram) << what;
    EXPECT_LE(lo.latency, e.latency) << what;
    EXPECT_GE(hi.latency, e.latency) << what;
    EXPECT_LE(lo.interval, e.interval) << what;
    EXPECT_GE(hi.interval, e.interval) << what;
    EXPECT_TRUE(!hi.fits || e.fits) << what;
    EXPECT_TRUE(lo.fits || !e.fits) << what;
    EXPECT_EQ(lo.ramp_in, e.ramp_in) << what;
    EXPECT_EQ(hi.ramp_out, e.ramp_out) << what;
    if (!m) {
      EXPECT_EQ(lo.interval, e.interval) << what;
      EXPECT_EQ(hi.interval, e.interval) << what;
    }
    decided += hi.interval < lo.interval * 4;
  }
  EXPECT_GT(decided, 100u);
  // a shape the stage cannot take fails as the estimate does
  Mask m = bernoulli(8, 8, 0.5, 1);
  krn_stage s = gemm(9, 2, 8, 8, KRN_AUTO, m.get());
  const krn_machine mc = machine();
  krn_estimate lo, hi;
  char err[256];
  EXPECT_EQ(krn_estimate_bounds(&mc, &fc, &s, 4, 4, 1, &lo, &hi, err, sizeof err), -1);
  EXPECT_STREQ(err, "stage gemm: 2 x 9 PEs leave a PE without a tile or feature (k 8, n 8)");
}

}  // namespace
