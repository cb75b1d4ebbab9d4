/* Private to fabric/fabric.c, wavelet.c and train.c: the fabric's state and
 * the pieces the two fidelities share. Nothing outside fabric/ includes it. */
#ifndef WAFERSIM_FABRIC_FABRIC_INTERNAL_H
#define WAFERSIM_FABRIC_FABRIC_INTERNAL_H

#include <stdio.h>
#include <stdlib.h>

#include "fabric.h"
#include "sim/engine/check.h"

/* Event kinds. Router events target entity `first + router`, core events
 * `first + cells + pe`. payload.a is a node or transfer index. */
enum {
  EV_ARRIVE,      /* wavelet: a wavelet enters node a's queue */
  EV_CREDIT,      /* wavelet: node a's queue has one more free place */
  EV_RAMP_ARRIVE, /* wavelet: a wavelet of endpoint node a reaches its core */
  EV_RAMP_CREDIT, /* wavelet: endpoint node a's core queue has one more free place */
  EV_ROUTER_ARB,  /* wavelet: a router decides which wavelets move this cycle */
  EV_CORE_ARB,    /* wavelet: a core consumes and sends */
  EV_T_NODE,      /* train: the head of a train of payload.b wavelets reaches node a */
  EV_T_CORE,      /* train: the head reaches the core of endpoint node a */
  EV_T_EMIT,      /* train: transfer a may start sending */
  EV_T_DELIVER,   /* train: the last wavelet of a message at endpoint node a was consumed */
  EV_DONE,        /* transfer a finished: tell the client */
};

#define UNBOUND (FAB_NONE - 1) /* endpoint: its current message has no consumer yet */
#define SINK FAB_NONE          /* endpoint: its current message is consumed and reported */

/* A transfer. Consumers of an endpoint are named c = xfer * FAB_MAX_IN + input.
 * Two cache lines, the array aligned to them: the first holds what every
 * event about the transfer reads (a send, its end, its references), the
 * second what its inputs' arrivals and bindings read. Its functional values
 * and, at wavelet fidelity, its place in its core's list are kept apart
 * (fab_fabric.vals, .next_active): a timing run never reads them. */
typedef struct {
  /* line 0 */
  fab_pe pe;
  uint32_t out; /* route, or FAB_NONE */
  uint32_t n;   /* wavelets */
  uint32_t nin;
  uint32_t refs; /* who still needs it: its owner (fab_release), its end (done and reported),
                    and each destination of its message until it took it; at 0 it is free */
  uint32_t arrived;       /* train: inputs whose message has arrived */
  uint32_t values;        /* functional values carried, 0 for none */
  uint32_t sent;          /* wavelets sent (or sums kept) */
  uint32_t next_on_route; /* next transfer sending on the same route */
  bool own_later;         /* its own values have not come yet */
  bool quiet;             /* no on_done call at its end */
  bool emit_waiting;      /* train: wants to send but is not first on its route */
  uint8_t op;             /* fab_op */
  uint64_t ready;         /* cycle the PE's own data is ready, or FAB_LATER */
  uint64_t want;          /* cycle its inputs allow sending (or keeping) from, or FAB_LATER */
  uint64_t done;          /* cycle it finished, or FAB_LATER */
  /* line 1 */
  uint64_t in_from;                   /* train: latest cycle an input's message started arriving */
  uint32_t inputs_in;                 /* inputs whose message is all taken */
  uint32_t produced;                  /* sums made (wavelet: as inputs arrive) */
  uint32_t next_consumer[FAB_MAX_IN]; /* next consumer queued at the same endpoint */
  uint32_t sender[FAB_MAX_IN];        /* transfer whose message each input took */
  uint32_t got[FAB_MAX_IN];           /* wavelet: wavelets taken per input */
} fab_xstate;

#define FAB_LINE 64
_Static_assert(sizeof(fab_xstate) == 2 * FAB_LINE, "a transfer's state is two cache lines");

/* Where messages of a route stand at one destination PE (per endpoint node). */
typedef struct {
  uint32_t route;
  uint32_t msg;         /* current message index on the route */
  uint32_t got;         /* wavelets of it consumed */
  uint32_t bound;       /* its consumer, SINK or UNBOUND */
  uint32_t first, last; /* queued consumers not bound yet */
} fab_endpoint;

/* Wavelet fidelity, per node: its input queue and, for endpoints, the core's. */
typedef struct {
  uint16_t queued;        /* wavelets in the node's queue */
  uint16_t reserved;      /* places promised to the sender: in flight + queued */
  uint16_t core_queued;   /* endpoint: wavelets in the core's queue */
  uint16_t ramp_reserved; /* endpoint: places promised in the core's queue */
} fab_wnode;

/* Per route: the transfers that sent its messages, in order, and those queued to send. */
typedef struct {
  uint32_t *msg_x; /* owned: sender of each message */
  uint32_t nmsg, cap;
  uint32_t head, tail; /* transfers queued to send on it */
  uint32_t waiting;    /* train: of those, how many asked to send before they were first
                          (emit_waiting): at none, a new first need not be looked at */
} fab_rstate;

/* A router's output port (a link, or its ramp down): side by side, the two
 * figures a train crossing it reads and writes. */
typedef struct {
  uint64_t free_at; /* train: the cycle its backlog ends */
  uint64_t busy;    /* cycles it carried a wavelet */
} fab_port_state;

typedef struct {
  uint64_t busy_up;      /* cycles its ramp up carried a wavelet */
  uint32_t active;       /* first transfer with an output at this core */
  uint32_t active_tail;  /* its last (appends are O(1): a core may hold many not yet ready) */
  uint32_t rr_in;        /* round-robin position among its endpoints */
  uint64_t consume_free; /* first cycle it may consume again */
  uint64_t inject_free;  /* train: first cycle its ramp is free */
  uint64_t armed;        /* wavelet: cycle of its last scheduled arbitration */
  uint64_t last_arb;     /* wavelet: cycle it last arbitrated */
} fab_core;

struct fab_fabric {
  fab_config cfg;
  sim_engine *e; /* borrowed */
  sim_entity first;
  uint32_t cells; /* width * height */
  fab_routes *routes;
  fab_rstate *rs; /* per route */
  uint32_t rs_cap;
  fab_endpoint *ep; /* per node */
  fab_wnode *wn;    /* per node, wavelet fidelity */
  uint32_t node_cap;
  fab_xstate *x;   /* owned, aligned to FAB_LINE */
  float **vals;    /* owned, x_cap: each transfer's values (owned): its own, then combined
                      with the inputs'; set, and read, only for a transfer with values */
  uint32_t *next_active; /* owned, x_cap, wavelet: next sending transfer at the same core */
  uint32_t nx, x_cap;
  uint32_t *free_ids; /* owned, x_cap: freed transfers, the last freed on top (a stack of
                         their ids, so taking one reads no transfer's state) */
  uint32_t nfree;
  uint32_t live;   /* transfers not freed */
  uint64_t *avail; /* wavelet: queue_depth per transfer: cycle each made sum may leave */
  fab_core *cores; /* per PE */
  fab_port_state *ports; /* per router port (cells x FAB_PORTS) */
  /* wavelet fidelity: routers' nodes and cores' endpoints (CSR), rebuilt as routes grow */
  uint32_t *router_first, *router_nodes, *core_first, *core_nodes;
  uint32_t indexed; /* nodes the index covers */
  uint64_t *router_armed, *router_last;
  uint8_t *router_rr;
  fab_delivery_fn on_delivery;
  void *ctx;
  fab_done_fn on_done;
  void *done_ctx;
  fab_stats st;
};

static inline sim_time fab_tick(uint64_t cycle, unsigned phase) {
  return cycle * FAB_TICKS + phase;
}
static inline sim_entity fab_router_entity(const fab_fabric *f, fab_pe r) { return f->first + r; }
static inline sim_entity fab_core_entity(const fab_fabric *f, fab_pe p) {
  return f->first + f->cells + p;
}
static inline void fab_post(fab_fabric *f, uint64_t cycle, unsigned phase, sim_entity to, int kind,
                            uint64_t a, uint64_t b) {
  sim_engine_schedule(f->e, fab_tick(cycle, phase), to, (uint16_t)kind, (sim_payload){a, b});
}

/* The endpoint's current message is all consumed: on to the next. */
static inline void fab_next_message(fab_endpoint *ep) {
  ep->msg++;
  ep->got = 0;
  ep->bound = UNBOUND;
}

/* Wavelets of the current message of endpoint `node`. */
static inline uint32_t fab_message_size(const fab_fabric *f, uint32_t node) {
  const fab_endpoint *ep = &f->ep[node];
  return f->x[f->rs[ep->route].msg_x[ep->msg]].n;
}

/* Shared by both fidelities (fabric.c). */
uint32_t fab_bind(fab_fabric *f, uint32_t node);
/* One of transfer id's references is gone; at none it is free. */
void fab_unref(fab_fabric *f, uint32_t id);
void fab_input_in(fab_fabric *f, fab_xstate *x, uint32_t input);
void fab_deliver(fab_fabric *f, uint32_t node, uint32_t sender, uint64_t cycle);
void fab_finish(fab_fabric *f, fab_xstate *x, uint64_t cycle);
void fab_unqueue_sender(fab_fabric *f, fab_xstate *x);

/* Per fidelity. */
void fab_wavelet_event(fab_fabric *f, const sim_event *ev);
void fab_wavelet_wake_core(fab_fabric *f, fab_pe pe, uint64_t cycle);
int fab_wavelet_index(fab_fabric *f);
void fab_train_event(fab_fabric *f, const sim_event *ev);
void fab_train_schedule_emit(fab_fabric *f, uint32_t xid);

#endif
