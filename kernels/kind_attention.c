/* The ATTENTION stage kind (kind.h): scores, causal softmax and scores x V
 * fused, on r x c PEs. Column j takes heads H_j, row i the keys of tokens
 * t = i (mod r) of each sequence (K and V kept for every whole sequence of
 * the run; a query scores only its own sequence's keys). Queries, keys and
 * values of a micro-batch each reach one PE of each column (krn_attn_row:
 * staggered, so the routes in arrive along different rows), which relays
 * them up and down the column; each PE scores its keys (phase 1); a max
 * all-reduce along the column; then each PE's exp, sum and partial output
 * (phase 2) reduce to the output PE, which normalises and sends. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kind_internal.h"

/* See pipeline.h: staggered down the region by column, one row per port. */
uint32_t krn_attn_row(uint32_t r, uint32_t c, uint32_t n, uint32_t port) {
  return (uint32_t)(((uint64_t)n * r / c + port) % r);
}

/* ---- the estimate ---- */

/* Causal pairs of the keys row i of r holds, over the whole sequence. */
static uint64_t pairs_all(uint32_t seq, uint32_t i, uint32_t r) {
  uint64_t n = 0;
  for (uint32_t q = i; q < seq; q++) n += (q - i) / r + 1;
  return n;
}

static int estimate(const krn_machine *m, const fab_config *fc, const krn_stage *s, uint32_t b, uint32_t seq,
                    uint32_t consumers, krn_estimate *e, char *err, size_t errlen) {
  const uint32_t r = s->region.h, c = s->region.w;
  if (s->heads == 0 || s->n % s->heads != 0 || c > s->heads) {
    snprintf(err, errlen, "attention %s: %u columns for %u heads (at most one column per head)", s->name, c,
             s->heads);
    return -1;
  }
  const uint32_t dh = s->n / s->heads, mbs = seq / b;
  const uint64_t hop_red = krn_hop_red(fc);
  const uint64_t pairs = krn_ceil_div(pairs_all(seq, 0, r), mbs); /* row 0 holds the most */
  for (uint32_t j = 0; j < c; j++) {
    const uint32_t heads = krn_cut(NULL, s->heads, c, j + 1) - krn_cut(NULL, s->heads, c, j), nt = heads * dh;
    const krn_cost cost = krn_attn_cost(m, heads, dh, pairs, b, r, seq, s->sequences);
    krn_cost with_norm = cost; /* the output PE also normalises */
    with_norm.cycles += krn_attn_norm_cost(m, nt, b).cycles;
    const uint64_t qkv = 3 * krn_ceil_div((uint64_t)b * nt, 2), part = (uint64_t)b * heads * (dh + 1),
                   mx = (uint64_t)b * heads;
    const uint32_t root = krn_attn_row(r, c, j, KRN_ATTN_OUT), sides = (root > 0) + (root + 1 < r);
    /* every PE takes q, k and v (the PE of an input from the producer, the
       others relayed); the output PE takes both sides of the reductions and
       sends; the others pass one side on, and an input's PE relays it */
    const uint64_t out = consumers * krn_ceil_div((uint64_t)b * nt, 2);
    if (r == 1) krn_est_pe(e, with_norm, qkv, out);
    for (uint32_t port = 0; r > 1 && port < 4; port++) { /* the rows of the four ports, and one other */
      const uint32_t row = krn_attn_row(r, c, j, port);
      uint64_t relays = 0;
      for (uint32_t in = 0; in < 3; in++) relays += krn_attn_row(r, c, j, in) == row ? qkv / 3 : 0;
      if (row == root) krn_est_pe(e, with_norm, qkv + sides * (part + mx), mx + out + relays);
      else krn_est_pe(e, cost, qkv + part + 2 * mx, part + mx + relays);
    }
    e->tile_n = e->tile_n > nt ? e->tile_n : nt;
    e->latency = krn_max_u64(e->latency, qkv + (uint64_t)(r - 1) * fc->hop_latency + with_norm.cycles +
                                             (r > 1 ? 2 * (part + mx) + (uint64_t)r * hop_red : 0) +
                                             consumers * krn_ceil_div((uint64_t)b * nt, 2));
  }
  return 0;
}

static uint64_t busy(const krn_machine *m, const krn_stage *s, uint32_t b, uint32_t seq) {
  const uint32_t r = s->region.h, c = s->region.w, mbs = b ? seq / b : 0;
  if (s->heads == 0 || s->n % s->heads != 0) return 0;
  uint64_t best = 0;
  for (uint32_t j = 0; j < c; j++) {
    const uint32_t heads = krn_cut(NULL, s->heads, c, j + 1) - krn_cut(NULL, s->heads, c, j), dh = s->n / s->heads;
    const uint32_t root = krn_attn_row(r, c, j, KRN_ATTN_OUT);
    for (uint32_t i = 0; i < r; i++) {
      uint64_t sum = 0;
      for (uint32_t mb = 0; mb < mbs; mb++) {
        const uint64_t pairs = krn_attn_pairs(b, mb, i, r);
        sum += krn_attn_phase(m, 1, heads, dh, pairs).cycles + krn_attn_phase(m, 2, heads, dh, pairs).cycles;
      }
      if (i == root) sum += mbs * krn_attn_norm_cost(m, heads * dh, b).cycles;
      best = krn_max_u64(best, sum);
    }
  }
  return best;
}

/* ---- the pipeline ---- */

static int setup(krn_pipe *p, uint32_t si, char *err, size_t errlen) {
  stage *s = &p->st[si];
  const krn_stage *k = &s->s;
  const uint32_t r = s->rows, c = s->cols, w = fab_config_of(p->f)->width;
  const fab_rect q = k->region;
  if (k->heads == 0 || k->n % k->heads != 0 || c > k->heads)
    return krn_shape_error(s, "needs heads dividing n and at most one column per head", err, errlen);
  s->dh = k->n / k->heads;
  uint32_t *hc = krn_cuts(NULL, k->heads, c); /* whole heads over the columns */
  s->nc = hc;
  if (!hc) return krn_shape_error(s, "out of memory", err, errlen);
  for (uint32_t j = 0; j <= c; j++) hc[j] *= s->dh;
  if (!krn_cuts_ok(s->nc, c, k->n))
    return krn_shape_error(s, "needs at least one feature (and, tiled, one k) per PE", err, errlen);
  for (uint32_t j = 0; j < s->nout; j++) /* its output row */
    s->out[j] = krn_make_slot(s, w, krn_attn_row(r, c, j, KRN_ATTN_OUT), krn_band(s, j), s->nc[j], s->nc[j + 1]);
  for (uint32_t i = 0; i < s->ninputs; i++)
    for (uint32_t n = 0; n < s->nin_slots[i]; n++) { /* q, k and v: a PE of column n each, rows staggered */
      slot *sl = &s->in[i][n];
      *sl = krn_make_slot(s, w, krn_attn_row(r, c, n, i), n, s->nc[n], s->nc[n + 1]);
      if (r > 1 && fab_route_rect(p->f, sl->pe, (fab_rect){krn_col_x(s, n), q.y, 1, r}, &sl->route, err, errlen) != 0)
        return -1;
    }
  if (r == 1) return 0;
  s->nred = c; /* per column: the sums and partial outputs, and the max */
  if (!(s->red = calloc(s->nred, sizeof *s->red)) || !(s->max = calloc(c, sizeof *s->max)))
    return krn_shape_error(s, "out of memory", err, errlen);
  for (uint32_t j = 0; j < s->nred; j++)
    if (!(s->red[j] = fab_coll_line(p->f, (fab_rect){krn_col_x(s, j), q.y, 1, r}, s->out[j].pe, 0, err, errlen)))
      return -1;
  for (uint32_t j = 0; j < c; j++)
    if (!(s->max[j] = fab_coll_line(p->f, (fab_rect){krn_col_x(s, j), q.y, 1, r}, s->out[j].pe, 1, err, errlen)))
      return -1;
  return 0;
}

static int pe_setup(krn_pipe *p, uint32_t si, uint32_t l, krn_cost *cost, char *err, size_t errlen) {
  stage *s = &p->st[si];
  const uint32_t f = krn_band(s, l % s->cols), nt = s->nc[f + 1] - s->nc[f], r = s->rows;
  *cost = krn_attn_cost(&p->m, nt / s->dh, s->dh, 0, p->run.b, r, p->run.seq, krn_run_sequences(&p->run));
  const size_t cache = (size_t)krn_run_sequences(&p->run) * krn_ceil_div(p->run.seq, r) * 2 * nt; /* every sequence's */
  if (p->run.functional && !(s->pe[l].kv = calloc(cache + 1, sizeof *s->pe[l].kv)))
    return krn_shape_error(s, "out of memory", err, errlen);
  return 0;
}

static int arm(krn_pipe *p, uint32_t si, uint32_t m, char *err, size_t errlen) {
  stage *s = &p->st[si];
  const uint32_t b = p->run.b;
  for (uint32_t j = 0; j < s->nred; j++) { /* partial outputs and sums, fp32 */
    const uint32_t v = b * ((s->nc[j + 1] - s->nc[j]) / s->dh) * (s->dh + 1);
    if (krn_round(p, si, s->red[j], j, m, v, v, FAB_SUM, false, err, errlen) != 0) return -1;
  }
  for (uint32_t j = 0; s->max && j < s->cols; j++) {
    const uint32_t v = b * ((s->nc[j + 1] - s->nc[j]) / s->dh);
    if (krn_round(p, si, s->max[j], j, m, v, v, FAB_MAX, true, err, errlen) != 0) return -1;
  }
  return 0;
}

/* The keys PE (i, j) holds are tokens t = i (mod rows) of each sequence; its
 * K and V cache row for token t of a sequence is (t - i) / rows from that
 * sequence's first. Those of tokens t < upto of one sequence: */
static uint32_t keys_held(uint32_t upto, uint32_t i, uint32_t rows) {
  return upto > i ? (upto - 1 - i) / rows + 1 : 0;
}

/* The first cache row of micro-batch m's sequence, at a PE of a stage of `rows` rows. */
static size_t seq_keys(const krn_pipe *p, uint32_t rows, uint32_t m) {
  return (size_t)(m / (p->run.seq / p->run.b)) * krn_ceil_div(p->run.seq, rows);
}

/* Column j's reduction is in at its output PE (part: functional sums and partial outputs): normalise, send. */
static void output(krn_pipe *p, uint32_t si, uint32_t j, uint32_t m, const float *part, uint64_t at) {
  stage *s = &p->st[si];
  const uint32_t b = p->run.b, nt = s->nc[j + 1] - s->nc[j], heads = nt / s->dh, dh = s->dh;
  const uint64_t end = krn_interleave(p, s, s->out[j].local, at, krn_attn_norm_cost(&p->m, nt, b));
  float *y = NULL;
  if (part) { /* out = sum_t P V / sum_t P */
    y = krn_new_values((size_t)b * nt);
    for (uint32_t t = 0; t < b; t++)
      for (uint32_t h = 0; h < heads; h++) {
        const float *o = &part[((size_t)t * heads + h) * (dh + 1)];
        for (uint32_t e = 0; e < dh; e++) y[(size_t)t * nt + h * dh + e] = o[e] / o[dh];
      }
  }
  krn_output(p, si, j, m, end, y);
}

/* Phase 2 at PE l, the max of its column in (gmax): P = exp(S - max), its sum, and P V. */
static void phase2(krn_pipe *p, uint32_t si, uint32_t l, uint32_t m, const float *gmax, uint64_t at) {
  stage *s = &p->st[si];
  pe_mb *e = krn_pe_mb(s, l, m);
  const uint32_t i = l / s->cols, j = l % s->cols, b = p->run.b, rows = s->rows, dh = s->dh;
  const uint32_t nt = s->nc[j + 1] - s->nc[j], heads = nt / dh;
  const uint32_t ms = krn_mb_in_seq(&p->run, m); /* its place in its sequence */
  const uint64_t pairs = krn_attn_pairs(b, ms, i, rows);
  const uint64_t start = krn_max_u64(krn_max_u64(at, fab_now(p->f)), s->pe[l].core_free);
  const uint64_t end = krn_charge(p, s, l, start, krn_attn_phase(&p->m, 2, heads, dh, pairs));
  float *part = NULL;
  if (p->run.functional) { /* per query and head */
    const uint32_t nk = keys_held((ms + 1) * b, i, rows);
    const float *kv = &s->pe[l].kv[seq_keys(p, rows, m) * 2 * nt]; /* its sequence's cache */
    part = krn_new_values((size_t)b * heads * (dh + 1));
    for (uint32_t t = 0; t < b; t++)
      for (uint32_t h = 0; h < heads; h++) {
        float *o = &part[((size_t)t * heads + h) * (dh + 1)];
        for (uint32_t key = 0; key < nk; key++) {
          const float sc = e->scratch[((size_t)t * nk + key) * heads + h];
          if (sc == -INFINITY) continue;
          const float pr = expf(sc - gmax[(size_t)t * heads + h]);
          const float *v = &kv[((size_t)key * 2 + 1) * nt + h * dh];
          for (uint32_t d = 0; d < dh; d++) o[d] += pr * v[d];
          o[dh] += pr;
        }
      }
  }
  krn_freed(p, si, l, m, end);
  if (s->red)
    krn_ready(p, e->red, end, part);
  else
    output(p, si, j, m, part, end);
  free(part);
}

/* Phase 1 at PE l: its keys and values join its cache, the scores of its keys and their max. */
static void compute(krn_pipe *p, uint32_t si, uint32_t l, uint32_t m, uint64_t start) {
  stage *s = &p->st[si];
  pe_mb *e = krn_pe_mb(s, l, m);
  const uint32_t i = l / s->cols, j = l % s->cols, b = p->run.b, rows = s->rows, dh = s->dh;
  const uint32_t nt = s->nc[j + 1] - s->nc[j], heads = nt / dh;
  const uint32_t ms = krn_mb_in_seq(&p->run, m); /* its place in its sequence */
  const uint64_t end = krn_charge(p, s, l, start, krn_attn_phase(&p->m, 1, heads, dh, krn_attn_pairs(b, ms, i, rows)));
  float *lmax = NULL;
  if (p->run.functional) {
    float *kv = &s->pe[l].kv[seq_keys(p, rows, m) * 2 * nt]; /* its sequence's cache */
    const slot *ks = &s->in[1][j], *vs = &s->in[2][j];
    for (uint32_t t = 0; t < b; t++) { /* this micro-batch's keys and values of its tokens */
      const uint32_t tok = ms * b + t; /* its position in its sequence */
      if (tok % rows != i) continue;
      const uint32_t key = (tok - i) / rows;
      memcpy(&kv[((size_t)key * 2) * nt], &ks->vals[m % RING][(size_t)t * nt], nt * sizeof(float));
      memcpy(&kv[((size_t)key * 2 + 1) * nt], &vs->vals[m % RING][(size_t)t * nt], nt * sizeof(float));
    }
    /* scores of its keys, causal, scaled by 1 / sqrt(dh); their max */
    const uint32_t nk = keys_held((ms + 1) * b, i, rows);
    const float *q = s->in[0][j].vals[m % RING], scale = 1.0f / sqrtf((float)dh);
    e->scratch = krn_new_values((size_t)b * nk * heads);
    lmax = krn_new_values((size_t)b * heads);
    for (uint32_t t = 0; t < b; t++)
      for (uint32_t h = 0; h < heads; h++) {
        float mx = -INFINITY;
        for (uint32_t key = 0; key < nk; key++) {
          float sc = -INFINITY;
          if (i + key * rows <= ms * b + t) {
            sc = 0.0f;
            for (uint32_t d = 0; d < dh; d++)
              sc += q[(size_t)t * nt + h * dh + d] * kv[((size_t)key * 2) * nt + h * dh + d];
            sc *= scale;
          }
          e->scratch[((size_t)t * nk + key) * heads + h] = sc;
          if (sc > mx) mx = sc;
        }
        lmax[(size_t)t * heads + h] = mx;
      }
  }
  if (s->max)
    krn_ready(p, e->max, end, lmax);
  else
    phase2(p, si, l, m, lmax, end);
  free(lmax);
}

/* ---- the placer ---- */

static uint32_t max_rows(const krn_stage *s) { (void)s; return UINT32_MAX; }
static uint32_t max_cols(const krn_stage *s) { return s->heads; }
/* Slots hold whole heads of dh features each. */
static uint64_t slot_start(const krn_stage *s, uint32_t f, uint32_t slots, uint32_t j) {
  (void)f;
  return (uint64_t)j * s->heads / slots * (s->n / s->heads);
}

const krn_kind_ops krn_kind_attention = {
    .name = "attention", .inputs = 3, .in = KRN_SLOTS_COLS, .out = KRN_SLOTS_COLS, .row_out = true,
    .routes_in = 8, .routes_out = 8, /* output PE: three relays passing, both sides of two reductions, a multicast */
    .max_rows = max_rows, .max_cols = max_cols, .slot_start = slot_start,
    .estimate = estimate, .busy = busy,
    .setup = setup, .pe_setup = pe_setup, .arm = arm, .compute = compute, .result = output,
    .all_reduced = phase2,
};
