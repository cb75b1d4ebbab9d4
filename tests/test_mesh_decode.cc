// One head's decode attention on a whole region (kernels/mesh_decode.h): a
// query against the keys of the KV cache striped over every PE, the partials
// merged by a tree into the centre. The tests check that the work is
// conserved (every key scored once, MACs = keys x dh x 2), that one PE runs
// exactly the cost model's compute, that the run is bounded below by its
// busiest PE plus the query's way in, that the closed-form model stays near
// the simulation, that more keys never take fewer cycles, that the cache's
// bytes are the closed form, and that shapes and caches a region cannot take
// are refused with the reason. A tolerance set from a measurement is in the
// test's name.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "kernels/mesh_decode.h"
#include "ws_test.h"

namespace {

struct Wafer {
  krn_machine m;
  fab_config fc;
  Wafer() {
    ws_config c = wstest::config({});
    ws_config_machine(&c, &m);
    ws_config_fabric(&c, &fc);
  }
  krn_mdec_result run(const krn_mdec_spec &s) {
    krn_mdec_result r{};
    char err[512] = "";
    EXPECT_EQ(krn_mdec_run(&m, &fc, &s, &r, err, sizeof err), 0) << err;
    return r;
  }
  std::string refusal(const krn_mdec_spec &s) {
    krn_mdec_result r{};
    char err[512] = "";
    EXPECT_NE(krn_mdec_run(&m, &fc, &s, &r, err, sizeof err), 0);
    EXPECT_NE(err[0], '\0') << "refused without a reason";
    return err;
  }
};

krn_mdec_spec spec(uint32_t keys, uint32_t dh, uint32_t rows, uint32_t cols, uint32_t layers = 1,
                   uint32_t capacity = 0, uint64_t resident = 0, uint32_t queries = 1) {
  return krn_mdec_spec{keys, capacity ? capacity : keys, dh, rows, cols, layers, resident, queries};
}

// A PE's compute from cost.h alone: the two attention phases over its keys,
// then a merge of one query.
uint64_t pe_cycles(const krn_machine &m, uint32_t dh, uint64_t keys) {
  return krn_attn_phase(&m, 1, 1, dh, keys).cycles + krn_attn_phase(&m, 2, 1, dh, keys).cycles +
         krn_attn_merge_cost(&m, dh, 1).cycles;
}

TEST(MeshDecode, EveryKeyScoredOnceWhateverTheRegion) {
  Wafer w;
  for (auto [rows, cols] : {std::pair{1u, 1u}, {1u, 7u}, {5u, 3u}, {16u, 16u}}) {
    const krn_mdec_result r = w.run(spec(300, 16, rows, cols));
    EXPECT_EQ(r.macs, 300ull * 16 * 2) << rows << "x" << cols;
    EXPECT_EQ(r.plan.macs, r.macs);
  }
}

TEST(MeshDecode, OnePeRunsTheCostModelsCompute) {
  Wafer w;
  const krn_mdec_result r = w.run(spec(100, 32, 1, 1));
  const uint64_t expect = pe_cycles(w.m, 32, 100) + krn_attn_norm_cost(&w.m, 32, 1).cycles;
  EXPECT_EQ(r.busy_max, expect);
  EXPECT_EQ(r.cycles, expect);
  EXPECT_EQ(r.plan.cycles, expect);
}

// No run is faster than its busiest PE's compute after the query reached it
// (2 ramps and the hops from the centre), nor than the tree from that PE.
TEST(MeshDecode, BoundedBelowByTheBusiestPeAndTheQuerysWayIn) {
  Wafer w;
  for (auto [keys, rows, cols] : {std::tuple{2048u, 8u, 64u}, {500u, 20u, 20u}, {4096u, 32u, 32u}}) {
    const krn_mdec_result r = w.run(spec(keys, 128, rows, cols));
    const uint64_t busiest = pe_cycles(w.m, 128, (keys + rows * cols - 1) / (rows * cols));
    EXPECT_GE(r.busy_max, busiest);
    EXPECT_GT(r.cycles, busiest + 2 * w.fc.ramp_latency + r.plan.tree / 2) << keys << " on " << rows << "x" << cols;
  }
}

// Measured: within 5.8 % (the model adds the multicast, the busiest compute
// and the tree one after the other; the PEs far from the centre hold no more
// keys than PE 0, and their partials start the tree while the query still
// spreads).
TEST(MeshDecode, ModelWithin8PercentOfTheSimulation) {
  Wafer w;
  for (auto [keys, rows, cols] : {std::tuple{2048u, 16u, 64u}, {1025u, 32u, 32u}, {2080u, 62u, 31u}, {64u, 4u, 8u}}) {
    const krn_mdec_result r = w.run(spec(keys, 128, rows, cols));
    const double err = std::fabs((double)r.plan.cycles - (double)r.cycles) / (double)r.cycles;
    EXPECT_LT(err, 0.08) << keys << " keys on " << rows << "x" << cols << ": model " << r.plan.cycles << " sim "
                         << r.cycles;
  }
}

TEST(MeshDecode, MoreKeysNeverFaster) {
  Wafer w;
  uint64_t last = 0;
  for (uint32_t keys = 512; keys <= 4096; keys += 512) {
    const krn_mdec_result r = w.run(spec(keys, 128, 16, 32));
    EXPECT_GE(r.cycles, last) << keys;
    last = r.cycles;
  }
}

TEST(MeshDecode, CacheBytesAreEveryLayersKeysAndValuesAtCapacity) {
  Wafer w;
  krn_mdec_model p{};
  char err[256] = "";
  const krn_mdec_spec s = spec(1000, 64, 4, 8, 2, 1500);
  ASSERT_EQ(krn_mdec_plan(&w.m, &w.fc, &s, &p, err, sizeof err), 0) << err;
  EXPECT_EQ(p.cache_bytes, 2ull * ((1500 + 31) / 32) * 64 * 2 * 2);
  EXPECT_GT(p.sram_max, p.cache_bytes + w.m.sram_reserve);
}

TEST(MeshDecode, RefusesWhatTheRegionCannotTake) {
  Wafer w;
  EXPECT_NE(w.refusal(spec(10, 64, 4, 4)).find("at most a PE a key"), std::string::npos);
  EXPECT_NE(w.refusal(spec(100, 64, 2, 2, 1, 50)).find("the cache at least the keys"), std::string::npos);
  // 96 layers of 2048 keys of 128 features on 2 PEs: far beyond 48 KiB
  EXPECT_NE(w.refusal(spec(2048, 128, 1, 2, 96)).find("more than its SRAM"), std::string::npos);
}

// Grouped-query attention: a key/value head's cache read by its group's
// queries at once: every query against every key, one cache, the queries'
// scores and partials beside it, cheaper than the heads one after another,
// the model within 8 %; no queries field is one query.
TEST(MeshDecode, AGroupsQueriesShareOneCache) {
  Wafer w;
  const krn_mdec_result a = w.run(spec(1000, 64, 8, 8, 2, 0, 0, 1)), b = w.run(spec(1000, 64, 8, 8, 2, 0, 0, 4));
  EXPECT_EQ(b.macs, 4 * a.macs);
  EXPECT_EQ(b.macs, 2ull * 1000 * 64 * 4);
  EXPECT_EQ(b.plan.macs, b.macs);
  EXPECT_EQ(b.plan.cache_bytes, a.plan.cache_bytes);
  EXPECT_GT(b.plan.sram_max, a.plan.sram_max);
  EXPECT_GE(b.cycles, a.cycles);
  EXPECT_LT(b.cycles, 4 * a.cycles);
  const double err = std::fabs((double)b.plan.cycles - (double)b.cycles) / (double)b.cycles;
  EXPECT_LT(err, 0.08) << b.plan.cycles << " modelled, " << b.cycles << " simulated";
  EXPECT_EQ(w.run(spec(1000, 64, 8, 8, 2, 0, 0, 0)).cycles, a.cycles);
}

}  // namespace
