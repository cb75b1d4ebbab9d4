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

/* ---- the estimate ---- */

/* Tile (i, j) of an r x c region: its shape, nonzeros, the kernel it runs
 * and its compute per micro-batch of b tokens (the output row's bias add
 * included). */
typedef struct {
  uint32_t kt, nt;
  uint64_t nnz;
  krn_kernel kernel;
  krn_cost cost;
} gemm_tile;

static gemm_tile tile_of(const krn_machine *m, const krn_stage *s, uint32_t b, uint32_t i, uint32_t j) {
  const uint32_t r = s->region.h, c = s->region.w;
  gemm_tile t;
  const uint32_t k0 = krn_cut(s->k_cut, s->k, r, i), n0 = krn_cut(s->n_cut, s->n, c, j);
  t.kt = krn_cut(s->k_cut, s->k, r, i + 1) - k0;
  t.nt = krn_cut(s->n_cut, s->n, c, j + 1) - n0;
  t.nnz = s->mask ? wl_mask_count(s->mask, k0, k0 + t.kt, n0, n0 + t.nt) : (uint64_t)t.kt * t.nt;
  t.kernel = s->kernel == KRN_AUTO ? krn_gemm_pick(m, t.kt, t.nt, t.nnz, b) : s->kernel;
  t.cost = krn_gemm_cost(m, t.kernel, t.kt, t.nt, t.nnz, b);
  if (i == krn_gemm_out_row(s) && s->bias_add) t.cost.cycles += krn_add_cost(m, t.nt, b).cycles;
  return t;
}

static bool shape_ok(const krn_stage *s, uint32_t r, uint32_t c, uint32_t seq) {
  (void)seq;
  return r <= s->k && c <= s->n;
}

static int estimate(const krn_machine *m, const fab_config *fc, const krn_stage *s, uint32_t b, uint32_t seq,
                    uint32_t consumers, krn_estimate *e, char *err, size_t errlen) {
  (void)seq, (void)err, (void)errlen;
  const uint32_t r = s->region.h, c = s->region.w, acc = m->acc_bytes;
  const uint64_t hop_red = krn_hop_red(fc);
  uint64_t nnz_sum = 0, kt_max = 0, nt_max = 0;
  for (uint32_t i = 0; i < r; i++) {
    for (uint32_t j = 0; j < c; j++) {
      const gemm_tile t = tile_of(m, s, b, i, j);
      const uint64_t x = krn_ceil_div((uint64_t)t.kt * b, 2), part = krn_ceil_div((uint64_t)t.nt * b * acc, 4);
      krn_est_pe(e, t.cost, x + (i > 0 ? part : 0),
                 (j == 0 && c > 1 ? x : 0) + (i + 1 < r ? part : consumers * krn_ceil_div((uint64_t)t.nt * b, 2)));
      e->sparse_pes += t.kernel == KRN_SPARSE;
      nnz_sum += t.nnz;
      if (t.nnz > e->nnz_max) e->nnz_max = t.nnz;
      kt_max = krn_max_u64(kt_max, t.kt);
      nt_max = krn_max_u64(nt_max, t.nt);
    }
  }
  e->nnz_mean = (double)nnz_sum / ((double)r * c);
  e->tile_k = (uint32_t)kt_max;
  e->tile_n = (uint32_t)nt_max;
  const uint64_t x = krn_ceil_div(kt_max * b, 2), part = krn_ceil_div(nt_max * b * acc, 4),
                 y = krn_ceil_div(nt_max * b, 2);
  e->latency = x + (uint64_t)(c - 1) * fc->hop_latency + 2 * fc->ramp_latency + e->compute +
               (r > 1 ? part + (uint64_t)(r - 1) * hop_red : 0) + consumers * y;
  return 0;
}

static uint64_t busy(const krn_machine *m, const krn_stage *s, uint32_t b, uint32_t seq) {
  const uint32_t r = s->region.h, c = s->region.w, mbs = b ? seq / b : 0;
  uint64_t best = 0;
  for (uint32_t i = 0; i < r; i++)
    for (uint32_t j = 0; j < c; j++) best = krn_max_u64(best, mbs * tile_of(m, s, b, i, j).cost.cycles);
  return best;
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
  pe->nnz = k->mask ? wl_mask_count(k->mask, s->kc[i], s->kc[i + 1], s->nc[f], s->nc[f + 1]) : (uint64_t)kt * nt;
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
    .shape_ok = shape_ok, .estimate = estimate, .busy = busy,
    .setup = setup, .pe_setup = pe_setup, .arm = krn_arm_partials, .feed = feed, .compute = compute,
    .result = result, .has_values = has_values, .values = values,
};
