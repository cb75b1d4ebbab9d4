/* A sweep (`wafersim sweep`): end-to-end runs (run.h) of one configuration
 * at several sparsity levels, and optionally at several values of one more
 * key (e.g. workload.micro_batch or kernels.sparse_setup), spread over
 * worker threads. Each point is an independent run: its own placement,
 * engine and fabric, its own copy of the configuration, so the points do
 * not depend on the order or the thread they ran in.
 *
 * The speedup of a point is the dense run's cycles (level 0 at the same
 * value of the varied key) over its own; level 0 is swept first whether
 * asked or not. */
#ifndef WAFERSIM_SIM_SWEEP_H
#define WAFERSIM_SIM_SWEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "run.h"
#include "table.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WS_SWEEP_MAX_VALUES 32
/* A sweep runs at most this many points (levels, dense included, x values)
 * on at most WS_SWEEP_MAX_JOBS threads: 256 full-wafer points are about 15
 * hours on two cores. */
#define WS_SWEEP_MAX_POINTS 256
#define WS_SWEEP_MAX_JOBS 64

typedef struct {
  const double *levels; /* sparsity levels in [0, 1) */
  size_t nlevels;
  const char *key;      /* the varied key, or NULL */
  const char *const *values; /* its values (as in --set), nvalues of them */
  size_t nvalues;
  unsigned jobs;        /* worker threads, at least 1 */
  ws_run_progress progress; /* the share of the whole sweep done; may be NULL */
  void *ctx;
} ws_sweep_spec;

typedef struct ws_sweep ws_sweep;

/* How a sweep's points are shared among processes (one seam: sweep_mpi.h
 * gives one over the ranks of an MPI job); without one every point runs in
 * this process. Every process computes the same points from the same
 * configuration and spec, so point i is the same run everywhere. */
typedef struct {
  /* Whether this process runs point i. */
  bool (*mine)(void *ctx, size_t i);
  /* Once this process's points have run (status 0, or -1 with why a point
   * failed in msg): parts[i] (len[i] bytes, malloc'd) holds the result of
   * each point that is mine, NULL for the others. Bring every point's
   * result to the process that writes the reports, into parts and len
   * (malloc'd; the sweep frees them). Called by every process, whatever
   * its status. 0 when every process's points ran, all results here; 1
   * when they ran and this process does not write (its parts stay as
   * they were); -1 when a point failed on some process, with that
   * process's msg (every process gets the same). */
  int (*gather)(void *ctx, char **parts, size_t *len, size_t n, int status, char *msg, size_t msglen);
  void *ctx;
} ws_sweep_share;

/* Check the sweep before any work, then run every point. The checks: the
 * varied key is one the sweep does not set itself (workload.sparsity, which
 * the levels set) and one that can change a figure (not output.*); every
 * point's configuration (the level and value set on cfg, then the cross-key
 * checks); no two points with different labels are the same run (e.g.
 * workload.sparsity_by_kind / sparsity_by_layer giving every sparse weight
 * its level, so that the levels change nothing, or a repeated value); at
 * most WS_SWEEP_MAX_POINTS points and WS_SWEEP_MAX_JOBS jobs; the estimated
 * memory of jobs runs at once within the machine's (bounds.h). NULL with the
 * reason in err: a bad value names the key and the value; a point that
 * fails names its level and value and says why. */
ws_sweep *ws_sweep_run(const ws_config *cfg, const ws_sweep_spec *spec, char *err, size_t errlen);
/* The same, naming `source` (e.g. "B.json (its sweep.spec)") as where the
 * levels and values come from in messages; ws_sweep_run names the options
 * --sparsity and --vary. */
ws_sweep *ws_sweep_run_from(const ws_config *cfg, const ws_sweep_spec *spec, const char *source, char *err,
                            size_t errlen);
/* The same with the points shared among processes by share (NULL: all
 * here, as ws_sweep_run_from). Every process runs the checks; each runs
 * its own points on spec->jobs threads (the memory check counts those
 * jobs: processes on one host share its memory) and calls share's gather
 * once, whatever happens, so that a failure anywhere is every process's
 * NULL with the same reason. The result is the whole sweep where the
 * gather returned 0; on the others a sweep holding its own points'
 * results alone (ws_sweep_complete false: write no report from it).
 * spec->progress is the share done of this process's points. */
ws_sweep *ws_sweep_run_shared(const ws_config *cfg, const ws_sweep_spec *spec, const char *source,
                              const ws_sweep_share *share, char *err, size_t errlen);
/* Whether s holds every point's result (true without a share). */
bool ws_sweep_complete(const ws_sweep *s);
void ws_sweep_destroy(ws_sweep *s);

/* One row per point, the varied value's points together, levels ascending;
 * its columns are ws_sweep_columns' (sweep.c: each one's name, unit and
 * field or derivation), in this order: sparsity, cycles, seconds, tokens_per_s, speedup, flops_reduction,
 * params_reduction, weight_bytes, sram_max_bytes, pes_used, kernel_mix,
 * wall_s, then micro_batch, sparse_setup, value (of the varied key, or
 * empty), fill_cycles, steady_interval, bound_cycles, placer_interval,
 * flops_dense, flops_executed, flops_per_s, peak_fraction, events,
 * events_per_s, sim_wall_s, peak_rss_bytes (the process's, when the
 * point ended), flops_simulated, bound_cycles_wafer, bound_fraction, batch,
 * limit, limit_stage, placer_cycles, entry_interval, tail_cycles, strategy,
 * replicas, pipeline_cycles_model, layerwise_cycles_model (run.h).
 * NULL out of memory. */
ws_table *ws_sweep_table(const ws_sweep *s);
/* Its columns, in output order (table.h): each one's name, unit and where
 * its value comes from; *n is set to their count. */
const ws_column *ws_sweep_columns(size_t *n);
/* Per point: sparsity, value, then one column per op kind (in graph order):
 * the sum over the kind's stages of their busiest PE's compute cycles. */
ws_table *ws_sweep_kinds_table(const ws_sweep *s);
/* The per-PE map (run.h) of the first value's lowest (first = 1) or highest
 * (first = 0) level. 0, or -1 on a write error. */
int ws_sweep_write_pes(const ws_sweep *s, int first, FILE *out);

#ifdef __cplusplus
}
#endif
#endif
