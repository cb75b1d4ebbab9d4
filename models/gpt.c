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
 *   d_model 5120, as OPT-13B and Megatron configurations do.
 *
 * Llama presets:
 * - llama3-8b: Llama 3 and 3.1 8B (Dubey et al. 2024, "The Llama 3 Herd of
 *   Models", Table 3: 32 layers, d_model 4096, d_ff 14336, 32 heads, 8
 *   key/value heads; vocabulary and context from Meta's released
 *   config.json of Meta-Llama-3.1-8B: vocab_size 128256,
 *   max_position_embeddings 131072, tie_word_embeddings false). Llama 3's
 *   context was 8192; the shape is the same. 8.03B parameters.
 * - llama-tiny: wafersim's own, for tests and quick runs: 2 layers, d_model
 *   64, 4 heads of 16 sharing 2 key/value heads, d_ff 176 (Llama's rule:
 *   8/3 d_model rounded up to a multiple of 16), vocabulary 256, Llama 2's
 *   rotary base.
 * llama3-8b's rotary base, 500000, is Table 3's "RoPE theta". */
#include "gpt.h"

#include <stdio.h>
#include <strings.h>

static const mdl_gpt presets[] = {
    /* name         layers d_model heads d_head  d_ff   vocab  context  arch      kv_heads rope_theta */
    {"125M", 12, 768, 12, 64, 3072, 50257, 2048, MDL_ARCH_GPT, 12, 0},
    {"350M", 24, 1024, 16, 64, 4096, 50257, 2048, MDL_ARCH_GPT, 16, 0},
    {"760M", 24, 1536, 16, 96, 6144, 50257, 2048, MDL_ARCH_GPT, 16, 0},
    {"1.3B", 24, 2048, 16, 128, 8192, 50257, 2048, MDL_ARCH_GPT, 16, 0},
    {"2.7B", 32, 2560, 32, 80, 10240, 50257, 2048, MDL_ARCH_GPT, 32, 0},
    {"6.7B", 32, 4096, 32, 128, 16384, 50257, 2048, MDL_ARCH_GPT, 32, 0},
    {"13B", 40, 5120, 40, 128, 20480, 50257, 2048, MDL_ARCH_GPT, 40, 0},
    {"175B", 96, 12288, 96, 128, 49152, 50257, 2048, MDL_ARCH_GPT, 96, 0},
    {"llama3-8b", 32, 4096, 32, 128, 14336, 128256, 131072, MDL_ARCH_LLAMA, 8, 500000.0},
    {"llama-tiny", 2, 64, 4, 16, 176, 256, 256, MDL_ARCH_LLAMA, 2, MDL_ROPE_THETA_DEFAULT},
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
              {"context", m->context}, {"kv_heads", m->kv_heads}};
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
  if (m->arch != MDL_ARCH_GPT && m->arch != MDL_ARCH_LLAMA) {
    snprintf(err, errlen, "model %s: arch %d is no block family", m->name, (int)m->arch);
    return -1;
  }
  if (m->heads % m->kv_heads != 0) {
    snprintf(err, errlen, "model %s: kv_heads = %lld does not divide heads = %lld", m->name, (long long)m->kv_heads,
             (long long)m->heads);
    return -1;
  }
  if (m->arch == MDL_ARCH_LLAMA && (m->d_head % 2 != 0 || !(m->rope_theta > 1.0 && m->rope_theta <= 1e12))) {
    snprintf(err, errlen, "model %s: a llama block turns pairs of a head's features: d_head = %lld must be even and "
             "rope_theta = %g in (1, 1e12]", m->name, (long long)m->d_head, m->rope_theta);
    return -1;
  }
  if (m->arch == MDL_ARCH_GPT && m->kv_heads != m->heads) {
    snprintf(err, errlen, "model %s: kv_heads = %lld, but a gpt block has one key/value head a query head (%lld)",
             m->name, (long long)m->kv_heads, (long long)m->heads);
    return -1;
  }
  return 0;
}

static const char *const arch_names[] = {[MDL_ARCH_GPT] = "gpt", [MDL_ARCH_LLAMA] = "llama"};

const char *mdl_arch_name(mdl_arch a) { return (unsigned)a <= MDL_ARCH_LLAMA ? arch_names[a] : "?"; }

const char *mdl_family(const mdl_gpt *m) { return m->arch == MDL_ARCH_LLAMA ? "Llama" : "GPT-3"; }
