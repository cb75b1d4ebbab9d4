/* Route trees and first-fit colors (see route.h). */
#include "route.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fab_routes {
  uint32_t width, height, colors;
  fab_route *routes; /* owned */
  uint32_t nroutes, route_cap;
  fab_node *nodes; /* owned */
  uint32_t nnodes, node_cap;
  uint32_t *used;   /* owned, per router: bit c set when color c is taken */
  uint32_t colors_max;
};

fab_routes *fab_routes_create(uint32_t width, uint32_t height, uint32_t colors) {
  fab_routes *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->width = width;
  r->height = height;
  r->colors = colors;
  r->used = calloc((size_t)width * height, sizeof *r->used);
  if (!r->used) {
    free(r);
    return NULL;
  }
  return r;
}

void fab_routes_destroy(fab_routes *r) {
  if (!r) return;
  free(r->routes);
  free(r->nodes);
  free(r->used);
  free(r);
}

/* A new hop at router pe entered by port `in`, under parent (FAB_NONE for the
 * root); FAB_NONE on out of memory. */
static uint32_t add_node(fab_routes *r, fab_pe pe, fab_port in, uint32_t parent) {
  if (r->nnodes == r->node_cap) {
    uint32_t cap = r->node_cap ? r->node_cap + r->node_cap / 2 : 1024;
    fab_node *n = realloc(r->nodes, (size_t)cap * sizeof *n);
    if (!n) return FAB_NONE;
    r->nodes = n;
    r->node_cap = cap;
  }
  fab_node *n = &r->nodes[r->nnodes];
  *n = (fab_node){pe, (uint8_t)in, 0, 0, parent, {FAB_NONE, FAB_NONE, FAB_NONE, FAB_NONE}};
  return r->nnodes++;
}

/* The hop after `from` through port d (a new node at the neighbour). */
static uint32_t extend(fab_routes *r, uint32_t from, fab_port d) {
  const uint32_t c = add_node(r, fab_step(r->width, r->nodes[from].router, d), fab_opposite(d), from);
  if (c == FAB_NONE) return FAB_NONE;
  r->nodes[from].out |= (uint8_t)(1u << d);
  r->nodes[from].child[d] = c;
  return c;
}

static bool in_rect(fab_rect q, uint32_t x, uint32_t y) {
  return x >= q.x && x < q.x + q.w && y >= q.y && y < q.y + q.h;
}

static void describe_pe(const fab_routes *r, fab_pe p, char *buf, size_t len) {
  snprintf(buf, len, "(%u,%u)", fab_x(r->width, p), fab_y(r->width, p));
}

static void describe(const fab_routes *r, fab_pe src, fab_rect dst, fab_route_kind kind,
                     char *buf, size_t len) {
  char s[32];
  describe_pe(r, src, s, sizeof s);
  if (kind == FAB_ROUTE_PATH || kind == FAB_ROUTE_PATH_YX)
    snprintf(buf, len, "path%s %s->(%u,%u)", kind == FAB_ROUTE_PATH_YX ? " (y first)" : "", s, dst.x, dst.y);
  else
    snprintf(buf, len, "rect %s->[%u..%u]x[%u..%u]", s, dst.x, dst.x + dst.w - 1, dst.y,
             dst.y + dst.h - 1);
}

void fab_routes_describe(const fab_routes *r, uint32_t id, char *buf, size_t len) {
  const fab_route *rt = &r->routes[id];
  describe(r, rt->src, rt->dst, rt->kind, buf, len);
}

/* No color is free on every router of the new route (nodes from `root`):
 * name its busiest router and the routes holding that router's colors. */
static void color_error(const fab_routes *r, uint32_t root, const char *what, char *err,
                        size_t errlen) {
  fab_pe worst = r->nodes[root].router;
  for (uint32_t i = root; i < r->nnodes; i++)
    if (__builtin_popcount(r->used[r->nodes[i].router]) > __builtin_popcount(r->used[worst]))
      worst = r->nodes[i].router;
  char at[32];
  describe_pe(r, worst, at, sizeof at);
  int n = snprintf(err, errlen,
                   "fabric: no color is free on all %u routers of %s: together they use all %u "
                   "colors; the busiest, router %s, carries %d routes:",
                   r->nnodes - root, what, r->colors, at, __builtin_popcount(r->used[worst]));
  for (uint32_t id = 0, listed = 0; id < r->nroutes && n > 0 && (size_t)n < errlen; id++) {
    const fab_route *rt = &r->routes[id];
    for (uint32_t i = rt->root; i < rt->root + rt->nodes; i++) {
      if (r->nodes[i].router != worst) continue;
      char d[96];
      fab_routes_describe(r, id, d, sizeof d);
      n += snprintf(err + n, errlen - (size_t)n, "%s %u (%s, color %u)", listed++ ? "," : "", id, d,
                    rt->color);
      break;
    }
  }
  if (n > 0 && (size_t)n < errlen)
    snprintf(err + n, errlen - (size_t)n, " (knob: fabric.colors = %u)", r->colors);
}

/* Give the nodes from `root` one color free on all their routers and record
 * the route; on failure remove the nodes. */
static int commit(fab_routes *r, uint32_t root, fab_pe src, fab_rect dst, fab_route_kind kind,
                  uint32_t *id, char *err, size_t errlen) {
  uint32_t busy = 0, dests = 0;
  for (uint32_t i = root; i < r->nnodes; i++) {
    busy |= r->used[r->nodes[i].router];
    dests += (r->nodes[i].out >> FAB_RAMP) & 1u;
  }
  const uint32_t all = r->colors == 32 ? UINT32_MAX : (1u << r->colors) - 1;
  fab_route rt = {src, dst, kind, root, r->nnodes - root, dests, 0};
  if ((busy & all) == all) {
    char d[96], what[128];
    describe(r, src, dst, kind, d, sizeof d);
    snprintf(what, sizeof what, "new route %u (%s)", r->nroutes, d);
    color_error(r, root, what, err, errlen);
    r->nnodes = root;
    return -1;
  }
  if (r->nroutes == r->route_cap) {
    uint32_t cap = r->route_cap ? 2 * r->route_cap : 256;
    fab_route *a = realloc(r->routes, (size_t)cap * sizeof *a);
    if (!a) {
      snprintf(err, errlen, "fabric: out of memory adding route %u", r->nroutes);
      r->nnodes = root;
      return -1;
    }
    r->routes = a;
    r->route_cap = cap;
  }
  rt.color = (uint32_t)__builtin_ctz(~busy & all);
  for (uint32_t i = root; i < r->nnodes; i++) {
    uint32_t *u = &r->used[r->nodes[i].router];
    *u |= 1u << rt.color;
    const uint32_t c = (uint32_t)__builtin_popcount(*u);
    if (c > r->colors_max) r->colors_max = c;
  }
  r->routes[r->nroutes] = rt;
  *id = r->nroutes++;
  return 0;
}

static int check_pe(const fab_routes *r, fab_pe p, const char *what, char *err, size_t errlen) {
  if (p < r->width * r->height) return 0;
  snprintf(err, errlen, "fabric: %s PE %u is off the %u x %u mesh", what, p, r->width, r->height);
  return -1;
}

/* A dimension-order path, X first or Y first. */
static int path(fab_routes *r, fab_pe src, fab_pe dst, bool y_first, uint32_t *id, char *err, size_t errlen) {
  if (check_pe(r, src, "source", err, errlen) || check_pe(r, dst, "destination", err, errlen))
    return -1;
  if (src == dst) {
    snprintf(err, errlen, "fabric: a path needs two different PEs, got (%u,%u) twice",
             fab_x(r->width, src), fab_y(r->width, src));
    return -1;
  }
  const uint32_t w = r->width, dx = fab_x(w, dst), dy = fab_y(w, dst);
  const uint32_t root = r->nnodes;
  uint32_t at = add_node(r, src, FAB_RAMP, FAB_NONE);
  while (at != FAB_NONE) {
    const uint32_t x = fab_x(w, r->nodes[at].router), y = fab_y(w, r->nodes[at].router);
    if (x == dx && y == dy) {
      r->nodes[at].out |= 1u << FAB_RAMP;
      break;
    }
    const fab_port xs = x < dx ? FAB_E : FAB_W, ys = y < dy ? FAB_S : FAB_N;
    at = extend(r, at, y_first ? (y != dy ? ys : xs) : (x != dx ? xs : ys));
  }
  if (at == FAB_NONE) {
    r->nnodes = root;
    snprintf(err, errlen, "fabric: out of memory building a path");
    return -1;
  }
  return commit(r, root, src, (fab_rect){dx, dy, 1, 1}, y_first ? FAB_ROUTE_PATH_YX : FAB_ROUTE_PATH, id, err,
                errlen);
}

int fab_routes_path(fab_routes *r, fab_pe src, fab_pe dst, uint32_t *id, char *err, size_t errlen) {
  return path(r, src, dst, false, id, err, errlen);
}

int fab_routes_path_yx(fab_routes *r, fab_pe src, fab_pe dst, uint32_t *id, char *err, size_t errlen) {
  return path(r, src, dst, true, id, err, errlen);
}

/* Extend the column from row node `from` at column x toward row `to`,
 * delivering inside q; false on out of memory. */
static bool column(fab_routes *r, uint32_t from, fab_port d, uint32_t to, fab_rect q) {
  const uint32_t w = r->width, x = fab_x(w, r->nodes[from].router);
  for (uint32_t at = from; fab_y(w, r->nodes[at].router) != to;) {
    at = extend(r, at, d);
    if (at == FAB_NONE) return false;
    if (in_rect(q, x, fab_y(w, r->nodes[at].router))) r->nodes[at].out |= 1u << FAB_RAMP;
  }
  return true;
}

int fab_routes_rect(fab_routes *r, fab_pe src, fab_rect q, uint32_t *id, char *err,
                    size_t errlen) {
  const uint32_t w = r->width;
  if (check_pe(r, src, "source", err, errlen)) return -1;
  if (q.w == 0 || q.h == 0 || q.x + q.w > r->width || q.y + q.h > r->height ||
      q.x + q.w < q.x || q.y + q.h < q.y) {
    snprintf(err, errlen, "fabric: rectangle %ux%u at (%u,%u) is empty or off the %u x %u mesh",
             q.w, q.h, q.x, q.y, r->width, r->height);
    return -1;
  }
  const uint32_t sx = fab_x(w, src), sy = fab_y(w, src);
  if (q.w == 1 && q.h == 1 && q.x == sx && q.y == sy) {
    snprintf(err, errlen, "fabric: a multicast from (%u,%u) to itself only delivers nothing", sx, sy);
    return -1;
  }
  const uint32_t x0 = q.x, x1 = q.x + q.w - 1, y0 = q.y, y1 = q.y + q.h - 1;
  const uint32_t root = r->nnodes;
  bool ok = add_node(r, src, FAB_RAMP, FAB_NONE) != FAB_NONE;
  /* The row of the source, from min(sx, x0) to max(sx, x1); from each of its
   * routers inside [x0, x1], the column toward the rectangle. */
  for (int side = 0; ok && side < 2; side++) {
    const fab_port d = side ? FAB_W : FAB_E;
    const uint32_t end = side ? (sx < x0 ? sx : x0) : (sx > x1 ? sx : x1);
    uint32_t at = root;
    for (;;) {
      const uint32_t x = fab_x(w, r->nodes[at].router);
      if (x >= x0 && x <= x1 && (side == 0 || at != root)) { /* the root's column once */
        if (in_rect(q, x, sy) && at != root) r->nodes[at].out |= 1u << FAB_RAMP;
        if (y0 < sy) ok = ok && column(r, at, FAB_N, y0, q);
        if (y1 > sy) ok = ok && column(r, at, FAB_S, y1, q);
      }
      if (!ok || x == end) break;
      at = extend(r, at, d);
      ok = at != FAB_NONE;
    }
  }
  if (!ok) {
    r->nnodes = root;
    snprintf(err, errlen, "fabric: out of memory building a multicast tree");
    return -1;
  }
  return commit(r, root, src, q, FAB_ROUTE_RECT, id, err, errlen);
}

uint32_t fab_routes_count(const fab_routes *r) { return r->nroutes; }
uint32_t fab_routes_node_count(const fab_routes *r) { return r->nnodes; }
const fab_route *fab_routes_get(const fab_routes *r, uint32_t id) { return &r->routes[id]; }
const fab_node *fab_routes_node(const fab_routes *r, uint32_t index) { return &r->nodes[index]; }

uint32_t fab_routes_endpoint(const fab_routes *r, uint32_t id, fab_pe pe) {
  const fab_route *rt = &r->routes[id];
  for (uint32_t i = rt->root; i < rt->root + rt->nodes; i++)
    if (r->nodes[i].router == pe && (r->nodes[i].out >> FAB_RAMP & 1u)) return i;
  return FAB_NONE;
}

uint32_t fab_routes_colors_at(const fab_routes *r, fab_pe pe) {
  return (uint32_t)__builtin_popcount(r->used[pe]);
}
uint32_t fab_routes_colors_max(const fab_routes *r) { return r->colors_max; }

size_t fab_routes_bytes(const fab_routes *r) {
  return sizeof *r + (size_t)r->route_cap * sizeof *r->routes +
         (size_t)r->node_cap * sizeof *r->nodes + (size_t)r->width * r->height * sizeof *r->used;
}
