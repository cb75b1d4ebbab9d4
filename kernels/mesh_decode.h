/* Decode attention of one key/value head of one sequence on the whole of a
 * region: one new token's queries (one, or a group's under grouped-query
 * attention) against the keys and values in the KV cache, the
 * layer-by-layer strategy's attention in a decode step (a layer's heads and
 * sequences each take a region of the mesh). Simulated PE by PE on the
 * fabric.
 *
 * Layout, on R rows x C columns of PEs, for `keys` keys (the prompt, the
 * tokens made so far and the new one) of a head of dh features: key t and
 * its value live at PE t mod (R C), row-major (the cache grows a key a step
 * round the region). The new token's key and value are at their PE when the
 * step starts (the hand-off into the op brings them, as the query).
 *
 * The run:
 *   1. the query (dh features, fp16) starts at the centre PE, which
 *      multicasts it over the region;
 *   2. a PE scores it against its keys, takes its own maximum, exponentials
 *      and sum, multiplies them into its values and rescales its partial
 *      (cost.h's attention phases and merge, one query);
 *   3. the region reduces the partials (dh outputs, max and sum, acc_bytes
 *      each) into the centre by a tree (fabric/collective.h: along each row
 *      to the centre column, then down that column), segmented where the
 *      model times that faster; the centre divides by the sum
 *      (krn_attn_norm_cost).
 * The run ends with the output normalised at the centre (the next op's
 * concern). */
#ifndef WAFERSIM_KERNELS_MESH_DECODE_H
#define WAFERSIM_KERNELS_MESH_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "cost.h"
#include "fabric/fabric.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  uint32_t keys;       /* keys the query attends to, the new token's included */
  uint32_t capacity;   /* keys the cache holds for the run (its last step's), >= keys: its SRAM */
  uint32_t dh;         /* features of the head */
  uint32_t rows, cols; /* the region: rows x cols <= keys (every PE a key) */
  uint32_t layers;     /* caches every PE of the region holds, >= 1: the layer-by-layer strategy's (unit, layer) pairs
                          that share the region */
  uint64_t resident;   /* bytes every PE already holds for other ops (weights): the cache and buffers fit beside */
  uint32_t queries;    /* query heads sharing these keys and values (grouped-query attention; 0 counts as 1): each
                          PE scores every one against its keys, the multicast, the tree and the normalisation
                          carry them all */
} krn_mdec_spec;

/* The model of a run (no simulation): the query's multicast to the farthest
 * PE (2 ramp + hops to the farthest corner + its wavelets), the busiest
 * PE's compute (the most keys: PE 0), the region's tree
 * (fab_coll_tree_cycles) and the normalisation, one after the other. */
typedef struct {
  uint64_t multicast, compute, tree, norm;
  uint64_t cycles;
  uint32_t seg_x, seg_y;  /* the tree's segments along the rows and down the centre column (>= the side: chain) */
  uint64_t sram_max;      /* bytes at the fullest PE: every layer's cache at capacity and the buffers, the reserve
                             included, resident not */
  uint64_t cache_bytes;   /* of sram_max: the caches */
  uint64_t macs;          /* keys x dh x 2 (scores, and P x V) x queries */
} krn_mdec_model;

/* 0, or -1 with the reason (a shape the region cannot take, a cache beyond SRAM). */
int krn_mdec_plan(const krn_machine *m, const fab_config *fc, const krn_mdec_spec *s, krn_mdec_model *out, char *err,
                  size_t errlen);

typedef struct {
  krn_mdec_model plan;           /* its model */
  uint64_t cycles;               /* cycle 0 (the query at the centre) to the output normalised, + 1 */
  uint64_t busy_max, busy_sum;   /* compute cycles: the busiest PE's, every PE's */
  uint32_t slowest_x, slowest_y; /* the busiest PE */
  uint64_t macs;                 /* executed by the simulation */
  uint64_t events, wavelets_sent, link_wavelets, bytes;
} krn_mdec_result;

/* Simulate s on a fabric of the region's size with fc's other settings.
 * 0, or -1 with the reason. */
int krn_mdec_run(const krn_machine *m, const fab_config *fc, const krn_mdec_spec *s, krn_mdec_result *out, char *err,
                 size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
