/* The fabric's common part: creation, routes, transfers and how messages
 * bind to them, statistics. The fidelities live in wavelet.c and train.c. */
#include <math.h>
#include <string.h>

#include "fabric_internal.h"

static void handle(sim_engine *e, void *ctx, const sim_event *ev) {
  (void)e;
  fab_fabric *f = ctx;
  if (ev->kind == EV_DONE) {
    f->on_done(f->done_ctx, (fab_xfer)ev->payload.a, ev->time / FAB_TICKS);
    fab_unref(f, (uint32_t)ev->payload.a); /* its end, reported */
  }
  else if (ev->kind >= EV_T_NODE)
    fab_train_event(f, ev);
  else
    fab_wavelet_event(f, ev);
}

/* The engine's hint for a train event a few events ahead (sim_prefetcher):
 * the state its handler reads first, so that the misses to memory of
 * several events overlap. On the full wafer that state is a gigabyte, and
 * each event's few reads of it were the run's time. (Following the pointers
 * in that state too, a second hint nearer the event, made the 512-token
 * full-wafer run 1 to 3 % slower: it stalls on the first hint's misses.) */
static void prefetch(const void *ctx, const sim_event *ev) {
  const fab_fabric *f = ctx;
  const uint32_t a = (uint32_t)ev->payload.a, local = ev->entity - f->first;
  switch (ev->kind) {
    case EV_T_NODE: { /* at router `local`: its ports, the node */
      const fab_port_state *port = &f->ports[(size_t)local * FAB_PORTS];
      __builtin_prefetch(port, 1);
      __builtin_prefetch(&port[FAB_PORTS - 1], 1);
      __builtin_prefetch(fab_routes_node(f->routes, a));
      break;
    }
    case EV_T_CORE: /* at core local - cells: it, the endpoint, the node */
      __builtin_prefetch(&f->cores[local - f->cells], 1);
      __builtin_prefetch(&f->ep[a], 1);
      __builtin_prefetch(fab_routes_node(f->routes, a));
      break;
    case EV_T_DELIVER:
      __builtin_prefetch(&f->ep[a]);
      __builtin_prefetch(&f->x[ev->payload.b], 1);
      break;
    case EV_T_EMIT:
      __builtin_prefetch(&f->cores[local - f->cells], 1);
      /* fall through */
    case EV_DONE: __builtin_prefetch(&f->x[a], 1); break;
    default: break;
  }
}

const char *fab_fidelity_name(fab_fidelity v) { return v == FAB_WAVELET ? "wavelet" : "train"; }

static int check_config(const fab_config *c, char *err, size_t errlen) {
  const char *bad = NULL;
  if (c->width == 0 || c->height == 0 || (uint64_t)c->width * c->height > (UINT32_MAX - 8) / 2)
    bad = "width x height must be between 1 and 2^31 PEs";
  else if (c->colors < 1 || c->colors > FAB_COLORS_MAX)
    bad = "colors must be in [1, 32]";
  else if (c->hop_latency < 1 || c->ramp_latency < 1 || c->consume_cycles < 1)
    bad = "hop_latency, ramp_latency and consume_cycles must be at least 1 cycle";
  else if (c->queue_depth < 1 || c->queue_depth > 64)
    bad = "queue_depth must be in [1, 64] wavelets";
  if (bad) snprintf(err, errlen, "fabric: %s", bad);
  return bad ? -1 : 0;
}

fab_fabric *fab_create(sim_engine *e, const fab_config *cfg, char *err, size_t errlen) {
  if (check_config(cfg, err, errlen) != 0) return NULL;
  fab_fabric *f = calloc(1, sizeof *f);
  if (!f) goto oom;
  f->cfg = *cfg;
  f->e = e;
  f->cells = cfg->width * cfg->height;
  const size_t cells = f->cells;
  f->routes = fab_routes_create(cfg->width, cfg->height, cfg->colors);
  f->cores = calloc(cells, sizeof *f->cores);
  f->ports = calloc(cells * FAB_PORTS, sizeof *f->ports);
  if (!f->routes || !f->cores || !f->ports) goto oom;
  for (size_t p = 0; p < cells; p++) f->cores[p] = (fab_core){0, FAB_NONE, FAB_NONE, 0, 0, 0, FAB_LATER, FAB_LATER};
  if (cfg->fidelity != FAB_TRAIN) {
    f->router_armed = malloc(cells * sizeof *f->router_armed);
    f->router_last = malloc(cells * sizeof *f->router_last);
    f->router_rr = calloc(cells, sizeof *f->router_rr);
    if (!f->router_armed || !f->router_last || !f->router_rr) goto oom;
    memset(f->router_armed, 0xff, cells * sizeof *f->router_armed);
    memset(f->router_last, 0xff, cells * sizeof *f->router_last);
  }
  if (sim_engine_add_type(e, "fabric", handle, f, 2 * f->cells, &f->first) != 0 ||
      (cfg->fidelity == FAB_TRAIN && sim_engine_set_prefetch(e, f->first, prefetch) != 0)) {
    snprintf(err, errlen, "%s", sim_engine_error(e));
    fab_destroy(f);
    return NULL;
  }
  return f;
oom:
  snprintf(err, errlen, "fabric: out of memory for a %u x %u mesh", cfg->width, cfg->height);
  fab_destroy(f);
  return NULL;
}

void fab_destroy(fab_fabric *f) {
  if (!f) return;
  for (uint32_t r = 0; f->routes && r < fab_routes_count(f->routes); r++) free(f->rs[r].msg_x);
  for (uint32_t i = 0; i < f->nx; i++)
    if (f->x[i].values) free(f->vals[i]); /* NULL once freed */
  fab_routes_destroy(f->routes);
  free(f->rs);
  free(f->ep);
  free(f->wn);
  free(f->x);
  free(f->vals);
  free(f->next_active);
  free(f->free_ids);
  free(f->avail);
  free(f->cores);
  free(f->ports);
  free(f->router_first);
  free(f->router_nodes);
  free(f->core_first);
  free(f->core_nodes);
  free(f->router_armed);
  free(f->router_last);
  free(f->router_rr);
  free(f);
}

const fab_config *fab_config_of(const fab_fabric *f) { return &f->cfg; }
const fab_routes *fab_routes_of(const fab_fabric *f) { return f->routes; }
void fab_on_delivery(fab_fabric *f, fab_delivery_fn fn, void *ctx) {
  f->on_delivery = fn;
  f->ctx = ctx;
}
void fab_on_done(fab_fabric *f, fab_done_fn fn, void *ctx) {
  f->on_done = fn;
  f->done_ctx = ctx;
}
uint64_t fab_now(const fab_fabric *f) { return sim_engine_now(f->e) / FAB_TICKS; }

/* Grow the per-route and per-node state to the route table's size. */
static int grow_state(fab_fabric *f) {
  const uint32_t routes = fab_routes_count(f->routes), nodes = fab_routes_node_count(f->routes);
  if (routes > f->rs_cap) {
    uint32_t cap = routes + routes / 2 + 16;
    fab_rstate *rs = realloc(f->rs, (size_t)cap * sizeof *rs);
    if (!rs) return -1;
    for (uint32_t r = f->rs_cap; r < cap; r++) rs[r] = (fab_rstate){NULL, 0, 0, FAB_NONE, FAB_NONE, 0};
    f->rs = rs;
    f->rs_cap = cap;
  }
  if (nodes > f->node_cap) {
    uint32_t cap = nodes + nodes / 2 + 64;
    fab_endpoint *ep = realloc(f->ep, (size_t)cap * sizeof *ep);
    if (ep) f->ep = ep;
    fab_wnode *wn = f->cfg.fidelity == FAB_WAVELET ? realloc(f->wn, (size_t)cap * sizeof *wn) : NULL;
    if (wn) f->wn = wn;
    if (!ep || (f->cfg.fidelity == FAB_WAVELET && !wn)) return -1;
    if (wn) memset(wn + f->node_cap, 0, (size_t)(cap - f->node_cap) * sizeof *wn);
    f->node_cap = cap;
  }
  return 0;
}

/* Endpoint state for the nodes of a new route. */
static void init_endpoints(fab_fabric *f, uint32_t route) {
  const fab_route *rt = fab_routes_get(f->routes, route);
  for (uint32_t i = rt->root; i < rt->root + rt->nodes; i++)
    f->ep[i] = (fab_endpoint){route, 0, 0, UNBOUND, FAB_NONE, FAB_NONE};
}

static int added(fab_fabric *f, int rc, uint32_t route, char *err, size_t errlen) {
  if (rc != 0) return rc;
  if (grow_state(f) != 0) {
    snprintf(err, errlen, "fabric: out of memory for the state of route %u", route);
    return -1;
  }
  init_endpoints(f, route);
  return 0;
}

int fab_route_path(fab_fabric *f, fab_pe src, fab_pe dst, uint32_t *route, char *err,
                   size_t errlen) {
  const int rc = fab_routes_path(f->routes, src, dst, route, err, errlen);
  return added(f, rc, *route, err, errlen);
}

int fab_route_path_free(fab_fabric *f, fab_pe src, fab_pe dst, uint32_t *route, char *err, size_t errlen) {
  const int rc = fab_routes_path_free(f->routes, src, dst, route, err, errlen);
  return added(f, rc, *route, err, errlen);
}

int fab_route_path_via(fab_fabric *f, fab_pe src, fab_pe dst, bool y_first, uint32_t via, uint32_t *route, char *err,
                       size_t errlen) {
  const int rc = fab_routes_path_via(f->routes, src, dst, y_first, via, route, err, errlen);
  return added(f, rc, *route, err, errlen);
}

int fab_route_tree(fab_fabric *f, fab_pe src, const fab_pe *dst, uint32_t n, uint32_t *route, char *err,
                   size_t errlen) {
  const int rc = fab_routes_tree(f->routes, src, dst, n, route, err, errlen);
  return added(f, rc, *route, err, errlen);
}

int fab_route_reserve(fab_fabric *f, fab_pe pe, bool take) { return fab_routes_reserve(f->routes, pe, take); }

int fab_route_rect(fab_fabric *f, fab_pe src, fab_rect dst, uint32_t *route, char *err,
                   size_t errlen) {
  const int rc = fab_routes_rect(f->routes, src, dst, route, err, errlen);
  return added(f, rc, *route, err, errlen);
}

static fab_xstate *new_xfer(fab_fabric *f, uint32_t *id) {
  if (f->nfree > 0) { /* the last freed */
    *id = f->free_ids[--f->nfree];
    f->live++;
    fab_xstate *x = &f->x[*id];
    memset(x, 0, sizeof *x);
    return x;
  }
  if (f->nx == f->x_cap) {
    uint32_t cap = f->x_cap ? 2 * f->x_cap : 256;
    void *x = NULL; /* aligned, so that each transfer is its two lines */
    if (posix_memalign(&x, FAB_LINE, (size_t)cap * sizeof *f->x) != 0) return NULL;
    if (f->nx) memcpy(x, f->x, (size_t)f->nx * sizeof *f->x);
    free(f->x);
    f->x = x;
    uint32_t *ids = realloc(f->free_ids, (size_t)cap * sizeof *ids);
    if (!ids) return NULL;
    f->free_ids = ids;
    float **vals = realloc(f->vals, (size_t)cap * sizeof *vals);
    if (!vals) return NULL;
    f->vals = vals;
    if (f->cfg.fidelity == FAB_WAVELET) {
      uint32_t *next = realloc(f->next_active, (size_t)cap * sizeof *next);
      if (!next) return NULL;
      f->next_active = next;
      uint64_t *a = realloc(f->avail, (size_t)cap * f->cfg.queue_depth * sizeof *a);
      if (!a) return NULL;
      f->avail = a;
    }
    f->x_cap = cap;
  }
  *id = f->nx++;
  f->live++;
  fab_xstate *x = &f->x[*id];
  memset(x, 0, sizeof *x);
  return x;
}

void fab_unref(fab_fabric *f, uint32_t id) {
  fab_xstate *x = &f->x[id];
  SIM_CHECK(x->refs > 0, "transfer %u freed twice", id);
  if (--x->refs > 0) return;
  if (x->values) {
    free(f->vals[id]);
    f->vals[id] = NULL;
  }
  f->free_ids[f->nfree++] = id;
  f->live--;
}

void fab_release(fab_fabric *f, fab_xfer id) {
  SIM_CHECK(id < f->nx && f->x[id].refs > 0, "no transfer %u to release", id);
  fab_unref(f, id);
}

int fab_combine(fab_fabric *f, const fab_transfer *t, fab_xfer *id, char *err, size_t errlen) {
  if (fab_routes_recolor(f->routes, err, errlen) != 0) return -1; /* routes added since the last transfer */
  const uint32_t routes = fab_routes_count(f->routes), pe = t->pe, nin = t->nin, out = t->out;
  if (pe >= f->cells || t->n == 0 || nin > FAB_MAX_IN || (nin == 0 && out == FAB_NONE)) {
    snprintf(err, errlen,
             "fabric: a transfer needs a PE on the mesh, n >= 1, at most %d inputs and an input "
             "or an output (PE %u, n %u, %u inputs)",
             FAB_MAX_IN, pe, t->n, nin);
    return -1;
  }
  uint32_t ends[FAB_MAX_IN];
  for (uint32_t i = 0; i < nin; i++) {
    ends[i] = t->in[i] < routes ? fab_routes_endpoint(f->routes, t->in[i], pe) : FAB_NONE;
    if (ends[i] == FAB_NONE) {
      snprintf(err, errlen, "fabric: route %u does not deliver to PE (%u,%u)", t->in[i],
               fab_x(f->cfg.width, pe), fab_y(f->cfg.width, pe));
      return -1;
    }
  }
  if (out != FAB_NONE && (out >= routes || fab_routes_get(f->routes, out)->src != pe)) {
    snprintf(err, errlen, "fabric: route %u does not start at PE (%u,%u)", out,
             fab_x(f->cfg.width, pe), fab_y(f->cfg.width, pe));
    return -1;
  }
  if (f->cfg.fidelity == FAB_WAVELET && fab_wavelet_index(f) != 0) goto oom;
  fab_rstate *rs = out != FAB_NONE ? &f->rs[out] : NULL;
  if (rs && rs->nmsg == rs->cap) {
    uint32_t cap = rs->cap ? 2 * rs->cap : 4;
    uint32_t *m = realloc(rs->msg_x, (size_t)cap * sizeof *m);
    if (!m) goto oom;
    rs->msg_x = m;
    rs->cap = cap;
  }
  float *vals = t->values ? malloc((size_t)t->values * sizeof *vals) : NULL;
  if (t->values && !vals) goto oom;
  for (uint32_t k = 0; k < t->values; k++) /* own values, or the identity of the op */
    vals[k] = t->own ? t->own[k] : t->op == FAB_MAX ? -INFINITY : 0.0f;
  uint32_t xid;
  fab_xstate *x = new_xfer(f, &xid);
  if (!x) {
    free(vals);
    goto oom;
  }
  x->pe = pe;
  x->out = out;
  x->n = t->n;
  x->nin = nin;
  x->ready = t->ready;
  x->want = nin == 0 ? 0 : FAB_LATER;
  x->done = FAB_LATER;
  x->next_on_route = FAB_NONE;
  if (f->next_active) f->next_active[xid] = FAB_NONE;
  x->values = t->values;
  x->own_later = t->values && t->own_later;
  x->quiet = t->quiet;
  x->op = (uint8_t)t->op;
  if (vals) f->vals[xid] = vals; /* read only where x->values (a timing run never writes it) */
  x->refs = 2 + (out != FAB_NONE ? fab_routes_get(f->routes, out)->dests : 0);
  for (uint32_t i = 0; i < nin; i++) { /* queue as the next consumer of each endpoint */
    x->next_consumer[i] = x->sender[i] = FAB_NONE;
    fab_endpoint *ep = &f->ep[ends[i]];
    const uint32_t c = xid * FAB_MAX_IN + i;
    if (ep->last == FAB_NONE)
      ep->first = c;
    else
      f->x[ep->last / FAB_MAX_IN].next_consumer[ep->last % FAB_MAX_IN] = c;
    ep->last = c;
  }
  if (rs) { /* a new message on the route, sent after those already queued */
    rs->msg_x[rs->nmsg++] = xid;
    if (rs->tail == FAB_NONE)
      rs->head = xid;
    else
      f->x[rs->tail].next_on_route = xid;
    rs->tail = xid;
    if (f->cfg.fidelity == FAB_WAVELET) { /* at the back: a core serves in creation order */
      fab_core *c = &f->cores[pe];      /* (train keeps no list: its core's inject_free orders it) */
      if (c->active_tail == FAB_NONE)
        c->active = xid;
      else
        f->next_active[c->active_tail] = xid;
      c->active_tail = xid;
    }
  }
  *id = xid;
  if (t->ready != FAB_LATER) fab_ready(f, xid, t->ready);
  return 0;
oom:
  snprintf(err, errlen, "fabric: out of memory adding a transfer");
  return -1;
}

int fab_send(fab_fabric *f, uint32_t route, uint32_t n, uint64_t ready, fab_xfer *id, char *err,
             size_t errlen) {
  if (route >= fab_routes_count(f->routes)) {
    snprintf(err, errlen, "fabric: no route %u", route);
    return -1;
  }
  const fab_transfer t = {.pe = fab_routes_get(f->routes, route)->src, .out = route, .n = n,
                          .ready = ready};
  return fab_combine(f, &t, id, err, errlen);
}

void fab_ready(fab_fabric *f, fab_xfer id, uint64_t cycle) {
  SIM_CHECK(id < f->nx, "no transfer %u", id);
  fab_xstate *x = &f->x[id];
  SIM_CHECK(cycle >= fab_now(f), "transfer %u made ready at cycle %llu, before now", id,
            (unsigned long long)cycle);
  x->ready = cycle;
  if (f->cfg.fidelity == FAB_WAVELET) {
    if (x->out == FAB_NONE && x->produced == x->n) /* inputs all in: a sum a cycle from here */
      fab_finish(f, x, (cycle > x->want ? cycle : x->want) + x->n - 1);
    else
      fab_wavelet_wake_core(f, x->pe, cycle);
  } else if (x->want != FAB_LATER) {
    if (x->out == FAB_NONE)
      fab_finish(f, x, (cycle > x->want ? cycle : x->want) + x->n - 1);
    else
      fab_train_schedule_emit(f, id);
  }
}

uint64_t fab_done(const fab_fabric *f, fab_xfer id) { return id < f->nx ? f->x[id].done : FAB_LATER; }

const float *fab_values(const fab_fabric *f, fab_xfer id) {
  const fab_xstate *x = &f->x[id];
  return x->values && x->inputs_in == x->nin && !x->own_later ? f->vals[id] : NULL;
}

/* x's values[k] = values[k] op add[k]. */
static void combine_values(fab_fabric *f, const fab_xstate *x, const float *add) {
  float *v = f->vals[x - f->x];
  for (uint32_t k = 0; k < x->values; k++)
    v[k] = x->op == FAB_MAX ? (add[k] > v[k] ? add[k] : v[k]) : v[k] + add[k];
}

void fab_ready_values(fab_fabric *f, fab_xfer id, uint64_t cycle, const float *own) {
  SIM_CHECK(id < f->nx && f->x[id].own_later, "transfer %u was not made to take its values later", id);
  fab_xstate *x = &f->x[id];
  combine_values(f, x, own);
  x->own_later = false;
  fab_ready(f, id, cycle);
}

void fab_finish(fab_fabric *f, fab_xstate *x, uint64_t cycle) {
  x->done = cycle;
  if (cycle > f->st.last_cycle || f->st.last_cycle == 0) f->st.last_cycle = cycle;
  if (f->on_done && !x->quiet)
    fab_post(f, cycle, 1, fab_core_entity(f, x->pe), EV_DONE, (uint64_t)(x - f->x), 0);
  else
    fab_unref(f, (uint32_t)(x - f->x)); /* its end: nobody to report it to */
}

/* Input i of x has all of its message: combine its values into x's. */
void fab_input_in(fab_fabric *f, fab_xstate *x, uint32_t input) {
  x->inputs_in++;
  const uint32_t sender = x->sender[input];
  if (x->values) {
    const fab_xstate *s = &f->x[sender];
    SIM_CHECK(s->values == x->values && s->inputs_in == s->nin && !s->own_later,
              "transfer at PE %u takes %u values from a sender of %u (complete: %d)", x->pe,
              x->values, s->values, s->inputs_in == s->nin && !s->own_later);
    combine_values(f, x, f->vals[sender]);
  }
  fab_unref(f, sender); /* its message taken here */
}

/* x (first on its route, all sent) leaves its route's queue and its core's list. */
void fab_unqueue_sender(fab_fabric *f, fab_xstate *x) {
  fab_rstate *rs = &f->rs[x->out];
  const uint32_t xid = (uint32_t)(x - f->x);
  SIM_CHECK(rs->head == xid, "transfer %u finished before its route's first", xid);
  rs->head = x->next_on_route;
  if (rs->head == FAB_NONE) rs->tail = FAB_NONE;
  if (f->cfg.fidelity == FAB_TRAIN) {
    if (rs->waiting && rs->head != FAB_NONE && f->x[rs->head].emit_waiting) fab_train_schedule_emit(f, rs->head);
    return;
  }
  fab_core *c = &f->cores[x->pe];
  uint32_t prev = FAB_NONE, *link = &c->active;
  while (*link != xid) prev = *link, link = &f->next_active[*link];
  *link = f->next_active[xid];
  if (c->active_tail == xid) c->active_tail = prev;
}

/* The consumer of the message starting at endpoint `node`: the first queued
 * transfer, else the sink. */
uint32_t fab_bind(fab_fabric *f, uint32_t node) {
  fab_endpoint *ep = &f->ep[node];
  if (ep->bound != UNBOUND) return ep->bound;
  const fab_rstate *rs = &f->rs[ep->route];
  SIM_CHECK(ep->msg < rs->nmsg, "route %u: a wavelet of message %u, which nobody sent", ep->route,
            ep->msg);
  if (ep->first == FAB_NONE) return ep->bound = SINK;
  const uint32_t c = ep->first;
  fab_xstate *x = &f->x[c / FAB_MAX_IN];
  SIM_CHECK(x->n == fab_message_size(f, node),
            "route %u: a message of %u wavelets reaches a transfer of %u at PE %u", ep->route,
            fab_message_size(f, node), x->n, x->pe);
  x->sender[c % FAB_MAX_IN] = rs->msg_x[ep->msg];
  ep->first = x->next_consumer[c % FAB_MAX_IN];
  if (ep->first == FAB_NONE) ep->last = FAB_NONE;
  return ep->bound = c;
}

/* A message of `sender` that no transfer took was all consumed at endpoint
 * `node` at `cycle`. */
void fab_deliver(fab_fabric *f, uint32_t node, uint32_t sender, uint64_t cycle) {
  f->st.deliveries++;
  if (cycle > f->st.last_cycle) f->st.last_cycle = cycle;
  if (f->on_delivery)
    f->on_delivery(f->ctx, fab_routes_node(f->routes, node)->router, f->ep[node].route, sender,
                   cycle);
  fab_unref(f, sender); /* its message consumed here */
}

fab_stats fab_stats_get(const fab_fabric *f) {
  fab_stats s = f->st;
  for (size_t i = 0; i < (size_t)f->cells * FAB_PORTS; i++)
    if (f->ports[i].busy > s.link_busy_max) s.link_busy_max = f->ports[i].busy;
  for (size_t p = 0; p < f->cells; p++)
    if (f->cores[p].busy_up > s.link_busy_max) s.link_busy_max = f->cores[p].busy_up;
  s.queued = 0;
  if (f->wn)
    for (uint32_t i = 0; i < fab_routes_node_count(f->routes); i++)
      s.queued += f->wn[i].queued + f->wn[i].core_queued;
  s.colors_max = fab_routes_colors_max(f->routes);
  s.bytes = sizeof *f + fab_routes_bytes(f->routes) + (size_t)f->rs_cap * sizeof *f->rs +
            (size_t)f->node_cap * (sizeof *f->ep + (f->wn ? sizeof *f->wn : 0)) +
            (size_t)f->x_cap * (sizeof *f->x + sizeof *f->free_ids + sizeof *f->vals +
                                (f->avail ? f->cfg.queue_depth * 8 + sizeof *f->next_active : 0)) +
            (size_t)f->cells * (sizeof *f->cores + FAB_PORTS * sizeof *f->ports + (f->wn ? 17 : 0));
  return s;
}

int fab_check_finished(const fab_fabric *f, char *err, size_t errlen) {
  uint32_t stuck = 0, first = FAB_NONE;
  for (uint32_t i = 0; i < f->nx; i++) {
    if (f->x[i].refs == 0 || f->x[i].done != FAB_LATER) continue; /* freed, or done */
    if (stuck++ == 0) first = i;
  }
  const fab_stats s = fab_stats_get(f);
  if (stuck == 0 && s.queued == 0) return 0;
  if (stuck == 0) {
    snprintf(err, errlen, "fabric: %llu wavelets left in queues", (unsigned long long)s.queued);
    return -1;
  }
  const fab_xstate *x = &f->x[first];
  snprintf(err, errlen,
           "fabric: %u transfers never finished; the first, at PE (%u,%u): %u of %u wavelets "
           "sent, %u sums made, %s (%llu wavelets left in queues)",
           stuck, fab_x(f->cfg.width, x->pe), fab_y(f->cfg.width, x->pe), x->sent, x->n,
           x->produced, x->ready == FAB_LATER ? "its data never made ready" : "its data ready",
           (unsigned long long)s.queued);
  return -1;
}
