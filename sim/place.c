/* The placer's search: shelves, widths per target interval, the binary
 * search on the target, the shelf heights tried (see place.h). */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "kernels/kind.h"
#include "place_internal.h"
#include "report.h"

#define NO_FIT UINT64_MAX /* interval: the shape does not fit in SRAM */
#define T_MAX (UINT64_C(1) << 50)

const char *ws_place_limit_name(ws_place_limit l) {
  static const char *const names[] = {"none", "pes", "tile", "width", "sram", "colors"};
  return (unsigned)l < sizeof names / sizeof names[0] ? names[l] : "none";
}

/* Whether a stage's outputs leave as a row (a GEMM's, the attention's). */
static bool row_out(const krn_stage *s) { return krn_kind_of(s->kind)->row_out; }

static bool elementwise(const krn_stage *s) { return krn_kind_of(s->kind)->elementwise; }

/* Whether stage i may take cut points balanced by nonzeros. */
static bool may_balance(const ws_placement *p, uint32_t i) {
  return p->balanced && p->rows[i] && krn_kind_of(p->st[i].stage.kind)->picks_kernel;
}

int ws_place_estimate(const ws_placement *p, uint32_t i, fab_rect region, uint32_t *kc, uint32_t *nc,
                      krn_estimate *est, krn_estimate *uniform, char *err, size_t errlen) {
  krn_stage s = p->st[i].stage;
  s.region = region;
  s.k_cut = s.n_cut = NULL;
  if (krn_estimate_stage(&p->m, &p->fc, &s, p->b, p->seq, p->st[i].consumers, uniform, err, errlen) != 0) return -1;
  *est = *uniform;
  if (!may_balance(p, i)) return 0;
  /* K is cut evenly after a column of features (layernorm, GELU): the
     GEMM's rows then take the features of the rows beside them, and the
     flows run straight along the rows (uneven K cuts there make them cross
     and the layout fail to route); after a row of outputs (the attention's)
     it is balanced too */
  const int in = s.in[0];
  if (in >= 0 && row_out(&p->st[in].stage))
    wl_cuts_balanced(p->rows[i], s.k, region.h, kc);
  else
    wl_cuts_even(s.k, region.h, kc);
  wl_cuts_balanced(p->cols[i], s.n, region.w, nc);
  s.k_cut = kc;
  s.n_cut = nc;
  krn_estimate bal;
  if (krn_estimate_stage(&p->m, &p->fc, &s, p->b, p->seq, p->st[i].consumers, &bal, err, errlen) != 0) return -1;
  if (bal.nnz_max >= uniform->nnz_max) return 0;
  *est = bal;
  return 1;
}

/* What the search knows of a full-height stage's interval on c columns:
 * nothing yet, bounds on it (krn_estimate_bounds), the interval, or that
 * the stage cannot take the shape or does not fit in SRAM. */
typedef enum { SHAPE_UNKNOWN, SHAPE_BOUNDED, SHAPE_EXACT, SHAPE_NO_FIT } shape_state;
typedef struct {
  uint64_t lo, hi; /* bounds on the interval (equal when exact) */
  bool fits;       /* bounded: it surely fits */
  uint8_t state;   /* shape_state */
} shape_memo;

/* One layout attempt's state for shelves of h rows. */
typedef struct {
  ws_placement *p;
  uint32_t h;
  shape_memo *memo; /* per stage x (W + 1): of h x c */
  uint32_t *kc, *nc; /* scratch cut points */
  fab_rect *region; /* per stage, of the last layout */
  uint32_t shelves_used;
  uint32_t colors; /* per router */
  ws_place_limit fail; /* why the last layout did not fit (WS_LIMIT_NONE if it did) */
  uint32_t fail_stage; /* the stage it stopped at */
} search;

/* Stage i's interval on r x c PEs, NO_FIT if a PE does not fit in SRAM or
 * the shape is one the stage cannot take. */
static uint64_t interval(search *S, uint32_t i, uint32_t r, uint32_t c) {
  krn_estimate e, u;
  char err[256];
  if (ws_place_estimate(S->p, i, (fab_rect){0, 0, c, r}, S->kc, S->nc, &e, &u, err, sizeof err) < 0 || !e.fits)
    return NO_FIT;
  return e.interval;
}

/* Rows a full-height stage takes: the shelf's (a GEMM at most k, an embedding at most n). */
static uint32_t rows_of(const search *S, uint32_t i) {
  const krn_stage *s = &S->p->st[i].stage;
  const uint32_t lim = krn_kind_of(s->kind)->max_rows(s);
  return lim < S->h ? lim : S->h;
}

static uint32_t max_cols(const search *S, uint32_t i) {
  const krn_stage *s = &S->p->st[i].stage;
  const uint32_t lim = krn_kind_of(s->kind)->max_cols(s);
  return lim < S->p->W ? lim : S->p->W;
}

/* ---- routes per slot ----
 * A producer's output slot sends each consumer input it overlaps one flow,
 * a message on one route (a tree to the slots it overlaps); a consumer's
 * input slot takes one flow from every producer slot it overlaps. With even
 * cut points, s slots feeding t slots put at most ceil(s / t) + 1 flows on
 * one of the t (counted exactly from the cut points below). A slot's router
 * must hold its flows in and out, the region's own routes at that PE (a GEMM
 * row's relay and chain hops: 3; attention's output PE: three relays
 * passing, both sides of two reductions and a multicast: 8; layernorm's
 * all-reduce: 4) and a margin of 4 for routes passing by. The routes built
 * at the end are the check. */

static uint32_t in_slots(const krn_stage *s, uint32_t r, uint32_t c) {
  return krn_slots_count(krn_kind_of(s->kind)->in, r, c);
}
static uint32_t out_slots(const krn_stage *s, uint32_t r, uint32_t c) {
  return krn_slots_count(krn_kind_of(s->kind)->out, r, c);
}

/* One side's slots over f features: where slot j starts (krn_kind_slot_start:
 * j f / slots, or attention's whole heads), its kind's table looked up once. */
typedef struct {
  const krn_stage *s;
  uint64_t (*start)(const krn_stage *s, uint32_t f, uint32_t slots, uint32_t j); /* NULL: even */
  uint32_t f, slots;
} slot_cuts;
static slot_cuts slots_of(const krn_stage *s, uint32_t f, uint32_t slots) {
  return (slot_cuts){s, krn_kind_of(s->kind)->slot_start, f, slots};
}
static uint64_t slot_start(const slot_cuts *sc, uint32_t j) {
  return sc->start ? sc->start(sc->s, sc->f, sc->slots, j) : (uint64_t)j * sc->f / sc->slots;
}

/* The most flows one of consumer cons's t input slots takes from producer
 * prod's s output slots over f features: one per producer slot it overlaps. */
static uint32_t fan_in(const krn_stage *prod, uint32_t s, const krn_stage *cons, uint32_t t, uint32_t f) {
  if (s == 0 || t == 0) return 0;
  const slot_cuts ps = slots_of(prod, f, s), cs = slots_of(cons, f, t);
  uint32_t most = 0, k = 0;
  uint64_t hi = slot_start(&cs, 0), next = s > 1 ? slot_start(&ps, 1) : 0; /* next: where slot k + 1 starts */
  for (uint32_t j = 0; j < t; j++) {
    const uint64_t lo = hi;
    hi = slot_start(&cs, j + 1);
    if (lo >= hi) continue;
    while (k + 1 < s && next <= lo) k++, next = k + 1 < s ? slot_start(&ps, k + 1) : 0;
    uint32_t n = 0;
    for (uint64_t q = k, at = slot_start(&ps, k); q < s && at < hi; q++) { /* at: where slot q starts */
      const uint64_t end = slot_start(&ps, (uint32_t)q + 1);
      n += end > lo;
      at = end;
    }
    most = n > most ? n : most;
  }
  return most;
}

/* Colors a slot's router has for flows, after its region's own routes and
 * the margin. */
static uint32_t flow_budget(const search *S, const krn_stage *s, bool in) {
  const uint32_t own = in ? krn_kind_of(s->kind)->routes_in : krn_kind_of(s->kind)->routes_out;
  return S->colors > own + 4 ? S->colors - own - 4 : 1;
}

/* Stage q's shape: its region in the layout so far, or for i the candidate. */
static void shape_of(const search *S, uint32_t q, uint32_t i, uint32_t r, uint32_t c, uint32_t *qr, uint32_t *qc) {
  *qr = q == i ? r : S->region[q].h;
  *qc = q == i ? c : S->region[q].w;
}

/* Flows into one input slot of stage q (its producers placed): summed over
 * its inputs where they meet at one PE (element-wise), the most of one input
 * where each has its own (attention's ports; a GEMM has one). */
static uint32_t flows_in(const search *S, uint32_t q, uint32_t i, uint32_t r, uint32_t c) {
  const ws_placement *p = S->p;
  const krn_stage *qs = &p->st[q].stage;
  uint32_t qr, qc, n = 0;
  shape_of(S, q, i, r, c, &qr, &qc);
  for (uint32_t k = 0; k < KRN_MAX_INPUTS; k++) {
    const int pr = qs->in[k];
    if (pr < 0) continue;
    uint32_t pr_r, pr_c;
    shape_of(S, (uint32_t)pr, i, r, c, &pr_r, &pr_c);
    const krn_stage *ps = &p->st[pr].stage;
    const uint32_t f = fan_in(ps, out_slots(ps, pr_r, pr_c), qs, in_slots(qs, qr, qc), ps->n);
    n = elementwise(qs) ? n + f : (f > n ? f : n);
  }
  return n;
}

/* Whether stage q's slots stay within their budgets. */
static bool slots_ok(const search *S, uint32_t q, uint32_t i, uint32_t r, uint32_t c) {
  const krn_stage *s = &S->p->st[q].stage;
  const uint32_t in = flows_in(S, q, i, r, c), out = S->p->st[q].consumers; /* a flow per consumer input */
  if (elementwise(s)) return in + out <= flow_budget(S, s, true);
  return in <= flow_budget(S, s, true) && out <= flow_budget(S, s, false);
}

/* Whether stage i on r x c keeps its own slots and its producers' within
 * their budgets. */
static bool fans_ok(const search *S, uint32_t i, uint32_t r, uint32_t c) {
  if (!slots_ok(S, i, i, r, c)) return false;
  for (uint32_t k = 0; k < KRN_MAX_INPUTS; k++) {
    const int pr = S->p->st[i].stage.in[k];
    if (pr >= 0 && !slots_ok(S, (uint32_t)pr, i, r, c)) return false;
  }
  return true;
}

/* Bounds on stage i's interval on r x c PEs into m: those of its estimate
 * (krn_estimate_bounds), or none where it may take balanced cut points;
 * NO_FIT where the estimate fails or surely does not fit. */
static void bound(search *S, uint32_t i, uint32_t r, uint32_t c, shape_memo *m) {
  const ws_placement *p = S->p;
  krn_stage s = p->st[i].stage;
  s.region = (fab_rect){0, 0, c, r};
  s.k_cut = s.n_cut = NULL;
  krn_estimate lo, hi;
  char err[256];
  if (krn_estimate_bounds(&p->m, &p->fc, &s, p->b, p->seq, p->st[i].consumers, &lo, &hi, err, sizeof err) != 0)
    *m = (shape_memo){.state = SHAPE_NO_FIT};
  else if (may_balance(p, i)) /* the bounds are the uniform cut points' */
    *m = (shape_memo){.lo = 0, .hi = UINT64_MAX, .fits = false, .state = SHAPE_BOUNDED};
  else if (!lo.fits)
    *m = (shape_memo){.state = SHAPE_NO_FIT};
  else
    *m = (shape_memo){.lo = lo.interval, .hi = hi.interval, .fits = hi.fits, .state = SHAPE_BOUNDED};
}

/* Whether m tells that its shape meets T (its interval at most T, in
 * SRAM): 1, 0, or -1 when it does not tell. */
static int told(const shape_memo *m, uint64_t T) {
  switch (m->state) {
  case SHAPE_EXACT: return m->lo <= T;
  case SHAPE_NO_FIT: return 0;
  case SHAPE_BOUNDED: return m->lo > T ? 0 : m->fits && m->hi <= T ? 1 : -1;
  default: return -1;
  }
}

/* Whether stage i on r x c PEs meets T, from what m knows, bounding it
 * first and estimating only when its bounds do not tell. */
static bool meets(search *S, uint32_t i, uint32_t r, uint32_t c, shape_memo *m, uint64_t T) {
  if (m->state == SHAPE_UNKNOWN) bound(S, i, r, c, m);
  const int t = told(m, T);
  if (t >= 0) return t;
  const uint64_t v = interval(S, i, r, c);
  *m = v == NO_FIT ? (shape_memo){.state = SHAPE_NO_FIT} : (shape_memo){v, v, true, SHAPE_EXACT};
  return told(m, T);
}

/* Whether full-height stage i on c columns keeps its fans within bounds
 * and meets T (what the memo tells first: it is cheaper than the fans). */
static bool full_ok(search *S, uint32_t i, uint32_t c, uint64_t T) {
  shape_memo *m = &S->memo[(size_t)i * (S->p->W + 1) + c];
  if (told(m, T) == 0) return false;
  if (!fans_ok(S, i, rows_of(S, i), c)) return false;
  return meets(S, i, rows_of(S, i), c, m, T);
}

/* Why full-height stage i cannot meet T even on its most columns c (its
 * kind's limit or the mesh's width): its routes, its SRAM, or its interval
 * at that width (the smallest useful tile if the kind stopped it, else the
 * mesh's width). */
static ws_place_limit why_not(search *S, uint32_t i, uint32_t c) {
  if (!fans_ok(S, i, rows_of(S, i), c)) return WS_LIMIT_COLORS;
  const shape_memo *m = &S->memo[(size_t)i * (S->p->W + 1) + c];
  if (m->state == SHAPE_NO_FIT) return WS_LIMIT_SRAM;
  const krn_stage *s = &S->p->st[i].stage;
  return krn_kind_of(s->kind)->max_cols(s) <= S->p->W ? WS_LIMIT_TILE : WS_LIMIT_WIDTH;
}

/* Fewest columns for full-height stage i to meet T; 0 if none does. */
static uint32_t width_for(search *S, uint32_t i, uint64_t T) {
  uint32_t hi = max_cols(S, i), lo = 0; /* lo fails, hi passes */
  if (!full_ok(S, i, hi, T)) {
    S->fail = why_not(S, i, hi);
    return 0;
  }
  while (hi - lo > 1) {
    const uint32_t mid = lo + (hi - lo) / 2;
    if (full_ok(S, i, mid, T)) hi = mid;
    else lo = mid;
  }
  return hi;
}

/* The next slot of width w: on the current shelf if it has room, else the
 * next one, running the other way. false when the shelves run out. */
static bool take(search *S, uint32_t w, uint32_t *shelf, uint32_t *cursor, uint32_t *x, uint32_t *y) {
  const uint32_t W = S->p->W;
  if (w > W) return false;
  if (*cursor + w > W) {
    (*shelf)++;
    *cursor = 0;
  }
  if ((uint64_t)(*shelf + 1) * S->h > S->p->H) return false;
  *x = *shelf % 2 == 0 ? *cursor : W - *cursor - w;
  *y = *shelf * S->h;
  *cursor += w;
  return true;
}

/* The shape of element-wise stage i for T: the fewest columns, with as many
 * rows of the shelf (more slots: fewer pieces from a wide producer, less work
 * a PE) as keep the fans within bounds; false if none. */
static bool elementwise_shape(search *S, uint32_t i, uint64_t T, uint32_t *r, uint32_t *c) {
  const krn_stage *s = &S->p->st[i].stage;
  bool routed = false, fit = false; /* some shape kept its fans within bounds; some fit in SRAM */
  for (*c = 1; *c <= S->p->W && *c <= s->n; (*c)++)
    for (*r = S->h < s->n / *c ? S->h : s->n / *c; *r > 0; (*r)--) {
      if (!fans_ok(S, i, *r, *c)) continue;
      routed = true;
      const uint64_t v = interval(S, i, *r, *c);
      fit |= v != NO_FIT;
      if (v != NO_FIT && v <= T) return true;
      break; /* fewer rows only get slower */
    }
  S->fail = !routed ? WS_LIMIT_COLORS : !fit ? WS_LIMIT_SRAM : s->n <= S->p->W ? WS_LIMIT_TILE : WS_LIMIT_WIDTH;
  return false;
}

/* Whether a shelf may end before stage i: before GELU. Its input comes down
 * as a row of outputs (FFN-up's), which GELU takes with its column flipped
 * (see orient) without two routes crossing; and the residual stream, which
 * crosses every turn, crosses this one between the FFN's two ends, whose
 * regions leave the nested U's room beside them (at a turn before the
 * attention's output projection there would be room only for that
 * projection's width). Elsewhere a column of outputs would come down to a
 * column of inputs beside it. The layout moves the stages from the last
 * such point on to the next shelf. */
static bool turn_ok(const search *S, uint32_t i) {
  return i == 0 || krn_kind_of(S->p->st[i].stage.kind)->turn_before;
}

/* Stage i's rows and columns for T; false if none meets it. */
static bool shape(search *S, uint32_t i, uint64_t T, uint32_t *r, uint32_t *c) {
  if (elementwise(&S->p->st[i].stage)) return elementwise_shape(S, i, T, r, c);
  *r = rows_of(S, i);
  return (*c = width_for(S, i, T)) != 0;
}

/* Lay every stage out for target interval T; false if the mesh is too small. */
static bool layout(search *S, uint64_t T) {
  uint32_t shelf = 0, cursor = 0, x, y, r, c;
  uint32_t mark = 0, mark_cursor = 0; /* the last stage a shelf may end before, and where it went */
  S->fail = WS_LIMIT_NONE;
  for (uint32_t i = 0; i < S->p->n; i++) {
    S->fail_stage = i;
    if (turn_ok(S, i)) mark = i, mark_cursor = cursor;
    if (!shape(S, i, T, &r, &c)) return false;
    if (cursor + c > S->p->W && i != mark) { /* the stages from mark on go to the next shelf */
      if (mark_cursor == 0) return S->fail = WS_LIMIT_WIDTH, false; /* they are wider than a shelf */
      shelf++, cursor = mark_cursor = 0, i = mark;
      S->fail_stage = i;
      if (!shape(S, i, T, &r, &c)) return false;
    }
    if (!take(S, c, &shelf, &cursor, &x, &y)) return S->fail = WS_LIMIT_PES, false; /* the shelves ran out */
    S->region[i] = (fab_rect){x, y, c, r};
  }
  S->shelves_used = shelf + 1;
  return true;
}

/* The smallest target interval whose layout fits, for shelves of h rows;
 * 0 if none up to T_MAX. The layout is left in S->region. */
static uint64_t best_interval(search *S) {
  if (!layout(S, T_MAX)) return 0; /* not even at any interval: every stage at its fewest PEs */
  ws_place_limit fail = WS_LIMIT_NONE; /* why lo's layout failed: what stops a lower interval */
  uint32_t fail_stage = 0;
  uint64_t hi = 1024;
  while (hi < T_MAX && !layout(S, hi)) fail = S->fail, fail_stage = S->fail_stage, hi *= 2;
  if (hi >= T_MAX) return 0;
  uint64_t lo = hi / 2; /* fails (or is below every stage's floor) */
  if (hi == 1024 && !layout(S, lo)) fail = S->fail, fail_stage = S->fail_stage; /* lo not tried yet */
  while (hi - lo > 1 && hi - lo > hi / 2000) {
    const uint64_t mid = lo + (hi - lo) / 2;
    if (layout(S, mid)) hi = mid;
    else lo = mid, fail = S->fail, fail_stage = S->fail_stage;
  }
  layout(S, hi);
  S->fail = fail;
  S->fail_stage = fail_stage;
  return hi;
}

/* The stages' orientation on shelves of h rows, so that no two routes
 * between consecutive stages cross (two crossing routes need two colors on
 * the router where they cross; a bundle of routes all crossing one another,
 * as many colors as routes). On a westward shelf a stage is mirrored, so
 * data flows west as it does east. Columns of features (element-wise
 * stages, the embedding's outputs) run down on even shelves and up on odd
 * ones (flip): the serpentine turns a shelf's rows upside down, and the
 * residual stream, which crosses every turn, then runs into the next shelf
 * as nested U's. A GEMM takes its rows in the order of its input column,
 * or flipped where a row of outputs comes down from the shelf above; it
 * lays its N bands out (nrev) in the order its column of consumers takes
 * them, reversed across a turn. Attention and its projections keep heads
 * in order. */

static void orient(ws_placement *p, uint32_t h) {
  for (uint32_t i = 0; i < p->n; i++) {
    krn_stage *s = &p->st[i].stage;
    const uint32_t shelf = s->region.y / h;
    s->mirror = shelf % 2 == 1;
    s->flip = s->nrev = false;
    if (krn_kind_of(s->kind)->col_out) s->flip = shelf % 2 == 1;
  }
  for (uint32_t i = 0; i < p->n; i++) {
    krn_stage *s = &p->st[i].stage;
    if (!krn_kind_of(s->kind)->banded) continue;
    const uint32_t shelf = s->region.y / h;
    if (s->in[0] >= 0) {
      const krn_stage *pr = &p->st[s->in[0]].stage;
      s->flip = row_out(pr) ? pr->nrev != (pr->region.y / h != shelf) : pr->flip;
    }
    for (uint32_t t = i + 1; t < p->n; t++) /* its first column of consumers */
      for (uint32_t k = 0; k < KRN_MAX_INPUTS; k++) {
        const krn_stage *c = &p->st[t].stage;
        if (c->in[k] != (int)i || row_out(c) || s->nrev) continue;
        s->nrev = c->flip != (c->region.y / h != shelf);
      }
  }
}

/* What stops every layout on shelves of S->h rows, at any interval, in words into buf. */
static void why_no_layout(search *S, char *buf, size_t len) {
  memset(S->memo, 0, (size_t)S->p->n * (S->p->W + 1) * sizeof *S->memo);
  layout(S, T_MAX);
  const char *stage = S->p->st[S->fail_stage].stage.name;
  switch (S->fail) {
  case WS_LIMIT_SRAM: snprintf(buf, len, "stage %s does not fit in SRAM", stage); break;
  case WS_LIMIT_COLORS: snprintf(buf, len, "the routes of stage %s exceed fabric.colors", stage); break;
  case WS_LIMIT_WIDTH:
    snprintf(buf, len, "the stages up to %s need more than the mesh's %u columns on one shelf", stage, S->p->W);
    break;
  default: snprintf(buf, len, "the stages need more shelves than the mesh has"); break;
  }
}

/* Why no layout fits at all (the weights would fit in the mesh's SRAM): an
 * op whose busiest PE does not fit even on a region of the mesh's full
 * height and widest width; a color budget too small for the flows (a layout
 * fits with FAB_COLORS_MAX); or, per shelf height tried, what stops its
 * layout (the heights with the same reason grouped). S has memo and scratch
 * for its tallest shelf. */
static void explain(search *S, const uint32_t *heights, uint32_t nh, char *err, size_t errlen) {
  const ws_placement *p = S->p;
  const uint32_t colors = S->colors;
  S->colors = FAB_COLORS_MAX;
  const bool more_colors = S->memo && best_interval(S) != 0; /* no memo: out of memory, not asked */
  S->colors = colors;
  if (more_colors) {
    snprintf(err, errlen,
             "place: no layout keeps every router within fabric.colors = %u (a router needs colors for its region's "
             "own routes, the flows it sends and takes, and routes passing by); with %u one fits",
             colors, FAB_COLORS_MAX);
    return;
  }
  for (uint32_t i = 0; i < p->n; i++) {
    const krn_stage *s = &p->st[i].stage;
    if (elementwise(s)) continue;
    krn_stage wide = *s;
    wide.region = (fab_rect){0, 0, max_cols(S, i), rows_of(S, i)};
    krn_estimate e;
    char why[256];
    if (krn_estimate_stage(&p->m, &p->fc, &wide, p->b, p->seq, p->st[i].consumers, &e, why, sizeof why) == 0 &&
        !e.fits) {
      snprintf(err, errlen,
               "place: stage %s does not fit: even on %u x %u PEs its fullest PE needs %llu bytes of SRAM, a PE has "
               "%llu (fabric.sram_per_pe; or a smaller workload.micro_batch or workload.batch)",
               s->name, wide.region.w, wide.region.h, (unsigned long long)e.sram, (unsigned long long)p->m.sram);
      return;
    }
  }
  int n = snprintf(err, errlen, "place: the %u x %u mesh is too small for the %u stages of %s %s at any interval",
                   p->W, p->H, p->n, mdl_family(mdl_graph_model(p->g)), mdl_graph_model(p->g)->name);
  char why[16][256]; /* per height tried (at most 16), once */
  for (uint32_t k = 0; S->memo && k < nh; k++) {
    S->h = heights[k];
    why_no_layout(S, why[k], sizeof why[k]);
  }
  for (uint32_t k = 0; S->memo && k < nh && n >= 0 && (size_t)n < errlen;) { /* a group of heights with one reason */
    uint32_t last = k;
    while (last + 1 < nh && strcmp(why[last + 1], why[k]) == 0) last++;
    if (last == k)
      n += snprintf(err + n, errlen - (size_t)n, "%s shelves of %u rows: %s", k ? ";" : ":", heights[k], why[k]);
    else
      n += snprintf(err + n, errlen - (size_t)n, "%s shelves of %u to %u rows: %s", k ? ";" : ":", heights[k],
                    heights[last], why[k]);
    k = last + 1;
  }
  if (n >= 0 && (size_t)n < errlen)
    snprintf(err + n, errlen - (size_t)n,
             " (placer.shelf_height; a larger mesh, more SRAM, a smaller workload.micro_batch or workload.batch)");
}

int ws_place_check(const ws_config *cfg, ws_work work, uint64_t copies, char *err, size_t errlen) {
  mdl_graph *g = mdl_graph_build(&cfg->model, cfg->workload.seq_len, err, errlen);
  if (!g) return -1;
  wl_sparsity sp;
  krn_machine m;
  ws_config_sparsity(cfg, &sp);
  ws_config_machine(cfg, &m);
  int rc = ws_input_weights_fit(g, &sp, &m, (uint32_t)cfg->fabric.width, (uint32_t)cfg->fabric.height, err, errlen);
  mdl_graph_destroy(g);
  if (rc == 0) rc = ws_bounds_memory_check(cfg, work, copies, ws_bounds_budget(), err, errlen);
  return rc;
}

/* The model, masks and stages of the run input. */
static int prepare(ws_placement *p, const ws_input *in, char *err, size_t errlen) {
  const ws_config *cfg = in->cfg;
  p->in = in;
  p->m = in->m;
  p->fc = in->fc;
  p->fc.fidelity = FAB_TRAIN;
  p->W = p->fc.width;
  p->H = p->fc.height;
  p->b = in->micro_batch;
  p->seq = in->keys;
  p->clock = in->clock;
  p->balanced = cfg->placer.tiling == WS_TILING_BALANCED;
  p->g = in->g;
  p->w = in->w;
  const krn_lowered *low = &in->low;
  p->n = low->n;
  p->st = calloc(p->n, sizeof *p->st);
  p->rows = calloc(p->n, sizeof *p->rows);
  p->cols = calloc(p->n, sizeof *p->cols);
  p->kc = calloc(p->n, sizeof *p->kc);
  p->nc = calloc(p->n, sizeof *p->nc);
  if (!p->st || !p->rows || !p->cols || !p->kc || !p->nc) {
    snprintf(err, errlen, "place: out of memory");
    return -1;
  }
  for (uint32_t i = 0; i < p->n; i++) {
    ws_placed *st = &p->st[i];
    const mdl_op *op = mdl_graph_op(p->g, low->first_op[i]);
    st->stage = low->stages[i];
    st->layer = op->layer;
    st->kind = ws_input_stage_kind(in, i);
    st->stage.kernel = (krn_kernel)cfg->kernels.kernel;
    st->stage.mask = wl_weights_mask(p->w, low->first_op[i]);
    if (st->stage.mask && wl_mask_nnz(st->stage.mask) == (uint64_t)st->stage.k * st->stage.n)
      st->stage.mask = NULL; /* every weight kept: dense, and no tile to count */
    for (uint32_t k = 0; k < KRN_MAX_INPUTS; k++)
      if (st->stage.in[k] >= 0) p->st[st->stage.in[k]].consumers++;
    const wl_mask *m = st->stage.mask;
    if (m && p->balanced) {
      p->rows[i] = malloc(wl_mask_rows(m) * sizeof **p->rows);
      p->cols[i] = malloc(wl_mask_cols(m) * sizeof **p->cols);
      if (!p->rows[i] || !p->cols[i]) {
        snprintf(err, errlen, "place: out of memory");
        return -1;
      }
      wl_mask_row_counts(m, p->rows[i]);
      wl_mask_col_counts(m, p->cols[i]);
    }
  }
  return 0;
}

/* Shelf heights first, first + 2, ... of heights: each one's best interval,
 * PEs, shelves and layout into the shared arrays at its index. */
typedef struct {
  ws_placement *p;
  const uint32_t *heights;
  uint32_t nh, first;
  uint64_t *t_of, *pes_of;
  uint32_t *shelves_of;
  ws_place_limit *limit_of; /* what stops each height's interval, and at which stage */
  uint32_t *limit_stage_of;
  fab_rect *lay; /* nh x stages */
  bool ok;       /* false: out of memory */
} heights_job;

/* A search's memo and scratch for shelves of h rows; false on out of memory. */
static bool search_init(search *S, ws_placement *p, uint32_t h) {
  *S = (search){.p = p, .h = h, .colors = p->fc.colors};
  S->memo = calloc((size_t)p->n * (p->W + 1), sizeof *S->memo);
  S->kc = malloc(((size_t)p->H + 1) * sizeof *S->kc);
  S->nc = malloc(((size_t)p->W + 1) * sizeof *S->nc);
  S->region = calloc(p->n, sizeof *S->region);
  return S->memo && S->kc && S->nc && S->region;
}
static void search_free(search *S) {
  free(S->memo);
  free(S->kc);
  free(S->nc);
  free(S->region);
}

static void *search_heights(void *arg) {
  heights_job *j = arg;
  ws_placement *p = j->p;
  search S;
  j->ok = search_init(&S, p, 0);
  for (uint32_t k = j->first; j->ok && k < j->nh; k += 2) {
    S.h = j->heights[k];
    memset(S.memo, 0, (size_t)p->n * (p->W + 1) * sizeof *S.memo);
    if ((j->t_of[k] = best_interval(&S)) == 0) continue;
    for (uint32_t i = 0; i < p->n; i++) j->pes_of[k] += (uint64_t)S.region[i].w * S.region[i].h;
    j->shelves_of[k] = S.shelves_used;
    j->limit_of[k] = S.fail;
    j->limit_stage_of[k] = S.fail_stage;
    memcpy(&j->lay[(size_t)k * p->n], S.region, p->n * sizeof *j->lay);
  }
  search_free(&S);
  return NULL;
}

ws_placement *ws_place(const ws_config *cfg, char *err, size_t errlen) {
  const double t0 = ws_report_wall_s();
  ws_placement *p = calloc(1, sizeof *p);
  if (!p) {
    snprintf(err, errlen, "place: out of memory");
    return NULL;
  }
  if (ws_input_create(&p->own, cfg, err, errlen) != 0 || ws_input_masks(&p->own, WS_WORK_PLACE, err, errlen) != 0) {
    ws_placement_destroy(p);
    return NULL;
  }
  ws_placement *q = ws_place_choose(&p->own, err, errlen);
  if (q) {
    q->own = p->own;
    q->in = &q->own;
    q->tot.wall_s = ws_report_wall_s() - t0;
  } else {
    ws_input_destroy(&p->own);
  }
  free(p);
  return q;
}

uint64_t ws_place_estimated_cycles(const ws_place_totals *t, uint32_t micro_batches) {
  return t->fill_latency + (uint64_t)(micro_batches > 0 ? micro_batches - 1 : 0) * t->stage_max;
}

ws_placement *ws_place_choose(ws_input *in, char *err, size_t errlen) {
  if (in->micro_batch > 0) return ws_place_input(in, err, errlen);
  ws_placement *best = NULL;
  uint32_t best_b = 0;
  uint64_t best_cycles = 0;
  char why[1024] = "", msg[1024]; /* why: the smallest b's failure */
  for (uint32_t b = 1; b <= WS_AUTO_MICRO_BATCH_MAX && b <= in->keys; b++) {
    if (in->keys % b != 0) continue;
    in->micro_batch = b;
    in->micro_batches = in->tokens / b;
    ws_placement *p = ws_place_input(in, msg, sizeof msg);
    if (p && !p->tot.routes_ok) ws_placement_routed(p, msg, sizeof msg);
    if (!p || !p->tot.routes_ok) {
      if (!why[0]) snprintf(why, sizeof why, "%s", msg);
      ws_placement_destroy(p);
      continue;
    }
    const uint64_t cycles = ws_place_estimated_cycles(&p->tot, in->micro_batches);
    if (best && cycles > best_cycles) {
      ws_placement_destroy(p);
      continue;
    }
    ws_placement_destroy(best);
    best = p, best_b = b, best_cycles = cycles;
  }
  if (!best) {
    snprintf(err, errlen, "%s (workload.micro_batch: auto: no micro-batch size up to %u places)", why,
             WS_AUTO_MICRO_BATCH_MAX);
    in->micro_batch = 0;
    return NULL;
  }
  in->micro_batch = best_b;
  in->micro_batches = in->tokens / best_b;
  return best;
}

ws_placement *ws_place_input(const ws_input *in, char *err, size_t errlen) {
  const ws_config *cfg = in->cfg;
  const double t0 = ws_report_wall_s();
  ws_placement *p = calloc(1, sizeof *p);
  if (!p) {
    snprintf(err, errlen, "place: out of memory");
    return NULL;
  }
  if (prepare(p, in, err, errlen) != 0) {
    ws_placement_destroy(p);
    return NULL;
  }
  /* shelf heights: the configured one, or H / k for k = 1..16 (at least 8 rows) */
  uint32_t heights[16], nh = 0;
  if (cfg->placer.shelf_height > 0) {
    heights[nh++] = (uint32_t)cfg->placer.shelf_height < p->H ? (uint32_t)cfg->placer.shelf_height : p->H;
  } else {
    for (uint32_t k = 1; k <= 16; k++)
      if (p->H / k >= 8 && (nh == 0 || heights[nh - 1] != p->H / k)) heights[nh++] = p->H / k;
    if (nh == 0) heights[nh++] = p->H;
  }
  /* per shelf height: its best interval, PEs and layout; the heights split
     over two threads (each search its own; the placement is read only) */
  heights_job job[2] = {{.p = p, .heights = heights, .nh = nh, .first = 0},
                        {.p = p, .heights = heights, .nh = nh, .first = 1}};
  uint64_t t_of[16] = {0}, pes_of[16] = {0};
  uint32_t shelves_of[16] = {0}, limit_stage_of[16] = {0};
  ws_place_limit limit_of[16] = {0};
  fab_rect *lay = calloc((size_t)nh * p->n, sizeof *lay);
  for (int j = 0; j < 2; j++) {
    job[j].t_of = t_of, job[j].pes_of = pes_of, job[j].shelves_of = shelves_of, job[j].lay = lay;
    job[j].limit_of = limit_of, job[j].limit_stage_of = limit_stage_of;
  }
  pthread_t helper;
  const bool two = nh > 1 && lay && pthread_create(&helper, NULL, search_heights, &job[1]) == 0;
  if (lay) search_heights(&job[0]);
  if (two) pthread_join(helper, NULL);
  if (nh > 1 && lay && !two) search_heights(&job[1]); /* no thread: in turn */
  int rc = lay && job[0].ok && (nh < 2 || job[1].ok) ? 0 : -1;
  if (rc) snprintf(err, errlen, "place: out of memory");
  /* the best that routes: fastest first, then fewer PEs; if none routes,
     the fastest, with the routing failure in the totals */
  int first = -1;
  bool placed = false;
  for (uint32_t tries = 0; rc == 0 && !placed && tries <= nh; tries++) {
    int k = -1;
    for (uint32_t j = 0; j < nh; j++)
      if (t_of[j] && (k < 0 || t_of[j] < t_of[k] || (t_of[j] == t_of[k] && pes_of[j] < pes_of[k]))) k = (int)j;
    if (k < 0 && first < 0) break;
    if (k < 0) k = first; /* none routed: back to the fastest */
    if (first < 0) first = k;
    for (uint32_t i = 0; i < p->n; i++) {
      p->st[i].stage.region = lay[(size_t)k * p->n + i];
      p->st[i].stage.k_cut = p->st[i].stage.n_cut = NULL;
      p->st[i].colors_max = 0;
      free(p->kc[i]);
      free(p->nc[i]);
      p->kc[i] = p->nc[i] = NULL;
    }
    orient(p, heights[k]);
    p->tot = (ws_place_totals){.shelf_height = heights[k], .shelves_used = shelves_of[k]};
    p->tot.limit = ws_place_limit_name(limit_of[k]);
    p->tot.limit_stage = limit_of[k] == WS_LIMIT_NONE || limit_of[k] == WS_LIMIT_PES ? "" : p->st[limit_stage_of[k]].stage.name;
    if (ws_place_finish(p, err, errlen) != 0) rc = -1;
    placed = p->tot.routes_ok || t_of[k] == 0;
    t_of[k] = 0; /* tried */
  }
  if (rc == 0 && first < 0) {
    search S;
    if (!search_init(&S, p, heights[0])) free(S.memo), S.memo = NULL;
    explain(&S, heights, nh, err, errlen);
    search_free(&S);
    rc = -1;
  }
  free(lay);
  if (rc != 0) {
    ws_placement_destroy(p);
    return NULL;
  }
  p->tot.wall_s = ws_report_wall_s() - t0;
  return p;
}

void ws_placement_destroy(ws_placement *p) {
  if (!p) return;
  for (uint32_t i = 0; i < p->n; i++) {
    if (p->rows) free(p->rows[i]);
    if (p->cols) free(p->cols[i]);
    if (p->kc) free(p->kc[i]);
    if (p->nc) free(p->nc[i]);
  }
  free(p->rows);
  free(p->cols);
  free(p->kc);
  free(p->nc);
  free(p->st);
  if (p->own.g) ws_input_destroy(&p->own);
  free(p);
}

int ws_placement_routed(const ws_placement *p, char *err, size_t errlen) {
  if (p->tot.routes_ok) return 0;
  snprintf(err, errlen, "place: the placement does not route within fabric.colors = %u: %s", p->fc.colors,
           p->tot.route_error);
  return -1;
}

uint32_t ws_placement_count(const ws_placement *p) { return p->n; }
const ws_placed *ws_placement_stage(const ws_placement *p, uint32_t i) { return &p->st[i]; }
const ws_place_totals *ws_placement_totals(const ws_placement *p) { return &p->tot; }
