// The system around the wafers on SimGrid (sim/system/system.h): its flows
// against their closed forms on an uncontended tree, its limits (an
// unlimited system leaves the compute alone; a slow store link is the
// step), and determinism.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "sim/system/system.h"

namespace {

// "No limit" is 1 PB/s in SimGrid (system.c): a 1 MB chunk takes 1 ns a hop, the tolerances below.
sys_spec unlimited(uint32_t wafers, bool train) {
  sys_spec s{};
  s.wafers = wafers;
  s.passes = 1;
  s.store_hosts = 1;
  s.fanout = 4;
  s.train = train;
  s.chunk = 1e6;
  s.update_bytes = 28;
  s.accumulate_bytes = 8;
  return s; // bandwidths 0: no limit; latency 0
}

sys_result run(const sys_spec &s, const std::vector<sys_layer> &layers) {
  sys_result r{};
  char err[256] = "";
  EXPECT_EQ(sys_run(&s, layers.data(), (uint32_t)layers.size(), &r, err, sizeof err), 0) << err;
  return r;
}

TEST(System, TreeShape) {
  uint32_t n, d;
  sys_tree(1, 4, &n, &d);
  EXPECT_EQ(n, 1u);
  EXPECT_EQ(d, 1u);
  sys_tree(16, 4, &n, &d);
  EXPECT_EQ(n, 5u); // 4 leaves and a root
  EXPECT_EQ(d, 2u);
  sys_tree(5, 2, &n, &d);
  EXPECT_EQ(n, 6u); // 3, 2, 1
  EXPECT_EQ(d, 3u);
}

// With no limit anywhere, the step is the wafers' compute, every layer's forward and backward, every pass.
TEST(System, UnlimitedStepIsTheCompute) {
  std::vector<sys_layer> layers = {{1e-3, 2e-3, 5e6, 2.5e6, 2.5e6}, {4e-3, 8e-3, 3e7, 1.5e7, 1.5e7}, {2e-4, 2e-4, 0, 0, 0}};
  for (uint32_t wafers : {1u, 4u}) {
    sys_spec s = unlimited(wafers, true);
    s.passes = 3;
    const sys_result r = run(s, layers);
    const double compute = 3 * (1e-3 + 2e-3 + 4e-3 + 8e-3 + 2e-4 + 2e-4);
    EXPECT_NEAR(r.step_s, compute, 1e-6 * compute) << wafers << " wafers";
    EXPECT_NEAR(r.compute_s, compute, 1e-12);
    EXPECT_STREQ(r.bound_by, "compute");
    EXPECT_EQ(r.stream_bytes, 3 * 2 * (5e6 + 3e7)); // forward and backward, every pass
    EXPECT_EQ(r.grad_bytes, 3 * (2.5e6 + 1.5e7));
  }
}

// A slow store link and nothing else: the step is the bytes over the store's links.
TEST(System, SlowStoreLinkIsBytesOverBandwidth) {
  std::vector<sys_layer> layers = {{0, 0, 8e6, 0, 0}, {0, 0, 2.4e7, 0, 0}};
  for (uint32_t hosts : {1u, 4u}) {
    sys_spec s = unlimited(1, false);
    s.store_hosts = hosts;
    s.store_link = 1e9;
    const sys_result r = run(s, layers);
    const double expect = 3.2e7 / (hosts * 1e9);
    EXPECT_NEAR(r.step_s, expect, 1e-6 * expect) << hosts << " hosts";
    EXPECT_STREQ(r.bound_by, "store");
  }
}

// One chunk down an uncontended tree, store and forward: each hop its latency and its transfer.
TEST(System, OneChunkDownTheTree) {
  for (auto [wafers, fanout] : {std::pair{16u, 4u}, std::pair{5u, 2u}, std::pair{1u, 4u}}) {
    sys_spec s = unlimited(wafers, false);
    s.fanout = fanout;
    s.link_bandwidth = 1e9;
    s.link_latency = 1e-6;
    s.chunk = 1e6;
    uint32_t n, d;
    sys_tree(wafers, fanout, &n, &d);
    const sys_result r = run(s, {{0, 0, 1e6, 0, 0}});
    // store link (no limit, the latency) then d links of 1 ms each
    const double expect = (d + 1) * 1e-6 + d * 1e-3;
    EXPECT_NEAR(r.step_s, expect, 2e-9) << wafers << " wafers, fanout " << fanout;
    EXPECT_EQ(r.depth, d);
  }
}

// K chunks pipelined down d store-and-forward hops: (K + d - 1) chunk times.
TEST(System, ChunksPipelineDownTheTree) {
  sys_spec s = unlimited(16, false);
  s.link_bandwidth = 1e9;
  s.chunk = 1e6;
  const sys_result r = run(s, {{0, 0, 1e7, 0, 0}}); // 10 chunks, depth 2
  EXPECT_NEAR(r.step_s, (10 + 2 - 1) * 1e-3, 2e-9);
  EXPECT_STREQ(r.bound_by, "stream");
}

// The stream and the compute overlap: the step is at least the larger and at most their sum.
TEST(System, StreamAndComputeOverlap) {
  sys_spec s = unlimited(2, true);
  s.link_bandwidth = 1e9;
  s.link_latency = 1e-6;
  std::vector<sys_layer> layers(4, sys_layer{5e-3, 1e-2, 8e6, 4e6, 4e6});
  const sys_result r = run(s, layers);
  EXPECT_GE(r.step_s, r.compute_s);
  EXPECT_GE(r.step_s, r.stream_s);
  EXPECT_LE(r.step_s, r.compute_s + r.stream_s + r.grad_s + r.store_s);
  EXPECT_GT(r.overlap_s, 0);
  EXPECT_NEAR(r.stall_s + r.compute_s, r.wafer_end_s, 1e-12);
  EXPECT_NEAR(r.wafer_end_s + r.reduce_s + r.update_s, r.step_s, 1e-12);
}

// A slow store holds the wafers back: its updates and sums take its memory from the weights' reads, and a wafer
// whose gradients cannot leave stops computing (two chunks in flight).
TEST(System, ASlowStoreHoldsTheWafersBack) {
  sys_spec s = unlimited(2, true);
  s.link_bandwidth = 1e9;
  std::vector<sys_layer> layers(4, sys_layer{5e-3, 1e-2, 8e6, 4e6, 4e6});
  const sys_result fast = run(s, layers);
  s.store_bandwidth = 4e9;
  const sys_result slow = run(s, layers);
  EXPECT_GT(slow.step_s, fast.step_s);
  EXPECT_GT(slow.stall_s, fast.stall_s);
  EXPECT_STREQ(slow.bound_by, "store");
  // its memory's work alone: reads of both streams and four layers' updates, over its bandwidth
  EXPECT_NEAR(slow.store_s, (2 * 4 * 8e6 + 4 * 4e6 * 28) / 4e9, 1e-12);
  EXPECT_GE(slow.step_s, slow.store_s);
}

// Reruns give the same figures, to the bit.
TEST(System, Deterministic) {
  sys_spec s = unlimited(8, true);
  s.link_bandwidth = 2e9;
  s.store_bandwidth = 3e9;
  s.link_latency = 1e-6;
  s.passes = 2;
  std::vector<sys_layer> layers(3, sys_layer{1e-3, 2e-3, 3e6, 1.5e6, 1.5e6});
  const sys_result a = run(s, layers), b = run(s, layers);
  EXPECT_EQ(a.step_s, b.step_s);
  EXPECT_EQ(a.reduce_s, b.reduce_s);
  EXPECT_EQ(a.messages, b.messages);
  EXPECT_EQ(a.messages, sys_messages(&s, layers.data(), (uint32_t)layers.size())); // counted before, exactly
}

TEST(System, RefusesAnEmptySystem) {
  sys_spec s = unlimited(1, false);
  s.passes = 0;
  sys_result r{};
  char err[256] = "";
  sys_layer l{1, 1, 1, 1, 1};
  EXPECT_EQ(sys_run(&s, &l, 1, &r, err, sizeof err), -1);
  EXPECT_NE(std::string(err).find("passes"), std::string::npos);
}

} // namespace
