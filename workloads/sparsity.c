/* Global sparsity level -> per-op density and nonzero counts. */
#include "sparsity.h"

#include <math.h>
#include <stdio.h>

#include "models/account.h"

int wl_sparsity_check(double level, char *err, size_t errlen) {
  if (isfinite(level) && level >= 0.0 && level < 1.0) return 0;
  snprintf(err, errlen, "sparsity %g: expected a fraction in [0, 1)", level);
  return -1;
}

double wl_sparsity_density(const wl_sparsity *s, const mdl_op *op) {
  return op->sparsifiable ? 1.0 - s->level : 1.0;
}

void wl_sparsity_nnz(const wl_sparsity *s, const mdl_graph *g, int64_t *nnz) {
  for (size_t i = 0; i < mdl_graph_op_count(g); i++) {
    const mdl_op *op = mdl_graph_op(g, i);
    nnz[i] = op->sparsifiable
                 ? mdl_nnz(op->weight_rows * op->weight_cols, wl_sparsity_density(s, op))
                 : 0;
  }
}
