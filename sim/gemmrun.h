/* `wafersim gemm`: one GEMM or GEMV of any shape, X[m x k] times a weight
 * W[k x n] with the configured sparsity pattern (workload.pattern, seeded by
 * sim.seed), on a region of the mesh, by the configured strategy, one row per
 * sparsity level:
 *   layerwise  the weight resident over the whole region, K over its rows
 *              and N over its columns, the tokens in steps (kernels/mesh_gemm.h);
 *   pipeline   the layer pipeline's GEMM stage on the region, the tokens as
 *              micro-batches of workload.micro_batch (kernels/pipeline.h),
 *              the cycles until the last one's outputs are out;
 *   bound      the executed multiply-accumulates (m x nonzeros, or m k n
 *              dense) over every PE of the region at fmac_fp16 a cycle;
 *   auto       (the default) layerwise: one GEMM has no pipeline to fill.
 * Validation against published hardware figures and kernel studies use it. */
#ifndef WAFERSIM_SIM_GEMMRUN_H
#define WAFERSIM_SIM_GEMMRUN_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "table.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WS_GEMM_DIM_MAX (1u << 20) /* m, k and n each at most this */

typedef struct {
  uint32_t m, k, n;
  uint32_t width, height; /* the region, PEs; 0: the mesh's, at most n columns and k rows */
  const double *levels;   /* sparsity levels of W */
  uint32_t nlevels;
} ws_gemm_spec;

/* The table (a row per level), or NULL with the reason. */
ws_table *ws_gemmrun(const ws_config *cfg, const ws_gemm_spec *spec, char *err, size_t errlen);
/* Its columns, in output order (table.h); *n their count. */
const ws_column *ws_gemmrun_columns(size_t *n);

#ifdef __cplusplus
}
#endif
#endif
