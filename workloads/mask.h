/* Sparsity masks: which weights of a rows x cols matrix W[K, N] are kept.
 * One mask per sparse weight matrix, stored as a bitmap, deterministic from
 * its seed; queries of any rectangle are consistent with each other (it is
 * one mask, not samples). The patterns:
 *
 *   bernoulli  each weight kept independently with probability `density`;
 *   magnitude  synthetic weights |w| = row scale x column scale x |z|, z
 *              standard normal, the scales log-normal with a fraction of
 *              outlier rows and columns scaled up; the round(density x K x N)
 *              largest are kept (ties to the lower row-major index). The
 *              weights depend on the seed only, so masks of higher sparsity
 *              are nested in those of lower sparsity, as in iterative pruning;
 *   nm         N of every M consecutive weights along K kept (N = density x M,
 *              an integer), the N with the largest random keys: nested too;
 *   block      b x b blocks, exactly round(density x blocks) of them kept,
 *              those with the largest random keys: nested too.
 *
 * Weights read from a file are pruned by wl_mask_top (safetensors.h). */
#ifndef WAFERSIM_WORKLOADS_MASK_H
#define WAFERSIM_WORKLOADS_MASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  WL_PATTERN_BERNOULLI,
  WL_PATTERN_MAGNITUDE,
  WL_PATTERN_NM,
  WL_PATTERN_BLOCK,
  WL_PATTERN_FILE,
} wl_pattern_kind;

typedef struct {
  wl_pattern_kind kind;
  uint32_t nm_group;       /* nm: M, weights per group along K */
  uint32_t block;          /* block: b, the side of a block */
  double row_sigma;        /* magnitude: standard deviation of log row scales */
  double col_sigma;        /* magnitude: ... of log column scales */
  double outlier_fraction; /* magnitude: rows and columns that are outliers */
  double outlier_scale;    /* magnitude: the outliers' extra scale, >= 1 */
} wl_pattern;

typedef struct wl_mask wl_mask;

/* Name of a pattern kind as in YAML ("nm"). */
const char *wl_pattern_name(wl_pattern_kind kind);

/* Check that pattern p can lay out `density` on a rows x cols matrix (nm:
 * density x M an integer >= 1 and M divides rows; block: b divides both);
 * 0, or -1 with what is wrong in err. */
int wl_pattern_check(const wl_pattern *p, uint32_t rows, uint32_t cols, double density, char *err,
                     size_t errlen);

/* A mask of pattern p (not WL_PATTERN_FILE); density in [0, 1]. NULL with a
 * message in err when the pattern cannot lay out the density (see
 * wl_pattern_check) or memory runs out. The caller frees it with
 * wl_mask_destroy. */
wl_mask *wl_mask_make(const wl_pattern *p, uint32_t rows, uint32_t cols, double density, uint64_t seed,
                      char *err, size_t errlen);
/* A Bernoulli mask; NULL on out of memory. Row r depends only on (seed, r). */
wl_mask *wl_mask_bernoulli(uint32_t rows, uint32_t cols, double density, uint64_t seed);

/* The `keep` weights with the largest keys (row-major key[rows x cols];
 * ties to the lower index). Keys order like magnitudes: the bits of a
 * non-negative float compare as the float does. NULL on out of memory. */
wl_mask *wl_mask_top(uint32_t rows, uint32_t cols, const uint32_t *key, uint64_t keep);
/* The weights whose byte is nonzero (row-major bytes[rows x cols]). */
wl_mask *wl_mask_bytes(uint32_t rows, uint32_t cols, const uint8_t *bytes);

void wl_mask_destroy(wl_mask *m);

uint32_t wl_mask_rows(const wl_mask *m);
uint32_t wl_mask_cols(const wl_mask *m);
bool wl_mask_get(const wl_mask *m, uint32_t r, uint32_t c);
/* Kept weights in [r0, r1) x [c0, c1) (bounds clipped to the matrix); a
 * NULL mask is a dense weight: every one, (r1 - r0) x (c1 - c0). */
uint64_t wl_mask_count(const wl_mask *m, uint32_t r0, uint32_t r1, uint32_t c0, uint32_t c1);
/* Kept weights of every tile of one band of rows: out[j] = wl_mask_count(m, r0, r1, cut[j], cut[j + 1])
 * for j < parts (cut non-decreasing), in one pass over each row's words. */
void wl_mask_band_counts(const wl_mask *m, uint32_t r0, uint32_t r1, const uint32_t *cut, uint32_t parts,
                         uint64_t *out);
uint64_t wl_mask_nnz(const wl_mask *m);
/* Kept weights of every row into out[rows], of every column into out[cols]. */
void wl_mask_row_counts(const wl_mask *m, uint64_t *out);
void wl_mask_col_counts(const wl_mask *m, uint64_t *out);
/* Bytes the mask holds. */
size_t wl_mask_bytes_used(const wl_mask *m);

/* Nonzeros per tile of a tiling: rows cut at kcut[0..nk] (kcut[0] = 0,
 * kcut[nk] = rows, increasing), columns at ncut[0..nn]. */
typedef struct {
  uint64_t tiles;
  uint64_t nnz;        /* sum over the tiles: the mask's nonzeros */
  uint64_t max, min;   /* most and fewest nonzeros of a tile */
  double mean;         /* nnz / tiles */
  double imbalance;    /* max / mean (1 when the mask is empty) */
} wl_tile_stats;
wl_tile_stats wl_mask_tiles(const wl_mask *m, const uint32_t *kcut, uint32_t nk, const uint32_t *ncut, uint32_t nn);

/* Even cut points of n into parts: cut[i] = i x n / parts, i = 0..parts (the
 * kernels' default tiling). */
void wl_cuts_even(uint32_t n, uint32_t parts, uint32_t *cut);
/* Cut points of n rows (or columns) with count[0..n) nonzeros each into
 * parts of about equal nonzeros: cut[i] is the first index where the running
 * count reaches i x total / parts, kept strictly increasing with at least one
 * index per part (parts <= n). */
void wl_cuts_balanced(const uint64_t *count, uint32_t n, uint32_t parts, uint32_t *cut);

#ifdef __cplusplus
}
#endif
#endif
