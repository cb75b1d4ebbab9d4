/* The end-to-end run: the resolved input, the strategy sim.strategy names
 * (sim/strategy/strategy.h) prepared and simulated, the wafer's bound
 * beside it, and the totals, op rows and per-PE map the reports show (see
 * run.h). */
#include "run.h"

#include <stdlib.h>
#include <string.h>

#include "report.h"

struct ws_run {
  ws_input in;                 /* the resolved input (owned) */
  const strat_strategy *strat; /* sim.strategy's */
  void *state;                 /* the strategy's, for the run's life (op names point into it) */
  strat_result res;
};

int ws_run_check(const ws_config *cfg, uint64_t copies, char *err, size_t errlen) {
  /* the bound places nothing: its own SRAM check (weights in their smaller
     encoding, when it runs), and the host memory of its masks alone */
  if (cfg->sim.strategy == WS_STRATEGY_BOUND)
    return ws_bounds_memory_check(cfg, WS_WORK_MASKS, copies, ws_bounds_budget(), err, errlen);
  return ws_place_check(cfg, WS_WORK_RUN, copies, err, errlen);
}

ws_run *ws_run_simulate(const ws_config *cfg, ws_run_progress progress, void *ctx, char *err, size_t errlen) {
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
  free(r);
}

const ws_run_totals *ws_run_totals_of(const ws_run *r) { return &r->res.tot; }
const ws_functional_result *ws_run_functional(const ws_run *r) { return r->res.functional ? &r->res.fres : NULL; }
const float *ws_run_logits(const ws_run *r) { return r->res.functional ? r->res.logits : NULL; }
uint32_t ws_run_op_count(const ws_run *r) { return r->res.nops; }
const ws_run_op *ws_run_op_at(const ws_run *r, uint32_t i) { return &r->res.ops[i]; }

ws_table *ws_run_totals_table(const ws_run *r) {
  static const char *const cols[] = {
      "cycles",          "seconds",         "tokens_per_s",    "fill_cycles",      "steady_interval",
      "bound_cycles",    "placer_interval", "flops_dense",     "flops_executed",   "flops_saved",
      "flops_reduction", "flops_per_s",     "peak_flops_per_s", "peak_fraction",   "params_dense",
      "params",          "weight_bytes",    "macs",            "sram_max_bytes",   "sram_mean_bytes",
      "pes_used",        "pes_mesh",        "kernel_mix",      "stages",           "micro_batch",
      "micro_batches",   "events",          "wavelets_sent",   "link_wavelets",    "wall_s",  "place_wall_s",
      "sim_wall_s",      "events_per_s",    "sim_bytes",       "peak_rss_bytes",   "flops_simulated",
      "bound_cycles_wafer", "bound_fraction"};
  ws_table *tb = ws_table_create(sizeof cols / sizeof cols[0], cols);
  if (!tb || ws_table_row(tb) != 0) {
    ws_table_destroy(tb);
    return NULL;
  }
  const ws_run_totals *t = &r->res.tot;
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
  ws_table_i64(tb, c++, (int64_t)t->bound_cycles_wafer);
  ws_table_f64(tb, c++, t->bound_fraction);
  return tb;
}

ws_table *ws_run_ops_table(const ws_run *r) {
  static const char *const cols[] = {"op",     "layer",    "kind",        "kernel",  "x",       "y",
                                     "w",      "h",        "pes",         "busy_max", "utilisation", "nnz_max",
                                     "nnz_mean", "first",  "cycles",      "bound_cycles", "placer_interval",
                                     "macs",   "sram_max_bytes", "weight_bytes"};
  ws_table *tb = ws_table_create(sizeof cols / sizeof cols[0], cols);
  for (uint32_t i = 0; tb && i < r->res.nops; i++) {
    if (ws_table_row(tb) != 0) {
      ws_table_destroy(tb);
      return NULL;
    }
    const ws_run_op *o = &r->res.ops[i];
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

int ws_run_write_pes(const ws_run *run, FILE *out) {
  const strat_result *r = &run->res;
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
