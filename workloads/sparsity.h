/* Sparsity specification: which fraction of each op's weight is zero, and
 * the iterative-pruning schedule that leads to a level.
 *
 * A level is given once for every sparsifiable weight, may be overridden per
 * op kind, and both may be overridden per layer (a layer's level applies to
 * all its sparsifiable weights). Sparsifiable kinds follow DESIGN.md section
 * 4: Q, K, V, attention output and both FFN matrices. Embeddings, position
 * embeddings, biases, layernorm, attention scores and the LM head are never
 * sparsified, whatever the spec says. */
#ifndef WAFERSIM_WORKLOADS_SPARSITY_H
#define WAFERSIM_WORKLOADS_SPARSITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "models/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WL_MAX_LAYERS 256 /* layers a spec can override */

typedef struct {
  double level;                   /* every sparsifiable weight, in [0, 1) */
  double kind[MDL_OP_KIND_COUNT]; /* per op kind, overriding level; NaN where not given */
  double layer[WL_MAX_LAYERS];    /* per layer, overriding both; NaN where not given */
} wl_sparsity;

/* A spec with one level everywhere and no overrides. */
wl_sparsity wl_sparsity_uniform(double level);

/* Check a level: 0 or -1 with "expected a fraction in [0, 1)" in err. */
int wl_sparsity_check(double level, char *err, size_t errlen);

/* Whether weights of this kind may be sparse (DESIGN.md section 4). */
bool wl_sparsity_kind_sparsifiable(mdl_op_kind kind);

/* Zero fraction of op's weight under s (0 for ops that are never sparse),
 * and its density 1 - level. */
double wl_sparsity_level(const wl_sparsity *s, const mdl_op *op);
double wl_sparsity_density(const wl_sparsity *s, const mdl_op *op);

/* Nonzeros of every op's sparsifiable weight into nnz[mdl_graph_op_count(g)]
 * (0 for ops without one), the input of mdl_account. */
void wl_sparsity_nnz(const wl_sparsity *s, const mdl_graph *g, int64_t *nnz);

/* The levels of iterative pruning from dense: s_0 = 0, then each step keeps
 * (1 - step) of the remaining weights, s_{i+1} = 1 - (1 - s_i)(1 - step),
 * while below target, and the last level is target itself (a shorter final
 * step). step in (0, 1), target in [0, 1). Writes at most max levels into
 * levels; returns how many, or -1 with a message (bad values, more than max). */
int wl_schedule(double step, double target, double *levels, size_t max, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
