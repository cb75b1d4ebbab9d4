/* GPT-3 presets (Brown et al. 2020, "Language Models are Few-Shot Learners",
 * Table 2.1): layers, d_model, heads, d_head; d_ff = 4 d_model; context 2048;
 * vocabulary 50257 (GPT-2 BPE).
 *
 * Two rows of the paper's table are not self-consistent and are corrected here:
 * - 1.3B (GPT-3 XL): the table lists 24 heads of 128, but 24 x 128 = 3072 !=
 *   d_model 2048, and a 3072-wide attention would make the model ~1.5B
 *   parameters. We use 16 heads of 128 (= 2048), as GPT-Neo 1.3B and
 *   Cerebras-GPT 1.3B do; the parameter count is then 1.316B.
 * - 13B: the table lists d_model 5140 with 40 heads of 128 (= 5120). We use
 *   d_model 5120, as OPT-13B and Megatron configurations do. */
#include "gpt.h"

#include <stdio.h>
#include <strings.h>

static const mdl_gpt presets[] = {
    /* name    layers d_model heads d_head  d_ff   vocab  context */
    {"125M", 12, 768, 12, 64, 3072, 50257, 2048},
    {"350M", 24, 1024, 16, 64, 4096, 50257, 2048},
    {"760M", 24, 1536, 16, 96, 6144, 50257, 2048},
    {"1.3B", 24, 2048, 16, 128, 8192, 50257, 2048},
    {"2.7B", 32, 2560, 32, 80, 10240, 50257, 2048},
    {"6.7B", 32, 4096, 32, 128, 16384, 50257, 2048},
    {"13B", 40, 5120, 40, 128, 20480, 50257, 2048},
    {"175B", 96, 12288, 96, 128, 49152, 50257, 2048},
};

size_t mdl_gpt_preset_count(void) { return sizeof presets / sizeof presets[0]; }

const char *mdl_gpt_preset_name(size_t i) {
  return i < mdl_gpt_preset_count() ? presets[i].name : NULL;
}

int mdl_gpt_preset(const char *name, mdl_gpt *out) {
  if (strncasecmp(name, "gpt3-", 5) == 0) name += 5;
  for (size_t i = 0; i < mdl_gpt_preset_count(); i++) {
    if (strcasecmp(name, presets[i].name) == 0) {
      *out = presets[i];
      return 0;
    }
  }
  return -1;
}

/* Largest dimension accepted: keeps every FLOP and byte count of a forward
 * pass far inside 64 bits (checked again, exactly, when the graph is built). */
#define MDL_DIM_MAX (1 << 24)

int mdl_gpt_check(const mdl_gpt *m, char *err, size_t errlen) {
  const struct {
    const char *key;
    int64_t v;
  } dims[] = {{"layers", m->layers}, {"d_model", m->d_model}, {"heads", m->heads},
              {"d_head", m->d_head}, {"d_ff", m->d_ff},       {"vocab", m->vocab},
              {"context", m->context}};
  for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
    if (dims[i].v <= 0 || dims[i].v > MDL_DIM_MAX) {
      snprintf(err, errlen, "model %s: %s = %lld, expected an integer in [1, %d]", m->name,
               dims[i].key, (long long)dims[i].v, MDL_DIM_MAX);
      return -1;
    }
  }
  if (m->d_model % m->heads != 0) {
    snprintf(err, errlen, "model %s: heads = %lld does not divide d_model = %lld", m->name,
             (long long)m->heads, (long long)m->d_model);
    return -1;
  }
  if (m->heads * m->d_head != m->d_model) {
    snprintf(err, errlen, "model %s: heads x d_head = %lld x %lld != d_model = %lld", m->name,
             (long long)m->heads, (long long)m->d_head, (long long)m->d_model);
    return -1;
  }
  return 0;
}
