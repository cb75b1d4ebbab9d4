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
  uint8_t *load;    /* owned, per router: routes through it, colored or not yet */
  uint32_t colors_max;
  uint32_t uncolored; /* routes added without a color, waiting for fab_routes_recolor */
  /* routes per router, summed along rows and columns (Fenwick trees: row y
     over x at row_sum[y * (width + 1)], column x over y at col_sum[x * (height + 1)]),
     so that a candidate path's load is a few prefix sums */
  uint32_t *row_sum, *col_sum;
  uint64_t *cand; /* scratch: candidate paths, cost << 24 | index */
  uint32_t cand_cap;
};

static void fenwick_add(uint32_t *t, uint32_t n, uint32_t i, uint32_t v) {
  for (i++; i <= n; i += i & -i) t[i] += v;
}
static int cmp_u64(const void *a, const void *b) {
  const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* What a router with n routes adds to a path's cost. */
static uint32_t weight(uint32_t n) { return n * n; }
static uint64_t fenwick_prefix(const uint32_t *t, uint32_t i) { /* sum of [0, i) */
  uint64_t s = 0;
  for (; i > 0; i -= i & -i) s += t[i];
  return s;
}

fab_routes *fab_routes_create(uint32_t width, uint32_t height, uint32_t colors) {
  fab_routes *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->width = width;
  r->height = height;
  r->colors = colors;
  r->used = calloc((size_t)width * height, sizeof *r->used);
  r->load = calloc((size_t)width * height, sizeof *r->load);
  r->row_sum = calloc((size_t)height * (width + 1), sizeof *r->row_sum);
  r->col_sum = calloc((size_t)width * (height + 1), sizeof *r->col_sum);
  if (!r->used || !r->load || !r->row_sum || !r->col_sum) {
    fab_routes_destroy(r);
    return NULL;
  }
  return r;
}

void fab_routes_destroy(fab_routes *r) {
  if (!r) return;
  free(r->routes);
  free(r->nodes);
  free(r->used);
  free(r->load);
  free(r->row_sum);
  free(r->col_sum);
  free(r->cand);
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

static void describe(const fab_routes *r, fab_pe src, fab_rect dst, fab_route_kind kind, uint32_t via,
                     char *buf, size_t len) {
  char s[32], how[48] = "";
  describe_pe(r, src, s, sizeof s);
  if (kind == FAB_ROUTE_PATH && via != dst.x) snprintf(how, sizeof how, " (x first, turning at column %u)", via);
  if (kind == FAB_ROUTE_PATH_YX)
    snprintf(how, sizeof how, via == dst.y ? " (y first)" : " (y first, turning at row %u)", via);
  if (kind == FAB_ROUTE_PATH || kind == FAB_ROUTE_PATH_YX)
    snprintf(buf, len, "path%s %s->(%u,%u)", how, s, dst.x, dst.y);
  else if (kind == FAB_ROUTE_TREE)
    snprintf(buf, len, "tree %s->PEs in [%u..%u]x[%u..%u]", s, dst.x, dst.x + dst.w - 1, dst.y, dst.y + dst.h - 1);
  else
    snprintf(buf, len, "rect %s->[%u..%u]x[%u..%u]", s, dst.x, dst.x + dst.w - 1, dst.y,
             dst.y + dst.h - 1);
}

void fab_routes_describe(const fab_routes *r, uint32_t id, char *buf, size_t len) {
  const fab_route *rt = &r->routes[id];
  describe(r, rt->src, rt->dst, rt->kind, rt->via, buf, len);
}

/* No color is free on every router of a route (nodes [first, end)): name
 * its busiest router and the routes through it. */
static void color_error(const fab_routes *r, uint32_t first, uint32_t end, const char *what, char *err,
                        size_t errlen) {
  fab_pe worst = r->nodes[first].router;
  for (uint32_t i = first; i < end; i++)
    if (r->load[r->nodes[i].router] > r->load[worst]) worst = r->nodes[i].router;
  char at[32];
  describe_pe(r, worst, at, sizeof at);
  int n = snprintf(err, errlen,
                   "fabric: no color is free on all %u routers of %s: together they use all %u "
                   "colors; the busiest, router %s, carries %d routes:",
                   end - first, what, r->colors, at, r->load[worst]);
  for (uint32_t id = 0, listed = 0; id < r->nroutes && n > 0 && (size_t)n < errlen; id++) {
    const fab_route *rt = &r->routes[id];
    for (uint32_t i = rt->root; i < rt->root + rt->nodes; i++) {
      if (r->nodes[i].router != worst) continue;
      char d[96], c[16] = "none yet";
      fab_routes_describe(r, id, d, sizeof d);
      if (rt->color != FAB_NONE) snprintf(c, sizeof c, "%u", rt->color);
      n += snprintf(err + n, errlen - (size_t)n, "%s %u (%s, color %s)", listed++ ? "," : "", id, d, c);
      break;
    }
  }
  if (n > 0 && (size_t)n < errlen)
    snprintf(err + n, errlen - (size_t)n, " (knob: fabric.colors = %u)", r->colors);
}

/* One route more (or less) through router pe, in its load and the sums. */
static void add_load(fab_routes *r, fab_pe pe, int delta) {
  const uint32_t x = fab_x(r->width, pe), y = fab_y(r->width, pe), was = r->load[pe];
  const uint32_t now = (uint32_t)((int)was + delta), v = weight(now) - weight(was); /* mod 2^32 if less */
  r->load[pe] = (uint8_t)now;
  fenwick_add(&r->row_sum[(size_t)y * (r->width + 1)], r->width, x, v);
  fenwick_add(&r->col_sum[(size_t)x * (r->height + 1)], r->height, y, v);
  if (now > r->colors_max) r->colors_max = now;
}

int fab_routes_reserve(fab_routes *r, fab_pe pe, bool take) {
  if (pe >= r->width * r->height || (take ? r->load[pe] == UINT8_MAX : r->load[pe] == 0)) return -1;
  add_load(r, pe, take ? 1 : -1);
  return 0;
}

/* Record the route of the nodes from `root` with the first color free on
 * all its routers, or with none yet (fab_routes_recolor gives it one) if
 * every router still has one free; else remove the nodes: some router
 * already carries as many routes as it has colors. */
static int commit(fab_routes *r, uint32_t root, fab_pe src, fab_rect dst, fab_route_kind kind,
                  uint32_t via, uint32_t *id, char *err, size_t errlen) {
  uint32_t busy = 0, dests = 0, most = 0;
  for (uint32_t i = root; i < r->nnodes; i++) {
    busy |= r->used[r->nodes[i].router];
    most = r->load[r->nodes[i].router] > most ? r->load[r->nodes[i].router] : most;
    dests += (r->nodes[i].out >> FAB_RAMP) & 1u;
  }
  const uint32_t all = r->colors == 32 ? UINT32_MAX : (1u << r->colors) - 1;
  fab_route rt = {src, dst, kind, via, root, r->nnodes - root, dests, FAB_NONE};
  if (most >= r->colors) {
    char d[96], what[128];
    describe(r, src, dst, kind, via, d, sizeof d);
    snprintf(what, sizeof what, "new route %u (%s)", r->nroutes, d);
    color_error(r, root, r->nnodes, what, err, errlen);
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
  if ((busy & all) != all) rt.color = (uint32_t)__builtin_ctz(~busy & all);
  else r->uncolored++;
  for (uint32_t i = root; i < r->nnodes; i++) {
    const fab_pe pe = r->nodes[i].router;
    if (rt.color != FAB_NONE) r->used[pe] |= 1u << rt.color;
    add_load(r, pe, 1);
  }
  r->routes[r->nroutes] = rt;
  *id = r->nroutes++;
  return 0;
}

/* Set (or clear) color c of route id on its routers. */
static void mark(fab_routes *r, const fab_route *rt, uint32_t c, bool on) {
  for (uint32_t i = rt->root; i < rt->root + rt->nodes; i++) {
    uint32_t *u = &r->used[r->nodes[i].router];
    *u = on ? *u | 1u << c : *u & ~(1u << c);
  }
}

static uint32_t busy_of(const fab_routes *r, const fab_route *rt) {
  uint32_t busy = 0;
  for (uint32_t i = rt->root; i < rt->root + rt->nodes; i++) busy |= r->used[r->nodes[i].router];
  return busy;
}

/* Routes through each router: ids[start[pe] .. start[pe + 1]). */
typedef struct {
  uint32_t *start, *ids;
} route_index;

static int index_routes(const fab_routes *r, route_index *x) {
  const size_t n = (size_t)r->width * r->height;
  x->start = calloc(n + 1, sizeof *x->start);
  x->ids = malloc(((size_t)r->nnodes + 1) * sizeof *x->ids);
  if (!x->start || !x->ids) return -1;
  for (uint32_t i = 0; i < r->nnodes; i++) x->start[r->nodes[i].router + 1]++;
  for (size_t pe = 0; pe < n; pe++) x->start[pe + 1] += x->start[pe];
  for (uint32_t id = 0; id < r->nroutes; id++)
    for (uint32_t i = r->routes[id].root; i < r->routes[id].root + r->routes[id].nodes; i++)
      x->ids[x->start[r->nodes[i].router]++] = id;
  for (size_t pe = n; pe > 0; pe--) x->start[pe] = x->start[pe - 1]; /* back to the starts */
  x->start[0] = 0;
  return 0;
}

/* Give route id (no color yet) color c by moving every route that holds c
 * on one of its routers to another color free on all of theirs; false (and
 * nothing changed) if one cannot move. */
static bool take_color(fab_routes *r, const route_index *x, uint32_t id, uint32_t c, uint32_t all) {
  const fab_route *rt = &r->routes[id];
  uint32_t moved[64], n = 0;
  for (uint32_t i = rt->root; i < rt->root + rt->nodes; i++) {
    const fab_pe pe = r->nodes[i].router;
    if (!(r->used[pe] >> c & 1u)) continue;
    for (uint32_t k = x->start[pe]; k < x->start[pe + 1]; k++) {
      fab_route *o = &r->routes[x->ids[k]];
      if (o->color != c) continue;
      const uint32_t free_c = ~(busy_of(r, o) | 1u << c) & all;
      if (!free_c || n == 64) goto undo;
      mark(r, o, c, false);
      o->color = (uint32_t)__builtin_ctz(free_c);
      mark(r, o, o->color, true);
      moved[n++] = x->ids[k];
      break;
    }
  }
  r->routes[id].color = c;
  mark(r, &r->routes[id], c, true);
  return true;
undo:
  while (n-- > 0) {
    fab_route *o = &r->routes[moved[n]];
    mark(r, o, o->color, false);
    o->color = c;
    mark(r, o, c, true);
  }
  return false;
}

int fab_routes_recolor(fab_routes *r, char *err, size_t errlen) {
  if (r->uncolored == 0) return 0;
  const uint32_t all = r->colors == 32 ? UINT32_MAX : (1u << r->colors) - 1;
  route_index x = {0};
  if (index_routes(r, &x) != 0) {
    free(x.start);
    free(x.ids);
    snprintf(err, errlen, "fabric: out of memory coloring %u routes", r->nroutes);
    return -1;
  }
  /* The routes before the first one left without a color keep theirs (a
     stage's own routes, added first); those from it on are colored again,
     the longest first, then each route still without a color takes one by
     moving the routes that hold it. */
  uint32_t first = 0;
  while (r->routes[first].color != FAB_NONE) first++;
  uint64_t *key = malloc(((size_t)r->nroutes - first + 1) * sizeof *key);
  if (!key) {
    free(x.start);
    free(x.ids);
    snprintf(err, errlen, "fabric: out of memory coloring %u routes", r->nroutes);
    return -1;
  }
  for (uint32_t id = first; id < r->nroutes; id++) {
    fab_route *rt = &r->routes[id];
    const uint32_t len = rt->nodes < 0xffffff ? rt->nodes : 0xffffff;
    key[id - first] = (uint64_t)(0xffffff - len) << 32 | id;
    if (rt->color != FAB_NONE) mark(r, rt, rt->color, false);
    rt->color = FAB_NONE;
  }
  qsort(key, r->nroutes - first, sizeof *key, cmp_u64);
  for (uint32_t k = 0; k < r->nroutes - first; k++) {
    fab_route *rt = &r->routes[(uint32_t)key[k]];
    const uint32_t busy = busy_of(r, rt);
    if ((busy & all) == all) continue;
    rt->color = (uint32_t)__builtin_ctz(~busy & all);
    mark(r, rt, rt->color, true);
  }
  free(key);
  int rc = 0;
  for (uint32_t id = 0; id < r->nroutes && rc == 0; id++) {
    fab_route *rt = &r->routes[id];
    if (rt->color != FAB_NONE) continue;
    const uint32_t busy = busy_of(r, rt);
    if ((busy & all) != all) { /* routes colored since have left one free */
      rt->color = (uint32_t)__builtin_ctz(~busy & all);
      mark(r, rt, rt->color, true);
      continue;
    }
    uint32_t c = 0;
    while (c < r->colors && !take_color(r, &x, id, c, all)) c++;
    if (c == r->colors) {
      char d[96], what[224];
      fab_routes_describe(r, id, d, sizeof d);
      snprintf(what, sizeof what, "route %u (%s), even moving the routes holding one color to others", id, d);
      color_error(r, rt->root, rt->root + rt->nodes, what, err, errlen);
      rc = -1;
    }
  }
  free(x.start);
  free(x.ids);
  if (rc == 0) r->uncolored = 0;
  return rc;
}

static int check_pe(const fab_routes *r, fab_pe p, const char *what, char *err, size_t errlen) {
  if (p < r->width * r->height) return 0;
  snprintf(err, errlen, "fabric: %s PE %u is off the %u x %u mesh", what, p, r->width, r->height);
  return -1;
}

/* A path with two turns: Y first (the source's column to row `via`, that
 * row to the destination's column, then its column) or X first (the
 * source's row to column `via`, ...). Dimension order is via = dy (Y
 * first) or via = dx (X first). */
typedef struct {
  bool y_first;
  uint32_t via;
} way;

/* Its corners: the source, two turns, the destination. False if it would
 * leave the mesh or cross a router twice (both legs in one column or row). */
static bool corners(const fab_routes *r, fab_pe src, fab_pe dst, way w, uint32_t cx[4], uint32_t cy[4]) {
  const uint32_t sx = fab_x(r->width, src), sy = fab_y(r->width, src);
  const uint32_t dx = fab_x(r->width, dst), dy = fab_y(r->width, dst);
  const uint32_t s = w.y_first ? sy : sx, d = w.y_first ? dy : dx, lim = w.y_first ? r->height : r->width;
  const bool same = w.y_first ? sx == dx : sy == dy;
  if (w.via >= lim || (same && (w.via < (s < d ? s : d) || w.via > (s < d ? d : s)))) return false;
  cx[0] = sx, cy[0] = sy, cx[3] = dx, cy[3] = dy;
  if (w.y_first) cx[1] = sx, cy[1] = w.via, cx[2] = dx, cy[2] = w.via;
  else cx[1] = w.via, cy[1] = sy, cx[2] = w.via, cy[2] = dy;
  return true;
}

static fab_port toward(uint32_t x, uint32_t y, uint32_t tx, uint32_t ty) {
  return x < tx ? FAB_E : x > tx ? FAB_W : y < ty ? FAB_S : FAB_N;
}

/* Way w's routers: the colors taken on any (into *busy) and the most
 * routes at one, which it returns. */
static uint32_t way_scan(const fab_routes *r, const uint32_t cx[4], const uint32_t cy[4], uint32_t *busy) {
  fab_pe at = fab_at(r->width, cx[0], cy[0]);
  uint32_t most = r->load[at];
  *busy = r->used[at];
  for (int k = 1; k < 4; k++) {
    uint32_t x = fab_x(r->width, at), y = fab_y(r->width, at);
    while (x != cx[k] || y != cy[k]) {
      at = fab_step(r->width, at, toward(x, y, cx[k], cy[k]));
      x = fab_x(r->width, at), y = fab_y(r->width, at);
      most = r->load[at] > most ? r->load[at] : most;
      *busy |= r->used[at];
    }
  }
  return most;
}

static int path(fab_routes *r, fab_pe src, fab_pe dst, way w, uint32_t *id, char *err, size_t errlen) {
  if (check_pe(r, src, "source", err, errlen) || check_pe(r, dst, "destination", err, errlen))
    return -1;
  if (src == dst) {
    snprintf(err, errlen, "fabric: a path needs two different PEs, got (%u,%u) twice",
             fab_x(r->width, src), fab_y(r->width, src));
    return -1;
  }
  uint32_t cx[4], cy[4];
  if (!corners(r, src, dst, w, cx, cy)) {
    snprintf(err, errlen, "fabric: a path from (%u,%u) to (%u,%u) cannot turn at %s %u", cx[0], cy[0],
             fab_x(r->width, dst), fab_y(r->width, dst), w.y_first ? "row" : "column", w.via);
    return -1;
  }
  const uint32_t root = r->nnodes;
  uint32_t at = add_node(r, src, FAB_RAMP, FAB_NONE);
  for (int k = 1; k < 4 && at != FAB_NONE; k++)
    for (;;) {
      const uint32_t x = fab_x(r->width, r->nodes[at].router), y = fab_y(r->width, r->nodes[at].router);
      if (x == cx[k] && y == cy[k]) break;
      if ((at = extend(r, at, toward(x, y, cx[k], cy[k]))) == FAB_NONE) break;
    }
  if (at == FAB_NONE) {
    r->nnodes = root;
    snprintf(err, errlen, "fabric: out of memory building a path");
    return -1;
  }
  r->nodes[at].out |= 1u << FAB_RAMP;
  return commit(r, root, src, (fab_rect){cx[3], cy[3], 1, 1}, w.y_first ? FAB_ROUTE_PATH_YX : FAB_ROUTE_PATH,
                w.via, id, err, errlen);
}

int fab_routes_path(fab_routes *r, fab_pe src, fab_pe dst, uint32_t *id, char *err, size_t errlen) {
  return path(r, src, dst, (way){false, fab_x(r->width, dst)}, id, err, errlen);
}

int fab_routes_path_via(fab_routes *r, fab_pe src, fab_pe dst, bool y_first, uint32_t via, uint32_t *id,
                        char *err, size_t errlen) {
  return path(r, src, dst, (way){y_first, via}, id, err, errlen);
}

/* The i-th way to try from src to dst (false past the last): Y first; the
 * other shortest paths, turning at rows from dy toward sy, then X first at
 * columns from dx toward sx; then detours, 1, 2, ... rows or columns
 * outside the box of the two PEs, each side in turn. */
#define DETOUR_MAX 64 /* rows or columns outside the box */
static bool nth_way(uint32_t sx, uint32_t sy, uint32_t dx, uint32_t dy, uint32_t i, way *w) {
  const uint32_t ny = (sy > dy ? sy - dy : dy - sy) + 1, nx = (sx > dx ? sx - dx : dx - sx) + 1;
  if (i < ny) {
    *w = (way){true, dy < sy ? dy + i : dy - i};
    return true;
  }
  i -= ny;
  if (i < nx) {
    *w = (way){false, dx < sx ? dx + i : dx - i};
    return true;
  }
  i -= nx;
  const uint32_t d = i / 4 + 1; /* detour */
  const uint32_t lo_y = sy < dy ? sy : dy, hi_y = sy < dy ? dy : sy, lo_x = sx < dx ? sx : dx,
                 hi_x = sx < dx ? dx : sx;
  if (d > DETOUR_MAX) return false;
  switch (i % 4) {
    case 0: *w = (way){true, hi_y + d}; break;
    case 1: *w = (way){true, lo_y >= d ? lo_y - d : UINT32_MAX}; break;
    case 2: *w = (way){false, hi_x + d}; break;
    default: *w = (way){false, lo_x >= d ? lo_x - d : UINT32_MAX}; break;
  }
  return true;
}

/* Routes on the routers from (x0, y0) to (x1, y1), both included, in one row or column. */
static uint64_t segment_load(const fab_routes *r, uint32_t x0, uint32_t y0, uint32_t x1, uint32_t y1) {
  if (y0 == y1) {
    const uint32_t *t = &r->row_sum[(size_t)y0 * (r->width + 1)];
    return fenwick_prefix(t, (x0 > x1 ? x0 : x1) + 1) - fenwick_prefix(t, x0 < x1 ? x0 : x1);
  }
  const uint32_t *t = &r->col_sum[(size_t)x0 * (r->height + 1)];
  return fenwick_prefix(t, (y0 > y1 ? y0 : y1) + 1) - fenwick_prefix(t, y0 < y1 ? y0 : y1);
}

/* A way's cost: its hops plus the routes already on its routers, so that a
 * new route avoids both detours and routers many routes share (a bundle of
 * routes on one segment needs as many colors, and every route crossing
 * it one more). */
static uint64_t way_cost(const fab_routes *r, const uint32_t cx[4], const uint32_t cy[4]) {
  uint64_t c = 0;
  for (int k = 1; k < 4; k++) {
    c += (cx[k] > cx[k - 1] ? cx[k] - cx[k - 1] : cx[k - 1] - cx[k]) +
         (cy[k] > cy[k - 1] ? cy[k] - cy[k - 1] : cy[k - 1] - cy[k]);
    c += segment_load(r, cx[k - 1], cy[k - 1], cx[k], cy[k]);
  }
  for (int k = 1; k < 3; k++) c -= weight(r->load[fab_at(r->width, cx[k], cy[k])]);
  return c;
}

int fab_routes_path_free(fab_routes *r, fab_pe src, fab_pe dst, uint32_t *id, char *err, size_t errlen) {
  if (check_pe(r, src, "source", err, errlen) || check_pe(r, dst, "destination", err, errlen))
    return -1;
  const uint32_t sx = fab_x(r->width, src), sy = fab_y(r->width, src);
  const uint32_t dx = fab_x(r->width, dst), dy = fab_y(r->width, dst);
  uint32_t n = 0, cx[4], cy[4];
  way w = {true, dy};
  const uint32_t all = r->colors == 32 ? UINT32_MAX : (1u << r->colors) - 1;
  uint32_t busy;
  if (src != dst && corners(r, src, dst, w, cx, cy) && way_scan(r, cx, cy, &busy) < r->colors && (busy & all) != all)
    return path(r, src, dst, w, id, err, errlen); /* Y then X has a color */
  for (uint32_t i = 1; src != dst && nth_way(sx, sy, dx, dy, i, &w); i++) {
    if (!corners(r, src, dst, w, cx, cy)) continue;
    if (n == r->cand_cap) {
      const uint32_t cap = r->cand_cap ? 2 * r->cand_cap : 1024;
      uint64_t *c = realloc(r->cand, (size_t)cap * sizeof *c);
      if (!c) break; /* the ways so far */
      r->cand = c;
      r->cand_cap = cap;
    }
    r->cand[n++] = way_cost(r, cx, cy) << 24 | i;
  }
  qsort(r->cand, n, sizeof *r->cand, cmp_u64); /* cheapest first, then in nth_way's order */
  for (uint32_t k = 0; k < n; k++) {
    nth_way(sx, sy, dx, dy, (uint32_t)(r->cand[k] & 0xffffff), &w);
    if (corners(r, src, dst, w, cx, cy) && way_scan(r, cx, cy, &busy) < r->colors)
      return path(r, src, dst, w, id, err, errlen);
  }
  return path(r, src, dst, (way){true, dy}, id, err, errlen); /* none free: Y first, for its error */
}

int fab_routes_tree(fab_routes *r, fab_pe src, const fab_pe *dst, uint32_t n, uint32_t *id, char *err,
                    size_t errlen) {
  if (check_pe(r, src, "source", err, errlen)) return -1;
  if (n == 0) {
    snprintf(err, errlen, "fabric: a tree needs a destination");
    return -1;
  }
  const uint32_t w = r->width;
  uint32_t x0 = UINT32_MAX, y0 = UINT32_MAX, x1 = 0, y1 = 0;
  const uint32_t root = r->nnodes;
  bool ok = add_node(r, src, FAB_RAMP, FAB_NONE) != FAB_NONE;
  for (uint32_t k = 0; ok && k < n; k++) {
    if (check_pe(r, dst[k], "destination", err, errlen) || dst[k] == src) {
      if (dst[k] == src) snprintf(err, errlen, "fabric: a tree's destination (%u,%u) is its source", fab_x(w, src),
                                  fab_y(w, src));
      r->nnodes = root;
      return -1;
    }
    const uint32_t dx = fab_x(w, dst[k]), dy = fab_y(w, dst[k]);
    x0 = dx < x0 ? dx : x0, x1 = dx > x1 ? dx : x1, y0 = dy < y0 ? dy : y0, y1 = dy > y1 ? dy : y1;
    uint32_t at = root; /* down the tree along the Y-then-X path, growing it where it ends */
    for (;;) {
      const uint32_t x = fab_x(w, r->nodes[at].router), y = fab_y(w, r->nodes[at].router);
      if (x == dx && y == dy) break;
      const fab_port d = y != dy ? (y < dy ? FAB_S : FAB_N) : (x < dx ? FAB_E : FAB_W);
      const uint32_t next = r->nodes[at].child[d] != FAB_NONE ? r->nodes[at].child[d] : extend(r, at, d);
      if (next == FAB_NONE) {
        ok = false;
        break;
      }
      at = next;
    }
    if (ok && (r->nodes[at].out >> FAB_RAMP & 1u)) {
      snprintf(err, errlen, "fabric: a tree's destination (%u,%u) is given twice", dx, dy);
      r->nnodes = root;
      return -1;
    }
    if (ok) r->nodes[at].out |= 1u << FAB_RAMP;
  }
  if (!ok) {
    r->nnodes = root;
    snprintf(err, errlen, "fabric: out of memory building a tree");
    return -1;
  }
  return commit(r, root, src, (fab_rect){x0, y0, x1 - x0 + 1, y1 - y0 + 1}, FAB_ROUTE_TREE, 0, id, err, errlen);
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
  return commit(r, root, src, q, FAB_ROUTE_RECT, 0, id, err, errlen);
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

uint32_t fab_routes_colors_at(const fab_routes *r, fab_pe pe) { return r->load[pe]; }
uint32_t fab_routes_colors_max(const fab_routes *r) { return r->colors_max; }

size_t fab_routes_bytes(const fab_routes *r) {
  return sizeof *r + (size_t)r->route_cap * sizeof *r->routes +
         (size_t)r->node_cap * sizeof *r->nodes + (size_t)r->width * r->height * (sizeof *r->used + sizeof *r->load) +
         (size_t)(r->width + 1) * (r->height + 1) * 2 * sizeof *r->row_sum + (size_t)r->cand_cap * sizeof *r->cand;
}
