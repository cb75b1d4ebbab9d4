/* `wafersim probe`: one communication pattern on the fabric, as an
 * architect uses the SDK's benchmarks to see what the fabric can do. Each
 * pattern covers the whole mesh. Beside the simulated cycles it reports an
 * analytic lower bound from the machine model: the latency of its longest
 * pipeline, and the load of its busiest ramp or link at one wavelet per cycle.
 * Where nothing contends (unicast, multicast-row, reduce-column, region-copy)
 * the bound is exact: the simulation must equal it.
 *   unicast           (0,0) sends n wavelets to (W-1,H-1)
 *   multicast-row     every row's first PE multicasts n wavelets to its row
 *   reduce-column     every column chain-reduces n wavelets to its last PE
 *   allreduce         the whole mesh all-reduces n wavelets into its centre PE,
 *                     which multicasts the sums back: each line a tree of the
 *                     segments the model times fastest for n (fab_coll_tree;
 *                     chain for long vectors, tree for short ones)
 *   region-copy       a w x h region (w, h <= 16) copies to its right neighbour
 *   random            `messages` unicasts between random PEs (seeded)
 *   multicast-reduce  multicast-row and reduce-column at once (a GEMM's traffic) */
#ifndef WAFERSIM_SIM_PROBE_H
#define WAFERSIM_SIM_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "fabric/fabric.h"
#include "sim/engine/engine.h"
#include "sim/table.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  WS_PROBE_UNICAST,
  WS_PROBE_MULTICAST_ROW,
  WS_PROBE_REDUCE_COLUMN,
  WS_PROBE_ALLREDUCE,
  WS_PROBE_REGION_COPY,
  WS_PROBE_RANDOM,
  WS_PROBE_MULTICAST_REDUCE,
  WS_PROBE_PATTERNS
} ws_probe_pattern;

typedef struct {
  ws_probe_pattern pattern;
  uint32_t wavelets; /* n per message */
  uint32_t messages; /* random: how many unicasts */
  uint64_t seed;     /* random: the pairs */
  fab_config fabric;
} ws_probe_spec;

typedef struct {
  uint64_t cycles;      /* last activity + 1, counting from cycle 0 */
  uint64_t bound;       /* analytic lower bound on cycles */
  int bound_exact;      /* the pattern has no contention: cycles == bound */
  const char *algorithm; /* how it moves: path, multicast, chain, tree (fab_coll_tree) or copy */
  uint32_t segment_x, segment_y; /* allreduce: the tree's segments along rows and the column (chain: the sides' lengths) */
  fab_stats fabric;
  sim_stats engine;
  double wall_s; /* building and running, seconds */
} ws_probe_result;

const char *ws_probe_pattern_name(ws_probe_pattern p);
int ws_probe_pattern_parse(const char *name); /* -1 if unknown */

/* Build and run one pattern. 0, or -1 with the reason in err (mesh too
 * small for the pattern, colors exhausted, a transfer stuck). */
int ws_probe_run(const ws_probe_spec *s, ws_probe_result *r, char *err, size_t errlen);

/* One row of `wafersim probe`'s report: what ran and what it gave. */
typedef struct {
  ws_probe_spec spec;
  ws_probe_result res;
  int64_t clock; /* fabric.clock, Hz: for time_us */
} ws_probe_row;

/* The report as one row (NULL out of memory), and its columns in output
 * order (table.h: each one's name, unit and where its value comes from). */
ws_table *ws_probe_table(const ws_probe_row *row);
const ws_column *ws_probe_columns(size_t *n);

#ifdef __cplusplus
}
#endif
#endif
