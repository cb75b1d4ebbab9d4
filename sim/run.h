/* The end-to-end run (`wafersim run`): place the configured model on the
 * mesh (place.h), then simulate every PE of every stage over every
 * micro-batch of the sequence on the fabric (kernels/pipeline.h on the
 * event engine), and gather what the reports show.
 *
 * Definitions (cycles are the simulated clock's):
 *   cycles           the last micro-batch's output complete at the last stage, + 1;
 *   fill_cycles      the same for micro-batch 0: the pipeline's fill latency;
 *   steady_interval  mean cycles between consecutive micro-batches' outputs after
 *                    the first (the pipeline's rate once full; causal attention's
 *                    work grows along the sequence, so late micro-batches are slower);
 *   per op: cycles   from its first compute to its last output sent (the last
 *                    wavelet of its last micro-batch's output left its PEs; the
 *                    last stage, which sends nothing: its output complete), + 1;
 *           bound    the analytic lower bound on that span, the larger of: its
 *                    busiest PE's compute over the sequence (krn_estimate_busy:
 *                    attention at each micro-batch's causal pairs); and the
 *                    busiest PE's wavelets taken in (x consume_cycles) or sent
 *                    (one a cycle) per micro-batch (kernels/estimate.h) x the
 *                    micro-batches whose traffic must pass within the span: all
 *                    but the first `depth` (its deepest input buffer, 2 unless a
 *                    residual's skip; none for the embedding, which takes no
 *                    input), whose inputs may arrive before its first compute;
 *   bound            the run's lower bound: the largest op bound;
 *   flops            forward FLOPs of the sequence as `wafersim flops` counts
 *                    them (the embedding lookup excluded), each sparse weight at
 *                    its mask's nonzeros; executed = sparse, saved = dense - sparse:
 *                    the accounting, what the model needs;
 *   flops_simulated  2 x the multiply-accumulates the simulated PEs executed
 *                    (macs): a dense-kernel PE's zeros included, causal attention
 *                    at the pairs its PEs held, layernorm's and GELU's multiply-adds;
 *   flops_per_s      flops_simulated / seconds (schema 4; before, the accounting's);
 *   peak_flops_per_s the mesh's dense fp16 peak: PEs x fmac_fp16 x 2 x clock. */
#ifndef WAFERSIM_SIM_RUN_H
#define WAFERSIM_SIM_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "fabric/mesh.h"
#include "functional.h"
#include "place.h"
#include "table.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  const char *name, *kind; /* borrowed from the run */
  int layer;               /* decoder block, -1 outside */
  fab_rect region;
  uint32_t pes, sparse_pes; /* sparse_pes: GEMM PEs running the sparse kernel */
  const char *kernel;      /* GEMM: sparse, dense or mixed (per PE, auto); else the stage kind */
  uint64_t busy_max;       /* compute cycles of its busiest PE, all micro-batches */
  double utilisation;      /* its PEs' compute cycles / (PEs x the run's cycles) */
  uint64_t nnz_max;        /* GEMM: nonzeros of its fullest tile (EMBED: table rows) */
  double nnz_mean;         /* GEMM: nonzeros per tile */
  uint64_t first, cycles;  /* its first compute's cycle; its span to its last output sent (see above) */
  uint64_t bound;          /* lower bound on cycles (see above) */
  uint64_t macs;           /* multiply-accumulates its PEs executed */
  uint64_t sram_max;       /* bytes of its fullest PE */
  uint64_t weight_bytes;   /* weights, tables and gains its PEs keep, in their kernels' encoding */
  uint64_t interval;       /* the placer's estimate, cycles per micro-batch */
} ws_run_op;

typedef struct {
  uint64_t cycles, fill_cycles, steady_interval, bound;
  double seconds, tokens_per_s;
  double flops_dense, flops_executed, flops_saved, flops_reduction; /* see above */
  double flops_simulated;                     /* 2 x macs (see above) */
  double flops_per_s, peak_flops_per_s, peak_fraction;
  int64_t params_dense, params;
  uint64_t weight_bytes;                      /* the ops' weight_bytes: what the wafer holds */
  uint64_t macs;                              /* executed by every PE */
  uint64_t sram_max;                          /* bytes, fullest PE */
  double sram_mean;                           /* bytes, over the PEs used */
  uint64_t pes_used, pes_mesh;
  double kernel_mix;                          /* share of weight-GEMM PEs running the sparse kernel */
  uint32_t stages, micro_batch, micro_batches;
  uint64_t placer_interval;                   /* the placer's slowest stage, cycles per micro-batch */
  uint64_t events, wavelets_sent, link_wavelets;
  double wall_s, place_wall_s, sim_wall_s;    /* wall-clock seconds: the whole run, placing, simulating */
  double events_per_s;                        /* per second of simulating */
  uint64_t sim_bytes;                         /* the engine's and fabric's memory at the end */
  uint64_t peak_rss_bytes;                    /* the process's peak resident memory so far */
} ws_run_totals;

typedef struct ws_run ws_run;

/* Called now and then while simulating with the share of micro-batches out (0 to 1). */
typedef void (*ws_run_progress)(void *ctx, double done);

/* Place and simulate the configured model. NULL with the reason in err (a
 * configuration that cannot be placed or routed, names what). progress may
 * be NULL. With sim.functional the stages carry real values and the logits
 * are compared with a reference forward pass (functional.h): the verdict is
 * ws_run_functional's, a mismatch is no error here (`wafersim run` exits 1).
 * The caller frees the run with ws_run_destroy. */
ws_run *ws_run_simulate(const ws_config *cfg, ws_run_progress progress, void *ctx, char *err, size_t errlen);
void ws_run_destroy(ws_run *r);

const ws_run_totals *ws_run_totals_of(const ws_run *r);
/* Functional mode (sim.functional): the pipeline's logits against the
 * reference forward pass (functional.h); NULL when the run carried no values. */
const ws_functional_result *ws_run_functional(const ws_run *r);
/* Functional mode: the pipeline's logits, seq_len x vocab row-major; NULL otherwise. */
const float *ws_run_logits(const ws_run *r);
uint32_t ws_run_op_count(const ws_run *r);
const ws_run_op *ws_run_op_at(const ws_run *r, uint32_t i);

/* The totals as one row, and one row per op (the columns are the fields
 * above). NULL out of memory. */
ws_table *ws_run_totals_table(const ws_run *r);
ws_table *ws_run_ops_table(const ws_run *r);
/* Every PE of the mesh: x, y, stage (its index, -1 unused), op (empty where unused), busy_cycles,
 * busy_fraction (of the run's cycles), sram_bytes. 0, or -1 on a write error. */
int ws_run_write_pes(const ws_run *r, FILE *out);

#ifdef __cplusplus
}
#endif
#endif
