/* The masks of a model's sparse weights: one per sparsifiable op of the
 * layer graph, from a sparsity spec, a pattern (or a safetensors file) and
 * a seed. This is the interface the kernels, the placer and the reports
 * use; per-tile statistics come from mask.h. */
#ifndef WAFERSIM_WORKLOADS_WEIGHTS_H
#define WAFERSIM_WORKLOADS_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "mask.h"
#include "models/graph.h"
#include "safetensors.h"
#include "sparsity.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  const wl_sparsity *sparsity;
  wl_pattern pattern;
  const wl_file_spec *file; /* pattern file: the file and its tensor -> op map */
  uint64_t seed;            /* with the op's index, seeds its mask */
  unsigned threads;         /* building masks; 0: one per online processor. The
                               masks do not depend on it. */
} wl_spec;

typedef struct wl_weights wl_weights;

/* Whether spec's pattern can lay out every sparse op's level (nm: a whole
 * number of every M, M dividing K; block: b dividing both sides); a file's
 * tensors are checked when read. 0, or -1 with a message naming the op. */
int wl_spec_check(const mdl_graph *g, const wl_spec *spec, char *err, size_t errlen);

/* The mask of op `op` of g (a sparsifiable op) under spec, the same as
 * wl_weights_build makes. NULL with a message naming the op. */
wl_mask *wl_weights_op_mask(const mdl_graph *g, size_t op, const wl_spec *spec, char *err, size_t errlen);

/* Every sparsifiable op's mask. NULL with a message naming the op (a
 * pattern that cannot lay out its level, a tensor missing or wrong, out of
 * memory). The caller frees it with wl_weights_destroy. */
wl_weights *wl_weights_build(const mdl_graph *g, const wl_spec *spec, char *err, size_t errlen);
void wl_weights_destroy(wl_weights *w);

/* The mask of op i (NULL for ops without a sparsifiable weight). */
const wl_mask *wl_weights_mask(const wl_weights *w, size_t op);
/* Bytes all masks hold. */
size_t wl_weights_bytes(const wl_weights *w);

#ifdef __cplusplus
}
#endif
#endif
