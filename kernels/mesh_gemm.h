/* One GEMM on the whole of a region, its weights resident: the building
 * block of the layer-by-layer strategy and of `wafersim gemm`. Simulated PE
 * by PE on the fabric.
 *
 * Y[M x N] = X[M x K] W[K x N] on R rows x C columns of PEs: K is cut over
 * the rows, N over the columns (cut points as even as the integers allow), so
 * PE (j, i) keeps the tile W[K_i, N_j], its nonzeros only where the sparse
 * kernel runs (cost.h; auto picks the cheaper kernel per PE). The tokens go
 * in steps of `chunk`; per step:
 *   1. row i's slice X[step, K_i] (fp16, two a wavelet) starts at the row's
 *      centre PE, which multicasts it along the row;
 *   2. every PE multiplies it by its tile as soon as it has it and its core
 *      is free (cost.h's cycles for its nonzeros);
 *   3. every column reduces its partial sums Y[step, N_j] (acc_bytes a value)
 *      into its root by a tree (fabric/collective.h), segmented where the
 *      model times that faster than a chain (short vectors); the root is the
 *      centre row (half the hops) or the last (one side: each PE takes one
 *      train of sums, not two), whichever the model times faster.
 * Two steps are in flight (x and partial sums double-buffered): step s + 2
 * starts when step s's sums are all at their roots. The run ends with the
 * last step's sums at their roots; the outputs stay there (the next op's
 * concern). */
#ifndef WAFERSIM_KERNELS_MESH_GEMM_H
#define WAFERSIM_KERNELS_MESH_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "cost.h"
#include "fabric/fabric.h"
#include "workloads/mask.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  uint32_t m, k, n;      /* X[m x k] times W[k x n] */
  uint32_t rows, cols;   /* the region, rows <= k and cols <= n (no empty tile) */
  const wl_mask *mask;   /* W's kept weights (k x n); NULL: dense */
  krn_kernel kernel;     /* per PE: auto (the cheaper), sparse or dense */
  uint32_t chunk;        /* tokens per step; 0: the model's best (krn_mgemm_plan) */
  uint64_t resident;     /* bytes every PE already holds for other ops (the layer-by-layer strategy keeps
                            every layer's tiles): the plan's buffers fit beside them */
} krn_mgemm_spec;

/* The model of a run (no simulation): per step the busiest PE's compute,
 * its ramp's wavelets in (x, and the partial-sum trains of a collector or
 * root: two, or one into a root at the end of a chain) and out; the first
 * step's latency (the multicast across half a row, the compute, the
 * column's tree, fab_coll_tree_cycles); then a step per
 * max(compute, ramp in x consume_cycles, ramp out, latency / 2): a step
 * starts when the one two before is in, so two latencies hold at most
 * two steps. */
typedef struct {
  uint32_t chunk, steps;
  uint64_t compute, ramp_in, ramp_out, latency; /* per step, cycles (wavelets) */
  uint64_t cycles;                              /* latency + (steps - 1) x step */
  uint32_t root_row;                            /* the columns' root: the centre row or the last */
  uint32_t segment;                             /* the columns' tree segment (>= the side: chain) */
  const char *reduce;                           /* the columns' reduction: chain, tree, or none (one row) */
  uint64_t sram_max, nnz_max;                   /* sram_max: this GEMM's bytes at its fullest PE (reserve included,
                                                   resident not) */
  uint64_t weights_max;                         /* bytes of the fullest tile's weights in its kernel's encoding */
  uint64_t weights;                             /* of every tile's */
  double nnz_mean;
  uint32_t sparse_pes;
  uint64_t macs;                                /* the whole GEMM's, executed */
} krn_mgemm_model;

/* The plan for s: with s->chunk 0, the chunk (1, 2, 4, ... and m) of fewest
 * modelled cycles whose buffers fit every PE beside s->resident. 0, or -1 with the reason (a
 * shape the region cannot take, tiles beyond SRAM at one token a step). */
int krn_mgemm_plan(const krn_machine *m, const fab_config *fc, const krn_mgemm_spec *s, krn_mgemm_model *out,
                   char *err, size_t errlen);

typedef struct {
  krn_mgemm_model plan;     /* what ran, and its model */
  uint64_t cycles;           /* cycle 0 (every x slice at its source) to the last sums at their roots, + 1 */
  uint64_t busy_max;         /* compute cycles of the busiest PE, all steps */
  uint64_t busy_sum;         /* of every PE */
  uint32_t slowest_x, slowest_y; /* that PE, in the region */
  uint64_t macs;             /* executed by the simulation */
  uint64_t events, wavelets_sent, link_wavelets, bytes;
} krn_mgemm_result;

/* Simulate s on a fabric of the region's size with fc's other settings.
 * 0, or -1 with the reason. */
int krn_mgemm_run(const krn_machine *m, const fab_config *fc, const krn_mgemm_spec *s, krn_mgemm_result *out,
                  char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
