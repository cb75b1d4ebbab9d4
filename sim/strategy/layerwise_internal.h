/* Private to the layer-by-layer strategy (layerwise.c, layerwise_plan.c):
 * the plan of a run, its ops' shapes and models (see layerwise.c). */
#ifndef WAFERSIM_SIM_STRATEGY_LAYERWISE_INTERNAL_H
#define WAFERSIM_SIM_STRATEGY_LAYERWISE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels/estimate.h"
#include "kernels/mesh_attention.h"
#include "kernels/mesh_decode.h"
#include "kernels/mesh_gemm.h"
#include "strategy.h"

static inline uint64_t lw_max(uint64_t a, uint64_t b) { return a > b ? a : b; }
static inline uint64_t lw_min(uint64_t a, uint64_t b) { return a < b ? a : b; }
static inline uint64_t lw_ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }
/* Attention stage st's units: a (head, sequence) each; in a decode a (key/value head, sequence) each, its
   cache shared by the group's query heads. */
static inline uint64_t lw_units(const ws_input *in, const krn_stage *st) {
  const uint32_t heads = st->heads ? st->heads : 1;
  const uint32_t kv = in->phase == WS_PHASE_DECODE && st->kv_heads ? st->kv_heads : heads;
  return (uint64_t)kv * in->batch;
}

typedef struct {
  bool gemm;                /* a weight GEMM (simulated) */
  bool attn;                /* attention (simulated), else modelled */
  bool local;               /* inside each replica's region, on its tokens (the GEMMs and the per-token ops);
                               attention and the embedding span the mesh */
  uint32_t replicas;        /* copies running it at once: a GEMM the plan's r, attention its regions, the others
                               their shape's */
  uint32_t rounds;          /* attention: turns its (head, sequence) units take at the regions */
  krn_mattn_spec aspec;     /* attention: one unit's */
  krn_mattn_model aplan;
  krn_mdec_spec dspec;      /* decode attention (aspec unused): one unit's, at the last step's keys */
  krn_mdec_model dplan;
  uint32_t w, h;            /* one copy's region, PEs */
  uint32_t tokens;          /* a copy's (at most) */
  krn_mgemm_spec spec;      /* GEMM */
  krn_mgemm_model plan;     /* GEMM */
  krn_stage st;             /* the others: the stage on its region */
  krn_estimate est;         /* the others: at micro-batch b */
  uint32_t b;
  uint32_t consumers;       /* the others: stages its output goes to */
  uint64_t cycles;          /* modelled */
  uint32_t steps;           /* the parts its outputs leave in, one after another (GEMM and attention: its steps;
                               the others: a copy's micro-batches) */
  uint64_t handoff;         /* its inputs' hand-offs, cycles */
  uint64_t end;             /* modelled: the cycle it ends, the run starting at 0 */
  uint32_t in_slots, out_slots; /* PEs taking its inputs and sending its outputs, all copies */
} lw_op;

typedef struct {
  uint32_t replicas;         /* r copies */
  uint32_t down;             /* of them down the mesh (r / down across) */
  krn_kernel kernel;         /* the weight GEMMs' (kernels.kernel, or dense everywhere) */
  uint32_t rw, rh;           /* one copy's region */
  uint64_t resident;         /* weight bytes (and in a decode the KV caches) every PE keeps at most */
  uint64_t cycles;           /* modelled, the hand-offs included */
  uint32_t n;
  lw_op *ops;
} lw_plan;

/* The plan with r replicas, `down` of them down the mesh (r / down across;
 * 0: the longer side halved first), the GEMMs on `kernel`: 0, 1 if its
 * weights do not fit or the grid does not (err says why), -1 on an error. */
int strat_lw_plan(const ws_input *in, uint32_t r, uint32_t down, krn_kernel kernel, lw_plan *p, char *err,
                  size_t errlen);
void strat_lw_plan_free(lw_plan *p);

#endif
