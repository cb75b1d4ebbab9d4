/* The GEMM stage kind (kind.h): Y = X W (+ bias) on r x c PEs, PE (i, j)
 * holding tile W[K_i, N_j] (its nonzeros for the sparse kernel). Row i's
 * first PE takes x[K_i] and relays it along the row; every PE computes its
 * partial y[N_j] (cost.h, the kernel picked per PE); each column
 * chain-reduces its partials to its output PE (krn_gemm_out_row), which adds
 * the bias and sends y[N_j] on. Its cost per PE, its estimate, its slots
 * and routes for the placer, and its functional values. */
#include <string.h>

#include "kind_internal.h"

/* See pipeline.h: the last row, or with flip the first. */
uint32_t krn_gemm_out_row(const krn_stage *s) { return s->flip ? 0 : s->region.h - 1; }

/* ---- the estimate ----
 * Tile (i, j) of an r x c region: its kt x nt share of W, its nonzeros, the
 * kernel it runs and its cost per micro-batch of b tokens (the output row's
 * bias add included), and the wavelets it takes and sends. The wavelets
 * depend on kt and nt only and are maximised row by row and column by
 * column; a band of rows has its tiles' nonzeros counted in one pass over
 * its rows (wl_mask_band_counts). The tiles are grouped by what their cost
 * depends on besides their nonzeros (kt with the bias add, nt: an even
 * tiling has at most 3 x 2 such groups), and in a group by the kernel they
 * run: under one kernel a tile's cycles and SRAM never fall as its nonzeros
 * grow (cost.h), and KRN_AUTO runs the sparse kernel below some number of
 * nonzeros and the dense one from it on (dense_from), so a group's costliest
 * tile of each kernel is its fullest. With more distinct shapes than GROUPS
 * (cut points balanced by nonzeros) every tile is costed on its own. */

#define GROUPS 4   /* distinct row and column keys grouped */
#define CHUNK 1024 /* tile columns counted at once */

static uint32_t kcut(const krn_stage *s, uint32_t i) { return krn_cut(s->k_cut, s->k, s->region.h, i); }
static uint32_t ncut(const krn_stage *s, uint32_t j) { return krn_cut(s->n_cut, s->n, s->region.w, j); }

/* Whether row i adds the bias (the output row's PEs). */
static bool bias_row(const krn_stage *s, uint32_t i) { return s->bias_add && i == krn_gemm_out_row(s); }

/* A kt x nt tile's cost running kernel k (KRN_SPARSE or KRN_DENSE), with the bias add. */
static krn_cost tile_cost(const krn_machine *m, krn_kernel k, uint32_t kt, uint32_t nt, uint64_t nnz, uint32_t b,
                          bool bias) {
  krn_cost c = krn_gemm_cost(m, k, kt, nt, nnz, b);
  if (bias) c.cycles += krn_add_cost(m, nt, b).cycles;
  return c;
}

static krn_kernel tile_kernel(const krn_machine *m, const krn_stage *s, uint32_t kt, uint32_t nt, uint64_t nnz,
                              uint32_t b) {
  return s->kernel == KRN_AUTO ? krn_gemm_pick(m, kt, nt, nnz, b) : s->kernel;
}

/* The fewest nonzeros of a kt x nt tile from which KRN_AUTO runs the dense
 * kernel (kt nt + 1: never): the sparse kernel's cycles grow with nnz, the
 * dense kernel's do not depend on it. */
static uint64_t dense_from(const krn_machine *m, uint32_t kt, uint32_t nt, uint32_t b) {
  uint64_t lo = 0, hi = (uint64_t)kt * nt + 1;
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    if (krn_gemm_pick(m, kt, nt, mid, b) == KRN_DENSE) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/* Up to GROUPS distinct keys: the index of v, added if new; -1 when full. */
typedef struct {
  uint32_t n;
  uint64_t v[GROUPS];
} distinct;
static int key_of(distinct *d, uint64_t v) {
  for (uint32_t q = 0; q < d->n; q++)
    if (d->v[q] == v) return (int)q;
  if (d->n == GROUPS) return -1;
  d->v[d->n] = v;
  return (int)d->n++;
}
/* Row i's key: its kt and whether it adds the bias. */
static uint64_t row_key(const krn_stage *s, uint32_t i) {
  return (uint64_t)(kcut(s, i + 1) - kcut(s, i)) * 2 + bias_row(s, i);
}

/* The tiles' groups: row keys by row key_of, column keys (nt); false when
 * either side has more than GROUPS. */
static bool group_keys(const krn_stage *s, distinct *rows, distinct *cols) {
  *rows = *cols = (distinct){0};
  for (uint32_t i = 0; i < s->region.h; i++)
    if (key_of(rows, row_key(s, i)) < 0) return false;
  for (uint32_t j = 0; j < s->region.w; j++)
    if (key_of(cols, ncut(s, j + 1) - ncut(s, j)) < 0) return false;
  return true;
}

/* A group's tiles per kernel run (0 sparse, 1 dense): how many, and the
 * most nonzeros of one; `from`: dense_from for KRN_AUTO. */
typedef struct {
  uint64_t from, tiles[2], nnz[2];
} group;

/* Every tile's nonzeros and cost into e: compute, sram, sparse_pes,
 * nnz_max, nnz_mean. */
static void tiles(const krn_machine *m, const krn_stage *s, uint32_t b, krn_estimate *e) {
  const uint32_t r = s->region.h, c = s->region.w;
  distinct rows, cols;
  const bool grouped = group_keys(s, &rows, &cols);
  group g[GROUPS * GROUPS] = {{0}};
  for (uint32_t a = 0; grouped && s->kernel == KRN_AUTO && a < rows.n; a++)
    for (uint32_t q = 0; q < cols.n; q++)
      g[a * GROUPS + q].from = dense_from(m, (uint32_t)(rows.v[a] / 2), (uint32_t)cols.v[q], b);
  uint64_t nnz_sum = 0, count[CHUNK];
  uint32_t cut[CHUNK + 1];
  uint8_t col[CHUNK];
  for (uint32_t j0 = 0; j0 < c; j0 += CHUNK) {
    const uint32_t w = c - j0 < CHUNK ? c - j0 : CHUNK;
    for (uint32_t q = 0; q <= w; q++) cut[q] = ncut(s, j0 + q);
    for (uint32_t q = 0; grouped && q < w; q++) col[q] = (uint8_t)key_of(&cols, cut[q + 1] - cut[q]);
    for (uint32_t i = 0; i < r; i++) {
      const uint32_t k0 = kcut(s, i), kt = kcut(s, i + 1) - k0;
      const bool bias = bias_row(s, i);
      if (s->mask) wl_mask_band_counts(s->mask, k0, k0 + kt, cut, w, count);
      group *row = grouped ? &g[key_of(&rows, (uint64_t)kt * 2 + bias) * GROUPS] : NULL;
      for (uint32_t q = 0; q < w; q++) {
        const uint32_t nt = cut[q + 1] - cut[q];
        const uint64_t nnz = s->mask ? count[q] : (uint64_t)kt * nt;
        nnz_sum += nnz;
        if (nnz > e->nnz_max) e->nnz_max = nnz;
        if (row) {
          group *t = &row[col[q]];
          const int run = (s->kernel == KRN_AUTO ? nnz >= t->from : s->kernel != KRN_SPARSE);
          t->tiles[run]++;
          if (nnz > t->nnz[run]) t->nnz[run] = nnz;
        } else {
          const krn_kernel k = tile_kernel(m, s, kt, nt, nnz, b);
          krn_est_pe(e, tile_cost(m, k, kt, nt, nnz, b, bias), 0, 0);
          e->sparse_pes += k == KRN_SPARSE;
        }
      }
    }
  }
  for (uint32_t a = 0; grouped && a < rows.n; a++)
    for (uint32_t q = 0; q < cols.n; q++)
      for (int run = 0; run < 2; run++) {
        const group *t = &g[a * GROUPS + q];
        if (!t->tiles[run]) continue;
        krn_est_pe(e,
                   tile_cost(m, run ? KRN_DENSE : KRN_SPARSE, (uint32_t)(rows.v[a] / 2), (uint32_t)cols.v[q],
                             t->nnz[run], b, rows.v[a] % 2),
                   0, 0);
        if (!run) e->sparse_pes += (uint32_t)t->tiles[run];
      }
  e->nnz_mean = (double)nnz_sum / ((double)r * c);
}

/* The wavelets of its busiest PEs and its largest tile into e: tile (i, j)
 * takes x[kt] and, below the first row, partials of nt; it sends x along
 * its row from the first column, and its partials down, or on the last row
 * its outputs to each consumer. */
static void movement(const krn_machine *m, const krn_stage *s, uint32_t b, uint32_t consumers, krn_estimate *e) {
  const uint32_t r = s->region.h, c = s->region.w, acc = m->acc_bytes;
  uint64_t part0 = 0, part_rest = 0, y0 = 0, y_rest = 0, nt_max = 0, kt_max = 0; /* column 0, the others */
  for (uint32_t j = 0; j < c; j++) {
    const uint64_t nt = ncut(s, j + 1) - ncut(s, j), part = krn_ceil_div(nt * b * acc, 4),
                   y = consumers * krn_ceil_div(nt * b, 2);
    if (j == 0) part0 = part, y0 = y;
    else part_rest = krn_max_u64(part_rest, part), y_rest = krn_max_u64(y_rest, y);
    nt_max = krn_max_u64(nt_max, nt);
  }
  for (uint32_t i = 0; i < r; i++) {
    const uint64_t kt = kcut(s, i + 1) - kcut(s, i), x = krn_ceil_div(kt * b, 2);
    const bool last = i + 1 == r;
    const uint64_t out0 = last ? y0 : part0, out_rest = last ? y_rest : part_rest;
    e->ramp_in = krn_max_u64(e->ramp_in, x + (i > 0 ? krn_max_u64(part0, part_rest) : 0));
    e->ramp_out = krn_max_u64(e->ramp_out, c > 1 ? krn_max_u64(x + out0, out_rest) : out0);
    kt_max = krn_max_u64(kt_max, kt);
  }
  e->tile_k = (uint32_t)kt_max;
  e->tile_n = (uint32_t)nt_max;
}

/* Its latency, after its compute and largest tile: x relayed along a row,
 * the compute, the chain of partials down a column, the outputs sent. */
static void latency(const krn_machine *m, const fab_config *fc, const krn_stage *s, uint32_t b, uint32_t consumers,
                    krn_estimate *e) {
  const uint32_t r = s->region.h, c = s->region.w;
  const uint64_t x = krn_ceil_div((uint64_t)e->tile_k * b, 2),
                 part = krn_ceil_div((uint64_t)e->tile_n * b * m->acc_bytes, 4),
                 y = krn_ceil_div((uint64_t)e->tile_n * b, 2);
  e->latency = x + (uint64_t)(c - 1) * fc->hop_latency + 2 * fc->ramp_latency + e->compute +
               (r > 1 ? part + (uint64_t)(r - 1) * krn_hop_red(fc) : 0) + consumers * y;
}

static bool shape_ok(const krn_stage *s, uint32_t r, uint32_t c, uint32_t seq) {
  (void)seq;
  return r <= s->k && c <= s->n;
}

static int estimate(const krn_machine *m, const fab_config *fc, const krn_stage *s, uint32_t b, uint32_t seq,
                    uint32_t consumers, krn_estimate *e, char *err, size_t errlen) {
  (void)seq, (void)err, (void)errlen;
  tiles(m, s, b, e);
  movement(m, s, b, consumers, e);
  latency(m, fc, s, b, consumers, e);
  return 0;
}

/* A kt x nt tile's cost over nonzeros nlo..nhi: the least and most cycles
 * and SRAM into lo and hi (each kernel's figures grow with nnz). */
static void tile_span(const krn_machine *m, const krn_stage *s, uint32_t kt, uint32_t nt, bool bias, uint64_t from,
                      uint64_t nlo, uint64_t nhi, uint32_t b, krn_cost *lo, krn_cost *hi) {
  krn_cost at[4];
  int n = 0;
  if (s->kernel != KRN_AUTO) {
    at[n++] = tile_cost(m, s->kernel, kt, nt, nlo, b, bias);
    at[n++] = tile_cost(m, s->kernel, kt, nt, nhi, b, bias);
  } else {
    if (nlo < from) {
      at[n++] = tile_cost(m, KRN_SPARSE, kt, nt, nlo, b, bias);
      at[n++] = tile_cost(m, KRN_SPARSE, kt, nt, nhi < from ? nhi : from - 1, b, bias);
    }
    if (nhi >= from) {
      at[n++] = tile_cost(m, KRN_DENSE, kt, nt, nlo > from ? nlo : from, b, bias);
      at[n++] = tile_cost(m, KRN_DENSE, kt, nt, nhi, b, bias);
    }
  }
  *lo = (krn_cost){.cycles = UINT64_MAX, .sram = UINT64_MAX};
  *hi = (krn_cost){0};
  for (int q = 0; q < n; q++) {
    lo->cycles = at[q].cycles < lo->cycles ? at[q].cycles : lo->cycles;
    lo->sram = at[q].sram < lo->sram ? at[q].sram : lo->sram;
    hi->cycles = krn_max_u64(hi->cycles, at[q].cycles);
    hi->sram = krn_max_u64(hi->sram, at[q].sram);
  }
}

/* Bounds without counting nonzeros: a tile holds at most kt nt; every group
 * has a tile; the fullest tile holds at least the mean, where the tiles
 * cover the mask. Exact without a mask, or with too many groups. */
static int bounds(const krn_machine *m, const fab_config *fc, const krn_stage *s, uint32_t b, uint32_t seq,
                  uint32_t consumers, krn_estimate *lo, krn_estimate *hi, char *err, size_t errlen) {
  const uint32_t r = s->region.h, c = s->region.w;
  distinct rows, cols;
  if (!s->mask || !group_keys(s, &rows, &cols)) {
    const int rc = estimate(m, fc, s, b, seq, consumers, lo, err, errlen);
    *hi = *lo;
    return rc;
  }
  const bool covers = wl_mask_rows(s->mask) == s->k && wl_mask_cols(s->mask) == s->n && kcut(s, 0) == 0 &&
                      kcut(s, r) == s->k && ncut(s, 0) == 0 && ncut(s, c) == s->n;
  const uint64_t mean = covers ? krn_ceil_div(wl_mask_nnz(s->mask), (uint64_t)r * c) : 0;
  /* floors: of every group's tiles; of the fullest tile's */
  krn_cost any = {0}, full = {.cycles = UINT64_MAX, .sram = UINT64_MAX};
  for (uint32_t a = 0; a < rows.n; a++)
    for (uint32_t q = 0; q < cols.n; q++) {
      const uint32_t kt = (uint32_t)(rows.v[a] / 2), nt = (uint32_t)cols.v[q];
      const bool bias = rows.v[a] % 2;
      const uint64_t cap = (uint64_t)kt * nt, from = s->kernel == KRN_AUTO ? dense_from(m, kt, nt, b) : 0;
      krn_cost l, h;
      tile_span(m, s, kt, nt, bias, from, 0, cap, b, &l, &h);
      any.cycles = krn_max_u64(any.cycles, l.cycles);
      any.sram = krn_max_u64(any.sram, l.sram);
      krn_est_pe(hi, h, 0, 0);
      if (mean > cap) continue; /* the fullest tile is not here */
      tile_span(m, s, kt, nt, bias, from, mean, cap, b, &l, &h);
      full.cycles = l.cycles < full.cycles ? l.cycles : full.cycles;
      full.sram = l.sram < full.sram ? l.sram : full.sram;
    }
  if (full.cycles == UINT64_MAX) full = (krn_cost){0};
  lo->compute = krn_max_u64(any.cycles, full.cycles);
  lo->sram = krn_max_u64(any.sram, full.sram);
  movement(m, s, b, consumers, lo);
  latency(m, fc, s, b, consumers, lo);
  movement(m, s, b, consumers, hi);
  latency(m, fc, s, b, consumers, hi);
  return 0;
}

static uint64_t busy(const krn_machine *m, const krn_stage *s, uint32_t b, uint32_t seq) {
  const uint32_t mbs = b ? seq / b : 0;
  krn_estimate e = {0};
  tiles(m, s, b, &e);
  return mbs * e.compute;
}

/* ---- the pipeline ---- */

static int setup(krn_pipe *p, uint32_t si, char *err, size_t errlen) {
  stage *s = &p->st[si];
  const krn_stage *k = &s->s;
  const uint32_t r = s->rows, c = s->cols, w = fab_config_of(p->f)->width;
  const fab_rect q = k->region;
  s->nc = krn_cuts(k->n_cut, k->n, c); /* N over the columns, K over the rows */
  s->kc = krn_cuts(k->k_cut, k->k, r);
  if (!s->nc || !s->kc) return krn_shape_error(s, "out of memory", err, errlen);
  if (!krn_cuts_ok(s->nc, c, k->n) || !krn_cuts_ok(s->kc, r, k->k))
    return krn_shape_error(s, "needs at least one feature (and, tiled, one k) per PE", err, errlen);
  for (uint32_t j = 0; j < s->nout; j++) /* the output row */
    s->out[j] = krn_make_slot(s, w, krn_gemm_out_row(k), krn_band(s, j), s->nc[j], s->nc[j + 1]);
  for (uint32_t n = 0; n < s->nin_slots[0]; n++) { /* row n's first PE, which relays along the row */
    slot *sl = &s->in[0][n];
    *sl = krn_make_slot(s, w, n, 0, s->kc[n], s->kc[n + 1]);
    if (c > 1 && fab_route_rect(p->f, sl->pe, (fab_rect){q.x, krn_row_y(s, n), c, 1}, &sl->route, err, errlen) != 0)
      return -1;
    if (s->entry) sl->pieces = 1; /* the host's x */
  }
  s->nred = r > 1 ? c : 0;
  if (s->nred) { /* per column to its output slot */
    if (!(s->red = calloc(s->nred, sizeof *s->red))) return krn_shape_error(s, "out of memory", err, errlen);
    for (uint32_t j = 0; j < s->nred; j++)
      if (!(s->red[j] = fab_coll_chain(p->f, fab_at(w, krn_col_x(s, krn_band(s, j)), q.y), s->out[j].pe, err,
                                       errlen)))
        return -1;
  }
  return 0;
}

static int pe_setup(krn_pipe *p, uint32_t si, uint32_t l, krn_cost *cost, char *err, size_t errlen) {
  (void)err, (void)errlen;
  stage *s = &p->st[si];
  const krn_stage *k = &s->s;
  pe_state *pe = &s->pe[l];
  const uint32_t i = l / s->cols, f = krn_band(s, l % s->cols), nt = s->nc[f + 1] - s->nc[f];
  const uint32_t kt = s->kc[i + 1] - s->kc[i];
  pe->nnz = wl_mask_count(k->mask, s->kc[i], s->kc[i + 1], s->nc[f], s->nc[f + 1]);
  pe->kernel = k->kernel == KRN_AUTO ? krn_gemm_pick(&p->m, kt, nt, pe->nnz, p->run.b) : k->kernel;
  *cost = krn_gemm_cost(&p->m, pe->kernel, kt, nt, pe->nnz, p->run.b);
  return 0;
}

/* An entry GEMM's rows' first PEs have x[K_n] of micro-batch m from the host, and send it along the row. */
static int feed(krn_pipe *p, uint32_t si, uint32_t m, char *err, size_t errlen) {
  stage *s = &p->st[si];
  const uint32_t b = p->run.b;
  for (uint32_t n = 0; n < s->nin_slots[0]; n++) {
    slot *sl = &s->in[0][n];
    const uint32_t kt = sl->f1 - sl->f0;
    if (p->run.functional) { /* x[K_n] of this micro-batch's tokens */
      sl->vals[m % RING] = krn_new_values((size_t)b * kt);
      for (uint32_t t = 0; t < b; t++)
        memcpy(&sl->vals[m % RING][(size_t)t * kt], &p->run.input[((size_t)m * b + t) * s->s.k + sl->f0],
               kt * sizeof(float));
    }
    if (sl->route != FAB_NONE) { /* along the row, from its first PE */
      const fab_transfer t = {.pe = sl->pe, .out = sl->route, .n = (uint32_t)krn_ceil_div((uint64_t)kt * b, 2),
                              .ready = fab_now(p->f), .values = p->run.functional ? b * kt : 0,
                              .own = p->run.functional ? sl->vals[m % RING] : NULL,
                              .quiet = true}; /* its end matters to nobody (on_done) */
      fab_xfer x;
      if (fab_combine(p->f, &t, &x, err, errlen) != 0) return -1;
      krn_tag(p, x, (tag){TAG_HOST, 0, si, n, m});
      fab_release(p->f, x); /* ready now: nothing more to tell it */
    }
  }
  return 0;
}

/* The output slot j's PE adds the bias when it has one; then the output is
 * ready. Takes `values`. */
static void finish(krn_pipe *p, uint32_t si, uint32_t j, uint32_t m, uint64_t at, float *values) {
  stage *s = &p->st[si];
  const slot *o = &s->out[j];
  const uint32_t nt = o->f1 - o->f0, b = p->run.b;
  uint64_t end = krn_max_u64(at, fab_now(p->f));
  if (s->s.bias_add) {
    end = krn_interleave(p, s, o->local, end, krn_add_cost(&p->m, nt, b));
    for (uint32_t t = 0; values && s->s.bias && t < b; t++)
      for (uint32_t f = 0; f < nt; f++) values[(size_t)t * nt + f] += s->s.bias[o->f0 + f];
  }
  krn_output(p, si, j, m, end, values);
}

static void compute(krn_pipe *p, uint32_t si, uint32_t l, uint32_t m, uint64_t start) {
  stage *s = &p->st[si];
  const krn_stage *k = &s->s;
  pe_state *pe = &s->pe[l];
  const uint32_t i = l / s->cols, j = l % s->cols, b = p->run.b;
  const uint32_t k0 = s->kc[i], kt = s->kc[i + 1] - k0, n0 = s->nc[krn_band(s, j)], nt = s->nc[krn_band(s, j) + 1] - n0;
  const uint64_t end = krn_charge(p, s, l, start, krn_gemm_cost(&p->m, pe->kernel, kt, nt, pe->nnz, b));
  float *y = NULL;
  if (p->run.functional) { /* y[t, n] += x[t, k] W[k, n] over the kept weights */
    const float *x = s->in[0][i].vals[m % RING];
    SIM_CHECK(x, "stage %s: no input values for micro-batch %u", k->name, m);
    y = krn_new_values((size_t)b * nt);
    for (uint32_t kk = 0; kk < kt; kk++)
      for (uint32_t n = 0; n < nt; n++) {
        if (k->mask && !wl_mask_get(k->mask, k0 + kk, n0 + n)) continue;
        const float wt = k->weight[(size_t)(k0 + kk) * k->n + n0 + n];
        for (uint32_t t = 0; t < b; t++) y[(size_t)t * nt + n] += x[(size_t)t * kt + kk] * wt;
      }
  }
  krn_freed(p, si, l, m, end);
  if (!krn_partial(p, si, l, m, end, y)) finish(p, si, krn_band(s, j), m, end, y);
}

static void result(krn_pipe *p, uint32_t si, uint32_t j, uint32_t m, const float *v, uint64_t cycle) {
  const stage *s = &p->st[si];
  finish(p, si, j, m, cycle, krn_copy_values(v, (size_t)p->run.b * (s->nc[j + 1] - s->nc[j])));
}

/* ---- the placer, functional values ---- */

static uint32_t max_rows(const krn_stage *s) { return s->k; }
static uint32_t max_cols(const krn_stage *s) { return s->n; }

static bool has_values(const krn_stage *s, const krn_run *run) { return s->weight && (s->in[0] >= 0 || run->input); }

static int values(const krn_stage *s, uint64_t seed, uint32_t seq, float **w, float **b) {
  (void)seq;
  *w = krn_values_fill(seed, s->name, WL_VALUES_WEIGHT, s->k, s->n);
  if (s->bias_add) *b = krn_values_fill(seed, s->name, WL_VALUES_BIAS, 1, s->n);
  return *w && (!s->bias_add || *b) ? 0 : -1;
}

const krn_kind_ops krn_kind_gemm = {
    .name = "gemm", .named_by_op = true, .inputs = 1, .host_input = true, .picks_kernel = true,
    .in_k = true, .in = KRN_SLOTS_ROWS, .out = KRN_SLOTS_COLS, .row_out = true, .banded = true,
    .routes_in = 3, .routes_out = 1, /* a row's relay and the chain's hops; the chain's end */
    .max_rows = max_rows, .max_cols = max_cols,
    .shape_ok = shape_ok, .estimate = estimate, .bounds = bounds, .busy = busy,
    .setup = setup, .pe_setup = pe_setup, .arm = krn_arm_partials, .feed = feed, .compute = compute,
    .result = result, .has_values = has_values, .values = values,
};
