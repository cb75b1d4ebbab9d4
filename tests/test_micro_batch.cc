// workload.micro_batch: auto (issue 19, item 4): the placer places every
// divisor b of a sequence up to WS_AUTO_MICRO_BATCH_MAX and keeps the one
// with the fewest estimated cycles (fill_latency + (M - 1) x stage_max). The
// test places each candidate itself and checks the choice, that the run is
// the fixed-size run of the chosen b, figure for figure, and that the key
// reads, writes and refuses as documented.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "sim/cli.h"
#include "sim/place.h"
#include "sim/run.h"
#include "ws_test.h"

namespace {

using PlacePtr = std::unique_ptr<ws_placement, void (*)(ws_placement *)>;

uint64_t estimated_cycles(uint32_t b) {
  const ws_config c = wstest::config(wstest::tiny({"workload.micro_batch=" + std::to_string(b)}));
  char err[WS_CONFIG_ERR_MAX] = "";
  PlacePtr p(ws_place(&c, err, sizeof err), ws_placement_destroy);
  EXPECT_TRUE(p) << err;
  if (!p) return UINT64_MAX;
  const ws_place_totals *t = ws_placement_totals(p.get());
  return t->fill_latency + (uint64_t)(128 / b - 1) * t->stage_max;
}

TEST(MicroBatch, AutoTakesTheFewestEstimatedCyclesAndRunsAsThatSize) {
  uint32_t best = 0;
  uint64_t best_cycles = UINT64_MAX;
  for (uint32_t b : {1u, 2u, 4u, 8u, 16u, 32u, 64u}) { /* the divisors of 128 up to 64 */
    const uint64_t c = estimated_cycles(b);
    if (c <= best_cycles) best = b, best_cycles = c;
  }
  wstest::RunPtr autod = wstest::simulate(wstest::config(wstest::tiny({"workload.micro_batch=auto"})));
  wstest::RunPtr fixed = wstest::simulate(wstest::config(wstest::tiny({"workload.micro_batch=" + std::to_string(best)})));
  ASSERT_TRUE(autod && fixed);
  const ws_run_totals *a = ws_run_totals_of(autod.get()), *f = ws_run_totals_of(fixed.get());
  EXPECT_EQ(a->micro_batch, best);
  EXPECT_EQ(a->micro_batches, 128 / best);
  EXPECT_EQ(a->placer_cycles, best_cycles); /* the run reports the estimate it was chosen by */
  EXPECT_EQ(f->placer_cycles, best_cycles);
  EXPECT_EQ(a->cycles, f->cycles);
  EXPECT_EQ(a->fill_cycles, f->fill_cycles);
  EXPECT_EQ(a->macs, f->macs);
  EXPECT_EQ(a->events, f->events);
  // and it beats the default size it replaces, here by the estimate and by the simulation
  wstest::RunPtr sixteen = wstest::simulate(wstest::config(wstest::tiny()));
  ASSERT_TRUE(sixteen);
  EXPECT_LE(best_cycles, estimated_cycles(16));
  EXPECT_LT(a->cycles, ws_run_totals_of(sixteen.get())->cycles);
}

TEST(MicroBatch, AutoReadsWritesAndRefusesAsDocumented) {
  const std::string yaml = wstest::source_path("tests/expected/tiny-dense.yaml");
  wstest::CliResult r = wstest::run_cli({"config", yaml, "--set", "workload.micro_batch=auto"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("micro_batch: auto"), std::string::npos) << r.out;
  r = wstest::run_cli({"config", yaml, "--set", "workload.micro_batch=auto", "--format", "json"});
  EXPECT_NE(r.out.find("\"micro_batch\": \"auto\""), std::string::npos) << r.out;
  r = wstest::run_cli({"run", yaml, "--set", "workload.micro_batch=0"});
  EXPECT_EQ(r.status, WS_EXIT_BAD_INPUT);
  EXPECT_NE(r.err.find("workload.micro_batch: expected an integer in [1, 16777216] or auto, got '0'"),
            std::string::npos)
      << r.err;
  r = wstest::run_cli({"kernel", yaml, "--set", "workload.micro_batch=auto"});
  EXPECT_EQ(r.status, WS_EXIT_BAD_INPUT);
  EXPECT_NE(r.err.find("workload.micro_batch is auto, which only a placed run resolves; give --batch"),
            std::string::npos)
      << r.err;
  // a sweep's micro_batch column shows the size each point chose
  r = wstest::run_cli({"sweep", yaml, "--sparsity", "0.5", "--vary", "workload.micro_batch=auto,16", "--format", "csv",
                       "-j", "1"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find(",4,2,auto,"), std::string::npos) << r.out; /* micro_batch 4, sparse_setup 2, value auto */
}

}  // namespace
