/* After the placer's search: the final cut points and estimates, the
 * pipeline's routes built on the mesh (SRAM and colors checked by the code
 * the simulation runs), totals, and the tables (see place.h). */
#include <stdlib.h>
#include <string.h>

#include "kernels/kind.h"
#include "kernels/pipeline.h"
#include "place_internal.h"
#include "sim/engine/engine.h"

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* Hops between two regions' nearest PEs, 0 when they touch. */
static uint32_t gap(fab_rect a, fab_rect b) {
  const uint32_t dx = b.x >= a.x + a.w ? b.x - (a.x + a.w) : a.x >= b.x + b.w ? a.x - (b.x + b.w) : 0;
  const uint32_t dy = b.y >= a.y + a.h ? b.y - (a.y + a.h) : a.y >= b.y + b.h ? a.y - (b.y + b.h) : 0;
  return dx + dy;
}

/* Build every route of the pipeline on the mesh: its check of every PE's
 * SRAM and every router's colors. Colors per stage into st[].colors_max. */
static int routes(ws_placement *p, char *err, size_t errlen) {
  krn_stage *stages = malloc(p->n * sizeof *stages);
  if (!stages) {
    snprintf(err, errlen, "place: out of memory");
    return -1;
  }
  for (uint32_t i = 0; i < p->n; i++) stages[i] = p->st[i].stage;
  const krn_run run = {.b = p->b, .micro_batches = p->seq / p->b, .seq = p->seq};
  ws_program prog;
  const int rc = ws_program_create(&prog, &p->fc, &p->m, stages, p->n, &run, err, errlen);
  if (rc == 0) {
    const fab_routes *r = fab_routes_of(prog.f);
    p->tot.colors_max = fab_routes_colors_max(r);
    for (uint32_t i = 0; i < p->n; i++) {
      const fab_rect q = p->st[i].stage.region;
      for (uint32_t y = q.y; y < q.y + q.h; y++)
        for (uint32_t x = q.x; x < q.x + q.w; x++) {
          const uint32_t c = fab_routes_colors_at(r, fab_at(p->W, x, y));
          if (c > p->st[i].colors_max) p->st[i].colors_max = c;
        }
    }
  }
  ws_program_destroy(&prog);
  free(stages);
  return rc;
}

int ws_place_finish(ws_placement *p, char *err, size_t errlen) {
  ws_place_totals *t = &p->tot;
  t->stages = p->n;
  t->pes_mesh = (uint64_t)p->W * p->H;
  t->stage_min = UINT64_MAX;
  double sum = 0, sum_pe = 0;
  for (uint32_t i = 0; i < p->n; i++) {
    ws_placed *st = &p->st[i];
    krn_stage *s = &st->stage;
    const uint32_t r = s->region.h, c = s->region.w;
    if (krn_kind_of(s->kind)->picks_kernel && p->rows[i]) {
      p->kc[i] = malloc((r + 1) * sizeof *p->kc[i]);
      p->nc[i] = malloc((c + 1) * sizeof *p->nc[i]);
      if (!p->kc[i] || !p->nc[i]) {
        snprintf(err, errlen, "place: out of memory");
        return -1;
      }
    }
    const int took = ws_place_estimate(p, i, s->region, p->kc[i], p->nc[i], &st->est, &st->uniform, err, errlen);
    if (took < 0) return -1;
    s->k_cut = took ? p->kc[i] : NULL;
    s->n_cut = took ? p->nc[i] : NULL;
    t->pes_used += st->est.pes;
    t->stage_max = max_u64(t->stage_max, st->est.interval);
    t->stage_min = st->est.interval < t->stage_min ? st->est.interval : t->stage_min;
    t->fill_latency += st->est.latency;
    sum += (double)st->est.interval;
    sum_pe += (double)st->est.interval * st->est.pes;
    if (i + 1 < p->n) {
      const uint32_t g = gap(s->region, p->st[i + 1].stage.region);
      t->hops_next_max = g > t->hops_next_max ? g : t->hops_next_max;
    }
    for (uint32_t k = 0; k < KRN_MAX_INPUTS; k++) {
      if (s->in[k] < 0) continue;
      const uint32_t g = gap(p->st[s->in[k]].stage.region, s->region);
      t->hops_edge_max = g > t->hops_edge_max ? g : t->hops_edge_max;
    }
  }
  t->stage_mean = sum / p->n;
  t->stage_mean_pe = sum_pe / (double)t->pes_used;
  t->tokens_per_s = (double)p->b * (double)p->clock / (double)t->stage_max;
  t->route_error[0] = '\0';
  t->routes_ok = routes(p, t->route_error, sizeof t->route_error) == 0;
  return 0;
}

int ws_placement_account(const ws_placement *p, mdl_cost *total) { return ws_input_account(p->in, total); }

ws_table *ws_place_table(const ws_placement *p) {
  static const char *const cols[] = {"op",      "layer",    "x",        "y",          "w",
                                     "h",       "pes",      "tile_k",   "tile_n",     "nnz_max",
                                     "nnz_mean", "stage_cycles", "sram_max_bytes", "colors_max", "kind",
                                     "nnz_max_uniform", "stage_cycles_uniform", "sparse_pes", "latency"};
  ws_table *t = ws_table_create(sizeof cols / sizeof cols[0], cols);
  for (uint32_t i = 0; t && i < p->n; i++) {
    const ws_placed *st = &p->st[i];
    const fab_rect q = st->stage.region;
    const bool gemm = krn_kind_of(st->stage.kind)->picks_kernel; /* tiles of nonzeros, sparse PEs */
    if (ws_table_row(t) != 0) {
      ws_table_destroy(t);
      return NULL;
    }
    ws_table_str(t, 0, st->stage.name);
    ws_table_i64(t, 1, st->layer);
    ws_table_i64(t, 2, q.x);
    ws_table_i64(t, 3, q.y);
    ws_table_i64(t, 4, q.w);
    ws_table_i64(t, 5, q.h);
    ws_table_i64(t, 6, st->est.pes);
    ws_table_i64(t, 7, st->est.tile_k);
    ws_table_i64(t, 8, st->est.tile_n);
    if (gemm) {
      ws_table_i64(t, 9, (int64_t)st->est.nnz_max);
      ws_table_f64(t, 10, st->est.nnz_mean);
    }
    ws_table_i64(t, 11, (int64_t)st->est.interval);
    ws_table_i64(t, 12, (int64_t)st->est.sram);
    if (p->tot.routes_ok) ws_table_i64(t, 13, st->colors_max);
    ws_table_str(t, 14, st->kind);
    if (gemm) {
      ws_table_i64(t, 15, (int64_t)st->uniform.nnz_max);
      ws_table_i64(t, 16, (int64_t)st->uniform.interval);
      ws_table_i64(t, 17, st->est.sparse_pes);
    }
    ws_table_i64(t, 18, (int64_t)st->est.latency);
  }
  return t;
}

ws_table *ws_place_totals_table(const ws_placement *p) {
  static const char *const cols[] = {"model",        "mesh",         "stages",         "pes_used",
                                     "pes_mesh",     "shelf_height", "stage_max",      "stage_mean",
                                     "stage_mean_pe", "max_over_mean", "max_over_mean_pe", "tokens_per_s",
                                     "fill_latency", "colors_max",   "hops_next_max",  "hops_edge_max",
                                     "wall_s",       "routes_ok"};
  const ws_place_totals *t = &p->tot;
  ws_table *tb = ws_table_create(sizeof cols / sizeof cols[0], cols);
  if (!tb || ws_table_row(tb) != 0) {
    ws_table_destroy(tb);
    return NULL;
  }
  char mesh[32];
  snprintf(mesh, sizeof mesh, "%ux%u", p->W, p->H);
  ws_table_str(tb, 0, mdl_graph_model(p->g)->name);
  ws_table_str(tb, 1, mesh);
  ws_table_i64(tb, 2, t->stages);
  ws_table_i64(tb, 3, (int64_t)t->pes_used);
  ws_table_i64(tb, 4, (int64_t)t->pes_mesh);
  ws_table_i64(tb, 5, t->shelf_height);
  ws_table_i64(tb, 6, (int64_t)t->stage_max);
  ws_table_f64(tb, 7, t->stage_mean);
  ws_table_f64(tb, 8, t->stage_mean_pe);
  ws_table_f64(tb, 9, (double)t->stage_max / t->stage_mean);
  ws_table_f64(tb, 10, (double)t->stage_max / t->stage_mean_pe);
  ws_table_f64(tb, 11, t->tokens_per_s);
  ws_table_i64(tb, 12, (int64_t)t->fill_latency);
  if (t->routes_ok) ws_table_i64(tb, 13, t->colors_max);
  ws_table_i64(tb, 14, t->hops_next_max);
  ws_table_i64(tb, 15, t->hops_edge_max);
  ws_table_f64(tb, 16, t->wall_s);
  ws_table_str(tb, 17, t->routes_ok ? "yes" : "no");
  return tb;
}

int ws_place_write_map(const ws_placement *p, FILE *out) {
  int32_t *owner = malloc((size_t)p->W * p->H * sizeof *owner);
  if (!owner) return -1;
  for (size_t i = 0; i < (size_t)p->W * p->H; i++) owner[i] = -1;
  for (uint32_t i = 0; i < p->n; i++) {
    const fab_rect q = p->st[i].stage.region;
    for (uint32_t y = q.y; y < q.y + q.h; y++)
      for (uint32_t x = q.x; x < q.x + q.w; x++) owner[(size_t)y * p->W + x] = (int32_t)i;
  }
  fputs("x,y,op\n", out);
  for (uint32_t y = 0; y < p->H; y++)
    for (uint32_t x = 0; x < p->W; x++) {
      const int32_t o = owner[(size_t)y * p->W + x];
      fprintf(out, "%u,%u,%s\n", x, y, o >= 0 ? p->st[o].stage.name : "");
    }
  free(owner);
  return ferror(out) ? -1 : 0;
}
