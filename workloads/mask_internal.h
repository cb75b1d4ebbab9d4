/* The bitmap behind wl_mask and the scratch memory of mask making, shared
 * by the files of workloads/ only. */
#ifndef WAFERSIM_WORKLOADS_MASK_INTERNAL_H
#define WAFERSIM_WORKLOADS_MASK_INTERNAL_H

#include "mask.h"

struct wl_mask {
  uint32_t rows, cols, words; /* words: 64-bit words per row */
  uint64_t nnz;
  uint64_t *bits; /* owned, rows x words, bit c % 64 of word c / 64 */
};

/* An empty rows x cols mask; NULL on out of memory. */
wl_mask *wl_mask_alloc(uint32_t rows, uint32_t cols);
/* wl_mask_top with hist[65536] already counting the keys' high 16 bits
 * (clobbered). */
wl_mask *wl_mask_top_hist(uint32_t rows, uint32_t cols, const uint32_t *key, uint64_t keep, uint64_t *hist);
/* Set nnz from the bits. */
void wl_mask_recount(wl_mask *m);

/* Memory a mask maker reuses from one matrix to the next (one per thread):
 * a key per weight and a 2^16-bin histogram. Zero-initialised; grows. */
typedef struct {
  uint32_t *key;
  size_t cap; /* keys */
  uint64_t *hist;
} wl_scratch;
/* Keys for n weights and a zeroed histogram; false on out of memory. */
bool wl_scratch_reserve(wl_scratch *s, size_t n);
void wl_scratch_free(wl_scratch *s);

/* wl_mask_make with scratch memory s. */
wl_mask *wl_mask_make_with(const wl_pattern *p, uint32_t rows, uint32_t cols, double density, uint64_t seed,
                           wl_scratch *s, char *err, size_t errlen);

#endif
