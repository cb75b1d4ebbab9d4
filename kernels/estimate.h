/* What a placed stage costs per micro-batch without simulating it: the
 * placer's model of a stage, built from the same per-PE cost functions
 * (cost.h) and the same data movement (pipeline.h) as the simulation.
 *
 * Per PE of the region (its tile, its features, its nonzeros), per
 * micro-batch of b tokens:
 *   compute   its core's cycles (cost.h; GEMM with KRN_AUTO: the cheaper kernel);
 *   ramp_in   wavelets its core takes in: inputs (two fp16 values a wavelet),
 *             partial sums and reduction traffic (acc_bytes / 4 a value);
 *   ramp_out  wavelets it sends: partials, relays, and its outputs once per
 *             consumer stage;
 * and for the stage:
 *   latency   from its last input wavelet to its output sent: the input's
 *             relay across the region, the busiest compute, the reduction
 *             chain (hops of 2 ramp + hop + add cycles) and the output;
 *   interval  the cycles per micro-batch a steady pipeline can give it:
 *             max(compute, ramp_in x consume_cycles, ramp_out, latency / 2)
 *             (one wavelet per link per cycle; two micro-batches in flight,
 *             the pipeline's double buffers).
 * Attention uses the mean number of causal (query, key) pairs per micro-batch
 * over the sequence (its work grows linearly from the first micro-batch to
 * the last, which has about twice the mean). */
#ifndef WAFERSIM_KERNELS_ESTIMATE_H
#define WAFERSIM_KERNELS_ESTIMATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cost.h"
#include "fabric/fabric.h"
#include "pipeline.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  uint32_t pes;
  uint64_t compute, ramp_in, ramp_out; /* of the busiest PE in each */
  uint64_t latency, interval;          /* cycles */
  uint64_t sram;                       /* bytes of the fullest PE, the reserve included */
  uint64_t nnz_max;                    /* GEMM: nonzeros of the fullest tile (EMBED: table rows) */
  double nnz_mean;                     /* GEMM: nonzeros per tile */
  uint32_t tile_k, tile_n;             /* the largest tile (element-wise: 0 x features) */
  uint32_t sparse_pes;                 /* GEMM: PEs running the sparse kernel */
  bool fits;                           /* every PE within the machine's SRAM */
} krn_estimate;

/* The estimate of stage s on its region (s->region's w x h; cut points,
 * mask and kernel as the pipeline would take them) for micro-batches of b
 * tokens of a seq-token sequence, its outputs going to `consumers` stages.
 * 0, or -1 with the reason in err (a shape the stage cannot take). */
int krn_estimate_stage(const krn_machine *m, const fab_config *fc, const krn_stage *s, uint32_t b, uint32_t seq,
                       uint32_t consumers, krn_estimate *out, char *err, size_t errlen);

/* Bounds on krn_estimate_stage's figures of stage s without all of its
 * work (the GEMM's: without counting its tiles' nonzeros), for a search
 * that needs only to compare them: lo.compute <= compute <= hi.compute, and
 * so for sram, latency and interval (ramp_in, ramp_out, tile_k and tile_n
 * exact; fits: hi.fits implies fits, lo.fits does not imply it, !lo.fits
 * implies !fits; the other fields are not set). Fails as krn_estimate_stage
 * does. */
int krn_estimate_bounds(const krn_machine *m, const fab_config *fc, const krn_stage *s, uint32_t b, uint32_t seq,
                        uint32_t consumers, krn_estimate *lo, krn_estimate *hi, char *err, size_t errlen);

/* The busiest PE's compute cycles over the whole seq-token sequence (seq / b
 * micro-batches), as the stage's program charges them: per micro-batch the
 * cost.h cycles of its share, attention's causal pairs of each micro-batch
 * (not their mean) and its output PEs' normalisation, the embedding's
 * position rows each micro-batch hits, a GEMM's bias add at its output row.
 * The simulation's busy_max of the stage must equal it; the run's per-op
 * bound uses it. 0 for a shape the stage cannot take. */
uint64_t krn_estimate_busy(const krn_machine *m, const krn_stage *s, uint32_t b, uint32_t seq);

#ifdef __cplusplus
}
#endif
#endif
