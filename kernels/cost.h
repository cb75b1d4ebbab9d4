/* What one PE spends on its share of an op per micro-batch of b tokens:
 * compute cycles, executed multiply-accumulates, and SRAM bytes held. Pure
 * functions of the machine parameters and the share; the kernels' programs
 * charge these cycles on the engine, and the placer weighs them.
 *
 * Weight GEMM, tile W[kt x nt] with nnz nonzeros (DESIGN.md section 3):
 *   sparse: for each nonzero (k, n, w), y[n, 0:b] += w * x[k, 0:b], an AXPY of
 *           ceil(b / simd) cycles plus sparse_setup (index decode, weight load):
 *           cycles = task_switch + nnz (sparse_setup + ceil(b / simd));
 *   dense:  contiguous loops with no indices, every zero multiplied, in the
 *           better of two loop orders: AXPYs over a weight row
 *           (kt b of length nt) or over the tokens (kt nt of length b):
 *           cycles = task_switch + min(kt b (dense_setup + ceil(nt / simd)),
 *                                      kt nt (dense_setup + ceil(b / simd))).
 *   SRAM: weights (sparse: 4 B per nonzero, 16-bit value + 16-bit index, and
 *   2 B per tile row for its length; dense: 2 B per element), x[kt x b] fp16
 *   and y[nt x b] partial sums (acc_bytes), both double-buffered, and the
 *   runtime reserve. */
#ifndef WAFERSIM_KERNELS_COST_H
#define WAFERSIM_KERNELS_COST_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { KRN_AUTO, KRN_SPARSE, KRN_DENSE } krn_kernel;

typedef struct {
  uint32_t simd_fp16;    /* fp16 multiply-accumulates per cycle */
  uint32_t simd_fp32;    /* fp32 multiply-accumulates per cycle */
  uint32_t sparse_setup; /* cycles per nonzero's AXPY beyond its MACs (assumption) */
  uint32_t dense_setup;  /* cycles per dense AXPY beyond its MACs (assumption) */
  uint32_t task_switch;  /* cycles to start a task on a PE (assumption) */
  uint32_t exp_cycles;   /* cycles per exp, tanh or inverse square root (assumption) */
  uint32_t acc_bytes;    /* bytes per partial sum: 4 (fp32) or 2 (fp16) */
  uint64_t sram;         /* bytes of SRAM per PE */
  uint64_t sram_reserve; /* bytes per PE kept for code and runtime (assumption) */
} krn_machine;

typedef struct {
  uint64_t cycles; /* compute cycles per micro-batch */
  uint64_t macs;   /* multiply-accumulates executed per micro-batch */
  uint64_t sram;   /* bytes held (the reserve included) */
  uint64_t weights; /* of sram: bytes of weights, tables and gains it keeps for the whole run */
} krn_cost;

const char *krn_kernel_name(krn_kernel k);

/* A weight GEMM tile (k = KRN_SPARSE or KRN_DENSE). */
krn_cost krn_gemm_cost(const krn_machine *m, krn_kernel k, uint32_t kt, uint32_t nt, uint64_t nnz,
                       uint32_t b);
/* What KRN_AUTO runs on such a tile: the kernel with fewer cycles (dense on a tie). */
krn_kernel krn_gemm_pick(const krn_machine *m, uint32_t kt, uint32_t nt, uint64_t nnz, uint32_t b);

/* Causal attention pairs (query, key) a PE holds in micro-batch mb: its keys
 * are the tokens t = row (mod rows); query q of the micro-batch (token
 * mb b + q) sees keys t <= mb b + q. */
uint64_t krn_attn_pairs(uint32_t b, uint32_t mb, uint32_t row, uint32_t rows);

/* Attention share: `heads` heads of dh, `pairs` (query, key) pairs: scores
 * (a dot product of dh per pair and head), softmax (an exp per pair and
 * head, a max and a sum), scores x V (an AXPY of dh per pair and head).
 * SRAM: the K and V cache of ceil(seq / rows) tokens of each of `sequences`
 * sequences (0 counts as 1); the micro-batch's b queries, and the keys and
 * values of its own ceil(b / rows) tokens (all b pass every PE of a column;
 * a PE keeps its own), both double-buffered; the scores of a query (within
 * its own sequence) and the partial outputs. */
krn_cost krn_attn_cost(const krn_machine *m, uint32_t heads, uint32_t dh, uint64_t pairs, uint32_t b,
                       uint32_t rows, uint32_t seq, uint32_t sequences);
/* Its two phases, around the max all-reduce: 1 scores and local max, 2 exp,
 * sum and scores x V (cycles and MACs; the total is their sum). */
krn_cost krn_attn_phase(const krn_machine *m, int phase, uint32_t heads, uint32_t dh, uint64_t pairs);

/* The output PE's last step of attention: out = sum P V / sum P for b tokens
 * x `features` (its column's heads), fp32 (cycles only). */
krn_cost krn_attn_norm_cost(const krn_machine *m, uint32_t features, uint32_t b);

/* Merging a partial attention output into another (split keys, flash
 * attention's combine) for b queries of dh features: each of the two
 * rescaled by exp(its max - the larger), an exp each, then the dh + 1
 * values (outputs and sum) added, fp32 (cycles only). */
krn_cost krn_attn_merge_cost(const krn_machine *m, uint32_t dh, uint32_t b);

/* Layernorm of b tokens x `features` in fp32: sums, an inverse square root
 * per token, scale and shift; gain and shift parameters held. With `rms`,
 * RMSNorm (Llama): the sum of squares alone, the scale by its inverse
 * square root and by the gain; the gain held. */
krn_cost krn_norm_cost(const krn_machine *m, bool rms, uint32_t features, uint32_t b);
/* Its two phases, around the statistics all-reduce: 1 sums, 2 normalise. */
krn_cost krn_norm_phase(const krn_machine *m, bool rms, int phase, uint32_t features, uint32_t b);
/* SwiGLU of two b x features tensors (gate a, up u): silu(a) u = a u / (1 +
 * exp(-a)), an exponential and 4 fp16 operations (add, reciprocal, 2
 * multiplies) per element. */
krn_cost krn_swiglu_cost(const krn_machine *m, uint32_t features, uint32_t b);
/* Rotary position of b tokens x `features` (pairs of adjacent features of a
 * head): per element 2 fp16 multiply-adds (x cos - y sin, x sin + y cos);
 * each pair's cosine and sine advanced a position by a complex multiply in
 * fp32 (4 multiply-adds a pair, 2 an element), from a base rotation per pair
 * held (2 fp32 values). Tokens of a micro-batch are consecutive positions. */
krn_cost krn_rotary_cost(const krn_machine *m, uint32_t features, uint32_t b);
/* GELU (tanh form: a tanh and 5 multiply-adds per element). */
krn_cost krn_gelu_cost(const krn_machine *m, uint32_t features, uint32_t b);
/* Element-wise add of two b x features tensors (residual, position embedding). */
krn_cost krn_add_cost(const krn_machine *m, uint32_t features, uint32_t b);
/* Embedding lookup share: `rows` vocabulary rows x `features` held; `hits`
 * tokens of the micro-batch fall in those rows and are copied out. */
krn_cost krn_embed_cost(const krn_machine *m, uint32_t rows, uint32_t features, uint32_t hits,
                        uint32_t b);

bool krn_fits(const krn_machine *m, uint64_t sram);

#ifdef __cplusplus
}
#endif
#endif
