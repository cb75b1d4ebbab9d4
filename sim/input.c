/* The resolved run input and the engine + fabric + program helper (see input.h). */
#include "input.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/kind.h"

int ws_input_weights_fit(const mdl_graph *g, const wl_sparsity *sp, const krn_machine *m, uint32_t W, uint32_t H,
                         char *err, size_t errlen) {
  const size_t n = mdl_graph_op_count(g);
  int64_t *nnz = calloc(n, sizeof *nnz);
  if (!nnz) {
    snprintf(err, errlen, "place: out of memory");
    return -1;
  }
  wl_sparsity_nnz(sp, g, nnz);
  uint64_t need = 0, most = 0;
  const char *largest = "?";
  for (size_t i = 0; i < n; i++) {
    const mdl_op *op = mdl_graph_op(g, i);
    const uint64_t bytes = op->sparsifiable ? 4 * (uint64_t)nnz[i] : 2 * (uint64_t)op->weight_rows * op->weight_cols;
    need += bytes;
    if (bytes > most) most = bytes, largest = op->name;
  }
  free(nnz);
  const uint64_t per_pe = m->sram > m->sram_reserve ? m->sram - m->sram_reserve : 0;
  const uint64_t usable = (uint64_t)W * H * per_pe;
  if (need <= usable) return 0;
  snprintf(err, errlen,
           "place: %s %s does not fit: its weights need %llu bytes (the largest, %s, %llu), the %u x %u mesh offers "
           "%llu (fabric.sram_per_pe - kernels.sram_reserve = %llu bytes a PE); sparsity, a larger mesh or more "
           "SRAM would",
           mdl_family(mdl_graph_model(g)), mdl_graph_model(g)->name, (unsigned long long)need, largest, (unsigned long long)most, W, H,
           (unsigned long long)usable, (unsigned long long)per_pe);
  return -1;
}

int ws_input_create(ws_input *in, const ws_config *cfg, char *err, size_t errlen) {
  memset(in, 0, sizeof *in);
  in->cfg = cfg;
  ws_config_machine(cfg, &in->m);
  ws_config_fabric(cfg, &in->fc);
  in->phase = cfg->workload.phase;
  /* prefill: every token of each sequence is new and attends to the ones
     before it in its sequence */
  in->batch = (uint32_t)cfg->workload.batch;
  in->keys = in->keys_first = (uint32_t)cfg->workload.seq_len;
  in->tokens = in->batch * in->keys;
  in->steps = 1;
  if (in->phase == WS_PHASE_GENERATE) {
    snprintf(err, errlen, "workload.phase: generate is a prefill and then a decode, each its own input (sim/run.h)");
    return -1;
  }
  if (in->phase == WS_PHASE_DECODE) { /* a token a sequence a step, after the prompt in the KV cache */
    in->steps = (uint32_t)cfg->workload.new_tokens;
    in->keys_first = in->keys + 1;
    in->keys += in->steps;
    in->tokens = in->batch;
  }
  /* a decode on the pipeline: a token a micro-batch, every step's of every sequence (the others have none) */
  in->micro_batch = in->phase == WS_PHASE_DECODE ? 1 : (uint32_t)cfg->workload.micro_batch;
  in->micro_batches = in->micro_batch ? in->tokens * in->steps / in->micro_batch : 0; /* auto: the placer's choice */
  in->W = in->fc.width;
  in->H = in->fc.height;
  in->clock = (uint64_t)cfg->fabric.clock;
  ws_config_sparsity(cfg, &in->sp);
  if (!(in->g = mdl_graph_build_step(&cfg->model, in->tokens / in->batch, in->keys, err, errlen))) return -1;
  if (krn_lower(in->g, &in->low, err, errlen) != 0) return -1;
  for (uint32_t i = 0; i < in->low.n; i++) in->low.stages[i].sequences = in->batch; /* attention keeps each one's keys */
  return 0;
}

int ws_input_masks_streamed(ws_input *in, ws_work work, char *err, size_t errlen) {
  /* before building masks that would not fit in the host's memory */
  if (ws_bounds_memory_check(in->cfg, work, 1, ws_bounds_budget(), err, errlen) != 0) return -1;
  const wl_spec spec = ws_config_spec(in->cfg, &in->sp);
  return (in->w = wl_weights_build(in->g, &spec, err, errlen)) ? 0 : -1;
}

int ws_input_masks(ws_input *in, ws_work work, char *err, size_t errlen) {
  /* before building masks of a model that cannot fit */
  if (ws_input_weights_fit(in->g, &in->sp, &in->m, in->W, in->H, err, errlen) != 0) return -1;
  return ws_input_masks_streamed(in, work, err, errlen);
}

bool ws_input_dense(const ws_input *in) {
  if (in->cfg->workload.pattern == WL_PATTERN_FILE) return false;
  for (size_t i = 0; i < mdl_graph_op_count(in->g); i++) {
    const mdl_op *op = mdl_graph_op(in->g, i);
    if (op->sparsifiable && wl_sparsity_level(&in->sp, op) > 0) return false;
  }
  return true;
}

void ws_input_destroy(ws_input *in) {
  wl_weights_destroy(in->w);
  krn_lowered_free(&in->low);
  mdl_graph_destroy(in->g);
  memset(in, 0, sizeof *in);
}

const char *ws_input_stage_kind(const ws_input *in, uint32_t i) {
  const krn_kind_ops *ko = krn_kind_of(in->low.stages[i].kind);
  return ko->named_by_op ? mdl_op_kind_name(mdl_graph_op(in->g, in->low.first_op[i])->kind) : ko->name;
}

int ws_input_account(const ws_input *in, uint32_t keys, mdl_cost *total, char *err, size_t errlen) {
  const size_t nops = mdl_graph_op_count(in->g);
  mdl_graph *g = keys == in->keys ? NULL
                                  : mdl_graph_build_step(mdl_graph_model(in->g), mdl_graph_seq_len(in->g), keys, err,
                                                         errlen);
  if (keys != in->keys && !g) return -1;
  int64_t *nnz = malloc(nops * sizeof *nnz);
  if (!nnz) {
    mdl_graph_destroy(g);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  wl_sparsity_nnz(&in->sp, in->g, nnz); /* without masks, the levels' counts (a dense model's: every weight) */
  for (size_t i = 0; i < nops; i++) {
    const mdl_op *op = mdl_graph_op(in->g, i);
    const wl_mask *m = in->w ? wl_weights_mask(in->w, i) : NULL;
    if (m) nnz[i] = (int64_t)wl_mask_nnz(m);
    else if (!op->sparsifiable) nnz[i] = op->weight_rows * op->weight_cols;
  }
  mdl_account(g ? g : in->g, nnz, NULL, total);
  free(nnz);
  mdl_graph_destroy(g);
  return 0;
}

int ws_program_open(ws_program *p, const fab_config *fc, char *err, size_t errlen) {
  *p = (ws_program){0};
  /* a PE's task ends (and its send is scheduled) up to a stage interval
     ahead, tens of thousands of cycles: a wheel of 2^16 ticks (32,768
     cycles) keeps those off the heap */
  const sim_config ec = {.wheel_bits = 16};
  p->e = sim_engine_create(&ec, err, errlen);
  p->f = p->e ? fab_create(p->e, fc, err, errlen) : NULL;
  return p->f ? 0 : -1;
}

int ws_program_load(ws_program *p, const krn_machine *m, const krn_stage *stages, uint32_t n, const krn_run *run,
                    char *err, size_t errlen) {
  p->pipe = p->f ? krn_pipe_create(p->e, p->f, m, stages, n, run, err, errlen) : NULL;
  return p->pipe ? 0 : -1;
}

int ws_program_create(ws_program *p, const fab_config *fc, const krn_machine *m, const krn_stage *stages,
                      uint32_t n, const krn_run *run, char *err, size_t errlen) {
  return ws_program_open(p, fc, err, errlen) == 0 ? ws_program_load(p, m, stages, n, run, err, errlen) : -1;
}

int ws_program_run(ws_program *p, const char *prefix, char *err, size_t errlen) {
  if (sim_engine_run(p->e) == 0) return 0;
  if (prefix) snprintf(err, errlen, "%s: %s", prefix, sim_engine_error(p->e));
  else snprintf(err, errlen, "%s", sim_engine_error(p->e));
  return -1;
}

int ws_program_stage(ws_program *p, const fab_config *fc, const krn_machine *m, const krn_stage *st,
                     const krn_run *run, char *err, size_t errlen) {
  fab_config c = *fc;
  c.width = st->region.w;
  c.height = st->region.h;
  if (ws_program_create(p, &c, m, st, 1, run, err, errlen) != 0 || ws_program_run(p, NULL, err, errlen) != 0) return -1;
  return krn_pipe_check(p->pipe, err, errlen);
}

void ws_program_destroy(ws_program *p) {
  krn_pipe_destroy(p->pipe);
  fab_destroy(p->f);
  sim_engine_destroy(p->e);
  *p = (ws_program){0};
}
