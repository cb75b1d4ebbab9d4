/* The mask patterns: bernoulli, magnitude, nm and block (see mask.h). Every
 * random draw is a hash of (seed, position), so a mask depends on its seed
 * and shape only, and the nested patterns rank the same weights the same
 * way at every level. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mask.h"
#include "mask_internal.h"

static const char *const pattern_names[] = {"bernoulli", "magnitude", "nm", "block", "file"};

const char *wl_pattern_name(wl_pattern_kind kind) {
  return (unsigned)kind < sizeof pattern_names / sizeof pattern_names[0] ? pattern_names[kind] : "?";
}

/* splitmix64's finalizer of a counter: independent 64-bit draws per position. */
static uint64_t hash(uint64_t seed, uint64_t i) {
  uint64_t z = seed + (i + 1) * UINT64_C(0x9E3779B97F4A7C15);
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

/* Independent streams of one seed: weights, row scales, column scales. */
enum { STREAM_WEIGHTS = 1, STREAM_ROWS, STREAM_COLS };
static uint64_t stream(uint64_t seed, uint64_t which) { return hash(seed, UINT64_C(0x5851F42D4C957F2D) * which); }

/* A uniform in (0, 1] from 53 bits. */
static double unit(uint64_t h) { return (double)((h >> 11) + 1) * 0x1.0p-53; }

int wl_pattern_check(const wl_pattern *p, uint32_t rows, uint32_t cols, double density, char *err, size_t errlen) {
  if (!(density >= 0.0 && density <= 1.0)) {
    snprintf(err, errlen, "density %g: expected a fraction in [0, 1]", density);
    return -1;
  }
  if (p->kind == WL_PATTERN_NM) {
    const double n = density * p->nm_group;
    if (p->nm_group == 0 || fabs(n - nearbyint(n)) > 1e-9 * p->nm_group) {
      snprintf(err, errlen,
               "nm: sparsity %g keeps %g of every %u weights along K, not a whole number; "
               "levels of N:%u are multiples of 1/%u (or choose another nm_group)",
               1.0 - density, n, p->nm_group, p->nm_group, p->nm_group);
      return -1;
    }
    if (rows % p->nm_group != 0) {
      snprintf(err, errlen, "nm: nm_group %u does not divide K = %u", p->nm_group, rows);
      return -1;
    }
  }
  if (p->kind == WL_PATTERN_BLOCK && (p->block == 0 || rows % p->block != 0 || cols % p->block != 0)) {
    snprintf(err, errlen, "block: blocks of %u x %u do not tile a %u x %u weight", p->block, p->block, rows, cols);
    return -1;
  }
  if (p->kind == WL_PATTERN_FILE) {
    snprintf(err, errlen, "file: masks from a file come from wl_weights, not wl_mask_make");
    return -1;
  }
  return 0;
}

wl_mask *wl_mask_bernoulli(uint32_t rows, uint32_t cols, double density, uint64_t seed) {
  wl_mask *m = wl_mask_alloc(rows, cols);
  if (!m) return NULL;
  /* keep a weight when a uniform 32-bit draw is below density x 2^32 */
  const uint64_t cut = (uint64_t)(fmin(fmax(density, 0.0), 1.0) * 4294967296.0);
  for (uint32_t r = 0; r < rows; r++) {
    const uint64_t s = seed ^ ((uint64_t)r * UINT64_C(0xD1B54A32D192ED03));
    uint64_t *row = &m->bits[(size_t)r * m->words];
    for (uint32_t c = 0; c < cols; c += 2) {
      const uint64_t h = hash(s, c / 2);
      row[c / 64] |= (uint64_t)((h & 0xFFFFFFFFu) < cut) << (c % 64);
      if (c + 1 < cols) row[c / 64] |= (uint64_t)((h >> 32) < cut) << ((c + 1) % 64);
    }
  }
  wl_mask_recount(m);
  return m;
}

/* ---- magnitude ---- */

#define QBITS 12 /* the half-normal quantile table has 2^QBITS + 1 points */

/* The half-normal quantile table: table[i] = x with P(|Z| <= x) = i / 2^QBITS
 * for a standard normal Z, the last point at 1 - 2^-32. Newton's method on
 * erf from the previous point: erf is concave on x > 0, so the iterates
 * approach each root from below and never overshoot. */
static void halfnormal_table(float *table) {
  double x = 0.0;
  for (int i = 0; i <= 1 << QBITS; i++) {
    const double p = i < 1 << QBITS ? (double)i / (1 << QBITS) : 1.0 - 0x1.0p-32;
    for (int it = 0; it < 100; it++) {
      const double step = (erf(x / sqrt(2.0)) - p) / (sqrt(2.0 / 3.141592653589793) * exp(-0.5 * x * x));
      x -= step;
      if (fabs(step) < 1e-12) break;
    }
    table[i] = (float)x;
  }
}

/* Log-normal scales with a fraction of outliers, one per row or column. */
static void scales(const wl_pattern *p, double sigma, uint64_t seed, uint32_t n, float *out) {
  for (uint32_t i = 0; i < n; i++) {
    const double u1 = unit(hash(seed, 3 * (uint64_t)i)), u2 = unit(hash(seed, 3 * (uint64_t)i + 1));
    const double z = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2); /* Box-Muller */
    const bool outlier = unit(hash(seed, 3 * (uint64_t)i + 2)) <= p->outlier_fraction;
    out[i] = (float)(exp(sigma * z) * (outlier ? p->outlier_scale : 1.0));
  }
}

static wl_mask *magnitude(const wl_pattern *p, uint32_t rows, uint32_t cols, uint64_t keep, uint64_t seed,
                          wl_scratch *sc) {
  float *rs = malloc(rows * sizeof *rs), *cs = malloc(cols * sizeof *cs);
  float table[(1 << QBITS) + 1];
  wl_mask *m = NULL;
  if (rs && cs && wl_scratch_reserve(sc, (size_t)rows * cols)) {
    uint32_t *key = sc->key;
    uint64_t *hist = sc->hist;
    halfnormal_table(table);
    scales(p, p->row_sigma, stream(seed, STREAM_ROWS), rows, rs);
    scales(p, p->col_sigma, stream(seed, STREAM_COLS), cols, cs);
    const uint64_t sw = stream(seed, STREAM_WEIGHTS);
    for (uint32_t r = 0; r < rows; r++) {
      uint32_t *k = &key[(size_t)r * cols];
      const uint64_t sr = hash(sw, r);
      uint64_t h = 0;
      for (uint32_t c = 0; c < cols; c++) {
        if (c % 2 == 0) h = hash(sr, c / 2);
        const uint32_t u = c % 2 ? (uint32_t)(h >> 32) : (uint32_t)h;
        const uint32_t q = u >> (32 - QBITS);
        const float frac = (float)(u & ((1u << (32 - QBITS)) - 1)) * 0x1.0p-20f;
        const float w = rs[r] * cs[c] * (table[q] + frac * (table[q + 1] - table[q]));
        memcpy(&k[c], &w, sizeof w); /* a non-negative float's bits order as its value */
        hist[k[c] >> 16]++;
      }
    }
    m = wl_mask_top_hist(rows, cols, key, keep, hist);
  }
  free(rs);
  free(cs);
  return m;
}

/* ---- nm and block ---- */

/* Pack row-major keep flags (one byte per weight) of `n` rows starting at
 * row r0 into the bitmap. */
static void pack_rows(wl_mask *m, uint32_t r0, uint32_t n, const uint8_t *flags) {
  for (uint32_t i = 0; i < n; i++) {
    uint64_t *row = &m->bits[(size_t)(r0 + i) * m->words];
    const uint8_t *f = &flags[(size_t)i * m->cols];
    for (uint32_t w = 0; w < m->words; w++) {
      uint64_t bits = 0;
      const uint32_t end = (w + 1) * 64 < m->cols ? 64 : m->cols - w * 64;
      for (uint32_t b = 0; b < end; b++) bits |= (uint64_t)f[w * 64 + b] << b;
      row[w] = bits;
    }
  }
}

/* N of every M weights along K: per group and column, the N largest of M
 * random 16-bit keys, four from one draw (ties to the lower position). The
 * M rows of a group are assembled 64 columns at a time. M is a constant
 * where this is inlined for the common groups. */
static inline __attribute__((always_inline)) void nm_group(wl_mask *m, uint32_t g, uint32_t M, uint32_t N,
                                                           uint64_t seed) {
  const uint32_t cols = m->cols, draws = (M + 3) / 4;
  uint64_t acc[64] = {0};
  for (uint32_t c = 0; c < cols; c++) {
    uint32_t key[64];
    const uint64_t base = ((uint64_t)g * cols + c) * draws;
    for (uint32_t d = 0; d < draws; d++) {
      const uint64_t h = hash(seed, base + d);
      for (uint32_t i = 4 * d; i < 4 * d + 4 && i < M; i++) /* unique: the position breaks ties */
        key[i] = (uint32_t)(h >> (16 * (i % 4)) & 0xFFFF) << 8 | (255 - i);
    }
    for (uint32_t i = 0; i < M; i++) {
      uint32_t rank = 0; /* weights of the group ahead of weight i */
      for (uint32_t j = 0; j < M; j++) rank += key[j] > key[i];
      acc[i] |= (uint64_t)(rank < N) << (c % 64);
    }
    if (c % 64 == 63 || c + 1 == cols)
      for (uint32_t i = 0; i < M; i++) {
        m->bits[(size_t)(g * M + i) * m->words + c / 64] = acc[i];
        acc[i] = 0;
      }
  }
}

static wl_mask *nm(uint32_t rows, uint32_t cols, uint32_t M, uint32_t N, uint64_t seed) {
  wl_mask *m = wl_mask_alloc(rows, cols);
  for (uint32_t g = 0; m && g < rows / M; g++) {
    if (M == 4) nm_group(m, g, 4, N, seed);
    else if (M == 8) nm_group(m, g, 8, N, seed);
    else nm_group(m, g, M, N, seed);
  }
  if (m) wl_mask_recount(m);
  return m;
}

/* Exactly round(density x blocks) b x b blocks, those with the largest random keys. */
static wl_mask *block(uint32_t rows, uint32_t cols, uint32_t b, double density, uint64_t seed, wl_scratch *sc) {
  const uint32_t br = rows / b, bc = cols / b;
  if (!wl_scratch_reserve(sc, (size_t)br * bc)) return NULL;
  for (size_t i = 0; i < (size_t)br * bc; i++) {
    sc->key[i] = (uint32_t)hash(seed, i);
    sc->hist[sc->key[i] >> 16]++;
  }
  wl_mask *blocks = wl_mask_top_hist(br, bc, sc->key, (uint64_t)llround(density * (double)br * bc), sc->hist);
  wl_mask *m = blocks ? wl_mask_alloc(rows, cols) : NULL;
  uint8_t *flags = m ? malloc(cols) : NULL;
  for (uint32_t r = 0; flags && r < br; r++) {
    for (uint32_t c = 0; c < cols; c++) flags[c] = wl_mask_get(blocks, r, c / b);
    pack_rows(m, r * b, 1, flags);
    for (uint32_t i = 1; i < b; i++)
      memcpy(&m->bits[(size_t)(r * b + i) * m->words], &m->bits[(size_t)r * b * m->words], m->words * sizeof *m->bits);
  }
  if (m && flags) m->nnz = wl_mask_nnz(blocks) * b * b;
  if (m && !flags) {
    wl_mask_destroy(m);
    m = NULL;
  }
  free(flags);
  wl_mask_destroy(blocks);
  return m;
}

wl_mask *wl_mask_make_with(const wl_pattern *p, uint32_t rows, uint32_t cols, double density, uint64_t seed,
                           wl_scratch *sc, char *err, size_t errlen) {
  if (wl_pattern_check(p, rows, cols, density, err, errlen) != 0) return NULL;
  wl_mask *m = NULL;
  switch (p->kind) {
    case WL_PATTERN_BERNOULLI: m = wl_mask_bernoulli(rows, cols, density, seed); break;
    case WL_PATTERN_MAGNITUDE:
      m = magnitude(p, rows, cols, (uint64_t)llround(density * (double)rows * cols), seed, sc);
      break;
    case WL_PATTERN_NM: m = nm(rows, cols, p->nm_group, (uint32_t)nearbyint(density * p->nm_group), seed); break;
    case WL_PATTERN_BLOCK: m = block(rows, cols, p->block, density, seed, sc); break;
    case WL_PATTERN_FILE: break;
  }
  if (!m) snprintf(err, errlen, "%s mask of %u x %u: out of memory", wl_pattern_name(p->kind), rows, cols);
  return m;
}

wl_mask *wl_mask_make(const wl_pattern *p, uint32_t rows, uint32_t cols, double density, uint64_t seed, char *err,
                      size_t errlen) {
  wl_scratch sc = {0};
  wl_mask *m = wl_mask_make_with(p, rows, cols, density, seed, &sc, err, errlen);
  wl_scratch_free(&sc);
  return m;
}
