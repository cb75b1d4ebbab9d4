/* The bound strategy: the wafer's limit for a configuration (see
 * strategy.h). Per stage of the lowered graph, its work in PE-cycles is what
 * the kernels charge (kernels/cost.h, through krn_estimate_busy) for the
 * whole op held by one PE and run as one vector of the longest length the
 * phase allows (a prefill: every token of a sequence, B = keys, once per
 * sequence of the batch, since a sequence attends only to itself; a weight
 * GEMM at the cheaper of its sparse and dense kernels); the sum over the
 * stages, spread
 * perfectly over every PE of the mesh with no communication and no fill, is
 * the bound: cycles = ceil(sum of work / PEs). Holding a whole op on one PE
 * at the longest vector gives every kernel its least work (one task start,
 * one set-up per nonzero or row, the fewest partial SIMD words), so no
 * strategy that runs the same kernels on the same machine is faster.
 *
 * A training step charges each stage 3 x its forward's work: the forward,
 * and the backward's activations' and weights' gradients, each as much. For
 * weight streaming (sim.strategy: stream) the bound is that work over every
 * PE of every wafer (system.wafers), without the SRAM check below.
 *
 * SRAM: every weight in its smaller encoding (sparse: 4 B a nonzero + 2 B a
 * row; dense: 2 B a weight; krn_gemm_cost's weights), the tables and the
 * layernorm gains must fit in the mesh's SRAM less each PE's reserve, else
 * an error naming the bytes.
 *
 * The totals: one micro-batch of all the new tokens (micro_batch = tokens,
 * fill_cycles = cycles, steady_interval 0, as a one-micro-batch pipeline
 * reports them); no placer, engine or fabric figures (0).
 *
 * The op rows: each stage on the whole mesh, its cycles ceil(work / PEs),
 * one after the other (first); per PE, the total work spread evenly (stage
 * -1: every PE holds a share of every op). FLOPs per second count the
 * accounting's executed FLOPs (as `wafersim flops`: Chinchilla, the whole
 * attention matrix) over the bound's seconds, while a causal prefill
 * executes about half of the attention's; flops_simulated and macs are 0
 * (nothing is simulated). */
#include <stdlib.h>
#include <string.h>

#include "kernels/estimate.h"
#include "kernels/kind.h"
#include "sim/report.h"
#include "strategy.h"

static uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

/* Stage i held whole by one PE, its mask and the best kernel. */
static krn_stage whole(const ws_input *in, uint32_t i) {
  krn_stage s = in->low.stages[i];
  s.region = (fab_rect){0, 0, 1, 1};
  s.k_cut = s.n_cut = NULL;
  s.kernel = KRN_AUTO;
  s.mask = in->w ? wl_weights_mask(in->w, in->low.first_op[i]) : NULL;
  return s;
}

/* The longest vector a GEMM's kernel can run: a sequence's tokens in a prefill, a step's (one a sequence) in a
   decode. */
static uint32_t vector(const ws_input *in) { return in->phase == WS_PHASE_DECODE ? in->tokens : in->keys; }

/* Stage i's work in PE-cycles at the longest vector, a sequence's, for
 * every sequence; in a decode every step's: its tokens at once, and per
 * sequence one query against the step's keys. */
static uint64_t stage_work(const ws_input *in, uint32_t i) {
  const krn_stage s = whole(in, i);
  /* a training step: the forward and the backward's two products, each the forward's work */
  const uint64_t passes = in->phase == WS_PHASE_TRAIN ? 3 : 1;
  if (in->phase != WS_PHASE_DECODE)
    return passes * in->batch * krn_estimate_busy(&in->m, &s, in->keys, in->keys);
  if (!krn_kind_of(s.kind)->attends) return (uint64_t)in->steps * krn_estimate_busy(&in->m, &s, in->tokens, in->tokens);
  const uint32_t heads = s.heads ? s.heads : 1, dh = s.n / heads;
  uint64_t w = 0;
  for (uint32_t k = in->keys_first; k <= in->keys; k++)
    w += krn_attn_phase(&in->m, 1, heads, dh, k).cycles + krn_attn_phase(&in->m, 2, heads, dh, k).cycles +
         krn_attn_norm_cost(&in->m, s.n, 1).cycles;
  return (uint64_t)in->batch * w;
}

/* Bytes of stage i's weights, tables and gains in their smaller encoding. */
static uint64_t stage_weights(const ws_input *in, uint32_t i) {
  uint64_t bytes = 0;
  for (uint32_t o = in->low.first_op[i]; o <= in->low.last_op[i]; o++) {
    const mdl_op *op = mdl_graph_op(in->g, o);
    bytes += 2 * (uint64_t)op->norm_params; /* gain and shift, fp16 */
    if (op->weight_rows == 0) continue;
    const uint32_t k = (uint32_t)op->weight_rows, n = (uint32_t)op->weight_cols;
    const wl_mask *mask = op->sparsifiable && in->w ? wl_weights_mask(in->w, o) : NULL;
    const uint64_t nnz = mask ? wl_mask_nnz(mask) : (uint64_t)k * n;
    const uint64_t sparse = krn_gemm_cost(&in->m, KRN_SPARSE, k, n, nnz, 1).weights;
    const uint64_t dense = krn_gemm_cost(&in->m, KRN_DENSE, k, n, nnz, 1).weights;
    bytes += op->sparsifiable && sparse < dense ? sparse : dense;
  }
  return bytes;
}

/* A decode's KV caches: every layer's keys and values (fp16, kv_heads x d_head a token) of every sequence at the
   last step's keys. */
static uint64_t cache_bytes(const ws_input *in) {
  const mdl_gpt *g = mdl_graph_model(in->g);
  const uint64_t width = (uint64_t)g->kv_heads * g->d_head;
  return in->phase == WS_PHASE_DECODE ? (uint64_t)g->layers * in->batch * in->keys * width * 2 * 2 : 0;
}

/* The SRAM check (a decode's caches beside the weights): 0, or -1 with the bytes needed and offered. */
static int sram_check(const ws_input *in, uint64_t weights, char *err, size_t errlen) {
  const uint64_t per_pe = in->m.sram > in->m.sram_reserve ? in->m.sram - in->m.sram_reserve : 0;
  const uint64_t usable = (uint64_t)in->W * in->H * per_pe;
  const uint64_t cache = cache_bytes(in);
  weights += cache;
  if (weights <= usable) return 0;
  snprintf(err, errlen,
           "bound: GPT-3 %s does not fit: its weights in their smaller encoding%s need %llu bytes, the %u x %u mesh "
           "offers %llu (fabric.sram_per_pe - kernels.sram_reserve = %llu bytes a PE); sparsity, a larger mesh or "
           "more SRAM would",
           mdl_graph_model(in->g)->name, cache ? " and the decode's KV caches" : "", (unsigned long long)weights, in->W,
           in->H, (unsigned long long)usable,
           (unsigned long long)per_pe);
  return -1;
}

int strat_bound_cycles(const ws_input *in, uint64_t *cycles, char *err, size_t errlen) {
  uint64_t work = 0, weights = 0;
  for (uint32_t i = 0; i < in->low.n; i++) {
    work += stage_work(in, i);
    weights += stage_weights(in, i);
  }
  /* weight streaming keeps no weight resident, and spreads the work over its wafers */
  const bool streams = ws_config_streams(in->cfg);
  if (!streams && sram_check(in, weights, err, errlen) != 0) return -1;
  *cycles = ceil_div(work, (uint64_t)in->W * in->H * (streams ? (uint64_t)in->cfg->system.wafers : 1));
  return 0;
}

static int prepare(ws_input *in, void **state, char *err, size_t errlen) {
  *state = NULL;
  /* nonzeros from the masks; a dense model's are its weights (no mask to build) */
  if (!ws_input_dense(in) && ws_input_masks(in, WS_WORK_MASKS, err, errlen) != 0) return -1;
  uint64_t cycles;
  return strat_bound_cycles(in, &cycles, err, errlen);
}

static int bound_simulate(void *state, const ws_input *in, strat_result *out, strat_progress progress, void *ctx,
                          char *err, size_t errlen) {
  (void)state;
  const double t0 = ws_report_wall_s();
  const uint32_t n = in->low.n;
  const uint64_t P = (uint64_t)in->W * in->H;
  if (strat_result_alloc(out, n, in->W, in->H, err, errlen) != 0) return -1;
  strat_totals *t = &out->tot;
  uint64_t work = 0, weights = 0, gemms = 0, sparse = 0;
  for (uint32_t i = 0; i < n; i++) {
    const krn_stage s = whole(in, i);
    const mdl_op *op = mdl_graph_op(in->g, in->low.first_op[i]);
    strat_op *o = &out->ops[i];
    const uint64_t w = stage_work(in, i);
    o->name = s.name;
    o->kind = ws_input_stage_kind(in, i);
    o->layer = op->layer;
    o->region = (fab_rect){0, 0, in->W, in->H};
    o->pes = (uint32_t)P;
    o->kernel = krn_kind_of(s.kind)->name;
    if (op->weight_rows > 0 && op->kind != MDL_OP_EMBED) { /* a weight GEMM: the kernel it is charged at */
      const uint64_t nnz = s.mask ? wl_mask_nnz(s.mask) : (uint64_t)s.k * s.n;
      const bool sp = krn_gemm_pick(&in->m, s.k, s.n, nnz, vector(in)) == KRN_SPARSE;
      o->kernel = sp ? "sparse" : "dense";
      o->sparse_pes = sp ? o->pes : 0;
      o->nnz_max = nnz;
      o->nnz_mean = (double)nnz;
      gemms++;
      sparse += sp;
    }
    o->cycles = o->busy_max = o->bound = ceil_div(w, P);
    o->utilisation = (double)w; /* divided by PEs x the run's cycles with the totals */
    o->first = i > 0 ? out->ops[i - 1].first + out->ops[i - 1].cycles : 0;
    o->weight_bytes = stage_weights(in, i);
    o->sram_max = in->m.sram_reserve + ceil_div(o->weight_bytes, P);
    work += w;
    weights += o->weight_bytes;
  }
  if (sram_check(in, weights, err, errlen) != 0) return -1;
  t->cycles = ceil_div(work, P);
  t->fill_cycles = t->step_cycles_max = ceil_div(t->cycles, in->steps); /* a prefill's one step; a decode's mean */
  for (uint64_t at = 0; at < P; at++) { /* the work and the weights spread evenly */
    out->busy[at] = work / P + (at < work % P);
    out->sram[at] = (uint32_t)(in->m.sram_reserve + weights / P + (at < weights % P));
  }
  t->stages = n;
  t->micro_batch = in->tokens;
  t->micro_batches = t->steps = in->steps;
  t->pes_used = t->pes_mesh = P;
  t->kernel_mix = gemms ? (double)sparse / (double)gemms : 0;
  if (strat_result_common(out, in, err, errlen) != 0) return -1;
  /* every PE holds a share of every op: the totals' SRAM from the spread */
  t->sram_max = in->m.sram_reserve + ceil_div(weights, P);
  t->sram_mean = (double)in->m.sram_reserve + (double)weights / (double)P;
  /* the accounting's FLOPs (as `wafersim flops`) over the bound's time */
  t->flops_per_s = t->flops_executed / t->seconds;
  t->peak_fraction = t->flops_per_s / t->peak_flops_per_s;
  t->sim_wall_s = ws_report_wall_s() - t0;
  if (progress) progress(ctx, 1.0);
  return 0;
}

const strat_strategy strat_bound = {"bound", prepare, bound_simulate, NULL};
