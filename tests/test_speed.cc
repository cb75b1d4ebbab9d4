// Speed without a different answer: a transfer nobody waits for ends without
// a callback (and without an event) at the same cycle; the simulator's own
// work (x-cost: events, sim_bytes) is compared by check only with --cost.
#include <gtest/gtest.h>
#include <jansson.h>

#include <string>
#include <vector>

#include "fabric/collective.h"
#include "fabric/fabric.h"
#include "sim/engine/engine.h"
#include "ws_test.h"

namespace {

using wstest::run_cli;
using wstest::source_path;

struct Done {
  std::vector<fab_xfer> ids;
};
void on_done(void *ctx, fab_xfer id, uint64_t) { static_cast<Done *>(ctx)->ids.push_back(id); }

struct Outcome {
  std::vector<uint64_t> done;  // per member, its cycle
  std::vector<fab_xfer> called;
  uint64_t events = 0, last = 0;
};

// A 6-member chain along a row, each member ready at a different cycle.
Outcome chain(fab_fidelity fid, bool quiet) {
  Outcome o;
  char err[256] = "";
  sim_engine *e = sim_engine_create(nullptr, err, sizeof err);
  fab_config c = wstest::fabric_config(fid, 8, 2);
  fab_fabric *f = fab_create(e, &c, err, sizeof err);
  EXPECT_NE(f, nullptr) << err;
  Done d;
  fab_on_done(f, on_done, &d);
  fab_coll *plan = fab_coll_chain(f, fab_at(8, 0, 1), fab_at(8, 5, 1), err, sizeof err);
  EXPECT_NE(plan, nullptr) << err;
  const uint32_t members = fab_coll_members(plan);
  std::vector<fab_xfer> x(members);
  fab_round r{};
  r.n = 9;
  r.ready = FAB_LATER;
  r.quiet = quiet;
  EXPECT_EQ(fab_coll_round(f, plan, &r, x.data(), err, sizeof err), 0) << err;
  for (uint32_t i = 0; i < members; i++) fab_ready(f, x[i], 3 * (members - i));
  EXPECT_EQ(sim_engine_run(e), 0);
  EXPECT_EQ(fab_check_finished(f, err, sizeof err), 0) << err;
  for (uint32_t i = 0; i < members; i++) o.done.push_back(fab_done(f, x[i]));
  for (fab_xfer id : d.ids)
    for (uint32_t i = 0; i < members; i++)
      if (id == x[i]) o.called.push_back(i);
  o.events = sim_engine_stats(e).executed;
  o.last = fab_stats_get(f).last_cycle;
  EXPECT_EQ(fab_coll_result(plan), members - 1);
  fab_coll_destroy(plan);
  fab_destroy(f);
  sim_engine_destroy(e);
  return o;
}

class SpeedFidelity : public ::testing::TestWithParam<fab_fidelity> {};
INSTANTIATE_TEST_SUITE_P(Both, SpeedFidelity, ::testing::Values(FAB_WAVELET, FAB_TRAIN),
                         [](const auto &p) { return std::string(fab_fidelity_name(p.param)); });

TEST_P(SpeedFidelity, QuietMembersEndAtTheSameCyclesWithoutCallbacksOrEvents) {
  const Outcome loud = chain(GetParam(), false), quiet = chain(GetParam(), true);
  EXPECT_EQ(loud.done, quiet.done) << "the same timing";
  EXPECT_EQ(loud.last, quiet.last);
  ASSERT_EQ(loud.called.size(), loud.done.size()) << "every member reported";
  ASSERT_EQ(quiet.called.size(), 1u) << "only the result's end reported";
  EXPECT_EQ(quiet.called[0], loud.done.size() - 1);
  EXPECT_EQ(quiet.events + (loud.done.size() - 1), loud.events) << "one event fewer per quiet member";
}

// The engine's prefetcher is a hint: a run calls it and executes the same
// events in the same order as without it.
struct Order {
  std::vector<uint64_t> seen;  // payload.a of each event, in execution order
  uint64_t hints = 0;
};
void record(sim_engine *e, void *ctx, const sim_event *ev) {
  auto *o = static_cast<Order *>(ctx);
  o->seen.push_back(ev->payload.a);
  if (ev->payload.a % 3 == 0 && o->seen.size() < 5000)  // some events schedule more, same and later cycles
    sim_engine_schedule_in(e, ev->payload.a % 2, ev->entity, 0, {ev->payload.a + 1000, 0});
}
void hint(const void *ctx, const sim_event *ev) {
  auto *o = const_cast<Order *>(static_cast<const Order *>(ctx));
  ASSERT_EQ(ev->kind, 0);
  o->hints++;
}

Order run_with(bool prefetch) {
  Order o;
  char err[256] = "";
  sim_engine *e = sim_engine_create(nullptr, err, sizeof err);
  sim_entity first = 0;
  EXPECT_EQ(sim_engine_add_type(e, "t", record, &o, 64, &first), 0);
  if (prefetch) {
    EXPECT_EQ(sim_engine_set_prefetch(e, first + 10, hint), 0);
  }
  EXPECT_EQ(sim_engine_set_prefetch(e, first + 64, hint), -1) << "no type owns it";
  for (uint64_t i = 0; i < 400; i++) sim_engine_schedule(e, i % 7, first + (uint32_t)(i % 64), 0, {i, 0});
  EXPECT_EQ(sim_engine_run(e), 0);
  sim_engine_destroy(e);
  return o;
}

TEST(EnginePrefetch, AHintThatChangesNothing) {
  const Order plain = run_with(false), hinted = run_with(true);
  EXPECT_EQ(plain.seen, hinted.seen);
  EXPECT_GT(plain.seen.size(), 400u);
  EXPECT_EQ(plain.hints, 0u);
  EXPECT_GT(hinted.hints, 100u);
}

TEST(CostFigures, ComparedOnlyWithCost) {
  const std::string base = source_path("tests/expected/tiny-dense.json");
  json_error_t je;
  json_t *doc = json_load_file(base.c_str(), 0, &je);
  ASSERT_NE(doc, nullptr) << je.text;
  json_t *tot = json_object_get(json_object_get(doc, "run"), "totals");
  const json_int_t events = json_integer_value(json_object_get(tot, "events"));
  json_object_set_new(tot, "events", json_integer(events / 2));
  char *text = json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
  const std::string now = wstest::write_temp("cost-now.json", text);
  free(text);
  json_decref(doc);
  auto r = run_cli({"check", "--baseline", base, now});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("0 of "), std::string::npos) << r.out;
  r = run_cli({"check", "--baseline", base, now, "--cost"});
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("events"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 of "), std::string::npos) << r.out;
}

}  // namespace
