/* The end-to-end run (`wafersim run`): resolve the configuration into the
 * run input (input.h), run it with the strategy sim.strategy names
 * (sim/strategy/strategy.h): `pipeline` places the model on the mesh
 * (place.h) and simulates every PE of every stage over every micro-batch of
 * the sequences (workload.batch of them, one after another) on the fabric (kernels/pipeline.h on the event engine);
 * `bound` gives the wafer's limit without simulating. Then gather what the
 * reports show, the same columns whichever strategy ran.
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
 *   batch            the sequences (workload.batch), one after another through
 *                    the pipeline, each attending only to itself: one fill for
 *                    all (schema 6);
 *   tokens_per_s     batch x seq_len / seconds;
 *   flops            forward FLOPs of the sequences (batch x a sequence's) as
 *                    `wafersim flops` counts a sequence's (the embedding lookup excluded), each sparse weight at
 *                    its mask's nonzeros; executed = sparse, saved = dense - sparse:
 *                    the accounting, what the model needs;
 *   flops_simulated  2 x the multiply-accumulates the simulated PEs executed
 *                    (macs): a dense-kernel PE's zeros included, causal attention
 *                    at the pairs its PEs held, layernorm's and GELU's multiply-adds;
 *   flops_per_s      flops_simulated / seconds (schema 4; before, the accounting's);
 *   peak_flops_per_s the mesh's dense fp16 peak: PEs x fmac_fp16 x 2 x clock;
 *   bound_cycles_wafer the wafer's limit for the same configuration: the
 *                    bound strategy's cycles (sim/strategy/bound.c: every op's
 *                    work at its best kernel and the whole sequence as one
 *                    vector, spread perfectly over every PE, no communication,
 *                    no fill) (schema 5);
 *   bound_fraction   bound_cycles_wafer / cycles: how close the strategy comes
 *                    to the wafer's limit (1 for the bound itself) (schema 5);
 *   limit, limit_stage what stops the placer lowering the interval and at which
 *                    stage (place.h; empty for a strategy that places nothing)
 *                    (schema 6);
 *   placer_cycles    the placer's estimate of cycles, fill_latency +
 *                    (micro_batches - 1) x placer_interval (what
 *                    workload.micro_batch: auto minimises; 0 without a
 *                    placer) (schema 6);
 *   entry_interval   mean cycles between micro-batches entering the pipeline
 *                    (their first compute at an entry stage), first to last:
 *                    the pace the pipeline takes them in at (schema 7);
 *   tail_cycles      how much longer the last micro-batch took to cross the
 *                    pipeline (entered to out) than the first: the queues of
 *                    micro-batches that entered faster than later stages
 *                    pass them on, and causal attention's larger work on the
 *                    last one. So cycles
 *                    - fill_cycles = (entered(last) - entered(first)) +
 *                    tail_cycles, exactly, and steady_interval is
 *                    entry_interval plus tail_cycles / (micro_batches - 1),
 *                    up to rounding (schema 7; both 0 without a pipeline);
 *   strategy         the strategy that ran (auto: the one it chose) (schema 8);
 *   replicas         layerwise: copies of every layer's weights, each on an
 *                    equal part of the mesh with its share of the tokens
 *                    (0 for the others) (schema 8);
 *   pipeline_cycles_model, layerwise_cycles_model  each candidate's modelled
 *                    cycles (the placer's estimate; the layer-by-layer
 *                    plan's), when it ran or auto weighed it, else 0
 *                    (schema 8);
 *   step_s           a training step's seconds (any strategy), or a
 *                    stream prefill's; the step's breakdown (compute_s,
 *                    stream_s, grad_s, store_s, stall_s, reduce_s,
 *                    update_s, overlap_s, stream_bytes, grad_bytes,
 *                    bound_by, system_messages) is sim/system/system.h's
 *                    sys_result, with wafers, layer_runs and system_wall_s
 *                    (stream only, else 0) (schema 11). A training step's
 *                    flops are 3 x the forward's.
 * With sim.strategy: bound the op rows and totals are the bound's (bound.c
 * says which fields it leaves 0, and that its flops_per_s and peak_fraction
 * count the accounting's FLOPs). */
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
#include "sim/strategy/strategy.h"
#include "table.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One op's row and the totals (fields as defined above; the strategy that
 * ran fills them: sim/strategy/strategy.h). */
typedef strat_op ws_run_op;
typedef strat_totals ws_run_totals;

typedef struct ws_run ws_run;

/* Called now and then while simulating with the share of micro-batches out (0 to 1). */
typedef strat_progress ws_run_progress;

/* Place and simulate the configured model. NULL with the reason in err (a
 * configuration that cannot be placed or routed, names what). progress may
 * be NULL. With sim.functional the stages carry real values and the logits
 * are compared with a reference forward pass (functional.h): the verdict is
 * ws_run_functional's, a mismatch is no error here (`wafersim run` exits 1).
 * The caller frees the run with ws_run_destroy. */
ws_run *ws_run_simulate(const ws_config *cfg, ws_run_progress progress, void *ctx, char *err, size_t errlen);
/* Before any work: what ws_run_simulate checks first, for `copies` runs at
 * once (the sweep's jobs): with sim.strategy pipeline ws_place_check (the
 * weights can fit in the mesh, the host's memory holds the runs); with bound
 * the host's memory of the masks (its SRAM check comes with the bound). 0,
 * or -1 with the reason. */
int ws_run_check(const ws_config *cfg, uint64_t copies, char *err, size_t errlen);
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
 * above, listed with their units in run.c's column tables,
 * ws_run_totals_columns and ws_run_ops_columns). NULL out of memory. */
ws_table *ws_run_totals_table(const ws_run *r);
ws_table *ws_run_ops_table(const ws_run *r);
/* The same from the structs themselves: totals t as one row; nops op rows. */
ws_table *ws_run_totals_row(const ws_run_totals *t);
ws_table *ws_run_ops_rows(const ws_run_op *ops, uint32_t nops);
/* The columns of those tables, in output order (table.h): each one's name,
 * unit and field; *n is set to their count. */
const ws_column *ws_run_totals_columns(size_t *n);
const ws_column *ws_run_ops_columns(size_t *n);
/* Every PE of the mesh as CSV (pes.csv), built from the columns
 * ws_run_pes_columns: x, y, stage (its index, -1 unused), op (empty where
 * unused), busy_cycles, busy_fraction (of the run's cycles, 4 decimals),
 * sram_bytes. 0, or -1 on a write or memory error. */
int ws_run_write_pes(const ws_run *r, FILE *out);
const ws_column *ws_run_pes_columns(size_t *n);

#ifdef __cplusplus
}
#endif
#endif
