/* Sparsity specification: which fraction of each op's weight is zero.
 * This version holds one global level for every sparsifiable weight
 * (DESIGN.md section 4: Q, K, V, attention output, both FFN matrices);
 * embeddings, biases, layernorm and the LM head are never sparsified. */
#ifndef WAFERSIM_WORKLOADS_SPARSITY_H
#define WAFERSIM_WORKLOADS_SPARSITY_H

#include <stddef.h>
#include <stdint.h>

#include "models/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  double level; /* fraction of zero weights in every sparsifiable matrix, in [0, 1) */
} wl_sparsity;

/* Check a level: 0 or -1 with "expected a fraction in [0, 1)" in err. */
int wl_sparsity_check(double level, char *err, size_t errlen);

/* Density (fraction of nonzeros, in (0, 1]) of op's weight under spec s. */
double wl_sparsity_density(const wl_sparsity *s, const mdl_op *op);

/* Nonzeros of every op's sparsifiable weight into nnz[mdl_graph_op_count(g)]
 * (0 for ops without one), the input of mdl_account. */
void wl_sparsity_nnz(const wl_sparsity *s, const mdl_graph *g, int64_t *nnz);

#ifdef __cplusplus
}
#endif
#endif
