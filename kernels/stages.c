/* What each kind of stage does (see pipeline.h): its slots and reductions
 * at setup, its transfers of a micro-batch, its compute (cost.h cycles, and
 * in functional mode its numbers), and what follows its reductions. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipe_internal.h"

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }
static uint32_t ceil_div(uint64_t a, uint64_t b) { return (uint32_t)((a + b - 1) / b); }

static float *new_values(size_t n) {
  float *v = calloc(n + 1, sizeof *v);
  SIM_CHECK(v, "out of memory for %zu values", n);
  return v;
}

/* Cut points: given, or [0, n) split evenly in `parts`. */
static uint32_t *cuts(const uint32_t *given, uint32_t n, uint32_t parts) {
  uint32_t *c = malloc((parts + 1) * sizeof *c);
  if (c)
    for (uint32_t i = 0; i <= parts; i++) c[i] = given ? given[i] : (uint32_t)((uint64_t)i * n / parts);
  return c;
}

static bool cuts_ok(const uint32_t *c, uint32_t parts, uint32_t n) {
  if (c[0] != 0 || c[parts] != n) return false;
  for (uint32_t i = 0; i < parts; i++)
    if (c[i] >= c[i + 1]) return false;
  return true;
}

static slot make_slot(const stage *s, uint32_t width, uint32_t i, uint32_t j, uint32_t f0, uint32_t f1) {
  slot sl;
  memset(&sl, 0, sizeof sl);
  sl.pe = fab_at(width, krn_col_x(s, j), krn_row_y(s, i));
  sl.local = i * s->cols + j;
  sl.f0 = f0;
  sl.f1 = f1;
  sl.route = FAB_NONE;
  for (uint32_t r = 0; r < RING; r++) sl.m[r] = NO_MB;
  return sl;
}

/* The features of input k a stage of this kind expects from its producer. */
static uint32_t input_features(const krn_stage *s) { return s->kind == KRN_STAGE_GEMM ? s->k : s->n; }

static int shape_error(const stage *s, const char *why, char *err, size_t errlen) {
  snprintf(err, errlen, "pipeline: stage %s (%u x %u PEs): %s", s->s.name, s->cols, s->rows, why);
  return -1;
}

int krn_stage_setup(krn_pipe *p, uint32_t si, char *err, size_t errlen) {
  stage *s = &p->st[si];
  const krn_stage *k = &s->s;
  const uint32_t r = s->rows, c = s->cols, w = fab_config_of(p->f)->width, b = p->run.b;
  const fab_rect q = k->region;
  static const uint32_t inputs[] = {[KRN_STAGE_EMBED] = 0, [KRN_STAGE_GEMM] = 1,
                                    [KRN_STAGE_ATTENTION] = 3, [KRN_STAGE_LAYERNORM] = 1,
                                    [KRN_STAGE_GELU] = 1, [KRN_STAGE_ADD] = 2};
  s->ninputs = inputs[k->kind];
  s->elementwise = k->kind == KRN_STAGE_LAYERNORM || k->kind == KRN_STAGE_GELU || k->kind == KRN_STAGE_ADD;
  s->entry = k->kind == KRN_STAGE_EMBED || (k->kind == KRN_STAGE_GEMM && k->in[0] < 0);
  s->window = 4;
  for (uint32_t in = 0; in < KRN_MAX_INPUTS; in++)
    if (k->in[in] >= 0 && krn_depth(k, in) + 2 > s->window) s->window = krn_depth(k, in) + 2;
  if (s->window > RING) s->window = RING;
  if (p->run.functional && ((k->kind == KRN_STAGE_EMBED && !p->run.tokens) ||
                            (s->entry && k->kind == KRN_STAGE_GEMM && !p->run.input) ||
                            (k->kind != KRN_STAGE_ATTENTION && k->kind != KRN_STAGE_ADD &&
                             k->kind != KRN_STAGE_GELU && !k->weight) ||
                            ((k->kind == KRN_STAGE_LAYERNORM || (k->bias_add && k->kind == KRN_STAGE_EMBED)) && !k->bias)))
    return shape_error(s, "functional mode needs its values (weights, table, token ids or input)", err, errlen);
  for (uint32_t i = 0; i < s->ninputs; i++) {
    if (k->in[i] < 0 && !(s->entry && i == 0)) return shape_error(s, "an input has no producer", err, errlen);
    if (k->in[i] >= 0 && p->st[k->in[i]].s.n != input_features(k)) {
      char why[160];
      snprintf(why, sizeof why, "input %u has %u features, it takes %u", i, p->st[k->in[i]].s.n,
               input_features(k));
      return shape_error(s, why, err, errlen);
    }
  }
  /* the feature cuts over the columns (the embedding's over the rows), and
     k over the rows (the embedding's vocabulary over the columns) */
  const bool tiled = k->kind == KRN_STAGE_GEMM || k->kind == KRN_STAGE_EMBED, emb = k->kind == KRN_STAGE_EMBED;
  if (k->kind == KRN_STAGE_ATTENTION) {
    if (k->heads == 0 || k->n % k->heads != 0 || c > k->heads)
      return shape_error(s, "needs heads dividing n and at most one column per head", err, errlen);
    s->dh = k->n / k->heads;
    uint32_t *hc = cuts(NULL, k->heads, c);
    s->nc = hc;
    if (hc)
      for (uint32_t j = 0; j <= c; j++) hc[j] *= s->dh;
  } else {
    s->nc = cuts(k->n_cut, k->n, s->elementwise ? r * c : emb ? r : c);
  }
  const uint32_t kk = emb ? krn_embed_rows(k, p->run.seq) : k->k;
  s->kc = tiled ? cuts(k->k_cut, kk, emb ? c : r) : NULL;
  if (!s->nc || (tiled && !s->kc)) return shape_error(s, "out of memory", err, errlen);
  if (!cuts_ok(s->nc, s->elementwise ? r * c : emb ? r : c, k->n) || (tiled && !cuts_ok(s->kc, emb ? c : r, kk)))
    return shape_error(s, "needs at least one feature (and, tiled, one k) per PE", err, errlen);
  /* slots */
  const uint32_t nslots_in = k->kind == KRN_STAGE_GEMM ? r : s->elementwise ? r * c : c;
  for (uint32_t i = 0; i < s->ninputs; i++) {
    s->nin_slots[i] = nslots_in;
    if (!(s->in[i] = calloc(s->nin_slots[i], sizeof *s->in[i]))) return shape_error(s, "out of memory", err, errlen);
  }
  s->nout = s->elementwise ? r * c : emb ? r : c;
  if (!(s->out = calloc(s->nout, sizeof *s->out))) return shape_error(s, "out of memory", err, errlen);
  for (uint32_t j = 0; j < s->nout; j++) /* GEMM: the bottom row; embedding: the last column; attention: its output row */
    s->out[j] = s->elementwise ? make_slot(s, w, j / c, j % c, s->nc[j], s->nc[j + 1])
                : emb          ? make_slot(s, w, j, c - 1, s->nc[j], s->nc[j + 1])
                               : make_slot(s, w, tiled ? krn_gemm_out_row(k) : krn_attn_row(r, c, j, KRN_ATTN_OUT),
                                           krn_band(s, j), s->nc[j], s->nc[j + 1]);
  for (uint32_t i = 0; i < s->ninputs; i++) {
    for (uint32_t n = 0; n < s->nin_slots[i]; n++) {
      slot *sl = &s->in[i][n];
      if (k->kind == KRN_STAGE_GEMM) /* row n's first PE */
        *sl = make_slot(s, w, n, 0, s->kc[n], s->kc[n + 1]);
      else if (k->kind == KRN_STAGE_ATTENTION) /* q, k and v: a PE of column n each, rows staggered */
        *sl = make_slot(s, w, krn_attn_row(r, c, n, i), n, s->nc[n], s->nc[n + 1]);
      else /* element-wise: every PE its own features */
        *sl = make_slot(s, w, n / c, n % c, s->nc[n], s->nc[n + 1]);
      /* a GEMM row's first PE, an ATTENTION column's input PE relays to the others */
      const bool row = k->kind == KRN_STAGE_GEMM && c > 1, col = k->kind == KRN_STAGE_ATTENTION && r > 1;
      const fab_rect to = row ? (fab_rect){q.x, krn_row_y(s, n), c, 1} : (fab_rect){krn_col_x(s, n), q.y, 1, r};
      if ((row || col) && fab_route_rect(p->f, sl->pe, to, &sl->route, err, errlen) != 0) return -1;
      if (s->entry && i == 0) sl->pieces = 1; /* the host's x, or nothing to wait for */
    }
  }
  /* reductions */
  s->nred = emb ? (c > 1 ? r : 0) : (tiled || k->kind == KRN_STAGE_ATTENTION) && r > 1 ? c : 0;
  if (s->nred) { /* per column (the embedding: per row) to its output slot */
    if (!(s->red = calloc(s->nred, sizeof *s->red))) return shape_error(s, "out of memory", err, errlen);
    for (uint32_t j = 0; j < s->nred; j++) {
      s->red[j] = emb     ? fab_coll_chain(p->f, fab_at(w, krn_col_x(s, 0), krn_row_y(s, j)), s->out[j].pe, err, errlen)
                  : tiled ? fab_coll_chain(p->f, fab_at(w, krn_col_x(s, krn_band(s, j)), q.y), s->out[j].pe, err, errlen)
                          : fab_coll_line(p->f, (fab_rect){krn_col_x(s, j), q.y, 1, r}, s->out[j].pe, 0, err, errlen);
      if (!s->red[j]) return -1;
    }
  }
  if ((k->kind == KRN_STAGE_ATTENTION && r > 1) || (k->kind == KRN_STAGE_LAYERNORM && r * c > 1)) {
    if (!(s->max = calloc(c, sizeof *s->max))) return shape_error(s, "out of memory", err, errlen);
    for (uint32_t j = 0; j < (k->kind == KRN_STAGE_ATTENTION ? c : 1); j++) {
      s->max[j] = k->kind == KRN_STAGE_ATTENTION
                      ? fab_coll_line(p->f, (fab_rect){krn_col_x(s, j), q.y, 1, r}, s->out[j].pe, 1, err, errlen)
                      : fab_coll_reduce(p->f, q, 1, err, errlen);
      if (!s->max[j]) return -1;
    }
  }
  /* every PE: its kernel, its SRAM, which must fit */
  if (!(s->pe = calloc((size_t)r * c, sizeof *s->pe))) return shape_error(s, "out of memory", err, errlen);
  for (uint32_t l = 0; l < r * c; l++) {
    pe_state *pe = &s->pe[l];
    for (uint32_t x = 0; x < RING; x++) pe->ring[x].m = NO_MB;
    const uint32_t i = l / c, j = l % c, f = s->elementwise ? l : emb ? i : krn_band(s, j), nt = s->nc[f + 1] - s->nc[f];
    krn_cost cost;
    switch (k->kind) {
      case KRN_STAGE_GEMM: {
        const uint32_t kt = s->kc[i + 1] - s->kc[i];
        pe->nnz = k->mask ? wl_mask_count(k->mask, s->kc[i], s->kc[i + 1], s->nc[f], s->nc[f + 1])
                          : (uint64_t)kt * nt;
        pe->kernel = k->kernel == KRN_AUTO ? krn_gemm_pick(&p->m, kt, nt, pe->nnz, b) : k->kernel;
        cost = krn_gemm_cost(&p->m, pe->kernel, kt, nt, pe->nnz, b);
        break;
      }
      case KRN_STAGE_EMBED:
        pe->nnz = s->kc[j + 1] - s->kc[j];
        cost = krn_embed_cost(&p->m, (uint32_t)pe->nnz, nt, b, b);
        break;
      case KRN_STAGE_ATTENTION:
        cost = krn_attn_cost(&p->m, nt / s->dh, s->dh, 0, b, r, p->run.seq);
        if (p->run.functional &&
            !(pe->kv = calloc((size_t)ceil_div(p->run.seq, r) * 2 * nt + 1, sizeof *pe->kv)))
          return shape_error(s, "out of memory", err, errlen);
        break;
      case KRN_STAGE_LAYERNORM: cost = krn_layernorm_cost(&p->m, nt, b); break;
      case KRN_STAGE_GELU: cost = krn_gelu_cost(&p->m, nt, b); break;
      default:
        cost = krn_add_cost(&p->m, nt, b);
        cost.sram += krn_depth_sram(k, (uint64_t)nt * b); /* the skip input's deeper buffer */
        break;
    }
    pe->sram = cost.sram;
    pe->weights = cost.weights;
    if (!krn_fits(&p->m, pe->sram)) {
      snprintf(err, errlen,
               "pipeline: stage %s: PE (%u,%u) needs %llu bytes of SRAM, the PE has %llu (knob: "
               "fabric.sram_per_pe; or give the stage more PEs)",
               k->name, krn_col_x(s, j), krn_row_y(s, i), (unsigned long long)pe->sram, (unsigned long long)p->m.sram);
      return -1;
    }
  }
  return 0;
}

/* ---- one micro-batch's transfers ---- */

/* A round of a stage's reduction for micro-batch m: each member's transfer
 * goes to its PE's ring (red or max); the result member is tagged. */
static int round_of(krn_pipe *p, uint32_t si, fab_coll *c, uint32_t col, uint32_t m, uint32_t wavelets,
                    uint32_t values, fab_op op, bool is_max, char *err, size_t errlen) {
  stage *s = &p->st[si];
  const uint32_t members = fab_coll_members(c);
  fab_xfer *x = malloc(members * sizeof *x);
  if (!x) {
    snprintf(err, errlen, "pipeline: out of memory");
    return -1;
  }
  const fab_round rd = {.n = wavelets,
                        .ready = FAB_LATER,
                        .values = p->run.functional ? values : 0,
                        .own_later = p->run.functional,
                        .op = op};
  if (fab_coll_round(p->f, c, &rd, x, err, errlen) != 0) {
    free(x);
    return -1;
  }
  const uint32_t width = fab_config_of(p->f)->width;
  for (uint32_t i = 0; i < members; i++) {
    const fab_pe pe = fab_coll_member(c, i);
    const uint32_t local = krn_local(s, pe, width);
    pe_mb *e = krn_pe_mb(s, local, m);
    *(is_max ? &e->max : &e->red) = x[i];
    krn_tag(p, x[i], (tag){TAG_NONE, 0, 0, 0, 0}); /* a transfer's state is reused: no tag of an earlier one */
  }
  krn_tag(p, x[fab_coll_result(c)], (tag){is_max ? TAG_MAX : TAG_RESULT, 0, si, col, m});
  free(x);
  return 0;
}

int krn_stage_arm(krn_pipe *p, uint32_t si, uint32_t m, char *err, size_t errlen) {
  stage *s = &p->st[si];
  const krn_stage *k = &s->s;
  const uint32_t b = p->run.b, c = s->cols;
  /* reductions first: compute may start below, as an entry stage is armed */
  for (uint32_t j = 0; j < s->nred; j++) {
    const uint32_t nt = s->nc[j + 1] - s->nc[j];
    if (k->kind == KRN_STAGE_ATTENTION) { /* partial outputs and sums, fp32 */
      const uint32_t v = b * (nt / s->dh) * (s->dh + 1);
      if (round_of(p, si, s->red[j], j, m, v, v, FAB_SUM, false, err, errlen) != 0) return -1;
    } else { /* partial sums at acc_bytes each, 4 bytes per wavelet */
      const uint32_t v = b * nt;
      if (round_of(p, si, s->red[j], j, m, ceil_div((uint64_t)v * p->m.acc_bytes, 4), v, FAB_SUM,
                   false, err, errlen) != 0)
        return -1;
    }
  }
  for (uint32_t j = 0; s->max && j < (k->kind == KRN_STAGE_ATTENTION ? c : 1); j++) {
    const uint32_t v = k->kind == KRN_STAGE_ATTENTION ? b * ((s->nc[j + 1] - s->nc[j]) / s->dh) : 2 * b;
    if (round_of(p, si, s->max[j], j, m, v, v, k->kind == KRN_STAGE_ATTENTION ? FAB_MAX : FAB_SUM, true,
                 err, errlen) != 0)
      return -1;
  }
  /* relays: a GEMM row's, an ATTENTION column's first PE sends each piece
     on once its flow's message is in (the message carries the producer
     slot's features; the row or column takes only the piece's) */
  for (uint32_t pi = s->pc0; pi < s->pc1; pi++) {
    piece *pc = &p->pc[pi];
    const slot *sl = &s->in[pc->to_input][pc->to_slot];
    if (sl->route == FAB_NONE) continue;
    const uint32_t n = b * (pc->f1 - pc->f0);
    const fab_transfer t = {.pe = sl->pe, .out = sl->route, .n = (n + 1) / 2, .ready = FAB_LATER,
                            .values = p->run.functional ? n : 0, .own_later = p->run.functional};
    if (fab_combine(p->f, &t, &pc->relay[m % RING], err, errlen) != 0) return -1;
    krn_tag(p, pc->relay[m % RING], (tag){TAG_RELAY, (uint8_t)pc->to_input, si, pi, m});
  }
  if (s->entry) { /* the first PEs have their input now */
    for (uint32_t n = 0; k->kind == KRN_STAGE_GEMM && n < s->nin_slots[0]; n++) {
      slot *sl = &s->in[0][n];
      const uint32_t kt = sl->f1 - sl->f0;
      if (p->run.functional) { /* x[K_n] of this micro-batch's tokens */
        sl->vals[m % RING] = new_values((size_t)b * kt);
        for (uint32_t t = 0; t < b; t++)
          memcpy(&sl->vals[m % RING][(size_t)t * kt], &p->run.input[((size_t)m * b + t) * k->k + sl->f0],
                 kt * sizeof(float));
      }
      if (sl->route != FAB_NONE) { /* along the row, from its first PE */
        const fab_transfer t = {.pe = sl->pe, .out = sl->route, .n = ceil_div((uint64_t)kt * b, 2),
                                .ready = fab_now(p->f), .values = p->run.functional ? b * kt : 0,
                                .own = p->run.functional ? sl->vals[m % RING] : NULL};
        fab_xfer x;
        if (fab_combine(p->f, &t, &x, err, errlen) != 0) return -1;
        krn_tag(p, x, (tag){TAG_HOST, 0, si, n, m});
        fab_release(p->f, x); /* ready now: nothing more to tell it */
      }
    }
    krn_entry_later(p, si, m); /* the first PEs hold x, or the token ids: in now */
  }
  return 0;
}

/* ---- compute ---- */

/* The output slot's PE adds the GEMM's bias when it has one; then the output
 * is ready. Takes `values`. */
static void finish(krn_pipe *p, uint32_t si, uint32_t j, uint32_t m, uint64_t at, float *values) {
  stage *s = &p->st[si];
  const slot *o = &s->out[j];
  const uint32_t nt = o->f1 - o->f0, b = p->run.b;
  uint64_t end = max_u64(at, fab_now(p->f));
  if (s->s.bias_add && s->s.kind == KRN_STAGE_GEMM) {
    end = krn_interleave(p, s, o->local, end, krn_add_cost(&p->m, nt, b));
    for (uint32_t t = 0; values && s->s.bias && t < b; t++)
      for (uint32_t f = 0; f < nt; f++) values[(size_t)t * nt + f] += s->s.bias[o->f0 + f];
  }
  krn_output(p, si, j, m, end, values);
}

/* A partial of the column's chain (or, with one row, the output) is ready. */
static void partial_ready(krn_pipe *p, uint32_t si, uint32_t l, uint32_t m, uint64_t end, float *y) {
  stage *s = &p->st[si];
  if (s->red) {
    const fab_xfer x = krn_pe_mb(s, l, m)->red;
    if (y)
      fab_ready_values(p->f, x, end, y);
    else
      fab_ready(p->f, x, end);
    fab_release(p->f, x);
    free(y);
  } else {
    finish(p, si, s->s.kind == KRN_STAGE_EMBED ? l / s->cols : krn_band(s, l % s->cols), m, end, y);
  }
}

static void gemm(krn_pipe *p, uint32_t si, uint32_t l, uint32_t m, uint64_t start) {
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
    y = new_values((size_t)b * nt);
    for (uint32_t kk = 0; kk < kt; kk++)
      for (uint32_t n = 0; n < nt; n++) {
        if (k->mask && !wl_mask_get(k->mask, k0 + kk, n0 + n)) continue;
        const float w = k->weight[(size_t)(k0 + kk) * k->n + n0 + n];
        for (uint32_t t = 0; t < b; t++) y[(size_t)t * nt + n] += x[(size_t)t * kt + kk] * w;
      }
  }
  krn_freed(p, si, l, m, end);
  partial_ready(p, si, l, m, end, y);
}

static void embed(krn_pipe *p, uint32_t si, uint32_t l, uint32_t m, uint64_t start) {
  stage *s = &p->st[si];
  const krn_stage *k = &s->s;
  const uint32_t i = l / s->cols, j = l % s->cols, b = p->run.b;
  const uint32_t v0 = s->kc[j], v1 = s->kc[j + 1], n0 = s->nc[i], nt = s->nc[i + 1] - n0;
  /* rows hit: the tokens' ids below k, their positions' rows from k on */
  uint32_t hits = 0, pos_hits = 0;
  for (uint32_t t = 0; k->bias_add && t < b; t++) pos_hits += k->k + m * b + t >= v0 && k->k + m * b + t < v1;
  if (p->run.tokens) {
    for (uint32_t t = 0; t < b; t++) {
      const uint32_t id = p->run.tokens[(size_t)m * b + t];
      hits += id >= v0 && id < v1;
    }
  } else if (v0 < k->k) { /* uniform token ids: the expected share, rounded up */
    hits = ceil_div((uint64_t)b * ((v1 < k->k ? v1 : k->k) - v0), k->k);
  }
  const uint64_t end = krn_charge(p, s, l, start, krn_embed_cost(&p->m, v1 - v0, nt, hits + pos_hits, b));
  float *y = NULL;
  if (p->run.functional) {
    y = new_values((size_t)b * nt);
    for (uint32_t t = 0; t < b; t++) {
      const uint32_t id = p->run.tokens[(size_t)m * b + t], pos = m * b + t;
      if (id >= v0 && id < v1) memcpy(&y[(size_t)t * nt], &k->weight[(size_t)id * k->n + n0], nt * sizeof *y);
      if (k->bias_add && k->k + pos >= v0 && k->k + pos < v1)
        for (uint32_t f = 0; f < nt; f++) y[(size_t)t * nt + f] += k->bias[(size_t)pos * k->n + n0 + f];
    }
  }
  partial_ready(p, si, l, m, end, y);
}

/* Attention: the keys PE (i, j) holds are tokens t = i (mod rows); its K and
 * V cache row for token t is (t - i) / rows. */
static uint32_t keys_held(uint32_t upto, uint32_t i, uint32_t rows) { /* tokens t < upto */
  return upto > i ? (upto - 1 - i) / rows + 1 : 0;
}

static void attn_output(krn_pipe *p, uint32_t si, uint32_t j, uint32_t m, uint64_t at, const float *part) {
  stage *s = &p->st[si];
  const uint32_t b = p->run.b, nt = s->nc[j + 1] - s->nc[j], heads = nt / s->dh, dh = s->dh;
  const uint32_t local = s->out[j].local;
  const krn_cost norm = krn_attn_norm_cost(&p->m, nt, b);
  const uint64_t end = krn_interleave(p, s, local, at, norm);
  float *y = NULL;
  if (part) { /* out = sum_t P V / sum_t P */
    y = new_values((size_t)b * nt);
    for (uint32_t t = 0; t < b; t++)
      for (uint32_t h = 0; h < heads; h++) {
        const float *o = &part[((size_t)t * heads + h) * (dh + 1)];
        for (uint32_t e = 0; e < dh; e++) y[(size_t)t * nt + h * dh + e] = o[e] / o[dh];
      }
  }
  krn_output(p, si, j, m, end, y);
}

static void attn_phase2(krn_pipe *p, uint32_t si, uint32_t l, uint32_t m, uint64_t at, const float *gmax) {
  stage *s = &p->st[si];
  pe_mb *e = krn_pe_mb(s, l, m);
  const uint32_t i = l / s->cols, j = l % s->cols, b = p->run.b, rows = s->rows, dh = s->dh;
  const uint32_t nt = s->nc[j + 1] - s->nc[j], heads = nt / dh;
  const uint64_t pairs = krn_attn_pairs(b, m, i, rows);
  const uint64_t start = max_u64(max_u64(at, fab_now(p->f)), s->pe[l].core_free);
  const uint64_t end = krn_charge(p, s, l, start, krn_attn_phase(&p->m, 2, heads, dh, pairs));
  float *part = NULL;
  if (p->run.functional) { /* P = exp(S - max), its sum, and P V, per query and head */
    const uint32_t nk = keys_held((m + 1) * b, i, rows);
    part = new_values((size_t)b * heads * (dh + 1));
    for (uint32_t t = 0; t < b; t++)
      for (uint32_t h = 0; h < heads; h++) {
        float *o = &part[((size_t)t * heads + h) * (dh + 1)];
        for (uint32_t key = 0; key < nk; key++) {
          const float sc = e->scratch[((size_t)t * nk + key) * heads + h];
          if (sc == -INFINITY) continue;
          const float pr = expf(sc - gmax[(size_t)t * heads + h]);
          const float *v = &s->pe[l].kv[((size_t)key * 2 + 1) * nt + h * dh];
          for (uint32_t d = 0; d < dh; d++) o[d] += pr * v[d];
          o[dh] += pr;
        }
      }
  }
  krn_freed(p, si, l, m, end);
  if (s->red) {
    if (part)
      fab_ready_values(p->f, e->red, end, part);
    else
      fab_ready(p->f, e->red, end);
    fab_release(p->f, e->red);
    free(part);
  } else {
    attn_output(p, si, j, m, end, part);
    free(part);
  }
}

static void attention(krn_pipe *p, uint32_t si, uint32_t l, uint32_t m, uint64_t start) {
  stage *s = &p->st[si];
  pe_mb *e = krn_pe_mb(s, l, m);
  const uint32_t i = l / s->cols, j = l % s->cols, b = p->run.b, rows = s->rows, dh = s->dh;
  const uint32_t nt = s->nc[j + 1] - s->nc[j], heads = nt / dh;
  const uint64_t end = krn_charge(p, s, l, start, krn_attn_phase(&p->m, 1, heads, dh, krn_attn_pairs(b, m, i, rows)));
  float *lmax = NULL;
  if (p->run.functional) {
    pe_state *pe = &s->pe[l];
    const slot *ks = &s->in[1][j], *vs = &s->in[2][j];
    /* this micro-batch's keys and values of its tokens join the cache */
    for (uint32_t t = 0; t < b; t++) {
      const uint32_t tok = m * b + t;
      if (tok % rows != i) continue;
      const uint32_t key = (tok - i) / rows;
      memcpy(&pe->kv[((size_t)key * 2) * nt], &ks->vals[m % RING][(size_t)t * nt], nt * sizeof(float));
      memcpy(&pe->kv[((size_t)key * 2 + 1) * nt], &vs->vals[m % RING][(size_t)t * nt], nt * sizeof(float));
    }
    /* scores of its keys, causal, scaled by 1 / sqrt(dh); their max */
    const uint32_t nk = keys_held((m + 1) * b, i, rows);
    const float *q = s->in[0][j].vals[m % RING], scale = 1.0f / sqrtf((float)dh);
    e->scratch = new_values((size_t)b * nk * heads);
    lmax = new_values((size_t)b * heads);
    for (uint32_t t = 0; t < b; t++)
      for (uint32_t h = 0; h < heads; h++) {
        float mx = -INFINITY;
        for (uint32_t key = 0; key < nk; key++) {
          float sc = -INFINITY;
          if (i + key * rows <= m * b + t) {
            sc = 0.0f;
            for (uint32_t d = 0; d < dh; d++) sc += q[(size_t)t * nt + h * dh + d] * pe->kv[((size_t)key * 2) * nt + h * dh + d];
            sc *= scale;
          }
          e->scratch[((size_t)t * nk + key) * heads + h] = sc;
          if (sc > mx) mx = sc;
        }
        lmax[(size_t)t * heads + h] = mx;
      }
  }
  if (s->max) {
    if (lmax)
      fab_ready_values(p->f, e->max, end, lmax);
    else
      fab_ready(p->f, e->max, end);
    fab_release(p->f, e->max);
  } else {
    attn_phase2(p, si, l, m, end, lmax);
  }
  free(lmax);
}

static void layernorm_phase2(krn_pipe *p, uint32_t si, uint32_t l, uint32_t m, uint64_t at, const float *sums) {
  stage *s = &p->st[si];
  const krn_stage *k = &s->s;
  const uint32_t b = p->run.b, n0 = s->nc[l], nt = s->nc[l + 1] - n0;
  const uint64_t start = max_u64(max_u64(at, fab_now(p->f)), s->pe[l].core_free);
  const uint64_t end = krn_charge(p, s, l, start, krn_layernorm_phase(&p->m, 2, nt, b));
  float *y = NULL;
  if (p->run.functional) {
    const float *x = s->in[0][l].vals[m % RING];
    y = new_values((size_t)b * nt);
    for (uint32_t t = 0; t < b; t++) {
      const float mean = sums[2 * t] / (float)k->n, var = sums[2 * t + 1] / (float)k->n - mean * mean;
      const float inv = 1.0f / sqrtf(var + 1e-5f);
      for (uint32_t f = 0; f < nt; f++)
        y[(size_t)t * nt + f] = (x[(size_t)t * nt + f] - mean) * inv * k->weight[n0 + f] + k->bias[n0 + f];
    }
  }
  krn_freed(p, si, l, m, end);
  krn_output(p, si, l, m, end, y);
}

static void layernorm(krn_pipe *p, uint32_t si, uint32_t l, uint32_t m, uint64_t start) {
  stage *s = &p->st[si];
  const uint32_t b = p->run.b, nt = s->nc[l + 1] - s->nc[l];
  const uint64_t end = krn_charge(p, s, l, start, krn_layernorm_phase(&p->m, 1, nt, b));
  float *sums = NULL;
  if (p->run.functional) { /* sum and sum of squares per token, over its features */
    const float *x = s->in[0][l].vals[m % RING];
    sums = new_values(2 * (size_t)b);
    for (uint32_t t = 0; t < b; t++)
      for (uint32_t f = 0; f < nt; f++) {
        sums[2 * t] += x[(size_t)t * nt + f];
        sums[2 * t + 1] += x[(size_t)t * nt + f] * x[(size_t)t * nt + f];
      }
  }
  if (s->max) {
    const fab_xfer x = krn_pe_mb(s, l, m)->max;
    if (sums)
      fab_ready_values(p->f, x, end, sums);
    else
      fab_ready(p->f, x, end);
    fab_release(p->f, x);
  } else {
    layernorm_phase2(p, si, l, m, end, sums);
  }
  free(sums);
}

static void elementwise(krn_pipe *p, uint32_t si, uint32_t l, uint32_t m, uint64_t start) {
  stage *s = &p->st[si];
  const uint32_t b = p->run.b, nt = s->nc[l + 1] - s->nc[l];
  const bool gelu = s->s.kind == KRN_STAGE_GELU;
  const uint64_t end = krn_charge(p, s, l, start, gelu ? krn_gelu_cost(&p->m, nt, b) : krn_add_cost(&p->m, nt, b));
  float *y = NULL;
  if (p->run.functional) {
    const float *a = s->in[0][l].vals[m % RING], *c = gelu ? NULL : s->in[1][l].vals[m % RING];
    y = new_values((size_t)b * nt);
    for (size_t e = 0; e < (size_t)b * nt; e++)
      y[e] = gelu ? 0.5f * a[e] * (1.0f + tanhf(0.7978845608f * (a[e] + 0.044715f * a[e] * a[e] * a[e])))
                  : a[e] + c[e];
  }
  krn_freed(p, si, l, m, end);
  krn_output(p, si, l, m, end, y);
}

void krn_stage_compute(krn_pipe *p, uint32_t si, uint32_t local, uint32_t m, uint64_t start) {
  switch (p->st[si].s.kind) {
    case KRN_STAGE_GEMM: gemm(p, si, local, m, start); break;
    case KRN_STAGE_EMBED: embed(p, si, local, m, start); break;
    case KRN_STAGE_ATTENTION: attention(p, si, local, m, start); break;
    case KRN_STAGE_LAYERNORM: layernorm(p, si, local, m, start); break;
    default: elementwise(p, si, local, m, start); break;
  }
}

/* A column's reduction finished at its result PE. */
void krn_stage_result(krn_pipe *p, const tag *t, fab_xfer x, uint64_t cycle) {
  stage *s = &p->st[t->stage];
  const float *v = p->run.functional ? fab_values(p->f, x) : NULL;
  if (s->s.kind == KRN_STAGE_ATTENTION) {
    attn_output(p, t->stage, t->a, t->m, cycle, v);
    return;
  }
  float *copy = NULL;
  if (v) {
    const size_t n = (size_t)p->run.b * (s->nc[t->a + 1] - s->nc[t->a]);
    copy = new_values(n);
    memcpy(copy, v, n * sizeof *copy);
  }
  finish(p, t->stage, t->a, t->m, cycle, copy);
}

/* The max (ATTENTION) or the sums (LAYERNORM) of micro-batch m reached PE `local`. */
void krn_stage_max(krn_pipe *p, uint32_t si, uint32_t local, uint32_t m, fab_xfer x, uint64_t cycle) {
  const float *v = p->run.functional ? fab_values(p->f, x) : NULL;
  if (p->st[si].s.kind == KRN_STAGE_ATTENTION)
    attn_phase2(p, si, local, m, cycle, v);
  else
    layernorm_phase2(p, si, local, m, cycle, v);
}
