/* The ATTENTION stage kind (kind.h): scores, causal softmax and scores x V
 * fused, on r x c PEs. Row i takes the keys of tokens t = i (mod r) of each
 * sequence (K and V kept for every whole sequence of the run; a query scores
 * only its own sequence's keys). Columns take features: with c <= heads,
 * column j whole heads H_j; with more columns than heads, head h takes
 * columns [h c / heads, (h + 1) c / heads) and its dh features are cut
 * evenly over them (col_of), so a PE holds a slice of one head's queries,
 * keys and values. Queries, keys and values of a micro-batch each reach one
 * PE of each column (krn_attn_row: staggered, so the routes in arrive along
 * different rows), which relays them up and down the column; each PE scores
 * its keys over its features (phase 1); a head cut over several columns sums
 * its partial scores along each row (an all-reduce among the head's PEs of
 * that row); a max all-reduce along the column; then each PE's exp, sum and
 * partial output over its features (phase 2) reduce to the column's output
 * PE, which normalises and sends. Every column of a cut head computes the
 * same exponentials (each needs its own P for its features' P x V); what the
 * cut buys is that queries, keys, values, dot products, P x V and the
 * partial outputs reduced down a column all shrink with the columns.
 * Grouped-query attention (krn_stage.kv_heads < heads): query head h reads
 * key/value head h / (heads / kv_heads); a column takes the keys and values
 * of the key/value heads its query heads read (kv_of), a slice of one for a
 * cut head, so several columns may take the same ones. The SRAM of its
 * cache and the wavelets in are counted at those widths. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kind_internal.h"

/* See pipeline.h: staggered down the region by column, one row per port. */
uint32_t krn_attn_row(uint32_t r, uint32_t c, uint32_t n, uint32_t port) {
  return (uint32_t)(((uint64_t)n * r / c + port) % r);
}

/* The keys PE of row i holds are tokens t = i (mod rows) of each sequence; its
 * K and V cache row for token t of a sequence is (t - i) / rows from that
 * sequence's first. Those of tokens t < upto of one sequence: */
static uint32_t keys_held(uint32_t upto, uint32_t i, uint32_t rows) {
  return upto > i ? (upto - 1 - i) / rows + 1 : 0;
}

/* ---- columns over heads ---- */

/* The first of head h's columns (c > heads). */
static uint32_t head_col(uint32_t heads, uint32_t c, uint32_t h) { return (uint32_t)((uint64_t)h * c / heads); }
/* Head h's columns (c > heads). */
static uint32_t head_cols(uint32_t heads, uint32_t c, uint32_t h) { return head_col(heads, c, h + 1) - head_col(heads, c, h); }

/* What column j of c holds: features [f0, f0 + nt), hn heads of hw features
 * each (whole heads: hw = dh; a slice of a cut head: hn = 1, hw = nt); its
 * head h (the first if whole heads) and that head's columns g (1: not cut). */
typedef struct {
  uint32_t f0, nt, hn, hw, h, g;
} col_shape;

static uint32_t col_start(uint32_t heads, uint32_t dh, uint32_t c, uint32_t j) {
  if (c <= heads || j >= c) return (uint32_t)((uint64_t)j * heads / c) * dh; /* whole heads (j = c: n) */
  const uint32_t h = (uint32_t)(((uint64_t)(j + 1) * heads + c - 1) / c - 1); /* the head of column j */
  return h * dh + (uint32_t)((uint64_t)(j - head_col(heads, c, h)) * dh / head_cols(heads, c, h));
}

static col_shape col_of(uint32_t heads, uint32_t dh, uint32_t c, uint32_t j) {
  col_shape k = {0};
  k.f0 = col_start(heads, dh, c, j);
  k.nt = col_start(heads, dh, c, j + 1) - k.f0;
  k.hw = k.nt < dh ? k.nt : dh;
  k.hn = k.hw ? k.nt / k.hw : 0;
  k.h = k.f0 / dh;
  k.g = c > heads ? head_cols(heads, c, k.h) : 1;
  return k;
}

/* The key/value features column j (shape k) takes, [f0, f1), under grouped-query attention of `group` query heads a
   key/value head: those its heads read (whole heads), or the slice of its head's (a cut head). */
typedef struct {
  uint32_t f0, nt;
} kv_shape;

static uint32_t group_of(const krn_stage *s) { return s->kv_heads ? s->heads / s->kv_heads : 1; }

static kv_shape kv_of(col_shape k, uint32_t dh, uint32_t group) {
  if (k.hw < dh) return (kv_shape){k.h / group * dh + (k.f0 - k.h * dh), k.nt};
  const uint32_t first = k.h / group, last = (k.h + k.hn - 1) / group;
  return (kv_shape){first * dh, (last - first + 1) * dh};
}

/* Where query head hh of column shape k reads its key/value head within the column's key/value features. */
static uint32_t kv_off(col_shape k, uint32_t dh, uint32_t group, uint32_t hh) {
  return k.hw < dh ? 0 : ((k.h + hh) / group - k.h / group) * dh;
}

/* The attention cost of column shape k (krn_attn_cost), its cache and its own tokens' keys and values at the key/value
   width kv. */
static krn_cost col_cost(const krn_machine *m, col_shape k, kv_shape kv, uint64_t pairs, uint32_t b, uint32_t r,
                         uint32_t seq, uint32_t sequences) {
  krn_cost c = krn_attn_cost(m, k.hn, k.hw, pairs, b, r, seq, sequences);
  const uint64_t held = krn_ceil_div(seq, r) * (sequences ? sequences : 1);
  c.sram -= (uint64_t)(k.nt - kv.nt) * (held * 2 * 2 + 2 * 2 * krn_ceil_div(b, r) * 2);
  return c;
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
  if (s->heads == 0 || s->n % s->heads != 0 || c > s->n) {
    snprintf(err, errlen, "attention %s: %u columns for %u heads of %u features (at most one column per feature)",
             s->name, c, s->heads, s->heads ? s->n / s->heads : 0);
    return -1;
  }
  const uint32_t dh = s->n / s->heads, mbs = seq / b;
  const uint64_t hop_red = krn_hop_red(fc);
  const uint64_t pairs = krn_ceil_div(pairs_all(seq, 0, r), mbs); /* row 0 holds the most */
  const uint64_t sc = (uint64_t)b * keys_held(seq, 0, r); /* a cut head's partial scores, at most */
  for (uint32_t j = 0; j < c; j++) {
    const col_shape k = col_of(s->heads, dh, c, j);
    const kv_shape kv = kv_of(k, dh, group_of(s));
    const krn_cost cost = col_cost(m, k, kv, pairs, b, r, seq, s->sequences);
    krn_cost with_norm = cost; /* the output PE also normalises */
    with_norm.cycles += krn_attn_norm_cost(m, k.nt, b).cycles;
    const uint64_t in_w[3] = {krn_ceil_div((uint64_t)b * k.nt, 2), krn_ceil_div((uint64_t)b * kv.nt, 2),
                              krn_ceil_div((uint64_t)b * kv.nt, 2)}; /* q, k, v */
    const uint64_t qkv = in_w[0] + in_w[1] + in_w[2], part = (uint64_t)b * k.hn * (k.hw + 1), mx = (uint64_t)b * k.hn;
    /* a cut head: its row's all-reduce of partial scores, both sides into the middle and back out */
    const uint64_t row_in = k.g > 1 ? 2 * sc : 0, row_out = k.g > 1 ? sc : 0;
    const uint32_t root = krn_attn_row(r, c, j, KRN_ATTN_OUT), sides = (root > 0) + (root + 1 < r);
    /* every PE takes q, k and v (the PE of an input from the producer, the
       others relayed); the output PE takes both sides of the reductions and
       sends; the others pass one side on, and an input's PE relays it */
    const uint64_t out = consumers * krn_ceil_div((uint64_t)b * k.nt, 2);
    if (r == 1) krn_est_pe(e, with_norm, qkv + row_in, out + row_out);
    for (uint32_t port = 0; r > 1 && port < 4; port++) { /* the rows of the four ports, and one other */
      const uint32_t row = krn_attn_row(r, c, j, port);
      uint64_t relays = 0;
      for (uint32_t in = 0; in < 3; in++) relays += krn_attn_row(r, c, j, in) == row ? in_w[in] : 0;
      if (row == root) krn_est_pe(e, with_norm, qkv + row_in + sides * (part + mx), mx + out + relays + row_out);
      else krn_est_pe(e, cost, qkv + row_in + part + 2 * mx, part + mx + relays + row_out);
    }
    e->tile_n = e->tile_n > k.nt ? e->tile_n : k.nt;
    e->latency = krn_max_u64(e->latency, qkv + (uint64_t)(r - 1) * fc->hop_latency + with_norm.cycles +
                                             (k.g > 1 ? 2 * sc + (uint64_t)k.g * hop_red : 0) +
                                             (r > 1 ? 2 * (part + mx) + (uint64_t)r * hop_red : 0) +
                                             consumers * krn_ceil_div((uint64_t)b * k.nt, 2));
  }
  return 0;
}

/* The busiest PE's cycles over the sequence: per column shape (few distinct
 * ones) each row's sum over the micro-batches, once; then per column its
 * rows, the output row with its normalisations. */
static uint64_t busy(const krn_machine *m, const krn_stage *s, uint32_t b, uint32_t seq) {
  const uint32_t r = s->region.h, c = s->region.w, mbs = b ? seq / b : 0;
  if (s->heads == 0 || s->n % s->heads != 0 || c > s->n) return 0;
  enum { SHAPES = 8 };
  uint32_t key[SHAPES][2], nkeys = 0;
  uint64_t *sums[SHAPES] = {NULL}, best = 0;
  for (uint32_t j = 0; j < c; j++) {
    const col_shape k = col_of(s->heads, s->n / s->heads, c, j);
    uint32_t x = 0;
    while (x < nkeys && !(key[x][0] == k.hn && key[x][1] == k.hw)) x++;
    if (x == nkeys) {
      SIM_CHECK(nkeys < SHAPES && (sums[x] = calloc(r, sizeof *sums[x])), "attention %s: %u column shapes", s->name,
                nkeys + 1);
      key[x][0] = k.hn, key[x][1] = k.hw, nkeys++;
      for (uint32_t i = 0; i < r; i++)
        for (uint32_t mb = 0; mb < mbs; mb++) {
          const uint64_t pairs = krn_attn_pairs(b, mb, i, r);
          sums[x][i] += krn_attn_phase(m, 1, k.hn, k.hw, pairs).cycles + krn_attn_phase(m, 2, k.hn, k.hw, pairs).cycles;
        }
    }
    const uint32_t root = krn_attn_row(r, c, j, KRN_ATTN_OUT);
    for (uint32_t i = 0; i < r; i++)
      best = krn_max_u64(best, sums[x][i] + (i == root ? mbs * krn_attn_norm_cost(m, k.nt, b).cycles : 0));
  }
  for (uint32_t x = 0; x < nkeys; x++) free(sums[x]);
  return best;
}

/* ---- the pipeline ---- */

/* Its columns' shapes on the stage's region. */
static col_shape stage_col(const stage *s, uint32_t j) { return col_of(s->s.heads, s->dh, s->cols, j); }

/* The index of row i's all-reduce of the head of column j among the stage's row collectives. */
static uint32_t row_index(const stage *s, uint32_t i, uint32_t j) { return i * s->s.heads + stage_col(s, j).h; }

static int setup(krn_pipe *p, uint32_t si, char *err, size_t errlen) {
  stage *s = &p->st[si];
  const krn_stage *k = &s->s;
  const uint32_t r = s->rows, c = s->cols, w = fab_config_of(p->f)->width;
  const fab_rect q = k->region;
  if (k->heads == 0 || k->n % k->heads != 0 || c > k->n || (k->kv_heads && k->heads % k->kv_heads != 0))
    return krn_shape_error(s, "needs heads dividing n, key/value heads dividing heads and at most one column per feature",
                           err, errlen);
  s->dh = k->n / k->heads;
  if (!(s->nc = malloc((c + 1) * sizeof *s->nc))) return krn_shape_error(s, "out of memory", err, errlen);
  for (uint32_t j = 0; j <= c; j++) s->nc[j] = col_start(k->heads, s->dh, c, j);
  if (!krn_cuts_ok(s->nc, c, k->n))
    return krn_shape_error(s, "needs at least one feature (and, tiled, one k) per PE", err, errlen);
  for (uint32_t j = 0; j < s->nout; j++) /* its output row */
    s->out[j] = krn_make_slot(s, w, krn_attn_row(r, c, j, KRN_ATTN_OUT), krn_band(s, j), s->nc[j], s->nc[j + 1]);
  for (uint32_t i = 0; i < s->ninputs; i++)
    for (uint32_t n = 0; n < s->nin_slots[i]; n++) { /* q, k and v: a PE of column n each, rows staggered */
      slot *sl = &s->in[i][n];
      const kv_shape kv = kv_of(stage_col(s, n), s->dh, group_of(k));
      *sl = i == 0 ? krn_make_slot(s, w, krn_attn_row(r, c, n, i), n, s->nc[n], s->nc[n + 1])
                   : krn_make_slot(s, w, krn_attn_row(r, c, n, i), n, kv.f0, kv.f0 + kv.nt);
      if (r > 1 && fab_route_rect(p->f, sl->pe, (fab_rect){krn_col_x(s, n), q.y, 1, r}, &sl->route, err, errlen) != 0)
        return -1;
    }
  if (c > k->heads) { /* a head over several columns: per row, its partial scores' all-reduce */
    s->nrow = r * k->heads;
    if (!(s->row = calloc(s->nrow, sizeof *s->row))) return krn_shape_error(s, "out of memory", err, errlen);
    for (uint32_t h = 0; h < k->heads; h++) {
      const uint32_t c0 = head_col(k->heads, c, h), g = head_cols(k->heads, c, h);
      const uint32_t xa = krn_col_x(s, c0), xb = krn_col_x(s, c0 + g - 1), x0 = xa < xb ? xa : xb;
      for (uint32_t i = 0; g > 1 && i < r; i++) {
        const uint32_t y = krn_row_y(s, i);
        if (!(s->row[i * k->heads + h] = fab_coll_line(p->f, (fab_rect){x0, y, g, 1},
                                                        fab_at(w, krn_col_x(s, c0 + g / 2), y), 1, err, errlen)))
          return -1;
      }
    }
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
  const col_shape k = stage_col(s, krn_band(s, l % s->cols));
  const kv_shape kv = kv_of(k, s->dh, group_of(&s->s));
  const uint32_t r = s->rows;
  *cost = col_cost(&p->m, k, kv, 0, p->run.b, r, p->run.seq, krn_run_sequences(&p->run));
  const size_t cache = (size_t)krn_run_sequences(&p->run) * krn_ceil_div(p->run.seq, r) * 2 * kv.nt; /* every sequence's */
  if (p->run.functional && !(s->pe[l].kv = calloc(cache + 1, sizeof *s->pe[l].kv)))
    return krn_shape_error(s, "out of memory", err, errlen);
  return 0;
}

static int arm(krn_pipe *p, uint32_t si, uint32_t m, char *err, size_t errlen) {
  stage *s = &p->st[si];
  const uint32_t b = p->run.b, ms = krn_mb_in_seq(&p->run, m);
  for (uint32_t j = 0; j < s->nred; j++) { /* partial outputs and sums, fp32 */
    const col_shape k = stage_col(s, j);
    const uint32_t v = b * k.hn * (k.hw + 1);
    if (krn_round(p, si, s->red[j], j, m, v, v, FAB_SUM, KRN_COLL_RED, err, errlen) != 0) return -1;
  }
  for (uint32_t j = 0; s->max && j < s->cols; j++) {
    const uint32_t v = b * stage_col(s, j).hn;
    if (krn_round(p, si, s->max[j], j, m, v, v, FAB_MAX, KRN_COLL_MAX, err, errlen) != 0) return -1;
  }
  for (uint32_t x = 0; x < s->nrow; x++) { /* partial scores of the keys the row holds so far, fp32 */
    if (!s->row[x]) continue;
    const uint32_t v = b * keys_held((ms + 1) * b, x / s->s.heads, s->rows), n = v ? v : 1;
    if (krn_round(p, si, s->row[x], x, m, n, n, FAB_SUM, KRN_COLL_ROW, err, errlen) != 0) return -1;
  }
  return 0;
}

/* The first cache row of micro-batch m's sequence, at a PE of a stage of `rows` rows. */
static size_t seq_keys(const krn_pipe *p, uint32_t rows, uint32_t m) {
  return (size_t)krn_mb_seq(&p->run, m) * krn_ceil_div(p->run.seq, rows);
}

/* Column j's reduction is in at its output PE (part: functional sums and partial outputs): normalise, send. */
static void output(krn_pipe *p, uint32_t si, uint32_t j, uint32_t m, const float *part, uint64_t at) {
  stage *s = &p->st[si];
  const col_shape k = stage_col(s, j);
  const uint32_t b = p->run.b;
  const uint64_t end = krn_interleave(p, s, s->out[j].local, at, krn_attn_norm_cost(&p->m, k.nt, b));
  float *y = NULL;
  if (part) { /* out = sum_t P V / sum_t P */
    y = krn_new_values((size_t)b * k.nt);
    for (uint32_t t = 0; t < b; t++)
      for (uint32_t h = 0; h < k.hn; h++) {
        const float *o = &part[((size_t)t * k.hn + h) * (k.hw + 1)];
        for (uint32_t e = 0; e < k.hw; e++) y[(size_t)t * k.nt + h * k.hw + e] = o[e] / o[k.hw];
      }
  }
  krn_output(p, si, j, m, end, y);
}

/* Phase 2 at PE l, the max of its column in (gmax): P = exp(S - max), its sum, and P V. */
static void phase2(krn_pipe *p, uint32_t si, uint32_t l, uint32_t m, const float *gmax, uint64_t at) {
  stage *s = &p->st[si];
  pe_mb *e = krn_pe_mb(s, l, m);
  const uint32_t i = l / s->cols, j = l % s->cols, b = p->run.b, rows = s->rows;
  const col_shape k = stage_col(s, j);
  const uint32_t ms = krn_mb_in_seq(&p->run, m); /* its place in its sequence */
  const uint64_t pairs = krn_attn_pairs(b, ms, i, rows);
  const uint64_t start = krn_max_u64(krn_max_u64(at, fab_now(p->f)), s->pe[l].core_free);
  const uint64_t end = krn_charge(p, s, l, start, krn_attn_phase(&p->m, 2, k.hn, k.hw, pairs));
  float *part = NULL;
  if (p->run.functional) { /* per query and head */
    const uint32_t nk = keys_held((ms + 1) * b, i, rows), g = group_of(&s->s);
    const uint32_t kw = kv_of(k, s->dh, g).nt;
    const float *kv = &s->pe[l].kv[seq_keys(p, rows, m) * 2 * kw]; /* its sequence's cache */
    part = krn_new_values((size_t)b * k.hn * (k.hw + 1));
    for (uint32_t t = 0; t < b; t++)
      for (uint32_t h = 0; h < k.hn; h++) {
        float *o = &part[((size_t)t * k.hn + h) * (k.hw + 1)];
        for (uint32_t key = 0; key < nk; key++) {
          const float sc = e->scratch[((size_t)t * nk + key) * k.hn + h];
          if (sc == -INFINITY) continue;
          const float pr = expf(sc - gmax[(size_t)t * k.hn + h]);
          const float *v = &kv[((size_t)key * 2 + 1) * kw + kv_off(k, s->dh, g, h)];
          for (uint32_t d = 0; d < k.hw; d++) o[d] += pr * v[d];
          o[k.hw] += pr;
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

/* PE l has its keys' whole scores (functional: in its scratch) at `at`: their max, into the column's
   all-reduce or, on one row, phase 2. */
static void scored(krn_pipe *p, uint32_t si, uint32_t l, uint32_t m, uint64_t at) {
  stage *s = &p->st[si];
  pe_mb *e = krn_pe_mb(s, l, m);
  const uint32_t i = l / s->cols, b = p->run.b;
  const col_shape k = stage_col(s, l % s->cols);
  float *lmax = NULL;
  if (p->run.functional) {
    const uint32_t nk = keys_held((krn_mb_in_seq(&p->run, m) + 1) * b, i, s->rows);
    lmax = krn_new_values((size_t)b * k.hn);
    for (uint32_t t = 0; t < b; t++)
      for (uint32_t h = 0; h < k.hn; h++) {
        float mx = -INFINITY;
        for (uint32_t key = 0; key < nk; key++) {
          const float sc = e->scratch[((size_t)t * nk + key) * k.hn + h];
          if (sc > mx) mx = sc;
        }
        lmax[(size_t)t * k.hn + h] = mx;
      }
  }
  if (s->max)
    krn_ready(p, e->max, at, lmax);
  else
    phase2(p, si, l, m, lmax, at);
  free(lmax);
}

/* An all-reduce of m reached PE l: its row's whole scores (functional: v, into its scratch), or its
   column's max. */
static void all_reduced(krn_pipe *p, uint32_t si, uint32_t l, uint32_t m, bool row, const float *v, uint64_t at) {
  if (!row) {
    phase2(p, si, l, m, v, at);
    return;
  }
  stage *s = &p->st[si];
  pe_mb *e = krn_pe_mb(s, l, m);
  if (v) {
    const uint32_t nk = keys_held((krn_mb_in_seq(&p->run, m) + 1) * p->run.b, l / s->cols, s->rows);
    memcpy(e->scratch, v, (size_t)p->run.b * nk * stage_col(s, l % s->cols).hn * sizeof *v);
  }
  scored(p, si, l, m, at);
}

/* Phase 1 at PE l: its keys and values join its cache, the scores of its keys over its features. */
static void compute(krn_pipe *p, uint32_t si, uint32_t l, uint32_t m, uint64_t start) {
  stage *s = &p->st[si];
  pe_mb *e = krn_pe_mb(s, l, m);
  const uint32_t i = l / s->cols, j = l % s->cols, b = p->run.b, rows = s->rows;
  const col_shape k = stage_col(s, j);
  const uint32_t ms = krn_mb_in_seq(&p->run, m); /* its place in its sequence */
  const uint64_t end =
      krn_charge(p, s, l, start, krn_attn_phase(&p->m, 1, k.hn, k.hw, krn_attn_pairs(b, ms, i, rows)));
  if (p->run.functional) {
    const uint32_t g = group_of(&s->s), kw = kv_of(k, s->dh, g).nt;
    float *kv = &s->pe[l].kv[seq_keys(p, rows, m) * 2 * kw]; /* its sequence's cache */
    const slot *ks = &s->in[1][j], *vs = &s->in[2][j];
    for (uint32_t t = 0; t < b; t++) { /* this micro-batch's keys and values of its tokens */
      const uint32_t tok = ms * b + t; /* its position in its sequence */
      if (tok % rows != i) continue;
      const uint32_t key = (tok - i) / rows;
      memcpy(&kv[((size_t)key * 2) * kw], &ks->vals[m % RING][(size_t)t * kw], kw * sizeof(float));
      memcpy(&kv[((size_t)key * 2 + 1) * kw], &vs->vals[m % RING][(size_t)t * kw], kw * sizeof(float));
    }
    /* scores of its keys over its features, causal, scaled by 1 / sqrt(dh) */
    const uint32_t nk = keys_held((ms + 1) * b, i, rows);
    const float *q = s->in[0][j].vals[m % RING], scale = 1.0f / sqrtf((float)s->dh);
    e->scratch = krn_new_values((size_t)b * nk * k.hn);
    for (uint32_t t = 0; t < b; t++)
      for (uint32_t h = 0; h < k.hn; h++)
        for (uint32_t key = 0; key < nk; key++) {
          float sc = -INFINITY;
          if (i + key * rows <= ms * b + t) {
            sc = 0.0f;
            for (uint32_t d = 0; d < k.hw; d++)
              sc += q[(size_t)t * k.nt + h * k.hw + d] * kv[((size_t)key * 2) * kw + kv_off(k, s->dh, g, h) + d];
            sc *= scale;
          }
          e->scratch[((size_t)t * nk + key) * k.hn + h] = sc;
        }
  }
  if (s->row && s->row[row_index(s, i, j)]) /* a cut head: its partial scores summed along the row first */
    krn_ready(p, e->row, end, e->scratch);
  else
    scored(p, si, l, m, end);
}

/* ---- the placer ---- */

/* Queries: n features; keys and values: kv_heads heads of n / heads. */
static uint32_t in_width(const krn_stage *s, uint32_t input) {
  return input > 0 && s->heads && s->kv_heads ? s->n / s->heads * s->kv_heads : s->n;
}

static uint32_t max_rows(const krn_stage *s) { (void)s; return UINT32_MAX; }
static uint32_t max_cols(const krn_stage *s) { return s->n; } /* a feature each */
/* Slots hold whole heads, or slices of one (col_of); over keys' and values' fewer features (f < n) the first of
   those their column takes (kv_of: neighbours may share them). */
static uint64_t slot_start(const krn_stage *s, uint32_t f, uint32_t slots, uint32_t j) {
  if (!s->heads || s->n % s->heads != 0) return 0;
  const uint32_t dh = s->n / s->heads;
  if (f == s->n) return col_start(s->heads, dh, slots, j);
  return j >= slots ? f : kv_of(col_of(s->heads, dh, slots, j), dh, group_of(s)).f0;
}

const krn_kind_ops krn_kind_attention = {
    .name = "attention", .inputs = 3, .in = KRN_SLOTS_COLS, .out = KRN_SLOTS_COLS, .row_out = true, .attends = true,
    .routes_in = 8, .routes_out = 8, /* output PE: three relays passing, both sides of two reductions, a multicast
                                        (a cut head's row all-reduce adds three: within the margin) */
    .in_width = in_width, .max_rows = max_rows, .max_cols = max_cols, .slot_start = slot_start,
    .estimate = estimate, .busy = busy,
    .setup = setup, .pe_setup = pe_setup, .arm = arm, .compute = compute, .result = output,
    .all_reduced = all_reduced,
};
