// The event engine and its queues: total order, cancel, run modes, pool
// growth and its limit, determinism, PHOLD conservation, the systolic mesh's
// closed form, and the same end time as the SimGrid version of it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "sim/engine/engine.h"
#include "tests/bench/phold.h"
#include "tests/bench/systolic.h"

namespace {

struct Engine {
  sim_engine *e;
  explicit Engine(sim_config cfg = sim_config{}) {
    char err[256] = "";
    e = sim_engine_create(&cfg, err, sizeof err);
    EXPECT_NE(e, nullptr) << err;
  }
  ~Engine() { sim_engine_destroy(e); }
};

sim_config with_queue(sim_queue_kind k, unsigned wheel_bits = 0) {
  sim_config c{};
  c.queue = k;
  c.wheel_bits = wheel_bits;
  return c;
}

// A recorder entity type: logs (cycle, entity, tag) and optionally schedules more.
struct Log {
  std::vector<std::tuple<sim_time, sim_entity, uint64_t>> runs;
  std::function<void(sim_engine *, const sim_event *)> then;
};
void record(sim_engine *e, void *ctx, const sim_event *ev) {
  Log *log = static_cast<Log *>(ctx);
  EXPECT_EQ(ev->time, sim_engine_now(e));
  log->runs.emplace_back(ev->time, ev->entity, ev->payload.a);
  if (log->then) log->then(e, ev);
}

sim_payload tag(uint64_t a) { return sim_payload{a, 0}; }

class EngineBothQueues : public ::testing::TestWithParam<sim_queue_kind> {};
INSTANTIATE_TEST_SUITE_P(Queues, EngineBothQueues, ::testing::Values(SIM_QUEUE_WHEEL, SIM_QUEUE_HEAP),
                         [](const auto &p) { return std::string(sim_queue_kind_name(p.param)); });

TEST_P(EngineBothQueues, RunsByCycleThenBySchedulingOrder) {
  Engine eng(with_queue(GetParam(), 6));  // a 64-cycle wheel: far events take the overflow heap
  Log log;
  sim_entity first;
  ASSERT_EQ(sim_engine_add_type(eng.e, "rec", record, &log, 10, &first), 0);
  std::mt19937_64 rng(7);
  std::vector<std::pair<sim_time, uint64_t>> want;
  for (uint64_t i = 0; i < 5000; i++) {
    sim_time t = rng() % 3 == 0 ? rng() % 4 : rng() % 1000;  // many ties
    ASSERT_NE(sim_engine_schedule(eng.e, t, first + (sim_entity)(i % 10), 0, tag(i)), 0u);
    want.emplace_back(t, i);
  }
  std::stable_sort(want.begin(), want.end(), [](auto &a, auto &b) { return a.first < b.first; });
  ASSERT_EQ(sim_engine_run(eng.e), 0);
  ASSERT_EQ(log.runs.size(), want.size());
  for (size_t i = 0; i < want.size(); i++) {
    EXPECT_EQ(std::get<0>(log.runs[i]), want[i].first) << i;
    EXPECT_EQ(std::get<2>(log.runs[i]), want[i].second) << i;
  }
  sim_stats st = sim_engine_stats(eng.e);
  EXPECT_EQ(st.scheduled, 5000u);
  EXPECT_EQ(st.executed, 5000u);
  EXPECT_EQ(st.pending, 0u);
  EXPECT_EQ(st.peak_pending, 5000u);
}

TEST_P(EngineBothQueues, EventsScheduledNowRunAfterThoseAlreadyDue) {
  Engine eng(with_queue(GetParam()));
  Log log;
  sim_entity first;
  sim_engine_add_type(eng.e, "rec", record, &log, 1, &first);
  log.then = [&](sim_engine *e, const sim_event *ev) {
    if (ev->payload.a < 3) sim_engine_schedule_in(e, 0, first, 0, tag(ev->payload.a + 10));
  };
  for (uint64_t i = 0; i < 3; i++) sim_engine_schedule(eng.e, 5, first, 0, tag(i));
  sim_engine_run(eng.e);
  std::vector<uint64_t> order;
  for (auto &r : log.runs) order.push_back(std::get<2>(r));
  EXPECT_EQ(order, (std::vector<uint64_t>{0, 1, 2, 10, 11, 12}));
  EXPECT_EQ(sim_engine_now(eng.e), 5u);
}

TEST_P(EngineBothQueues, CancelledEventsNeverRun) {
  Engine eng(with_queue(GetParam(), 6));
  Log log;
  sim_entity first;
  sim_engine_add_type(eng.e, "rec", record, &log, 1, &first);
  std::vector<sim_event_id> ids;
  for (uint64_t i = 0; i < 200; i++) ids.push_back(sim_engine_schedule(eng.e, i * 3, first, 0, tag(i)));
  for (uint64_t i = 0; i < 200; i += 2) EXPECT_EQ(sim_engine_cancel(eng.e, ids[i]), 0);
  EXPECT_EQ(sim_engine_cancel(eng.e, ids[0]), -1);  // twice
  EXPECT_EQ(sim_engine_cancel(eng.e, 0), -1);       // never valid
  ASSERT_EQ(sim_engine_run_until(eng.e, 300), 0);
  EXPECT_EQ(sim_engine_cancel(eng.e, ids[1]), -1);  // already ran
  // A handle whose slot was reused does not cancel the new event.
  sim_event_id fresh = sim_engine_schedule(eng.e, 1000, first, 0, tag(999));
  EXPECT_EQ(sim_engine_cancel(eng.e, ids[3]), -1);
  sim_engine_run(eng.e);
  std::vector<uint64_t> ran;
  for (auto &r : log.runs) ran.push_back(std::get<2>(r));
  ASSERT_EQ(ran.size(), 101u);
  for (size_t i = 0; i + 1 < ran.size(); i++) EXPECT_EQ(ran[i] % 2, 1u) << ran[i];
  EXPECT_EQ(ran.back(), 999u);
  EXPECT_EQ(sim_engine_cancel(eng.e, fresh), -1);
  sim_stats st = sim_engine_stats(eng.e);
  EXPECT_EQ(st.cancelled, 100u);
  EXPECT_EQ(st.executed + st.cancelled, st.scheduled);
}

TEST_P(EngineBothQueues, RunUntilACycleAndUntilAPredicate) {
  Engine eng(with_queue(GetParam(), 6));
  Log log;
  sim_entity first;
  sim_engine_add_type(eng.e, "rec", record, &log, 1, &first);
  for (uint64_t t : {10, 20, 20, 30, 500, 10000}) sim_engine_schedule(eng.e, t, first, 0, tag(t));
  ASSERT_EQ(sim_engine_run_until(eng.e, 20), 0);
  EXPECT_EQ(log.runs.size(), 3u);  // both events at 20 ran
  EXPECT_EQ(sim_engine_now(eng.e), 20u);
  ASSERT_EQ(sim_engine_run_until(eng.e, 400), 0);
  EXPECT_EQ(log.runs.size(), 4u);
  EXPECT_EQ(sim_engine_now(eng.e), 400u);  // time moves to the limit
  sim_engine_schedule_in(eng.e, 1, first, 0, tag(401));
  auto done = [](const sim_engine *e, void *) { return sim_engine_now(e) >= 500; };
  ASSERT_EQ(sim_engine_run_until_done(eng.e, done, nullptr), 0);
  EXPECT_EQ(log.runs.size(), 6u);
  EXPECT_EQ(std::get<0>(log.runs.back()), 500u);
  EXPECT_EQ(sim_engine_stats(eng.e).pending, 1u);
  sim_engine_run(eng.e);
  EXPECT_EQ(sim_engine_now(eng.e), 10000u);
}

TEST(Engine, AHandlerCanStopTheRun) {
  Engine eng;
  Log log;
  sim_entity first;
  sim_engine_add_type(eng.e, "rec", record, &log, 1, &first);
  log.then = [](sim_engine *e, const sim_event *ev) {
    if (ev->payload.a == 3) sim_engine_stop(e);
  };
  for (uint64_t i = 0; i < 6; i++) sim_engine_schedule(eng.e, i, first, 0, tag(i));
  ASSERT_EQ(sim_engine_run(eng.e), 0);
  EXPECT_EQ(log.runs.size(), 4u);
  ASSERT_EQ(sim_engine_run(eng.e), 0);  // resumes
  EXPECT_EQ(log.runs.size(), 6u);
}

TEST(Engine, TypesOwnContiguousRanges) {
  Engine eng;
  Log a, b;
  sim_entity fa, fb;
  ASSERT_EQ(sim_engine_add_type(eng.e, "a", record, &a, 3, &fa), 0);
  ASSERT_EQ(sim_engine_add_type(eng.e, "b", record, &b, 5, &fb), 0);
  EXPECT_EQ(fa, 0u);
  EXPECT_EQ(fb, 3u);
  for (sim_entity x = 0; x < 8; x++) sim_engine_schedule(eng.e, x, x, 0, tag(x));
  sim_engine_run(eng.e);
  EXPECT_EQ(a.runs.size(), 3u);
  EXPECT_EQ(b.runs.size(), 5u);
  EXPECT_EQ(sim_engine_add_type(eng.e, "none", record, &a, 0, &fa), -1);
  EXPECT_NE(std::string(sim_engine_error(eng.e)).find("cannot add entity type none"), std::string::npos);
}

TEST(Engine, PoolGrowsInChunksAndItsLimitNamesTheKnob) {
  sim_config cfg{};
  cfg.chunk_events = 64;
  cfg.max_pending = 1024;
  Engine eng(cfg);
  Log log;
  sim_entity first;
  sim_engine_add_type(eng.e, "rec", record, &log, 1, &first);
  for (uint64_t i = 0; i < 1024; i++) ASSERT_NE(sim_engine_schedule(eng.e, i, first, 0, tag(i)), 0u);
  EXPECT_EQ(sim_engine_stats(eng.e).pool_events, 1024u);
  EXPECT_EQ(sim_engine_error(eng.e), nullptr);
  EXPECT_EQ(sim_engine_schedule(eng.e, 5, first, 0, tag(0)), 0u);
  ASSERT_NE(sim_engine_error(eng.e), nullptr);
  EXPECT_NE(std::string(sim_engine_error(eng.e)).find("more than 1024 events pending"), std::string::npos);
  EXPECT_NE(std::string(sim_engine_error(eng.e)).find("knob: max_pending"), std::string::npos);
  EXPECT_EQ(sim_engine_run(eng.e), -1);
  EXPECT_TRUE(log.runs.empty());
}

TEST(Engine, BadKnobsAreRefused) {
  char err[256];
  sim_config cfg{};
  cfg.wheel_bits = 40;
  EXPECT_EQ(sim_engine_create(&cfg, err, sizeof err), nullptr);
  EXPECT_NE(std::string(err).find("wheel_bits 40"), std::string::npos);
  cfg = sim_config{};
  cfg.max_pending = UINT32_MAX;
  EXPECT_EQ(sim_engine_create(&cfg, err, sizeof err), nullptr);
  EXPECT_NE(std::string(err).find("max_pending"), std::string::npos);
}

TEST(EngineDeathTest, SchedulingIntoThePastStopsWithFileAndLine) {
  Engine eng;
  Log log;
  sim_entity first;
  sim_engine_add_type(eng.e, "rec", record, &log, 1, &first);
  sim_engine_schedule(eng.e, 10, first, 0, tag(0));
  sim_engine_run(eng.e);
  EXPECT_DEATH(sim_engine_schedule(eng.e, 9, first, 0, tag(0)), "engine.c:[0-9]+: internal error: .*before now");
  EXPECT_DEATH(sim_engine_schedule(eng.e, 11, first + 1, 0, tag(0)), "which no type owns");
}

TEST(Engine, MillionPendingEventsFitInUnder100MB) {
  Engine eng;
  Log log;
  sim_entity first;
  sim_engine_add_type(eng.e, "rec", record, &log, 1024, &first);
  std::mt19937_64 rng(3);
  for (uint32_t i = 0; i < 1000000; i++) sim_engine_schedule(eng.e, rng() % 100000, first + i % 1024, 0, tag(i));
  sim_stats st = sim_engine_stats(eng.e);
  EXPECT_EQ(st.pending, 1000000u);
  EXPECT_LT(st.bytes, 100u * 1000 * 1000) << st.bytes;
  std::printf("[ memory   ] 1M pending events: %.1f MB (pool %.1f MB)\n", st.bytes / 1e6,
              st.pool_events * 32 / 1e6);
}

TEST(Engine, TwoEnginesInOneProcessDoNotInteract) {
  Engine a, b;
  Log la, lb;
  sim_entity fa, fb;
  sim_engine_add_type(a.e, "rec", record, &la, 1, &fa);
  sim_engine_add_type(b.e, "rec", record, &lb, 2, &fb);
  sim_engine_schedule(a.e, 5, fa, 0, tag(1));
  sim_engine_schedule(b.e, 7, fb + 1, 0, tag(2));
  sim_engine_run_until(a.e, 6);
  EXPECT_EQ(sim_engine_now(b.e), 0u);
  sim_engine_run(b.e);
  EXPECT_EQ(la.runs.size(), 1u);
  EXPECT_EQ(lb.runs.size(), 1u);
  EXPECT_EQ(sim_engine_now(a.e), 6u);
  EXPECT_EQ(sim_engine_now(b.e), 7u);
}

// ---- the queue on its own ----

TEST(Queue, MatchesASortedReferenceUnderRandomInterleavings) {
  for (sim_queue_kind kind : {SIM_QUEUE_WHEEL, SIM_QUEUE_HEAP}) {
    sim_queue *q = sim_queue_create(kind, 6);
    std::mt19937_64 rng(11);
    std::vector<std::tuple<sim_time, uint64_t, uint32_t>> ref;  // (cycle, order, id)
    uint64_t order = 0;
    sim_time floor = 0;
    for (int step = 0; step < 200000; step++) {
      if (ref.empty() || rng() % 3 != 0) {
        const sim_time t = floor + (rng() % 4 == 0 ? rng() % 5000 : rng() % 70);
        const uint32_t id = (uint32_t)(rng() % 1000);
        ASSERT_EQ(sim_queue_push(q, t, id), 0);
        ref.emplace_back(t, order++, id);
        std::push_heap(ref.begin(), ref.end(), std::greater<>());
      } else {
        std::pop_heap(ref.begin(), ref.end(), std::greater<>());
        auto want = ref.back();
        ref.pop_back();
        sim_time t;
        uint32_t id;
        ASSERT_TRUE(sim_queue_pop(q, &t, &id));
        ASSERT_EQ(t, std::get<0>(want)) << sim_queue_kind_name(kind) << " step " << step;
        ASSERT_EQ(id, std::get<2>(want)) << sim_queue_kind_name(kind) << " step " << step;
        floor = t;
      }
      ASSERT_EQ(sim_queue_size(q), ref.size());
    }
    sim_queue_destroy(q);
  }
}

TEST(Queue, SequenceRenumberingKeepsTheOrder) {
  sim_queue *q = sim_queue_create(SIM_QUEUE_HEAP, 0);
  for (uint32_t i = 0; i < 100; i++) sim_queue_push(q, i % 7, i);
  sim_queue_set_sequence(q, (UINT64_C(1) << (64 - SIM_QUEUE_ID_BITS)) - 50);  // 50 before the limit
  for (uint32_t i = 100; i < 300; i++) sim_queue_push(q, i % 7, i);
  std::vector<std::pair<sim_time, uint32_t>> want;
  for (uint32_t i = 0; i < 300; i++) want.emplace_back(i % 7, i);
  std::stable_sort(want.begin(), want.end(), [](auto &a, auto &b) { return a.first < b.first; });
  for (auto &w : want) {
    sim_time t;
    uint32_t id;
    ASSERT_TRUE(sim_queue_pop(q, &t, &id));
    EXPECT_EQ(t, w.first);
    EXPECT_EQ(id, w.second);
  }
  sim_queue_destroy(q);
}

// ---- PHOLD ----

struct PholdRun {
  uint64_t trace, executed, scheduled, retired;
};
PholdRun run_phold(uint32_t n, uint64_t seed, sim_queue_kind kind, sim_time horizon) {
  Engine eng(with_queue(kind));
  bench_phold p{};
  p.entities = n;
  p.population = 2;
  p.mean = 10;
  p.horizon = horizon;
  p.seed = seed;
  p.trace_on = 1;
  EXPECT_EQ(bench_phold_setup(&p, eng.e), 0);
  // Conservation: every token is either in flight or retired, at every cycle
  // (a token retires when its next hop would pass the horizon).
  for (sim_time t = 50; t < horizon + 100; t += 50) {
    EXPECT_EQ(sim_engine_run_until(eng.e, t), 0);
    EXPECT_EQ(sim_engine_stats(eng.e).pending + p.retired, (uint64_t)n * 2) << "at cycle " << t;
    if (4 * t < horizon) {  // none yet: that needs a delay of 3/4 horizon, P ~ e^-150
      EXPECT_EQ(p.retired, 0u) << "at cycle " << t;
    }
  }
  EXPECT_EQ(sim_engine_run(eng.e), 0);
  sim_stats st = sim_engine_stats(eng.e);
  return {p.trace, st.executed, st.scheduled, p.retired};
}

TEST(Phold, ConservesItsPopulationAndEveryEvent) {
  PholdRun r = run_phold(1000, 1, SIM_QUEUE_WHEEL, 2000);
  EXPECT_EQ(r.retired, 2000u);  // every token retires exactly once
  EXPECT_EQ(r.executed, r.scheduled);
  // Each token runs about horizon / mean delay events.
  const double expect = 2000.0 * 2000 / bench_phold_mean_delay(10);
  EXPECT_NEAR((double)r.executed, expect, 0.02 * expect);
}

TEST(Phold, SameSeedSameTraceOnBothQueues) {
  PholdRun a = run_phold(4096, 42, SIM_QUEUE_WHEEL, 3000);
  PholdRun b = run_phold(4096, 42, SIM_QUEUE_WHEEL, 3000);
  PholdRun h = run_phold(4096, 42, SIM_QUEUE_HEAP, 3000);
  PholdRun other = run_phold(4096, 43, SIM_QUEUE_WHEEL, 3000);
  EXPECT_EQ(a.trace, b.trace);
  EXPECT_EQ(a.trace, h.trace);
  EXPECT_EQ(a.executed, h.executed);
  EXPECT_NE(a.trace, other.trace);
}

TEST(Phold, DelaysFollowTheGeometricLaw) {
  // Mean delay of 1 + floor(Exp(mean)) from the alias sampler, against the closed form.
  for (double mean : {0.5, 3.0, 10.0, 100.0}) {
    Engine eng;
    bench_phold p{};
    p.entities = 1;
    p.population = 20000;
    p.mean = mean;
    p.horizon = 0;  // every event retires at once: only the initial draws happen
    p.seed = 5;
    ASSERT_EQ(bench_phold_setup(&p, eng.e), 0);
    // Initial events sit at delay - 1: their mean cycle is the mean delay - 1.
    double sum = 0;
    auto add = [](const sim_engine *e, void *ctx) {
      *static_cast<double *>(ctx) += (double)sim_engine_now(e);
      return false;
    };
    ASSERT_EQ(sim_engine_run_until_done(eng.e, add, &sum), 0);
    const double got = sum / 20000 + 1, want = bench_phold_mean_delay(mean);
    const double sd = std::sqrt(std::exp(-1 / mean)) / (1 - std::exp(-1 / mean));  // geometric sd
    EXPECT_NEAR(got, want, 5 * sd / std::sqrt(20000.0)) << "mean " << mean;  // 5 sigma
  }
}

// ---- systolic mesh ----

TEST(Systolic, EndsAtItsClosedForm) {
  const struct {
    uint32_t n, k;
    sim_time c, t;
  } cases[] = {{2, 1, 0, 1}, {4, 10, 1000, 5}, {16, 3, 7, 40}, {8, 50, 2, 2}, {32, 5, 5000, 9000}};
  for (auto kind : {SIM_QUEUE_WHEEL, SIM_QUEUE_HEAP}) {
    for (const auto &c : cases) {
      Engine eng(with_queue(kind, 6));
      bench_systolic s{};
      s.n = c.n;
      s.rounds = c.k;
      s.compute = c.c;
      s.transfer = c.t;
      ASSERT_EQ(bench_systolic_setup(&s, eng.e), 0);
      ASSERT_EQ(sim_engine_run(eng.e), 0);
      EXPECT_EQ(s.end, c.k * (c.c + c.t)) << c.n << " " << c.k << " " << c.c << " " << c.t;
      EXPECT_EQ(s.messages, (uint64_t)c.n * c.n * c.k);
      EXPECT_EQ(sim_engine_stats(eng.e).executed, 2ull * c.n * c.n * c.k);
      bench_systolic_free(&s);
    }
  }
}

TEST(Systolic, SimGridReportsTheSameEndTime) {
  const std::string cmd = std::string(WS_BUILD_DIR) + "/bench/systolic_simgrid 8 7 13 40";
  FILE *p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char line[512] = "";
  ASSERT_NE(fgets(line, sizeof line, p), nullptr) << cmd;
  ASSERT_EQ(pclose(p), 0) << cmd;
  const char *at = std::strstr(line, "sim_end=");
  ASSERT_NE(at, nullptr) << line;
  const double simgrid_end = std::atof(at + 8);
  Engine eng;
  bench_systolic s{};
  s.n = 8;
  s.rounds = 7;
  s.compute = 13;
  s.transfer = 40;
  ASSERT_EQ(bench_systolic_setup(&s, eng.e), 0);
  ASSERT_EQ(sim_engine_run(eng.e), 0);
  EXPECT_NEAR(simgrid_end, (double)s.end, 1e-6) << line;
  EXPECT_EQ(s.end, 7u * (13 + 40));
  bench_systolic_free(&s);
}

}  // namespace
