/* Sparsity masks: which weights of a rows x cols matrix are kept. One mask
 * per sparse weight matrix, deterministic from its seed; queries of any
 * rectangle are consistent with each other (it is one mask, not samples).
 * This version has the `bernoulli` pattern (each weight kept independently
 * with probability `density`), stored as a bitmap. */
#ifndef WAFERSIM_WORKLOADS_MASK_H
#define WAFERSIM_WORKLOADS_MASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wl_mask wl_mask;

/* A Bernoulli mask (density in [0, 1]); NULL on out of memory. The caller
 * frees it with wl_mask_destroy. Row r depends only on (seed, r). */
wl_mask *wl_mask_bernoulli(uint32_t rows, uint32_t cols, double density, uint64_t seed);
void wl_mask_destroy(wl_mask *m);

uint32_t wl_mask_rows(const wl_mask *m);
uint32_t wl_mask_cols(const wl_mask *m);
bool wl_mask_get(const wl_mask *m, uint32_t r, uint32_t c);
/* Kept weights in [r0, r1) x [c0, c1). */
uint64_t wl_mask_count(const wl_mask *m, uint32_t r0, uint32_t r1, uint32_t c0, uint32_t c1);
uint64_t wl_mask_nnz(const wl_mask *m);

#ifdef __cplusplus
}
#endif
#endif
