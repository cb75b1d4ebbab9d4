/* Bitmap masks: storage, queries, tilings and exact top-k selection (see
 * mask.h); the pattern generators are in pattern.c. */
#include "mask.h"

#include <stdlib.h>
#include <string.h>

#include "mask_internal.h"

wl_mask *wl_mask_alloc(uint32_t rows, uint32_t cols) {
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
  return m;
}

void wl_mask_recount(wl_mask *m) {
  uint64_t n = 0;
  for (size_t w = 0; w < (size_t)m->rows * m->words; w++) n += (uint64_t)__builtin_popcountll(m->bits[w]);
  m->nnz = n;
}

void wl_mask_destroy(wl_mask *m) {
  if (!m) return;
  free(m->bits);
  free(m);
}

uint32_t wl_mask_rows(const wl_mask *m) { return m->rows; }
uint32_t wl_mask_cols(const wl_mask *m) { return m->cols; }
uint64_t wl_mask_nnz(const wl_mask *m) { return m->nnz; }
size_t wl_mask_bytes_used(const wl_mask *m) { return sizeof *m + ((size_t)m->rows * m->words + 1) * sizeof *m->bits; }

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
  if (!m) return (uint64_t)(r1 - r0) * (c1 - c0);
  if (r1 > m->rows) r1 = m->rows;
  if (c1 > m->cols) c1 = m->cols;
  uint64_t n = 0;
  for (uint32_t r = r0; r < r1; r++) n += row_count(&m->bits[(size_t)r * m->words], c0, c1);
  return n;
}

void wl_mask_band_counts(const wl_mask *m, uint32_t r0, uint32_t r1, const uint32_t *cut, uint32_t parts,
                         uint64_t *out) {
  memset(out, 0, parts * sizeof *out);
  if (r1 > m->rows) r1 = m->rows;
  for (uint32_t r = r0; r < r1; r++) { /* along the row: bits [0, cut[j]) at each cut point */
    const uint64_t *row = &m->bits[(size_t)r * m->words];
    uint32_t w = 0;
    uint64_t before = 0, prev = 0; /* bits of words [0, w); at the last cut point */
    for (uint32_t j = 0; j <= parts; j++) {
      const uint32_t x = cut[j] < m->cols ? cut[j] : m->cols, wx = x / 64;
      for (; w < wx; w++) before += (uint64_t)__builtin_popcountll(row[w]);
      const uint64_t at =
          x % 64 ? before + (uint64_t)__builtin_popcountll(row[wx] & ~(~UINT64_C(0) << x % 64)) : before;
      if (j > 0) out[j - 1] += at - prev;
      prev = at;
    }
  }
}

void wl_mask_row_counts(const wl_mask *m, uint64_t *out) {
  for (uint32_t r = 0; r < m->rows; r++) out[r] = row_count(&m->bits[(size_t)r * m->words], 0, m->cols);
}

void wl_mask_col_counts(const wl_mask *m, uint64_t *out) {
  memset(out, 0, m->cols * sizeof *out);
  for (uint32_t r = 0; r < m->rows; r++) {
    const uint64_t *row = &m->bits[(size_t)r * m->words];
    for (uint32_t w = 0; w < m->words; w++)
      for (uint64_t b = row[w]; b; b &= b - 1) out[w * 64 + (uint32_t)__builtin_ctzll(b)]++;
  }
}

wl_tile_stats wl_mask_tiles(const wl_mask *m, const uint32_t *kcut, uint32_t nk, const uint32_t *ncut, uint32_t nn) {
  wl_tile_stats s = {.tiles = (uint64_t)nk * nn, .min = UINT64_MAX};
  uint64_t *tile = calloc(nn ? nn : 1, sizeof *tile);
  for (uint32_t i = 0; tile && i < nk; i++) {
    wl_mask_band_counts(m, kcut[i], kcut[i + 1], ncut, nn, tile);
    for (uint32_t j = 0; j < nn; j++) {
      s.nnz += tile[j];
      if (tile[j] > s.max) s.max = tile[j];
      if (tile[j] < s.min) s.min = tile[j];
    }
  }
  free(tile);
  if (s.tiles == 0) s.min = 0;
  s.mean = s.tiles ? (double)s.nnz / (double)s.tiles : 0.0;
  s.imbalance = s.nnz ? (double)s.max / s.mean : 1.0;
  return s;
}

void wl_cuts_even(uint32_t n, uint32_t parts, uint32_t *cut) {
  for (uint32_t i = 0; i <= parts; i++) cut[i] = (uint32_t)((uint64_t)i * n / parts);
}

void wl_cuts_balanced(const uint64_t *count, uint32_t n, uint32_t parts, uint32_t *cut) {
  uint64_t total = 0;
  for (uint32_t i = 0; i < n; i++) total += count[i];
  cut[0] = 0;
  uint64_t run = 0;
  uint32_t at = 0;
  for (uint32_t p = 1; p < parts; p++) {
    const double want = (double)total * p / parts;
    while (at < n && (double)(run + count[at]) <= want) run += count[at++];
    /* the index whose row crosses the share goes to whichever side it is nearer */
    if (at < n && (double)run + 0.5 * (double)count[at] < want) run += count[at++];
    const uint32_t lo = cut[p - 1] + 1, hi = n - (parts - p);
    cut[p] = at < lo ? lo : at > hi ? hi : at;
    if (cut[p] != at) { /* clamped: recount up to the cut */
      run = 0;
      for (uint32_t i = 0; i < cut[p]; i++) run += count[i];
      at = cut[p];
    }
  }
  cut[parts] = n;
}

/* The threshold of a radix select: the `keep`-th largest 16-bit digit
 * counted in hist, and how many of the kept have that digit. */
static uint32_t select_digit(const uint64_t *hist, uint64_t keep, uint64_t *at_digit) {
  uint64_t above = 0;
  uint32_t d = 65535;
  while (above + hist[d] < keep) above += hist[d--];
  *at_digit = keep - above;
  return d;
}

bool wl_scratch_reserve(wl_scratch *s, size_t n) {
  if (!s->hist && !(s->hist = malloc(65536 * sizeof *s->hist))) return false;
  memset(s->hist, 0, 65536 * sizeof *s->hist);
  if (n <= s->cap) return true;
  uint32_t *k = realloc(s->key, n * sizeof *k);
  if (!k) return false;
  s->key = k;
  s->cap = n;
  return true;
}

void wl_scratch_free(wl_scratch *s) {
  free(s->key);
  free(s->hist);
  *s = (wl_scratch){0};
}

wl_mask *wl_mask_top(uint32_t rows, uint32_t cols, const uint32_t *key, uint64_t keep) {
  wl_scratch s = {0};
  if (!wl_scratch_reserve(&s, 0)) return NULL;
  for (size_t i = 0; i < (size_t)rows * cols; i++) s.hist[key[i] >> 16]++;
  wl_mask *m = wl_mask_top_hist(rows, cols, key, keep, s.hist);
  wl_scratch_free(&s);
  return m;
}

wl_mask *wl_mask_top_hist(uint32_t rows, uint32_t cols, const uint32_t *key, uint64_t keep, uint64_t *hist) {
  wl_mask *m = wl_mask_alloc(rows, cols);
  if (!m) return NULL;
  const size_t n = (size_t)rows * cols;
  if (keep > n) keep = n;
  uint32_t threshold = UINT32_MAX;
  uint64_t ties = 0; /* weights equal to the threshold that are kept, lowest index first */
  if (keep > 0) {
    uint64_t need;
    const uint32_t hi = select_digit(hist, keep, &need);
    memset(hist, 0, 65536 * sizeof *hist);
    for (size_t i = 0; i < n; i++)
      if (key[i] >> 16 == hi) hist[key[i] & 0xFFFF]++;
    const uint32_t lo = select_digit(hist, need, &ties);
    threshold = hi << 16 | lo;
  }
  for (uint32_t r = 0; keep > 0 && r < rows; r++) {
    const uint32_t *k = &key[(size_t)r * cols];
    uint64_t *row = &m->bits[(size_t)r * m->words];
    for (uint32_t w = 0; w < m->words; w++) {
      const uint32_t end = (w + 1) * 64 < cols ? 64 : cols - w * 64;
      uint64_t bits = 0;
      for (uint32_t b = 0; b < end; b++) bits |= (uint64_t)(k[w * 64 + b] > threshold) << b;
      row[w] = bits;
    }
    for (uint32_t c = 0; ties > 0 && c < cols; c++) /* the ties, lowest index first */
      if (k[c] == threshold) {
        row[c / 64] |= UINT64_C(1) << (c % 64);
        ties--;
      }
  }
  m->nnz = keep;
  return m;
}

wl_mask *wl_mask_bytes(uint32_t rows, uint32_t cols, const uint8_t *bytes) {
  wl_mask *m = wl_mask_alloc(rows, cols);
  if (!m) return NULL;
  for (uint32_t r = 0; r < rows; r++)
    for (uint32_t c = 0; c < cols; c++)
      m->bits[(size_t)r * m->words + c / 64] |= (uint64_t)(bytes[(size_t)r * cols + c] != 0) << (c % 64);
  wl_mask_recount(m);
  return m;
}
