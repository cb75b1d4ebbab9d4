// Decode and generate (workload.phase decode, generate) on the layer-by-layer
// strategy (a step of one new token a sequence after a prompt in the KV
// cache, every GEMV on the whole mesh, attention against the cache) and on
// the pipeline (a token a micro-batch through the placed stages). The
// tests check the timing invariants: the steps add up to the run (time per
// output token x steps = seconds), a longer context never makes a step
// faster, the run is never below the bound strategy's decode bound; the
// work: each GEMV executes exactly its weights' nonzeros x the sequences,
// attention keys x head size x 2 per head; the KV cache: its bytes a PE in
// closed form, and a cache that does not fit is an error naming the keys
// to change; generate = the prefill and then the decode; determinism.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "sim/run.h"
#include "ws_test.h"

namespace {

std::vector<std::string> decode(const std::vector<std::string> &more = {}) {
  std::vector<std::string> s = wstest::tiny({"sim.strategy=layerwise", "workload.phase=decode",
                                             "workload.seq_len=64", "workload.new_tokens=6"});
  s.insert(s.end(), more.begin(), more.end());
  return s;
}

bool is_gemv(const std::string &kind) {
  return kind == "q" || kind == "k" || kind == "v" || kind == "attn_out" || kind == "ffn_up" ||
         kind == "ffn_down" || kind == "lm_head";
}

TEST(Decode, StepsAddUpToTheRun) {
  wstest::RunPtr r = wstest::simulate(wstest::config(decode()));
  ASSERT_TRUE(r);
  const ws_run_totals *t = ws_run_totals_of(r.get());
  EXPECT_EQ(t->steps, 6u);
  EXPECT_STREQ(t->strategy, "layerwise");
  EXPECT_NEAR(t->tpot_s * t->steps, t->seconds, 1e-12 * t->seconds + 1e-15);
  EXPECT_GE(t->tpot_max_s, t->tpot_s);
  EXPECT_DOUBLE_EQ(t->ttft_s, (double)t->fill_cycles / 1.1e9);
  // the first step attends to the fewest keys: never the slowest
  EXPECT_LE(t->fill_cycles, t->step_cycles_max);
  EXPECT_LE(t->fill_cycles, t->cycles / t->steps + 1);
  EXPECT_DOUBLE_EQ(t->tokens_per_s, 6 / t->seconds);  // one sequence: 6 new tokens
  EXPECT_DOUBLE_EQ(t->tokens_per_s_per_seq, t->tokens_per_s);
}

TEST(Decode, ALongerContextNeverMakesAStepFaster) {
  uint64_t last = 0;
  for (const char *prompt : {"8", "32", "96"}) {
    wstest::RunPtr r = wstest::simulate(wstest::config(decode({std::string("workload.seq_len=") + prompt,
                                                               "workload.new_tokens=2"})));
    ASSERT_TRUE(r);
    const uint64_t step = ws_run_totals_of(r.get())->step_cycles_max;
    EXPECT_GE(step, last) << "prompt " << prompt;
    last = step;
  }
}

TEST(Decode, NeverBelowTheBoundsDecodeBound) {
  for (const char *sp : {"0", "0.75"}) {
    const std::string s = std::string("workload.sparsity=") + sp;
    wstest::RunPtr lw = wstest::simulate(wstest::config(decode({s})));
    wstest::RunPtr bd = wstest::simulate(wstest::config(decode({s, "sim.strategy=bound"})));
    ASSERT_TRUE(lw && bd);
    const ws_run_totals *l = ws_run_totals_of(lw.get()), *b = ws_run_totals_of(bd.get());
    EXPECT_EQ(l->bound_cycles_wafer, b->cycles) << sp;
    EXPECT_GT(l->cycles, b->cycles) << sp;
    EXPECT_LE(l->bound_fraction, 1.0);
    EXPECT_EQ(b->steps, 6u);
  }
}

// Each GEMV of a step multiplies one token a sequence by its weights: on the
// sparse kernel exactly the nonzeros (nnz_mean x the copy's tiles x copies of
// its tokens), on the dense kernel every weight.
TEST(Decode, EachGemvExecutesItsNonzerosTimesTheSequences) {
  for (const char *kernel : {"sparse", "dense"}) {
    wstest::RunPtr r = wstest::simulate(wstest::config(
        decode({"workload.sparsity=0.75", "workload.batch=2", std::string("kernels.kernel=") + kernel})));
    ASSERT_TRUE(r);
    const ws_run_totals *t = ws_run_totals_of(r.get());
    uint32_t gemvs = 0;
    for (uint32_t i = 0; i < ws_run_op_count(r.get()); i++) {
      const ws_run_op *o = ws_run_op_at(r.get(), i);
      if (!is_gemv(o->kind)) continue;
      gemvs++;
      const uint64_t copies = o->pes / ((uint64_t)o->region.w * o->region.h);
      const double nnz = o->nnz_mean * o->region.w * o->region.h;  // one copy's weight
      if (std::string(kernel) == "sparse")
        EXPECT_NEAR((double)o->macs, nnz * 2, 0.5) << o->name;  // 2 sequences, one token each
      else
        EXPECT_GE((double)o->macs, nnz * 2) << o->name;
      EXPECT_EQ(o->macs % 2, 0u) << o->name << ": " << copies << " copies";
    }
    EXPECT_EQ(gemvs, 2u * 6 + 1);
    EXPECT_EQ(t->batch, 2u);
  }
}

TEST(Decode, AttentionScoresEveryKeyOfEveryStep) {
  wstest::RunPtr r = wstest::simulate(wstest::config(decode()));
  ASSERT_TRUE(r);
  // the last step's row: 4 heads of 32 features, one query against 64 + 6 keys
  for (uint32_t i = 0; i < ws_run_op_count(r.get()); i++) {
    const ws_run_op *o = ws_run_op_at(r.get(), i);
    if (std::string(o->kind) == "attention") {
      EXPECT_EQ(o->macs, 4ull * 70 * 32 * 2) << o->name;
    }
  }
  // every step's in the totals: GEMVs the same each step, attention keys 65 .. 70
  uint64_t gemv = 0;
  for (uint32_t i = 0; i < ws_run_op_count(r.get()); i++) {
    const ws_run_op *o = ws_run_op_at(r.get(), i);
    if (std::string(o->kind) != "attention") gemv += o->macs;
  }
  const uint64_t attn = 2ull * 4 * (65 + 66 + 67 + 68 + 69 + 70) * 32 * 2;  // 2 layers
  EXPECT_EQ(ws_run_totals_of(r.get())->macs, 6 * gemv + attn);
}

// Every layer's cache of a (head, sequence) lives on its region's PEs, a key
// a PE round the region: at the fullest PE layers x rounds x ceil(keys / PEs)
// x dh x 2 (K and V) x 2 bytes, beside every weight.
TEST(Decode, TheKvCacheIsHeldAndATooLongPromptIsRefusedByName) {
  wstest::RunPtr r = wstest::simulate(wstest::config(decode()));
  ASSERT_TRUE(r);
  const ws_run_totals *t = ws_run_totals_of(r.get());
  uint64_t attn_sram = 0, other_sram = 0;
  for (uint32_t i = 0; i < ws_run_op_count(r.get()); i++) {
    const ws_run_op *o = ws_run_op_at(r.get(), i);
    if (std::string(o->kind) == "attention") attn_sram = o->sram_max;
    else other_sram = std::max<uint64_t>(other_sram, o->sram_max);
  }
  EXPECT_GT(attn_sram, 0u);
  EXPECT_LE(t->sram_max, 48u * 1024);
  // the whole mesh's caches: 2 layers x 70 keys x 128 x 2 x 2 bytes, on at most 64 x 64 PEs: >= 18 bytes a PE
  EXPECT_GE(t->sram_mean, 8 * 1024 + 2.0 * 70 * 128 * 4 / (64 * 64));
  // 128 sequences of 64 + 60 keys on a 16 x 16 mesh: 2 x 128 x 124 x 128 x 4 bytes / 256 PEs = 63 KiB a PE
  wstest::CliResult c = wstest::run_cli({"run", "--set", "sim.strategy=layerwise", "--set", "workload.phase=decode",
                                         "--set", "model.preset=custom", "--set", "model.layers=2", "--set",
                                         "model.d_model=128", "--set", "model.heads=4", "--set", "model.d_ff=512",
                                         "--set", "model.vocab=256", "--set", "model.context=128", "--set",
                                         "workload.seq_len=64", "--set", "workload.new_tokens=60", "--set",
                                         "workload.batch=128", "--set", "workload.sparsity=0.9", "--set",
                                         "fabric.width=16", "--set", "fabric.height=16"});
  EXPECT_EQ(c.status, 2) << c.out;
  EXPECT_NE(c.err.find("workload.seq_len + workload.new_tokens"), std::string::npos) << c.err;
}

TEST(Decode, GenerateIsThePrefillThenTheDecode) {
  wstest::RunPtr g = wstest::simulate(wstest::config(decode({"workload.phase=generate"})));
  wstest::RunPtr p = wstest::simulate(wstest::config(decode({"workload.phase=prefill"})));
  wstest::RunPtr d = wstest::simulate(wstest::config(decode({"workload.new_tokens=5"})));
  ASSERT_TRUE(g && p && d);
  const ws_run_totals *tg = ws_run_totals_of(g.get()), *tp = ws_run_totals_of(p.get()), *td = ws_run_totals_of(d.get());
  EXPECT_EQ(tg->cycles, tp->cycles + td->cycles);
  EXPECT_DOUBLE_EQ(tg->ttft_s, tp->seconds);
  EXPECT_EQ(tg->steps, 6u);
  EXPECT_DOUBLE_EQ(tg->tpot_s, td->tpot_s);
  EXPECT_EQ(tg->macs, tp->macs + td->macs);
  EXPECT_DOUBLE_EQ(tg->flops_executed, tp->flops_executed + td->flops_executed);
  EXPECT_EQ(tg->bound_cycles_wafer, tp->bound_cycles_wafer + td->bound_cycles_wafer);
}

// flops, place and kernel count or lay out a prefill: a decode is refused by
// name rather than counted as a prefill.
TEST(Decode, PrefillOnlyCommandsRefuseADecode) {
  const std::string tiny = wstest::source_path("tests/expected/tiny-dense.yaml");
  for (const char *cmd : {"flops", "place", "kernel"}) {
    wstest::CliResult r = wstest::run_cli({cmd, tiny, "--set", "sim.strategy=layerwise", "--set",
                                           "workload.phase=decode", "--set", "workload.seq_len=64"});
    EXPECT_EQ(r.status, 2) << cmd;
    EXPECT_EQ(r.err, std::string("wafersim ") + cmd + ": --set: workload.phase: " + cmd +
                         " counts a prefill (one sequence's forward pass, the pipeline's layout); a decode's or a training "
                         "step's FLOPs and cycles are wafersim run's and sweep's\n");
  }
}

// ---- the pipelined decode: a token of a sequence a micro-batch through the
// placed stages, the sequences taking turns, each token entering once its
// sequence's last left the head ----

std::vector<std::string> piped(const std::vector<std::string> &more = {}) {
  std::vector<std::string> s = decode({"sim.strategy=pipeline"});
  s.insert(s.end(), more.begin(), more.end());
  return s;
}

TEST(PipelinedDecode, StepsAddUpAndAttentionScoresEveryKey) {
  wstest::RunPtr r = wstest::simulate(wstest::config(piped({"workload.batch=2"})));
  ASSERT_TRUE(r);
  const ws_run_totals *t = ws_run_totals_of(r.get());
  EXPECT_STREQ(t->strategy, "pipeline");
  EXPECT_EQ(t->steps, 6u);
  EXPECT_EQ(t->micro_batch, 1u);
  EXPECT_EQ(t->micro_batches, 12u);  // 2 sequences x 6 tokens
  EXPECT_NEAR(t->tpot_s * t->steps, t->seconds, 1e-12 * t->seconds);
  EXPECT_DOUBLE_EQ(t->ttft_s, (double)t->fill_cycles / 1.1e9);
  EXPECT_LE(t->fill_cycles, t->step_cycles_max);
  EXPECT_DOUBLE_EQ(t->tokens_per_s, 12 / t->seconds);
  // attention: each token of each sequence against its prompt and the tokens before it (65 .. 70 keys), 4 heads of
  // 32, scores and P x V; each GEMM: every weight once a token
  uint64_t attn = 0;
  for (uint32_t i = 0; i < ws_run_op_count(r.get()); i++) {
    const ws_run_op *o = ws_run_op_at(r.get(), i);
    if (std::string(o->kind) == "attention") attn += o->macs;
    if (std::string(o->kind) == "ffn_up") {
      EXPECT_EQ(o->macs, 12ull * 128 * 512) << o->name;
    }
    EXPECT_GE(o->cycles, o->bound) << o->name;
    EXPECT_LE(o->utilisation, 1.0) << o->name;  // its rows are the whole run's, over the run's cycles
  }
  EXPECT_EQ(attn, 2ull * 2 * (65 + 66 + 67 + 68 + 69 + 70) * 128 * 2);  // 2 layers, 2 sequences
}

TEST(PipelinedDecode, NeverBelowTheBoundsDecodeBound) {
  wstest::RunPtr p = wstest::simulate(wstest::config(piped({"workload.sparsity=0.75"})));
  wstest::RunPtr b = wstest::simulate(wstest::config(decode({"workload.sparsity=0.75", "sim.strategy=bound"})));
  ASSERT_TRUE(p && b);
  EXPECT_GT(ws_run_totals_of(p.get())->cycles, ws_run_totals_of(b.get())->cycles);
  EXPECT_EQ(ws_run_totals_of(p.get())->bound_cycles_wafer, ws_run_totals_of(b.get())->cycles);
}

// One sequence's step is the whole pipeline's latency; more sequences fill
// it, and tokens/s rises with them until the busiest stage limits it:
// tokens/s never above the clock x tokens over the busiest op's bound, and
// with 128 sequences within 25 % of that limit and of 64's.
TEST(PipelinedDecode, ThroughputRisesWithTheSequencesUntilTheBusiestStage) {
  double last = 0, limit = 0;
  std::vector<double> tps;
  for (const char *batch : {"1", "2", "4", "8", "16", "32", "64", "128"}) {
    wstest::RunPtr r = wstest::simulate(wstest::config(piped({std::string("workload.batch=") + batch})));
    ASSERT_TRUE(r);
    const ws_run_totals *t = ws_run_totals_of(r.get());
    uint64_t busiest = 0;
    for (uint32_t i = 0; i < ws_run_op_count(r.get()); i++) busiest = std::max(busiest, ws_run_op_at(r.get(), i)->bound);
    limit = 1.1e9 * (double)t->micro_batches / (double)busiest;
    EXPECT_LE(t->tokens_per_s, limit) << batch;
    EXPECT_GE(t->tokens_per_s, last) << batch;
    last = t->tokens_per_s;
    tps.push_back(t->tokens_per_s);
    std::printf("[ decode ] pipeline, %3s sequences: %.3g tokens/s (the busiest op's limit %.3g)\n", batch,
                t->tokens_per_s, limit);
  }
  EXPECT_GT(tps[3], 4 * tps[0]);  // 8 sequences: far more than one's
  EXPECT_GT(tps[7], 0.75 * limit);
  EXPECT_NEAR(tps[7], tps[6], 0.25 * tps[6]);
}

TEST(PipelinedDecode, GenerateIsThePrefillThenTheDecode) {
  wstest::RunPtr g = wstest::simulate(wstest::config(piped({"workload.phase=generate", "workload.micro_batch=16"})));
  wstest::RunPtr p = wstest::simulate(wstest::config(piped({"workload.phase=prefill", "workload.micro_batch=16"})));
  wstest::RunPtr d = wstest::simulate(wstest::config(piped({"workload.new_tokens=5"})));
  ASSERT_TRUE(g && p && d);
  const ws_run_totals *tg = ws_run_totals_of(g.get()), *tp = ws_run_totals_of(p.get()), *td = ws_run_totals_of(d.get());
  EXPECT_EQ(tg->cycles, tp->cycles + td->cycles);
  EXPECT_DOUBLE_EQ(tg->ttft_s, tp->seconds);
  EXPECT_DOUBLE_EQ(tg->tpot_s, td->tpot_s);
  EXPECT_EQ(tg->macs, tp->macs + td->macs);
}

TEST(Decode, Deterministic) {
  wstest::RunPtr a = wstest::simulate(wstest::config(decode({"workload.sparsity=0.5"})));
  wstest::RunPtr b = wstest::simulate(wstest::config(decode({"workload.sparsity=0.5"})));
  ASSERT_TRUE(a && b);
  EXPECT_EQ(ws_run_totals_of(a.get())->cycles, ws_run_totals_of(b.get())->cycles);
  EXPECT_EQ(ws_run_totals_of(a.get())->macs, ws_run_totals_of(b.get())->macs);
}

}  // namespace
