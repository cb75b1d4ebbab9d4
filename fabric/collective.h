/* Collectives as the kernels use them: routes made once (a plan), then any
 * number of rounds, each moving one message per member PE.
 *   multicast  one member (the source) sends to every PE of a rectangle but itself;
 *   chain      along a row or column from `from` to `to`: each member adds its
 *              data to what arrives from behind and forwards it; `to` keeps the
 *              sum (a tree of the line into `to`, one chain side);
 *   reduce     a rectangle to its corner (q.x, q.y): each row chains into the
 *              first column, which chains to the corner; with broadcast the
 *              corner multicasts the sums back to the rectangle, wavelet by
 *              wavelet (an all-reduce);
 *   line       a row or column to any PE `root` on it: the two sides chain into
 *              the root, which keeps the sums or, with broadcast, multicasts
 *              them back (so a column's result can leave from any row);
 *   tree       a rectangle to any PE `root` of it, segmented: every row reduces
 *              into its PE on the root's column, that column into the root,
 *              each line's two sides cut into segments of seg PEs (seg_x along
 *              rows, seg_y along the column; 0 or at least the side: a chain
 *              toward the root). A segment chains away from the root into its
 *              last member, the collector; each collector adds the next one's
 *              sum and sends to the previous collector (the nearest: to the
 *              root) on the links toward the root, through the routers
 *              between without entering their cores. Latency grows with a
 *              side's length L as L hops plus about seg + L / seg core passes
 *              instead of L (fab_coll_tree_cycles); no member takes more than
 *              four inputs. With broadcast the root multicasts the sums back.
 *              reduce (root at the corner), line and chain are trees of chains;
 *   copy       member (i, j) of src sends to PE (i, j) of dst.
 * Members are numbered row-major over the collective's PEs. */
#ifndef WAFERSIM_FABRIC_COLLECTIVE_H
#define WAFERSIM_FABRIC_COLLECTIVE_H

#include <stddef.h>
#include <stdint.h>

#include "fabric.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fab_coll fab_coll;

/* Plans; NULL with the reason in err. The caller frees them with
 * fab_coll_destroy (the routes stay in the fabric). */
fab_coll *fab_coll_multicast(fab_fabric *f, fab_pe src, fab_rect q, char *err, size_t errlen);
fab_coll *fab_coll_chain(fab_fabric *f, fab_pe from, fab_pe to, char *err, size_t errlen);
fab_coll *fab_coll_reduce(fab_fabric *f, fab_rect q, int broadcast, char *err, size_t errlen);
fab_coll *fab_coll_line(fab_fabric *f, fab_rect q, fab_pe root, int broadcast, char *err, size_t errlen);
fab_coll *fab_coll_tree(fab_fabric *f, fab_rect q, fab_pe root, uint32_t seg_x, uint32_t seg_y, int broadcast,
                        char *err, size_t errlen);
fab_coll *fab_coll_copy(fab_fabric *f, fab_rect src, fab_rect dst, char *err, size_t errlen);
void fab_coll_destroy(fab_coll *c);

/* The analytic model of a tree on an idle mesh, its members' data ready at
 * cycle 0, as train fidelity times it: a member sends add_latency after its
 * core has started on its last input (trains that reach it together share
 * the ramp down and the receive unit, each waiting at most its own length);
 * its train's head reaches the next core 2 ramp + hops x hop later (one hop
 * along a segment, to the next collector as many as between them). A
 * side's sums never share a link. The result: the cycles until the root's
 * sums are done, with broadcast until the farthest PE has its copy (2 ramp
 * and its hops more), counting from cycle 0 as the fabric's last_cycle + 1
 * does. Exact without broadcast, and with it for n = 1; with longer vectors
 * the multicast may meet sums still arriving, and the model is a lower bound. */
uint64_t fab_coll_tree_cycles(const fab_config *c, fab_rect q, uint32_t rx, uint32_t ry, uint32_t seg_x,
                              uint32_t seg_y, uint32_t n, int broadcast);
/* The segment for a side of len members and n wavelets: the one of fewest
 * modelled cycles (len: a chain, chosen on a tie). */
uint32_t fab_coll_best_segment(const fab_config *c, uint32_t len, uint32_t n);

uint32_t fab_coll_members(const fab_coll *c);
fab_pe fab_coll_member(const fab_coll *c, uint32_t i);
/* The member that ends with the result (chain: `to`; reduce: the corner;
 * line: the root; multicast: the source), FAB_NONE for copy. */
uint32_t fab_coll_result(const fab_coll *c);

/* One round. */
typedef struct {
  uint32_t n;       /* wavelets per message */
  uint64_t ready;   /* all members' data ready at this cycle, or FAB_LATER (fab_ready each) */
  uint32_t values;  /* functional values per message, 0 for timing only */
  const float *const *own; /* per member, its `values` values (NULL entries: none) */
  bool own_later;          /* members' values come with fab_ready_values instead */
  fab_op op;
  bool quiet; /* no fab_done_fn call for the members but the result's (fab_transfer.quiet) */
} fab_round;

/* Make one round's transfers; per member its transfer in xfers[] (may be
 * NULL). 0, or -1 with the reason in err. */
int fab_coll_round(fab_fabric *f, const fab_coll *c, const fab_round *r, fab_xfer *xfers,
                   char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
