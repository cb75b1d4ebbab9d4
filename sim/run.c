/* The end-to-end run: placement, the simulation of the placed pipeline, and
 * the totals, op rows and per-PE map the reports show (see run.h). */
#include "run.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bounds.h"
#include "functional.h"
#include "kernels/estimate.h"
#include "kernels/kind.h"
#include "kernels/pipeline.h"
#include "report.h"
#include "sim/engine/engine.h"

struct ws_run {
  ws_placement *place;
  ws_run_op *ops;
  uint32_t nops;
  ws_run_totals tot;
  uint32_t W, H;
  int32_t *owner;  /* per mesh PE: its stage, -1 unused */
  uint64_t *busy;  /* per mesh PE: compute cycles */
  uint32_t *sram;  /* per mesh PE: bytes */
  bool functional;           /* the run carried values (sim.functional) */
  ws_functional_result fres; /* functional: the logits against the reference */
  float *logits;             /* functional: seq_len x vocab */
};

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

static uint64_t peak_rss(void) {
  struct rusage u;
  return getrusage(RUSAGE_SELF, &u) == 0 ? (uint64_t)u.ru_maxrss * 1024u : 0;
}

/* Events pending at a step's end decide whether to go on; progress is the
 * micro-batches out, which leave in order. A step of 2^16 cycles: the full
 * wafer's prefill (about 4 M cycles) reports some 60 times. */
static int simulate(sim_engine *e, const krn_pipe *pipe, uint32_t mbs, ws_run_progress progress, void *ctx) {
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
 * the sequence, or the busiest ramp's traffic of the micro-batches that
 * must pass within the span, whichever is larger. */
static uint64_t op_bound(const krn_stage *s, const krn_estimate *est, const krn_machine *m, uint32_t b, uint32_t mbs,
                         uint64_t consume) {
  const uint32_t early = early_micro_batches(s), inside = mbs > early ? mbs - early : 0;
  return max_u64(krn_estimate_busy(m, s, b, b * mbs), inside * max_u64(est->ramp_in * consume, est->ramp_out));
}

/* Per op: what the simulation measured beside what the placer estimated. */
static void op_row(ws_run *r, uint32_t i, const krn_pipe *pipe, const krn_machine *m, uint32_t b, uint32_t mbs,
                   uint64_t consume) {
  const ws_placed *pl = ws_placement_stage(r->place, i);
  const krn_stage_stats st = krn_pipe_stats(pipe, i);
  ws_run_op *o = &r->ops[i];
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
  o->bound = op_bound(&pl->stage, &pl->est, m, b, mbs, consume);
  o->macs = st.macs;
  o->sram_max = st.sram_max;
  o->weight_bytes = st.weight_bytes;
  o->interval = pl->est.interval;
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
static int run_pipeline(ws_run *r, const ws_config *cfg, ws_run_progress progress, void *ctx, char *err,
                        size_t errlen) {
  const uint32_t b = (uint32_t)cfg->workload.micro_batch, seq = (uint32_t)cfg->workload.seq_len;
  krn_run run = {.b = b, .micro_batches = seq / b, .seq = seq};
  fab_config fc;
  krn_machine m;
  ws_config_fabric(cfg, &fc);
  ws_config_machine(cfg, &m);
  krn_stage *stages = malloc(r->nops * sizeof *stages);
  sim_engine *e = stages ? sim_engine_create(NULL, err, errlen) : NULL;
  fab_fabric *f = e ? fab_create(e, &fc, err, errlen) : NULL;
  for (uint32_t i = 0; stages && i < r->nops; i++) stages[i] = ws_placement_stage(r->place, i)->stage;
  /* functional: values for the stages, token ids for the run */
  ws_functional *values =
      f && cfg->sim.functional ? ws_functional_create(cfg, r->place, stages, &run, err, errlen) : NULL;
  krn_pipe *pipe = f && (values || !cfg->sim.functional)
                       ? krn_pipe_create(e, f, &m, stages, r->nops, &run, err, errlen)
                       : NULL;
  int rc = pipe ? 0 : -1;
  if (!stages) snprintf(err, errlen, "out of memory");
  const double t0 = ws_report_wall_s();
  if (rc == 0 && simulate(e, pipe, run.micro_batches, progress, ctx) != 0) {
    snprintf(err, errlen, "simulation: %s", sim_engine_error(e));
    rc = -1;
  }
  ws_run_totals *t = &r->tot;
  t->sim_wall_s = ws_report_wall_s() - t0;
  if (rc == 0 && (krn_pipe_check(pipe, err, errlen) != 0 || fab_check_finished(f, err, errlen) != 0)) rc = -1;
  if (rc == 0 && values &&
      (!(r->logits = malloc((size_t)seq * (size_t)cfg->model.vocab * sizeof *r->logits)) ||
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
    for (uint32_t i = 0; i < r->nops; i++) op_row(r, i, pipe, &m, b, mbs, fc.consume_cycles);
    const sim_stats es = sim_engine_stats(e);
    const fab_stats fs = fab_stats_get(f);
    t->events = es.executed;
    t->wavelets_sent = fs.wavelets_sent;
    t->link_wavelets = fs.link_wavelets;
    t->events_per_s = t->sim_wall_s > 0 ? (double)es.executed / t->sim_wall_s : 0;
    t->sim_bytes = fs.bytes + es.bytes;
  }
  krn_pipe_destroy(pipe);
  ws_functional_destroy(values);
  fab_destroy(f);
  sim_engine_destroy(e);
  free(stages);
  return rc;
}

/* The totals the op rows and the accounting give. */
static int totals(ws_run *r, const ws_config *cfg, char *err, size_t errlen) {
  ws_run_totals *t = &r->tot;
  const ws_place_totals *pt = ws_placement_totals(r->place);
  mdl_cost acc;
  if (ws_placement_account(r->place, &acc) != 0) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  const double clock = (double)cfg->fabric.clock;
  t->stages = r->nops;
  t->placer_interval = pt->stage_max;
  t->pes_used = pt->pes_used;
  t->pes_mesh = pt->pes_mesh;
  t->place_wall_s = pt->wall_s;
  t->seconds = (double)t->cycles / clock;
  t->tokens_per_s = (double)cfg->workload.seq_len / t->seconds;
  t->flops_dense = (double)acc.flops_dense;
  t->flops_executed = (double)acc.flops_sparse;
  t->flops_saved = t->flops_dense - t->flops_executed;
  t->flops_reduction = t->flops_dense / t->flops_executed;
  t->peak_flops_per_s = (double)t->pes_mesh * (double)cfg->fabric.fmac_fp16 * 2.0 * clock;
  t->params_dense = acc.params_dense;
  t->params = acc.params_sparse;
  uint64_t gemm_pes = 0, sparse_pes = 0;
  double sram_sum = 0;
  for (uint32_t i = 0; i < r->nops; i++) {
    ws_run_op *o = &r->ops[i];
    o->utilisation /= (double)o->pes * (double)t->cycles;
    t->bound = max_u64(t->bound, o->bound);
    t->macs += o->macs;
    t->weight_bytes += o->weight_bytes;
    t->sram_max = max_u64(t->sram_max, o->sram_max);
    if (krn_kind_of(ws_placement_stage(r->place, i)->stage.kind)->picks_kernel) {
      gemm_pes += o->pes;
      sparse_pes += o->sparse_pes;
    }
  }
  /* what the simulated PEs executed, 2 FLOPs a multiply-accumulate: the
     rate and the share of the peak come from it, not from the accounting */
  t->flops_simulated = 2.0 * (double)t->macs;
  t->flops_per_s = t->flops_simulated / t->seconds;
  t->peak_fraction = t->flops_per_s / t->peak_flops_per_s;
  for (size_t at = 0; at < (size_t)r->W * r->H; at++) sram_sum += r->owner[at] >= 0 ? r->sram[at] : 0;
  t->sram_mean = sram_sum / (double)t->pes_used;
  t->kernel_mix = gemm_pes ? (double)sparse_pes / (double)gemm_pes : 0;
  t->peak_rss_bytes = peak_rss();
  return 0;
}

ws_run *ws_run_simulate(const ws_config *cfg, ws_run_progress progress, void *ctx, char *err, size_t errlen) {
  if (ws_place_check(cfg, WS_WORK_RUN, 1, err, errlen) != 0) return NULL;
  const double t0 = ws_report_wall_s();
  ws_run *r = calloc(1, sizeof *r);
  if (!r) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  r->place = ws_place(cfg, err, errlen);
  if (!r->place) {
    free(r);
    return NULL;
  }
  if (ws_placement_routed(r->place, err, errlen) != 0) {
    ws_run_destroy(r);
    return NULL;
  }
  r->nops = ws_placement_count(r->place);
  r->W = (uint32_t)cfg->fabric.width;
  r->H = (uint32_t)cfg->fabric.height;
  const size_t cells = (size_t)r->W * r->H;
  r->ops = calloc(r->nops, sizeof *r->ops);
  r->owner = malloc(cells * sizeof *r->owner);
  r->busy = calloc(cells, sizeof *r->busy);
  r->sram = calloc(cells, sizeof *r->sram);
  if (!r->ops || !r->owner || !r->busy || !r->sram) {
    snprintf(err, errlen, "out of memory for a %u x %u mesh", r->W, r->H);
    ws_run_destroy(r);
    return NULL;
  }
  for (size_t i = 0; i < cells; i++) r->owner[i] = -1;
  if (run_pipeline(r, cfg, progress, ctx, err, errlen) != 0 || totals(r, cfg, err, errlen) != 0) {
    ws_run_destroy(r);
    return NULL;
  }
  r->tot.wall_s = ws_report_wall_s() - t0;
  return r;
}

void ws_run_destroy(ws_run *r) {
  if (!r) return;
  ws_placement_destroy(r->place);
  free(r->ops);
  free(r->owner);
  free(r->busy);
  free(r->sram);
  free(r->logits);
  free(r);
}

const ws_run_totals *ws_run_totals_of(const ws_run *r) { return &r->tot; }
const ws_functional_result *ws_run_functional(const ws_run *r) { return r->functional ? &r->fres : NULL; }
const float *ws_run_logits(const ws_run *r) { return r->functional ? r->logits : NULL; }
uint32_t ws_run_op_count(const ws_run *r) { return r->nops; }
const ws_run_op *ws_run_op_at(const ws_run *r, uint32_t i) { return &r->ops[i]; }

ws_table *ws_run_totals_table(const ws_run *r) {
  static const char *const cols[] = {
      "cycles",          "seconds",         "tokens_per_s",    "fill_cycles",      "steady_interval",
      "bound_cycles",    "placer_interval", "flops_dense",     "flops_executed",   "flops_saved",
      "flops_reduction", "flops_per_s",     "peak_flops_per_s", "peak_fraction",   "params_dense",
      "params",          "weight_bytes",    "macs",            "sram_max_bytes",   "sram_mean_bytes",
      "pes_used",        "pes_mesh",        "kernel_mix",      "stages",           "micro_batch",
      "micro_batches",   "events",          "wavelets_sent",   "link_wavelets",    "wall_s",  "place_wall_s",
      "sim_wall_s",      "events_per_s",    "sim_bytes",       "peak_rss_bytes",   "flops_simulated"};
  ws_table *tb = ws_table_create(sizeof cols / sizeof cols[0], cols);
  if (!tb || ws_table_row(tb) != 0) {
    ws_table_destroy(tb);
    return NULL;
  }
  const ws_run_totals *t = &r->tot;
  size_t c = 0;
  ws_table_i64(tb, c++, (int64_t)t->cycles);
  ws_table_f64(tb, c++, t->seconds);
  ws_table_f64(tb, c++, t->tokens_per_s);
  ws_table_i64(tb, c++, (int64_t)t->fill_cycles);
  ws_table_i64(tb, c++, (int64_t)t->steady_interval);
  ws_table_i64(tb, c++, (int64_t)t->bound);
  ws_table_i64(tb, c++, (int64_t)t->placer_interval);
  ws_table_f64(tb, c++, t->flops_dense);
  ws_table_f64(tb, c++, t->flops_executed);
  ws_table_f64(tb, c++, t->flops_saved);
  ws_table_f64(tb, c++, t->flops_reduction);
  ws_table_f64(tb, c++, t->flops_per_s);
  ws_table_f64(tb, c++, t->peak_flops_per_s);
  ws_table_f64(tb, c++, t->peak_fraction);
  ws_table_i64(tb, c++, t->params_dense);
  ws_table_i64(tb, c++, t->params);
  ws_table_i64(tb, c++, (int64_t)t->weight_bytes);
  ws_table_i64(tb, c++, (int64_t)t->macs);
  ws_table_i64(tb, c++, (int64_t)t->sram_max);
  ws_table_f64(tb, c++, t->sram_mean);
  ws_table_i64(tb, c++, (int64_t)t->pes_used);
  ws_table_i64(tb, c++, (int64_t)t->pes_mesh);
  ws_table_f64(tb, c++, t->kernel_mix);
  ws_table_i64(tb, c++, t->stages);
  ws_table_i64(tb, c++, t->micro_batch);
  ws_table_i64(tb, c++, t->micro_batches);
  ws_table_i64(tb, c++, (int64_t)t->events);
  ws_table_i64(tb, c++, (int64_t)t->wavelets_sent);
  ws_table_i64(tb, c++, (int64_t)t->link_wavelets);
  ws_table_f64(tb, c++, t->wall_s);
  ws_table_f64(tb, c++, t->place_wall_s);
  ws_table_f64(tb, c++, t->sim_wall_s);
  ws_table_f64(tb, c++, t->events_per_s);
  ws_table_i64(tb, c++, (int64_t)t->sim_bytes);
  ws_table_i64(tb, c++, (int64_t)t->peak_rss_bytes);
  ws_table_f64(tb, c++, t->flops_simulated);
  return tb;
}

ws_table *ws_run_ops_table(const ws_run *r) {
  static const char *const cols[] = {"op",     "layer",    "kind",        "kernel",  "x",       "y",
                                     "w",      "h",        "pes",         "busy_max", "utilisation", "nnz_max",
                                     "nnz_mean", "first",  "cycles",      "bound_cycles", "placer_interval",
                                     "macs",   "sram_max_bytes", "weight_bytes"};
  ws_table *tb = ws_table_create(sizeof cols / sizeof cols[0], cols);
  for (uint32_t i = 0; tb && i < r->nops; i++) {
    if (ws_table_row(tb) != 0) {
      ws_table_destroy(tb);
      return NULL;
    }
    const ws_run_op *o = &r->ops[i];
    size_t c = 0;
    ws_table_str(tb, c++, o->name);
    ws_table_i64(tb, c++, o->layer);
    ws_table_str(tb, c++, o->kind);
    ws_table_str(tb, c++, o->kernel);
    ws_table_i64(tb, c++, o->region.x);
    ws_table_i64(tb, c++, o->region.y);
    ws_table_i64(tb, c++, o->region.w);
    ws_table_i64(tb, c++, o->region.h);
    ws_table_i64(tb, c++, o->pes);
    ws_table_i64(tb, c++, (int64_t)o->busy_max);
    ws_table_f64(tb, c++, o->utilisation);
    ws_table_i64(tb, c++, (int64_t)o->nnz_max);
    ws_table_f64(tb, c++, o->nnz_mean);
    ws_table_i64(tb, c++, (int64_t)o->first);
    ws_table_i64(tb, c++, (int64_t)o->cycles);
    ws_table_i64(tb, c++, (int64_t)o->bound);
    ws_table_i64(tb, c++, (int64_t)o->interval);
    ws_table_i64(tb, c++, (int64_t)o->macs);
    ws_table_i64(tb, c++, (int64_t)o->sram_max);
    ws_table_i64(tb, c++, (int64_t)o->weight_bytes);
  }
  return tb;
}

int ws_run_write_pes(const ws_run *r, FILE *out) {
  fputs("x,y,stage,op,busy_cycles,busy_fraction,sram_bytes\n", out);
  for (uint32_t y = 0; y < r->H; y++)
    for (uint32_t x = 0; x < r->W; x++) {
      const size_t at = (size_t)y * r->W + x;
      const int32_t o = r->owner[at];
      fprintf(out, "%u,%u,%d,%s,%llu,%.4f,%u\n", x, y, o, o >= 0 ? r->ops[o].name : "", (unsigned long long)r->busy[at],
              (double)r->busy[at] / (double)r->tot.cycles, r->sram[at]);
    }
  return ferror(out) ? -1 : 0;
}
