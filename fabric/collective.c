/* Collectives from routes and transfers (see collective.h). */
#include "collective.h"

#include <stdio.h>

int fab_coll_multicast(fab_fabric *f, fab_pe src, fab_rect q, uint32_t n, uint64_t ready,
                       fab_xfer *sent, char *err, size_t errlen) {
  uint32_t route;
  if (fab_route_rect(f, src, q, &route, err, errlen) != 0) return -1;
  return fab_send(f, route, n, ready, sent, err, errlen);
}

/* The PE one step from p toward q along their shared row or column. */
static fab_pe toward(uint32_t width, fab_pe p, fab_pe q) {
  const uint32_t px = fab_x(width, p), qx = fab_x(width, q), py = fab_y(width, p), qy = fab_y(width, q);
  if (px != qx) return fab_step(width, p, px < qx ? FAB_E : FAB_W);
  return fab_step(width, p, py < qy ? FAB_S : FAB_N);
}

/* The chain from `from` up to, not including, `to`: each PE adds and forwards
 * one step toward `to`. Returns the route into `to` through *into. */
static int chain_into(fab_fabric *f, fab_pe from, fab_pe to, uint32_t n, uint64_t ready,
                      uint32_t *into, char *err, size_t errlen) {
  const uint32_t w = fab_config_of(f)->width;
  uint32_t in = FAB_NONE, out;
  fab_xfer x;
  for (fab_pe p = from; p != to; p = toward(w, p, to)) {
    if (fab_route_path(f, p, toward(w, p, to), &out, err, errlen) != 0 ||
        fab_combine(f, p, &in, in == FAB_NONE ? 0 : 1, out, n, ready, &x, err, errlen) != 0)
      return -1;
    in = out;
  }
  *into = in;
  return 0;
}

int fab_coll_chain(fab_fabric *f, fab_pe from, fab_pe to, uint32_t n, uint64_t ready,
                   fab_xfer *last, char *err, size_t errlen) {
  const uint32_t w = fab_config_of(f)->width;
  if (from == to || (fab_x(w, from) != fab_x(w, to) && fab_y(w, from) != fab_y(w, to))) {
    snprintf(err, errlen, "fabric: a chain needs two different PEs on one row or column");
    return -1;
  }
  uint32_t into;
  if (chain_into(f, from, to, n, ready, &into, err, errlen) != 0) return -1;
  return fab_combine(f, to, &into, 1, FAB_NONE, n, ready, last, err, errlen);
}

int fab_coll_reduce(fab_fabric *f, fab_rect q, uint32_t n, uint64_t ready, int broadcast,
                    fab_xfer *root, char *err, size_t errlen) {
  const uint32_t w = fab_config_of(f)->width;
  if (q.w * q.h < 2) {
    snprintf(err, errlen, "fabric: a reduction needs at least two PEs, got %u x %u", q.w, q.h);
    return -1;
  }
  uint32_t bcast = FAB_NONE;
  if (broadcast && fab_route_rect(f, fab_at(w, q.x, q.y), q, &bcast, err, errlen) != 0) return -1;
  /* Bottom-up along the first column: each of its PEs takes its row's chain
   * and the column's chain from below, and sends north (the corner keeps the
   * sums, or multicasts them). */
  uint32_t from_below = FAB_NONE;
  for (uint32_t k = q.h; k-- > 0;) {
    const uint32_t y = q.y + k;
    const fab_pe p = fab_at(w, q.x, y);
    uint32_t in[2], nin = 0, out = bcast;
    if (q.w > 1 && chain_into(f, fab_at(w, q.x + q.w - 1, y), p, n, ready, &in[nin++], err, errlen) != 0)
      return -1;
    if (from_below != FAB_NONE) in[nin++] = from_below;
    if (k > 0 && fab_route_path(f, p, fab_at(w, q.x, y - 1), &out, err, errlen) != 0) return -1;
    fab_xfer x;
    if (fab_combine(f, p, in, nin, out, n, ready, &x, err, errlen) != 0) return -1;
    if (k == 0) *root = x;
    from_below = out;
  }
  return 0;
}

int fab_coll_copy(fab_fabric *f, fab_rect src, fab_rect dst, uint32_t n, uint64_t ready,
                  char *err, size_t errlen) {
  const uint32_t w = fab_config_of(f)->width;
  if (src.w != dst.w || src.h != dst.h) {
    snprintf(err, errlen, "fabric: copy between %ux%u and %ux%u regions", src.w, src.h, dst.w,
             dst.h);
    return -1;
  }
  for (uint32_t j = 0; j < src.h; j++) {
    for (uint32_t i = 0; i < src.w; i++) {
      uint32_t route;
      fab_xfer x;
      if (fab_route_path(f, fab_at(w, src.x + i, src.y + j), fab_at(w, dst.x + i, dst.y + j), &route,
                         err, errlen) != 0 ||
          fab_send(f, route, n, ready, &x, err, errlen) != 0)
        return -1;
    }
  }
  return 0;
}
