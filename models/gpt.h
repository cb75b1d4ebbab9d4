/* GPT-3 family model dimensions: the presets of Brown et al. 2020 (Table 2.1)
 * and a check for custom dimensions. Knows nothing of machines or sparsity. */
#ifndef WAFERSIM_MODELS_GPT_H
#define WAFERSIM_MODELS_GPT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MDL_NAME_MAX 16

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
} mdl_gpt;

/* Number of presets, and the i-th preset's name (i < count). */
size_t mdl_gpt_preset_count(void);
const char *mdl_gpt_preset_name(size_t i);

/* Fill *out with preset `name` (case-insensitive; "gpt3-" prefix allowed).
 * Returns 0, or -1 when there is no such preset. */
int mdl_gpt_preset(const char *name, mdl_gpt *out);

/* Check that dimensions are positive and consistent (heads divide d_model,
 * d_head matches). Returns 0, or -1 with a one-line reason in err. */
int mdl_gpt_check(const mdl_gpt *m, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
