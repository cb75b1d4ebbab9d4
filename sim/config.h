/* wafersim configuration: the YAML schema (schema_version 1), loading from a
 * file or a string with libyaml, --set overrides, cross-key checks, and
 * echoing the effective configuration as YAML or JSON.
 *
 * A configuration starts as the embedded default (sim/default.yaml, compiled
 * in); a file and then each --set override apply on top, with the same
 * checks; ws_config_finish resolves the model preset and checks keys against
 * each other. Every error names where (file:line:column, or the --set
 * argument), the key path and what was expected. */
#ifndef WAFERSIM_SIM_CONFIG_H
#define WAFERSIM_SIM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fabric/fabric.h"
#include "kernels/cost.h"
#include "models/gpt.h"
#include "models/graph.h"
#include "workloads/safetensors.h"
#include "workloads/weights.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WS_SCHEMA_VERSION 1
#define WS_CONFIG_ERR_MAX 5120 /* room for a message naming a whole path (PATH_MAX 4096) */
#define WS_CONFIG_MAX_KEYS 96
#define WS_WHERE_MAX 128
/* Input limits of a configuration: its YAML nests at most this deep (the
 * schema needs 4: top level, section, subsection, map), and a file holds at
 * most WL_INFILE_CONFIG_MAX bytes (1 MiB, workloads/infile.h). */
#define WS_CONFIG_DEPTH_MAX 32
#define WS_TOKENS_MAX (1 << 24)
#define WS_CONFIG_DEFAULT_NAME "(embedded default)" /* the embedded default's name in origins ("NAME:LINE:COL") */ /* workload.batch x workload.seq_len: the tokens of one run */

/* prefill: seq_len new tokens a sequence; decode: new_tokens steps of one token a sequence after a prompt of
   seq_len in the KV cache; generate: the prefill, then decode steps until new_tokens are made */
typedef enum { WS_PHASE_PREFILL, WS_PHASE_DECODE, WS_PHASE_GENERATE, WS_PHASE_TRAIN } ws_phase;
typedef enum { WS_FORMAT_TABLE, WS_FORMAT_CSV, WS_FORMAT_JSON } ws_format;
/* The machine a configuration starts from: its mesh, clock, SRAM and SIMD (config_check.c). */
typedef enum { WS_MACHINE_CS2, WS_MACHINE_WSE3 } ws_machine;
typedef enum { WS_FIDELITY_TRAIN, WS_FIDELITY_WAVELET } ws_fidelity;
typedef enum { WS_ACC_FP32, WS_ACC_FP16 } ws_accumulate;
typedef enum { WS_TILING_UNIFORM, WS_TILING_BALANCED } ws_tiling;
/* How the model runs on the wafer (sim/strategy/strategy.h). */
typedef enum {
  WS_STRATEGY_PIPELINE,
  WS_STRATEGY_BOUND,
  WS_STRATEGY_LAYERWISE,
  WS_STRATEGY_AUTO,
  WS_STRATEGY_STREAM
} ws_strategy;

/* Where a key got its value: "FILE:LINE:COL" or "--set"; empty if never set. */
typedef struct {
  char where[WS_WHERE_MAX];
} ws_origin;

typedef struct {
  struct {
    ws_machine preset;     /* the machine the keys below start from (those not given) */
    int64_t width, height; /* PEs */
    int64_t clock;         /* Hz */
    int64_t sram_per_pe;   /* bytes */
    int64_t fmac_fp16;     /* fp16 multiply-accumulates per PE per cycle */
    int64_t fmac_fp32;     /* fp32 multiply-accumulates per PE per cycle */
    int64_t colors;        /* routable colors per router */
    int64_t hop_latency;   /* cycles per router-to-router hop */
    int64_t ramp_latency;  /* cycles between a core and its router, each way */
    int64_t queue_depth;   /* wavelets buffered per color per router input */
    int64_t add_latency;   /* cycles from a wavelet's arrival to its sum leaving, in a reduction */
    int64_t consume_cycles; /* cycles a core takes per wavelet it receives */
  } fabric;
  mdl_gpt model; /* after ws_config_finish: the preset's or the custom dimensions */
  struct {
    int kernel;           /* krn_kernel: KRN_AUTO, KRN_SPARSE or KRN_DENSE */
    int64_t sparse_setup; /* cycles per nonzero's AXPY beyond its MACs */
    int64_t dense_setup;  /* cycles per dense AXPY beyond its MACs */
    int64_t task_switch;  /* cycles to start a task */
    int64_t exp_cycles;   /* cycles per exp, tanh or inverse square root */
    ws_accumulate accumulate; /* partial sums */
    int64_t sram_reserve; /* bytes per PE for code and runtime */
  } kernels;
  struct {
    ws_phase phase;
    int64_t seq_len;    /* tokens per sequence (decode, generate: the prompt's) */
    int64_t new_tokens; /* decode, generate: tokens made per sequence */
    int64_t batch;      /* sequences prefilled together */
    int64_t micro_batch; /* tokens per micro-batch; divides seq_len; 0: auto (the placer chooses, place.h) */
    double sparsity; /* fraction of zero weights in every sparsifiable matrix, [0, 1) */
    double by_kind[MDL_OP_KIND_COUNT]; /* per sparsifiable op kind, overriding sparsity; NaN where not given */
    double by_layer[WL_MAX_LAYERS]; /* per layer, overriding both; NaN where not given */
    wl_pattern_kind pattern;        /* how the zeros are laid out */
    int64_t nm_group;               /* nm: M, weights per group along K */
    int64_t block;                  /* block: b, the blocks' side */
    struct {
      double row_sigma, col_sigma;  /* spread of log row and column scales */
      double outlier_fraction;      /* rows and columns with an outlier scale */
      double outlier_scale;         /* their extra scale */
    } magnitude;
    wl_file_spec file; /* pattern file: path, layout, tensor name -> op name */
  } workload;
  struct {
    ws_tiling tiling;     /* cut points of weight tiles: uniform, or balanced by nonzeros */
    int64_t shelf_height; /* rows of the placer's shelves; 0: the placer searches */
  } placer;
  struct {
    int64_t seed;         /* seeds every random choice of a run */
    ws_fidelity fidelity; /* how the fabric moves wavelets */
    bool functional;      /* carry real values (small configurations) */
    ws_strategy strategy; /* how the model runs: pipeline, bound, layerwise or auto */
    double auto_margin;   /* auto: both candidates simulated when neither model is faster by more; layerwise: its
                             two best plans */
  } sim;
  struct {
    ws_format format; /* default output format of the commands */
  } output;
  struct { /* the system around the wafers (sim/system/system.h): weight streaming and data parallelism */
    int64_t wafers;          /* wafers training data-parallel, each on workload.batch / wafers sequences */
    int64_t micro_batch;     /* sequences a wafer runs per pass (its weights streamed once a pass); 0: auto */
    int64_t store_hosts;     /* hosts of the weight store, each holding 1 / store_hosts of every layer */
    int64_t store_bandwidth; /* bytes/s of a store host's memory; 0: no limit */
    int64_t store_link;      /* bytes/s of a store host's link to the root switch; 0: no limit */
    int64_t link_bandwidth;  /* bytes/s of every switch-switch and switch-wafer link, each way; 0: no limit */
    int64_t link_latency;    /* ns of every link */
    int64_t fanout;          /* children of a switch of the broadcast/reduce tree */
    int64_t chunk;           /* bytes of a streamed piece of a layer's weights or gradients */
    int64_t update_bytes;    /* store memory bytes moved per weight by the optimizer's update */
  } system;
  ws_origin origin[WS_CONFIG_MAX_KEYS]; /* per schema key, in schema order */
  /* Map entries a --set gave on top of the map's source: their origin is
   * "--set", the map's (origin[]) is where its other entries came from. */
  struct {
    bool layer[WL_MAX_LAYERS];   /* workload.sparsity_by_layer */
    bool tensor[WL_MAX_TENSORS]; /* workload.file.tensors, by index */
  } entry_set;
} ws_config;

/* Whether cfg runs by weight streaming: sim.strategy stream, or auto on a training step. */
bool ws_config_streams(const ws_config *cfg);

/* The embedded default (sim/default.yaml), as text. */
const char *ws_config_default_yaml(void);

/* A configuration with no key set: zeros, empty maps, optional keys absent. */
void ws_config_init_empty(ws_config *cfg);

/* Load the embedded default into cfg. Returns 0 (the default is checked by
 * the tests; a failure here is an internal error, reported in err). */
int ws_config_init_default(ws_config *cfg, char *err, size_t errlen);

/* Apply a YAML file, or a YAML text named `name` in messages, on top of cfg.
 * Returns 0, or -1 with "NAME:LINE:COL: KEY: expected ..." in err. */
int ws_config_load_file(ws_config *cfg, const char *path, char *err, size_t errlen);
int ws_config_load_string(ws_config *cfg, const char *text, size_t len, const char *name,
                          char *err, size_t errlen);

/* Apply one "key.path=value" override from the command line. */
int ws_config_set(ws_config *cfg, const char *assignment, char *err, size_t errlen);
/* The same for key `path` and `value` given apart, from `source`: an
 * option ("--set", "--vary") or a part of a file ("B.json (its sweep.spec)"),
 * which messages name and the key's origin records. */
int ws_config_set_key(ws_config *cfg, const char *path, const char *value, const char *source, char *err,
                      size_t errlen);

/* Resolve the model preset and check keys against each other (custom model
 * dimensions all given, heads divide d_model, seq_len within the context;
 * per-layer levels within the model, the pattern able to lay out every
 * weight's level, the tensor map naming sparsifiable ops, one each).
 * Call after the last load or set; returns 0 or -1 with a message. */
int ws_config_finish(ws_config *cfg, char *err, size_t errlen);

/* Whether two finished configurations have the same values (origins ignored). */
bool ws_config_equal(const ws_config *a, const ws_config *b);

/* Write the effective configuration as YAML that ws_config_load_* reads back
 * to an equal configuration. Returns 0, or -1 on a write error. */
int ws_config_write_yaml(const ws_config *cfg, FILE *out);

/* The effective configuration as a JSON object mirroring the YAML (new
 * reference; the caller json_decref()s it). */
struct json_t *ws_config_json(const ws_config *cfg);

/* The fabric's machine model from the fabric keys and sim.fidelity. */
void ws_config_fabric(const ws_config *cfg, fab_config *out);
/* The PE cost model from the fabric and kernels keys. */
void ws_config_machine(const ws_config *cfg, krn_machine *out);

/* Whether workload.sparsity reaches any sparse weight: false when
 * workload.sparsity_by_kind and sparsity_by_layer give every sparsifiable
 * weight of the model its level (then levels set on workload.sparsity, as
 * flops --sparsity and sweep do, change nothing and must not label rows). */
bool ws_config_sparsity_reaches(const ws_config *cfg);

/* The sparsity spec (levels per op kind and layer) and the mask pattern. */
void ws_config_sparsity(const ws_config *cfg, wl_sparsity *out);
wl_pattern ws_config_pattern(const ws_config *cfg);
/* The workload's mask spec for sparsity levels s (cfg and s must outlive it). */
wl_spec ws_config_spec(const ws_config *cfg, const wl_sparsity *s);

/* Names of the enum values, as in YAML. */
const char *ws_format_name(ws_format f);
int ws_format_parse(const char *name); /* -1 if unknown */

#ifdef __cplusplus
}
#endif
#endif
