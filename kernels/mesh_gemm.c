/* One GEMM on a whole region, simulated (see mesh_gemm.h). */
#include "mesh_gemm.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fabric/collective.h"
#include "kind_internal.h"

#define WINDOW 2 /* steps in flight: x and partial sums double-buffered */

static krn_kernel pick(const krn_machine *m, const krn_mgemm_spec *s, uint32_t kt, uint32_t nt, uint64_t nnz,
                       uint32_t b) {
  return s->kernel == KRN_AUTO ? krn_gemm_pick(m, kt, nt, nnz, b) : s->kernel;
}

/* The wavelets of b tokens: x over kt features (fp16), partial sums over nt (acc_bytes). */
static uint64_t x_wavelets(uint32_t b, uint32_t kt) { return krn_ceil_div((uint64_t)b * kt, 2); }
static uint64_t sum_wavelets(const krn_machine *m, uint32_t b, uint32_t nt) {
  return krn_ceil_div((uint64_t)b * nt * m->acc_bytes, 4);
}

/* Tiles of one shape and one count of nonzeros: the model's unit. A region
 * has at most four tile shapes (even cuts) and a tile's nonzeros take at most
 * kt nt + 1 values, so the model costs a class, not a PE. */
typedef struct {
  uint32_t kt, nt;
  uint64_t nnz, count;
} tile_class;

static int cmp_u64(const void *a, const void *b) {
  const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* The classes of the tiles whose nonzeros are nnz[] (row-major); *n their
 * number. NULL out of memory. */
static tile_class *census(const krn_mgemm_spec *s, const uint64_t *nnz, size_t *n) {
  const uint32_t kt0 = s->k / s->rows, nt0 = s->n / s->cols;
  const size_t tiles = (size_t)s->rows * s->cols;
  uint64_t *vals = malloc(tiles * sizeof *vals);
  tile_class *out = malloc(tiles * sizeof *out); /* at most a class a tile */
  uint64_t *counts = NULL;
  *n = 0;
  for (uint32_t shape = 0; vals && out && shape < 4; shape++) {
    const uint32_t kt = kt0 + shape / 2, nt = nt0 + shape % 2;
    size_t m = 0;
    for (uint32_t i = 0; i < s->rows; i++) {
      if (krn_cut(NULL, s->k, s->rows, i + 1) - krn_cut(NULL, s->k, s->rows, i) != kt) continue;
      for (uint32_t j = 0; j < s->cols; j++)
        if (krn_cut(NULL, s->n, s->cols, j + 1) - krn_cut(NULL, s->n, s->cols, j) == nt)
          vals[m++] = nnz[(size_t)i * s->cols + j];
    }
    if (m == 0) continue;
    const uint64_t span = (uint64_t)kt * nt + 1;
    if (span <= m) { /* small tiles, many of them: a count per value */
      if (!(counts = calloc(span, sizeof *counts))) break;
      for (size_t t = 0; t < m; t++) counts[vals[t]]++;
      for (uint64_t z = 0; z < span; z++)
        if (counts[z]) out[(*n)++] = (tile_class){kt, nt, z, counts[z]};
      free(counts);
      counts = NULL;
    } else { /* large tiles, few: sorted */
      qsort(vals, m, sizeof *vals, cmp_u64);
      for (size_t t = 0; t < m; t++)
        if (t == 0 || vals[t] != vals[t - 1]) out[(*n)++] = (tile_class){kt, nt, vals[t], 1};
        else out[*n - 1].count++;
    }
  }
  const bool ok = vals && out && (*n > 0 || tiles == 0);
  free(vals);
  if (!ok) {
    free(out);
    return NULL;
  }
  return out;
}

/* The model for one chunk b from the tiles' classes. */
static void model_chunk(const krn_machine *m, const fab_config *fc, const krn_mgemm_spec *s, const tile_class *cls,
                        size_t ncls, uint32_t b, krn_mgemm_model *o) {
  memset(o, 0, sizeof *o);
  o->chunk = b;
  o->steps = (uint32_t)krn_ceil_div(s->m, b);
  uint64_t nnz_all = 0, kt_max = 0, nt_max = 0;
  const uint32_t last = s->m - (o->steps - 1) * b;
  for (size_t t = 0; t < ncls; t++) {
    const uint32_t kt = cls[t].kt, nt = cls[t].nt;
    const uint64_t z = cls[t].nnz, count = cls[t].count;
    const krn_kernel k = pick(m, s, kt, nt, z, b);
    const krn_cost c = krn_gemm_cost(m, k, kt, nt, z, b);
    o->compute = krn_max_u64(o->compute, c.cycles);
    o->sram_max = krn_max_u64(o->sram_max, c.sram);
    o->weights_max = krn_max_u64(o->weights_max, c.weights);
    o->weights += count * c.weights;
    o->nnz_max = krn_max_u64(o->nnz_max, z);
    o->sparse_pes += k == KRN_SPARSE ? (uint32_t)count : 0;
    kt_max = krn_max_u64(kt_max, kt);
    nt_max = krn_max_u64(nt_max, nt);
    nnz_all += z * count;
    /* the whole GEMM's MACs: every full step, and the last */
    const krn_cost lc = krn_gemm_cost(m, pick(m, s, kt, nt, z, last), kt, nt, z, last);
    o->macs += count * ((uint64_t)(o->steps - 1) * c.macs + lc.macs);
  }
  o->nnz_mean = (double)nnz_all / ((double)s->rows * s->cols);
  const uint64_t xw = x_wavelets(b, (uint32_t)kt_max), sw = sum_wavelets(m, b, (uint32_t)nt_max);
  o->ramp_out = krn_max_u64(s->cols > 1 ? xw : 0, s->rows > 1 ? sw : 0);
  const uint64_t multicast = s->cols > 1 ? 2ull * fc->ramp_latency + (uint64_t)(s->cols / 2) * fc->hop_latency + xw : 0;
  /* the columns' root: the centre row (half the hops) or the last (one
     side: every PE takes one train of sums, unless segments' collectors
     take two); the one of fewer modelled cycles, the centre on a tie */
  const uint32_t roots[2] = {s->rows / 2, s->rows - 1};
  for (uint32_t r = 0; r < (s->rows > 2 ? 2u : 1u); r++) {
    krn_mgemm_model t = *o;
    const uint32_t up = roots[r], down = s->rows - 1 - roots[r], side = up > down ? up : down;
    t.root_row = roots[r];
    t.segment = s->rows > 1 ? fab_coll_best_segment(fc, side, (uint32_t)sw) : 0;
    t.reduce = s->rows < 2 ? "none" : t.segment < side ? "tree" : "chain";
    const uint64_t takes = s->rows < 2 ? 0 : t.segment < side ? 2 : (up > 0) + (down > 0);
    t.ramp_in = (s->cols > 1 ? xw : 0) + takes * sw;
    const uint64_t tree = s->rows > 1 ? fab_coll_tree_cycles(fc, (fab_rect){0, 0, 1, s->rows}, 0, t.root_row, 0,
                                                             t.segment, (uint32_t)sw, 0)
                                      : 0;
    t.latency = multicast + t.compute + tree;
    const uint64_t step = krn_max_u64(krn_max_u64(t.compute, krn_ceil_div(t.latency, WINDOW)),
                                  krn_max_u64(t.ramp_in * fc->consume_cycles, t.ramp_out));
    t.cycles = t.latency + (uint64_t)(t.steps - 1) * step;
    if (r == 0 || t.cycles < o->cycles) *o = t;
  }
}

static int check_shape(const krn_mgemm_spec *s, char *err, size_t errlen) {
  if (s->m == 0 || s->k == 0 || s->n == 0 || s->rows == 0 || s->cols == 0 || s->rows > s->k || s->cols > s->n) {
    snprintf(err, errlen,
             "gemm: %u x %u x %u on %u x %u PEs (columns x rows): needs m, k, n >= 1 and at most k rows and n columns "
             "(no empty tile)",
             s->m, s->k, s->n, s->cols, s->rows);
    return -1;
  }
  if (s->mask && (wl_mask_rows(s->mask) != s->k || wl_mask_cols(s->mask) != s->n)) {
    snprintf(err, errlen, "gemm: the mask is %u x %u, the weight %u x %u", wl_mask_rows(s->mask),
             wl_mask_cols(s->mask), s->k, s->n);
    return -1;
  }
  return 0;
}

/* Every tile's nonzeros, row-major: a band of rows at a time, one pass over its words. */
static uint64_t *count_nnz(const krn_mgemm_spec *s, char *err, size_t errlen) {
  uint64_t *nnz = malloc((size_t)s->rows * s->cols * sizeof *nnz);
  uint32_t *ncut = malloc(((size_t)s->cols + 1) * sizeof *ncut);
  if (!nnz || !ncut) {
    free(nnz);
    free(ncut);
    snprintf(err, errlen, "gemm: out of memory for %u x %u tiles", s->cols, s->rows);
    return NULL;
  }
  for (uint32_t j = 0; j <= s->cols; j++) ncut[j] = krn_cut(NULL, s->n, s->cols, j);
  for (uint32_t i = 0; i < s->rows; i++) {
    const uint32_t k0 = krn_cut(NULL, s->k, s->rows, i), k1 = krn_cut(NULL, s->k, s->rows, i + 1);
    uint64_t *row = &nnz[(size_t)i * s->cols];
    if (s->mask) {
      wl_mask_band_counts(s->mask, k0, k1, ncut, s->cols, row);
    } else {
      for (uint32_t j = 0; j < s->cols; j++) row[j] = wl_mask_count(NULL, k0, k1, ncut[j], ncut[j + 1]);
    }
  }
  free(ncut);
  return nnz;
}

static int plan_classes(const krn_machine *m, const fab_config *fc, const krn_mgemm_spec *s, const tile_class *cls,
                        size_t ncls, krn_mgemm_model *out, char *err, size_t errlen) {
  if (s->chunk > s->m) {
    snprintf(err, errlen, "gemm: a chunk of %u tokens, more than the %u of the GEMM", s->chunk, s->m);
    return -1;
  }
  bool found = false;
  krn_mgemm_model o;
  if (s->chunk) { /* the chunk asked for */
    model_chunk(m, fc, s, cls, ncls, s->chunk, &o);
    if (!krn_fits(m, o.sram_max + s->resident)) {
      snprintf(err, errlen,
               "gemm: %u tokens a step need %llu bytes at the fullest PE beside the %llu other ops keep there, more "
               "than its SRAM less the reserve (%llu); a smaller chunk or a larger region",
               s->chunk, (unsigned long long)o.sram_max, (unsigned long long)s->resident,
               (unsigned long long)(m->sram - m->sram_reserve));
      return -1;
    }
    *out = o;
    return 0;
  }
  for (uint32_t b = 1;; b = b > s->m / 2 ? s->m : 2 * b) { /* 1, 2, 4, ... and m */
    model_chunk(m, fc, s, cls, ncls, b, &o);
    if (krn_fits(m, o.sram_max + s->resident) && (!found || o.cycles < out->cycles)) *out = o, found = true;
    if (b == s->m) break;
  }
  if (!found) {
    snprintf(err, errlen, "gemm: the %u x %u tiles of a %u x %u weight do not fit a PE's SRAM (beside %llu bytes of "
                          "other ops') even at one token a step; a larger region or more sparsity",
             s->cols, s->rows, s->k, s->n, (unsigned long long)s->resident);
    return -1;
  }
  return 0;
}

static int plan_with(const krn_machine *m, const fab_config *fc, const krn_mgemm_spec *s, const uint64_t *nnz,
                     krn_mgemm_model *out, char *err, size_t errlen) {
  size_t ncls;
  tile_class *cls = census(s, nnz, &ncls);
  if (!cls) {
    snprintf(err, errlen, "gemm: out of memory for %u x %u tiles", s->cols, s->rows);
    return -1;
  }
  const int rc = plan_classes(m, fc, s, cls, ncls, out, err, errlen);
  free(cls);
  return rc;
}

int krn_mgemm_plan(const krn_machine *m, const fab_config *fc, const krn_mgemm_spec *s, krn_mgemm_model *out,
                   char *err, size_t errlen) {
  if (check_shape(s, err, errlen) != 0) return -1;
  uint64_t *nnz = count_nnz(s, err, errlen);
  if (!nnz) return -1;
  const int rc = plan_with(m, fc, s, nnz, out, err, errlen);
  free(nnz);
  return rc;
}

/* ---- the simulation ---- */

typedef struct {
  const krn_machine *m;
  const krn_mgemm_spec *s;
  fab_fabric *f;
  krn_mgemm_model plan;
  uint32_t R, C;
  uint64_t *nnz;      /* per PE (row-major over the region) */
  uint64_t *free_at;  /* per PE: its core free from this cycle */
  uint64_t *busy;     /* per PE: compute cycles so far */
  uint32_t *got;      /* per PE: x slices taken */
  uint32_t *row_route; /* per row: its multicast, FAB_NONE with one column */
  fab_coll **col;     /* per column: its tree, NULL with one row */
  fab_xfer *red;      /* [WINDOW][R x C]: each PE's transfer of a step in flight */
  uint32_t done[WINDOW]; /* columns whose sums of the step in that slot are in (one row: PEs computed) */
  uint64_t last[WINDOW]; /* one row: the step's last compute's end */
  fab_xfer *round;    /* R: one column's transfers of a round */
  krn_tags tag;       /* per transfer id: step + 1 of a root's transfer */
  uint64_t macs;
  uint32_t launched;
  uint64_t pending[WINDOW]; /* cycles of steps done whose successors wait to launch (one row) */
  uint32_t npending;
  bool launching;           /* launch is on the stack: step_done queues instead of recursing */
  int failed;
  char *err;
  size_t errlen;
} mg;

static uint32_t step_tokens(const mg *g, uint32_t step) {
  const uint32_t b = g->plan.chunk;
  return step + 1 < g->plan.steps ? b : g->s->m - step * b;
}

static void step_done(mg *g, uint32_t step, uint64_t t);

/* PE p has the x of `step` at cycle t: it computes when its core is free. */
static void compute(mg *g, uint32_t p, uint32_t step, uint64_t t) {
  const uint32_t i = p / g->C, j = p % g->C, b = step_tokens(g, step);
  const uint32_t kt = krn_cut(NULL, g->s->k, g->R, i + 1) - krn_cut(NULL, g->s->k, g->R, i);
  const uint32_t nt = krn_cut(NULL, g->s->n, g->C, j + 1) - krn_cut(NULL, g->s->n, g->C, j);
  const krn_cost c = krn_gemm_cost(g->m, pick(g->m, g->s, kt, nt, g->nnz[p], b), kt, nt, g->nnz[p], b);
  const uint64_t end = krn_max_u64(t, g->free_at[p]) + c.cycles;
  g->free_at[p] = end;
  g->busy[p] += c.cycles;
  g->macs += c.macs;
  if (g->R > 1) {
    fab_ready(g->f, g->red[(size_t)(step % WINDOW) * g->R * g->C + p], end);
  } else { /* no reduction: the step is done once every PE has computed it */
    g->last[step % WINDOW] = krn_max_u64(g->last[step % WINDOW], end);
    if (++g->done[step % WINDOW] == g->C) step_done(g, step, g->last[step % WINDOW]);
  }
}

/* Start `step` at cycle t: its columns' reductions, then its x slices. */
static int launch(mg *g, uint32_t step, uint64_t t) {
  const uint32_t R = g->R, C = g->C, b = step_tokens(g, step);
  fab_xfer *red = &g->red[(size_t)(step % WINDOW) * R * C];
  g->done[step % WINDOW] = 0;
  g->last[step % WINDOW] = 0;
  g->launched = step + 1;
  for (uint32_t j = 0; R > 1 && j < C; j++) {
    const uint32_t nt = krn_cut(NULL, g->s->n, C, j + 1) - krn_cut(NULL, g->s->n, C, j);
    const fab_round r = {.n = (uint32_t)sum_wavelets(g->m, b, nt), .ready = FAB_LATER, .quiet = true};
    fab_xfer *x = g->round;
    if (fab_coll_round(g->f, g->col[j], &r, x, g->err, g->errlen) != 0) return -1;
    for (uint32_t i = 0; i < R; i++) red[(size_t)i * C + j] = x[i];
    if (krn_tag_set(&g->tag, x[fab_coll_result(g->col[j])], step + 1) != 0) {
      snprintf(g->err, g->errlen, "gemm: out of memory");
      return -1;
    }
  }
  for (uint32_t i = 0; i < R; i++) {
    const uint32_t kt = krn_cut(NULL, g->s->k, R, i + 1) - krn_cut(NULL, g->s->k, R, i), src = i * C + C / 2;
    if (C > 1) {
      fab_xfer x;
      if (fab_send(g->f, g->row_route[i], (uint32_t)x_wavelets(b, kt), t, &x, g->err, g->errlen) != 0) return -1;
      fab_release(g->f, x);
    }
    compute(g, src, step, t); /* the source has its slice */
  }
  return 0;
}

/* Launch the steps whose predecessors two before are done, in order. */
static void drain(mg *g) {
  g->launching = true;
  while (g->npending && !g->failed) {
    const uint64_t at = g->pending[0];
    for (uint32_t i = 1; i < g->npending; i++) g->pending[i - 1] = g->pending[i];
    g->npending--;
    if (g->launched < g->plan.steps && launch(g, g->launched, at) != 0) g->failed = 1;
  }
  g->launching = false;
}

/* Step `step` is in at every root (one row: computed everywhere) at cycle
 * t: free its transfers, start the next. Without a reduction a step can
 * end inside its own launch (one PE): the launches then run from a queue,
 * not by recursion, whose depth would be the steps. */
static void step_done(mg *g, uint32_t step, uint64_t t) {
  fab_xfer *red = &g->red[(size_t)(step % WINDOW) * g->R * g->C];
  for (size_t p = 0; g->R > 1 && p < (size_t)g->R * g->C; p++) fab_release(g->f, red[p]);
  g->pending[g->npending++] = t;
  if (!g->launching) drain(g);
}

static void on_delivery(void *ctx, fab_pe pe, uint32_t route, fab_xfer sender, uint64_t cycle) {
  (void)route, (void)sender;
  mg *g = ctx;
  compute(g, pe, g->got[pe]++, cycle);
}

static void on_done(void *ctx, fab_xfer id, uint64_t cycle) {
  mg *g = ctx;
  const uint64_t v = krn_tag_take(&g->tag, id);
  if (!v) return;
  const uint32_t step = (uint32_t)v - 1;
  if (++g->done[step % WINDOW] == g->C) step_done(g, step, cycle);
}

static void free_mg(mg *g) {
  for (uint32_t j = 0; g->col && j < g->C; j++) fab_coll_destroy(g->col[j]);
  free(g->col);
  free(g->nnz);
  free(g->free_at);
  free(g->busy);
  free(g->got);
  free(g->row_route);
  free(g->red);
  free(g->round);
  free(g->tag.v);
}

static int build(mg *g, char *err, size_t errlen) {
  const uint32_t R = g->R, C = g->C;
  const size_t pes = (size_t)R * C;
  g->free_at = calloc(pes, sizeof *g->free_at);
  g->busy = calloc(pes, sizeof *g->busy);
  g->got = calloc(pes, sizeof *g->got);
  g->row_route = calloc(R, sizeof *g->row_route);
  g->col = calloc(C, sizeof *g->col);
  g->red = calloc(WINDOW * pes, sizeof *g->red);
  g->round = calloc(R, sizeof *g->round);
  if (!g->free_at || !g->busy || !g->got || !g->row_route || !g->col || !g->red || !g->round) {
    snprintf(err, errlen, "gemm: out of memory for %u x %u PEs", C, R);
    return -1;
  }
  for (uint32_t i = 0; C > 1 && i < R; i++)
    if (fab_route_rect(g->f, fab_at(C, C / 2, i), (fab_rect){0, i, C, 1}, &g->row_route[i], err, errlen) != 0)
      return -1;
  for (uint32_t j = 0; R > 1 && j < C; j++)
    if (!(g->col[j] = fab_coll_tree(g->f, (fab_rect){j, 0, 1, R}, fab_at(C, j, g->plan.root_row), 0,
                                    g->plan.segment, 0, err, errlen)))
      return -1;
  return 0;
}

int krn_mgemm_run(const krn_machine *m, const fab_config *fc, const krn_mgemm_spec *s, krn_mgemm_result *out,
                  char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (check_shape(s, err, errlen) != 0) return -1;
  mg g = {.m = m, .s = s, .R = s->rows, .C = s->cols, .err = err, .errlen = errlen};
  if (!(g.nnz = count_nnz(s, err, errlen)) || plan_with(m, fc, s, g.nnz, &g.plan, err, errlen) != 0) {
    free_mg(&g);
    return -1;
  }
  sim_engine *e;
  int rc = krn_region_open(fc, s->cols, s->rows, &e, &g.f, err, errlen);
  if (rc == 0) rc = build(&g, err, errlen);
  if (rc == 0) {
    fab_on_delivery(g.f, on_delivery, &g);
    fab_on_done(g.f, on_done, &g);
    g.launching = true; /* the first steps; one that ends at once queues its successor */
    while (rc == 0 && g.launched < WINDOW && g.launched < g.plan.steps) rc = launch(&g, g.launched, 0);
    if (rc == 0) drain(&g);
  }
  if (rc == 0) rc = krn_region_run(e, g.f, "gemm", &g.failed, err, errlen);
  if (rc == 0) {
    const krn_region_stats st = krn_region_stats_of(e, g.f, g.busy, g.C, g.R);
    out->plan = g.plan;
    out->cycles = st.last_cycle + 1;
    if (s->rows == 1) /* no reduction: the last compute ends it */
      for (size_t p = 0; p < (size_t)g.R * g.C; p++) out->cycles = krn_max_u64(out->cycles, g.free_at[p]);
    out->busy_max = st.busy_max, out->busy_sum = st.busy_sum;
    out->slowest_x = st.slowest_x, out->slowest_y = st.slowest_y;
    out->macs = g.macs;
    out->events = st.events;
    out->wavelets_sent = st.wavelets_sent;
    out->link_wavelets = st.link_wavelets;
    out->bytes = st.bytes;
  }
  krn_region_close(e, g.f);
  free_mg(&g);
  return rc;
}
