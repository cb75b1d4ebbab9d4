/* The pipeline strategy: the layer-pipelined prefill (DESIGN.md section 3)
 * and decode. The placer gives every stage a region (sim/place.h); the
 * placed pipeline runs on the event engine and the fabric
 * (kernels/pipeline.h); the op rows set what the simulation measured beside
 * the placer's estimate and each op's analytic lower bound (definitions in
 * sim/run.h).
 *
 * A decode: every stage passes one token of one sequence at a time (micro-
 * batches of 1), the sequences taking turns, and a sequence's next token
 * enters only once its last left the LM head (kernels/pipeline.h's
 * feedback). With one sequence a step is the pipeline's whole latency; with
 * more, up to as many as the pipeline holds, they fill it and a step takes
 * the longer of the latency and sequences x the busiest stage's interval.
 * The token's way back from the head to the embedding (its argmax and its
 * id) is not modelled. */
#include <stdlib.h>
#include <string.h>

#include "kernels/estimate.h"
#include "kernels/kind.h"
#include "kernels/pipeline.h"
#include "sim/functional.h"
#include "sim/place.h"
#include "sim/report.h"
#include "strategy.h"

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* Events pending at a step's end decide whether to go on; progress is the
 * micro-batches out, which leave in order. A step of 2^16 cycles: the full
 * wafer's prefill (about 4 M cycles) reports some 60 times. */
static int simulate(sim_engine *e, const krn_pipe *pipe, uint32_t mbs, strat_progress progress, void *ctx) {
  if (!progress) return sim_engine_run(e);
  const sim_time step = (sim_time)1 << 16;
  uint32_t out = 0;
  for (;;) {
    if (sim_engine_run_until(e, sim_engine_now(e) + step) != 0) return -1;
    while (out < mbs && krn_pipe_done(pipe, out) != UINT64_MAX) out++;
    progress(ctx, (double)out / mbs);
    if (sim_engine_stats(e).pending == 0) return 0;
  }
}

/* Micro-batches whose inputs may reach a stage before its first compute: a
 * message of micro-batch m leaves its producer only once the stage finished
 * m - depth (its input's buffer depth), so from the deepest input's depth on
 * every wavelet a micro-batch brings, relays, reduces and sends lies within
 * the op's span; the embedding takes no input, an entry GEMM (no producer)
 * is given its first two. */
static uint32_t early_micro_batches(const krn_stage *s) {
  if (krn_kind_of(s->kind)->inputs == 0) return 0;
  uint32_t d = 0;
  for (uint32_t k = 0; k < KRN_MAX_INPUTS; k++)
    if (s->in[k] >= 0 && krn_depth(s, k) > d) d = krn_depth(s, k);
  return krn_kind_entry(s) && d < 2 ? 2 : d;
}

/* The lower bound on an op's span (run.h): its busiest PE's compute over
 * the sequences (each sequence's the same; a decode's new positions only:
 * the busiest PE over the whole sequence less the busiest over the prompt,
 * which is at most the busiest over the new ones), or the busiest ramp's
 * traffic of the micro-batches that must pass within the span, whichever is
 * larger. */
static uint64_t op_bound(const krn_stage *s, const krn_estimate *est, const krn_machine *m, const krn_run *run,
                         uint64_t consume) {
  const uint32_t early = early_micro_batches(s), mbs = run->micro_batches, inside = mbs > early ? mbs - early : 0;
  uint64_t busy = krn_estimate_busy(m, s, run->b, run->seq);
  if (run->feedback && run->prompt) busy -= krn_estimate_busy(m, s, run->b, run->prompt);
  return max_u64(krn_run_sequences(run) * busy, inside * max_u64(est->ramp_in * consume, est->ramp_out));
}

/* A decode's steps from the micro-batches' ends: the first step's end (fill), the longest step. */
static void decode_steps(const krn_pipe *pipe, const krn_run *run, strat_totals *t) {
  uint64_t prev = 0;
  t->step_cycles_max = 0;
  for (uint32_t m0 = 0; m0 < run->micro_batches; m0 += run->feedback) {
    uint64_t end = 0;
    for (uint32_t q = 0; q < run->feedback; q++) end = max_u64(end, krn_pipe_done(pipe, m0 + q) + 1);
    if (m0 == 0) t->fill_cycles = end;
    t->step_cycles_max = max_u64(t->step_cycles_max, end - prev);
    prev = end;
  }
  t->steps = run->micro_batches / run->feedback;
}

/* Per op: what the simulation measured beside what the placer estimated. */
static void op_row(strat_result *r, const ws_placement *place, uint32_t i, const krn_pipe *pipe,
                   const krn_machine *m, const krn_run *run, uint64_t consume) {
  const ws_placed *pl = ws_placement_stage(place, i);
  const krn_stage_stats st = krn_pipe_stats(pipe, i);
  strat_op *o = &r->ops[i];
  o->name = pl->stage.name;
  o->kind = pl->kind;
  o->layer = pl->layer;
  o->region = pl->stage.region;
  o->pes = st.pes;
  o->sparse_pes = st.sparse_pes;
  o->kernel = krn_kind_of(pl->stage.kind)->name;
  if (krn_kind_of(pl->stage.kind)->picks_kernel)
    o->kernel = st.sparse_pes == st.pes ? "sparse" : st.sparse_pes == 0 ? "dense" : "mixed";
  o->busy_max = st.busy_max;
  o->utilisation = (double)st.busy_sum; /* divided by the run's cycles once known */
  o->nnz_max = pl->est.nnz_max;
  o->nnz_mean = pl->est.nnz_mean;
  o->first = st.first;
  o->cycles = st.sent + 1 - st.first;
  o->bound = op_bound(&pl->stage, &pl->est, m, run, consume);
  o->macs = st.macs;
  o->sram_max = st.sram_max;
  o->weight_bytes = st.weight_bytes;
  o->interval = pl->est.interval;
  o->wait_inputs = st.pes ? (double)st.wait_in_sum / st.pes : 0;
  o->wait_outputs = st.pes ? (double)st.wait_out_sum / st.pes : 0;
  for (uint32_t l = 0; l < st.pes; l++) {
    const krn_pe_stats pe = krn_pipe_pe(pipe, i, l);
    const size_t at = (size_t)pe.y * r->W + pe.x;
    r->owner[at] = (int32_t)i;
    r->busy[at] = pe.busy;
    r->sram[at] = (uint32_t)pe.sram;
  }
}

/* Run the placed pipeline; op rows, the per-PE map and the engine's and
 * fabric's figures into r. */
static int run_pipeline(strat_result *r, const ws_placement *place, const ws_input *in, strat_progress progress,
                        void *ctx, char *err, size_t errlen) {
  const ws_config *cfg = in->cfg;
  const uint32_t b = in->micro_batch, seq = in->keys;
  const bool decode = in->phase == WS_PHASE_DECODE;
  krn_run run = {.b = b, .micro_batches = in->micro_batches, .seq = seq, .feedback = decode ? in->batch : 0,
                 .prompt = decode ? in->keys_first - 1 : 0};
  const fab_config fc = in->fc;
  const krn_machine m = in->m;
  krn_stage *stages = malloc(r->nops * sizeof *stages);
  ws_program prog = {0};
  if (stages) ws_program_open(&prog, &fc, err, errlen);
  for (uint32_t i = 0; stages && i < r->nops; i++) stages[i] = ws_placement_stage(place, i)->stage;
  /* functional: values for the stages, token ids for the run */
  ws_functional *values =
      prog.f && cfg->sim.functional ? ws_functional_create(cfg, place, stages, &run, err, errlen) : NULL;
  if (prog.f && (values || !cfg->sim.functional)) ws_program_load(&prog, &m, stages, r->nops, &run, err, errlen);
  const krn_pipe *pipe = prog.pipe;
  int rc = pipe ? 0 : -1;
  if (!stages) snprintf(err, errlen, "out of memory");
  const double t0 = ws_report_wall_s();
  if (rc == 0 && simulate(prog.e, pipe, run.micro_batches, progress, ctx) != 0) {
    snprintf(err, errlen, "simulation: %s", sim_engine_error(prog.e));
    rc = -1;
  }
  strat_totals *t = &r->tot;
  t->sim_wall_s = ws_report_wall_s() - t0;
  if (rc == 0 && (krn_pipe_check(pipe, err, errlen) != 0 || fab_check_finished(prog.f, err, errlen) != 0)) rc = -1;
  if (rc == 0 && values &&
      (!(r->logits = malloc((size_t)in->tokens * (size_t)cfg->model.vocab * sizeof *r->logits)) ||
       ws_functional_compare(cfg, values, pipe, &r->fres, r->logits, err, errlen) != 0)) {
    if (!r->logits) snprintf(err, errlen, "functional: out of memory for the logits");
    rc = -1;
  }
  r->functional = values != NULL;
  if (rc == 0) {
    const uint32_t mbs = run.micro_batches;
    t->micro_batch = b;
    t->micro_batches = mbs;
    t->cycles = krn_pipe_done(pipe, mbs - 1) + 1;
    t->fill_cycles = krn_pipe_done(pipe, 0) + 1;
    t->steady_interval = mbs > 1 ? (krn_pipe_done(pipe, mbs - 1) - krn_pipe_done(pipe, 0)) / (mbs - 1) : 0;
    const uint64_t in0 = krn_pipe_entered(pipe, 0), in1 = krn_pipe_entered(pipe, mbs - 1);
    t->entry_interval = mbs > 1 ? (in1 - in0) / (mbs - 1) : 0;
    t->tail_cycles = (int64_t)(krn_pipe_done(pipe, mbs - 1) - in1) - (int64_t)(krn_pipe_done(pipe, 0) - in0);
    if (decode) decode_steps(pipe, &run, t);
    for (uint32_t i = 0; i < r->nops; i++) op_row(r, place, i, pipe, &m, &run, fc.consume_cycles);
    const sim_stats es = sim_engine_stats(prog.e);
    const fab_stats fs = fab_stats_get(prog.f);
    t->events = es.executed;
    t->wavelets_sent = fs.wavelets_sent;
    t->link_wavelets = fs.link_wavelets;
    t->events_per_s = t->sim_wall_s > 0 ? (double)es.executed / t->sim_wall_s : 0;
    t->sim_bytes = fs.bytes + es.bytes;
  }
  /* the pipeline before the values its stages point to */
  krn_pipe_destroy(prog.pipe);
  prog.pipe = NULL;
  ws_functional_destroy(values);
  ws_program_destroy(&prog);
  free(stages);
  return rc;
}

/* The placement's totals: its PEs, stages and interval, the kernel mix. */
static void place_totals(strat_result *r, const ws_placement *place, const ws_input *in) {
  strat_totals *t = &r->tot;
  const ws_place_totals *pt = ws_placement_totals(place);
  t->stages = r->nops;
  t->placer_interval = pt->stage_max;
  t->placer_cycles = strat_pipeline_estimate(place, in);
  t->pipeline_cycles_model = t->placer_cycles;
  t->pes_used = pt->pes_used;
  t->pes_mesh = pt->pes_mesh;
  t->place_wall_s = pt->wall_s;
  snprintf(t->limit, sizeof t->limit, "%s", pt->limit);
  snprintf(t->limit_stage, sizeof t->limit_stage, "%s", pt->limit_stage);
  uint64_t gemm_pes = 0, sparse_pes = 0;
  for (uint32_t i = 0; i < r->nops; i++)
    if (krn_kind_of(ws_placement_stage(place, i)->stage.kind)->picks_kernel) {
      gemm_pes += r->ops[i].pes;
      sparse_pes += r->ops[i].sparse_pes;
    }
  t->kernel_mix = gemm_pes ? (double)sparse_pes / (double)gemm_pes : 0;
}

static int prepare(ws_input *in, void **state, char *err, size_t errlen) {
  if (ws_input_masks(in, WS_WORK_PLACE, err, errlen) != 0) return -1;
  ws_placement *p = ws_place_choose(in, err, errlen);
  if (!p) return -1;
  if (ws_placement_routed(p, err, errlen) != 0) {
    ws_placement_destroy(p);
    return -1;
  }
  *state = p;
  return 0;
}

static int pipeline_simulate(void *state, const ws_input *in, strat_result *out, strat_progress progress, void *ctx,
                             char *err, size_t errlen) {
  const ws_placement *place = state;
  if (strat_result_alloc(out, ws_placement_count(place), in->W, in->H, err, errlen) != 0) return -1;
  out->tot.pes_mesh = (uint64_t)in->W * in->H;
  if (run_pipeline(out, place, in, progress, ctx, err, errlen) != 0) return -1;
  place_totals(out, place, in);
  return strat_result_common(out, in, err, errlen);
}

static void release(void *state) { ws_placement_destroy(state); }

/* The placer's model (its cycles at the run's micro-batches); a decode's: every step the longer of the pipeline's latency and its sequences one after
   another through the busiest stage. */
uint64_t strat_pipeline_estimate(const void *state, const ws_input *in) {
  const ws_place_totals *t = ws_placement_totals(state);
  if (in->phase != WS_PHASE_DECODE) return ws_place_estimated_cycles(t, in->micro_batches);
  return (uint64_t)in->steps * max_u64(ws_place_estimated_cycles(t, 1), (uint64_t)in->batch * t->stage_max);
}

const strat_strategy strat_pipeline = {"pipeline", prepare, pipeline_simulate, release};
