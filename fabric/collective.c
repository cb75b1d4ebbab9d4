/* Collective plans from routes; rounds from transfers (see collective.h). */
#include "collective.h"

#include <stdio.h>
#include <stdlib.h>

/* What one member does each round: take a message from each input route,
 * add its data, send on `out` (or keep). */
typedef struct {
  fab_pe pe;
  uint32_t in[FAB_MAX_IN], nin, out;
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
  for (uint32_t i = 0; i < count; i++) c->m[i] = (member){.pe = FAB_NONE, .out = FAB_NONE};
  return c;
}

void fab_coll_destroy(fab_coll *c) {
  if (!c) return;
  free(c->m);
  free(c);
}

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

static void sort_u64(uint64_t *a, uint32_t k) { /* insertion sort: k <= FAB_MAX_IN */
  for (uint32_t i = 1; i < k; i++)
    for (uint32_t j = i; j > 0 && a[j - 1] > a[j]; j--) {
      const uint64_t t = a[j];
      a[j] = a[j - 1];
      a[j - 1] = t;
    }
}

/* k trains of `work` cycles through one unit, heads arriving at a[]: each
 * head goes when the unit lets it (train fidelity: at most its own work
 * behind the backlog); a[] becomes those cycles, sorted. */
static void share_unit(uint64_t *a, uint32_t k, uint64_t work) {
  sort_u64(a, k);
  uint64_t free_at = 0;
  for (uint32_t i = 0; i < k; i++) {
    const uint64_t backlog = free_at > a[i] ? free_at - a[i] : 0, t = a[i];
    a[i] = t + (work < backlog ? work : backlog);
    free_at = max_u64(free_at, t) + work;
  }
}

/* When a member's core has started on the last of k trains of n wavelets
 * whose heads reach it at a[] uncontended: they share the ramp down from its
 * router, then its receive unit (a[] is changed). */
static uint64_t received(const fab_config *c, uint64_t *a, uint32_t k, uint32_t n) {
  share_unit(a, k, n); /* the ramp: a head crossing it at a cycle reaches the core ramp_latency later */
  share_unit(a, k, (uint64_t)n * c->consume_cycles);
  return k ? a[k - 1] : 0;
}

/* The cycle the head of a side's sum reaches its root's core: the side has
 * len members in segments of seg (fab_coll_tree's side), and each also takes
 * `extra` trains arriving at extra[] (a row's sums, for the members of the
 * root's column). A member sends add cycles after its receive unit has
 * started on its last input (at cycle 0 with none); its train's head reaches
 * the next core 2 ramp + hops x hop later. */
static uint64_t side_arrival(const fab_config *c, uint32_t len, uint32_t seg, uint32_t n, const uint64_t *extra,
                             uint32_t nextra) {
  if (len == 0) return 0;
  uint64_t *send = calloc((size_t)len + 2, sizeof *send);
  if (!send) return UINT64_MAX; /* no estimate: never chosen */
  const uint64_t ramp = c->ramp_latency, hop = c->hop_latency;
  uint64_t in[FAB_MAX_IN];
  uint32_t k;
#define TAKE_EXTRA() for (k = 0; k < nextra; k++) in[k] = extra[k]
#define SEND(d) send[d] = k ? received(c, in, k, n) + c->add_latency : 0
  uint64_t into;
  if (seg == 0 || seg >= len) { /* a chain toward the root */
    for (uint32_t d = len; d > 0; d--) {
      TAKE_EXTRA();
      if (d < len) in[k++] = send[d + 1] + 2 * ramp + hop;
      SEND(d);
    }
    into = send[1] + 2 * ramp + hop;
  } else { /* segments away from the root, collectors toward it */
    for (uint32_t j = (len - 1) / seg + 1; j-- > 0;) {
      const uint32_t first = j * seg + 1, last = first + seg - 1 < len ? first + seg - 1 : len;
      for (uint32_t d = first; d <= last; d++) {
        TAKE_EXTRA();
        if (d > first) in[k++] = send[d - 1] + 2 * ramp + hop;
        if (d == last && last < len) {
          const uint32_t next = last + seg < len ? last + seg : len;
          in[k++] = send[next] + 2 * ramp + (uint64_t)(next - last) * hop;
        }
        SEND(d);
      }
    }
    into = send[seg] + 2 * ramp + (uint64_t)seg * hop;
  }
#undef TAKE_EXTRA
#undef SEND
  free(send);
  return into;
}

uint64_t fab_coll_tree_cycles(const fab_config *c, fab_rect q, uint32_t rx, uint32_t ry, uint32_t seg_x,
                              uint32_t seg_y, uint32_t n, int broadcast) {
  const uint32_t left = rx - q.x, right = q.x + q.w - 1 - rx, up = ry - q.y, down = q.y + q.h - 1 - ry;
  uint64_t row[2];
  uint32_t nrow = 0;
  if (left) row[nrow++] = side_arrival(c, left, seg_x, n, NULL, 0);
  if (right) row[nrow++] = side_arrival(c, right, seg_x, n, NULL, 0);
  uint64_t in[FAB_MAX_IN] = {0};
  uint32_t k = 0;
  for (uint32_t i = 0; i < nrow; i++) in[k++] = row[i];
  if (up) in[k++] = side_arrival(c, up, seg_y, n, row, nrow);
  if (down) in[k++] = side_arrival(c, down, seg_y, n, row, nrow);
  const uint64_t sum = received(c, in, k, n) + c->add_latency; /* the root's sums begin */
  const uint64_t far = (uint64_t)(left > right ? left : right) + (up > down ? up : down);
  return sum + n + (broadcast ? 2ull * c->ramp_latency + far * c->hop_latency : 0);
}

/* A side's latency alone: a tree of it and its root. */
static uint64_t side_cycles(const fab_config *c, uint32_t len, uint32_t seg, uint32_t n) {
  return fab_coll_tree_cycles(c, (fab_rect){0, 0, len + 1, 1}, 0, 0, seg, 0, n, 0);
}

uint32_t fab_coll_best_segment(const fab_config *c, uint32_t len, uint32_t n) {
  uint32_t best = len ? len : 1;
  uint64_t best_cost = side_cycles(c, len, len, n);
  for (uint32_t seg = 1; seg < len; seg++) {
    const uint64_t cost = side_cycles(c, len, seg, n);
    if (cost < best_cost) best = seg, best_cost = cost;
  }
  return best;
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

/* The member of a plan over q at PE p (row-major over q). */
static member *at(fab_coll *c, fab_rect q, uint32_t width, fab_pe p) {
  return &c->m[(fab_y(width, p) - q.y) * q.w + (fab_x(width, p) - q.x)];
}

/* The PE d steps from p through port dir. */
static fab_pe steps(uint32_t width, fab_pe p, fab_port dir, uint32_t d) {
  switch (dir) {
    case FAB_N: return p - d * width;
    case FAB_S: return p + d * width;
    case FAB_E: return p + d;
    default: return p - d;
  }
}

/* Member d of a chain side into `root` (the PE d steps from it through
 * dir, on a side of len members): it takes what member d + 1 sends and
 * sends one step toward the root. The members farther out are linked. */
static int chain_member(fab_fabric *f, fab_coll *c, fab_rect q, fab_pe root, fab_port dir, uint32_t d,
                        uint32_t len, char *err, size_t errlen) {
  const uint32_t w = fab_config_of(f)->width;
  member *m = at(c, q, w, steps(w, root, dir, d));
  m->pe = steps(w, root, dir, d);
  if (d < len) m->in[m->nin++] = at(c, q, w, steps(w, root, dir, d + 1))->out;
  return fab_route_path(f, m->pe, steps(w, root, dir, d - 1), &m->out, err, errlen);
}

/* A side of len members into root through dir, in segments of seg (see
 * collective.h); the root takes its sum. A chain (seg >= len) runs toward
 * the root, its members made from the far end. Segments run away from the
 * root into their last member, the collector, made from the farthest
 * segment in, each from its first member out: a collector takes its
 * segment's chain and the next collector's sum and sends to the previous
 * collector (or the root) over the links toward the root, which no segment
 * uses, so sums of one side never queue behind one another. */
static int side(fab_fabric *f, fab_coll *c, fab_rect q, fab_pe root, fab_port dir, uint32_t len, uint32_t seg,
                char *err, size_t errlen) {
  const uint32_t w = fab_config_of(f)->width;
  if (len == 0) return 0;
  if (seg >= len) {
    for (uint32_t d = len; d > 0; d--)
      if (chain_member(f, c, q, root, dir, d, len, err, errlen) != 0) return -1;
  } else {
    for (uint32_t j = (len - 1) / seg + 1; j-- > 0;) {
      const uint32_t first = j * seg + 1, last = first + seg - 1 < len ? first + seg - 1 : len;
      for (uint32_t d = first; d <= last; d++) {
        member *m = at(c, q, w, steps(w, root, dir, d));
        m->pe = steps(w, root, dir, d);
        if (d > first) m->in[m->nin++] = at(c, q, w, steps(w, root, dir, d - 1))->out;
        if (d == last && last < len) /* the next collector's sum */
          m->in[m->nin++] = at(c, q, w, steps(w, root, dir, d + seg < len ? d + seg : len))->out;
        const fab_pe to = d < last ? steps(w, root, dir, d + 1) : j > 0 ? steps(w, root, dir, first - 1) : root;
        if (fab_route_path(f, m->pe, to, &m->out, err, errlen) != 0) return -1;
      }
    }
  }
  member *r = at(c, q, w, root);
  r->in[r->nin++] = at(c, q, w, steps(w, root, dir, seg >= len ? 1 : seg))->out;
  return 0;
}

fab_coll *fab_coll_tree(fab_fabric *f, fab_rect q, fab_pe root, uint32_t seg_x, uint32_t seg_y, int broadcast,
                        char *err, size_t errlen) {
  const uint32_t w = fab_config_of(f)->width, rx = fab_x(w, root), ry = fab_y(w, root);
  if (q.w * q.h < 2 || rx < q.x || rx >= q.x + q.w || ry < q.y || ry >= q.y + q.h) {
    snprintf(err, errlen, "fabric: a reduction needs at least two PEs and its root among them, got %u x %u", q.w,
             q.h);
    return NULL;
  }
  const uint32_t sx = seg_x ? seg_x : q.w, sy = seg_y ? seg_y : q.h;
  fab_coll *c = plan(q.w * q.h, err, errlen);
  if (!c) return NULL;
  c->result = (ry - q.y) * q.w + (rx - q.x);
  const uint32_t left = rx - q.x, right = q.x + q.w - 1 - rx, up = ry - q.y, down = q.y + q.h - 1 - ry;
  if (broadcast && fab_route_rect(f, root, q, &c->m[c->result].out, err, errlen) != 0) goto fail;
  /* Row by row, the rows above the root's from the top, those below from the
   * bottom, the root's last: each row's two sides into its PE on the root's
   * column, which then joins the column's line into the root (a chain member
   * by member, segments once every row is in). */
  for (uint32_t k = 0; k < q.h; k++) {
    const uint32_t y = k < up ? q.y + k : k < up + down ? q.y + q.h - 1 - (k - up) : ry;
    const fab_pe p = fab_at(w, rx, y);
    at(c, q, w, p)->pe = p;
    if (side(f, c, q, p, FAB_W, left, sx, err, errlen) != 0 || side(f, c, q, p, FAB_E, right, sx, err, errlen) != 0)
      goto fail;
    if (y < ry && sy >= up && chain_member(f, c, q, root, FAB_N, ry - y, up, err, errlen) != 0) goto fail;
    if (y > ry && sy >= down && chain_member(f, c, q, root, FAB_S, y - ry, down, err, errlen) != 0) goto fail;
  }
  member *r = &c->m[c->result];
  if (sy >= up && up > 0) r->in[r->nin++] = at(c, q, w, steps(w, root, FAB_N, 1))->out;
  if (sy >= down && down > 0) r->in[r->nin++] = at(c, q, w, steps(w, root, FAB_S, 1))->out;
  if ((sy < up && side(f, c, q, root, FAB_N, up, sy, err, errlen) != 0) ||
      (sy < down && side(f, c, q, root, FAB_S, down, sy, err, errlen) != 0))
    goto fail;
  return c;
fail:
  fab_coll_destroy(c);
  return NULL;
}

fab_coll *fab_coll_chain(fab_fabric *f, fab_pe from, fab_pe to, char *err, size_t errlen) {
  const uint32_t w = fab_config_of(f)->width;
  const uint32_t fx = fab_x(w, from), tx = fab_x(w, to), fy = fab_y(w, from), ty = fab_y(w, to);
  if (from == to || (fx != tx && fy != ty)) {
    snprintf(err, errlen, "fabric: a chain needs two different PEs on one row or column");
    return NULL;
  }
  const fab_rect line = {fx < tx ? fx : tx, fy < ty ? fy : ty, (fx > tx ? fx - tx : tx - fx) + 1,
                         (fy > ty ? fy - ty : ty - fy) + 1};
  return fab_coll_tree(f, line, to, 0, 0, 0, err, errlen);
}

fab_coll *fab_coll_reduce(fab_fabric *f, fab_rect q, int broadcast, char *err, size_t errlen) {
  return fab_coll_tree(f, q, fab_at(fab_config_of(f)->width, q.x, q.y), 0, 0, broadcast, err, errlen);
}

fab_coll *fab_coll_line(fab_fabric *f, fab_rect q, fab_pe root, int broadcast, char *err, size_t errlen) {
  if (q.w != 1 && q.h != 1) {
    snprintf(err, errlen, "fabric: a line reduction needs a row or column of two PEs or more and a root on it");
    return NULL;
  }
  return fab_coll_tree(f, q, root, 0, 0, broadcast, err, errlen);
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
