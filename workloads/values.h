/* The values of functional mode: every weight, bias, layernorm gain and
 * shift, embedding table and token id of a model, from the seed and the
 * op's name alone (the layer graph's names: "embed", "pos_embed", "L0.ln1",
 * "L0.q", ..., "final.ln", "lm_head"), so that the run and any reference
 * forward pass written from the model's definition draw the same numbers
 * without sharing any wiring. Element e of an op's tensor (row-major, rows x
 * cols) depends only on (seed, name, role, e): a table's first rows are the
 * same whatever rows are asked for.
 *
 * Scales (uniform draws, u in [-1, 1)):
 *   WL_VALUES_WEIGHT  u / sqrt(rows): a projection keeps its outputs about
 *                     the size of its inputs;
 *   WL_VALUES_BIAS    0.05 u;
 *   WL_VALUES_GAIN    1 + 0.2 u (layernorm);
 *   WL_VALUES_SHIFT   0.1 u (layernorm);
 *   WL_VALUES_TABLE   0.5 u (token and position embeddings; the LM head is
 *                     the token table, transposed). */
#ifndef WAFERSIM_WORKLOADS_VALUES_H
#define WAFERSIM_WORKLOADS_VALUES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { WL_VALUES_WEIGHT, WL_VALUES_BIAS, WL_VALUES_GAIN, WL_VALUES_SHIFT, WL_VALUES_TABLE } wl_values_role;

/* Fill out[rows x cols] with op `op`'s tensor of that role. */
void wl_values_fill(uint64_t seed, const char *op, wl_values_role role, uint32_t rows, uint32_t cols, float *out);

/* The sequence's token ids, each in [0, vocab). */
void wl_values_tokens(uint64_t seed, uint32_t seq, uint32_t vocab, uint32_t *out);

#ifdef __cplusplus
}
#endif
#endif
