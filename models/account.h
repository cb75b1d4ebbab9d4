/* FLOP, parameter and weight-memory accounting of the layer graph.
 * FLOPs follow Hoffmann et al. 2022 (Chinchilla), Appendix F, forward pass:
 * a [m x k] x [k x n] product is 2mkn, softmax 3 per score; layernorm, GELU,
 * residual and bias adds count 0. A sparse weight with nnz nonzeros costs
 * 2 m nnz: zero multiplies are skipped. */
#ifndef WAFERSIM_MODELS_ACCOUNT_H
#define WAFERSIM_MODELS_ACCOUNT_H

#include <stdbool.h>
#include <stdint.h>

#include "graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes per element and per index of the weight encodings. */
#define MDL_BYTES_FP16 2       /* dense value */
#define MDL_BYTES_SPARSE_NZ 4  /* 16-bit value + 16-bit index (one CS-2 sparse wavelet) */
#define MDL_BYTES_ROW_PTR 4    /* CSR row pointer (assumption: 32-bit) */

typedef struct {
  int64_t flops_dense;   /* forward FLOPs with every weight multiplied */
  int64_t flops_sparse;  /* forward FLOPs with only the nonzero weights multiplied */
  int64_t params_dense;  /* parameters the op owns (a tied weight counts at its owner) */
  int64_t params_sparse; /* parameters left after pruning */
  int64_t weight_elems;  /* elements of the op's sparsifiable weight, 0 if none */
  int64_t weight_nnz;    /* nonzeros of that weight */
  int64_t bytes_dense;   /* every parameter as fp16 */
  int64_t bytes_sparse;  /* sparsifiable weight as value+index (4 B per nonzero), rest fp16 */
  int64_t bytes_csr;     /* sparsifiable weight in CSR (fp16 value, 16- or 32-bit column
                            index, 32-bit row pointers), rest fp16 */
  int64_t bytes_bitmap;  /* sparsifiable weight as a 1-bit-per-element mask + fp16
                            nonzeros, rest fp16 */
} mdl_cost;

/* Nonzeros of a matrix of `elems` elements at `density` in [0, 1]:
 * the nearest integer (halves round away from zero). */
int64_t mdl_nnz(int64_t elems, double density);

/* Whether FLOPs of ops of this kind count in "inference FLOPs" (all but the
 * embedding lookup, which is a gather, not a product). */
bool mdl_kind_in_inference(mdl_op_kind kind);

/* Cost of one op whose sparsifiable weight keeps `nnz` nonzeros; nnz is
 * ignored for ops without a sparsifiable weight. */
void mdl_op_cost(const mdl_op *op, int64_t nnz, mdl_cost *out);

/* Adds every field of c to sum. */
void mdl_cost_add(mdl_cost *sum, const mdl_cost *c);

/* Whole-graph accounting: nnz[i] is op i's nonzeros (see mdl_op_cost).
 * per_op (may be NULL) receives one cost per op; total sums every op except
 * that its FLOPs exclude the ops not counted in inference. */
void mdl_account(const mdl_graph *g, const int64_t *nnz, mdl_cost *per_op, mdl_cost *total);

#ifdef __cplusplus
}
#endif
#endif
