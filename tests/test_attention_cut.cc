// Attention with its heads cut over columns (issue 19, item 1): past one
// column per head, a head's dh features are cut over several columns, so
// queries, keys and values, the dot products, P x V and the partial outputs
// reduced down a column all shrink with the columns; every column of a cut
// head computes the same exponentials. What the estimate says (its interval
// falls as columns are added, like a GEMM's) and what the simulation does
// (each PE's compute is what the estimate's busy count says, the MACs are
// the same however the heads are cut, and the stage gets faster). The
// functional check (logits against a reference forward pass with heads cut
// evenly and unevenly) is in test_kernels.cc.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "fabric/fabric.h"
#include "kernels/cost.h"
#include "kernels/estimate.h"
#include "kernels/pipeline.h"
#include "sim/config.h"
#include "sim/engine/engine.h"
#include "ws_test.h"

namespace {

// GPT-3 1.3B's attention (16 heads of 128) on 142 rows, micro-batches of 16
// of a 2048-token sequence: from 16 columns (a head each) to 32, 64 and 128
// (2, 4 and 8 columns a head) the estimated interval, the busiest PE's
// compute and the wavelets its core takes in all fall, and at 4 columns a
// head the compute is under half that of one (a pair costs 26 cycles
// against 74: the dot products and P x V a quarter, the exponential not).
TEST(AttentionCut, TheEstimateFallsWithTheColumnsLikeAGemms) {
  const ws_config c = wstest::config({});
  krn_machine m;
  fab_config fc;
  ws_config_machine(&c, &m);
  ws_config_fabric(&c, &fc);
  krn_stage s{};
  s.kind = KRN_STAGE_ATTENTION;
  s.name = "attention";
  s.n = 2048;
  s.heads = 16;
  s.sequences = 1;
  krn_estimate prev{};
  uint64_t compute16 = 0;
  for (const uint32_t cols : {16u, 32u, 64u, 128u}) {
    s.region = {0, 0, cols, 142};
    krn_estimate e;
    char err[256];
    ASSERT_EQ(krn_estimate_stage(&m, &fc, &s, 16, 2048, 1, &e, err, sizeof err), 0) << err;
    EXPECT_TRUE(e.fits) << cols;
    EXPECT_EQ(e.tile_n, 2048 / cols) << cols;
    std::printf("[ attention ] %u columns: interval %llu, compute %llu, ramp in %llu, latency %llu\n", cols,
                (unsigned long long)e.interval, (unsigned long long)e.compute, (unsigned long long)e.ramp_in,
                (unsigned long long)e.latency);
    if (cols > 16) {
      EXPECT_LT(e.interval, prev.interval) << cols;
      EXPECT_LT(e.compute, prev.compute) << cols;
      EXPECT_LT(e.ramp_in, prev.ramp_in) << cols;
    } else {
      compute16 = e.compute;
    }
    if (cols == 64) {
      EXPECT_LT(2 * e.compute, compute16);
    }
    prev = e;
  }
}

// One attention stage (8 heads, n 256, 16 rows) fed by three GEMMs, on 8
// columns (a head each), 16 and 32 (2 and 4 a head) and 12 (1 or 2 a head):
// its busiest PE computes exactly what krn_estimate_busy counts, its MACs
// are the same whatever the cut (the pairs x head size of both phases), and
// the last micro-batch is done sooner on 16 and 32 columns than on 8.
TEST(AttentionCut, SimulatedComputeIsTheEstimatesAndTheMacsDoNotDependOnTheCut) {
  const uint32_t b = 16, mbs = 16, n = 256;
  const ws_config c = wstest::config({});
  krn_machine mach;
  fab_config fc;
  ws_config_machine(&c, &mach);
  ws_config_fabric(&c, &fc);
  fc.width = 64;
  fc.height = 16;
  fc.fidelity = FAB_TRAIN;
  uint64_t macs8 = 0, done8 = 0;
  for (const uint32_t cols : {8u, 16u, 32u, 12u}) {
    wstest::Simulated s;
    ASSERT_TRUE(wstest::simulate_fed_attention(fc, mach, {26, 0, cols, 16}, n, 8, b, mbs, s));
    const krn_stage &a = s.stages[3];
    const krn_stage_stats st = krn_pipe_stats(s.p, 3);
    const uint64_t done = krn_pipe_done(s.p, mbs - 1);
    EXPECT_EQ(st.busy_max, krn_estimate_busy(&mach, &a, b, b * mbs)) << cols << " columns";
    std::printf("[ attention ] %u columns: busiest PE %llu cycles, %llu MACs, last micro-batch done at %llu\n", cols,
                (unsigned long long)st.busy_max, (unsigned long long)st.macs, (unsigned long long)done);
    if (cols == 8) {
      macs8 = st.macs, done8 = done;
      uint64_t pairs = 0; /* causal (query, key) pairs of the sequence */
      for (uint32_t mb = 0; mb < mbs; mb++)
        for (uint32_t r = 0; r < 16; r++) pairs += krn_attn_pairs(b, mb, r, 16);
      EXPECT_EQ(st.macs, 2 * pairs * n); /* a dot product and an AXPY of dh per pair and head */
    } else {
      EXPECT_EQ(st.macs, macs8) << cols << " columns";
      if (cols != 12) {
        EXPECT_LT(done, done8) << cols << " columns";
      }
    }
  }
}

}  // namespace
