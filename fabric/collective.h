/* Collectives as the kernels use them, built from routes and transfers
 * (fabric.h): multicast to a row, column or rectangle; chain reduction along
 * a row or column (each PE adds its partial to what arrives and forwards it);
 * 2-D reduction of a rectangle to a corner (rows chain into the first
 * column, which chains to the corner); all-reduction (the 2-D reduction,
 * then the corner multicasts the sums back, wavelet by wavelet); and
 * region-to-region copy. Every PE's own data is ready at `ready`. */
#ifndef WAFERSIM_FABRIC_COLLECTIVE_H
#define WAFERSIM_FABRIC_COLLECTIVE_H

#include <stddef.h>
#include <stdint.h>

#include "fabric.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Multicast n wavelets from src to every PE of q but src. *sent: the send. */
int fab_coll_multicast(fab_fabric *f, fab_pe src, fab_rect q, uint32_t n, uint64_t ready,
                       fab_xfer *sent, char *err, size_t errlen);

/* Chain reduction of n wavelets from PE `from` to PE `to` (distinct, on one
 * row or column): `to` ends with the sums. *last: the transfer at `to`. */
int fab_coll_chain(fab_fabric *f, fab_pe from, fab_pe to, uint32_t n, uint64_t ready,
                   fab_xfer *last, char *err, size_t errlen);

/* 2-D reduction of rectangle q (at least two PEs) to its corner (q.x, q.y);
 * with `broadcast`, the corner then multicasts the sums to all of q
 * (all-reduce). *root: the corner's transfer. */
int fab_coll_reduce(fab_fabric *f, fab_rect q, uint32_t n, uint64_t ready, int broadcast,
                    fab_xfer *root, char *err, size_t errlen);

/* Copy: PE (i, j) of src sends n wavelets to PE (i, j) of dst (same size). */
int fab_coll_copy(fab_fabric *f, fab_rect src, fab_rect dst, uint32_t n, uint64_t ready,
                  char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
