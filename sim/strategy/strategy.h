/* Execution strategies: how a model runs on the wafer (DESIGN.md section 3).
 * A strategy is one module behind this interface (prefix strat_): from the
 * resolved run input (sim/input.h) it prepares (checks the input can run
 * its way, builds what it needs), simulates, and reports its totals, one
 * row per op and one per PE of the mesh in a strat_result. `wafersim run`,
 * `sweep`, `check` and the figures read the result (through sim/run.h) and
 * do not know which strategy filled it; the key sim.strategy chooses it.
 *
 *   pipeline  today's layer pipeline: the placer gives every stage a region,
 *             micro-batches flow through all stages at once (sim/place.h,
 *             kernels/pipeline.h on the event engine);
 *   bound     the wafer's limit: every op's work at the best kernel and the
 *             longest vector the phase allows, spread perfectly over every
 *             PE of the mesh, no communication and no fill (bound.c);
 *   layerwise every op on the whole mesh (or on copies of it on equal parts),
 *             one after another, every weight resident (layerwise.c);
 *   auto      prepares pipeline and layerwise and simulates the one its
 *             model times faster, or both when the models are within
 *             sim.auto_margin of each other, keeping the faster (auto.c);
 *             a training step: stream;
 *   stream    weight streaming: each layer's weights stream in from a store,
 *             the wafers' layers simulated as layerwise runs them, the
 *             system around them on SimGrid (stream.c, sim/system/).
 *
 * Every strategy's totals carry bound_cycles_wafer (the bound strategy's
 * cycles for the same input, strat_bound_cycles) and bound_fraction
 * (bound_cycles_wafer / its own cycles: 1 for the bound itself), so any
 * mapping reads as a share of what the wafer could do.
 *
 * Layering: sim/strategy/ sits between the run input and the placer below
 * (sim/input.h, sim/place.h, kernels/) and the run and the commands above
 * (sim/run.h, sim/sweep.h, sim/cli*); nothing below includes it. */
#ifndef WAFERSIM_SIM_STRATEGY_STRATEGY_H
#define WAFERSIM_SIM_STRATEGY_STRATEGY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fabric/mesh.h"
#include "sim/functional.h"
#include "sim/input.h"
#include "sim/system/system.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One op (stage) of a run; the columns of `wafersim run`'s op rows (run.h
 * defines each). A strategy leaves 0 what it has no value for. */
typedef struct {
  const char *name, *kind; /* borrowed from the strategy's state */
  int layer;               /* decoder block, -1 outside */
  fab_rect region;         /* PEs it ran on (bound: the whole mesh) */
  uint32_t pes, sparse_pes; /* sparse_pes: GEMM PEs running the sparse kernel */
  const char *kernel;      /* GEMM: sparse, dense or mixed (per PE, auto); else the stage kind */
  uint64_t busy_max;       /* compute cycles of its busiest PE, all micro-batches */
  double utilisation;      /* its PEs' compute cycles / (PEs x the run's cycles) */
  uint64_t nnz_max;        /* GEMM: nonzeros of its fullest tile (EMBED: table rows) */
  double nnz_mean;         /* GEMM: nonzeros per tile */
  uint64_t first, cycles;  /* its first compute's cycle; its span to its last output sent */
  uint64_t bound;          /* lower bound on cycles */
  uint64_t macs;           /* multiply-accumulates its PEs executed */
  uint64_t sram_max;       /* bytes of its fullest PE */
  uint64_t weight_bytes;   /* weights, tables and gains its PEs keep, in their kernels' encoding */
  uint64_t interval;       /* the placer's estimate, cycles per micro-batch */
  double wait_inputs;      /* per PE (mean): cycles idle before a micro-batch's compute, for its inputs */
  double wait_outputs;     /* ... for its stage's output of two micro-batches before to leave */
} strat_op;

/* A run's totals (run.h defines each). */
typedef struct {
  uint64_t cycles, fill_cycles, steady_interval, bound;
  double seconds, tokens_per_s;
  double flops_dense, flops_executed, flops_saved, flops_reduction;
  double flops_simulated;
  double flops_per_s, peak_flops_per_s, peak_fraction;
  int64_t params_dense, params;
  uint64_t weight_bytes;
  uint64_t macs;
  uint64_t sram_max;
  double sram_mean;
  uint64_t pes_used, pes_mesh;
  double kernel_mix;
  uint32_t stages, micro_batch, micro_batches;
  uint64_t placer_interval;
  uint64_t placer_cycles; /* pipeline: the placer's estimate of cycles (fill, then placer_interval a micro-batch) */
  uint64_t entry_interval; /* pipeline: mean cycles between micro-batches entering it (run.h) */
  int64_t tail_cycles;     /* pipeline: the last micro-batch's crossing less the first's (run.h) */
  uint64_t events, wavelets_sent, link_wavelets;
  double wall_s, place_wall_s, sim_wall_s;
  double events_per_s;
  uint64_t sim_bytes;
  uint64_t peak_rss_bytes;
  uint64_t bound_cycles_wafer; /* the wafer's limit for this input (bound.c), cycles */
  double bound_fraction;       /* bound_cycles_wafer / cycles */
  uint32_t batch;              /* sequences (workload.batch) */
  uint32_t steps;              /* steps of new tokens: a prefill 1, a decode workload.new_tokens */
  uint64_t step_cycles_max;    /* the longest step */
  double ttft_s;               /* time to first token: a prefill's seconds (its last position yields it), a decode's
                                  first step */
  double tpot_s, tpot_max_s;   /* decode: seconds per output token, the mean over the steps and the longest (else 0) */
  double tokens_per_s_per_seq; /* new tokens a second of one sequence: a decode's 1 / tpot_s, a prefill's tokens / s */
  char limit[8];               /* pipeline: what stops the placer's interval lower (place.h), else "" */
  char limit_stage[64];        /* pipeline: the stage it stopped at, else "" */
  char strategy[16];           /* the strategy that ran (auto: the one it chose) */
  uint32_t replicas;           /* layerwise: copies of the weights, each on its part of the mesh (else 0) */
  uint64_t pipeline_cycles_model;  /* the pipeline's modelled cycles (placer_cycles) when it ran or was a candidate */
  uint64_t layerwise_cycles_model; /* the layer-by-layer plan's modelled cycles, likewise */
  /* stream: the step on the system (sim/system/system.h; its step_s also a bound's training step), else 0 */
  sys_result sys;
  uint32_t wafers;      /* system.wafers */
  uint32_t layer_runs;  /* wafer simulations: one per distinct block */
  double system_wall_s; /* wall time of the SimGrid simulation */
} strat_totals;

/* What a strategy reports: totals, op rows, and per PE of the W x H mesh
 * its op (-1 unused), compute cycles and SRAM bytes. */
typedef struct {
  strat_totals tot;
  strat_op *ops;
  uint32_t nops;
  uint32_t W, H;
  int32_t *owner;
  uint64_t *busy;
  uint32_t *sram;
  bool rows_one_step;        /* a decode's op rows are one step's (layerwise: its last), else the whole run's */
  bool rows_final;           /* the op rows' utilisation is already a share (stream: each over its own run) */
  bool functional;           /* the run carried values (sim.functional) */
  ws_functional_result fres; /* functional: the logits against the reference */
  float *logits;             /* functional: tokens x vocab */
} strat_result;

/* Called now and then while simulating with the share done (0 to 1). */
typedef void (*strat_progress)(void *ctx, double done);

/* A simulation of one candidate: a strategy's simulate, or a part of one. */
typedef int (*strat_simulate_fn)(void *state, const ws_input *in, strat_result *out, strat_progress progress,
                                 void *ctx, char *err, size_t errlen);

/* Simulate candidate a, then b (b's state NULL: a alone), each reporting
 * its share as half of the whole, and keep in out the run of fewer cycles
 * (a's on a tie), the other freed. 0 (*kept_b: whether b's was kept), or -1
 * with the reason. Auto's two strategies, the layer-by-layer strategy's two
 * plans. */
int strat_simulate_faster(strat_simulate_fn fa, void *a, strat_simulate_fn fb, void *b, const ws_input *in,
                          strat_result *out, strat_progress progress, void *ctx, bool *kept_b, char *err,
                          size_t errlen);

typedef struct {
  const char *name; /* as sim.strategy spells it */
  /* Check that in can run this way, build in's masks if the strategy
   * needs them (ws_input_masks) and the state it keeps for the run (state
   * may hold what the op rows borrow). 0, or -1 with the reason (an input
   * error: exit status 2). */
  int (*prepare)(ws_input *in, void **state, char *err, size_t errlen);
  /* Simulate and fill out (its arrays from strat_result_alloc; the run
   * sets bound_cycles_wafer and bound_fraction after). 0, or -1 with the
   * reason; out is then freed by the caller all the same. */
  int (*simulate)(void *state, const ws_input *in, strat_result *out, strat_progress progress, void *ctx,
                  char *err, size_t errlen);
  void (*release)(void *state);
} strat_strategy;

/* The strategy sim.strategy names (ws_strategy order). */
const strat_strategy *strat_of(int strategy);

/* t's MACs set to macs, and what comes from them (flops_simulated, flops_per_s, peak_fraction). */
void strat_set_macs(strat_totals *t, uint64_t macs);

/* The result's arrays for nops ops on a W x H mesh (owner all -1). 0, or -1 out of memory. */
int strat_result_alloc(strat_result *r, uint32_t nops, uint32_t W, uint32_t H, char *err, size_t errlen);
void strat_result_free(strat_result *r);

/* Totals every strategy derives alike once its cycles and op rows are in:
 * seconds, tokens/s, the accounting's FLOPs and parameters (input.h), the
 * peak (of pes_mesh, set before), the ops' sums and maxima, the executed
 * FLOPs and the share of the peak. 0, or -1 out of memory. */
int strat_result_common(strat_result *r, const ws_input *in, char *err, size_t errlen);

/* The wafer's limit for in (bound.c): the bound strategy's cycles, with its
 * SRAM check (all weights in their smaller encoding within the mesh's SRAM
 * less the reserve). Nonzeros from in's masks; without masks every weight
 * (ws_input_dense). 0, or -1 with the reason. */
int strat_bound_cycles(const ws_input *in, uint64_t *cycles, char *err, size_t errlen);

extern const strat_strategy strat_pipeline; /* pipeline.c */
extern const strat_strategy strat_bound;    /* bound.c */
extern const strat_strategy strat_layerwise; /* layerwise.c */
extern const strat_strategy strat_auto;      /* auto.c */
extern const strat_strategy strat_stream;    /* stream.c */

/* After prepare: the placer's modelled cycles (pipeline.c), the layer-by-layer
 * plan's (layerwise.c). */
uint64_t strat_pipeline_estimate(const void *state, const ws_input *in);
uint64_t strat_layerwise_estimate(const void *state);

#ifdef __cplusplus
}
#endif
#endif
