// Masks: one mask per matrix, consistent under any tiling, deterministic
// from its seed, with the density it was asked for.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "workloads/mask.h"

namespace {

using Mask = std::unique_ptr<wl_mask, void (*)(wl_mask *)>;
Mask make(uint32_t r, uint32_t c, double d, uint64_t seed) { return Mask(wl_mask_bernoulli(r, c, d, seed), wl_mask_destroy); }

TEST(Mask, TilesAddUpToTheWholeForAnyCutPoints) {
  Mask m = make(300, 517, 0.3, 5);
  const uint32_t rc[] = {0, 1, 64, 65, 200, 300}, cc[] = {0, 63, 64, 127, 130, 516, 517};
  uint64_t sum = 0;
  for (int i = 0; i + 1 < 6; i++)
    for (int j = 0; j + 1 < 7; j++) sum += wl_mask_count(m.get(), rc[i], rc[i + 1], cc[j], cc[j + 1]);
  EXPECT_EQ(sum, wl_mask_nnz(m.get()));
  uint64_t bits = 0;  // and equals the bits one by one
  for (uint32_t r = 0; r < 300; r++)
    for (uint32_t c = 0; c < 517; c++) bits += wl_mask_get(m.get(), r, c);
  EXPECT_EQ(bits, wl_mask_nnz(m.get()));
  EXPECT_EQ(wl_mask_count(m.get(), 10, 11, 5, 6), (uint64_t)wl_mask_get(m.get(), 10, 5));
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

}  // namespace
