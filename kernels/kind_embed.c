/* The EMBED stage kind (kind.h): token embedding and position embedding,
 * fused. One table of the vocabulary's rows, then the positions'
 * (krn_embed_rows), on r x c PEs: PE (i, j) holds table rows V_j and
 * features D_i, and copies the rows its tokens hit (a token's id, and k +
 * its position); each row of PEs chain-reduces (sums) to its last PE, which
 * sends (so a wide table sends one slot per row, beside the next stage's
 * rows). It takes no input: the token ids are known. */
#include <string.h>

#include "kind_internal.h"

/* See pipeline.h: the table is the vocabulary's rows, then with bias_add the positions'. */
uint32_t krn_embed_rows(const krn_stage *s, uint32_t seq) { return s->k + (s->bias_add ? seq : 0); }

/* ---- the estimate ---- */

static bool shape_ok(const krn_stage *s, uint32_t r, uint32_t c, uint32_t seq) {
  return c <= krn_embed_rows(s, seq) && r <= s->n;
}

static int estimate(const krn_machine *m, const fab_config *fc, const krn_stage *s, uint32_t b, uint32_t seq,
                    uint32_t consumers, krn_estimate *e, char *err, size_t errlen) {
  (void)err, (void)errlen;
  const uint32_t r = s->region.h, c = s->region.w, acc = m->acc_bytes;
  const uint64_t hop_red = krn_hop_red(fc);
  const uint32_t kk = krn_embed_rows(s, seq);
  for (uint32_t j = 0; j < c; j++) { /* the table's rows over the columns, features over the rows */
    const uint32_t v0 = krn_cut(s->k_cut, kk, c, j), v1 = krn_cut(s->k_cut, kk, c, j + 1), rows = v1 - v0;
    /* hits: the expected share of token ids, and up to b positions */
    const uint64_t ids = v0 < s->k ? krn_ceil_div((uint64_t)b * ((v1 < s->k ? v1 : s->k) - v0), s->k) : 0;
    const uint64_t pos = v1 > s->k ? (v1 - (v0 > s->k ? v0 : s->k) < b ? v1 - (v0 > s->k ? v0 : s->k) : b) : 0;
    for (uint32_t i = 0; i < r; i++) {
      const uint32_t nt = krn_cut(s->n_cut, s->n, r, i + 1) - krn_cut(s->n_cut, s->n, r, i);
      const krn_cost cost = krn_embed_cost(m, rows, nt, (uint32_t)(ids + pos), b);
      const uint64_t part = krn_ceil_div((uint64_t)nt * b * acc, 4);
      krn_est_pe(e, cost, j > 0 ? part : 0, j + 1 < c ? part : consumers * krn_ceil_div((uint64_t)nt * b, 2));
      e->nnz_max = krn_max_u64(e->nnz_max, rows);
      e->tile_k = e->tile_k > rows ? e->tile_k : rows;
      e->tile_n = e->tile_n > nt ? e->tile_n : nt;
    }
  }
  e->latency = e->compute +
               (c > 1 ? krn_ceil_div((uint64_t)e->tile_n * b * acc, 4) + (uint64_t)(c - 1) * hop_red : 0) +
               consumers * krn_ceil_div((uint64_t)e->tile_n * b, 2);
  return 0;
}

/* The token-id hits of a column holding table rows [v0, v1) in a
 * micro-batch of b uniform ids (the expected share, rounded up), and the
 * position rows of micro-batch mb it holds: what compute charges. */
static uint64_t hits_of(const krn_stage *s, uint32_t v0, uint32_t v1, uint32_t b, uint32_t mb) {
  uint64_t hits = v0 < s->k ? krn_ceil_div((uint64_t)b * ((v1 < s->k ? v1 : s->k) - v0), s->k) : 0;
  for (uint32_t t = 0; s->bias_add && t < b; t++) {
    const uint64_t row = (uint64_t)s->k + (uint64_t)mb * b + t;
    hits += row >= v0 && row < v1;
  }
  return hits;
}

static uint64_t busy(const krn_machine *m, const krn_stage *s, uint32_t b, uint32_t seq) {
  const uint32_t r = s->region.h, c = s->region.w, mbs = b ? seq / b : 0, kk = krn_embed_rows(s, seq);
  uint64_t best = 0;
  for (uint32_t j = 0; j < c; j++) {
    const uint32_t v0 = krn_cut(s->k_cut, kk, c, j), v1 = krn_cut(s->k_cut, kk, c, j + 1);
    for (uint32_t i = 0; i < r; i++) {
      const uint32_t nt = krn_cut(s->n_cut, s->n, r, i + 1) - krn_cut(s->n_cut, s->n, r, i);
      uint64_t sum = 0;
      for (uint32_t mb = 0; mb < mbs; mb++)
        sum += krn_embed_cost(m, v1 - v0, nt, (uint32_t)hits_of(s, v0, v1, b, mb), b).cycles;
      best = krn_max_u64(best, sum);
    }
  }
  return best;
}

/* ---- the pipeline ---- */

static int setup(krn_pipe *p, uint32_t si, char *err, size_t errlen) {
  stage *s = &p->st[si];
  const krn_stage *k = &s->s;
  const uint32_t r = s->rows, c = s->cols, w = fab_config_of(p->f)->width, kk = krn_embed_rows(k, p->run.seq);
  s->nc = krn_cuts(k->n_cut, k->n, r); /* features over the rows, the table's rows over the columns */
  s->kc = krn_cuts(k->k_cut, kk, c);
  if (!s->nc || !s->kc) return krn_shape_error(s, "out of memory", err, errlen);
  if (!krn_cuts_ok(s->nc, r, k->n) || !krn_cuts_ok(s->kc, c, kk))
    return krn_shape_error(s, "needs at least one feature (and, tiled, one k) per PE", err, errlen);
  for (uint32_t j = 0; j < s->nout; j++) /* the last column */
    s->out[j] = krn_make_slot(s, w, j, c - 1, s->nc[j], s->nc[j + 1]);
  s->nred = c > 1 ? r : 0;
  if (s->nred) { /* per row to its output slot */
    if (!(s->red = calloc(s->nred, sizeof *s->red))) return krn_shape_error(s, "out of memory", err, errlen);
    for (uint32_t j = 0; j < s->nred; j++)
      if (!(s->red[j] = fab_coll_chain(p->f, fab_at(w, krn_col_x(s, 0), krn_row_y(s, j)), s->out[j].pe, err, errlen)))
        return -1;
  }
  return 0;
}

static int pe_setup(krn_pipe *p, uint32_t si, uint32_t l, krn_cost *cost, char *err, size_t errlen) {
  (void)err, (void)errlen;
  stage *s = &p->st[si];
  pe_state *pe = &s->pe[l];
  const uint32_t i = l / s->cols, j = l % s->cols, nt = s->nc[i + 1] - s->nc[i];
  pe->nnz = s->kc[j + 1] - s->kc[j];
  *cost = krn_embed_cost(&p->m, (uint32_t)pe->nnz, nt, p->run.b, p->run.b);
  return 0;
}

static void compute(krn_pipe *p, uint32_t si, uint32_t l, uint32_t m, uint64_t start) {
  stage *s = &p->st[si];
  const krn_stage *k = &s->s;
  const uint32_t i = l / s->cols, j = l % s->cols, b = p->run.b;
  const uint32_t v0 = s->kc[j], v1 = s->kc[j + 1], n0 = s->nc[i], nt = s->nc[i + 1] - n0;
  const uint32_t pos0 = krn_mb_in_seq(&p->run, m) * b; /* its first token's position in its sequence */
  /* rows hit: the tokens' ids below k, their positions' rows from k on */
  uint32_t hits = 0, pos_hits = 0;
  for (uint32_t t = 0; k->bias_add && t < b; t++) pos_hits += k->k + pos0 + t >= v0 && k->k + pos0 + t < v1;
  if (p->run.tokens) {
    for (uint32_t t = 0; t < b; t++) {
      const uint32_t id = p->run.tokens[(size_t)m * b + t];
      hits += id >= v0 && id < v1;
    }
  } else if (v0 < k->k) { /* uniform token ids: the expected share, rounded up */
    hits = (uint32_t)krn_ceil_div((uint64_t)b * ((v1 < k->k ? v1 : k->k) - v0), k->k);
  }
  const uint64_t end = krn_charge(p, s, l, start, krn_embed_cost(&p->m, v1 - v0, nt, hits + pos_hits, b));
  float *y = NULL;
  if (p->run.functional) {
    y = krn_new_values((size_t)b * nt);
    for (uint32_t t = 0; t < b; t++) {
      const uint32_t id = p->run.tokens[(size_t)m * b + t], pos = pos0 + t;
      if (id >= v0 && id < v1) memcpy(&y[(size_t)t * nt], &k->weight[(size_t)id * k->n + n0], nt * sizeof *y);
      if (k->bias_add && k->k + pos >= v0 && k->k + pos < v1)
        for (uint32_t f = 0; f < nt; f++) y[(size_t)t * nt + f] += k->bias[(size_t)pos * k->n + n0 + f];
    }
  }
  if (!krn_partial(p, si, l, m, end, y)) krn_output(p, si, i, m, krn_max_u64(end, fab_now(p->f)), y);
}

static void result(krn_pipe *p, uint32_t si, uint32_t i, uint32_t m, const float *v, uint64_t cycle) {
  const stage *s = &p->st[si];
  krn_output(p, si, i, m, krn_max_u64(cycle, fab_now(p->f)),
             krn_copy_values(v, (size_t)p->run.b * (s->nc[i + 1] - s->nc[i])));
}

/* ---- the placer, functional values ---- */

static uint32_t max_rows(const krn_stage *s) { return s->n; }
static uint32_t max_cols(const krn_stage *s) { return s->k; }

static bool has_values(const krn_stage *s, const krn_run *run) {
  return run->tokens && s->weight && (!s->bias_add || s->bias);
}

static int values(const krn_stage *s, uint64_t seed, uint32_t seq, float **w, float **b) {
  *w = krn_values_fill(seed, "embed", WL_VALUES_TABLE, s->k, s->n);
  *b = krn_values_fill(seed, "pos_embed", WL_VALUES_TABLE, seq, s->n);
  return *w && *b ? 0 : -1;
}

const krn_kind_ops krn_kind_embed = {
    .name = "embed", .inputs = 0, .in = KRN_SLOTS_COLS, .out = KRN_SLOTS_ROWS, .col_out = true,
    .routes_in = 1, .routes_out = 1, /* a row's chain */
    .max_rows = max_rows, .max_cols = max_cols,
    .shape_ok = shape_ok, .estimate = estimate, .busy = busy,
    .setup = setup, .pe_setup = pe_setup, .arm = krn_arm_partials, .compute = compute, .result = result,
    .has_values = has_values, .values = values,
};
