/* The accounting reports: FLOPs, parameters and weight memory of the
 * configured model per sparsity level (`wafersim flops`), and the preset
 * table (`wafersim models`). */
#ifndef WAFERSIM_SIM_FLOPS_H
#define WAFERSIM_SIM_FLOPS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "table.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Granularity of the flops report: one row per level, per op kind, per op. */
typedef enum { WS_PER_TOTAL, WS_PER_KIND, WS_PER_OP } ws_flops_per;

const char *ws_flops_per_name(ws_flops_per per); /* "total", "kind", "op" */
int ws_flops_per_parse(const char *name);        /* -1 if unknown */

typedef struct {
  const double *levels; /* global sparsity levels, each in [0, 1); the
                           configuration's per-kind and per-layer overrides apply at each */
  size_t nlevels;
  ws_flops_per per;
  uint32_t tile_w, tile_h; /* > 0: every weight cut as on a tile_w x tile_h region
                              (tile_h parts along K, tile_w along N), with the
                              masks' per-tile nonzeros as extra columns */
} ws_flops_spec;

/* The flops report of a finished configuration. Nonzeros come from the
 * masks when they are built (a tiling, or pattern file), otherwise they are
 * round(density x K x N). Returns a table the caller destroys, or NULL with
 * a message in err. */
ws_table *ws_flops_table(const ws_config *cfg, const ws_flops_spec *spec, char *err, size_t errlen);

/* One row per GPT-3 preset: dimensions, parameters (dense, and the part that
 * is sparsifiable) and dense fp16 weight bytes. */
ws_table *ws_models_table(char *err, size_t errlen);
/* The columns of the models table, in output order (table.h ws_column); *n their count. */
const ws_column *ws_models_columns(size_t *n);
/* The columns of ws_flops_table at granularity per, in output order; *n
 * their count, of which the last *ntile (tile_nnz_max, tile_nnz_mean,
 * tile_nnz_min, tile_imbalance) only with a tiling. */
const ws_column *ws_flops_columns(ws_flops_per per, size_t *n, size_t *ntile);

#ifdef __cplusplus
}
#endif
#endif
