/* The resolved run input: everything a run needs, made once from a finished
 * configuration (DESIGN.md section 6): the PE cost model and the fabric's
 * settings, the layer graph, its lowered stages, the sparsity levels and the
 * masks, the phase and the token counts. place, run (and so sweep and
 * check), kernel, flops and the strategies (sim/strategy/) take it instead
 * of turning the configuration into these again; it owns them and frees
 * them in ws_input_destroy. (probe needs only the fabric's settings,
 * ws_config_fabric; flops and kernel build their own masks, one set per
 * level they sweep.)
 *
 * Token counts: `tokens` is the number of new tokens a run processes,
 * `keys` the number of keys (positions) the last of them attends to, and
 * `batch` the sequences they belong to. In a prefill keys is
 * workload.seq_len and tokens batch x keys, in one step. A decode runs
 * `steps` (workload.new_tokens) steps of one new token a sequence (tokens =
 * batch): step s (0-based) attends to keys_first + s keys, from the prompt's
 * workload.seq_len + 1 to keys = seq_len + new_tokens; its graph is the last
 * step's (mdl_graph_build_step: one token, keys keys). A generate is run as
 * a prefill and then a decode (sim/run.h); its input is never made.
 *
 * Also here: the one helper that creates, runs and destroys an engine, a
 * fabric and a pipeline program on it (ws_program), which the placer's route
 * check, the run and the kernel command share. */
#ifndef WAFERSIM_SIM_INPUT_H
#define WAFERSIM_SIM_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bounds.h"
#include "config.h"
#include "fabric/fabric.h"
#include "kernels/lower.h"
#include "kernels/pipeline.h"
#include "models/account.h"
#include "models/graph.h"
#include "sim/engine/engine.h"
#include "workloads/weights.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  const ws_config *cfg; /* borrowed: must outlive the input */
  krn_machine m;        /* the PE cost model */
  fab_config fc;        /* the fabric keys and sim.fidelity */
  ws_phase phase;
  uint32_t tokens;       /* new tokens the run processes, all sequences */
  uint32_t keys;         /* keys the last token of a sequence attends to (prefill: its tokens) */
  uint32_t batch;        /* sequences (workload.batch), tokens / batch each */
  uint32_t steps;        /* steps of `tokens` new tokens: a prefill 1, a decode workload.new_tokens */
  uint32_t keys_first;   /* keys the first step attends to (prefill: keys) */
  uint32_t micro_batch;  /* tokens per micro-batch; 0 (auto) until the placer chose (ws_place_choose); a decode 1 */
  uint32_t micro_batches; /* tokens / micro_batch; a decode tokens x steps (the pipeline's, the sequences taking
                             turns: kernels/pipeline.h) */
  uint32_t W, H;         /* the mesh, PEs */
  uint64_t clock;        /* Hz */
  mdl_graph *g;          /* owned */
  krn_lowered low;       /* owned: the stages (no region, mask or kernel yet) */
  wl_sparsity sp;        /* the levels per op kind and layer */
  wl_weights *w;         /* owned: the masks; NULL until ws_input_masks */
} ws_input;

/* The input of cfg (finished) without masks: the machine, the graph and
 * its stages, the counts. 0, or -1 with the reason in err (in would leave
 * nothing to free; ws_input_destroy is safe either way). */
int ws_input_create(ws_input *in, const ws_config *cfg, char *err, size_t errlen);
/* Build the masks, after checking that the weights can fit in the mesh's
 * SRAM at all (4 bytes a sparse nonzero, fp16 dense; an error naming the
 * largest op) and that `work` (bounds.h) fits in the host's memory. */
int ws_input_masks(ws_input *in, ws_work work, char *err, size_t errlen);
/* The same without the weights-fit check: for weight streaming, which keeps no weight resident. */
int ws_input_masks_streamed(ws_input *in, ws_work work, char *err, size_t errlen);
void ws_input_destroy(ws_input *in);
/* Whether every weight is kept (every sparsifiable op at level 0, no
 * pattern file): then a mask would keep every weight and a strategy that
 * only counts nonzeros need not build them. */
bool ws_input_dense(const ws_input *in);

/* The weights-fit check ws_input_masks makes first, on its own (before any
 * mask is built): 0, or -1 naming the model, the bytes and the largest op. */
int ws_input_weights_fit(const mdl_graph *g, const wl_sparsity *sp, const krn_machine *m, uint32_t W, uint32_t H,
                         char *err, size_t errlen);

/* Stage i's kind as the reports label it: "attention", "embed", or its
 * op's kind ("ffn_up", "ln_1", ...). */
const char *ws_input_stage_kind(const ws_input *in, uint32_t i);

/* FLOPs, parameters and bytes of the model (models/account.h), each sparse
 * weight at its mask's nonzeros (masks built): the flops report's
 * accounting, of a step whose last token attends to `keys` keys (in->keys:
 * the input's graph; else one built for it). 0, or -1 with the reason. */
int ws_input_account(const ws_input *in, uint32_t keys, mdl_cost *total, char *err, size_t errlen);

/* An engine, a fabric and a pipeline program of stages on it. */
typedef struct {
  sim_engine *e;
  fab_fabric *f;
  krn_pipe *pipe;
} ws_program;

/* Create the engine and the fabric of fc. 0, or -1 with the reason (p is
 * then safe to destroy). */
int ws_program_open(ws_program *p, const fab_config *fc, char *err, size_t errlen);
/* Build the pipeline of n stages for run on p's fabric (its routes checked
 * against every router's colors, its PEs against SRAM). 0, or -1 with the reason. */
int ws_program_load(ws_program *p, const krn_machine *m, const krn_stage *stages, uint32_t n, const krn_run *run,
                    char *err, size_t errlen);
/* Open and load in one step. */
int ws_program_create(ws_program *p, const fab_config *fc, const krn_machine *m, const krn_stage *stages,
                      uint32_t n, const krn_run *run, char *err, size_t errlen);
/* Run the engine until no event is left: 0, or -1 with "PREFIX: reason". */
int ws_program_run(ws_program *p, const char *prefix, char *err, size_t errlen);
/* Stage st alone on a fabric of its region's size (fc's other settings),
 * created, run and checked (krn_pipe_check): `wafersim kernel` and `gemm`.
 * 0, or -1 with the reason; p is destroyed by the caller either way. */
int ws_program_stage(ws_program *p, const fab_config *fc, const krn_machine *m, const krn_stage *st,
                     const krn_run *run, char *err, size_t errlen);
void ws_program_destroy(ws_program *p);

#ifdef __cplusplus
}
#endif
#endif
