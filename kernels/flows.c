/* The flows between stages: where each slot's and stage's flows are, and
 * their routes on the mesh (see krn_flows_route). */
#include <stdlib.h>
#include <string.h>

#include "kind.h"
#include "pipe_internal.h"

static fab_pe to_pe(const krn_pipe *p, uint32_t pi) {
  const piece *pc = &p->pc[pi];
  return p->st[pc->to].in[pc->to_input][pc->to_slot].pe;
}
static fab_pe from_pe(const krn_pipe *p, uint32_t pi) {
  const piece *pc = &p->pc[pi];
  return p->st[pc->from].out[pc->from_slot].pe;
}

static uint32_t flow_hops(const krn_pipe *p, const flow *fl) {
  const uint32_t w = fab_config_of(p->f)->width, ax = fab_x(w, from_pe(p, fl->piece0)),
                 ay = fab_y(w, from_pe(p, fl->piece0));
  uint32_t most = 0;
  for (uint32_t k = fl->piece0; k < fl->piece0 + fl->npieces; k++) {
    const uint32_t bx = fab_x(w, to_pe(p, k)), by = fab_y(w, to_pe(p, k));
    const uint32_t h = (ax > bx ? ax - bx : bx - ax) + (ay > by ? ay - by : by - ay);
    most = h > most ? h : most;
  }
  return most;
}

static int cmp_u64(const void *a, const void *b) {
  const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

static void hold_ends(krn_pipe *p, const flow *fl, bool take) {
  fab_route_reserve(p->f, from_pe(p, fl->piece0), take);
  for (uint32_t k = fl->piece0; k < fl->piece0 + fl->npieces; k++) fab_route_reserve(p->f, to_pe(p, k), take);
}

/* A column of outputs above (or below) a column of inputs, one single-piece
 * flow each (the residual stream across a turn of the serpentine, features
 * running down one column and up the other): the flows go as nested U's,
 * each along its source's row to its own column outside both, down to its
 * destination's row and back, the shortest U innermost, so that none
 * crosses another; on the side of the two columns with the least room that
 * still holds them all. The flows are routed at once, in their order. */
static uint32_t u_span(const krn_pipe *p, uint32_t fi) { /* rows between a single-piece flow's ends */
  const uint32_t w = fab_config_of(p->f)->width, ya = fab_y(w, from_pe(p, p->fl[fi].piece0)),
                 yb = fab_y(w, to_pe(p, p->fl[fi].piece0));
  return ya > yb ? ya - yb : yb - ya;
}

static bool u_turn(const krn_pipe *p, uint32_t f0, uint32_t nf, uint32_t *via) {
  const uint32_t w = fab_config_of(p->f)->width;
  const piece *pc = &p->pc[p->fl[f0].piece0];
  const stage *a = &p->st[pc->from], *b = &p->st[pc->to];
  const bool cols = krn_kind_of(a->s.kind)->col_out && b->elementwise && a->cols == 1 && b->cols == 1;
  if (!cols || nf < 2 || (a->s.region.y + a->rows > b->s.region.y && b->s.region.y + b->rows > a->s.region.y))
    return false;
  for (uint32_t k = 0; k < nf; k++)
    if (p->fl[f0 + k].npieces != 1) return false;
  const uint32_t xa = a->s.region.x, xb = b->s.region.x, hi = xa > xb ? xa : xb, lo = xa < xb ? xa : xb;
  const uint32_t east = w - 1 - hi, west = lo;
  const bool go_east = east >= nf && (west < nf || east <= west);
  if (!go_east && west < nf) return false;
  for (uint32_t k = 0; k < nf; k++) { /* its rank: the U's shorter than it, or as short and before it */
    uint32_t rank = 0;
    const uint32_t mine = u_span(p, f0 + k);
    for (uint32_t q = 0; q < nf; q++) {
      const uint32_t other = u_span(p, f0 + q);
      rank += other < mine || (other == mine && q < k);
    }
    via[k] = go_east ? hi + 1 + rank : lo - 1 - rank;
  }
  return true;
}

/* Route every flow: the U-turns first (u_turn), then the others, the
 * shortest first (flows between neighbouring stages, most of them, take
 * their direct paths; longer ones go around them). Every flow's ends are held first, so that routes added before go
 * around the PEs that send and take them. A flow to one slot takes the
 * cheapest of the paths fab_routes_path_free weighs (Y first, between
 * regions side by side, spreads routes from a row of outputs to a column
 * of inputs over the rows); a flow to several, the tree of their Y-first
 * paths. */
int krn_flows_route(krn_pipe *p, char *err, size_t errlen) {
  uint64_t *order = malloc(((size_t)p->nfl + 1) * sizeof *order); /* hops << 32 | flow, sorted */
  fab_pe *dst = malloc(((size_t)p->npc + 1) * sizeof *dst);
  int rc = order && dst ? 0 : -1;
  if (rc) snprintf(err, errlen, "pipeline: out of memory");
  for (uint32_t i = 0; rc == 0 && i < p->nfl; i++) {
    order[i] = (uint64_t)flow_hops(p, &p->fl[i]) << 32 | i;
    hold_ends(p, &p->fl[i], true);
  }
  /* the U-turns first: consecutive flows into one input of one stage */
  uint32_t *via = malloc(((size_t)p->nfl + 1) * sizeof *via);
  bool *done = calloc((size_t)p->nfl + 1, sizeof *done);
  if (rc == 0 && (!via || !done)) rc = -1, snprintf(err, errlen, "pipeline: out of memory");
  for (uint32_t f0 = 0, f1; rc == 0 && f0 < p->nfl; f0 = f1) {
    const piece *a = &p->pc[p->fl[f0].piece0];
    for (f1 = f0 + 1; f1 < p->nfl; f1++) {
      const piece *b = &p->pc[p->fl[f1].piece0];
      if (b->to != a->to || b->to_input != a->to_input || b->from != a->from) break;
    }
    if (!u_turn(p, f0, f1 - f0, via)) continue;
    for (uint32_t k = f0; rc == 0 && k < f1; k++) {
      flow *fl = &p->fl[k];
      hold_ends(p, fl, false);
      done[k] = true;
      rc = fab_route_path_via(p->f, from_pe(p, fl->piece0), to_pe(p, fl->piece0), false, via[k - f0], &fl->route,
                              err, errlen);
    }
  }
  if (rc == 0) qsort(order, p->nfl, sizeof *order, cmp_u64);
  for (uint32_t i = 0; rc == 0 && i < p->nfl; i++) {
    flow *fl = &p->fl[(uint32_t)order[i]];
    if (done[(uint32_t)order[i]]) continue;
    hold_ends(p, fl, false);
    for (uint32_t k = 0; k < fl->npieces; k++) dst[k] = to_pe(p, fl->piece0 + k);
    rc = fl->npieces == 1 ? fab_route_path_free(p->f, from_pe(p, fl->piece0), dst[0], &fl->route, err, errlen)
                          : fab_route_tree(p->f, from_pe(p, fl->piece0), dst, fl->npieces, &fl->route, err, errlen);
  }
  free(order);
  free(dst);
  free(via);
  free(done);
  return rc;
}

/* Where each stage's pieces and flows in start and end (they were made
 * stage by stage), the flows out of each stage and each output slot, and
 * each input slot's, in the flows' order. -1 on out of memory. */
int krn_flows_index(krn_pipe *p) {
  for (uint32_t i = 0; i < p->nst; i++) p->st[i].pc0 = p->st[i].pc1 = p->st[i].fl0 = p->st[i].fl1 = 0;
  for (uint32_t k = p->npc; k-- > 0;) p->st[p->pc[k].to].pc0 = k;
  for (uint32_t k = 0; k < p->npc; k++) p->st[p->pc[k].to].pc1 = k + 1;
  for (uint32_t f = p->nfl; f-- > 0;) p->st[p->pc[p->fl[f].piece0].to].fl0 = f;
  for (uint32_t f = 0; f < p->nfl; f++) p->st[p->pc[p->fl[f].piece0].to].fl1 = f + 1;
  for (int pass = 0; pass < 2; pass++) { /* count, then fill */
    for (uint32_t f = 0; f < p->nfl; f++) {
      const piece *pc = &p->pc[p->fl[f].piece0];
      stage *from = &p->st[pc->from];
      slot *o = &from->out[pc->from_slot];
      if (pass) o->flows[o->nflows++] = f, from->fl_out[from->nfl_out++] = f;
      else o->nflows++, from->nfl_out++;
    }
    for (uint32_t k = 0; k < p->npc; k++) {
      const piece *pc = &p->pc[k];
      slot *sl = &p->st[pc->to].in[pc->to_input][pc->to_slot];
      if (pass) sl->flows[sl->nflows++] = pc->flow;
      else sl->nflows++;
    }
    for (uint32_t i = 0; pass == 0 && i < p->nst; i++) {
      stage *s = &p->st[i];
      if (!(s->fl_out = malloc((s->nfl_out + 1) * sizeof *s->fl_out))) return -1;
      s->nfl_out = 0;
      for (uint32_t j = 0; j < s->nout; j++)
        if (!(s->out[j].flows = malloc((s->out[j].nflows + 1) * sizeof *s->out[j].flows))) return -1;
      for (uint32_t k = 0; k < s->ninputs; k++)
        for (uint32_t j = 0; j < s->nin_slots[k]; j++)
          if (!(s->in[k][j].flows = malloc((s->in[k][j].nflows + 1) * sizeof *s->in[k][j].flows))) return -1;
      for (uint32_t j = 0; j < s->nout; j++) s->out[j].nflows = 0;
      for (uint32_t k = 0; k < s->ninputs; k++)
        for (uint32_t j = 0; j < s->nin_slots[k]; j++) s->in[k][j].nflows = 0;
    }
  }
  return 0;
}

