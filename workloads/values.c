/* Seeded values of functional mode (see values.h): a counter-based hash
 * (splitmix64's finaliser) of seed, the op's name and role, and the element. */
#include "values.h"

#include <math.h>

static uint64_t mix(uint64_t z) {
  z += UINT64_C(0x9e3779b97f4a7c15);
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

/* The stream of (seed, name, role): FNV-1a over the name, mixed. */
static uint64_t stream(uint64_t seed, const char *name, uint64_t role) {
  uint64_t h = UINT64_C(0xcbf29ce484222325);
  for (const char *c = name; *c; c++) h = (h ^ (uint8_t)*c) * UINT64_C(0x100000001b3);
  return mix(mix(seed) ^ h) ^ mix(role + 1);
}

/* Uniform in [-1, 1), 24 bits. */
static float uniform(uint64_t s, uint64_t e) { return (float)(mix(s ^ mix(e)) >> 40) / 8388608.0f - 1.0f; }

void wl_values_fill(uint64_t seed, const char *op, wl_values_role role, uint32_t rows, uint32_t cols, float *out) {
  const uint64_t s = stream(seed, op, (uint64_t)role);
  const float scale = role == WL_VALUES_WEIGHT  ? 1.0f / sqrtf((float)(rows ? rows : 1))
                      : role == WL_VALUES_BIAS  ? 0.05f
                      : role == WL_VALUES_GAIN  ? 0.2f
                      : role == WL_VALUES_SHIFT ? 0.1f
                                                : 0.5f;
  const float offset = role == WL_VALUES_GAIN ? 1.0f : 0.0f;
  const size_t n = (size_t)rows * cols;
  for (size_t e = 0; e < n; e++) out[e] = offset + scale * uniform(s, e);
}

void wl_values_tokens(uint64_t seed, uint32_t seq, uint32_t vocab, uint32_t *out) {
  const uint64_t s = stream(seed, "tokens", 0);
  for (uint32_t t = 0; t < seq; t++) out[t] = (uint32_t)(mix(s ^ mix(t)) % vocab);
}
