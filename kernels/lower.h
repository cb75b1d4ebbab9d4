/* Lowering: the layer graph's ops as pipeline stages (pipeline.h), one per
 * op but two stated fusions: the token and position embeddings are one
 * EMBED stage, and scores, softmax and scores x V one ATTENTION stage (the
 * scores never leave the PEs that hold the keys). A residual add buffers
 * each input 2 + 2 g micro-batches deep (at most KRN_DEPTH_MAX), g the
 * stages between it and the input's producer: the skip input arrives while
 * the skipped stages, about two micro-batches each in flight, still work on
 * it, and with double buffers alone the producer would wait for the add and
 * hold the whole pipeline to the skip's round trip. Regions, cut points,
 * kernels, masks and values are left for the placer and the run. */
#ifndef WAFERSIM_KERNELS_LOWER_H
#define WAFERSIM_KERNELS_LOWER_H

#include <stddef.h>
#include <stdint.h>

#include "models/graph.h"
#include "pipeline.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  krn_stage *stages; /* owned, n; names point into `names` */
  uint32_t n;
  uint32_t *first_op, *last_op; /* owned: the graph ops each stage covers, inclusive */
  char *names;                  /* owned */
} krn_lowered;

/* Lower g. 0, or -1 with the reason in err. Free with krn_lowered_free. */
int krn_lower(const mdl_graph *g, krn_lowered *out, char *err, size_t errlen);
void krn_lowered_free(krn_lowered *l);

#ifdef __cplusplus
}
#endif
#endif
