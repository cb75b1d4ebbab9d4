/* Cross-key checks of a loaded configuration (ws_config_finish) and its
 * translations into the modules' own parameter structs. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bounds.h"
#include "config.h"
#include "functional.h"
#include "schema.h"

static const char *origin(const ws_config *cfg, const char *path) {
  const char *w = cfg->origin[ws_schema_find(path)].where;
  return w[0] ? w : WS_CONFIG_DEFAULT_NAME;
}

/* The machines' published figures (and named assumptions) for the keys a
 * fabric.preset sets. CS-2 (WSE-2): the embedded default's. WSE-3 (CS-3):
 *   mesh   762 x 1176 in the SDK (sdk.cerebras.net, CS-3 fabric); programs
 *          lose 7 columns and 2 rows to I/O on a CS-2 (757 x 996 -> 750 x
 *          994), assumed the same here: 755 x 1174 (886,370 PEs; "900 k
 *          cores", TweakTown 2024);
 *   SRAM   44 GB over 900 k cores, 48.9 KB: 48 KiB a PE (TweakTown 2024);
 *   SIMD   8-wide fp16 (The Next Platform, 2024);
 *   clock  unpublished: 1.1 GHz, the WSE-2's (assumption). */
typedef struct {
  int64_t width, height, clock, sram, fmac_fp16;
} machine;
static const machine machines[] = {{750, 994, 1100000000, 48 * 1024, 4}, {755, 1174, 1100000000, 48 * 1024, 8}};

/* fabric.preset: its machine's figures into the keys it sets that no file
 * or --set gave (their origin the embedded default's, or a preset's). */
static void apply_machine(ws_config *cfg) {
  const machine *m = &machines[cfg->fabric.preset];
  static const char *const keys[] = {"fabric.width", "fabric.height", "fabric.clock", "fabric.sram_per_pe",
                                     "fabric.fmac_fp16"};
  int64_t *const fields[] = {&cfg->fabric.width, &cfg->fabric.height, &cfg->fabric.clock, &cfg->fabric.sram_per_pe,
                             &cfg->fabric.fmac_fp16};
  const int64_t values[] = {m->width, m->height, m->clock, m->sram, m->fmac_fp16};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    ws_origin *o = &cfg->origin[ws_schema_find(keys[i])];
    const bool from_default = strncmp(o->where, WS_CONFIG_DEFAULT_NAME ":", strlen(WS_CONFIG_DEFAULT_NAME) + 1) == 0;
    if (o->where[0] && !from_default && strncmp(o->where, "fabric.preset", strlen("fabric.preset")) != 0)
      continue; /* given */
    *fields[i] = values[i];
    if (cfg->fabric.preset != WS_MACHINE_CS2)
      snprintf(o->where, sizeof o->where, "fabric.preset %s", cfg->fabric.preset == WS_MACHINE_WSE3 ? "wse3" : "cs2");
  }
}

/* workload.phase: train: a GPT-3 preset's published batch (Brown et al. 2020, Table 2.1: 0.5M tokens for
 * 125M to 760M, 1M for 1.3B and 2.7B, 2M for 6.7B and 13B, 3.2M for 175B; sequences of 2048 tokens) into
 * workload.batch where no file or --set gave it. Other models have no published default: theirs stands. */
static void apply_train_batch(ws_config *cfg) {
  static const struct {
    const char *preset;
    int64_t sequences;
  } published[] = {{"125M", 256}, {"350M", 256}, {"760M", 256}, {"1.3B", 512},
                   {"2.7B", 512}, {"6.7B", 1024}, {"13B", 1024}, {"175B", 1536}};
  ws_origin *o = &cfg->origin[ws_schema_find("workload.batch")];
  const bool from_default = strncmp(o->where, WS_CONFIG_DEFAULT_NAME ":", strlen(WS_CONFIG_DEFAULT_NAME) + 1) == 0;
  if (cfg->workload.phase != WS_PHASE_TRAIN || (o->where[0] && !from_default)) return;
  for (size_t i = 0; i < sizeof published / sizeof published[0]; i++)
    if (strcmp(cfg->model.name, published[i].preset) == 0) {
      cfg->workload.batch = published[i].sequences;
      snprintf(o->where, sizeof o->where, "workload.phase train (GPT-3 %s's published batch)", published[i].preset);
    }
}

static int check_model(ws_config *cfg, char *err, size_t errlen) {
  const bool custom = strcmp(cfg->model.name, "custom") == 0;
  for (size_t i = 0; i < ws_schema_keys(); i++) {
    const ws_key *k = ws_schema_key(i);
    if (!(k->flags & (WS_F_CUSTOM_DIM | WS_F_CUSTOM_OPT))) continue;
    const bool given = cfg->origin[i].where[0] != '\0';
    if (custom && !given && (k->flags & WS_F_CUSTOM_DIM)) {
      snprintf(err, errlen, "%s: model.preset: custom needs %s as well", origin(cfg, "model.preset"), k->path);
      return -1;
    }
    if (!custom && given) {
      snprintf(err, errlen, "%s: %s: only with model.preset: custom (preset %s fixes the dimensions)",
               cfg->origin[i].where, k->path, cfg->model.name);
      return -1;
    }
  }
  if (custom) {
    if (cfg->model.d_model % cfg->model.heads != 0) {
      snprintf(err, errlen, "%s: model.heads: %lld does not divide model.d_model = %lld", origin(cfg, "model.heads"),
               (long long)cfg->model.heads, (long long)cfg->model.d_model);
      return -1;
    }
    cfg->model.d_head = cfg->model.d_model / cfg->model.heads;
    /* stated in the README: kv_heads as many as heads, a llama's rotary base RoFormer's */
    if (!cfg->origin[ws_schema_find("model.kv_heads")].where[0]) cfg->model.kv_heads = cfg->model.heads;
    const bool theta_given = cfg->origin[ws_schema_find("model.rope_theta")].where[0] != '\0';
    if (cfg->model.arch == MDL_ARCH_GPT && theta_given) {
      snprintf(err, errlen, "%s: model.rope_theta: only with model.arch: llama (a gpt block's positions are learned)",
               origin(cfg, "model.rope_theta"));
      return -1;
    }
    if (!theta_given) cfg->model.rope_theta = cfg->model.arch == MDL_ARCH_LLAMA ? MDL_ROPE_THETA_DEFAULT : 0.0;
    if (cfg->model.heads % cfg->model.kv_heads != 0 ||
        (cfg->model.arch == MDL_ARCH_GPT && cfg->model.kv_heads != cfg->model.heads)) {
      snprintf(err, errlen,
               "%s: model.kv_heads: %lld, expected a divisor of model.heads = %lld (and equal to it with model.arch: "
               "gpt)",
               origin(cfg, "model.kv_heads"), (long long)cfg->model.kv_heads, (long long)cfg->model.heads);
      return -1;
    }
  } else {
    char name[MDL_NAME_MAX];
    memcpy(name, cfg->model.name, sizeof name);
    if (mdl_gpt_preset(name, &cfg->model) != 0) {
      snprintf(err, errlen, "%s: model.preset: no preset '%s'", origin(cfg, "model.preset"), name);
      return -1;
    }
  }
  char msg[256];
  if (mdl_gpt_check(&cfg->model, msg, sizeof msg) != 0) {
    snprintf(err, errlen, "%s: model: %s", origin(cfg, "model.preset"), msg);
    return -1;
  }
  return 0;
}

/* The tensor map against the graph: each tensor names a sparsifiable op,
 * no op twice, and with pattern file every sparsifiable op has one. */
static int check_file(const ws_config *cfg, const mdl_graph *g, char *err, size_t errlen) {
  const wl_file_spec *f = &cfg->workload.file;
  const bool file = cfg->workload.pattern == WL_PATTERN_FILE;
  if (!file && (f->path[0] || f->ntensors)) {
    snprintf(err, errlen, "%s: workload.file: given, but workload.pattern is %s; set workload.pattern: file to use it",
             origin(cfg, f->path[0] ? "workload.file.path" : "workload.file.tensors"),
             wl_pattern_name(cfg->workload.pattern));
    return -1;
  }
  if (!file) return 0;
  if (!f->path[0]) {
    snprintf(err, errlen, "%s: workload.pattern: file needs workload.file.path (a .safetensors file)",
             origin(cfg, "workload.pattern"));
    return -1;
  }
  const char *map_at = origin(cfg, "workload.file.tensors");
  for (uint32_t i = 0; i < f->ntensors; i++) {
    const char *at = cfg->entry_set.tensor[i] ? "--set" : map_at;
    const int op = mdl_graph_find(g, f->tensors[i].op);
    if (op < 0 || !mdl_graph_op(g, (size_t)op)->sparsifiable) {
      snprintf(err, errlen, "%s: workload.file.tensors.%s: '%s' is not %s of model %s (e.g. L0.q, L0.ffn_up)", at,
               f->tensors[i].tensor, f->tensors[i].op, op < 0 ? "an op" : "a sparsifiable op", cfg->model.name);
      return -1;
    }
    for (uint32_t j = 0; j < i; j++)
      if (strcmp(f->tensors[j].op, f->tensors[i].op) == 0) {
        snprintf(err, errlen, "%s: workload.file.tensors.%s: op %s already has tensor '%s'", at, f->tensors[i].tensor,
                 f->tensors[i].op, f->tensors[j].tensor);
        return -1;
      }
  }
  for (size_t i = 0; i < mdl_graph_op_count(g); i++) {
    const mdl_op *op = mdl_graph_op(g, i);
    uint32_t j = 0;
    while (j < f->ntensors && strcmp(f->tensors[j].op, op->name) != 0) j++;
    if (op->sparsifiable && j == f->ntensors) {
      snprintf(err, errlen, "%s: workload.file.tensors: no tensor for op %s; pattern file needs one per sparse weight",
               map_at, op->name);
      return -1;
    }
  }
  return 0;
}

/* The sparsity spec and pattern against the model's weights. */
static int check_workload(const ws_config *cfg, char *err, size_t errlen) {
  for (int k = 0; k < MDL_OP_KIND_COUNT; k++)
    if (wl_sparsity_kind_sparsifiable((mdl_op_kind)k) && !isnan(cfg->workload.by_kind[k]) &&
        !mdl_arch_has(cfg->model.arch, (mdl_op_kind)k)) {
      char path[64];
      snprintf(path, sizeof path, "workload.sparsity_by_kind.%s", mdl_op_kind_name((mdl_op_kind)k));
      snprintf(err, errlen, "%s: %s: model %s (a %s block) has no %s weights", origin(cfg, path), path,
               cfg->model.name, mdl_arch_name(cfg->model.arch), mdl_op_kind_name((mdl_op_kind)k));
      return -1;
    }
  for (int l = (int)cfg->model.layers; l < WL_MAX_LAYERS; l++)
    if (!isnan(cfg->workload.by_layer[l])) {
      snprintf(err, errlen, "%s: workload.sparsity_by_layer.%d: model %s has layers 0 to %lld",
               cfg->entry_set.layer[l] ? "--set" : origin(cfg, "workload.sparsity_by_layer"), l, cfg->model.name, (long long)cfg->model.layers - 1);
      return -1;
    }
  char msg[WS_CONFIG_ERR_MAX];
  mdl_graph *g = mdl_graph_build(&cfg->model, cfg->workload.seq_len, msg, sizeof msg);
  if (!g) {
    snprintf(err, errlen, "%s: model: %s", origin(cfg, "model.preset"), msg);
    return -1;
  }
  int rc = check_file(cfg, g, err, errlen);
  /* functional mode holds real values: small models only (functional.h) */
  if (rc == 0 && cfg->sim.functional && ws_functional_check(cfg, g, origin(cfg, "sim.functional"), err, errlen) != 0)
    rc = -1;
  /* only the pipeline carries values: the bound simulates nothing, the
     layer-by-layer mesh GEMM times its tiles without values */
  if (rc == 0 && cfg->sim.functional && cfg->sim.strategy != WS_STRATEGY_PIPELINE &&
      cfg->sim.strategy != WS_STRATEGY_AUTO) {
    snprintf(err, errlen,
             "%s: sim.functional: true needs sim.strategy: pipeline or auto, which then runs the pipeline (bound "
             "simulates no PE, layerwise carries no values)",
             origin(cfg, "sim.functional"));
    rc = -1;
  }
  wl_sparsity s;
  ws_config_sparsity(cfg, &s);
  const wl_spec spec = ws_config_spec(cfg, &s);
  if (rc == 0 && wl_spec_check(g, &spec, msg, sizeof msg) != 0) {
    snprintf(err, errlen, "%s: workload.pattern: %s", origin(cfg, "workload.pattern"), msg);
    rc = -1;
  }
  mdl_graph_destroy(g);
  return rc;
}

/* The phases each strategy runs, and the system section's keys against the workload. */
static int check_system(const ws_config *cfg, char *err, size_t errlen) {
  const ws_strategy st = cfg->sim.strategy;
  const ws_phase ph = cfg->workload.phase;
  if (ph == WS_PHASE_TRAIN && (st == WS_STRATEGY_PIPELINE || st == WS_STRATEGY_LAYERWISE)) {
    snprintf(err, errlen,
             "%s: sim.strategy: %s runs no backward pass; workload.phase: train runs on stream (weight streaming), "
             "bound, or auto (which then runs stream)",
             origin(cfg, "sim.strategy"), st == WS_STRATEGY_PIPELINE ? "pipeline" : "layerwise");
    return -1;
  }
  if (st == WS_STRATEGY_STREAM && ph != WS_PHASE_TRAIN && ph != WS_PHASE_PREFILL) {
    snprintf(err, errlen, "%s: sim.strategy: stream runs workload.phase train or prefill, not %s",
             origin(cfg, "sim.strategy"), ph == WS_PHASE_DECODE ? "decode" : "generate");
    return -1;
  }
  const bool streams = ws_config_streams(cfg);
  if (!streams && cfg->system.wafers != 1) {
    snprintf(err, errlen,
             "%s: system.wafers: %lld wafers need sim.strategy: stream (the other strategies run one wafer)",
             origin(cfg, "system.wafers"), (long long)cfg->system.wafers);
    return -1;
  }
  if (!streams) return 0;
  if (cfg->workload.pattern == WL_PATTERN_FILE) {
    snprintf(err, errlen,
             "%s: workload.pattern: file is not supported by sim.strategy: stream (it simulates one block per "
             "distinct sparsity and reuses it; a file's masks differ per layer)",
             origin(cfg, "workload.pattern"));
    return -1;
  }
  if (cfg->workload.batch % cfg->system.wafers != 0) {
    snprintf(err, errlen, "%s: system.wafers: %lld wafers do not divide workload.batch = %lld sequences",
             origin(cfg, "system.wafers"), (long long)cfg->system.wafers, (long long)cfg->workload.batch);
    return -1;
  }
  const int64_t each = cfg->workload.batch / cfg->system.wafers;
  if (cfg->system.micro_batch > 0 && each % cfg->system.micro_batch != 0) {
    snprintf(err, errlen,
             "%s: system.micro_batch: %lld sequences do not divide a wafer's %lld (workload.batch / system.wafers)",
             origin(cfg, "system.micro_batch"), (long long)cfg->system.micro_batch, (long long)each);
    return -1;
  }
  return 0;
}

static int finish(ws_config *cfg, char *err, size_t errlen) {
  apply_machine(cfg);
  if (check_model(cfg, err, errlen) != 0) return -1;
  apply_train_batch(cfg);
  const char *mesh_at = cfg->origin[ws_schema_find("fabric.width")].where[0] ? origin(cfg, "fabric.width")
                                                                                : origin(cfg, "fabric.height");
  if (ws_bounds_mesh(cfg, mesh_at, err, errlen) != 0) return -1;
  if (cfg->workload.phase == WS_PHASE_PREFILL && cfg->workload.micro_batch > 0 &&
      cfg->workload.seq_len % cfg->workload.micro_batch != 0) { /* only a prefill's pipeline has micro-batches */
    snprintf(err, errlen, "%s: workload.micro_batch: %lld tokens do not divide workload.seq_len = %lld",
             origin(cfg, "workload.micro_batch"), (long long)cfg->workload.micro_batch,
             (long long)cfg->workload.seq_len);
    return -1;
  }
  if (cfg->workload.batch * cfg->workload.seq_len > WS_TOKENS_MAX) {
    snprintf(err, errlen, "%s: workload.batch: %lld sequences of workload.seq_len = %lld tokens are %lld tokens, at most %lld",
             origin(cfg, "workload.batch"), (long long)cfg->workload.batch, (long long)cfg->workload.seq_len,
             (long long)(cfg->workload.batch * cfg->workload.seq_len), (long long)WS_TOKENS_MAX);
    return -1;
  }
  if ((cfg->workload.phase == WS_PHASE_DECODE || cfg->workload.phase == WS_PHASE_GENERATE) &&
      cfg->workload.seq_len + cfg->workload.new_tokens > cfg->model.context) {
    snprintf(err, errlen,
             "%s: workload.new_tokens: a prompt of workload.seq_len = %lld tokens and %lld new ones exceed the context "
             "of model %s (%lld tokens)",
             origin(cfg, "workload.new_tokens"), (long long)cfg->workload.seq_len, (long long)cfg->workload.new_tokens,
             cfg->model.name, (long long)cfg->model.context);
    return -1;
  }
  if (cfg->workload.phase != WS_PHASE_PREFILL && cfg->sim.functional) {
    snprintf(err, errlen, "%s: sim.functional: true needs workload.phase: prefill (only the pipeline carries values)",
             origin(cfg, "sim.functional"));
    return -1;
  }
  if (check_system(cfg, err, errlen) != 0) return -1;
  if (cfg->workload.seq_len > cfg->model.context) {
    snprintf(err, errlen, "%s: workload.seq_len: %lld tokens exceed the context of model %s (%lld tokens)",
             origin(cfg, "workload.seq_len"), (long long)cfg->workload.seq_len, cfg->model.name,
             (long long)cfg->model.context);
    return -1;
  }
  return check_workload(cfg, err, errlen);
}

int ws_config_finish(ws_config *cfg, char *err, size_t errlen) {
  const int rc = finish(cfg, err, errlen);
  if (rc != 0) ws_schema_one_line(err, errlen); /* names of the input quoted: one line */
  return rc;
}

void ws_config_fabric(const ws_config *cfg, fab_config *out) {
  *out = (fab_config){
      .width = (uint32_t)cfg->fabric.width,
      .height = (uint32_t)cfg->fabric.height,
      .colors = (uint32_t)cfg->fabric.colors,
      .hop_latency = (uint32_t)cfg->fabric.hop_latency,
      .ramp_latency = (uint32_t)cfg->fabric.ramp_latency,
      .queue_depth = (uint32_t)cfg->fabric.queue_depth,
      .add_latency = (uint32_t)cfg->fabric.add_latency,
      .consume_cycles = (uint32_t)cfg->fabric.consume_cycles,
      .fidelity = cfg->sim.fidelity == WS_FIDELITY_WAVELET ? FAB_WAVELET : FAB_TRAIN,
  };
}

void ws_config_machine(const ws_config *cfg, krn_machine *out) {
  *out = (krn_machine){
      .simd_fp16 = (uint32_t)cfg->fabric.fmac_fp16,
      .simd_fp32 = (uint32_t)cfg->fabric.fmac_fp32,
      .sparse_setup = (uint32_t)cfg->kernels.sparse_setup,
      .dense_setup = (uint32_t)cfg->kernels.dense_setup,
      .task_switch = (uint32_t)cfg->kernels.task_switch,
      .exp_cycles = (uint32_t)cfg->kernels.exp_cycles,
      .acc_bytes = cfg->kernels.accumulate == WS_ACC_FP16 ? 2 : 4,
      .sram = (uint64_t)cfg->fabric.sram_per_pe,
      .sram_reserve = (uint64_t)cfg->kernels.sram_reserve,
  };
}

bool ws_config_sparsity_reaches(const ws_config *cfg) {
  bool kind_free = false; /* a sparsifiable kind without its own level */
  for (int k = 0; k < MDL_OP_KIND_COUNT; k++)
    if (wl_sparsity_kind_sparsifiable((mdl_op_kind)k) && mdl_arch_has(cfg->model.arch, (mdl_op_kind)k) &&
        isnan(cfg->workload.by_kind[k]))
      kind_free = true;
  for (int l = 0; kind_free && l < (int)cfg->model.layers && l < WL_MAX_LAYERS; l++)
    if (isnan(cfg->workload.by_layer[l])) return true;
  return false;
}

void ws_config_sparsity(const ws_config *cfg, wl_sparsity *out) {
  *out = wl_sparsity_uniform(cfg->workload.sparsity);
  for (int k = 0; k < MDL_OP_KIND_COUNT; k++)
    if (wl_sparsity_kind_sparsifiable((mdl_op_kind)k)) out->kind[k] = cfg->workload.by_kind[k];
  memcpy(out->layer, cfg->workload.by_layer, sizeof out->layer);
}

wl_pattern ws_config_pattern(const ws_config *cfg) {
  return (wl_pattern){
      .kind = cfg->workload.pattern,
      .nm_group = (uint32_t)cfg->workload.nm_group,
      .block = (uint32_t)cfg->workload.block,
      .row_sigma = cfg->workload.magnitude.row_sigma,
      .col_sigma = cfg->workload.magnitude.col_sigma,
      .outlier_fraction = cfg->workload.magnitude.outlier_fraction,
      .outlier_scale = cfg->workload.magnitude.outlier_scale,
  };
}

wl_spec ws_config_spec(const ws_config *cfg, const wl_sparsity *s) {
  return (wl_spec){.sparsity = s, .pattern = ws_config_pattern(cfg), .file = &cfg->workload.file,
                   .seed = (uint64_t)cfg->sim.seed};
}
