/* The end-to-end run: the resolved input, the strategy sim.strategy names
 * (sim/strategy/strategy.h) prepared and simulated, the wafer's bound
 * beside it, and the totals, op rows and per-PE map the reports show (see
 * run.h). */
#include "run.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

struct ws_run {
  ws_config *cfg;              /* a generate's decode: its configuration (owned: the input borrows it) */
  ws_input in;                 /* the resolved input (owned) */
  const strat_strategy *strat; /* sim.strategy's */
  void *state;                 /* the strategy's, for the run's life (op names point into it) */
  strat_result res;
};

int ws_run_check(const ws_config *cfg, uint64_t copies, char *err, size_t errlen) {
  /* the bound simulates nothing: its own SRAM check (weights in their
     smaller encoding, when it runs), and the host memory of its masks alone;
     the others (pipeline, layerwise, auto) simulate a fabric of the mesh */
  if (cfg->sim.strategy == WS_STRATEGY_BOUND)
    return ws_bounds_memory_check(cfg, WS_WORK_MASKS, copies, ws_bounds_budget(), err, errlen);
  /* weight streaming: no weight resident (no fit check), a fabric of the mesh for its blocks */
  if (ws_config_streams(cfg)) return ws_bounds_memory_check(cfg, WS_WORK_RUN, copies, ws_bounds_budget(), err, errlen);
  return ws_place_check(cfg, WS_WORK_RUN, copies, err, errlen);
}

/* A generate: the prefill, then new_tokens - 1 decode steps (the prefill's
 * last position yields the first new token). The run is the decode's (its
 * op rows a decode step's), its totals the two added, time to first token
 * the prefill's; with one new token, the prefill alone. */
static ws_run *generate(const ws_config *cfg, ws_run_progress progress, void *ctx, char *err, size_t errlen) {
  ws_config *pre = malloc(sizeof *pre), *dec = malloc(sizeof *dec);
  ws_run *p = NULL, *d = NULL;
  if (!pre || !dec) {
    snprintf(err, errlen, "out of memory");
    free(pre), free(dec);
    return NULL;
  }
  *pre = *cfg, *dec = *cfg;
  pre->workload.phase = WS_PHASE_PREFILL;
  dec->workload.phase = WS_PHASE_DECODE;
  dec->workload.new_tokens = cfg->workload.new_tokens - 1;
  p = ws_run_simulate(pre, progress, ctx, err, errlen);
  if (p && dec->workload.new_tokens > 0 && !(d = ws_run_simulate(dec, progress, ctx, err, errlen))) {
    ws_run_destroy(p);
    p = NULL;
  }
  if (!p) {
    free(pre), free(dec);
    return NULL;
  }
  if (!d) { /* one new token: the prefill's */
    p->cfg = pre;
    free(dec);
    return p;
  }
  d->cfg = dec;
  strat_totals *t = &d->res.tot;
  const strat_totals *f = &p->res.tot;
  const double clock = (double)cfg->fabric.clock;
  t->ttft_s = f->seconds;
  t->cycles += f->cycles;
  t->seconds = (double)t->cycles / clock;
  t->fill_cycles = f->cycles;
  t->steps += 1;
  t->tokens_per_s = (double)t->batch * t->steps / t->seconds;
  t->tokens_per_s_per_seq = (double)t->steps / t->seconds;
  t->flops_dense += f->flops_dense;
  t->flops_executed += f->flops_executed;
  t->flops_saved = t->flops_dense - t->flops_executed;
  t->flops_reduction = t->flops_dense / t->flops_executed;
  strat_set_macs(t, t->macs + f->macs);
  t->bound_cycles_wafer += f->bound_cycles_wafer;
  t->bound_fraction = (double)t->bound_cycles_wafer / (double)t->cycles;
  t->events += f->events;
  t->wavelets_sent += f->wavelets_sent;
  t->link_wavelets += f->link_wavelets;
  t->wall_s += f->wall_s;
  t->sim_wall_s += f->sim_wall_s;
  t->sram_max = t->sram_max > f->sram_max ? t->sram_max : f->sram_max;
  ws_run_destroy(p);
  free(pre);
  return d;
}

ws_run *ws_run_simulate(const ws_config *cfg, ws_run_progress progress, void *ctx, char *err, size_t errlen) {
  if (cfg->workload.phase == WS_PHASE_GENERATE) return generate(cfg, progress, ctx, err, errlen);
  if (ws_run_check(cfg, 1, err, errlen) != 0) return NULL;
  const double t0 = ws_report_wall_s();
  ws_run *r = calloc(1, sizeof *r);
  if (!r) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  r->strat = strat_of(cfg->sim.strategy);
  uint64_t bound = 0;
  if (ws_input_create(&r->in, cfg, err, errlen) != 0 ||
      r->strat->prepare(&r->in, &r->state, err, errlen) != 0 ||
      strat_bound_cycles(&r->in, &bound, err, errlen) != 0 ||
      r->strat->simulate(r->state, &r->in, &r->res, progress, ctx, err, errlen) != 0) {
    ws_run_destroy(r);
    return NULL;
  }
  if (!r->res.tot.strategy[0]) snprintf(r->res.tot.strategy, sizeof r->res.tot.strategy, "%s", r->strat->name);
  /* every strategy's share of the wafer's limit */
  r->res.tot.bound_cycles_wafer = bound;
  r->res.tot.bound_fraction = (double)bound / (double)r->res.tot.cycles;
  r->res.tot.wall_s = ws_report_wall_s() - t0;
  return r;
}

void ws_run_destroy(ws_run *r) {
  if (!r) return;
  strat_result_free(&r->res);
  if (r->strat && r->strat->release) r->strat->release(r->state);
  ws_input_destroy(&r->in);
  free(r->cfg);
  free(r);
}

const ws_run_totals *ws_run_totals_of(const ws_run *r) { return &r->res.tot; }
const ws_functional_result *ws_run_functional(const ws_run *r) { return r->res.functional ? &r->res.fres : NULL; }
const float *ws_run_logits(const ws_run *r) { return r->res.functional ? r->res.logits : NULL; }
uint32_t ws_run_op_count(const ws_run *r) { return r->res.nops; }
const ws_run_op *ws_run_op_at(const ws_run *r, uint32_t i) { return &r->res.ops[i]; }

static void get_limit(ws_table *t, size_t col, const void *row, const void *ctx) {
  (void)ctx;
  ws_table_str(t, col, ((const strat_totals *)row)->limit);
}
static void get_limit_stage(ws_table *t, size_t col, const void *row, const void *ctx) {
  (void)ctx;
  ws_table_str(t, col, ((const strat_totals *)row)->limit_stage);
}

static void get_strategy(ws_table *t, size_t col, const void *row, const void *ctx) {
  (void)ctx;
  ws_table_str(t, col, ((const strat_totals *)row)->strategy);
}

static void get_bound_by(ws_table *t, size_t col, const void *row, const void *ctx) {
  (void)ctx;
  ws_table_str(t, col, ((const strat_totals *)row)->sys.bound_by);
}

/* The totals' columns, in output order (run.h defines each field). */
static const ws_column totals_columns[] = {
    WS_COLUMN(strat_totals, cycles, "cycles", "cycles"),
    WS_COLUMN(strat_totals, seconds, "seconds", "s"),
    WS_COLUMN(strat_totals, tokens_per_s, "tokens_per_s", "tokens/s"),
    WS_COLUMN(strat_totals, fill_cycles, "fill_cycles", "cycles"),
    WS_COLUMN(strat_totals, steady_interval, "steady_interval", "cycles per micro-batch"),
    WS_COLUMN(strat_totals, bound, "bound_cycles", "cycles"),
    WS_COLUMN(strat_totals, placer_interval, "placer_interval", "cycles per micro-batch"),
    WS_COLUMN(strat_totals, flops_dense, "flops_dense", "FLOP"),
    WS_COLUMN(strat_totals, flops_executed, "flops_executed", "FLOP"),
    WS_COLUMN(strat_totals, flops_saved, "flops_saved", "FLOP"),
    WS_COLUMN(strat_totals, flops_reduction, "flops_reduction", "ratio"),
    WS_COLUMN(strat_totals, flops_per_s, "flops_per_s", "FLOP/s"),
    WS_COLUMN(strat_totals, peak_flops_per_s, "peak_flops_per_s", "FLOP/s"),
    WS_COLUMN(strat_totals, peak_fraction, "peak_fraction", "ratio"),
    WS_COLUMN(strat_totals, params_dense, "params_dense", "parameters"),
    WS_COLUMN(strat_totals, params, "params", "parameters"),
    WS_COLUMN(strat_totals, weight_bytes, "weight_bytes", "bytes"),
    WS_COLUMN(strat_totals, macs, "macs", "multiply-accumulates"),
    WS_COLUMN(strat_totals, sram_max, "sram_max_bytes", "bytes"),
    WS_COLUMN(strat_totals, sram_mean, "sram_mean_bytes", "bytes"),
    WS_COLUMN(strat_totals, pes_used, "pes_used", "PEs"),
    WS_COLUMN(strat_totals, pes_mesh, "pes_mesh", "PEs"),
    WS_COLUMN(strat_totals, kernel_mix, "kernel_mix", "ratio"),
    WS_COLUMN(strat_totals, stages, "stages", "stages"),
    WS_COLUMN(strat_totals, micro_batch, "micro_batch", "tokens"),
    WS_COLUMN(strat_totals, micro_batches, "micro_batches", "micro-batches"),
    WS_COLUMN(strat_totals, events, "events", "events"),
    WS_COLUMN(strat_totals, wavelets_sent, "wavelets_sent", "wavelets"),
    WS_COLUMN(strat_totals, link_wavelets, "link_wavelets", "wavelet-hops"),
    WS_COLUMN(strat_totals, wall_s, "wall_s", "s"),
    WS_COLUMN(strat_totals, place_wall_s, "place_wall_s", "s"),
    WS_COLUMN(strat_totals, sim_wall_s, "sim_wall_s", "s"),
    WS_COLUMN(strat_totals, events_per_s, "events_per_s", "events/s"),
    WS_COLUMN(strat_totals, sim_bytes, "sim_bytes", "bytes"),
    WS_COLUMN(strat_totals, peak_rss_bytes, "peak_rss_bytes", "bytes"),
    WS_COLUMN(strat_totals, flops_simulated, "flops_simulated", "FLOP"),
    WS_COLUMN(strat_totals, bound_cycles_wafer, "bound_cycles_wafer", "cycles"),
    WS_COLUMN(strat_totals, bound_fraction, "bound_fraction", "ratio"),
    WS_COLUMN(strat_totals, batch, "batch", "sequences"),
    WS_COLUMN_GET("limit", NULL, WS_COL_STR, get_limit, "strat_totals.limit: what stops the placer's interval lower"),
    WS_COLUMN_GET("limit_stage", NULL, WS_COL_STR, get_limit_stage, "strat_totals.limit_stage: the stage it stops at"),
    WS_COLUMN(strat_totals, placer_cycles, "placer_cycles", "cycles"),
    WS_COLUMN(strat_totals, entry_interval, "entry_interval", "cycles per micro-batch"),
    WS_COLUMN(strat_totals, tail_cycles, "tail_cycles", "cycles"),
    WS_COLUMN_GET("strategy", NULL, WS_COL_STR, get_strategy, "strat_totals.strategy: the strategy that ran"),
    WS_COLUMN(strat_totals, replicas, "replicas", "copies"),
    WS_COLUMN(strat_totals, pipeline_cycles_model, "pipeline_cycles_model", "cycles"),
    WS_COLUMN(strat_totals, layerwise_cycles_model, "layerwise_cycles_model", "cycles"),
    WS_COLUMN(strat_totals, steps, "steps", "steps"),
    WS_COLUMN(strat_totals, step_cycles_max, "step_cycles_max", "cycles"),
    WS_COLUMN(strat_totals, ttft_s, "ttft_s", "s"),
    WS_COLUMN(strat_totals, tpot_s, "tpot_s", "s"),
    WS_COLUMN(strat_totals, tpot_max_s, "tpot_max_s", "s"),
    WS_COLUMN(strat_totals, tokens_per_s_per_seq, "tokens_per_s_per_seq", "tokens/s"),
    WS_COLUMN(strat_totals, sys.step_s, "step_s", "s"),
    WS_COLUMN(strat_totals, sys.compute_s, "compute_s", "s"),
    WS_COLUMN(strat_totals, sys.stream_s, "stream_s", "s"),
    WS_COLUMN(strat_totals, sys.grad_s, "grad_s", "s"),
    WS_COLUMN(strat_totals, sys.store_s, "store_s", "s"),
    WS_COLUMN(strat_totals, sys.stall_s, "stall_s", "s"),
    WS_COLUMN(strat_totals, sys.reduce_s, "reduce_s", "s"),
    WS_COLUMN(strat_totals, sys.update_s, "update_s", "s"),
    WS_COLUMN(strat_totals, sys.overlap_s, "overlap_s", "s"),
    WS_COLUMN(strat_totals, sys.stream_bytes, "stream_bytes", "bytes"),
    WS_COLUMN(strat_totals, sys.grad_bytes, "grad_bytes", "bytes"),
    WS_COLUMN_GET("bound_by", NULL, WS_COL_STR, get_bound_by, "strat_totals.bound_by: the step's busiest resource"),
    WS_COLUMN(strat_totals, wafers, "wafers", "wafers"),
    WS_COLUMN(strat_totals, layer_runs, "layer_runs", "runs"),
    WS_COLUMN(strat_totals, sys.messages, "system_messages", "communications"),
    WS_COLUMN(strat_totals, system_wall_s, "system_wall_s", "s"),
};

/* An op row's columns, in output order (strategy.h and run.h define each field). */
static const ws_column ops_columns[] = {
    WS_COLUMN(strat_op, name, "op", NULL),
    WS_COLUMN(strat_op, layer, "layer", "layer"),
    WS_COLUMN(strat_op, kind, "kind", NULL),
    WS_COLUMN(strat_op, kernel, "kernel", NULL),
    WS_COLUMN(strat_op, region.x, "x", "PEs"),
    WS_COLUMN(strat_op, region.y, "y", "PEs"),
    WS_COLUMN(strat_op, region.w, "w", "PEs"),
    WS_COLUMN(strat_op, region.h, "h", "PEs"),
    WS_COLUMN(strat_op, pes, "pes", "PEs"),
    WS_COLUMN(strat_op, busy_max, "busy_max", "cycles"),
    WS_COLUMN(strat_op, utilisation, "utilisation", "ratio"),
    WS_COLUMN(strat_op, nnz_max, "nnz_max", "nonzeros"),
    WS_COLUMN(strat_op, nnz_mean, "nnz_mean", "nonzeros"),
    WS_COLUMN(strat_op, first, "first", "cycle"),
    WS_COLUMN(strat_op, cycles, "cycles", "cycles"),
    WS_COLUMN(strat_op, bound, "bound_cycles", "cycles"),
    WS_COLUMN(strat_op, interval, "placer_interval", "cycles per micro-batch"),
    WS_COLUMN(strat_op, macs, "macs", "multiply-accumulates"),
    WS_COLUMN(strat_op, sram_max, "sram_max_bytes", "bytes"),
    WS_COLUMN(strat_op, weight_bytes, "weight_bytes", "bytes"),
    WS_COLUMN(strat_op, wait_inputs, "wait_inputs", "cycles per PE"),
    WS_COLUMN(strat_op, wait_outputs, "wait_outputs", "cycles per PE"),
};

const ws_column *ws_run_totals_columns(size_t *n) {
  *n = WS_NCOLS(totals_columns);
  return totals_columns;
}

const ws_column *ws_run_ops_columns(size_t *n) {
  *n = WS_NCOLS(ops_columns);
  return ops_columns;
}

ws_table *ws_run_totals_row(const ws_run_totals *t) {
  return ws_table_of_rows(totals_columns, WS_NCOLS(totals_columns), t, sizeof *t, 1, NULL);
}

ws_table *ws_run_ops_rows(const ws_run_op *ops, uint32_t nops) {
  return ws_table_of_rows(ops_columns, WS_NCOLS(ops_columns), ops, sizeof *ops, nops, NULL);
}

ws_table *ws_run_totals_table(const ws_run *r) { return ws_run_totals_row(&r->res.tot); }
ws_table *ws_run_ops_table(const ws_run *r) { return ws_run_ops_rows(r->res.ops, r->res.nops); }

/* One PE of the per-PE map (pes.csv). */
typedef struct {
  uint32_t x, y;         /* its place on the mesh */
  int32_t stage;         /* the op it runs, -1 unused */
  const char *op;        /* that op's name, "" unused */
  uint64_t busy_cycles;  /* cycles */
  double busy_fraction;  /* of the run's cycles */
  uint32_t sram_bytes;   /* bytes */
} pe_row;

static const ws_column pes_columns[] = {
    WS_COLUMN(pe_row, x, "x", "PEs"),
    WS_COLUMN(pe_row, y, "y", "PEs"),
    WS_COLUMN(pe_row, stage, "stage", NULL),
    WS_COLUMN(pe_row, op, "op", NULL),
    WS_COLUMN(pe_row, busy_cycles, "busy_cycles", "cycles"),
    WS_COLUMN_FIXED(pe_row, busy_fraction, "busy_fraction", "ratio", 4),
    WS_COLUMN(pe_row, sram_bytes, "sram_bytes", "bytes"),
};

const ws_column *ws_run_pes_columns(size_t *n) {
  *n = WS_NCOLS(pes_columns);
  return pes_columns;
}

/* Row by row (a full wafer has close to a million PEs): one row held at a time. */
int ws_run_write_pes(const ws_run *run, FILE *out) {
  const strat_result *r = &run->res;
  ws_table *tb = ws_table_of_columns(pes_columns, WS_NCOLS(pes_columns));
  int rc = tb ? ws_table_write_csv_header(tb, out) : -1;
  for (uint32_t y = 0; rc == 0 && y < r->H; y++)
    for (uint32_t x = 0; rc == 0 && x < r->W; x++) {
      const size_t at = (size_t)y * r->W + x;
      const int32_t o = r->owner[at];
      const pe_row row = {x, y, o, o >= 0 ? r->ops[o].name : "", r->busy[at],
                          (double)r->busy[at] / (double)r->tot.cycles, r->sram[at]};
      ws_table_clear(tb);
      rc = ws_table_add(tb, pes_columns, WS_NCOLS(pes_columns), &row, NULL) != 0 ? -1 : ws_table_write_csv_rows(tb, out);
    }
  ws_table_destroy(tb);
  return rc != 0 || ferror(out) ? -1 : 0;
}
