/* Private to kernels/: what the kind files (kind.h) share, from stages.c
 * (the pipeline's helpers) and estimate.c (the estimator's). */
#ifndef WAFERSIM_KERNELS_KIND_INTERNAL_H
#define WAFERSIM_KERNELS_KIND_INTERNAL_H

#include "kind.h"
#include "pipe_internal.h"

static inline uint64_t krn_max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }
static inline uint64_t krn_ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

/* ---- stages.c: the pipeline ---- */

/* n + 1 zeroed values (stops the program when out of memory). */
float *krn_new_values(size_t n);
/* A copy of n values v (NULL when v is). */
float *krn_copy_values(const float *v, size_t n);
/* Cut points: given, or [0, n) split evenly in `parts` (NULL: out of memory). */
uint32_t *krn_cuts(const uint32_t *given, uint32_t n, uint32_t parts);
/* Whether c cuts [0, n) in `parts` non-empty ranges. */
bool krn_cuts_ok(const uint32_t *c, uint32_t parts, uint32_t n);
/* A slot at the stage's PE (i, j) holding features [f0, f1). */
slot krn_make_slot(const stage *s, uint32_t width, uint32_t i, uint32_t j, uint32_t f0, uint32_t f1);
/* "pipeline: stage NAME (c x r PEs): why" into err; -1. */
int krn_shape_error(const stage *s, const char *why, char *err, size_t errlen);
/* A round of a stage's collective c (column or row col, or its index among the stage's row collectives)
   for micro-batch m: each member's transfer goes to its PE's ring (red, max or row, as `which`); the
   result member is tagged. 0, or -1 with the reason. */
int krn_round(krn_pipe *p, uint32_t si, fab_coll *c, uint32_t col, uint32_t m, uint32_t wavelets, uint32_t values,
              fab_op op, krn_coll_role which, char *err, size_t errlen);
/* Micro-batch m's rounds of the stage's chains of partial sums (one per column, the embedding's per row). */
int krn_arm_partials(krn_pipe *p, uint32_t si, uint32_t m, char *err, size_t errlen);
/* Transfer x is ready at `end`, with values v when functional (copied); released. */
void krn_ready(krn_pipe *p, fab_xfer x, uint64_t end, const float *v);
/* A PE's partial of a reduction is ready: into its chain (true; y freed), or false when the stage has
   no reduction (y is the caller's). */
bool krn_partial(krn_pipe *p, uint32_t si, uint32_t local, uint32_t m, uint64_t end, float *y);
/* ---- estimate.c: the estimator ---- */

/* The cut points the pipeline takes: given, or n split evenly in parts; point i. */
uint32_t krn_cut(const uint32_t *given, uint32_t n, uint32_t parts, uint32_t i);
/* Track one PE's figures (cost, wavelets in and out) into the stage's maxima. */
void krn_est_pe(krn_estimate *e, krn_cost c, uint64_t in, uint64_t out);
/* Cycles a reduction hop takes: 2 ramps, a hop and an add. */
uint64_t krn_hop_red(const fab_config *fc);
/* ---- kind_elementwise.c: what the element-wise kinds (LAYERNORM, GELU, ADD, SWIGLU, ROTARY) share, each
   from its table's pe_cost, all_reduces and value ---- */

/* Features over every PE, row-major: cut points, a slot per PE for each input and the output. */
int krn_elementwise_setup(krn_pipe *p, uint32_t si, char *err, size_t errlen);
/* A PE's cost (pe_cost) and the SRAM of a residual's deeper input buffer, at set-up. */
int krn_elementwise_pe_setup(krn_pipe *p, uint32_t si, uint32_t local, krn_cost *cost, char *err, size_t errlen);
/* A PE's compute: charge its pe_cost, then y = value(a, b) over its features (functional), out. */
void krn_elementwise_compute(krn_pipe *p, uint32_t si, uint32_t local, uint32_t m, uint64_t start);
/* Whether r x c PEs leave each a feature. */
bool krn_elementwise_shape_ok(const krn_stage *s, uint32_t r, uint32_t c, uint32_t seq);
/* The stage's estimate and busy cycles (kind.h's estimate and busy) from its PEs' pe_cost. */
int krn_elementwise_estimate(const krn_machine *m, const fab_config *fc, const krn_stage *s, uint32_t b, uint32_t seq,
                             uint32_t consumers, krn_estimate *e, char *err, size_t errlen);
uint64_t krn_elementwise_busy(const krn_machine *m, const krn_stage *s, uint32_t b, uint32_t seq);
/* Rows and columns it can use: any rows, at most n columns (a feature each). */
uint32_t krn_elementwise_max_rows(const krn_stage *s);
uint32_t krn_elementwise_max_cols(const krn_stage *s);

/* ---- region.c: what the whole-region kernels (mesh_gemm.c, mesh_attention.c) share ---- */

/* A fabric of w x h PEs, fc's other settings, on a new engine: 0, or -1 with the reason. */
int krn_region_open(const fab_config *fc, uint32_t w, uint32_t h, sim_engine **e, fab_fabric **f, char *err,
                    size_t errlen);
/* Run the engine to its end, the fabric drained: 0, or -1 with the reason (`what`: the kernel's name; *failed
   set while running: the kernel's own error, in err already). */
int krn_region_run(sim_engine *e, fab_fabric *f, const char *what, const int *failed, char *err, size_t errlen);
/* What a run reports: its busiest PE (busy per PE, row-major over w columns), the busy sum, the fabric's
   last cycle and traffic, the engine's events and both one's memory. */
typedef struct {
  uint64_t busy_max, busy_sum;
  uint32_t slowest_x, slowest_y;
  uint64_t last_cycle, events, wavelets_sent, link_wavelets, bytes;
} krn_region_stats;
krn_region_stats krn_region_stats_of(sim_engine *e, const fab_fabric *f, const uint64_t *busy, uint32_t w,
                                     uint32_t h);
void krn_region_close(sim_engine *e, fab_fabric *f);
/* A value per transfer id (0: none), growing as ids do: a root's transfer named by its step. */
typedef struct {
  uint64_t *v;
  size_t n;
} krn_tags;
/* 0, or -1 out of memory. */
int krn_tag_set(krn_tags *t, fab_xfer id, uint64_t v);
/* id's value, then 0. */
uint64_t krn_tag_take(krn_tags *t, fab_xfer id);

#endif
