/* Bounds on the work a configuration or an option can ask for (issue 16:
 * bounded work). Every size the user controls has a stated limit, or an
 * estimate of the memory it needs, checked before the work starts; a
 * refusal names the key or option, the number needed and the number
 * allowed or available.
 *
 * The limits:
 *   - a mesh (fabric.width x fabric.height) has at most WS_MESH_MAX_PES PEs,
 *     checked with the configuration (ws_config_finish), so every command
 *     refuses it before any work. The placer's time grows with the mesh
 *     (GPT-3 1.3B on 2048 x 2048: 50 s, 2.7 GB; 6.7B on 4000 x 4000 was
 *     still placing after 150 s); 2^22 is 5.6 CS-2 wafers;
 *   - a region (kernel --region, flops --tiling) cuts every weight it
 *     tiles into non-empty tiles: at most one column per weight column (N)
 *     and one row per weight row (K), and at most WS_MESH_MAX_PES PEs;
 *   - memory: the mask bitmaps (one bit per sparsifiable weight), the
 *     selection keys of the largest weight (4 B each) and a measured cost
 *     per PE of the mesh (placement, routes, engine and fabric) against a
 *     budget, the machine's physical memory: a run above it swaps or is
 *     killed by the kernel's OOM killer minutes or hours in (a 175B model on
 *     a large mesh built masks for 40 s first), where a refusal costs
 *     nothing. The budget is the host's, so it decides only whether a run
 *     starts, never a figure. */
#ifndef WAFERSIM_SIM_BOUNDS_H
#define WAFERSIM_SIM_BOUNDS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "models/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WS_MESH_MAX_PES (1u << 22) /* 4,194,304 PEs, e.g. 2048 x 2048 */
/* In wavelet fidelity every wavelet is an event at every hop (about six
 * events a wavelet-hop for multicasts, 18 M events/s here): a probe may move
 * at most 2^28 wavelet-hops, counted from its pattern's routes before it
 * starts (multicast-row on the 750 x 994 wafer moved 1.07e9 in 356 s; the
 * most it may now ask, 360 wavelets, 2.68e8 in 118 s). */
#define WS_WAVELET_HOPS_MAX (UINT64_C(1) << 28)

/* Host memory per PE of the mesh, bytes, measured (peak RSS over the mask
 * bitmaps): place of GPT-3 125M on 300 x 200 and 600 x 400 grows 770 B per
 * PE, of 1.3B on 2048 x 2048 640 B; run grows 1.2 KB per PE (125M), and the
 * full-wafer 1.3B run peaks at 2.2 GB (2.8 KB per PE, masks included). */
#define WS_PLACE_BYTES_PER_PE 2048u
#define WS_RUN_BYTES_PER_PE 3072u

typedef enum { WS_WORK_MASKS, WS_WORK_PLACE, WS_WORK_RUN } ws_work; /* masks alone (flops), place, run */

/* The mesh of cfg within WS_MESH_MAX_PES; 0, or -1 with a message naming
 * fabric.width and fabric.height (prefixed by `where`). */
int ws_bounds_mesh(const ws_config *cfg, const char *where, char *err, size_t errlen);

/* A w x h region on op's weight (K = weight_rows, N = weight_cols): every
 * tile non-empty (w <= N, h <= K) and w x h within WS_MESH_MAX_PES. `opt`
 * names the option in the message ("--region", "--tiling"). */
int ws_bounds_region(const mdl_op *op, uint32_t w, uint32_t h, const char *opt, char *err, size_t errlen);

/* The tokens `wafersim kernel` simulates, --micro-batches x each --batch,
 * within model.context (the longest sequence the model takes: no prefill
 * has more); 0, or -1 naming both options and the context. */
int ws_bounds_tokens(const ws_config *cfg, const uint32_t *batches, uint32_t nbatches, uint32_t micro_batches,
                     char *err, size_t errlen);

/* The estimated host memory of building cfg's masks (WS_WORK_MASKS),
 * placing (WS_WORK_PLACE) or running (WS_WORK_RUN) cfg, bytes: the mask
 * bitmaps of every sparsifiable weight and the selection keys of the
 * largest (4 B a weight), plus the per-PE cost of the whole mesh; masks
 * (if not NULL) gets the first part. */
uint64_t ws_bounds_memory(const ws_config *cfg, ws_work work, uint64_t *masks);

/* The machine's physical memory, bytes (0 if unknown: nothing is refused). */
uint64_t ws_bounds_budget(void);

/* `copies` runs of cfg at once (a sweep's workers) within budget bytes
 * (0: no limit); 0, or -1 with a message naming what to reduce. */
int ws_bounds_memory_check(const ws_config *cfg, ws_work work, uint64_t copies, uint64_t budget, char *err,
                           size_t errlen);
/* `wafersim kernel`: op's mask and keys and a w x h region's per-PE cost
 * (WS_RUN_BYTES_PER_PE) within budget; 0, or -1 naming --region. */
int ws_bounds_op_memory_check(const mdl_op *op, uint32_t w, uint32_t h, uint64_t budget, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
