/* Decoder-only model dimensions: the GPT-3 presets of Brown et al. 2020
 * (Table 2.1), Llama-family presets, and a check for custom dimensions.
 * Knows nothing of machines or sparsity. */
#ifndef WAFERSIM_MODELS_GPT_H
#define WAFERSIM_MODELS_GPT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MDL_NAME_MAX 16
/* The rotary base of RoFormer (Su et al. 2021) and Llama 1 and 2, a custom llama's unless given. */
#define MDL_ROPE_THETA_DEFAULT 10000.0

/* The block family: what the layer graph (graph.h) is made of.
 *   GPT    learned position embedding, layernorm, multi-head attention with
 *          biases, a GELU feed-forward (up, down), LM head tied to the embedding;
 *   LLAMA  rotary position (applied to queries and keys), RMSNorm,
 *          grouped-query attention (kv_heads key/value heads, each shared by
 *          heads / kv_heads query heads), no biases, a gated SwiGLU
 *          feed-forward (gate, up, down), an untied LM head. */
typedef enum { MDL_ARCH_GPT, MDL_ARCH_LLAMA } mdl_arch;

/* Dimensions of one decoder-only transformer (plain data, copied by value). */
typedef struct {
  char name[MDL_NAME_MAX]; /* preset name ("1.3B") or "custom" */
  int64_t layers;          /* decoder blocks */
  int64_t d_model;         /* residual width, elements */
  int64_t heads;           /* attention heads */
  int64_t d_head;          /* elements per head; heads * d_head == d_model */
  int64_t d_ff;            /* feed-forward inner width, elements */
  int64_t vocab;           /* vocabulary size, tokens */
  int64_t context;         /* longest sequence (rows of the position table), tokens */
  mdl_arch arch;           /* block family */
  int64_t kv_heads;        /* key/value heads, dividing heads (GPT: heads) */
  double rope_theta;       /* LLAMA: the base of the rotary angles (pair i of a head turns by position x
                              rope_theta^(-2i / d_head)); GPT: 0 */
} mdl_gpt;

/* Number of presets, and the i-th preset's name (i < count). */
size_t mdl_gpt_preset_count(void);
const char *mdl_gpt_preset_name(size_t i);

/* Fill *out with preset `name` (case-insensitive; "gpt3-" prefix allowed).
 * Returns 0, or -1 when there is no such preset. */
int mdl_gpt_preset(const char *name, mdl_gpt *out);

/* Check that dimensions are positive and consistent (heads divide d_model,
 * d_head matches, kv_heads divides heads and is heads for GPT). Returns 0,
 * or -1 with a one-line reason in err. */
int mdl_gpt_check(const mdl_gpt *m, char *err, size_t errlen);

/* The block family's name as the configuration spells it ("gpt", "llama"). */
const char *mdl_arch_name(mdl_arch a);
/* The family as messages name it before the preset ("GPT-3 1.3B", "Llama llama3-8b"). */
const char *mdl_family(const mdl_gpt *m);

#ifdef __cplusplus
}
#endif
#endif
