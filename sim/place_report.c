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
  const krn_run run = {.b = p->b, .micro_batches = p->seq / p->b * p->in->batch, .seq = p->seq};
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

int ws_placement_account(const ws_placement *p, mdl_cost *total) {
  char err[256];
  return ws_input_account(p->in, p->in->keys, total, err, sizeof err);
}

/* The derived and nullable columns (row: a ws_placed, or the totals; ctx: the placement). */
static bool is_gemm(const void *row) { return krn_kind_of(((const ws_placed *)row)->stage.kind)->picks_kernel; }
static void get_nnz_max(ws_table *t, size_t col, const void *row, const void *ctx) {
  (void)ctx;
  if (is_gemm(row)) ws_table_i64(t, col, (int64_t)((const ws_placed *)row)->est.nnz_max);
}
static void get_nnz_mean(ws_table *t, size_t col, const void *row, const void *ctx) {
  (void)ctx;
  if (is_gemm(row)) ws_table_f64(t, col, ((const ws_placed *)row)->est.nnz_mean);
}
static void get_stage_colors(ws_table *t, size_t col, const void *row, const void *ctx) {
  if (((const ws_placement *)ctx)->tot.routes_ok) ws_table_i64(t, col, ((const ws_placed *)row)->colors_max);
}
static void get_nnz_max_uniform(ws_table *t, size_t col, const void *row, const void *ctx) {
  (void)ctx;
  if (is_gemm(row)) ws_table_i64(t, col, (int64_t)((const ws_placed *)row)->uniform.nnz_max);
}
static void get_interval_uniform(ws_table *t, size_t col, const void *row, const void *ctx) {
  (void)ctx;
  if (is_gemm(row)) ws_table_i64(t, col, (int64_t)((const ws_placed *)row)->uniform.interval);
}
static void get_sparse_pes(ws_table *t, size_t col, const void *row, const void *ctx) {
  (void)ctx;
  if (is_gemm(row)) ws_table_i64(t, col, ((const ws_placed *)row)->est.sparse_pes);
}

/* A placed stage's columns, in output order (place.h). */
static const ws_column stage_columns[] = {
    WS_COLUMN(ws_placed, stage.name, "op", NULL),
    WS_COLUMN(ws_placed, layer, "layer", "layer"),
    WS_COLUMN(ws_placed, stage.region.x, "x", "PEs"),
    WS_COLUMN(ws_placed, stage.region.y, "y", "PEs"),
    WS_COLUMN(ws_placed, stage.region.w, "w", "PEs"),
    WS_COLUMN(ws_placed, stage.region.h, "h", "PEs"),
    WS_COLUMN(ws_placed, est.pes, "pes", "PEs"),
    WS_COLUMN(ws_placed, est.tile_k, "tile_k", "rows of K"),
    WS_COLUMN(ws_placed, est.tile_n, "tile_n", "columns of N"),
    WS_COLUMN_GET("nnz_max", "nonzeros", WS_COL_U64, get_nnz_max, "ws_placed.est.nnz_max; null unless a weight GEMM"),
    WS_COLUMN_GET("nnz_mean", "nonzeros", WS_COL_F64, get_nnz_mean, "ws_placed.est.nnz_mean; null unless a weight GEMM"),
    WS_COLUMN(ws_placed, est.interval, "stage_cycles", "cycles per micro-batch"),
    WS_COLUMN(ws_placed, est.sram, "sram_max_bytes", "bytes"),
    WS_COLUMN_GET("colors_max", "colors", WS_COL_U32, get_stage_colors,
                  "ws_placed.colors_max; null unless the routes fit (ws_place_totals.routes_ok)"),
    WS_COLUMN(ws_placed, kind, "kind", NULL),
    WS_COLUMN_GET("nnz_max_uniform", "nonzeros", WS_COL_U64, get_nnz_max_uniform,
                  "ws_placed.uniform.nnz_max; null unless a weight GEMM"),
    WS_COLUMN_GET("stage_cycles_uniform", "cycles per micro-batch", WS_COL_U64, get_interval_uniform,
                  "ws_placed.uniform.interval; null unless a weight GEMM"),
    WS_COLUMN_GET("sparse_pes", "PEs", WS_COL_U32, get_sparse_pes, "ws_placed.est.sparse_pes; null unless a weight GEMM"),
    WS_COLUMN(ws_placed, est.latency, "latency", "cycles"),
};

static void get_model(ws_table *t, size_t col, const void *row, const void *ctx) {
  (void)row;
  ws_table_str(t, col, mdl_graph_model(((const ws_placement *)ctx)->g)->name);
}
static void get_mesh(ws_table *t, size_t col, const void *row, const void *ctx) {
  (void)row;
  const ws_placement *p = ctx;
  char mesh[32];
  snprintf(mesh, sizeof mesh, "%ux%u", p->W, p->H);
  ws_table_str(t, col, mesh);
}
static void get_max_over_mean(ws_table *t, size_t col, const void *row, const void *ctx) {
  (void)ctx;
  const ws_place_totals *tot = row;
  ws_table_f64(t, col, (double)tot->stage_max / tot->stage_mean);
}
static void get_max_over_mean_pe(ws_table *t, size_t col, const void *row, const void *ctx) {
  (void)ctx;
  const ws_place_totals *tot = row;
  ws_table_f64(t, col, (double)tot->stage_max / tot->stage_mean_pe);
}
static void get_colors_max(ws_table *t, size_t col, const void *row, const void *ctx) {
  (void)ctx;
  const ws_place_totals *tot = row;
  if (tot->routes_ok) ws_table_i64(t, col, tot->colors_max);
}
static void get_routes_ok(ws_table *t, size_t col, const void *row, const void *ctx) {
  (void)ctx;
  ws_table_str(t, col, ((const ws_place_totals *)row)->routes_ok ? "yes" : "no");
}

/* The placement's totals' columns, in output order (place.h). */
static const ws_column place_totals_columns[] = {
    WS_COLUMN_GET("model", NULL, WS_COL_STR, get_model, "the placed graph's model name (mdl_graph_model)"),
    WS_COLUMN_GET("mesh", "PEs", WS_COL_STR, get_mesh, "the mesh placed on, WxH"),
    WS_COLUMN(ws_place_totals, stages, "stages", "stages"),
    WS_COLUMN(ws_place_totals, pes_used, "pes_used", "PEs"),
    WS_COLUMN(ws_place_totals, pes_mesh, "pes_mesh", "PEs"),
    WS_COLUMN(ws_place_totals, shelf_height, "shelf_height", "PE rows"),
    WS_COLUMN(ws_place_totals, stage_max, "stage_max", "cycles per micro-batch"),
    WS_COLUMN(ws_place_totals, stage_mean, "stage_mean", "cycles per micro-batch"),
    WS_COLUMN(ws_place_totals, stage_mean_pe, "stage_mean_pe", "cycles per micro-batch"),
    WS_COLUMN_GET("max_over_mean", "ratio", WS_COL_F64, get_max_over_mean,
                  "ws_place_totals.stage_max / ws_place_totals.stage_mean"),
    WS_COLUMN_GET("max_over_mean_pe", "ratio", WS_COL_F64, get_max_over_mean_pe,
                  "ws_place_totals.stage_max / ws_place_totals.stage_mean_pe"),
    WS_COLUMN(ws_place_totals, tokens_per_s, "tokens_per_s", "tokens/s"),
    WS_COLUMN(ws_place_totals, fill_latency, "fill_latency", "cycles"),
    WS_COLUMN_GET("colors_max", "colors", WS_COL_U32, get_colors_max,
                  "ws_place_totals.colors_max; null unless the routes fit (routes_ok)"),
    WS_COLUMN(ws_place_totals, hops_next_max, "hops_next_max", "hops"),
    WS_COLUMN(ws_place_totals, hops_edge_max, "hops_edge_max", "hops"),
    WS_COLUMN(ws_place_totals, wall_s, "wall_s", "s"),
    WS_COLUMN_GET("routes_ok", NULL, WS_COL_STR, get_routes_ok, "ws_place_totals.routes_ok as yes or no"),
    WS_COLUMN(ws_place_totals, limit, "limit", NULL),
    WS_COLUMN(ws_place_totals, limit_stage, "limit_stage", NULL),
};

const ws_column *ws_place_columns(size_t *n) {
  *n = WS_NCOLS(stage_columns);
  return stage_columns;
}

const ws_column *ws_place_totals_columns(size_t *n) {
  *n = WS_NCOLS(place_totals_columns);
  return place_totals_columns;
}

ws_table *ws_place_table(const ws_placement *p) {
  return ws_table_of_rows(stage_columns, WS_NCOLS(stage_columns), p->st, sizeof p->st[0], p->n, p);
}

ws_table *ws_place_totals_table(const ws_placement *p) {
  return ws_table_of_rows(place_totals_columns, WS_NCOLS(place_totals_columns), &p->tot, sizeof p->tot, 1, p);
}

/* One PE of the placement map (place --map). */
typedef struct {
  uint32_t x, y;  /* its place on the mesh */
  const char *op; /* the stage it runs, "" unused */
} map_row;

static const ws_column map_columns[] = {
    WS_COLUMN(map_row, x, "x", "PEs"),
    WS_COLUMN(map_row, y, "y", "PEs"),
    WS_COLUMN(map_row, op, "op", NULL),
};

const ws_column *ws_place_map_columns(size_t *n) {
  *n = WS_NCOLS(map_columns);
  return map_columns;
}

/* Row by row, as pes.csv: one row held at a time. */
int ws_place_write_map(const ws_placement *p, FILE *out) {
  int32_t *owner = malloc((size_t)p->W * p->H * sizeof *owner);
  ws_table *tb = owner ? ws_table_of_columns(map_columns, WS_NCOLS(map_columns)) : NULL;
  if (!tb) {
    free(owner);
    return -1;
  }
  for (size_t i = 0; i < (size_t)p->W * p->H; i++) owner[i] = -1;
  for (uint32_t i = 0; i < p->n; i++) {
    const fab_rect q = p->st[i].stage.region;
    for (uint32_t y = q.y; y < q.y + q.h; y++)
      for (uint32_t x = q.x; x < q.x + q.w; x++) owner[(size_t)y * p->W + x] = (int32_t)i;
  }
  int rc = ws_table_write_csv_header(tb, out);
  for (uint32_t y = 0; rc == 0 && y < p->H; y++)
    for (uint32_t x = 0; rc == 0 && x < p->W; x++) {
      const int32_t o = owner[(size_t)y * p->W + x];
      const map_row row = {x, y, o >= 0 ? p->st[o].stage.name : ""};
      ws_table_clear(tb);
      rc = ws_table_add(tb, map_columns, WS_NCOLS(map_columns), &row, NULL) != 0 ? -1 : ws_table_write_csv_rows(tb, out);
    }
  ws_table_destroy(tb);
  free(owner);
  return rc != 0 || ferror(out) ? -1 : 0;
}
