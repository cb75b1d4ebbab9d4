/* The stages' programs (see pipeline.h), the part every kind shares: the
 * checks at set-up, its PEs' SRAM, the relays of a micro-batch's inputs,
 * and the dispatch to its kind's table (kind.h), whose file holds its cut
 * points, slots, reductions and compute. Also the helpers the kind files
 * share (kind_internal.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kind_internal.h"

float *krn_new_values(size_t n) {
  float *v = calloc(n + 1, sizeof *v);
  SIM_CHECK(v, "out of memory for %zu values", n);
  return v;
}

float *krn_copy_values(const float *v, size_t n) {
  if (!v) return NULL;
  float *c = krn_new_values(n);
  memcpy(c, v, n * sizeof *c);
  return c;
}

uint32_t *krn_cuts(const uint32_t *given, uint32_t n, uint32_t parts) {
  uint32_t *c = malloc((parts + 1) * sizeof *c);
  if (c)
    for (uint32_t i = 0; i <= parts; i++) c[i] = given ? given[i] : (uint32_t)((uint64_t)i * n / parts);
  return c;
}

bool krn_cuts_ok(const uint32_t *c, uint32_t parts, uint32_t n) {
  if (c[0] != 0 || c[parts] != n) return false;
  for (uint32_t i = 0; i < parts; i++)
    if (c[i] >= c[i + 1]) return false;
  return true;
}

slot krn_make_slot(const stage *s, uint32_t width, uint32_t i, uint32_t j, uint32_t f0, uint32_t f1) {
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

int krn_shape_error(const stage *s, const char *why, char *err, size_t errlen) {
  snprintf(err, errlen, "pipeline: stage %s (%u x %u PEs): %s", s->s.name, s->cols, s->rows, why);
  return -1;
}

int krn_stage_setup(krn_pipe *p, uint32_t si, char *err, size_t errlen) {
  stage *s = &p->st[si];
  const krn_stage *k = &s->s;
  const krn_kind_ops *o = krn_kind_of(k->kind);
  const uint32_t r = s->rows, c = s->cols;
  s->ninputs = o->inputs;
  s->elementwise = o->elementwise;
  s->entry = krn_kind_entry(k);
  s->window = 4;
  for (uint32_t in = 0; in < KRN_MAX_INPUTS; in++)
    if (k->in[in] >= 0 && krn_depth(k, in) + 2 > s->window) s->window = krn_depth(k, in) + 2;
  if (s->window > RING) s->window = RING;
  if (p->run.functional && o->has_values && !o->has_values(k, &p->run))
    return krn_shape_error(s, "functional mode needs its values (weights, table, token ids or input)", err, errlen);
  for (uint32_t i = 0; i < s->ninputs; i++) {
    const uint32_t in_features = krn_kind_in_features(k, i);
    if (k->in[i] < 0 && !(s->entry && i == 0)) return krn_shape_error(s, "an input has no producer", err, errlen);
    if (k->in[i] >= 0 && p->st[k->in[i]].s.n != in_features) {
      char why[160];
      snprintf(why, sizeof why, "input %u has %u features, it takes %u", i, p->st[k->in[i]].s.n, in_features);
      return krn_shape_error(s, why, err, errlen);
    }
  }
  /* its slots: where they are, and its cut points, routes and collectives, are its kind's */
  for (uint32_t i = 0; i < s->ninputs; i++) {
    s->nin_slots[i] = krn_slots_count(o->in, r, c);
    if (!(s->in[i] = calloc(s->nin_slots[i], sizeof *s->in[i])))
      return krn_shape_error(s, "out of memory", err, errlen);
  }
  s->nout = krn_slots_count(o->out, r, c);
  if (!(s->out = calloc(s->nout, sizeof *s->out))) return krn_shape_error(s, "out of memory", err, errlen);
  if (o->setup(p, si, err, errlen) != 0) return -1;
  /* every PE: its kernel, its SRAM, which must fit */
  s->pe = calloc((size_t)r * c, sizeof *s->pe);
  s->rings = calloc((size_t)r * c * s->window, sizeof *s->rings);
  if (!s->pe || !s->rings) return krn_shape_error(s, "out of memory", err, errlen);
  for (uint32_t l = 0; l < r * c; l++) {
    pe_state *pe = &s->pe[l];
    for (uint32_t x = 0; x < s->window; x++) krn_ring(s, l, x)->m = NO_MB;
    krn_cost cost;
    if (o->pe_setup(p, si, l, &cost, err, errlen) != 0) return -1;
    pe->sram = cost.sram;
    pe->weights = cost.weights;
    if (!krn_fits(&p->m, pe->sram)) {
      snprintf(err, errlen,
               "pipeline: stage %s: PE (%u,%u) needs %llu bytes of SRAM, the PE has %llu (knob: "
               "fabric.sram_per_pe; or give the stage more PEs)",
               k->name, krn_col_x(s, l % c), krn_row_y(s, l / c), (unsigned long long)pe->sram,
               (unsigned long long)p->m.sram);
      return -1;
    }
  }
  return 0;
}

/* ---- one micro-batch's transfers ---- */

int krn_round(krn_pipe *p, uint32_t si, fab_coll *c, uint32_t col, uint32_t m, uint32_t wavelets, uint32_t values,
              fab_op op, krn_coll_role which, char *err, size_t errlen) {
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
                        .op = op,
                        .quiet = true}; /* only the result's end matters (on_done) */
  if (fab_coll_round(p->f, c, &rd, x, err, errlen) != 0) {
    free(x);
    return -1;
  }
  const uint32_t width = fab_config_of(p->f)->width;
  for (uint32_t i = 0; i < members; i++) {
    const fab_pe pe = fab_coll_member(c, i);
    const uint32_t local = krn_local(s, pe, width);
    pe_mb *e = krn_pe_mb(s, local, m);
    *(which == KRN_COLL_MAX ? &e->max : which == KRN_COLL_ROW ? &e->row : &e->red) = x[i];
    krn_tag(p, x[i], (tag){TAG_NONE, 0, 0, 0, 0}); /* a transfer's state is reused: no tag of an earlier one */
  }
  krn_tag(p, x[fab_coll_result(c)], (tag){which == KRN_COLL_RED ? TAG_RESULT : TAG_MAX, (uint8_t)which, si, col, m});
  free(x);
  return 0;
}

int krn_arm_partials(krn_pipe *p, uint32_t si, uint32_t m, char *err, size_t errlen) {
  stage *s = &p->st[si];
  for (uint32_t j = 0; j < s->nred; j++) { /* partial sums at acc_bytes each, 4 bytes per wavelet */
    const uint32_t v = p->run.b * (s->nc[j + 1] - s->nc[j]);
    if (krn_round(p, si, s->red[j], j, m, (uint32_t)krn_ceil_div((uint64_t)v * p->m.acc_bytes, 4), v, FAB_SUM,
                  KRN_COLL_RED, err, errlen) != 0)
      return -1;
  }
  return 0;
}

int krn_stage_arm(krn_pipe *p, uint32_t si, uint32_t m, char *err, size_t errlen) {
  stage *s = &p->st[si];
  const krn_kind_ops *o = krn_kind_of(s->s.kind);
  const uint32_t b = p->run.b;
  /* reductions first: compute may start below, as an entry stage is armed */
  if (o->arm && o->arm(p, si, m, err, errlen) != 0) return -1;
  /* relays: an input slot with a route (a GEMM row's, an ATTENTION column's
     first PE) sends each piece on once its flow's message is in (the
     message carries the producer slot's features; the row or column takes
     only the piece's) */
  for (uint32_t pi = s->pc0; pi < s->pc1; pi++) {
    piece *pc = &p->pc[pi];
    const slot *sl = &s->in[pc->to_input][pc->to_slot];
    if (sl->route == FAB_NONE) continue;
    const uint32_t n = b * (pc->f1 - pc->f0);
    const fab_transfer t = {.pe = sl->pe, .out = sl->route, .n = (n + 1) / 2, .ready = FAB_LATER,
                            .values = p->run.functional ? n : 0, .own_later = p->run.functional,
                            .quiet = true}; /* its end matters to nobody (on_done) */
    if (fab_combine(p->f, &t, &pc->relay[m % RING], err, errlen) != 0) return -1;
    krn_tag(p, pc->relay[m % RING], (tag){TAG_RELAY, (uint8_t)pc->to_input, si, pi, m});
  }
  if (s->entry) { /* the first PEs have their input now */
    if (o->feed && o->feed(p, si, m, err, errlen) != 0) return -1;
    krn_entry_later(p, si, m); /* the first PEs hold x, or the token ids: in now */
  }
  return 0;
}

/* ---- compute ---- */

void krn_ready(krn_pipe *p, fab_xfer x, uint64_t end, const float *v) {
  if (v)
    fab_ready_values(p->f, x, end, v);
  else
    fab_ready(p->f, x, end);
  fab_release(p->f, x);
}

bool krn_partial(krn_pipe *p, uint32_t si, uint32_t l, uint32_t m, uint64_t end, float *y) {
  stage *s = &p->st[si];
  if (!s->red) return false;
  krn_ready(p, krn_pe_mb(s, l, m)->red, end, y);
  free(y);
  return true;
}

void krn_stage_compute(krn_pipe *p, uint32_t si, uint32_t local, uint32_t m, uint64_t start) {
  krn_kind_of(p->st[si].s.kind)->compute(p, si, local, m, start);
}

/* A column's reduction finished at its result PE. */
void krn_stage_result(krn_pipe *p, const tag *t, fab_xfer x, uint64_t cycle) {
  const float *v = p->run.functional ? fab_values(p->f, x) : NULL;
  const krn_kind_ops *o = krn_kind_of(p->st[t->stage].s.kind);
  SIM_CHECK(o->result, "stage %s: a reduction it has none of", p->st[t->stage].s.name);
  o->result(p, t->stage, t->a, t->m, v, cycle);
}

/* The all-reduce of micro-batch m (ATTENTION's max or partial scores, LAYERNORM's sums) reached PE `local`. */
void krn_stage_max(krn_pipe *p, uint32_t si, uint32_t local, uint32_t m, krn_coll_role which, fab_xfer x,
                   uint64_t cycle) {
  const float *v = p->run.functional ? fab_values(p->f, x) : NULL;
  const krn_kind_ops *o = krn_kind_of(p->st[si].s.kind);
  SIM_CHECK(o->all_reduced, "stage %s: an all-reduce it has none of", p->st[si].s.name);
  o->all_reduced(p, si, local, m, which == KRN_COLL_ROW, v, cycle);
}
