/* The weight-streaming strategy (strategy.h): activations stay on the
 * wafer, every layer's weights stream in from the weight store, the
 * weight gradients stream out; the system around the wafers (store,
 * broadcast/reduce tree, system.wafers wafers data-parallel) is simulated on
 * SimGrid (sim/system/system.h). A prefill is the forward alone; a train
 * step the forward, the backward and the store's update.
 *
 * Layers. The system sees the model as its embedding (the ops before the
 * first block), its blocks, and its head (the ops after the last block).
 *
 * The wafer's part. A wafer runs its workload.batch / system.wafers
 * sequences in passes of system.micro_batch sequences. A layer runs on the
 * wafer as the layer-by-layer strategy runs it (every op on the whole mesh,
 * simulated on the fabric: layerwise.c), on a model of one block with the
 * pass's tokens, once its weights are in: two layers' weights have room on
 * the wafer (the one computing and the next arriving), so the stream of the
 * next overlaps the compute of this one. Blocks of the same sparsity per op
 * kind are the same run: one wafer simulation per distinct block (the
 * first's masks), cached, and the embedding and head from the first's. Each
 * op's backward costs its forward times 2 for the weight GEMMs and
 * attention (the activations' and the weights' gradients, each the
 * forward's multiply-accumulates on the forward's tiling, transposed: the
 * same nonzeros a PE and the same tokens) and times 1 for the others.
 *
 * SRAM. What a pass keeps for the backward (every op's output in a block but
 * the attention scores, recomputed as FlashAttention does, fp16, for every
 * block and the embedding, over its tokens) and the two layers' weights are
 * spread over the mesh and reserved beside kernels.sram_reserve; the layer's
 * plan fits in what is left. system.micro_batch: auto takes the most
 * sequences dividing a wafer's whose reserve is at most half of a PE's
 * usable SRAM.
 *
 * The stream. A weight matrix streams in its smaller encoding (fp16, or a
 * 32-bit wavelet of value and index a nonzero: the sparse encoding below
 * half density), biases and gains fp16; the embedding the rows its tokens
 * use; GPT's head its (tied) table whole. The backward streams the weights
 * again and sends back an fp16 gradient a kept weight (the store knows the
 * mask). The store updates every kept weight (system.update_bytes of its
 * memory each; the tied table once), and between passes adds each pass's
 * gradient to an fp32 sum (ACCUMULATE_BYTES a weight). Nonzeros are the
 * masks' (of the whole model, built without a check that it fits).
 *
 * Totals: cycles the step's (SimGrid's seconds x the clock); the step's
 * breakdown in step_s, compute_s, stream_s, grad_s, store_s, stall_s,
 * reduce_s, update_s and overlap_s, and bound_by (system.h); op rows one
 * pass's forward of the embedding, each distinct block and the head, each
 * op's utilisation over its own run; the per-PE map the first block run's. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/report.h"
#include "sim/system/system.h"
#include "strategy.h"

#define ACCUMULATE_BYTES 8 /* an fp32 gradient sum read and written a weight a pass */
#define NAME_MAX_OP 64

typedef struct {
  uint32_t first_block;  /* the block it stands for (its op names say so) */
  double levels[MDL_OP_KIND_COUNT]; /* its sparsifiable kinds' levels */
} block_key;

typedef struct {
  uint32_t layers;       /* the system's: embedding, blocks, head */
  sys_layer *sl;
  uint32_t *key_of;      /* a block's distinct key */
  block_key *keys;
  uint32_t nkeys;
  uint32_t sequences;    /* a wafer's */
  uint32_t pass;         /* sequences a pass */
  uint64_t reserve;      /* bytes a PE reserved for kept activations and two layers' weights */
  char (*names)[NAME_MAX_OP]; /* the op rows' names */
} stream_state;

static void release(void *state) {
  stream_state *s = state;
  if (!s) return;
  free(s->sl);
  free(s->key_of);
  free(s->keys);
  free(s->names);
  free(s);
}

/* The system layer of op i of the full graph, whose first block op is `first`: 0 the embedding (the ops
   before), 1 + its block, layers - 1 the head (the ops outside the blocks after them). */
static uint32_t layer_of(const mdl_graph *g, size_t i, size_t first, uint32_t layers) {
  const mdl_op *op = mdl_graph_op(g, i);
  if (op->layer >= 0) return 1 + (uint32_t)op->layer;
  return i < first ? 0 : layers - 1;
}

/* Stream bytes, gradient bytes and the store's weights of every system layer, and the largest layer's bytes. */
static uint64_t layer_bytes(const ws_input *in, uint32_t tokens, stream_state *s) {
  const mdl_graph *g = in->g;
  const size_t n = mdl_graph_op_count(g);
  int64_t *nnz = calloc(n, sizeof *nnz);
  if (!nnz) return UINT64_MAX;
  wl_sparsity_nnz(&in->sp, g, nnz);
  size_t first = 0;
  while (first < n && mdl_graph_op(g, first)->layer < 0) first++;
  for (size_t i = 0; i < n; i++) {
    const mdl_op *op = mdl_graph_op(g, i);
    const wl_mask *mask = op->sparsifiable && in->w ? wl_weights_mask(in->w, i) : NULL;
    if (mask) nnz[i] = (int64_t)wl_mask_nnz(mask);
    sys_layer *l = &s->sl[layer_of(g, i, first, s->layers)];
    const double small = 2.0 * (double)(op->bias + op->norm_params);
    l->weight_bytes += small;
    l->grad_bytes += small;
    l->weights += (double)(op->bias + op->norm_params);
    if (op->weight_rows <= 0) continue;
    const double elems = (double)op->weight_rows * (double)op->weight_cols;
    if (op->kind == MDL_OP_EMBED || op->kind == MDL_OP_POS_EMBED) { /* the rows its tokens use */
      const double rows = fmin((double)op->weight_rows, op->kind == MDL_OP_EMBED ? tokens : (double)in->keys);
      l->weight_bytes += 2.0 * rows * (double)op->weight_cols;
      l->grad_bytes += 2.0 * rows * (double)op->weight_cols;
      l->weights += elems; /* the table, updated whole */
    } else if (op->sparsifiable) {
      const double kept = (double)nnz[i];
      l->weight_bytes += fmin(4.0 * kept, 2.0 * elems);
      l->grad_bytes += 2.0 * kept;
      l->weights += kept;
    } else { /* dense: the head (tied: the table, updated with the embedding) */
      l->weight_bytes += 2.0 * elems;
      l->grad_bytes += 2.0 * elems;
      l->weights += op->weight_tied ? 0 : elems;
    }
  }
  free(nnz);
  double most = 0;
  for (uint32_t l = 0; l < s->layers; l++) most = fmax(most, s->sl[l].weight_bytes);
  return (uint64_t)most;
}

/* Bytes a pass of `tokens` tokens keeps for the backward: every block op's output but the scores', and the
   embedding's, fp16. */
static uint64_t kept_bytes(const ws_input *in, uint64_t tokens) {
  uint64_t per_token = 0;
  for (size_t i = 0; i < mdl_graph_op_count(in->g); i++) {
    const mdl_op *op = mdl_graph_op(in->g, i);
    if (op->kind == MDL_OP_SCORES || op->kind == MDL_OP_SOFTMAX) continue;
    if (op->layer >= 0 || op->kind == MDL_OP_EMBED) per_token += 2 * (uint64_t)(op->batch * op->n);
  }
  return tokens * per_token;
}

/* The system of in's configuration for the state's passes. */
static sys_spec spec_of(const ws_input *in, const stream_state *s) {
  const ws_config *cfg = in->cfg;
  return (sys_spec){
      .wafers = (uint32_t)cfg->system.wafers,
      .passes = s->sequences / s->pass,
      .store_hosts = (uint32_t)cfg->system.store_hosts,
      .fanout = (uint32_t)cfg->system.fanout,
      .train = in->phase == WS_PHASE_TRAIN,
      .store_bandwidth = (double)cfg->system.store_bandwidth,
      .store_link = (double)cfg->system.store_link,
      .link_bandwidth = (double)cfg->system.link_bandwidth,
      .link_latency = (double)cfg->system.link_latency * 1e-9,
      .chunk = (double)cfg->system.chunk,
      .update_bytes = (double)cfg->system.update_bytes,
      .accumulate_bytes = ACCUMULATE_BYTES,
  };
}

static int prepare(ws_input *in, void **state, char *err, size_t errlen) {
  *state = NULL;
  const ws_config *cfg = in->cfg;
  /* the masks, for the nonzeros streamed and the accounting (no weight is resident: no fit check) */
  if (!ws_input_dense(in) && ws_input_masks_streamed(in, WS_WORK_MASKS, err, errlen) != 0) return -1;
  stream_state *s = calloc(1, sizeof *s);
  const uint32_t blocks = (uint32_t)mdl_graph_model(in->g)->layers;
  if (!s || !(s->sl = calloc(blocks + 2, sizeof *s->sl)) || !(s->key_of = calloc(blocks, sizeof *s->key_of)) ||
      !(s->keys = calloc(blocks, sizeof *s->keys))) {
    release(s);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  s->layers = blocks + 2;
  s->sequences = in->batch / (uint32_t)cfg->system.wafers;
  const uint64_t P = (uint64_t)in->W * in->H;
  const uint64_t usable = in->m.sram > in->m.sram_reserve ? in->m.sram - in->m.sram_reserve : 0;
  /* the pass: system.micro_batch, or the most sequences whose reserve fits half a PE's usable SRAM */
  uint64_t most = 0;
  for (uint32_t m = s->sequences; m >= 1; m--) {
    if (s->sequences % m || (cfg->system.micro_batch && m != (uint32_t)cfg->system.micro_batch)) continue;
    memset(s->sl, 0, s->layers * sizeof *s->sl);
    most = layer_bytes(in, m * in->keys, s);
    if (most == UINT64_MAX) {
      release(s);
      snprintf(err, errlen, "out of memory");
      return -1;
    }
    s->pass = m;
    s->reserve = (kept_bytes(in, (uint64_t)m * in->keys) + 2 * most + P - 1) / P;
    if (cfg->system.micro_batch || 2 * s->reserve <= usable) break;
  }
  if (2 * s->reserve > usable) {
    snprintf(err, errlen,
             "stream: a pass of %u sequence%s keeps %llu bytes a PE for the backward and two layers' weights, more "
             "than half of the %llu a PE offers (fabric.sram_per_pe - kernels.sram_reserve); fewer sequences a pass "
             "(system.micro_batch), a shorter workload.seq_len or more SRAM would",
             s->pass, s->pass == 1 ? "" : "s", (unsigned long long)s->reserve, (unsigned long long)usable);
    release(s);
    return -1;
  }
  const sys_spec spec = spec_of(in, s);
  const uint64_t messages = sys_messages(&spec, s->sl, s->layers);
  if (messages > SYS_MESSAGES_MAX) {
    snprintf(err, errlen,
             "stream: a step would make %llu SimGrid communications (%u passes of %u layers' chunks over %u "
             "wafers), more than %llu; a larger system.chunk or system.micro_batch would make fewer",
             (unsigned long long)messages, spec.passes, s->layers, spec.wafers, (unsigned long long)SYS_MESSAGES_MAX);
    release(s);
    return -1;
  }
  /* the distinct blocks, by their kinds' levels */
  for (uint32_t b = 0; b < blocks; b++) {
    block_key k = {.first_block = b};
    for (size_t i = 0; i < mdl_graph_op_count(in->g); i++) {
      const mdl_op *op = mdl_graph_op(in->g, i);
      if (op->layer == (int)b && op->sparsifiable) k.levels[op->kind] = wl_sparsity_level(&in->sp, op);
    }
    uint32_t j = 0;
    while (j < s->nkeys && memcmp(s->keys[j].levels, k.levels, sizeof k.levels) != 0) j++;
    if (j == s->nkeys) s->keys[s->nkeys++] = k;
    s->key_of[b] = j;
  }
  *state = s;
  return 0;
}

/* The configuration of one block's run: one layer at key k's levels, the pass's sequences, prefill, layer by
   layer, the reserve set aside. */
static void block_config(const ws_config *cfg, const stream_state *s, const block_key *k, ws_config *sub) {
  *sub = *cfg;
  sub->model.layers = 1;
  sub->workload.phase = WS_PHASE_PREFILL;
  sub->workload.batch = s->pass;
  sub->workload.sparsity = 0;
  for (int i = 0; i < MDL_OP_KIND_COUNT; i++) sub->workload.by_kind[i] = k->levels[i];
  for (int i = 0; i < WL_MAX_LAYERS; i++) sub->workload.by_layer[i] = NAN;
  sub->sim.strategy = WS_STRATEGY_LAYERWISE;
  sub->system.wafers = 1;
  sub->kernels.sram_reserve += (int64_t)s->reserve;
}

/* A row's share in the backward: 2 for a weight GEMM or attention, else 1. */
static double bwd_factor(const strat_op *o) {
  const bool gemm = o->kernel && (!strcmp(o->kernel, "sparse") || !strcmp(o->kernel, "dense") ||
                                  !strcmp(o->kernel, "mixed"));
  return gemm || !strcmp(o->kind, "attention") ? 2.0 : 1.0;
}

typedef struct {
  strat_progress progress;
  void *ctx;
  double base, share;
} part_progress;

static void on_part(void *ctx, double done) {
  const part_progress *p = ctx;
  p->progress(p->ctx, p->base + done * p->share);
}

/* The blocks of key k. */
static uint32_t key_uses(const stream_state *s, uint32_t k) {
  uint32_t c = 0;
  for (uint32_t b = 0; b + 2 < s->layers; b++) c += s->key_of[b] == k;
  return c;
}

/* Simulate key k's block and take its rows: the block's compute into every block of that key, the first key's
   embedding and head too; rows appended to out. */
static int run_key(const ws_input *in, stream_state *s, uint32_t k, strat_result *out, uint32_t *nrows,
                   strat_progress progress, void *ctx, char *err, size_t errlen) {
  ws_config *sub = malloc(sizeof *sub);
  if (!sub) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  block_config(in->cfg, s, &s->keys[k], sub);
  ws_input si;
  void *st = NULL;
  strat_result r = {0};
  part_progress pp = {progress, ctx, (double)k / s->nkeys, 1.0 / s->nkeys};
  int rc = ws_input_create(&si, sub, err, errlen) == 0 && strat_layerwise.prepare(&si, &st, err, errlen) == 0 &&
                   strat_layerwise.simulate(st, &si, &r, progress ? on_part : NULL, &pp, err, errlen) == 0
               ? 0
               : -1;
  if (rc == 0) {
    const double clock = (double)in->clock;
    const uint32_t uses = key_uses(s, k);
    uint64_t prev_end = 0, macs = 0;
    int part = 0; /* 0 the embedding, 1 the block, 2 the head */
    for (uint32_t i = 0; i < r.nops; i++) {
      const strat_op *o = &r.ops[i];
      if (o->layer >= 0) part = 1;
      else if (part == 1) part = 2;
      const uint64_t end = o->first + o->cycles, slot = end - prev_end;
      prev_end = end;
      const double f = bwd_factor(o), fwd = (double)slot / clock;
      if (part != 1 && k != 0) continue; /* the embedding and head: the first run's */
      if (part == 1) {
        for (uint32_t b = 0; b < s->layers - 2; b++)
          if (s->key_of[b] == k) s->sl[1 + b].fwd_s += fwd, s->sl[1 + b].bwd_s += f * fwd;
      } else {
        sys_layer *l = &s->sl[part == 0 ? 0 : s->layers - 1];
        l->fwd_s += fwd;
        l->bwd_s += f * fwd;
      }
      macs += (uint64_t)((double)o->macs * (1.0 + (in->phase == WS_PHASE_TRAIN ? f : 0.0))) * (part == 1 ? uses : 1);
      /* the row, named for the block it stands for */
      strat_op *d = &out->ops[*nrows];
      *d = *o;
      if (part == 1) {
        const char *dot = strchr(o->name, '.');
        snprintf(s->names[*nrows], NAME_MAX_OP, "L%u%s", s->keys[k].first_block, dot ? dot : "");
        d->layer = (int)s->keys[k].first_block;
      } else {
        snprintf(s->names[*nrows], NAME_MAX_OP, "%s", o->name);
      }
      d->name = s->names[*nrows];
      d->kind = o->kind; /* a static kind name (ws_input_stage_kind) */
      d->kernel = o->kernel;
      (*nrows)++;
    }
    strat_totals *t = &out->tot;
    t->macs += macs; /* one pass on one wafer; scaled after */
    t->events += r.tot.events;
    t->wavelets_sent += r.tot.wavelets_sent;
    t->link_wavelets += r.tot.link_wavelets;
    t->sim_bytes = t->sim_bytes > r.tot.sim_bytes ? t->sim_bytes : r.tot.sim_bytes;
    if (k == 0) {
      memcpy(out->owner, r.owner, (size_t)r.W * r.H * sizeof *r.owner);
      memcpy(out->busy, r.busy, (size_t)r.W * r.H * sizeof *r.busy);
      memcpy(out->sram, r.sram, (size_t)r.W * r.H * sizeof *r.sram);
      t->replicas = r.tot.replicas;
      t->kernel_mix = r.tot.kernel_mix;
      t->pes_used = r.tot.pes_used;
      t->layerwise_cycles_model = r.tot.layerwise_cycles_model;
    }
  }
  strat_result_free(&r);
  if (st) strat_layerwise.release(st);
  ws_input_destroy(&si);
  free(sub);
  return rc;
}

static int stream_simulate(void *state, const ws_input *in, strat_result *out, strat_progress progress, void *ctx,
                           char *err, size_t errlen) {
  stream_state *s = state;
  const double t0 = ws_report_wall_s();
  /* rows: at most every op of the first run and each other key's block */
  const uint32_t per_block = in->low.n; /* a bound: the full graph's stages */
  const uint32_t cap = per_block + s->nkeys * per_block;
  if (strat_result_alloc(out, cap, in->W, in->H, err, errlen) != 0) return -1;
  free(s->names);
  if (!(s->names = calloc(cap, sizeof *s->names))) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  for (uint32_t l = 0; l < s->layers; l++) s->sl[l].fwd_s = s->sl[l].bwd_s = 0;
  uint32_t rows = 0;
  for (uint32_t k = 0; k < s->nkeys; k++)
    if (run_key(in, s, k, out, &rows, progress, ctx, err, errlen) != 0) return -1;
  out->nops = rows;
  const double sim_wall = ws_report_wall_s() - t0;

  const sys_spec spec = spec_of(in, s);
  sys_result sr;
  const double t1 = ws_report_wall_s();
  /* the system's step on SimGrid, its breakdown the totals' */
  if (sys_run(&spec, s->sl, s->layers, &sr, err, errlen) != 0) return -1;
  strat_totals *t = &out->tot;
  t->system_wall_s = ws_report_wall_s() - t1;
  t->cycles = t->step_cycles_max = t->fill_cycles = (uint64_t)llround(sr.step_s * (double)in->clock); /* one step */
  t->steps = 1;
  t->stages = rows;
  t->micro_batch = s->pass * in->keys;
  t->micro_batches = spec.passes;
  t->pes_mesh = (uint64_t)in->W * in->H;
  t->macs *= (uint64_t)spec.passes * spec.wafers;
  t->sys = sr;
  t->wafers = spec.wafers;
  t->layer_runs = s->nkeys;
  snprintf(t->strategy, sizeof t->strategy, "stream"); /* auto's choice too */
  out->rows_final = true; /* each row's utilisation over its own run */
  if (strat_result_common(out, in, err, errlen) != 0) return -1;
  t->sim_wall_s = sim_wall;
  t->events_per_s = sim_wall > 0 ? (double)t->events / sim_wall : 0;
  if (progress) progress(ctx, 1.0);
  return 0;
}

const strat_strategy strat_stream = {"stream", prepare, stream_simulate, release};
