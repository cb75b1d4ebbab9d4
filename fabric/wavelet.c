/* Wavelet fidelity: every wavelet is an event at every hop. Phase 0 of a
 * cycle delivers wavelets and credits; phase 1 lets each router and core
 * decide, from its own state only, what moves this cycle. */
#include <string.h>

#include "fabric_internal.h"

/* Routers' nodes and cores' endpoint nodes as CSR arrays, rebuilt when the
 * route table has grown. 0, or -1 on out of memory. */
int fab_wavelet_index(fab_fabric *f) {
  const uint32_t nodes = fab_routes_node_count(f->routes), cells = f->cells;
  if (f->indexed == nodes && f->router_first) return 0;
  uint32_t *rf = calloc((size_t)cells + 1, sizeof *rf), *cf = calloc((size_t)cells + 1, sizeof *cf);
  uint32_t *rn = malloc((size_t)nodes * sizeof *rn + 1), *cn = malloc((size_t)nodes * sizeof *cn + 1);
  if (!rf || !cf || !rn || !cn) {
    free(rf), free(cf), free(rn), free(cn);
    return -1;
  }
  for (uint32_t i = 0; i < nodes; i++) {
    const fab_node *n = fab_routes_node(f->routes, i);
    rf[n->router + 1]++;
    if (n->out >> FAB_RAMP & 1u) cf[n->router + 1]++;
  }
  for (uint32_t p = 0; p < cells; p++) rf[p + 1] += rf[p], cf[p + 1] += cf[p];
  for (uint32_t i = 0; i < nodes; i++) { /* fill each router's range from its start */
    const fab_node *n = fab_routes_node(f->routes, i);
    rn[rf[n->router]++] = i;
    if (n->out >> FAB_RAMP & 1u) cn[cf[n->router]++] = i;
  }
  /* each start now holds the next router's start: shift right by one */
  memmove(rf + 1, rf, (size_t)cells * sizeof *rf);
  memmove(cf + 1, cf, (size_t)cells * sizeof *cf);
  rf[0] = cf[0] = 0;
  free(f->router_first), free(f->router_nodes), free(f->core_first), free(f->core_nodes);
  f->router_first = rf, f->router_nodes = rn, f->core_first = cf, f->core_nodes = cn;
  f->indexed = nodes;
  return 0;
}

static void wake_router(fab_fabric *f, fab_pe r, uint64_t cycle) {
  if (f->router_armed[r] == cycle) return;
  f->router_armed[r] = cycle;
  fab_post(f, cycle, 1, fab_router_entity(f, r), EV_ROUTER_ARB, 0, 0);
}

void fab_wavelet_wake_core(fab_fabric *f, fab_pe pe, uint64_t cycle) {
  fab_core *c = &f->cores[pe];
  if (c->armed == cycle || c->last_arb == cycle) return;
  c->armed = cycle;
  fab_post(f, cycle, 1, fab_core_entity(f, pe), EV_CORE_ARB, 0, 0);
}

/* Wake whoever sends into node v: the router of its parent, or the source core. */
static void wake_sender(fab_fabric *f, uint32_t v, uint64_t cycle) {
  const fab_node *n = fab_routes_node(f->routes, v);
  if (n->parent == FAB_NONE)
    fab_wavelet_wake_core(f, n->router, cycle);
  else
    wake_router(f, fab_routes_node(f->routes, n->parent)->router, cycle);
}

static void router_arb(fab_fabric *f, fab_pe r, uint64_t t) {
  if (f->router_last[r] == t) return;
  f->router_last[r] = t;
  const uint32_t first = f->router_first[r], count = f->router_first[r + 1] - first;
  const uint32_t q = f->cfg.queue_depth;
  const uint32_t start = f->router_rr[r];
  unsigned claimed = 0;
  bool again = false;
  for (uint32_t k = 0; k < count; k++) {
    const uint32_t slot = (start + k) % count, v = f->router_nodes[first + slot];
    fab_wnode *w = &f->wn[v];
    if (w->queued == 0) continue;
    const fab_node *n = fab_routes_node(f->routes, v);
    if (n->out & claimed) { /* a link another route took this cycle */
      again = true;
      continue;
    }
    bool room = !(n->out >> FAB_RAMP & 1u) || w->ramp_reserved < q;
    for (int d = 0; d < FAB_RAMP && room; d++)
      if (n->out >> d & 1u) room = f->wn[n->child[d]].reserved < q;
    if (!room) continue; /* a credit event wakes this router */
    claimed |= n->out;
    w->queued--;
    for (int d = 0; d < FAB_RAMP; d++) {
      if (!(n->out >> d & 1u)) continue;
      f->wn[n->child[d]].reserved++;
      f->ports[(size_t)r * FAB_PORTS + d].busy++;
      f->st.link_wavelets++;
      fab_post(f, t + f->cfg.hop_latency, 0, fab_router_entity(f, fab_step(f->cfg.width, r, (fab_port)d)),
               EV_ARRIVE, n->child[d], 0);
    }
    if (n->out >> FAB_RAMP & 1u) {
      w->ramp_reserved++;
      f->ports[(size_t)r * FAB_PORTS + FAB_RAMP].busy++;
      fab_post(f, t + f->cfg.ramp_latency, 0, fab_core_entity(f, r), EV_RAMP_ARRIVE, v, 0);
    }
    fab_post(f, t + 1, 0, fab_router_entity(f, r), EV_CREDIT, v, 0);
    f->router_rr[r] = (uint8_t)((slot + 1) % count);
    if (w->queued > 0) again = true;
  }
  if (again) wake_router(f, r, t + 1);
}

/* Whether endpoint v's next wavelet must wait: its transfer holds queue_depth
 * sums it has not sent yet. */
static bool gated(fab_fabric *f, uint32_t v) {
  const uint32_t c = fab_bind(f, v);
  if (c == SINK) return false;
  const fab_xstate *x = &f->x[c / FAB_MAX_IN];
  return x->got[c % FAB_MAX_IN] >= x->sent + f->cfg.queue_depth;
}

/* Take one wavelet from endpoint v's core queue (not gated). */
static void consume(fab_fabric *f, uint32_t v, uint64_t t) {
  const uint32_t q = f->cfg.queue_depth, c = fab_bind(f, v);
  f->wn[v].core_queued--;
  f->st.wavelets_received++;
  fab_post(f, t + 1, 0, fab_router_entity(f, fab_routes_node(f->routes, v)->router), EV_RAMP_CREDIT,
           v, 0);
  fab_endpoint *ep = &f->ep[v];
  ep->got++;
  if (c != SINK) {
    fab_xstate *x = &f->x[c / FAB_MAX_IN];
    x->got[c % FAB_MAX_IN]++;
    uint32_t all = x->got[0];
    for (uint32_t k = 1; k < x->nin; k++) all = x->got[k] < all ? x->got[k] : all;
    if (all > x->produced) { /* sum `produced` is made: it may leave add_latency later */
      const uint64_t at = t + f->cfg.add_latency;
      if (x->out == FAB_NONE) {
        /* Kept, not sent, so it never holds the inputs back; the adder makes one
         * sum a cycle once the PE's own data is ready: sum j at max(arrival_k + A
         * + (j - k)) over k <= j, and ready + j. `want` tracks max(arrival_k + A - k). */
        const uint64_t lag = at - x->produced;
        if (x->produced == 0 || lag > x->want) x->want = lag;
        x->sent = ++x->produced;
        if (x->produced == x->n && x->ready != FAB_LATER)
          fab_finish(f, x, (x->want > x->ready ? x->want : x->ready) + x->n - 1);
      } else {
        f->avail[(size_t)(x - f->x) * q + x->produced % q] = at;
        x->produced++;
      }
    }
  }
  if (ep->got == fab_message_size(f, v)) {
    if (c == SINK)
      fab_deliver(f, v, f->rs[ep->route].msg_x[ep->msg], t);
    else
      fab_input_in(f, &f->x[c / FAB_MAX_IN], c % FAB_MAX_IN);
    fab_next_message(ep);
  }
}

/* Whether x may send a wavelet at cycle t (credits aside); if not, *when is
 * the first cycle it may without news from elsewhere, or FAB_LATER. */
static bool can_send(const fab_fabric *f, const fab_xstate *x, uint64_t t, uint64_t *when) {
  *when = FAB_LATER;
  if (f->rs[x->out].head != (uint32_t)(x - f->x) || x->ready == FAB_LATER) return false;
  uint64_t from = x->ready;
  if (x->nin > 0) {
    if (x->sent == x->produced) return false;
    const uint64_t a = f->avail[(size_t)(x - f->x) * f->cfg.queue_depth + x->sent % f->cfg.queue_depth];
    if (a > from) from = a;
  }
  if (from <= t) return true;
  *when = from;
  return false;
}

static void send_one(fab_fabric *f, fab_xstate *x, uint64_t t) {
  const uint32_t root = fab_routes_get(f->routes, x->out)->root;
  f->wn[root].reserved++;
  f->cores[x->pe].busy_up++;
  f->st.wavelets_sent++;
  fab_post(f, t + f->cfg.ramp_latency, 0, fab_router_entity(f, x->pe), EV_ARRIVE, root, 0);
  if (++x->sent == x->n) {
    fab_finish(f, x, t);
    fab_unqueue_sender(f, x);
  }
}

static void core_arb(fab_fabric *f, fab_pe pe, uint64_t t) {
  fab_core *c = &f->cores[pe];
  if (c->last_arb == t) return;
  c->last_arb = t;
  uint64_t next = FAB_LATER;
  /* Receive: one wavelet, round-robin over the routes that end here. A
   * gated route waits for its transfer to send, which wakes this core. */
  const uint32_t first = f->core_first[pe], count = f->core_first[pe + 1] - first;
  const uint32_t start = c->rr_in;
  bool took = false, pending = false;
  for (uint32_t k = 0; k < count; k++) {
    const uint32_t slot = (start + k) % count, v = f->core_nodes[first + slot];
    if (f->wn[v].core_queued == 0 || gated(f, v)) continue;
    if (took || t < c->consume_free) {
      pending = true;
      continue;
    }
    consume(f, v, t);
    took = true;
    c->consume_free = t + f->cfg.consume_cycles;
    c->rr_in = (slot + 1) % count;
    pending = pending || f->wn[v].core_queued > 0;
  }
  if (pending) next = c->consume_free > t + 1 ? c->consume_free : t + 1;
  /* Send: the first transfer that may sends one wavelet on the ramp and goes
   * to the back of the list (round-robin). */
  const uint32_t q = f->cfg.queue_depth;
  for (uint32_t *link = &c->active; *link != FAB_NONE; link = &f->next_active[*link]) {
    const uint32_t id = *link;
    fab_xstate *x = &f->x[id];
    uint64_t when;
    if (!can_send(f, x, t, &when)) {
      if (when < next) next = when;
      continue;
    }
    if (f->wn[fab_routes_get(f->routes, x->out)->root].reserved >= q) continue; /* a credit wakes */
    send_one(f, x, t); /* when it was the last wavelet, x leaves the list */
    if (x->done == FAB_LATER && f->next_active[id] != FAB_NONE) { /* to the back */
      *link = f->next_active[id];
      f->next_active[c->active_tail] = id;
      f->next_active[id] = FAB_NONE;
      c->active_tail = id;
    }
    if (c->active != FAB_NONE) next = t + 1;
    break;
  }
  if (next != FAB_LATER) fab_wavelet_wake_core(f, pe, next);
}

void fab_wavelet_event(fab_fabric *f, const sim_event *ev) {
  const uint64_t t = ev->time / FAB_TICKS;
  const uint32_t v = (uint32_t)ev->payload.a;
  const sim_entity id = ev->entity - f->first;
  switch (ev->kind) {
    case EV_ARRIVE:
      f->wn[v].queued++;
      SIM_CHECK(f->wn[v].queued <= f->wn[v].reserved && f->wn[v].reserved <= f->cfg.queue_depth,
                "node %u holds %u wavelets, %u promised, queue depth %u", v, f->wn[v].queued,
                f->wn[v].reserved, f->cfg.queue_depth);
      wake_router(f, id, t);
      break;
    case EV_CREDIT:
      f->wn[v].reserved--;
      wake_sender(f, v, t);
      break;
    case EV_RAMP_ARRIVE:
      f->wn[v].core_queued++;
      SIM_CHECK(f->wn[v].core_queued <= f->wn[v].ramp_reserved &&
                    f->wn[v].ramp_reserved <= f->cfg.queue_depth,
                "core queue of node %u holds %u wavelets, %u promised, depth %u", v,
                f->wn[v].core_queued, f->wn[v].ramp_reserved, f->cfg.queue_depth);
      fab_wavelet_wake_core(f, id - f->cells, t);
      break;
    case EV_RAMP_CREDIT:
      f->wn[v].ramp_reserved--;
      wake_router(f, id, t);
      break;
    case EV_ROUTER_ARB: router_arb(f, id, t); break;
    case EV_CORE_ARB: core_arb(f, id - f->cells, t); break;
    default: SIM_CHECK(0, "wavelet event of kind %u", ev->kind);
  }
}
