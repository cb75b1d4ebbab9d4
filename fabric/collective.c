/* Collective plans from routes; rounds from transfers (see collective.h). */
#include "collective.h"

#include <stdio.h>
#include <stdlib.h>

/* What one member does each round: take a message from each input route,
 * add its data, send on `out` (or keep). */
typedef struct {
  fab_pe pe;
  uint32_t in[2], nin, out;
} member;

struct fab_coll {
  uint32_t count, result;
  member *m; /* owned, count */
};

static fab_coll *plan(uint32_t count, char *err, size_t errlen) {
  fab_coll *c = calloc(1, sizeof *c);
  if (c) c->m = calloc(count, sizeof *c->m);
  if (!c || !c->m) {
    fab_coll_destroy(c);
    snprintf(err, errlen, "fabric: out of memory for a collective of %u PEs", count);
    return NULL;
  }
  c->count = count;
  c->result = FAB_NONE;
  for (uint32_t i = 0; i < count; i++) c->m[i] = (member){FAB_NONE, {FAB_NONE, FAB_NONE}, 0, FAB_NONE};
  return c;
}

void fab_coll_destroy(fab_coll *c) {
  if (!c) return;
  free(c->m);
  free(c);
}

uint32_t fab_coll_members(const fab_coll *c) { return c->count; }
fab_pe fab_coll_member(const fab_coll *c, uint32_t i) { return c->m[i].pe; }
uint32_t fab_coll_result(const fab_coll *c) { return c->result; }

fab_coll *fab_coll_multicast(fab_fabric *f, fab_pe src, fab_rect q, char *err, size_t errlen) {
  fab_coll *c = plan(1, err, errlen);
  if (!c) return NULL;
  c->m[0].pe = src;
  c->result = 0;
  if (fab_route_rect(f, src, q, &c->m[0].out, err, errlen) != 0) {
    fab_coll_destroy(c);
    return NULL;
  }
  return c;
}

/* The PE one step from p toward q along their shared row or column. */
static fab_pe toward(uint32_t width, fab_pe p, fab_pe q) {
  const uint32_t px = fab_x(width, p), qx = fab_x(width, q), py = fab_y(width, p), qy = fab_y(width, q);
  if (px != qx) return fab_step(width, p, px < qx ? FAB_E : FAB_W);
  return fab_step(width, p, py < qy ? FAB_S : FAB_N);
}

/* Members m[0..] along the line from `from` to, not including, `to`: each
 * adds and forwards one step toward `to`. Returns the route into `to`. */
static int chain_into(fab_fabric *f, member *m, fab_pe from, fab_pe to, uint32_t *into, char *err,
                      size_t errlen) {
  const uint32_t w = fab_config_of(f)->width;
  uint32_t in = FAB_NONE, k = 0;
  for (fab_pe p = from; p != to; p = toward(w, p, to), k++) {
    m[k].pe = p;
    m[k].in[0] = in;
    m[k].nin = in != FAB_NONE;
    if (fab_route_path(f, p, toward(w, p, to), &m[k].out, err, errlen) != 0) return -1;
    in = m[k].out;
  }
  *into = in;
  return 0;
}

fab_coll *fab_coll_chain(fab_fabric *f, fab_pe from, fab_pe to, char *err, size_t errlen) {
  const uint32_t w = fab_config_of(f)->width;
  const uint32_t fx = fab_x(w, from), tx = fab_x(w, to), fy = fab_y(w, from), ty = fab_y(w, to);
  if (from == to || (fx != tx && fy != ty)) {
    snprintf(err, errlen, "fabric: a chain needs two different PEs on one row or column");
    return NULL;
  }
  const uint32_t count = 1 + (fx != tx ? (fx > tx ? fx - tx : tx - fx) : (fy > ty ? fy - ty : ty - fy));
  fab_coll *c = plan(count, err, errlen);
  if (!c) return NULL;
  member *last = &c->m[count - 1];
  if (chain_into(f, c->m, from, to, &last->in[0], err, errlen) != 0) {
    fab_coll_destroy(c);
    return NULL;
  }
  last->pe = to;
  last->nin = 1;
  c->result = count - 1;
  return c;
}

fab_coll *fab_coll_reduce(fab_fabric *f, fab_rect q, int broadcast, char *err, size_t errlen) {
  const uint32_t w = fab_config_of(f)->width;
  if (q.w * q.h < 2) {
    snprintf(err, errlen, "fabric: a reduction needs at least two PEs, got %u x %u", q.w, q.h);
    return NULL;
  }
  fab_coll *c = plan(q.w * q.h, err, errlen);
  if (!c) return NULL;
  c->result = 0;
  uint32_t bcast = FAB_NONE;
  if (broadcast && fab_route_rect(f, fab_at(w, q.x, q.y), q, &bcast, err, errlen) != 0) goto fail;
  /* Bottom-up along the first column: each of its PEs takes its row's chain
   * and the column's chain from below, and sends north (the corner keeps the
   * sums, or multicasts them). Row y's members are m[y * q.w .. + q.w - 1],
   * its chain running from the last column back to the first. */
  uint32_t from_below = FAB_NONE;
  for (uint32_t k = q.h; k-- > 0;) {
    const uint32_t y = q.y + k;
    member *row = &c->m[k * q.w], *head = &row[0];
    head->pe = fab_at(w, q.x, y);
    head->out = bcast;
    if (q.w > 1) { /* the chain runs right to left: made in that order, then reversed */
      if (chain_into(f, row + 1, fab_at(w, q.x + q.w - 1, y), head->pe, &head->in[head->nin++],
                     err, errlen) != 0)
        goto fail;
      for (uint32_t i = 1, j = q.w - 1; i < j; i++, j--) {
        const member t = row[i];
        row[i] = row[j];
        row[j] = t;
      }
    }
    if (from_below != FAB_NONE) head->in[head->nin++] = from_below;
    if (k > 0 && fab_route_path(f, head->pe, fab_at(w, q.x, y - 1), &head->out, err, errlen) != 0)
      goto fail;
    from_below = head->out;
  }
  return c;
fail:
  fab_coll_destroy(c);
  return NULL;
}

fab_coll *fab_coll_line(fab_fabric *f, fab_rect q, fab_pe root, int broadcast, char *err, size_t errlen) {
  const uint32_t w = fab_config_of(f)->width, n = q.w * q.h, rx = fab_x(w, root), ry = fab_y(w, root);
  if ((q.w != 1 && q.h != 1) || n < 2 || rx < q.x || rx >= q.x + q.w || ry < q.y || ry >= q.y + q.h) {
    snprintf(err, errlen, "fabric: a line reduction needs a row or column of two PEs or more and a root on it");
    return NULL;
  }
  fab_coll *c = plan(n, err, errlen);
  if (!c) return NULL;
  const uint32_t ri = (rx - q.x) + (ry - q.y); /* the root's place along the line */
  const fab_pe first = fab_at(w, q.x, q.y), last = fab_at(w, q.x + q.w - 1, q.y + q.h - 1);
  member *r = &c->m[ri];
  r->pe = root;
  c->result = ri;
  if (broadcast && fab_route_rect(f, root, q, &r->out, err, errlen) != 0) goto fail;
  if (ri > 0 && chain_into(f, c->m, first, root, &r->in[r->nin++], err, errlen) != 0) goto fail;
  if (ri + 1 < n) { /* from the far end back to the root: made in that order, then reversed */
    if (chain_into(f, &c->m[ri + 1], last, root, &r->in[r->nin++], err, errlen) != 0) goto fail;
    for (uint32_t i = ri + 1, j = n - 1; i < j; i++, j--) {
      const member t = c->m[i];
      c->m[i] = c->m[j];
      c->m[j] = t;
    }
  }
  return c;
fail:
  fab_coll_destroy(c);
  return NULL;
}

fab_coll *fab_coll_copy(fab_fabric *f, fab_rect src, fab_rect dst, char *err, size_t errlen) {
  const uint32_t w = fab_config_of(f)->width;
  if (src.w != dst.w || src.h != dst.h) {
    snprintf(err, errlen, "fabric: copy between %ux%u and %ux%u regions", src.w, src.h, dst.w,
             dst.h);
    return NULL;
  }
  fab_coll *c = plan(src.w * src.h, err, errlen);
  if (!c) return NULL;
  for (uint32_t j = 0; j < src.h; j++) {
    for (uint32_t i = 0; i < src.w; i++) {
      member *m = &c->m[j * src.w + i];
      m->pe = fab_at(w, src.x + i, src.y + j);
      if (fab_route_path(f, m->pe, fab_at(w, dst.x + i, dst.y + j), &m->out, err, errlen) != 0) {
        fab_coll_destroy(c);
        return NULL;
      }
    }
  }
  return c;
}

int fab_coll_round(fab_fabric *f, const fab_coll *c, const fab_round *r, fab_xfer *xfers,
                   char *err, size_t errlen) {
  for (uint32_t i = 0; i < c->count; i++) {
    const member *m = &c->m[i];
    const fab_transfer t = {m->pe,     m->in,    m->nin, m->out, r->n, r->ready, r->values,
                            r->own ? r->own[i] : NULL, r->own_later, r->op, r->quiet && i != c->result};
    fab_xfer x;
    if (fab_combine(f, &t, &x, err, errlen) != 0) return -1;
    if (xfers) xfers[i] = x;
  }
  return 0;
}
