/* Builds the rows of `wafersim flops` and `wafersim models` from the layer
 * graph (models/), the sparsity spec (workloads/) and the accounting. */
#include "flops.h"
#include "input.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "models/account.h"
#include "models/graph.h"
#include "workloads/mask.h"
#include "workloads/sparsity.h"
#include "workloads/weights.h"

static const char *const per_names[] = {"total", "kind", "op"};

const char *ws_flops_per_name(ws_flops_per per) {
  return (unsigned)per < 3 ? per_names[per] : "?";
}

int ws_flops_per_parse(const char *name) {
  for (int i = 0; i < 3; i++)
    if (strcmp(name, per_names[i]) == 0) return i;
  return -1;
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* One row of `wafersim flops`, whatever the granularity: the lead fields
 * that granularity's columns read, the cost block, and the tile statistics. */
typedef struct {
  const char *model;
  double sparsity;      /* the level, fraction of zeros */
  const char *op;       /* --per op: the op's name */
  int64_t layer;        /* --per op: decoder block, -1 outside */
  const char *kind;     /* --per kind and op: the op kind's name */
  const char *dtype;    /* --per op */
  int64_t batch, m, k, n; /* --per op: elements */
  const char *sparsifiable; /* --per op: yes or no */
  const char *inference;    /* --per kind and op: yes or no */
  const char *inputs;   /* --per op: the input ops' names, space-separated */
  int64_t ops;          /* --per kind: ops of the kind */
  mdl_cost cost;        /* the accounting of the row's ops */
  int64_t seq_len;      /* totals: tokens */
  wl_tile_stats tiles;  /* with --tiling; tiles 0: no weight, the cells empty */
} flops_row;

/* dense/sparse; 1 when both are 0 (nothing to reduce). */
static double ratio(int64_t dense, int64_t sparse) {
  if (sparse == 0) return dense == 0 ? 1.0 : INFINITY;
  return (double)dense / (double)sparse;
}

static void get_flops_reduction(ws_table *t, size_t col, const void *row, const void *ctx) {
  (void)ctx;
  const mdl_cost *c = &((const flops_row *)row)->cost;
  ws_table_f64(t, col, ratio(c->flops_dense, c->flops_sparse));
}
static void get_params_reduction(ws_table *t, size_t col, const void *row, const void *ctx) {
  (void)ctx;
  const mdl_cost *c = &((const flops_row *)row)->cost;
  ws_table_f64(t, col, ratio(c->params_dense, c->params_sparse));
}
static void get_flops_saved(ws_table *t, size_t col, const void *row, const void *ctx) {
  (void)ctx;
  const mdl_cost *c = &((const flops_row *)row)->cost;
  ws_table_i64(t, col, c->flops_dense - c->flops_sparse);
}
/* The tile columns: empty where the row has no weight. */
static void get_tile_max(ws_table *t, size_t col, const void *row, const void *ctx) {
  (void)ctx;
  const wl_tile_stats *s = &((const flops_row *)row)->tiles;
  if (s->tiles) ws_table_i64(t, col, (int64_t)s->max);
}
static void get_tile_mean(ws_table *t, size_t col, const void *row, const void *ctx) {
  (void)ctx;
  const wl_tile_stats *s = &((const flops_row *)row)->tiles;
  if (s->tiles) ws_table_f64(t, col, s->mean);
}
static void get_tile_min(ws_table *t, size_t col, const void *row, const void *ctx) {
  (void)ctx;
  const wl_tile_stats *s = &((const flops_row *)row)->tiles;
  if (s->tiles) ws_table_i64(t, col, (int64_t)s->min);
}
static void get_tile_imbalance(ws_table *t, size_t col, const void *row, const void *ctx) {
  (void)ctx;
  const wl_tile_stats *s = &((const flops_row *)row)->tiles;
  if (s->tiles) ws_table_f64(t, col, s->imbalance);
}

/* The cost block shared by every granularity, in column order. */
#define COST_COLUMNS                                                                                            \
  WS_COLUMN(flops_row, cost.flops_dense, "flops_dense", "FLOP"),                                                \
      WS_COLUMN(flops_row, cost.flops_sparse, "flops_sparse", "FLOP"),                                          \
      WS_COLUMN_GET("flops_reduction", "ratio", WS_COL_F64, get_flops_reduction,                                \
                    "cost.flops_dense / cost.flops_sparse (null when infinite)"),                               \
      WS_COLUMN(flops_row, cost.params_dense, "params_dense", "parameters"),                                    \
      WS_COLUMN(flops_row, cost.params_sparse, "params_sparse", "parameters"),                                  \
      WS_COLUMN_GET("params_reduction", "ratio", WS_COL_F64, get_params_reduction,                              \
                    "cost.params_dense / cost.params_sparse (null when infinite)"),                             \
      WS_COLUMN(flops_row, cost.bytes_dense, "weight_bytes_dense", "bytes"),                                    \
      WS_COLUMN(flops_row, cost.bytes_sparse, "weight_bytes_sparse", "bytes"),                                  \
      WS_COLUMN_GET("flops_saved", "FLOP", WS_COL_I64, get_flops_saved, "cost.flops_dense - cost.flops_sparse"),  \
      WS_COLUMN(flops_row, cost.weight_nnz, "weight_nnz", "nonzeros"),                                          \
      WS_COLUMN(flops_row, cost.bytes_csr, "weight_bytes_csr", "bytes"),                                        \
      WS_COLUMN(flops_row, cost.bytes_bitmap, "weight_bytes_bitmap", "bytes")

/* Per-tile nonzeros of every op's weight, aggregated per kind and in total:
 * the last columns of each granularity, present only with a tiling. */
#define TILE_COLUMNS                                                                                            \
  WS_COLUMN_GET("tile_nnz_max", "nonzeros", WS_COL_I64, get_tile_max, "tiles.max, empty without a weight"),       \
      WS_COLUMN_GET("tile_nnz_mean", "nonzeros", WS_COL_F64, get_tile_mean, "tiles.mean, empty without a weight"), \
      WS_COLUMN_GET("tile_nnz_min", "nonzeros", WS_COL_I64, get_tile_min, "tiles.min, empty without a weight"),    \
      WS_COLUMN_GET("tile_imbalance", "ratio", WS_COL_F64, get_tile_imbalance,                                  \
                    "tiles.imbalance, empty without a weight")
#define NTILE 4

static const ws_column total_columns[] = {
    WS_COLUMN(flops_row, model, "model", NULL),
    WS_COLUMN(flops_row, sparsity, "sparsity", "fraction of zeros"),
    COST_COLUMNS,
    WS_COLUMN(flops_row, seq_len, "seq_len", "tokens"),
    TILE_COLUMNS,
};
static const ws_column kind_columns[] = {
    WS_COLUMN(flops_row, model, "model", NULL),
    WS_COLUMN(flops_row, sparsity, "sparsity", "fraction of zeros"),
    WS_COLUMN(flops_row, kind, "kind", NULL),
    WS_COLUMN(flops_row, ops, "ops", "ops"),
    WS_COLUMN(flops_row, inference, "inference", NULL),
    COST_COLUMNS,
    TILE_COLUMNS,
};
static const ws_column op_columns[] = {
    WS_COLUMN(flops_row, model, "model", NULL),
    WS_COLUMN(flops_row, sparsity, "sparsity", "fraction of zeros"),
    WS_COLUMN(flops_row, op, "op", NULL),
    WS_COLUMN(flops_row, layer, "layer", "layer"),
    WS_COLUMN(flops_row, kind, "kind", NULL),
    WS_COLUMN(flops_row, dtype, "dtype", NULL),
    WS_COLUMN(flops_row, batch, "batch", "independent products"),
    WS_COLUMN(flops_row, m, "m", "rows"),
    WS_COLUMN(flops_row, k, "k", "elements"),
    WS_COLUMN(flops_row, n, "n", "columns"),
    WS_COLUMN(flops_row, sparsifiable, "sparsifiable", NULL),
    WS_COLUMN(flops_row, inference, "inference", NULL),
    WS_COLUMN(flops_row, inputs, "inputs", NULL),
    COST_COLUMNS,
    TILE_COLUMNS,
};

const ws_column *ws_flops_columns(ws_flops_per per, size_t *n, size_t *ntile) {
  *ntile = NTILE;
  if (per == WS_PER_OP) {
    *n = COUNT(op_columns);
    return op_columns;
  }
  if (per == WS_PER_KIND) {
    *n = COUNT(kind_columns);
    return kind_columns;
  }
  *n = COUNT(total_columns);
  return total_columns;
}

/* Add row to t (cols, n of them: without the tile columns when untiled);
 * false on out of memory. */
static bool add(ws_table *t, const ws_column *cols, size_t n, const flops_row *row) {
  return ws_table_add(t, cols, n, row, NULL) == 0;
}

/* Tiles of several weights taken together: the worst imbalance of one. */
static void tiles_add(wl_tile_stats *sum, const wl_tile_stats *t) {
  if (t->tiles == 0) return;
  if (sum->tiles == 0 || t->min < sum->min) sum->min = t->min;
  if (t->max > sum->max) sum->max = t->max;
  if (t->imbalance > sum->imbalance) sum->imbalance = t->imbalance;
  sum->tiles += t->tiles;
  sum->nnz += t->nnz;
  sum->mean = (double)sum->nnz / (double)sum->tiles;
}

static bool put_kind_rows(ws_table *t, size_t ncols, const char *model, double level, const mdl_graph *g,
                          const mdl_cost *per_op, const wl_tile_stats *tiles) {
  mdl_cost sum[MDL_OP_KIND_COUNT];
  wl_tile_stats tsum[MDL_OP_KIND_COUNT];
  int64_t count[MDL_OP_KIND_COUNT] = {0};
  memset(sum, 0, sizeof sum);
  memset(tsum, 0, sizeof tsum);
  for (size_t i = 0; i < mdl_graph_op_count(g); i++) {
    mdl_op_kind k = mdl_graph_op(g, i)->kind;
    mdl_cost_add(&sum[k], &per_op[i]);
    if (tiles) tiles_add(&tsum[k], &tiles[i]);
    count[k]++;
  }
  for (int k = 0; k < MDL_OP_KIND_COUNT; k++) {
    if (count[k] == 0) continue;
    const flops_row row = {.model = model, .sparsity = level, .kind = mdl_op_kind_name((mdl_op_kind)k),
                           .ops = count[k], .inference = mdl_kind_in_inference((mdl_op_kind)k) ? "yes" : "no",
                           .cost = sum[k], .tiles = tsum[k]};
    if (!add(t, kind_columns, ncols, &row)) return false;
  }
  return true;
}

static bool put_op_rows(ws_table *t, size_t ncols, const char *model, double level, const mdl_graph *g,
                        const mdl_cost *per_op, const wl_tile_stats *tiles) {
  for (size_t i = 0; i < mdl_graph_op_count(g); i++) {
    const mdl_op *op = mdl_graph_op(g, i);
    char inputs[2 * MDL_OP_NAME_MAX + 2] = "";
    for (int j = 0; j < 2; j++) {
      if (op->in[j] == MDL_NO_INPUT) continue;
      size_t used = strlen(inputs);
      snprintf(inputs + used, sizeof inputs - used, "%s%s", used ? " " : "", mdl_graph_op(g, (size_t)op->in[j])->name);
    }
    flops_row row = {.model = model, .sparsity = level, .op = op->name, .layer = op->layer,
                     .kind = mdl_op_kind_name(op->kind), .dtype = mdl_dtype_name(op->dtype), .batch = op->batch,
                     .m = op->m, .k = op->k, .n = op->n, .sparsifiable = op->sparsifiable ? "yes" : "no",
                     .inference = mdl_kind_in_inference(op->kind) ? "yes" : "no", .inputs = inputs,
                     .cost = per_op[i]};
    if (tiles) row.tiles = tiles[i];
    if (!add(t, op_columns, ncols, &row)) return false;
  }
  return true;
}

/* Tile statistics of a dense K x N weight cut evenly into h x w tiles. */
static wl_tile_stats dense_tiles(uint32_t K, uint32_t N, uint32_t w, uint32_t h, uint32_t *kc, uint32_t *nc) {
  wl_cuts_even(K, h, kc);
  wl_cuts_even(N, w, nc);
  uint32_t kmax = 0, kmin = UINT32_MAX, nmax = 0, nmin = UINT32_MAX;
  for (uint32_t i = 0; i < h; i++) {
    kmax = kc[i + 1] - kc[i] > kmax ? kc[i + 1] - kc[i] : kmax;
    kmin = kc[i + 1] - kc[i] < kmin ? kc[i + 1] - kc[i] : kmin;
  }
  for (uint32_t j = 0; j < w; j++) {
    nmax = nc[j + 1] - nc[j] > nmax ? nc[j + 1] - nc[j] : nmax;
    nmin = nc[j + 1] - nc[j] < nmin ? nc[j + 1] - nc[j] : nmin;
  }
  wl_tile_stats s = {.tiles = (uint64_t)w * h, .nnz = (uint64_t)K * N, .max = (uint64_t)kmax * nmax,
                     .min = (uint64_t)kmin * nmin};
  s.mean = (double)s.nnz / (double)s.tiles;
  s.imbalance = s.nnz ? (double)s.max / s.mean : 1.0;
  return s;
}

/* The masks of one level: nonzeros into nnz[] and, with a tiling, tile
 * statistics of every weight into tiles[]. 0, or -1 with a message. */
static int from_masks(const ws_config *cfg, const ws_flops_spec *spec, const mdl_graph *g, const wl_sparsity *s,
                      int64_t *nnz, wl_tile_stats *tiles, char *err, size_t errlen) {
  const wl_spec ws = ws_config_spec(cfg, s);
  wl_weights *w = wl_weights_build(g, &ws, err, errlen);
  if (!w) return -1;
  const uint32_t tw = spec->tile_w, th = spec->tile_h;
  uint32_t *kc = malloc((th + 1) * sizeof *kc), *nc = malloc((tw + 1) * sizeof *nc);
  int rc = kc && nc ? 0 : -1;
  for (size_t i = 0; rc == 0 && i < mdl_graph_op_count(g); i++) {
    const mdl_op *op = mdl_graph_op(g, i);
    const wl_mask *m = wl_weights_mask(w, i);
    if (m) nnz[i] = (int64_t)wl_mask_nnz(m);
    if (!tiles || op->weight_rows == 0) continue;
    const uint32_t K = (uint32_t)op->weight_rows, N = (uint32_t)op->weight_cols;
    if (!m) {
      tiles[i] = dense_tiles(K, N, tw, th, kc, nc);
      continue;
    }
    wl_cuts_even(K, th, kc);
    wl_cuts_even(N, tw, nc);
    tiles[i] = wl_mask_tiles(m, kc, th, nc, tw);
  }
  if (rc != 0) snprintf(err, errlen, "out of memory for a %u x %u tiling", tw, th);
  free(kc);
  free(nc);
  wl_weights_destroy(w);
  return rc;
}

ws_table *ws_flops_table(const ws_config *cfg, const ws_flops_spec *spec, char *err, size_t errlen) {
  ws_input in; /* the graph; the masks are made here, one set per level */
  if (ws_input_create(&in, cfg, err, errlen) != 0) {
    ws_input_destroy(&in);
    return NULL;
  }
  const mdl_graph *g = in.g;
  const size_t nops = mdl_graph_op_count(g);
  const bool tiled = spec->tile_w > 0 && spec->tile_h > 0;
  const bool masks = tiled || cfg->workload.pattern == WL_PATTERN_FILE;
  int64_t *nnz = calloc(nops, sizeof *nnz);
  mdl_cost *per_op = calloc(nops, sizeof *per_op);
  wl_tile_stats *tiles = tiled ? calloc(nops, sizeof *tiles) : NULL;
  wl_sparsity *s = malloc(sizeof *s);
  const ws_flops_per per = spec->per;
  size_t ncols = 0, ntile = 0;
  const ws_column *cols = ws_flops_columns(per, &ncols, &ntile);
  if (!tiled) ncols -= ntile; /* the tile columns come last */
  ws_table *t = ws_table_of_columns(cols, ncols);
  bool ok = t && nnz && per_op && s && (!tiled || tiles);
  for (size_t i = 0; ok && tiled && i < nops; i++) /* before any work: every tile holds a weight */
    if (mdl_graph_op(g, i)->weight_rows > 0 &&
        ws_bounds_region(mdl_graph_op(g, i), spec->tile_w, spec->tile_h, "--tiling", err, errlen) != 0)
      ok = false;
  if (ok && masks && ws_bounds_memory_check(cfg, WS_WORK_MASKS, 1, ws_bounds_budget(), err, errlen) != 0) ok = false;
  for (size_t l = 0; ok && l < spec->nlevels; l++) {
    const double level = spec->levels[l];
    ok = wl_sparsity_check(level, err, errlen) == 0;
    if (!ok) break;
    ws_config_sparsity(cfg, s);
    s->level = level;
    mdl_cost total;
    wl_sparsity_nnz(s, g, nnz);
    const wl_spec ws = ws_config_spec(cfg, s);
    if (wl_spec_check(g, &ws, err, errlen) != 0 || (masks && from_masks(cfg, spec, g, s, nnz, tiles, err, errlen) != 0)) {
      ok = false;
      break;
    }
    mdl_account(g, nnz, per_op, &total);
    if (per == WS_PER_OP) {
      ok = put_op_rows(t, ncols, cfg->model.name, level, g, per_op, tiles);
    } else if (per == WS_PER_KIND) {
      ok = put_kind_rows(t, ncols, cfg->model.name, level, g, per_op, tiles);
    } else {
      flops_row row = {.model = cfg->model.name, .sparsity = level, .cost = total,
                       .seq_len = cfg->workload.seq_len};
      for (size_t i = 0; tiles && i < nops; i++)
        if (mdl_kind_in_inference(mdl_graph_op(g, i)->kind)) tiles_add(&row.tiles, &tiles[i]);
      ok = add(t, total_columns, ncols, &row);
    }
  }
  if (!ok) {
    ws_table_destroy(t);
    t = NULL;
  }
  if (!t && !err[0]) snprintf(err, errlen, "out of memory building the flops table");
  free(nnz);
  free(per_op);
  free(tiles);
  free(s);
  ws_input_destroy(&in);
  return t;
}

/* One row of the models report: a preset and its dense accounting. */
typedef struct {
  const char *name; /* the preset's */
  const char *arch; /* its block family's */
  mdl_gpt m;        /* its dimensions */
  mdl_cost total;   /* its dense accounting over the graph */
} model_row;

static const ws_column model_columns[] = {
    WS_COLUMN(model_row, name, "model", NULL),
    WS_COLUMN(model_row, m.layers, "layers", "decoder blocks"),
    WS_COLUMN(model_row, m.d_model, "d_model", "features"),
    WS_COLUMN(model_row, m.heads, "heads", "attention heads"),
    WS_COLUMN(model_row, m.d_head, "d_head", "features per head"),
    WS_COLUMN(model_row, m.d_ff, "d_ff", "features"),
    WS_COLUMN(model_row, m.vocab, "vocab", "tokens"),
    WS_COLUMN(model_row, m.context, "context", "tokens"),
    WS_COLUMN(model_row, total.params_dense, "params", "parameters"),
    WS_COLUMN(model_row, total.weight_elems, "params_sparsifiable", "parameters"),
    WS_COLUMN(model_row, total.bytes_dense, "weight_bytes_dense", "bytes"),
    WS_COLUMN(model_row, arch, "arch", NULL),
    WS_COLUMN(model_row, m.kv_heads, "kv_heads", "key/value heads"),
};

const ws_column *ws_models_columns(size_t *n) {
  *n = COUNT(model_columns);
  return model_columns;
}

ws_table *ws_models_table(char *err, size_t errlen) {
  ws_table *t = ws_table_of_columns(model_columns, COUNT(model_columns));
  for (size_t i = 0; t && i < mdl_gpt_preset_count(); i++) {
    model_row row;
    mdl_gpt_preset(mdl_gpt_preset_name(i), &row.m);
    row.name = row.m.name;
    row.arch = mdl_arch_name(row.m.arch);
    mdl_graph *g = mdl_graph_build(&row.m, row.m.context, err, errlen);
    int64_t *nnz = g ? calloc(mdl_graph_op_count(g), sizeof *nnz) : NULL;
    if (nnz) {
      const wl_sparsity dense = wl_sparsity_uniform(0.0);
      wl_sparsity_nnz(&dense, g, nnz);
      mdl_account(g, nnz, NULL, &row.total);
    }
    if (!nnz || ws_table_add(t, model_columns, COUNT(model_columns), &row, NULL) != 0) {
      free(nnz);
      mdl_graph_destroy(g);
      ws_table_destroy(t);
      if (!err[0]) snprintf(err, errlen, "out of memory building the models table");
      return NULL;
    }
    free(nnz);
    mdl_graph_destroy(g);
  }
  if (!t && !err[0]) snprintf(err, errlen, "out of memory building the models table");
  return t;
}
