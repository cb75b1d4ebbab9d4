// Segmented tree reductions (fab_coll_tree) against their model
// (fab_coll_tree_cycles), the segment choice, conservation, values, and the
// wafer's all-reduce against its diameter.
#include <gtest/gtest.h>

#include <cstdio>
#include <vector>

#include "fabric/collective.h"
#include "sim/probe.h"
#include "ws_test.h"

namespace {

using wstest::Mesh;

struct Case {
  uint32_t w, h, rx, ry, sx, sy;
};

// Meshes with roots at a corner, the centre and off it, lines and
// rectangles, segments from 1 to a chain (0, or longer than the side).
const Case kCases[] = {
    {17, 1, 8, 0, 3, 0},   {17, 1, 0, 0, 5, 0},  {1, 23, 0, 11, 0, 4}, {16, 16, 8, 8, 4, 4},
    {16, 16, 0, 0, 0, 0},  {33, 9, 16, 4, 5, 3}, {33, 9, 3, 7, 1, 2},  {40, 40, 10, 30, 7, 6},
    {40, 40, 39, 39, 7, 6}, {31, 17, 15, 8, 2, 3}, {32, 32, 16, 16, 6, 40},
};

uint64_t simulate(const Case &k, uint32_t n, bool bcast, fab_fidelity fid, fab_stats *st = nullptr) {
  Mesh m(wstest::fabric_config(fid, k.w, k.h));
  m.round(fab_coll_tree(m.f, fab_rect{0, 0, k.w, k.h}, m.at(k.rx, k.ry), k.sx, k.sy, bcast, m.err, sizeof m.err), n);
  const uint64_t cycles = m.run();
  if (st) *st = fab_stats_get(m.f);
  return cycles;
}

uint64_t model(const Case &k, uint32_t n, bool bcast) {
  const fab_config c = wstest::fabric_config(FAB_TRAIN, k.w, k.h);
  return fab_coll_tree_cycles(&c, fab_rect{0, 0, k.w, k.h}, k.rx, k.ry, k.sx, k.sy, n, bcast);
}

// Train fidelity times a reduction exactly as the model does, for short and
// long vectors (a side's sums never share a link; trains meeting at a core
// share its ramp and receive unit as the model has them). The multicast back
// may meet sums still arriving when vectors are long: then the model is a
// lower bound. Wavelet fidelity agrees for one wavelet.
TEST(Tree, CyclesEqualTheModel) {
  for (const Case &k : kCases) {
    for (bool bcast : {false, true}) {
      for (uint32_t n : {1u, 8u, 40u}) {
        const uint64_t want = model(k, n, bcast), train = simulate(k, n, bcast, FAB_TRAIN);
        if (bcast && n > 1) {
          EXPECT_GE(train, want) << k.w << "x" << k.h << " n " << n;
        } else {
          EXPECT_EQ(train, want) << k.w << "x" << k.h << " root " << k.rx << "," << k.ry << " seg " << k.sx << ","
                                 << k.sy << " n " << n;
        }
        if (n == 1) {
          EXPECT_EQ(simulate(k, n, bcast, FAB_WAVELET), want) << k.w << "x" << k.h << " seg " << k.sx << "," << k.sy;
        }
      }
    }
  }
}

// The model on a line by hand: 8 members on one side of the root, segments
// of 3 (members 1-3, 4-6, 7-8, collectors 3, 6 and 8), one wavelet, every
// latency 1 (a core pass 2 ramp + add + hop = 4). Segment 2's chain reaches
// its collector 8 at 4 and it sends at 5; its sum crosses 2 hops to
// collector 6 (sent at 9: its own chain was in at 8 + 1), 3 hops to
// collector 3 (arrives at 9 + 5 = 14, sends 15), 3 hops to the root
// (arrives 15 + 5 = 20, the sum done at 21): 22 cycles. A chain of 8: 8 x 4 + 1 = 33.
TEST(Tree, ModelOfALineByHand) {
  const fab_config c = wstest::fabric_config(FAB_TRAIN, 9, 1);
  EXPECT_EQ(fab_coll_tree_cycles(&c, fab_rect{0, 0, 9, 1}, 0, 0, 3, 0, 1, 0), 22u);
  EXPECT_EQ(fab_coll_tree_cycles(&c, fab_rect{0, 0, 9, 1}, 0, 0, 0, 0, 1, 0), 33u);
  EXPECT_EQ(simulate(Case{9, 1, 0, 0, 3, 0}, 1, false, FAB_WAVELET), 22u);
}

// Every member sends its sum once, the root its multicast once; every other
// PE takes one sum and one copy. A side of L members in J segments crosses
// L - J links inside its segments and L from collector to collector.
TEST(Tree, WaveletsAndLinksAreConserved) {
  for (const Case &k : kCases) {
    const uint32_t n = 5, members = k.w * k.h;
    fab_stats st{};
    simulate(k, n, true, FAB_TRAIN, &st);
    auto side = [](uint32_t len, uint32_t seg) -> uint64_t {
      if (len == 0) return 0;
      if (seg == 0 || seg >= len) return len;  // a chain: a link a member
      const uint64_t segments = (len + seg - 1) / seg;
      return 2ull * len - segments;
    };
    const uint64_t rows = (uint64_t)k.h * (side(k.rx, k.sx) + side(k.w - 1 - k.rx, k.sx));
    const uint64_t column = side(k.ry, k.sy) + side(k.h - 1 - k.ry, k.sy);
    EXPECT_EQ(st.wavelets_sent, (uint64_t)members * n) << k.w << "x" << k.h;
    EXPECT_EQ(st.wavelets_received, 2ull * (members - 1) * n);
    EXPECT_EQ(st.link_wavelets, (rows + column + members - 1) * n) << k.w << "x" << k.h;
    EXPECT_EQ(st.queued, 0u);
  }
}

// The sums are right and reach every PE, in both fidelities, however cut.
TEST(Tree, EveryPeGetsTheSums) {
  for (auto fid : {FAB_WAVELET, FAB_TRAIN}) {
    for (const Case &k : kCases) {
      Mesh m(wstest::fabric_config(fid, k.w, k.h));
      fab_coll *c = fab_coll_tree(m.f, fab_rect{0, 0, k.w, k.h}, m.at(k.rx, k.ry), k.sx, k.sy, 1, m.err, sizeof m.err);
      ASSERT_NE(c, nullptr) << m.err;
      const uint32_t members = fab_coll_members(c), values = 3;
      std::vector<std::vector<float>> own(members, std::vector<float>(values));
      std::vector<const float *> ptr(members);
      std::vector<double> want(values, 0.0);
      for (uint32_t p = 0; p < members; p++) {
        for (uint32_t v = 0; v < values; v++) want[v] += own[p][v] = (float)((p * 7 + v * 3) % 11);
        ptr[p] = own[p].data();
      }
      uint32_t copies = 0;
      fab_on_delivery(
          m.f, [](void *ctx, fab_pe, uint32_t, fab_xfer, uint64_t) { ++*static_cast<uint32_t *>(ctx); }, &copies);
      fab_round r{};
      r.n = 2;
      r.values = values;
      r.own = ptr.data();
      std::vector<fab_xfer> x(members);
      ASSERT_EQ(fab_coll_round(m.f, c, &r, x.data(), m.err, sizeof m.err), 0) << m.err;
      m.run();
      const float *sums = fab_values(m.f, x[fab_coll_result(c)]);
      ASSERT_NE(sums, nullptr);
      for (uint32_t v = 0; v < values; v++) EXPECT_FLOAT_EQ(sums[v], (float)want[v]) << k.w << "x" << k.h;
      EXPECT_EQ(copies, members - 1);
      EXPECT_EQ(fab_coll_member(c, fab_coll_result(c)), m.at(k.rx, k.ry));
      fab_coll_destroy(c);
    }
  }
}

// Chain for long vectors, segments for short: the choice is the model's
// fewest cycles, and the simulation agrees that it beats the chain.
TEST(Tree, SegmentsForShortVectorsChainForLong) {
  const fab_config c = wstest::fabric_config(FAB_TRAIN, 101, 1);
  EXPECT_LT(fab_coll_best_segment(&c, 100, 1), 100u);
  EXPECT_EQ(fab_coll_best_segment(&c, 100, 10000), 100u);
  for (uint32_t n : {1u, 16u, 64u, 1000u}) {
    const uint32_t seg = fab_coll_best_segment(&c, 100, n);
    const Case tree{101, 1, 0, 0, seg, 0}, chain{101, 1, 0, 0, 0, 0};
    for (uint32_t s = 1; s <= 100; s++) EXPECT_LE(model(tree, n, false), model(Case{101, 1, 0, 0, s, 0}, n, false));
    EXPECT_LE(simulate(tree, n, false, FAB_TRAIN), simulate(chain, n, false, FAB_TRAIN)) << "n " << n;
  }
  EXPECT_LT(simulate(Case{101, 1, 0, 0, fab_coll_best_segment(&c, 100, 1), 0}, 1, false, FAB_TRAIN) * 2,
            simulate(Case{101, 1, 0, 0, 0, 0}, 1, false, FAB_TRAIN));
}

// The whole wafer all-reduces one wavelet within 1.3x its diameter (749 +
// 993 hops), by a tree into its centre; through chains into a corner it took
// 5x (8,713 cycles).
TEST(Tree, WaferAllReduceWithinItsDiameter) {
  ws_probe_spec s{};
  s.pattern = WS_PROBE_ALLREDUCE;
  s.wavelets = 1;
  s.fabric = wstest::fabric_config(FAB_TRAIN, 750, 994);
  ws_probe_result r{};
  char err[512] = "";
  ASSERT_EQ(ws_probe_run(&s, &r, err, sizeof err), 0) << err;
  const double diameter = 749.0 + 993.0;
  std::printf("wafer all-reduce of 1 wavelet: %llu cycles (%.3fx the diameter), %s, segments %u x %u\n",
              (unsigned long long)r.cycles, (double)r.cycles / diameter, r.algorithm, r.segment_x, r.segment_y);
  EXPECT_STREQ(r.algorithm, "tree");
  EXPECT_EQ(r.cycles, r.bound);
  EXPECT_LE((double)r.cycles, 1.3 * diameter);
  const fab_config &c = s.fabric;
  EXPECT_GT(fab_coll_tree_cycles(&c, fab_rect{0, 0, 750, 994}, 0, 0, 0, 0, 1, 1), 4 * (uint64_t)r.cycles);
}

}  // namespace
