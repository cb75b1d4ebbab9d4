/* One head's causal attention on a whole region, simulated (see mesh_attention.h). */
#include "mesh_attention.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fabric/collective.h"
#include "kind_internal.h"

#define WINDOW 2 /* a row's steps in flight: queries and partials double-buffered */

/* Tokens t = i (mod parts) of T: row i's queries, column i's keys. */
static uint32_t stripe(uint32_t T, uint32_t parts, uint32_t i) { return i < T ? (T - 1 - i) / parts + 1 : 0; }

/* Queries of a row of nq in step `step` of b. */
static uint32_t step_queries(uint32_t nq, uint32_t b, uint32_t step) {
  const uint64_t first = (uint64_t)step * b;
  return first >= nq ? 0 : (uint32_t)(nq - first < b ? nq - first : b);
}

/* Causal pairs of row i's step `step` (its queries i + R u, u from step b)
 * with column j's keys (t = j mod C, t <= the query). */
static uint64_t step_pairs(const krn_mattn_spec *s, uint32_t i, uint32_t j, uint32_t b, uint32_t step) {
  const uint32_t n = step_queries(stripe(s->seq, s->rows, i), b, step);
  uint64_t p = 0;
  for (uint32_t u = step * b; u < step * b + n; u++) {
    const uint32_t q = i + s->rows * u;
    p += q >= j ? (q - j) / s->cols + 1 : 0;
  }
  return p;
}

/* A PE's compute for a step of n queries holding `pairs` pairs: scores, exp
 * and P x V (cost.h's two attention phases, one head), then its merge. */
static krn_cost step_cost(const krn_machine *m, uint32_t dh, uint64_t pairs, uint32_t n) {
  const krn_cost p1 = krn_attn_phase(m, 1, 1, dh, pairs), p2 = krn_attn_phase(m, 2, 1, dh, pairs);
  krn_cost c = {p1.cycles + p2.cycles + krn_attn_merge_cost(m, dh, n).cycles, p1.macs + p2.macs, 0, 0};
  return c;
}

/* Wavelets: n queries of dh features (fp16); their partials (dh outputs, max and sum, acc_bytes each);
   column j's keys and values (fp16). */
static uint64_t q_wavelets(uint32_t n, uint32_t dh) { return krn_ceil_div((uint64_t)n * dh, 2); }
static uint64_t part_wavelets(const krn_machine *m, uint32_t n, uint32_t dh) {
  return krn_ceil_div((uint64_t)n * (dh + 2) * m->acc_bytes, 4);
}
static uint64_t kv_wavelets(const krn_mattn_spec *s, uint32_t j) {
  return (uint64_t)stripe(s->seq, s->cols, j) * s->dh;
}

/* The model for one chunk b. */
static void model_chunk(const krn_machine *m, const fab_config *fc, const krn_mattn_spec *s, uint32_t b,
                        krn_mattn_model *o) {
  const uint32_t R = s->rows, C = s->cols, dh = s->dh;
  memset(o, 0, sizeof *o);
  o->chunk = b;
  o->steps = (uint32_t)krn_ceil_div(stripe(s->seq, R, 0), b);
  o->kv = R > 1 ? 2ull * fc->ramp_latency + (uint64_t)(R / 2) * fc->hop_latency + kv_wavelets(s, 0) * fc->consume_cycles
                : 0;
  o->sram_max = krn_attn_cost(m, 1, dh, 0, b, C, s->seq, 1).sram;
  o->pairs = (uint64_t)s->seq * (s->seq + 1) / 2;
  o->macs = 2 * o->pairs * dh;
  const uint64_t xw = q_wavelets(b, dh), sw = part_wavelets(m, b, dh);
  o->ramp_out = C > 1 ? krn_max_u64(xw, sw) : 0;
  const uint64_t multicast = C > 1 ? 2ull * fc->ramp_latency + (uint64_t)(C / 2) * fc->hop_latency + xw : 0;
  const uint32_t roots[2] = {C / 2, C - 1};
  for (uint32_t r = 0; r < (C > 2 ? 2u : 1u); r++) {
    krn_mattn_model t = *o;
    const uint32_t left = roots[r], right = C - 1 - roots[r], side = left > right ? left : right;
    t.root_col = roots[r];
    t.segment = C > 1 ? fab_coll_best_segment(fc, side, (uint32_t)sw) : 0;
    t.reduce = C < 2 ? "none" : t.segment < side ? "tree" : "chain";
    const uint64_t takes = C < 2 ? 0 : t.segment < side ? 2 : (left > 0) + (right > 0);
    t.ramp_in = (C > 1 ? xw : 0) + takes * sw;
    const uint64_t tree =
        C > 1 ? fab_coll_tree_cycles(fc, (fab_rect){0, 0, C, 1}, t.root_col, 0, t.segment, 0, (uint32_t)sw, 0) : 0;
    /* every row on its own, its busiest PE column 0's (the most keys at every query) or the root's (its
       keys, and it normalises) */
    for (uint32_t i = 0; i < R; i++) {
      const uint32_t nq = stripe(s->seq, R, i), steps = (uint32_t)krn_ceil_div(nq, b);
      uint64_t cycles = krn_max_u64(o->kv, multicast) - multicast, compute = 0, latency = 0;
      for (uint32_t st = 0; st < steps; st++) {
        const uint32_t n = step_queries(nq, b, st);
        const uint64_t norm = krn_attn_norm_cost(m, dh, n).cycles;
        const uint64_t c = krn_max_u64(step_cost(m, dh, step_pairs(s, i, 0, b, st), n).cycles,
                                       step_cost(m, dh, step_pairs(s, i, t.root_col, b, st), n).cycles + norm);
        latency = multicast + c + tree + norm;
        compute += c;
        if (st + 1 < steps)
          cycles += krn_max_u64(krn_max_u64(c, krn_ceil_div(latency, WINDOW)),
                                krn_max_u64(t.ramp_in * fc->consume_cycles, t.ramp_out));
      }
      cycles += latency;
      if (i == 0 || cycles > t.cycles) t.cycles = cycles, t.latency = latency;
      t.compute = krn_max_u64(t.compute, compute);
    }
    if (r == 0 || t.cycles < o->cycles) *o = t;
  }
}

static int check_shape(const krn_mattn_spec *s, char *err, size_t errlen) {
  if (s->seq == 0 || s->dh == 0 || s->rows == 0 || s->cols == 0 || s->rows > s->seq || s->cols > s->seq) {
    snprintf(err, errlen,
             "attention: %u tokens of a %u-feature head on %u x %u PEs (columns x rows): needs tokens and features "
             ">= 1 and at most as many rows and columns as tokens",
             s->seq, s->dh, s->cols, s->rows);
    return -1;
  }
  return 0;
}

int krn_mattn_plan(const krn_machine *m, const fab_config *fc, const krn_mattn_spec *s, krn_mattn_model *out,
                   char *err, size_t errlen) {
  if (check_shape(s, err, errlen) != 0) return -1;
  const uint32_t nq = stripe(s->seq, s->rows, 0);
  if (s->chunk > nq) {
    snprintf(err, errlen, "attention: a chunk of %u queries, more than the %u of a row", s->chunk, nq);
    return -1;
  }
  bool found = false;
  krn_mattn_model o;
  for (uint32_t b = s->chunk ? s->chunk : 1;; b = b > nq / 2 ? nq : 2 * b) { /* 1, 2, 4, ... and nq */
    model_chunk(m, fc, s, b, &o);
    if (krn_fits(m, o.sram_max + s->resident) && (!found || o.cycles < out->cycles)) *out = o, found = true;
    if (s->chunk || b == nq) break;
  }
  if (!found) {
    snprintf(err, errlen,
             "attention: the keys and values of %u tokens over %u columns (%u features) need more than a PE's SRAM "
             "beside %llu bytes of other ops' weights%s; more columns or more SRAM",
             s->seq, s->cols, s->dh, (unsigned long long)s->resident, s->chunk ? " at the chunk asked for" : "");
    return -1;
  }
  return 0;
}

/* ---- the simulation ---- */

typedef struct {
  const krn_machine *m;
  const krn_mattn_spec *s;
  fab_fabric *f;
  krn_mattn_model plan;
  uint32_t R, C;
  uint64_t *free_at, *busy; /* per PE: its core free from this cycle; compute cycles so far */
  uint64_t *kv_at;          /* per PE: its keys and values in from this cycle, FAB_LATER before */
  uint64_t *held_at;        /* per PE x WINDOW: query steps that came before its keys, their cycles */
  uint32_t *held_step;
  uint8_t *nheld;
  uint32_t *got;           /* per PE: query steps delivered */
  uint32_t *row_route, *col_route;
  uint8_t *is_kv;          /* per route id */
  size_t nroutes;
  fab_coll **tree;         /* per row, NULL with one column */
  fab_xfer *red;           /* [WINDOW][R x C] */
  krn_tags tag;            /* per transfer id: (step << 32) | row + 1 of a root's transfer */
  uint32_t *launched;      /* per row: steps launched */
  uint64_t *pend_at;       /* launches queued (a ring of R x WINDOW): their cycles and rows */
  uint32_t *pend_row, pend_head, npend;
  bool launching;
  uint64_t end, macs, pairs;
  int failed;
  char *err;
  size_t errlen;
} ma;

static uint32_t row_queries(const ma *g, uint32_t i) { return stripe(g->s->seq, g->R, i); }
static uint32_t row_steps(const ma *g, uint32_t i) { return (uint32_t)krn_ceil_div(row_queries(g, i), g->plan.chunk); }

static void row_done(ma *g, uint32_t i, uint32_t step, uint64_t t);

/* PE p has the queries of its row's `step` at cycle t: it computes once its
 * keys are in and its core is free. */
static void compute(ma *g, uint32_t p, uint32_t step, uint64_t t) {
  if (g->kv_at[p] == FAB_LATER) { /* before its keys: held until they come */
    const size_t h = (size_t)p * WINDOW + g->nheld[p]++;
    g->held_at[h] = t, g->held_step[h] = step;
    return;
  }
  const uint32_t i = p / g->C, j = p % g->C, b = g->plan.chunk;
  const uint64_t pairs = step_pairs(g->s, i, j, b, step);
  const krn_cost c = step_cost(g->m, g->s->dh, pairs, step_queries(row_queries(g, i), b, step));
  const uint64_t end = krn_max_u64(krn_max_u64(t, g->kv_at[p]), g->free_at[p]) + c.cycles;
  g->free_at[p] = end;
  g->busy[p] += c.cycles;
  g->macs += c.macs;
  g->pairs += pairs;
  if (g->C > 1) fab_ready(g->f, g->red[(size_t)(step % WINDOW) * g->R * g->C + p], end);
  else row_done(g, i, step, end); /* one column: the PE is its row's root */
}

/* Start row i's `step` at cycle t: its tree's round, then its queries. */
static int launch(ma *g, uint32_t i, uint32_t step, uint64_t t) {
  const uint32_t C = g->C, n = step_queries(row_queries(g, i), g->plan.chunk, step);
  fab_xfer *red = &g->red[(size_t)(step % WINDOW) * g->R * C + (size_t)i * C];
  g->launched[i] = step + 1;
  if (C > 1) {
    const fab_round r = {.n = (uint32_t)part_wavelets(g->m, n, g->s->dh), .ready = FAB_LATER, .quiet = true};
    if (fab_coll_round(g->f, g->tree[i], &r, red, g->err, g->errlen) != 0) return -1;
    if (krn_tag_set(&g->tag, red[fab_coll_result(g->tree[i])], ((uint64_t)step << 32) | (i + 1)) != 0) {
      snprintf(g->err, g->errlen, "attention: out of memory");
      return -1;
    }
    fab_xfer x;
    if (fab_send(g->f, g->row_route[i], (uint32_t)q_wavelets(n, g->s->dh), t, &x, g->err, g->errlen) != 0) return -1;
    fab_release(g->f, x);
  }
  compute(g, fab_at(C, C / 2, i), step, t); /* the source has its queries */
  return 0;
}

/* Launch the queued steps in order (a row's step s + 2 after its step s). */
static void drain(ma *g) {
  const uint32_t cap = g->R * WINDOW;
  g->launching = true;
  while (g->npend && !g->failed) {
    const uint32_t i = g->pend_row[g->pend_head];
    const uint64_t at = g->pend_at[g->pend_head];
    g->pend_head = (g->pend_head + 1) % cap;
    g->npend--;
    if (g->launched[i] < row_steps(g, i) && launch(g, i, g->launched[i], at) != 0) g->failed = 1;
  }
  g->launching = false;
}

/* Row i's partials of `step` are in at its root at cycle t: the root
 * normalises, the row's transfers are freed, its step two later starts.
 * With one column a step ends inside its own launch: the launches then run
 * from a queue, not by recursion. */
static void row_done(ma *g, uint32_t i, uint32_t step, uint64_t t) {
  const uint32_t C = g->C, root = fab_at(C, g->plan.root_col, i);
  const uint64_t norm = krn_attn_norm_cost(g->m, g->s->dh, step_queries(row_queries(g, i), g->plan.chunk, step)).cycles;
  const uint64_t end = krn_max_u64(t, g->free_at[root]) + norm;
  g->free_at[root] = end;
  g->busy[root] += norm;
  g->end = krn_max_u64(g->end, end);
  fab_xfer *red = &g->red[(size_t)(step % WINDOW) * g->R * C + (size_t)i * C];
  for (uint32_t j = 0; C > 1 && j < C; j++) fab_release(g->f, red[j]);
  const uint32_t k = (g->pend_head + g->npend++) % (g->R * WINDOW); /* a row has at most WINDOW steps out */
  g->pend_row[k] = i, g->pend_at[k] = end;
  if (!g->launching) drain(g);
}

static void on_delivery(void *ctx, fab_pe pe, uint32_t route, fab_xfer sender, uint64_t cycle) {
  (void)sender;
  ma *g = ctx;
  if (route < g->nroutes && g->is_kv[route]) {
    g->kv_at[pe] = cycle;
    const uint8_t n = g->nheld[pe];
    g->nheld[pe] = 0;
    for (uint8_t k = 0; k < n; k++) {
      const size_t h = (size_t)pe * WINDOW + k;
      compute(g, pe, g->held_step[h], g->held_at[h]);
    }
    return;
  }
  const uint32_t step = g->got[pe]++;
  compute(g, pe, step, cycle);
}

static void on_done(void *ctx, fab_xfer id, uint64_t cycle) {
  ma *g = ctx;
  const uint64_t v = krn_tag_take(&g->tag, id);
  if (!v) return;
  row_done(g, (uint32_t)(v & 0xffffffffu) - 1, (uint32_t)(v >> 32), cycle);
}

static void free_ma(ma *g) {
  for (uint32_t i = 0; g->tree && i < g->R; i++) fab_coll_destroy(g->tree[i]);
  free(g->tree);
  free(g->free_at);
  free(g->busy);
  free(g->kv_at);
  free(g->held_at);
  free(g->held_step);
  free(g->nheld);
  free(g->got);
  free(g->row_route);
  free(g->col_route);
  free(g->is_kv);
  free(g->red);
  free(g->tag.v);
  free(g->launched);
  free(g->pend_at);
  free(g->pend_row);
}

static int build(ma *g, char *err, size_t errlen) {
  const uint32_t R = g->R, C = g->C;
  const size_t pes = (size_t)R * C;
  g->free_at = calloc(pes, sizeof *g->free_at);
  g->busy = calloc(pes, sizeof *g->busy);
  g->kv_at = malloc(pes * sizeof *g->kv_at);
  g->held_at = calloc(pes * WINDOW, sizeof *g->held_at);
  g->held_step = calloc(pes * WINDOW, sizeof *g->held_step);
  g->nheld = calloc(pes, sizeof *g->nheld);
  g->got = calloc(pes, sizeof *g->got);
  g->row_route = calloc(R, sizeof *g->row_route);
  g->col_route = calloc(C, sizeof *g->col_route);
  g->tree = calloc(R, sizeof *g->tree);
  g->red = calloc(WINDOW * pes, sizeof *g->red);
  g->launched = calloc(R, sizeof *g->launched);
  g->pend_at = calloc((size_t)R * WINDOW, sizeof *g->pend_at);
  g->pend_row = calloc((size_t)R * WINDOW, sizeof *g->pend_row);
  if (!g->free_at || !g->busy || !g->kv_at || !g->held_at || !g->held_step || !g->nheld || !g->got || !g->row_route ||
      !g->col_route ||
      !g->tree || !g->red || !g->launched || !g->pend_at || !g->pend_row) {
    snprintf(err, errlen, "attention: out of memory for %u x %u PEs", C, R);
    return -1;
  }
  for (size_t p = 0; p < pes; p++) g->kv_at[p] = R > 1 && p / C != R / 2 ? FAB_LATER : 0; /* the sources have theirs */
  for (uint32_t j = 0; R > 1 && j < C; j++)
    if (fab_route_rect(g->f, fab_at(C, j, R / 2), (fab_rect){j, 0, 1, R}, &g->col_route[j], err, errlen) != 0)
      return -1;
  for (uint32_t i = 0; C > 1 && i < R; i++) {
    if (fab_route_rect(g->f, fab_at(C, C / 2, i), (fab_rect){0, i, C, 1}, &g->row_route[i], err, errlen) != 0)
      return -1;
    if (!(g->tree[i] = fab_coll_tree(g->f, (fab_rect){0, i, C, 1}, fab_at(C, g->plan.root_col, i), g->plan.segment,
                                     0, 0, err, errlen)))
      return -1;
  }
  for (uint32_t j = 0; R > 1 && j < C; j++) g->nroutes = krn_max_u64(g->nroutes, (uint64_t)g->col_route[j] + 1);
  if (R > 1 && !(g->is_kv = calloc(g->nroutes, 1))) {
    snprintf(err, errlen, "attention: out of memory");
    return -1;
  }
  for (uint32_t j = 0; R > 1 && j < C; j++) g->is_kv[g->col_route[j]] = 1;
  return 0;
}

/* Cycle 0: every column's keys and values leave its centre, every row's first steps start. */
static int start(ma *g) {
  for (uint32_t j = 0; g->R > 1 && j < g->C; j++) {
    fab_xfer x;
    if (fab_send(g->f, g->col_route[j], (uint32_t)kv_wavelets(g->s, j), 0, &x, g->err, g->errlen) != 0) return -1;
    fab_release(g->f, x);
  }
  g->launching = true; /* a step that ends at once queues its successor */
  for (uint32_t i = 0; i < g->R; i++)
    for (uint32_t s = 0; s < WINDOW && s < row_steps(g, i); s++)
      if (launch(g, i, s, 0) != 0) return -1;
  drain(g);
  return 0;
}

int krn_mattn_run(const krn_machine *m, const fab_config *fc, const krn_mattn_spec *s, krn_mattn_result *out,
                  char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  ma g = {.m = m, .s = s, .R = s->rows, .C = s->cols, .err = err, .errlen = errlen};
  if (krn_mattn_plan(m, fc, s, &g.plan, err, errlen) != 0) return -1;
  sim_engine *e;
  int rc = krn_region_open(fc, s->cols, s->rows, &e, &g.f, err, errlen);
  if (rc == 0) rc = build(&g, err, errlen);
  if (rc == 0) {
    fab_on_delivery(g.f, on_delivery, &g);
    fab_on_done(g.f, on_done, &g);
    rc = start(&g);
  }
  if (rc == 0) rc = krn_region_run(e, g.f, "attention", &g.failed, err, errlen);
  if (rc == 0) {
    const krn_region_stats st = krn_region_stats_of(e, g.f, g.busy, g.C, g.R);
    out->plan = g.plan;
    out->cycles = krn_max_u64(st.last_cycle + 1, g.end);
    out->busy_max = st.busy_max, out->busy_sum = st.busy_sum;
    out->slowest_x = st.slowest_x, out->slowest_y = st.slowest_y;
    out->pairs = g.pairs;
    out->macs = g.macs;
    out->events = st.events;
    out->wavelets_sent = st.wavelets_sent;
    out->link_wavelets = st.link_wavelets;
    out->bytes = st.bytes;
  }
  krn_region_close(e, g.f);
  free_ma(&g);
  return rc;
}
