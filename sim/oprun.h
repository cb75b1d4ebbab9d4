/* `wafersim kernel`: one weight GEMM of the model on a region of PEs,
 * simulated over a few micro-batches, per micro-batch size x sparsity x
 * kernel: the cost model's per-PE cycles and SRAM beside the simulated
 * cycles per micro-batch. The op's input comes from the host (its rows'
 * first PEs hold x); its output stays at its last row. */
#ifndef WAFERSIM_SIM_OPRUN_H
#define WAFERSIM_SIM_OPRUN_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "kernels/cost.h"
#include "table.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  const char *op;         /* a weight GEMM's name, e.g. "L0.ffn_up" */
  uint32_t width, height; /* its region, PEs */
  const uint32_t *batches;
  uint32_t nbatches;
  const double *levels;   /* sparsity levels */
  uint32_t nlevels;
  const krn_kernel *kernels;
  uint32_t nkernels;
  uint32_t micro_batches; /* simulated, >= 1 */
} ws_oprun_spec;

/* The table (one row per batch x level x kernel), or NULL with the reason. */
ws_table *ws_oprun(const ws_config *cfg, const ws_oprun_spec *spec, char *err, size_t errlen);
/* The columns of that table, in output order (table.h ws_column); *n their count. */
const ws_column *ws_oprun_columns(size_t *n);

#ifdef __cplusplus
}
#endif
#endif
