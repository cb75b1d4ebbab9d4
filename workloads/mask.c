/* Bitmap masks (see mask.h). */
#include "mask.h"

#include <stdlib.h>

struct wl_mask {
  uint32_t rows, cols, words; /* words: 64-bit words per row */
  uint64_t nnz;
  uint64_t *bits; /* owned, rows x words */
};

/* splitmix64: a stream per (seed, row) so rows are independent of query order. */
static uint64_t mix(uint64_t *s) {
  uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

wl_mask *wl_mask_bernoulli(uint32_t rows, uint32_t cols, double density, uint64_t seed) {
  wl_mask *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  m->rows = rows;
  m->cols = cols;
  m->words = (cols + 63) / 64;
  m->bits = calloc((size_t)rows * m->words + 1, sizeof *m->bits);
  if (!m->bits) {
    free(m);
    return NULL;
  }
  /* keep a weight when a uniform 64-bit draw is below density x 2^64 */
  const uint64_t cut = density >= 1.0 ? UINT64_MAX : (uint64_t)(density * 18446744073709551616.0);
  for (uint32_t r = 0; r < rows; r++) {
    uint64_t s = seed ^ ((uint64_t)r * UINT64_C(0xD1B54A32D192ED03));
    uint64_t *row = &m->bits[(size_t)r * m->words];
    for (uint32_t c = 0; c < cols; c++) {
      if (density >= 1.0 || mix(&s) < cut) {
        row[c / 64] |= UINT64_C(1) << (c % 64);
        m->nnz++;
      }
    }
  }
  return m;
}

void wl_mask_destroy(wl_mask *m) {
  if (!m) return;
  free(m->bits);
  free(m);
}

uint32_t wl_mask_rows(const wl_mask *m) { return m->rows; }
uint32_t wl_mask_cols(const wl_mask *m) { return m->cols; }
uint64_t wl_mask_nnz(const wl_mask *m) { return m->nnz; }

bool wl_mask_get(const wl_mask *m, uint32_t r, uint32_t c) {
  return r < m->rows && c < m->cols && (m->bits[(size_t)r * m->words + c / 64] >> (c % 64) & 1u);
}

/* Bits [c0, c1) of one row. */
static uint64_t row_count(const uint64_t *row, uint32_t c0, uint32_t c1) {
  if (c0 >= c1) return 0;
  const uint32_t w0 = c0 / 64, w1 = (c1 - 1) / 64;
  const uint64_t head = ~UINT64_C(0) << (c0 % 64), tail = ~UINT64_C(0) >> (63 - (c1 - 1) % 64);
  if (w0 == w1) return (uint64_t)__builtin_popcountll(row[w0] & head & tail);
  uint64_t n = (uint64_t)__builtin_popcountll(row[w0] & head) + (uint64_t)__builtin_popcountll(row[w1] & tail);
  for (uint32_t w = w0 + 1; w < w1; w++) n += (uint64_t)__builtin_popcountll(row[w]);
  return n;
}

uint64_t wl_mask_count(const wl_mask *m, uint32_t r0, uint32_t r1, uint32_t c0, uint32_t c1) {
  if (r1 > m->rows) r1 = m->rows;
  if (c1 > m->cols) c1 = m->cols;
  uint64_t n = 0;
  for (uint32_t r = r0; r < r1; r++) n += row_count(&m->bits[(size_t)r * m->words], c0, c1);
  return n;
}
