/* Functional mode of the end-to-end run (sim.functional: true): the placed
 * stages get real values (workloads/values.h: weights, biases, gains,
 * tables and token ids from the seed), the pipeline carries them over the
 * fabric, and its logits are compared with a reference forward pass that
 * walks the layer graph's ops (models/graph.h) in plain loops, in double,
 * with the same values and masks: it shares no code with the lowering, the
 * placement or the stages' wiring, so a wrong connection there shows up as
 * a mismatch.
 *
 * Limits (memory for real values, checked by ws_config_finish):
 *   WS_FUNCTIONAL_MAX_WEIGHTS      parameters of the model (every weight
 *                                  matrix, the embedding tables, biases, gains):
 *                                  the run holds each as an fp32 value (the
 *                                  reference draws them an op at a time);
 *   WS_FUNCTIONAL_MAX_ACTIVATIONS  workload.seq_len x the widest op output
 *                                  (d_ff, vocab or d_model): one op's output
 *                                  for the whole sequence, which the reference
 *                                  holds (a few at a time) in double.
 * Measured (2 cores, shared): tiny-dense (0.43 M parameters, 128 tokens)
 * 0.5 s and 68 MiB against 0.15 s and 20 MiB without values; 4 layers of
 * d_model 512 (14.8 M parameters, 256 tokens, 128 x 128 PEs) 16.5 s and
 * 318 MiB against 1.2 s and 45 MiB: memory grows about 18 bytes a
 * parameter (the stages' fp32 values, the fabric's copies in flight, the
 * reference), so the limit keeps a run within about 350 MiB.
 *
 * Tolerance: the kernels compute in fp32 (values, products and partial
 * sums; the accumulate setting only changes the wavelets counted), the
 * reference in double, so each logit is off by a few fp32 roundings times
 * the sums' sizes (measured: about 1e-6 on the 2-layer tests); the run
 * passes when every logit is within WS_FUNCTIONAL_TOLERANCE x max(1, the
 * largest reference logit). A wrong wiring moves logits by about their own
 * size (tests/test_functional.cc). */
#ifndef WAFERSIM_SIM_FUNCTIONAL_H
#define WAFERSIM_SIM_FUNCTIONAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "kernels/pipeline.h"
#include "models/graph.h"
#include "place.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WS_FUNCTIONAL_MAX_WEIGHTS (UINT64_C(1) << 24)     /* 16 Mi parameters: 64 MiB as fp32 */
#define WS_FUNCTIONAL_MAX_ACTIVATIONS (UINT64_C(1) << 22) /* 4 Mi values: 32 MiB as double */
#define WS_FUNCTIONAL_TOLERANCE 1e-4

typedef struct {
  bool ok;               /* every logit within tolerance */
  double max_error;      /* largest |logit - reference logit| */
  double max_logit;      /* largest |reference logit| */
  double tolerance;      /* WS_FUNCTIONAL_TOLERANCE x max(1, max_logit) */
  uint32_t worst_token;  /* where max_error is: token of the run (sequence s: s x seq_len on) */
  uint32_t worst_logit;  /* and vocabulary entry */
  uint64_t logits;       /* compared: batch x seq_len x vocab */
} ws_functional_result;

/* Parameters of g as functional mode holds them (a tied weight once). */
uint64_t ws_functional_weights(const mdl_graph *g);

/* Whether functional mode can take cfg's model and workload (the limits
 * above). 0, or -1 with a message naming `where` (the key's origin). */
int ws_functional_check(const ws_config *cfg, const mdl_graph *g, const char *where, char *err, size_t errlen);

typedef struct ws_functional ws_functional;

/* Values for the placed stages (stages[i] is placement p's stage i: its
 * weight and bias pointers are set, into memory the result owns) and the
 * token ids (run->tokens). NULL with the reason in err. */
ws_functional *ws_functional_create(const ws_config *cfg, const ws_placement *p, krn_stage *stages, krn_run *run,
                                    char *err, size_t errlen);
void ws_functional_destroy(ws_functional *f);

/* After the run: the pipeline's logits against the reference, and (logits
 * not NULL) a copy of them, seq_len x vocab row-major. 0, or -1 with the
 * reason (out of memory, an output missing). */
int ws_functional_compare(const ws_config *cfg, const ws_functional *f, const krn_pipe *pipe,
                          ws_functional_result *out, float *logits, char *err, size_t errlen);

/* The reference forward pass: logits, seq_len x vocab row-major, of cfg's
 * model on `tokens` (seq_len ids), its values from cfg's seed and its masks
 * from cfg's sparsity. NULL with the reason in err. The caller frees it. */
double *ws_functional_reference(const ws_config *cfg, const uint32_t *tokens, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
