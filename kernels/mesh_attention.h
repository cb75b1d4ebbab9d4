/* Causal attention of one head of one sequence on the whole of a region: the
 * layer-by-layer strategy's attention (a layer's heads and sequences each
 * take a region of the mesh). Simulated PE by PE on the fabric.
 *
 * Layout, on R rows x C columns of PEs, for a sequence of T tokens and a
 * head of dh features:
 *   - column j holds the keys and values of tokens t = j (mod C), every one
 *     of its PEs the same, all dh features (K and V replicated down the
 *     column: every row sees every key);
 *   - row i takes the queries of tokens t = i (mod R).
 * Striping both ways balances causal work: every PE has about the same
 * (query, key) pairs.
 *
 * The run:
 *   0. column j's keys and values (2 T / C dh fp16 values) start at the
 *      column's centre PE, which multicasts them down the column;
 *   per step of `chunk` of a row's queries, every row on its own:
 *   1. the row's queries (dh features each, fp16) start at the row's centre
 *      PE, which multicasts them along the row;
 *   2. a PE that has its keys and the queries scores them against its keys
 *      t <= the query's token, takes its own maximum, exponentials and sum,
 *      and multiplies them into its values: a partial output of dh values,
 *      its max and its sum (cost.h's attention phases, then a merge: the
 *      partial rescaled to the running maximum);
 *   3. the row reduces the partials (dh + 2 values a query, acc_bytes each)
 *      into its root by a tree (fabric/collective.h), segmented where that is
 *      modelled faster (the split-key merge of flash attention: no
 *      all-reduce of the maximum before the exponentials); the root (the
 *      centre column or the last, the faster by the model) divides by the
 *      sum (krn_attn_norm_cost).
 * Two steps a row are in flight (queries and partials double-buffered): a
 * row's step s + 2 starts when its step s is normalised at its root. The run
 * ends with every row's last step normalised; the outputs stay at the row
 * roots (the next op's concern). */
#ifndef WAFERSIM_KERNELS_MESH_ATTENTION_H
#define WAFERSIM_KERNELS_MESH_ATTENTION_H

#include <stddef.h>
#include <stdint.h>

#include "cost.h"
#include "fabric/fabric.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  uint32_t seq;        /* T: tokens of the sequence (queries and keys) */
  uint32_t dh;         /* features of the head */
  uint32_t rows, cols; /* the region: rows <= seq and cols <= seq (every PE some queries and keys) */
  uint32_t chunk;      /* a row's queries per step; 0: the model's best (krn_mattn_plan) */
  uint64_t resident;   /* bytes every PE already holds for other ops (weights): the buffers fit beside them */
} krn_mattn_spec;

/* The model of a run (no simulation), the busiest PE's: row 0 (the most
 * queries), column 0 (the most keys at every query). kv: the keys' and
 * values' multicast down a column (2 ramp + half the column in hops + its
 * wavelets x consume_cycles). Per step s, its compute (with the merge) and
 * ramps (queries in, partials in from the tree's children and out), its
 * latency (the queries' multicast across half the row, the compute, the
 * row's tree, fab_coll_tree_cycles, the normalisation); a step takes
 * max(compute, ramp in x consume_cycles, ramp out, latency / 2), as the mesh
 * GEMM's. cycles = kv + the last step's latency + the others' steps. */
typedef struct {
  uint32_t chunk, steps;                /* a row's queries a step; row 0's steps */
  uint64_t kv;                          /* cycles until every PE has its keys and values */
  uint64_t compute;                     /* the busiest PE, all steps, cycles */
  uint64_t ramp_in, ramp_out;           /* per full step, wavelets */
  uint64_t latency;                     /* the last step's */
  uint64_t cycles;
  uint32_t root_col;                    /* the rows' root: the centre column or the last */
  uint32_t segment;                     /* the rows' tree segment (>= the side: chain) */
  const char *reduce;                   /* tree, chain, or none (one column) */
  uint64_t sram_max;                    /* bytes at a PE, the reserve included, resident not */
  uint64_t pairs;                       /* causal (query, key) pairs: T (T + 1) / 2 */
  uint64_t macs;                        /* executed: pairs x dh x 2 (scores, and P x V) */
} krn_mattn_model;

/* The plan for s: with s->chunk 0, the chunk (1, 2, 4, ... and row 0's
 * queries) of fewest modelled cycles whose buffers fit beside s->resident.
 * 0, or -1 with the reason. */
int krn_mattn_plan(const krn_machine *m, const fab_config *fc, const krn_mattn_spec *s, krn_mattn_model *out,
                   char *err, size_t errlen);

typedef struct {
  krn_mattn_model plan;          /* what ran, and its model */
  uint64_t cycles;               /* cycle 0 to the last row's last step normalised, + 1 */
  uint64_t busy_max, busy_sum;   /* compute cycles: the busiest PE's, every PE's */
  uint32_t slowest_x, slowest_y; /* the busiest PE */
  uint64_t pairs, macs;          /* executed by the simulation */
  uint64_t events, wavelets_sent, link_wavelets, bytes;
} krn_mattn_result;

/* Simulate s on a fabric of the region's size with fc's other settings.
 * 0, or -1 with the reason. */
int krn_mattn_run(const krn_machine *m, const fab_config *fc, const krn_mattn_spec *s, krn_mattn_result *out,
                  char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
