/* The placer: every stage of the lowered layer graph gets a rectangle of
 * the mesh (DESIGN.md section 3, pipelined mode), so that the slowest
 * stage's interval per micro-batch is as small as the mesh allows, every PE
 * fits in SRAM and every router within its colors.
 *
 * Model and algorithm. A stage's interval on a region is kernels/estimate.h.
 * The mesh is cut into shelves of h rows, filled in a serpentine (left to
 * right, then right to left one shelf down), so consecutive stages touch.
 * A weight GEMM, attention or embedding takes h rows and as few columns as
 * meet a target interval T in SRAM; runs of consecutive element-wise stages
 * (layernorm, GELU, residual add) are stacked in one column slot, each with
 * as few rows as meet T. A binary search finds the smallest T whose shelves
 * fit the mesh, for each of several h (or the configured one); the best wins
 * (then fewer PEs). Everything is deterministic: no random choice is made.
 * Then the pipeline's routes are built on the mesh (the same code the
 * simulation runs), which checks every PE's SRAM and every router's colors;
 * the fastest layout that routes wins. Fans of pieces per slot are kept
 * within each router's colors, but long routes crossing other regions can
 * still find no color free along them: then the fastest layout is given
 * with routes_ok false and the failing route in route_error.
 *
 * Tiling: uniform cut points, or (placer.tiling: balanced) cut points from the
 * mask's row and column counts so that every row band and column band holds
 * about the same nonzeros, kept for a stage only where its fullest tile gets
 * lighter; the uniform estimate is kept beside it for the report. */
#ifndef WAFERSIM_SIM_PLACE_H
#define WAFERSIM_SIM_PLACE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bounds.h"
#include "config.h"
#include "input.h"
#include "kernels/estimate.h"
#include "models/account.h"
#include "table.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  krn_stage stage;       /* its region, cut points, mask and kernel */
  int layer;             /* decoder block, -1 outside */
  const char *kind;      /* the first op's kind: "ffn_up", "attention", ... */
  uint32_t consumers;    /* stages that take its output */
  krn_estimate est;      /* with the placement's tiling */
  krn_estimate uniform;  /* with uniform cut points */
  uint32_t colors_max;   /* most colors in use at a router of its region */
} ws_placed;

/* What stops the placer lowering the interval further (at the shelf height
 * it chose): the next lower target's layout fails because
 *   pes    the stages' regions no longer fit on the mesh's shelves (no one
 *          stage: all of them);
 *   tile   a stage is at its smallest useful tile and still too slow (its
 *          kind's most columns: a GEMM one output feature per column,
 *          attention one head per column, an element-wise stage one feature
 *          per PE);
 *   width  a stage, or a run of stages that must share a shelf, would need
 *          more columns than the mesh has;
 *   sram   a stage's fullest PE does not fit at any width that meets it;
 *   colors a stage's routes would exceed a router's colors;
 *   none   nothing: the search's lower end was never tried (a floor of the
 *          search itself). */
typedef enum {
  WS_LIMIT_NONE,
  WS_LIMIT_PES,
  WS_LIMIT_TILE,
  WS_LIMIT_WIDTH,
  WS_LIMIT_SRAM,
  WS_LIMIT_COLORS,
} ws_place_limit;
const char *ws_place_limit_name(ws_place_limit l);

typedef struct {
  uint32_t shelf_height, shelves_used, stages;
  uint64_t pes_used, pes_mesh;
  uint64_t stage_max, stage_min; /* intervals, cycles per micro-batch */
  double stage_mean;             /* over stages */
  double stage_mean_pe;          /* over PEs: how busy the average PE is */
  double tokens_per_s;           /* micro-batch tokens per slowest interval at the clock */
  uint64_t fill_latency;         /* one micro-batch through every stage, cycles */
  uint32_t colors_max;
  uint32_t hops_next_max;        /* gap between the regions of consecutive stages */
  uint32_t hops_edge_max;        /* gap between any producer's and consumer's regions */
  double wall_s;                 /* the placer's own time */
  const char *limit;             /* what stops a lower interval (ws_place_limit_name) */
  const char *limit_stage;       /* the stage it stopped at ("" for pes and none) */
  bool routes_ok;                /* the pipeline's routes fit in every router's colors */
  char route_error[512];         /* if not: the first route that found no color, and why */
} ws_place_totals;

typedef struct ws_placement ws_placement;

/* Place the configured model. NULL with the reason in err: an op that
 * cannot fit (naming it, the bytes it needs and what the mesh offers), a
 * mesh too small for the stages. A layout that does not route is returned
 * (see routes_ok). */
ws_placement *ws_place(const ws_config *cfg, char *err, size_t errlen);
/* The same on a run input with its masks built (input.h, ws_input_masks),
 * which must outlive the placement. */
ws_placement *ws_place_input(const ws_input *in, char *err, size_t errlen);
/* As ws_place_input, and with workload.micro_batch: auto (in->micro_batch
 * 0) the micro-batch size chosen first: every divisor b of a sequence's
 * tokens up to WS_AUTO_MICRO_BATCH_MAX is placed, and the one whose layout
 * routes and whose estimated cycles, fill_latency + (micro-batches - 1) x
 * stage_max, are fewest wins (on a tie the larger b: fewer micro-batches to
 * simulate); in->micro_batch and micro_batches are set to it. If none
 * places, the error is the smallest b's. */
#define WS_AUTO_MICRO_BATCH_MAX 64
/* The placement's estimate of a run of `micro_batches`: its fill, then a
 * micro-batch every stage_max. */
uint64_t ws_place_estimated_cycles(const ws_place_totals *t, uint32_t micro_batches);
ws_placement *ws_place_choose(ws_input *in, char *err, size_t errlen);
void ws_placement_destroy(ws_placement *p);
/* Before any work: whether cfg's weights can fit in the mesh's SRAM (as
 * ws_place checks first), then the estimated host memory of `copies` works
 * at once (WS_WORK_PLACE, WS_WORK_RUN: bounds.h) within the
 * machine's. 0, or -1 with the reason. run and sweep call it before
 * placing anything. */
int ws_place_check(const ws_config *cfg, ws_work work, uint64_t copies, char *err, size_t errlen);

uint32_t ws_placement_count(const ws_placement *p);
const ws_placed *ws_placement_stage(const ws_placement *p, uint32_t i);
const ws_place_totals *ws_placement_totals(const ws_placement *p);
/* Whether the layout routes within fabric.colors: 0, or -1 with the failing
 * route and router in err. A layout that does not route is an input problem
 * (too few colors for the model on this mesh): place, run and sweep refuse
 * it with exit status 2. */
int ws_placement_routed(const ws_placement *p, char *err, size_t errlen);

/* FLOPs, parameters and bytes of the placed model (models/account.h), with
 * each sparse weight's nonzeros counted from its mask: the flops report's
 * accounting of the weights this placement holds. 0, or -1 out of memory. */
int ws_placement_account(const ws_placement *p, mdl_cost *total);

/* One row per stage, its columns ws_place_columns' (op, layer, x, y, w,
 * h, pes, tile_k, tile_n, nnz_max, nnz_mean, stage_cycles, sram_max_bytes,
 * colors_max, kind, nnz_max_uniform, stage_cycles_uniform, sparse_pes,
 * latency). NULL on out of memory. */
ws_table *ws_place_table(const ws_placement *p);
/* The totals as one row, its columns ws_place_totals_columns'. */
ws_table *ws_place_totals_table(const ws_placement *p);
/* The columns of those tables, in output order (table.h): each one's name,
 * unit and where its value comes from; *n is set to their count. */
const ws_column *ws_place_columns(size_t *n);
const ws_column *ws_place_totals_columns(size_t *n);
/* Every PE of the mesh as CSV, built from the columns ws_place_map_columns:
 * x, y, op (empty where unused). 0, or -1 on a write or memory error. */
int ws_place_write_map(const ws_placement *p, FILE *out);
const ws_column *ws_place_map_columns(size_t *n);

#ifdef __cplusplus
}
#endif
#endif
