// workload.batch (issue 19, item 4): several sequences in one prefill, one
// after another through the pipeline, each attending only to itself. The
// physics asserted, on tiny-dense's model: every PE's work is the sum of its
// sequences' (each the same), so the run's MACs, each op's busiest PE and
// the bound are exactly B times one sequence's; the pipeline fills once, so
// B sequences take more than one and less than B runs of one; functional
// mode matches each sequence's logits with its own reference forward pass,
// and the first sequence's logits are those of a batch of one to within
// rounding (a reduction adds its partial sums in the order they arrive, and
// the later sequence's traffic may reorder them); bad values are refused
// naming the key.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "sim/cli.h"
#include "sim/run.h"
#include "ws_test.h"

namespace {

using wstest::RunPtr;
using wstest::simulate;
using wstest::tiny;

RunPtr batch_run(uint32_t batch, const std::vector<std::string> &more = {}) {
  std::vector<std::string> sets = tiny(more);
  sets.push_back("workload.batch=" + std::to_string(batch));
  return simulate(wstest::config(sets));
}

TEST(Batch, SequencesShareOneFillAndAddTheirWork) {
  for (const char *sparsity : {"0", "0.75"}) {
    const std::string sp = std::string("workload.sparsity=") + sparsity;
    RunPtr one = batch_run(1, {sp}), three = batch_run(3, {sp});
    ASSERT_TRUE(one && three);
    const ws_run_totals *a = ws_run_totals_of(one.get()), *c = ws_run_totals_of(three.get());
    EXPECT_EQ(a->batch, 1u);
    EXPECT_EQ(c->batch, 3u);
    EXPECT_EQ(c->micro_batches, 3 * a->micro_batches);
    // the work: exactly three sequences' (the same placement: batch changes no stage's shape here)
    EXPECT_EQ(c->macs, 3 * a->macs) << sparsity;
    EXPECT_EQ(c->flops_dense, 3 * a->flops_dense);
    EXPECT_EQ(c->flops_executed, 3 * a->flops_executed);
    ASSERT_EQ(ws_run_op_count(one.get()), ws_run_op_count(three.get()));
    for (uint32_t i = 0; i < ws_run_op_count(one.get()); i++) {
      const ws_run_op *x = ws_run_op_at(one.get(), i), *y = ws_run_op_at(three.get(), i);
      ASSERT_EQ(std::memcmp(&x->region, &y->region, sizeof x->region), 0) << x->name;
      EXPECT_EQ(y->busy_max, 3 * x->busy_max) << x->name;
      EXPECT_EQ(y->macs, 3 * x->macs) << x->name;
    }
    // the wafer's bound: three sequences' work spread over the mesh (each rounded up once)
    EXPECT_LE(c->bound_cycles_wafer, 3 * a->bound_cycles_wafer);
    EXPECT_GE(c->bound_cycles_wafer + 2, 3 * a->bound_cycles_wafer);
    // one fill for all: slower than one sequence, faster than three in turn, never below the bounds
    EXPECT_GT(c->cycles, a->cycles);
    EXPECT_LT(c->cycles, 3 * a->cycles) << sparsity;
    EXPECT_GE(c->cycles, c->bound);
    EXPECT_GE(c->cycles, c->bound_cycles_wafer);
    EXPECT_GT(c->tokens_per_s, a->tokens_per_s);
    EXPECT_DOUBLE_EQ(c->tokens_per_s, 3.0 * 128 / c->seconds);
    EXPECT_GT(c->bound_fraction, a->bound_fraction);
  }
}

TEST(Batch, EachSequenceAttendsOnlyToItself) {
  RunPtr one = batch_run(1, {"sim.functional=true"}), two = batch_run(2, {"sim.functional=true"});
  ASSERT_TRUE(one && two);
  const ws_functional_result *f1 = ws_run_functional(one.get()), *f2 = ws_run_functional(two.get());
  ASSERT_TRUE(f1 && f2);
  EXPECT_TRUE(f1->ok) << f1->max_error;
  EXPECT_TRUE(f2->ok) << f2->max_error << " at token " << f2->worst_token;
  const size_t V = 256, seq = 128;
  EXPECT_EQ(f2->logits, 2 * seq * V);
  const float *l1 = ws_run_logits(one.get()), *l2 = ws_run_logits(two.get());
  ASSERT_TRUE(l1 && l2);
  // sequence 0 is the batch of one's (to rounding); sequence 1 has other tokens, so other logits
  double same = 0, other = 0;
  for (size_t e = 0; e < seq * V; e++) {
    same = std::max(same, (double)std::fabs(l1[e] - l2[e]));
    other = std::max(other, (double)std::fabs(l2[e] - l2[seq * V + e]));
  }
  EXPECT_LE(same, f1->tolerance);
  EXPECT_GT(other, 100 * f1->tolerance);
}

TEST(Batch, TheBoundCountsEverySequence) {
  RunPtr one = batch_run(1, {"sim.strategy=bound"}), four = batch_run(4, {"sim.strategy=bound"});
  ASSERT_TRUE(one && four);
  const ws_run_totals *a = ws_run_totals_of(one.get()), *d = ws_run_totals_of(four.get());
  EXPECT_LE(d->cycles, 4 * a->cycles);
  EXPECT_GE(d->cycles + 4, 4 * a->cycles);
  EXPECT_EQ(d->cycles, d->bound_cycles_wafer);
  EXPECT_DOUBLE_EQ(d->flops_executed, 4 * a->flops_executed);
}

TEST(Batch, BadValuesAreRefusedNamingTheKey) {
  const std::string tiny_yaml = wstest::source_path("tests/expected/tiny-dense.yaml");
  for (const auto &[value, want] : std::vector<std::pair<std::string, std::string>>{
           {"0", "workload.batch: expected an integer in [1, 4096], got '0'"},
           {"two", "workload.batch: expected an integer in [1, 4096], got 'two'"},
           {"4096", "workload.batch: 4096 sequences of workload.seq_len = 8192 tokens are 33554432 tokens, at most "
                    "16777216"}}) {
    std::vector<std::string> args = {"run", tiny_yaml, "--set", "workload.batch=" + value};
    if (value == "4096")
      args.insert(args.end(), {"--set", "model.context=8192", "--set", "workload.seq_len=8192"});
    const wstest::CliResult r = wstest::run_cli(args);
    EXPECT_EQ(r.status, WS_EXIT_BAD_INPUT) << value << ": " << r.err;
    EXPECT_NE(r.err.find(want), std::string::npos) << value << ": " << r.err;
  }
}

}  // namespace
