// Where a stage's PEs sit idle between micro-batches (run.ops wait_inputs
// and wait_outputs, issue 19 item 2's question: why the simulated interval
// exceeds the placer's). Conservation, per PE: from its first compute's
// start to its core's last free cycle it either computes (busy) or waits;
// a PE whose micro-batch is one compute (a GEMM PE off its output row, whose
// bias add interleaves; every GELU and residual-add PE) waits only before a
// micro-batch, so busy + wait_in + wait_out is its span exactly, and no PE
// waits longer than its span leaves. The op rows are the PEs' means.
#include <gtest/gtest.h>

#include <string>

#include "kernels/pipeline.h"
#include "sim/run.h"
#include "ws_test.h"

namespace {

TEST(Waits, APeComputesOrWaitsAndTheOpRowsAreThePesMeans) {
  for (const char *sparsity : {"0", "0.75"}) {
    wstest::Simulated s;
    const ws_config c = wstest::config(wstest::tiny({std::string("workload.sparsity=") + sparsity}));
    ASSERT_TRUE(wstest::simulate_placed(c, s));
    uint32_t exact = 0, waited = 0;
    for (uint32_t i = 0; i < s.stages.size(); i++) {
      const krn_stage &st = s.stages[i];
      const krn_stage_stats ss = krn_pipe_stats(s.p, i);
      uint64_t in = 0, out = 0;
      for (uint32_t l = 0; l < ss.pes; l++) {
        const krn_pe_stats pe = krn_pipe_pe(s.p, i, l);
        const uint64_t span = pe.last - pe.first;
        EXPECT_LE(pe.busy + pe.wait_in + pe.wait_out, span) << st.name << " PE " << l;
        const bool one_compute = st.kind == KRN_STAGE_GELU || st.kind == KRN_STAGE_ADD ||
                                 (st.kind == KRN_STAGE_GEMM && l / st.region.w != krn_gemm_out_row(&st));
        if (one_compute) {
          EXPECT_EQ(pe.busy + pe.wait_in + pe.wait_out, span) << st.name << " PE " << l;
          exact++;
        }
        in += pe.wait_in;
        out += pe.wait_out;
        waited += pe.wait_in + pe.wait_out > 0;
      }
      EXPECT_EQ(ss.wait_in_sum, in) << st.name;
      EXPECT_EQ(ss.wait_out_sum, out) << st.name;
    }
    EXPECT_GT(exact, 1000u);  /* the exact case is most of the PEs */
    EXPECT_GT(waited, 1000u); /* and the pipeline does wait (its interval exceeds its busiest PE's) */
  }
  // the run's op rows: the means over each op's PEs
  wstest::RunPtr r = wstest::simulate(wstest::config(wstest::tiny()));
  wstest::Simulated s;
  ASSERT_TRUE(r && wstest::simulate_placed(wstest::config(wstest::tiny()), s));
  for (uint32_t i = 0; i < ws_run_op_count(r.get()); i++) {
    const ws_run_op *o = ws_run_op_at(r.get(), i);
    const krn_stage_stats ss = krn_pipe_stats(s.p, i);
    EXPECT_DOUBLE_EQ(o->wait_inputs, (double)ss.wait_in_sum / ss.pes) << o->name;
    EXPECT_DOUBLE_EQ(o->wait_outputs, (double)ss.wait_out_sum / ss.pes) << o->name;
  }
}

}  // namespace

namespace {

// Where cycles - fill_cycles goes (run.h, schema 7): micro-batches entering
// the pipeline (entry_interval, from each one's first compute at an entry
// stage) and the last one's longer crossing (tail_cycles). On tiny, dense
// and sparse, at 16 and 8 tokens a micro-batch: entered(first) and
// entered(last) read from the pipeline give the split exactly, and the
// totals agree within rounding; the last micro-batch crosses more slowly
// than the first (its attention has the whole sequence's keys, and the
// micro-batches ahead of it queue); each micro-batch enters no earlier than
// the one before. With sim.strategy: bound both are 0.
TEST(Waits, CyclesAfterTheFillAreTheEntriesAndTheLastOnesLongerCrossing) {
  for (const char *sparsity : {"0", "0.75"})
    for (const char *b : {"16", "8"}) {
      const ws_config c = wstest::config(
          wstest::tiny({std::string("workload.sparsity=") + sparsity, std::string("workload.micro_batch=") + b}));
      wstest::Simulated s;
      ASSERT_TRUE(wstest::simulate_placed(c, s));
      const uint32_t mbs = (uint32_t)(c.workload.seq_len / c.workload.micro_batch);
      for (uint32_t m = 1; m < mbs; m++) EXPECT_GE(krn_pipe_entered(s.p, m), krn_pipe_entered(s.p, m - 1)) << m;
      const int64_t in0 = (int64_t)krn_pipe_entered(s.p, 0), in1 = (int64_t)krn_pipe_entered(s.p, mbs - 1);
      wstest::RunPtr r = wstest::simulate(c);
      ASSERT_TRUE(r);
      const ws_run_totals *t = ws_run_totals_of(r.get());
      EXPECT_EQ((int64_t)t->cycles - (int64_t)t->fill_cycles, in1 - in0 + t->tail_cycles) << sparsity << " " << b;
      EXPECT_EQ(t->entry_interval, (uint64_t)(in1 - in0) / (mbs - 1));
      EXPECT_GT(t->tail_cycles, 0) << sparsity << " " << b;
      const double per_mb = (double)(t->cycles - t->fill_cycles) / (mbs - 1);
      EXPECT_NEAR(per_mb, (double)t->entry_interval + (double)t->tail_cycles / (mbs - 1), 1.0);
      EXPECT_NEAR((double)t->steady_interval, per_mb, 1.0);
    }
  wstest::RunPtr bound = wstest::simulate(wstest::config(wstest::tiny({"sim.strategy=bound"})));
  ASSERT_TRUE(bound);
  EXPECT_EQ(ws_run_totals_of(bound.get())->entry_interval, 0u);
  EXPECT_EQ(ws_run_totals_of(bound.get())->tail_cycles, 0);
}

}  // namespace
