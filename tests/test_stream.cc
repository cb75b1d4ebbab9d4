// Training and weight streaming (workload.phase: train, sim.strategy:
// stream, the system section on SimGrid) on the tiny model: with no limit
// anywhere the step is the layers' simulated compute, each op's backward
// its forward times its factor; a slow store link makes the step its bytes
// over the link; FLOPs of a step are 3 x the forward's, sparse weights at
// their nonzeros in all three; sparsity cuts the bytes streamed; wafers
// share the batch; the bound charges 3 x; reruns are byte-identical; every
// new error names its key.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "sim/run.h"
#include "ws_json.h"
#include "ws_test.h"

namespace {

// The tiny model training 8 sequences of 32 tokens by weight streaming.
std::vector<std::string> train(const std::vector<std::string> &more = {}) {
  std::vector<std::string> s = wstest::tiny({"sim.strategy=stream", "workload.phase=train", "workload.seq_len=32",
                                             "workload.batch=8"});
  s.insert(s.end(), more.begin(), more.end());
  return s;
}

const std::vector<std::string> kUnlimited = {"system.store_bandwidth=inf", "system.store_link=inf",
                                             "system.link_bandwidth=inf", "system.link_latency=0"};

std::vector<std::string> plus(std::vector<std::string> a, const std::vector<std::string> &b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

bool backward_twice(const ws_run_op *o) {
  const std::string k = o->kernel ? o->kernel : "";
  return k == "sparse" || k == "dense" || k == "mixed" || std::string(o->kind) == "attention";
}

// The wafer's compute over the step from the op rows: each row's span and the gap before it (its slot), the
// forward once and the backward x its factor, a block's rows for every block, every pass.
double compute_from_rows(const ws_run *r, uint32_t blocks, uint32_t passes, double clock) {
  double cycles = 0;
  uint64_t prev = 0;
  for (uint32_t i = 0; i < ws_run_op_count(r); i++) {
    const ws_run_op *o = ws_run_op_at(r, i);
    const uint64_t end = o->first + o->cycles;
    const double slot = (double)(end - prev);
    prev = end;
    cycles += slot * (1 + (backward_twice(o) ? 2 : 1)) * (o->layer >= 0 ? blocks : 1);
  }
  return cycles * passes / clock;
}

TEST(Stream, UnlimitedSystemStepIsTheLayersCompute) {
  wstest::RunPtr r = wstest::simulate(wstest::config(plus(train({"system.micro_batch=4"}), kUnlimited)));
  ASSERT_TRUE(r);
  const ws_run_totals *t = ws_run_totals_of(r.get());
  EXPECT_STREQ(t->strategy, "stream");
  EXPECT_EQ(t->micro_batches, 2u); // 8 sequences in passes of 4
  EXPECT_EQ(t->micro_batch, 4u * 32);
  EXPECT_EQ(t->layer_runs, 1u);    // both blocks dense: one wafer simulation
  const double compute = compute_from_rows(r.get(), 2, 2, 1.1e9);
  EXPECT_NEAR(t->sys.compute_s, compute, 1e-9 * compute);
  EXPECT_NEAR(t->sys.step_s, t->sys.compute_s, 1e-6 * t->sys.compute_s);
  EXPECT_NEAR(t->seconds, t->sys.step_s, 1e-9);
  EXPECT_STREQ(t->sys.bound_by, "compute");
}

// Blocks of different sparsity are simulated apart, each standing for its own; blocks of the same level share one.
TEST(Stream, OneWaferSimulationPerDistinctBlock) {
  wstest::RunPtr one = wstest::simulate(wstest::config(train({"workload.sparsity=0.5"})));
  wstest::RunPtr two = wstest::simulate(wstest::config(train({"workload.sparsity=0.5", "workload.sparsity_by_layer.1=0.9"})));
  ASSERT_TRUE(one && two);
  EXPECT_EQ(ws_run_totals_of(one.get())->layer_runs, 1u);
  EXPECT_EQ(ws_run_totals_of(two.get())->layer_runs, 2u);
  int l0 = 0, l1 = 0;
  for (uint32_t i = 0; i < ws_run_op_count(two.get()); i++) {
    const std::string name = ws_run_op_at(two.get(), i)->name;
    l0 += name == "L0.ffn_up";
    l1 += name == "L1.ffn_up";
  }
  EXPECT_EQ(l0, 1);
  EXPECT_EQ(l1, 1);
  // the sparser second block streams fewer bytes and sends fewer gradients
  EXPECT_LT(ws_run_totals_of(two.get())->sys.stream_bytes, ws_run_totals_of(one.get())->sys.stream_bytes);
  EXPECT_LT(ws_run_totals_of(two.get())->sys.grad_bytes, ws_run_totals_of(one.get())->sys.grad_bytes);
}

TEST(Stream, SlowStoreLinkStepIsBytesOverBandwidth) {
  // a prefill streams every layer's weights once; 4 store hosts at 10 MB/s each, nothing else limited
  wstest::RunPtr r = wstest::simulate(wstest::config(plus(
      train({"workload.phase=prefill", "system.store_hosts=4"}),
      {"system.store_bandwidth=inf", "system.store_link=10 MB/s", "system.link_bandwidth=inf", "system.link_latency=0"})));
  ASSERT_TRUE(r);
  const ws_run_totals *t = ws_run_totals_of(r.get());
  const double expect = t->sys.stream_bytes / (4 * 10e6);
  EXPECT_GT(expect, 100 * t->sys.compute_s); // the stream is the step
  EXPECT_NEAR(t->sys.step_s, expect, 1e-3 * expect);
  EXPECT_STREQ(t->sys.bound_by, "store");
  EXPECT_EQ(t->sys.grad_bytes, 0); // a prefill sends no gradients
}

TEST(Stream, TrainingFlopsAreThreeForwardsSparseAtTheirNonzeros) {
  for (const char *sp : {"workload.sparsity=0", "workload.sparsity=0.75"}) {
    wstest::RunPtr tr = wstest::simulate(wstest::config(train({sp})));
    wstest::RunPtr fw = wstest::simulate(wstest::config(train({sp, "workload.phase=prefill"})));
    ASSERT_TRUE(tr && fw);
    const ws_run_totals *a = ws_run_totals_of(tr.get()), *b = ws_run_totals_of(fw.get());
    EXPECT_DOUBLE_EQ(a->flops_dense, 3 * b->flops_dense) << sp;
    EXPECT_DOUBLE_EQ(a->flops_executed, 3 * b->flops_executed) << sp;
    EXPECT_DOUBLE_EQ(a->sys.stream_bytes, 2 * b->sys.stream_bytes) << sp; // the weights again for the backward
    EXPECT_GT(a->sys.grad_bytes, 0) << sp;
  }
}

TEST(Stream, SparsityCutsTheBytesStreamed) {
  wstest::RunPtr d = wstest::simulate(wstest::config(train()));
  wstest::RunPtr s = wstest::simulate(wstest::config(train({"workload.sparsity=0.75"})));
  ASSERT_TRUE(d && s);
  const ws_run_totals *a = ws_run_totals_of(d.get()), *b = ws_run_totals_of(s.get());
  // a sparsifiable weight: 2 bytes dense, 4 a nonzero at a quarter of them: half; the rest unchanged
  EXPECT_LT(b->sys.stream_bytes, a->sys.stream_bytes);
  EXPECT_GT(b->sys.stream_bytes, 0.5 * a->sys.stream_bytes);
  EXPECT_LT(b->sys.grad_bytes, a->sys.grad_bytes); // gradients only at the kept weights
  EXPECT_LT(b->flops_executed, a->flops_executed);
}

TEST(Stream, WafersShareTheBatch) {
  // no limit anywhere, a sequence a pass: each wafer's compute is the batch's over the wafers
  double one = 0;
  for (const char *w : {"1", "2", "4", "8"}) {
    wstest::RunPtr r = wstest::simulate(
        wstest::config(plus(train({std::string("system.wafers=") + w, "system.micro_batch=1"}), kUnlimited)));
    ASSERT_TRUE(r);
    const ws_run_totals *t = ws_run_totals_of(r.get());
    EXPECT_EQ(t->wafers, (uint32_t)std::stoi(w));
    EXPECT_EQ(t->micro_batches, 8u / t->wafers);
    if (t->wafers == 1) one = t->sys.step_s;
    EXPECT_NEAR(t->sys.step_s * t->wafers, one, 1e-5 * one) << w << " wafers"; // "no limit" is 1 PB/s a hop
  }
}

TEST(Stream, WafersNeverScaleBeyondLinearAndTheStreamCapsThem) {
  // the default system: the stream into every wafer is the whole model's, the compute its share of the batch
  double one = 0;
  for (const char *w : {"1", "2", "4", "8"}) {
    wstest::RunPtr r = wstest::simulate(wstest::config(train({std::string("system.wafers=") + w})));
    ASSERT_TRUE(r);
    const ws_run_totals *t = ws_run_totals_of(r.get());
    if (t->wafers == 1) one = t->sys.step_s;
    EXPECT_GE(t->sys.step_s * t->wafers, one * (1 - 1e-9)) << w << " wafers: faster than linear";
    EXPECT_GE(t->sys.step_s, t->sys.stream_s) << w;
    EXPECT_GE(t->sys.step_s, t->sys.compute_s) << w;
  }
}

TEST(Stream, BoundChargesThreeForwards) {
  wstest::RunPtr tr = wstest::simulate(wstest::config(train({"sim.strategy=bound"})));
  wstest::RunPtr fw = wstest::simulate(wstest::config(train({"sim.strategy=bound", "workload.phase=prefill"})));
  ASSERT_TRUE(tr && fw);
  const uint64_t a = ws_run_totals_of(tr.get())->cycles, b = ws_run_totals_of(fw.get())->cycles;
  EXPECT_GE(a, 3 * b - 3);
  EXPECT_LE(a, 3 * b);
  // the stream's share of it: the bound over its wafers
  wstest::RunPtr s = wstest::simulate(wstest::config(train()));
  ASSERT_TRUE(s);
  EXPECT_EQ(ws_run_totals_of(s.get())->bound_cycles_wafer, a);
  EXPECT_LT(ws_run_totals_of(s.get())->bound_fraction, 1.0);
}

TEST(Stream, AutoTrainsByStreaming) {
  std::vector<std::string> sets = train();
  sets.push_back("sim.strategy=auto");
  wstest::RunPtr r = wstest::simulate(wstest::config(sets));
  ASSERT_TRUE(r);
  EXPECT_STREQ(ws_run_totals_of(r.get())->strategy, "stream");
}

TEST(Stream, RerunsAreByteIdentical) {
  wstest::Json s(wstest::output_schema());
  std::string text[2];
  for (int i = 0; i < 2; i++) {
    std::vector<std::string> args = {"run", "--format", "json"};
    for (const auto &kv : train({"workload.sparsity=0.5", "system.wafers=2"})) args.push_back("--set"), args.push_back(kv);
    auto r = wstest::run_cli(args);
    ASSERT_EQ(r.status, 0) << r.err;
    json_error_t je;
    wstest::Json d(json_loads(r.out.c_str(), 0, &je));
    ASSERT_NE(d.j, nullptr) << je.text;
    wstest::strip_host(s.j, s.j, d.j);
    char *t = json_dumps(d.j, JSON_REAL_PRECISION(17));
    text[i] = t;
    free(t);
  }
  EXPECT_EQ(text[0], text[1]);
  EXPECT_EQ(text[0].find("system_wall_s"), std::string::npos) << "host fields stripped";
}

// Each error names the key and what was expected.
TEST(Stream, ErrorsNameTheirKeys) {
  const struct {
    std::vector<std::string> sets;
    const char *needle;
  } cases[] = {
      {{"sim.strategy=pipeline"}, "sim.strategy: pipeline runs no backward pass"},
      {{"sim.strategy=layerwise"}, "sim.strategy: layerwise runs no backward pass"},
      {{"workload.phase=decode", "workload.new_tokens=2"}, "sim.strategy: stream runs workload.phase train or prefill"},
      {{"system.wafers=3"}, "system.wafers: 3 wafers do not divide workload.batch = 8"},
      {{"system.micro_batch=3"}, "system.micro_batch: 3 sequences do not divide a wafer's 8"},
      {{"sim.strategy=pipeline", "workload.phase=prefill", "system.wafers=2"}, "system.wafers: 2 wafers need sim.strategy: stream"},
      {{"system.link_bandwidth=fast"}, "system.link_bandwidth"},
      {{"system.link_latency=1 parsec"}, "system.link_latency"},
  };
  for (const auto &c : cases) {
    ws_config cfg;
    char err[WS_CONFIG_ERR_MAX] = "";
    ASSERT_EQ(ws_config_init_default(&cfg, err, sizeof err), 0) << err;
    int rc = 0;
    for (const auto &kv : plus(train(), c.sets))
      if ((rc = ws_config_set(&cfg, kv.c_str(), err, sizeof err)) != 0) break;
    if (rc == 0) rc = ws_config_finish(&cfg, err, sizeof err);
    EXPECT_NE(rc, 0) << c.needle;
    EXPECT_NE(std::string(err).find(c.needle), std::string::npos) << err;
  }
}

TEST(Stream, AStepOfTooManyCommunicationsIsRefusedBeforeTheWork) {
  // 1 KB chunks of GPT-3 1.3B's weights: hundreds of millions of communications
  ws_config cfg = wstest::config({"sim.strategy=stream", "workload.phase=train", "system.chunk=1 KiB"});
  char err[1024] = "";
  ws_run *r = ws_run_simulate(&cfg, nullptr, nullptr, err, sizeof err);
  EXPECT_EQ(r, nullptr);
  ws_run_destroy(r);
  EXPECT_NE(std::string(err).find("a larger system.chunk or system.micro_batch"), std::string::npos) << err;
}

TEST(Stream, ActivationsThatDoNotFitAreAnError) {
  // 8 sequences a pass on a 16 x 16 mesh: what the backward keeps cannot fit
  ws_config cfg =
      wstest::config(train({"fabric.width=16", "fabric.height=16", "workload.seq_len=128", "system.micro_batch=8"}));
  char err[1024] = "";
  ws_run *r = ws_run_simulate(&cfg, nullptr, nullptr, err, sizeof err);
  EXPECT_EQ(r, nullptr);
  ws_run_destroy(r);
  EXPECT_NE(std::string(err).find("system.micro_batch"), std::string::npos) << err;
}

}  // namespace
