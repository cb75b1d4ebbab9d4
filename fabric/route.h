/* Routes on the mesh and their colors. A route carries wavelets from one
 * PE's core to the cores of one or more PEs along a tree of router hops
 * (nodes): dimension-order paths for unicast (X then Y, or Y then X), and X-then-Y trees
 * for multicast to a rectangle (a row or a column is a 1-high or 1-wide
 * rectangle), where a router forwards one wavelet to several outputs in the
 * same cycle. A route uses one color on every router it crosses, so a
 * router carries at most `colors` routes: a route that would cross a full
 * router is an error naming it and the routes it carries. A new route takes
 * the first color free on all its routers; if there is none, it waits for
 * fab_routes_recolor (first-fit in the order routes come fragments the
 * colors: routes over regions of different loads leave different holes). */
#ifndef WAFERSIM_FABRIC_ROUTE_H
#define WAFERSIM_FABRIC_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FAB_COLORS_MAX 32

/* One hop of a route: the router it is at, the port its wavelets enter by
 * (FAB_RAMP at the source), and where they leave. */
typedef struct {
  fab_pe router;
  uint8_t in;         /* fab_port */
  uint8_t out;        /* bit (1 << port) per output; the FAB_RAMP bit delivers to this PE */
  uint16_t unused;
  uint32_t parent;    /* previous hop, FAB_NONE at the source */
  uint32_t child[4];  /* next hop per N, E, S, W output, FAB_NONE if none */
} fab_node;

typedef enum { FAB_ROUTE_PATH, FAB_ROUTE_RECT, FAB_ROUTE_PATH_YX, FAB_ROUTE_TREE } fab_route_kind;

typedef struct {
  fab_pe src;           /* PE whose core injects */
  fab_rect dst;         /* destination PEs (1 x 1 for a path; a tree's: their bounding box);
                           the source is never one */
  fab_route_kind kind;
  uint32_t via;         /* PATH: the column it turns into Y at; PATH_YX: the row it turns into X at */
  uint32_t root;        /* first node; the route's nodes are root .. root + nodes - 1 */
  uint32_t nodes;       /* router hops */
  uint32_t dests;       /* PEs it delivers to */
  uint32_t color;       /* FAB_NONE until fab_routes_recolor when first-fit found none */
} fab_route;

typedef struct fab_routes fab_routes;

/* A route table for a width x height mesh with `colors` (1..32) per router.
 * NULL on out of memory. The caller frees it with fab_routes_destroy. */
fab_routes *fab_routes_create(uint32_t width, uint32_t height, uint32_t colors);
void fab_routes_destroy(fab_routes *r);

/* Add an X-then-Y path from src to dst (distinct PEs), or an X-then-Y
 * multicast tree from src to every PE of dst but src. 0 and its id, or -1
 * with the reason in err (off the mesh, nothing to deliver to, no color). */
int fab_routes_path(fab_routes *r, fab_pe src, fab_pe dst, uint32_t *id, char *err,
                    size_t errlen);
int fab_routes_rect(fab_routes *r, fab_pe src, fab_rect dst, uint32_t *id, char *err,
                    size_t errlen);
/* A path with two turns: Y first along the source's column to row `via`,
 * along it to the destination's column, then to the destination; or X
 * first, turning at column `via`. Y first at via = dst's row is Y-then-X,
 * X first at via = dst's column is fab_routes_path. */
int fab_routes_path_via(fab_routes *r, fab_pe src, fab_pe dst, bool y_first, uint32_t via, uint32_t *id,
                        char *err, size_t errlen);
/* A multicast tree from src to each of the n PEs of dst (distinct, none of
 * them src): the union of the Y-then-X paths to them, which share the
 * source's column and part on the rows of the destinations (one color
 * where a path each would take one per destination). */
int fab_routes_tree(fab_routes *r, fab_pe src, const fab_pe *dst, uint32_t n, uint32_t *id, char *err,
                    size_t errlen);

/* Y then X if it has a color free on all its routers (between regions side
 * by side, routes from a row of PEs to a column of PEs then spread over rows
 * instead of sharing the destination's column); else the cheapest of the
 * other shortest paths (Y first turning at any row, X first at any column
 * between the two PEs) and detours of up to 64 rows or columns, whose
 * routers all have room, by hops plus the square of the routes on each
 * router. If none has room, the error is Y then X's. */
int fab_routes_path_free(fab_routes *r, fab_pe src, fab_pe dst, uint32_t *id, char *err, size_t errlen);

/* Hold (take) or give back one of router pe's colors for a route still to
 * come from or to it, so that routes added before it go around (held
 * colors count as routes; more may be held than the router has). -1 if pe
 * is off the mesh, or holds 255 (take) or none (give back). */
int fab_routes_reserve(fab_routes *r, fab_pe pe, bool take);

/* Give every route a color, if some route has none yet: the routes from
 * the first without one on are colored again, the longest first, and a
 * route still without one takes a color by moving every route that holds
 * it on its routers to another color free on all of theirs. 0, or -1
 * naming a route that found no color and its busiest router. */
int fab_routes_recolor(fab_routes *r, char *err, size_t errlen);

uint32_t fab_routes_count(const fab_routes *r);
uint32_t fab_routes_node_count(const fab_routes *r);
const fab_route *fab_routes_get(const fab_routes *r, uint32_t id);
const fab_node *fab_routes_node(const fab_routes *r, uint32_t index);

/* Node of route id at router pe that delivers to pe's core, FAB_NONE if none. */
uint32_t fab_routes_endpoint(const fab_routes *r, uint32_t id, fab_pe pe);

/* Routes through router pe (the colors it needs), and the most at any router. */
uint32_t fab_routes_colors_at(const fab_routes *r, fab_pe pe);
uint32_t fab_routes_colors_max(const fab_routes *r);

/* "path (0,3)->(9,3)" or "rect (0,3)->[1..749]x[3..3]". */
void fab_routes_describe(const fab_routes *r, uint32_t id, char *buf, size_t len);

size_t fab_routes_bytes(const fab_routes *r);

#ifdef __cplusplus
}
#endif
#endif
