/* Stage kinds as modules: everything one kind of stage (pipeline.h) is and
 * does, as one table of operations per kind, each in its own file
 * (kind_embed.c, kind_gemm.c, kind_attention.c, kind_layernorm.c,
 * kind_gelu.c, kind_add.c, kind_swiglu.c, kind_rotary.c). The pipeline (its set-up, arming and compute),
 * the estimator (estimate.h), the placer (sim/place.c) and the reports ask
 * the table; nothing else switches on krn_stage_kind (lower.c only names
 * the kind an op lowers to). Changing how one kind maps onto the PEs is an
 * edit of its file.
 *
 * Shapes: a stage on r x c PEs (rows i, columns j, PE l = i c + j). Its
 * input and output slots (where a tensor comes in or leaves, pipeline.h)
 * lie in one of three layouts: one per row (at the row's first PE), one per
 * column, one per PE (element-wise: features over every PE, row-major). */
#ifndef WAFERSIM_KERNELS_KIND_H
#define WAFERSIM_KERNELS_KIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "estimate.h"
#include "pipeline.h"
#include "workloads/values.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where a stage's slots of one side lie (see above). */
typedef enum { KRN_SLOTS_ROWS, KRN_SLOTS_COLS, KRN_SLOTS_PES } krn_slots;

/* Slots of a layout on r x c PEs. */
uint32_t krn_slots_count(krn_slots layout, uint32_t r, uint32_t c);

typedef struct {
  /* ---- what it is ---- */
  const char *name;        /* "embed", "gemm", ...: the kind's name (per-op reports' kernel column) */
  bool named_by_op;        /* reports name the stage by its op's kind (q, ffn_up, layernorm, ...), else by
                              the kind's name (a fusion: embed, attention) */
  uint32_t inputs;         /* producers it takes (pipeline.h's krn_stage.in) */
  bool host_input;         /* without a producer it takes krn_run.input at its input slots (GEMM) */
  bool picks_kernel;       /* runs krn_kernel per PE (sparse or dense), holds a weight mask: its PEs
                              count as sparse or dense, its tiles may be balanced by nonzeros */
  bool elementwise;        /* features over every PE, row-major; no tile of k */
  bool in_k;               /* its inputs carry k features (a GEMM's x), else n */
  uint32_t (*in_width)(const krn_stage *s, uint32_t input); /* features input `input` carries, where in_k does not
                                                               say (NULL: n): attention's keys and values */
  krn_slots in, out;       /* its input and output slots' layout */
  bool row_out;            /* outputs leave as a row (one slot per column, on one row) */
  bool banded;             /* N bands that may run either way (krn_stage.nrev), rows flipped to follow its
                              input (krn_stage.flip): the placer orients it after the others (GEMM) */
  bool col_out;            /* on one column, outputs leave down it (one slot per row): flipped on a
                              westward shelf with the data */
  bool attends;            /* scores each token against its sequence's keys (attention): keeps every key,
                              its micro-batch divides the sequence, its work grows with the position */
  /* ---- element-wise kinds: what kind_elementwise.c's shared estimate, busy, set-up and compute ask ---- */
  krn_cost (*pe_cost)(const krn_machine *m, const krn_stage *s, uint32_t features, uint32_t b); /* a PE's per
                              micro-batch of b tokens over its features */
  bool all_reduces;        /* it all-reduces per-token statistics over its PEs (layernorm) */
  float (*value)(float a, float b); /* a feature's output from its inputs' (b: the second's, 0 without one), for
                                       the shared compute (NULL: the kind computes its own) */
  /* ---- the placer (sim/place.c) ---- */
  uint32_t routes_in, routes_out; /* colors its own routes take at an input and an output slot's router
                                     (a GEMM row's relay and chain hops; attention's relays, reductions and
                                     multicast; layernorm's all-reduce) */
  bool turn_before;        /* the layout may turn to the next shelf before it (see place.c's turn_ok) */
  /* rows and columns it can use at most (a row and a column each need a tile or a feature) */
  uint32_t (*max_rows)(const krn_stage *s);
  uint32_t (*max_cols)(const krn_stage *s);
  /* The first feature of its slot j of `slots` over f features (NULL: even, j f / slots). */
  uint64_t (*slot_start)(const krn_stage *s, uint32_t f, uint32_t slots, uint32_t j);
  /* ---- the estimator (estimate.h) ---- */
  /* Whether s->region's r x c leaves every PE a tile or a feature (NULL: any shape; the estimate says why). */
  bool (*shape_ok)(const krn_stage *s, uint32_t r, uint32_t c, uint32_t seq);
  /* Its per-PE figures into e (zeroed, e->pes set), as krn_estimate_stage describes. */
  int (*estimate)(const krn_machine *m, const fab_config *fc, const krn_stage *s, uint32_t b, uint32_t seq,
                  uint32_t consumers, krn_estimate *e, char *err, size_t errlen);
  /* Bounds on its figures into lo and hi (zeroed, pes set), as krn_estimate_bounds describes, cheaper than
     the estimate (NULL: the estimate is both). */
  int (*bounds)(const krn_machine *m, const fab_config *fc, const krn_stage *s, uint32_t b, uint32_t seq,
                uint32_t consumers, krn_estimate *lo, krn_estimate *hi, char *err, size_t errlen);
  /* krn_estimate_busy for a stage of this kind. */
  uint64_t (*busy)(const krn_machine *m, const krn_stage *s, uint32_t b, uint32_t seq);
  /* ---- the pipeline (pipeline.c; its state in pipe_internal.h) ---- */
  /* Its cut points, slots, routes in and collectives, after the generic checks. */
  int (*setup)(krn_pipe *p, uint32_t si, char *err, size_t errlen);
  /* One PE's cost per micro-batch at set-up (its SRAM must fit); may keep state at the PE. */
  int (*pe_setup)(krn_pipe *p, uint32_t si, uint32_t local, krn_cost *cost, char *err, size_t errlen);
  /* Micro-batch m's reductions (armed before the relays). NULL: none. */
  int (*arm)(krn_pipe *p, uint32_t si, uint32_t m, char *err, size_t errlen);
  /* An entry stage's own input of micro-batch m (after the relays). NULL: nothing to send. */
  int (*feed)(krn_pipe *p, uint32_t si, uint32_t m, char *err, size_t errlen);
  /* PE `local` computes micro-batch m from `start` (timing, and functional values). */
  void (*compute)(krn_pipe *p, uint32_t si, uint32_t local, uint32_t m, uint64_t start);
  /* Its reduction of column (or row) a finished at the result PE with values v (functional; else NULL). */
  void (*result)(krn_pipe *p, uint32_t si, uint32_t a, uint32_t m, const float *v, uint64_t cycle);
  /* Its all-reduce (max, or statistics; `row`: attention's partial scores along a row) of m reached PE
     `local` with values v. NULL: none. */
  void (*all_reduced)(krn_pipe *p, uint32_t si, uint32_t local, uint32_t m, bool row, const float *v,
                      uint64_t cycle);
  /* ---- functional values (sim/functional.c) ---- */
  /* Whether it has the values functional mode needs (weights, table, token ids or input). NULL: none. */
  bool (*has_values)(const krn_stage *s, const krn_run *run);
  /* Fill *w and *b (malloc'd; NULL when it keeps none) with its weights, table or gain and its bias,
     positions or shift; -1 on out of memory. NULL: it keeps no values. */
  int (*values)(const krn_stage *s, uint64_t seed, uint32_t seq, float **w, float **b);
} krn_kind_ops;

/* The table of kind k (every kind has one). */
const krn_kind_ops *krn_kind_of(krn_stage_kind k);

/* The tables, one per kind file. */
extern const krn_kind_ops krn_kind_embed, krn_kind_gemm, krn_kind_attention, krn_kind_layernorm, krn_kind_gelu,
    krn_kind_add, krn_kind_swiglu, krn_kind_rotary;

/* An entry stage: it has no producer to wait for (an embedding; a GEMM taking the host's input). */
bool krn_kind_entry(const krn_stage *s);
/* rows x cols values of op's tensor of that role (workloads/values.h), malloc'd; NULL: out of memory. */
float *krn_values_fill(uint64_t seed, const char *op, wl_values_role role, uint32_t rows, uint32_t cols);
/* Features input i of stage s carries (the kind's in_width, in_k, or n). */
uint32_t krn_kind_in_features(const krn_stage *s, uint32_t i);
/* The first feature of slot j of `slots` of stage s over f features. */
uint64_t krn_kind_slot_start(const krn_stage *s, uint32_t f, uint32_t slots, uint32_t j);

#ifdef __cplusplus
}
#endif
#endif
