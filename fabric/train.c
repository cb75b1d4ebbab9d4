/* Train fidelity: a message of n wavelets is one event per hop. A unit that
 * carries wavelets (a link, a core's ramp out, a core's receive unit) keeps
 * only the cycle its backlog ends; a train takes it for n cycles (n x
 * consume_cycles at a receive unit) on top of that backlog, so the unit's
 * work is conserved. The colors on a unit share it wavelet by wavelet (the
 * wavelet fidelity's round robin), so a train's head waits at most its own
 * length behind the backlog rather than all of it: two trains of n on one
 * link end at about 2n, not one at n and the other at 2n after a wait. At a
 * router the train's head goes when every output link lets it; a transfer
 * sends once every input train has started arriving (plus add_latency) and
 * the PE's own data is ready. Units are claimed in the order train heads
 * reach them in simulated time. */
#include "fabric_internal.h"

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }
static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* A train taking `work` cycles of a unit whose backlog ends at *free_at,
 * arriving at t: the cycle its head may go (see above); the backlog grows by work. */
static uint64_t share(uint64_t *free_at, uint64_t t, uint64_t work) {
  const uint64_t backlog = *free_at > t ? *free_at - t : 0;
  *free_at = max_u64(*free_at, t) + work;
  return t + min_u64(work, backlog);
}

/* The head of a train of n wavelets reaches node v at cycle t. */
static void at_node(fab_fabric *f, uint32_t v, uint32_t n, uint64_t t) {
  const fab_node *node = fab_routes_node(f->routes, v);
  const fab_pe r = node->router;
  fab_port_state *port = &f->ports[(size_t)r * FAB_PORTS];
  uint64_t start = t;
  for (int d = 0; d < FAB_PORTS; d++)
    if (node->out >> d & 1u) start = max_u64(start, share(&port[d].free_at, t, n));
  for (int d = 0; d < FAB_PORTS; d++) {
    if (!(node->out >> d & 1u)) continue;
    port[d].busy += n;
    if (d == FAB_RAMP) {
      fab_post(f, start + f->cfg.ramp_latency, 0, fab_core_entity(f, r), EV_T_CORE, v, n);
    } else {
      f->st.link_wavelets += n;
      fab_post(f, start + f->cfg.hop_latency, 0,
               fab_router_entity(f, fab_step(f->cfg.width, r, (fab_port)d)), EV_T_NODE,
               node->child[d], n);
    }
  }
}

/* The head of a train of n wavelets of endpoint v reaches its core at t. */
static void at_core(fab_fabric *f, uint32_t v, uint32_t n, uint64_t t) {
  fab_core *c = &f->cores[fab_routes_node(f->routes, v)->router];
  const uint64_t start = share(&c->consume_free, t, (uint64_t)n * f->cfg.consume_cycles);
  const uint64_t last = start + ((uint64_t)n - 1) * f->cfg.consume_cycles;
  f->st.wavelets_received += n;
  const uint32_t consumer = fab_bind(f, v);
  const uint32_t sender = f->rs[f->ep[v].route].msg_x[f->ep[v].msg];
  fab_next_message(&f->ep[v]);
  if (consumer == SINK) { /* reported at the cycle its last wavelet is consumed */
    fab_post(f, last, 1, fab_core_entity(f, fab_routes_node(f->routes, v)->router), EV_T_DELIVER, v,
             sender);
    return;
  }
  const uint32_t xid = consumer / FAB_MAX_IN, i = consumer % FAB_MAX_IN;
  fab_xstate *x = &f->x[xid];
  x->in_from = max_u64(x->in_from, start);
  fab_input_in(f, x, i);
  if (++x->arrived < x->nin) return;
  x->want = x->in_from + f->cfg.add_latency;
  x->produced = x->n;
  if (x->ready == FAB_LATER) return; /* fab_ready continues */
  if (x->out == FAB_NONE) {
    x->sent = x->n;
    fab_finish(f, x, max_u64(x->want, x->ready) + x->n - 1);
  } else {
    fab_train_schedule_emit(f, xid);
  }
}

/* Transfer xid (inputs in, data ready) may send from max(want, ready). */
void fab_train_schedule_emit(fab_fabric *f, uint32_t xid) {
  const fab_xstate *x = &f->x[xid];
  const uint64_t at = max_u64(max_u64(x->want, x->ready), fab_now(f));
  fab_post(f, at, 1, fab_core_entity(f, x->pe), EV_T_EMIT, xid, 0);
}

static void emit(fab_fabric *f, uint32_t xid, uint64_t t) {
  fab_xstate *x = &f->x[xid];
  fab_rstate *rs = &f->rs[x->out];
  if (rs->head != xid) { /* an earlier transfer on this route is still sending */
    rs->waiting += !x->emit_waiting;
    x->emit_waiting = true;
    return;
  }
  rs->waiting -= x->emit_waiting;
  fab_core *c = &f->cores[x->pe];
  const uint64_t start = share(&c->inject_free, t, x->n);
  c->busy_up += x->n;
  f->st.wavelets_sent += x->n;
  x->sent = x->n;
  x->emit_waiting = false;
  fab_post(f, start + f->cfg.ramp_latency, 0, fab_router_entity(f, x->pe), EV_T_NODE,
           fab_routes_get(f->routes, x->out)->root, x->n);
  fab_finish(f, x, start + x->n - 1);
  fab_unqueue_sender(f, x);
}

void fab_train_event(fab_fabric *f, const sim_event *ev) {
  const uint64_t t = ev->time / FAB_TICKS;
  const uint32_t a = (uint32_t)ev->payload.a, n = (uint32_t)ev->payload.b; /* n: size or sender */
  switch (ev->kind) {
    case EV_T_NODE: at_node(f, a, n, t); break;
    case EV_T_CORE: at_core(f, a, n, t); break;
    case EV_T_EMIT: emit(f, a, t); break;
    case EV_T_DELIVER: fab_deliver(f, a, n, t); break;
    default: SIM_CHECK(0, "train event of kind %u", ev->kind);
  }
}
