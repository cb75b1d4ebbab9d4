// One head's causal attention on a whole region (kernels/mesh_attention.h):
// queries striped over the rows, keys and values over the columns, the
// rows' split-key partials merged by a tree. The tests check that the work
// is conserved (every causal pair scored once, whatever the cut), that one
// PE with no fabric runs its steps back to back at exactly the cost model's
// compute, that the run is bounded by its busiest PE and by the keys'
// multicast, that it is deterministic, that the closed-form model stays near
// the simulation, that more PEs spread the work, that the striping balances
// it, and that shapes a region cannot take are refused with the reason. A
// test whose tolerance was set from a measurement carries it in its name.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "kernels/mesh_attention.h"
#include "ws_test.h"

namespace {

struct Wafer {
  krn_machine m;
  fab_config fc;
  explicit Wafer(const std::vector<std::string> &sets = {}) {
    ws_config c = wstest::config(sets);
    ws_config_machine(&c, &m);
    ws_config_fabric(&c, &fc);
  }
  krn_mattn_result run(const krn_mattn_spec &s) {
    krn_mattn_result r{};
    char err[512] = "";
    EXPECT_EQ(krn_mattn_run(&m, &fc, &s, &r, err, sizeof err), 0) << err;
    return r;
  }
  // The refusal of s: the run's return and message (the plan must refuse it too).
  std::string refusal(const krn_mattn_spec &s) {
    krn_mattn_result r{};
    krn_mattn_model p{};
    char err[512] = "", perr[512] = "";
    EXPECT_NE(krn_mattn_plan(&m, &fc, &s, &p, perr, sizeof perr), 0);
    EXPECT_NE(krn_mattn_run(&m, &fc, &s, &r, err, sizeof err), 0);
    EXPECT_STREQ(err, perr);
    EXPECT_NE(err[0], '\0') << "refused without a reason";
    return err;
  }
};

krn_mattn_spec spec(uint32_t seq, uint32_t dh, uint32_t rows, uint32_t cols, uint32_t chunk = 0,
                    uint64_t resident = 0) {
  return krn_mattn_spec{seq, dh, rows, cols, chunk, resident};
}

bool contains(const std::string &s, const char *what) { return s.find(what) != std::string::npos; }

// The compute charged on a fabric of one PE, rebuilt from cost.h alone: step
// s of chunk b holds the n = min(b, T - s b) queries q in [s b, s b + n),
// each seeing the q + 1 keys 0..q; the PE scores them (the two attention
// phases), merges its partial, then normalises the step's outputs, and
// nothing overlaps (there is one core).
uint64_t one_pe_cycles(const krn_machine &m, uint32_t T, uint32_t dh, uint32_t b) {
  uint64_t total = 0;
  for (uint64_t first = 0; first < T; first += b) {
    const uint32_t n = (uint32_t)std::min<uint64_t>(b, T - first);
    uint64_t pairs = 0;
    for (uint64_t q = first; q < first + n; q++) pairs += q + 1;
    total += krn_attn_phase(&m, 1, 1, dh, pairs).cycles + krn_attn_phase(&m, 2, 1, dh, pairs).cycles +
             krn_attn_merge_cost(&m, dh, n).cycles + krn_attn_norm_cost(&m, dh, n).cycles;
  }
  return total;
}

// Every PE's compute, rebuilt from the layout: PE (row i, column j) scores
// row i's queries (tokens i mod R), step by step of b, against column j's
// keys (tokens j mod C) at or before each query, and merges its partial;
// each row's root normalises each of the row's steps once.
uint64_t charged_work(const krn_machine &m, const krn_mattn_spec &s, uint32_t b) {
  uint64_t total = 0;
  for (uint32_t i = 0; i < s.rows; i++) {
    std::vector<uint32_t> queries;
    for (uint32_t q = i; q < s.seq; q += s.rows) queries.push_back(q);
    for (size_t first = 0; first < queries.size(); first += b) {
      const uint32_t n = (uint32_t)std::min<size_t>(b, queries.size() - first);
      for (uint32_t j = 0; j < s.cols; j++) {
        uint64_t pairs = 0;
        for (size_t u = first; u < first + n; u++)
          if (queries[u] >= j) pairs += (queries[u] - j) / s.cols + 1;
        total += krn_attn_phase(&m, 1, 1, s.dh, pairs).cycles + krn_attn_phase(&m, 2, 1, s.dh, pairs).cycles +
                 krn_attn_merge_cost(&m, s.dh, n).cycles;
      }
      total += krn_attn_norm_cost(&m, s.dh, n).cycles;
    }
  }
  return total;
}

// Work is conserved: whatever the cut (one PE, one row, one column, square,
// and tokens that divide neither the rows nor the columns), the simulation
// scores each causal (query, key) pair once, T (T + 1) / 2 of them, with dh
// multiply-accumulates for the score and dh for P x V; the model counts the
// same; and the compute charged over all PEs is exactly the cost model's
// for the layout's pairs, every step's normalisation once.
TEST(MeshAttention, EveryCausalPairScoredOnce) {
  Wafer w;
  for (auto sp : {spec(64, 64, 1, 1), spec(64, 64, 1, 8), spec(64, 64, 8, 1), spec(64, 64, 4, 4), spec(64, 64, 5, 7),
                  spec(100, 64, 3, 9), spec(100, 32, 7, 3, 3)}) {
    const krn_mattn_result r = w.run(sp);
    const uint64_t pairs = (uint64_t)sp.seq * (sp.seq + 1) / 2;
    EXPECT_EQ(r.pairs, pairs) << sp.seq << " tokens on " << sp.rows << " x " << sp.cols;
    EXPECT_EQ(r.macs, 2 * pairs * sp.dh) << sp.seq << " tokens on " << sp.rows << " x " << sp.cols;
    EXPECT_EQ(r.plan.pairs, pairs);
    EXPECT_EQ(r.plan.macs, r.macs);
    EXPECT_EQ(r.busy_sum, charged_work(w.m, sp, r.plan.chunk))
        << sp.seq << " tokens on " << sp.rows << " x " << sp.cols << ", chunk " << r.plan.chunk;
  }
}

// One PE, no fabric: nothing to wait for and nothing to overlap with, so the
// run is exactly its steps' compute back to back (scores, exp and P x V,
// the merge, then the step's normalisation on the same core), at an asked
// chunk that divides the tokens, one that does not (a short last step), and
// the planned one. The model is printed beside it (within 0.4 %: it charges
// a step the larger of column 0's compute and the root's with its
// normalisation, and adds the last step's latency).
TEST(MeshAttention, OnePeIsItsComputeBackToBack) {
  Wafer w;
  for (auto sp : {spec(64, 64, 1, 1, 4), spec(64, 64, 1, 1, 5), spec(64, 64, 1, 1), spec(100, 32, 1, 1, 7),
                  spec(100, 32, 1, 1)}) {
    const krn_mattn_result r = w.run(sp);
    const uint32_t b = r.plan.chunk;
    if (sp.chunk) {
      EXPECT_EQ(b, sp.chunk);
    }
    const uint64_t expect = one_pe_cycles(w.m, sp.seq, sp.dh, b);
    std::printf("%u tokens, dh %u on 1 PE, chunk %u (%s): %llu cycles, closed form %llu, model %llu\n", sp.seq, sp.dh,
                b, sp.chunk ? "asked" : "planned", (unsigned long long)r.cycles, (unsigned long long)expect,
                (unsigned long long)r.plan.cycles);
    EXPECT_EQ(r.cycles, expect) << "chunk " << b;
    EXPECT_EQ(r.busy_max, expect) << "chunk " << b;
    EXPECT_EQ(r.plan.steps, (sp.seq + b - 1) / b);
    EXPECT_EQ(r.plan.kv, 0u);
    EXPECT_STREQ(r.plan.reduce, "none");
    EXPECT_EQ(r.wavelets_sent, 0u);
  }
}

// No run is faster than its busiest PE's compute; the busiest PE has at
// least the mean share; and with more than one row no PE outside the
// sources' row can start before the keys' multicast down its column has
// landed, so the run takes at least that multicast (plan.kv).
TEST(MeshAttention, BoundedByBusiestPeAndKeysMulticast) {
  Wafer w;
  for (auto sp : {spec(64, 64, 1, 8), spec(64, 64, 8, 1), spec(64, 64, 5, 7), spec(100, 64, 3, 9),
                  spec(256, 64, 8, 16), spec(1024, 64, 32, 32), spec(2048, 128, 64, 64)}) {
    const krn_mattn_result r = w.run(sp);
    const double pes = (double)sp.rows * sp.cols;
    EXPECT_GE(r.cycles, r.busy_max) << sp.seq << " tokens on " << sp.rows << " x " << sp.cols;
    EXPECT_GE((double)r.busy_max, (double)r.busy_sum / pes) << sp.seq << " tokens on " << sp.rows << " x " << sp.cols;
    if (sp.rows > 1) {
      EXPECT_GT(r.plan.kv, 0u);
      EXPECT_GE(r.cycles, r.plan.kv) << sp.seq << " tokens on " << sp.rows << " x " << sp.cols;
    }
  }
}

// Same input, same run: cycles, events and the busiest PE's compute.
TEST(MeshAttention, Deterministic) {
  Wafer w;
  for (auto sp : {spec(100, 64, 3, 9), spec(2048, 64, 64, 64)}) {
    const krn_mattn_result a = w.run(sp), b = w.run(sp);
    EXPECT_EQ(a.cycles, b.cycles);
    EXPECT_EQ(a.events, b.events);
    EXPECT_EQ(a.busy_max, b.busy_max);
    EXPECT_EQ(a.busy_sum, b.busy_sum);
    EXPECT_EQ(a.link_wavelets, b.link_wavelets);
  }
}

// The closed-form model against the simulation, from a small region to a
// sixteenth of the wafer (GPT-3 1.3B's heads of 128 on the shapes the
// layer-by-layer plan picks): measured sim / model 1.015 to 1.088, the
// simulation the slower (the traffic's queueing, which the model leaves
// out). A first model charged the rows' roots no normalisation in a step's
// compute, though they normalise on the core that scores: it was 6 to 14 %
// low.
TEST(MeshAttention, ModelWithin10Percent) {
  Wafer w;
  for (auto sp : {spec(256, 64, 8, 16), spec(1024, 64, 16, 16), spec(1024, 64, 32, 32), spec(2048, 64, 64, 64),
                  spec(2048, 64, 187, 248), spec(2048, 128, 248, 187), spec(2048, 128, 497, 93)}) {
    const krn_mattn_result r = w.run(sp);
    const double ratio = (double)r.cycles / (double)r.plan.cycles;
    std::printf("%u tokens, dh %u on %u x %u (rows x cols), chunk %u, %u steps, %s: %llu cycles, model %llu (%.3f)\n",
                sp.seq, sp.dh, sp.rows, sp.cols, r.plan.chunk, r.plan.steps, r.plan.reduce,
                (unsigned long long)r.cycles, (unsigned long long)r.plan.cycles, ratio);
    EXPECT_LE(std::fabs(ratio - 1), 0.10) << sp.seq << " tokens on " << sp.rows << " x " << sp.cols;
  }
}

// Twice the columns split every row's keys in two: on a compute-bound shape
// (the busiest PE's compute over 90 % of the run) the busiest PE's compute
// and the run both fall, measured to 0.54 to 0.59 of the narrower region's
// (0.5 would be a perfect split; the queries, the merges and the
// normalisations are not split).
TEST(MeshAttention, TwiceTheColumnsUnder65PercentTheTime) {
  Wafer w;
  for (auto rc : {std::pair<uint32_t, uint32_t>{16, 16}, {8, 8}}) {
    const krn_mattn_result narrow = w.run(spec(1024, 64, rc.first, rc.second)),
                           wide = w.run(spec(1024, 64, rc.first, 2 * rc.second));
    std::printf("1024 tokens on %u x %u: %llu cycles, busiest %llu; on %u x %u: %llu, busiest %llu (%.3f, %.3f)\n",
                rc.first, rc.second, (unsigned long long)narrow.cycles, (unsigned long long)narrow.busy_max, rc.first,
                2 * rc.second, (unsigned long long)wide.cycles, (unsigned long long)wide.busy_max,
                (double)wide.cycles / (double)narrow.cycles, (double)wide.busy_max / (double)narrow.busy_max);
    EXPECT_GT((double)narrow.busy_max, 0.9 * (double)narrow.cycles) << "not compute-bound";
    EXPECT_LT(wide.busy_max, narrow.busy_max);
    EXPECT_LT(wide.cycles, narrow.cycles);
    EXPECT_LT((double)wide.busy_max, 0.65 * (double)narrow.busy_max);
    EXPECT_LT((double)wide.cycles, 0.65 * (double)narrow.cycles);
  }
}

// Shapes the region cannot take are refused, by the plan and the run alike,
// with what is wrong: more rows or columns than tokens (a PE with no queries
// or no keys), a head of no features, a chunk larger than a row's queries,
// and buffers that do not fit a PE's SRAM (a small SRAM, or other ops'
// weights taking nearly all of it).
TEST(MeshAttention, BadShapesAreRefused) {
  Wafer w;
  EXPECT_TRUE(contains(w.refusal(spec(8, 64, 9, 2)), "at most as many rows and columns as tokens"));
  EXPECT_TRUE(contains(w.refusal(spec(8, 64, 2, 9)), "at most as many rows and columns as tokens"));
  EXPECT_TRUE(contains(w.refusal(spec(64, 0, 2, 2)), "features >= 1"));
  // 64 tokens over 4 rows: 16 queries a row
  const std::string chunk = w.refusal(spec(64, 64, 4, 4, 17));
  EXPECT_TRUE(contains(chunk, "chunk of 17")) << chunk;
  EXPECT_TRUE(contains(chunk, "16 of a row")) << chunk;
  const std::string resident = w.refusal(spec(64, 64, 4, 4, 0, 47 * 1024));
  EXPECT_TRUE(contains(resident, "SRAM")) << resident;
  // 16 KiB a PE, 8 of them reserved: 64 tokens' keys and values of 64 features (16 KiB) on one column cannot fit
  Wafer small({"fabric.sram_per_pe=16KiB"});
  const std::string sram = small.refusal(spec(64, 64, 2, 1));
  EXPECT_TRUE(contains(sram, "SRAM")) << sram;
  // the same shapes fit the default 48 KiB with nothing else resident: it is the SRAM that refuses them
  for (auto ok : {spec(64, 64, 2, 1), spec(64, 64, 4, 4)}) {
    krn_mattn_model p{};
    char err[512] = "";
    EXPECT_EQ(krn_mattn_plan(&w.m, &w.fc, &ok, &p, err, sizeof err), 0) << err;
  }
}

// Striping both ways gives every PE about the same causal pairs: on 64 x 64
// PEs for 2048 tokens the busiest PE's compute is measured at 1.099 times
// the mean (the rows' roots also normalise).
TEST(MeshAttention, StripingBalancesWithin15Percent) {
  Wafer w;
  const krn_mattn_result r = w.run(spec(2048, 64, 64, 64));
  const double mean = (double)r.busy_sum / (64.0 * 64.0), imbalance = (double)r.busy_max / mean;
  std::printf("2048 tokens on 64 x 64: busiest PE %llu cycles (column %u, row %u), mean %.0f (%.3f)\n",
              (unsigned long long)r.busy_max, r.slowest_x, r.slowest_y, mean, imbalance);
  EXPECT_LT(imbalance, 1.15);
}

}  // namespace
