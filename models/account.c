/* FLOP, parameter and weight-byte accounting per op and per graph
 * (formulas in account.h; Chinchilla, Appendix F). */
#include "account.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t mdl_nnz(int64_t elems, double density) {
  if (!(density >= 0.0 && density <= 1.0)) {
    fprintf(stderr, "%s:%d: internal error: density %g outside [0, 1]\n", __FILE__, __LINE__,
            density);
    abort();
  }
  int64_t nnz = llround(density * (double)elems);
  return nnz > elems ? elems : nnz;
}

bool mdl_kind_in_inference(mdl_op_kind kind) { return kind != MDL_OP_EMBED; }

static int64_t chinchilla_flops(const mdl_op *op) {
  if (op->kind == MDL_OP_SOFTMAX) return 3 * op->batch * op->m * op->n;
  if (op->k > 0) return 2 * op->batch * op->m * op->k * op->n;
  return 0;
}

void mdl_op_cost(const mdl_op *op, int64_t nnz, mdl_cost *out) {
  memset(out, 0, sizeof *out);
  const int64_t elems = op->weight_rows * op->weight_cols;
  const int64_t own = op->weight_tied ? 0 : elems;
  const int64_t other = op->bias + op->norm_params; /* never sparsified */
  out->flops_dense = chinchilla_flops(op);
  out->params_dense = own + other;
  out->bytes_dense = MDL_BYTES_FP16 * out->params_dense;
  if (!op->sparsifiable) {
    out->flops_sparse = out->flops_dense;
    out->params_sparse = out->params_dense;
    out->bytes_sparse = out->bytes_csr = out->bytes_bitmap = out->bytes_dense;
    return;
  }
  if (nnz < 0 || nnz > elems || op->weight_tied) {
    fprintf(stderr, "%s:%d: internal error: op %s given %lld nonzeros of %lld\n", __FILE__,
            __LINE__, op->name, (long long)nnz, (long long)elems);
    abort();
  }
  const int64_t index_bytes = op->weight_cols <= 65536 ? 2 : 4;
  out->weight_elems = elems;
  out->weight_nnz = nnz;
  out->flops_sparse = 2 * op->batch * op->m * nnz;
  out->params_sparse = nnz + other;
  out->bytes_sparse = MDL_BYTES_SPARSE_NZ * nnz + MDL_BYTES_FP16 * other;
  out->bytes_csr = (MDL_BYTES_FP16 + index_bytes) * nnz +
                   MDL_BYTES_ROW_PTR * (op->weight_rows + 1) + MDL_BYTES_FP16 * other;
  out->bytes_bitmap = (elems + 7) / 8 + MDL_BYTES_FP16 * (nnz + other);
}

void mdl_cost_add(mdl_cost *sum, const mdl_cost *c) {
  sum->flops_dense += c->flops_dense;
  sum->flops_sparse += c->flops_sparse;
  sum->params_dense += c->params_dense;
  sum->params_sparse += c->params_sparse;
  sum->weight_elems += c->weight_elems;
  sum->weight_nnz += c->weight_nnz;
  sum->bytes_dense += c->bytes_dense;
  sum->bytes_sparse += c->bytes_sparse;
  sum->bytes_csr += c->bytes_csr;
  sum->bytes_bitmap += c->bytes_bitmap;
}

void mdl_account(const mdl_graph *g, const int64_t *nnz, mdl_cost *per_op, mdl_cost *total) {
  memset(total, 0, sizeof *total);
  for (size_t i = 0; i < mdl_graph_op_count(g); i++) {
    const mdl_op *op = mdl_graph_op(g, i);
    mdl_cost c;
    mdl_op_cost(op, nnz[i], &c);
    if (per_op) per_op[i] = c;
    if (!mdl_kind_in_inference(op->kind)) c.flops_dense = c.flops_sparse = 0;
    mdl_cost_add(total, &c);
  }
}
