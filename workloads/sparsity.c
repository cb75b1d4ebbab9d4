/* Sparsity specs -> per-op levels and nonzero counts; the pruning schedule. */
#include "sparsity.h"

#include <math.h>
#include <stdio.h>

#include "models/account.h"

wl_sparsity wl_sparsity_uniform(double level) {
  wl_sparsity s = {.level = level};
  for (int i = 0; i < MDL_OP_KIND_COUNT; i++) s.kind[i] = NAN;
  for (int i = 0; i < WL_MAX_LAYERS; i++) s.layer[i] = NAN;
  return s;
}

int wl_sparsity_check(double level, char *err, size_t errlen) {
  if (isfinite(level) && level >= 0.0 && level < 1.0) return 0;
  snprintf(err, errlen, "sparsity %g: expected a fraction in [0, 1)", level);
  return -1;
}

bool wl_sparsity_kind_sparsifiable(mdl_op_kind kind) {
  return kind == MDL_OP_Q || kind == MDL_OP_K || kind == MDL_OP_V || kind == MDL_OP_ATTN_OUT ||
         kind == MDL_OP_FFN_GATE || kind == MDL_OP_FFN_UP || kind == MDL_OP_FFN_DOWN;
}

double wl_sparsity_level(const wl_sparsity *s, const mdl_op *op) {
  if (!op->sparsifiable) return 0.0;
  if (op->layer >= 0 && op->layer < WL_MAX_LAYERS && !isnan(s->layer[op->layer])) return s->layer[op->layer];
  if (!isnan(s->kind[op->kind])) return s->kind[op->kind];
  return s->level;
}

double wl_sparsity_density(const wl_sparsity *s, const mdl_op *op) { return 1.0 - wl_sparsity_level(s, op); }

void wl_sparsity_nnz(const wl_sparsity *s, const mdl_graph *g, int64_t *nnz) {
  for (size_t i = 0; i < mdl_graph_op_count(g); i++) {
    const mdl_op *op = mdl_graph_op(g, i);
    nnz[i] = op->sparsifiable ? mdl_nnz(op->weight_rows * op->weight_cols, wl_sparsity_density(s, op)) : 0;
  }
}

int wl_schedule(double step, double target, double *levels, size_t max, char *err, size_t errlen) {
  if (!(step > 0.0 && step < 1.0)) {
    snprintf(err, errlen, "pruning step %g: expected a fraction of the remaining weights in (0, 1)", step);
    return -1;
  }
  if (wl_sparsity_check(target, err, errlen) != 0) return -1;
  size_t n = 0;
  double s = 0.0;
  for (;;) {
    if (n == max) {
      snprintf(err, errlen, "pruning from 0 to %g by steps of %g takes more than %zu levels", target, step, max);
      return -1;
    }
    levels[n++] = s;
    if (s >= target) break;
    const double next = 1.0 - (1.0 - s) * (1.0 - step);
    /* a step that would pass the target, or land within rounding of it, ends there */
    s = next >= target - 1e-12 ? target : next;
  }
  return (int)n;
}
