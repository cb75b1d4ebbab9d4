/* Shared by the command line's two files: cli.c (arguments, help, the
 * configuration and output every command shares) and cli_run.c (the
 * commands). */
#ifndef WAFERSIM_SIM_CLI_INTERNAL_H
#define WAFERSIM_SIM_CLI_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "sweep.h"
#include "table.h"

#define WS_CLI_MAX_LEVELS 256

typedef struct {
  const char *cmd;
  const char *pattern;  /* probe: its PATTERN */
  const char *file;     /* FILE.yaml, or NULL for the embedded default */
  const char *wavelets; /* probe: --wavelets */
  const char *messages; /* probe: --messages */
  const char *op, *region, *batch, *kernels, *micro_batches; /* kernel (gemm: --region) */
  const char *gemm_m, *gemm_k, *gemm_n;                      /* gemm: --m, --k, --n */
  char **sets;          /* owned strings "key=value", in command-line order */
  int nsets;
  const char *sparsity; /* --sparsity list, or NULL */
  const char *per;      /* --per, or NULL */
  const char *tiling;   /* flops: --tiling WxH */
  const char *schedule; /* flops: --schedule STEP,TARGET */
  const char *map;      /* place: --map FILE */
  const char *out;      /* run, sweep: --out DIR */
  const char *jobs;     /* sweep: -j N */
  const char *vary;     /* sweep: --vary KEY=V1,V2,... */
  const char *baseline, *rtol, *atol, *only, *check_format; /* check */
  bool update_baseline, allow_config_change, cost;          /* check */
  bool help;
  unsigned formats;        /* the output.format values the command writes (bit 1 << ws_format) */
  const char *format_from; /* the option that set output.format last: "--format" or "--set output.format" */
} ws_cli_args;

/* The embedded default, then FILE, then every --set, then the cross-key
 * checks; on failure the message is on err. */
int ws_cli_load_config(const ws_cli_args *a, ws_config *cfg, FILE *err);
/* The JSON document every command writes (sim/output.schema.json): version,
 * command, config, then its figures (taken; NULL: none) under the key of the
 * command's name; ws_cli_dump_json prints one as every command does. */
json_t *ws_cli_doc(const ws_config *cfg, const char *cmd, json_t *figures);
int ws_cli_dump_json(const json_t *doc, FILE *out);
int ws_cli_write_json(const ws_config *cfg, const char *cmd, json_t *figures, FILE *out);
/* A command's table in the configured format; a WS_EXIT_* status. In JSON
 * its rows are the command's figures, or with `group` the one field `group`
 * of them (flops: totals, kinds or ops). */
int ws_cli_emit(const ws_config *cfg, const char *cmd, const char *group, const ws_table *t, FILE *out, FILE *err);
/* A command's status once its writer returned wrote (0, or -1) on out. A
 * stream error is left to ws_cli_main, which says "cannot write to
 * standard output" once for every command; any other failure of the
 * writer is said here. */
int ws_cli_wrote(const char *cmd, int wrote, FILE *out, FILE *err);
/* Option values; 0, or -1 with the message on err. */
int ws_cli_parse_levels(const char *cmd, const char *list, double *levels, size_t *n, FILE *err);
int ws_cli_parse_wh(const char *cmd, const char *opt, const char *value, uint32_t *w, uint32_t *h, FILE *err);
int ws_cli_parse_schedule(const char *cmd, const char *value, double *levels, size_t *n, FILE *err);
int ws_cli_parse_list(const char *cmd, const char *opt, const char *list, const char *const *names, uint32_t *out,
                      uint32_t max, uint32_t *n, FILE *err);

/* The commands: a WS_EXIT_* status. */
int ws_cmd_flops(const ws_cli_args *a, FILE *out, FILE *err);
int ws_cmd_models(const ws_cli_args *a, FILE *out, FILE *err);
int ws_cmd_config(const ws_cli_args *a, FILE *out, FILE *err);
int ws_cmd_probe(const ws_cli_args *a, FILE *out, FILE *err);
int ws_cmd_kernel(const ws_cli_args *a, FILE *out, FILE *err);
int ws_cmd_gemm(const ws_cli_args *a, FILE *out, FILE *err);
int ws_cmd_place(const ws_cli_args *a, FILE *out, FILE *err);
int ws_cmd_run(const ws_cli_args *a, FILE *out, FILE *err);
int ws_cmd_sweep(const ws_cli_args *a, FILE *out, FILE *err);
int ws_cmd_check(const ws_cli_args *a, FILE *out, FILE *err);

/* The JSON documents of a run (totals and op rows) and of a sweep (its spec,
 * points and kind rows); sim/output.schema.json has their fields. */
json_t *ws_cli_run_doc(const ws_config *cfg, const ws_table *totals, const ws_table *ops);
json_t *ws_cli_sweep_doc(const ws_config *cfg, const ws_sweep_spec *spec, const ws_table *rows,
                         const ws_table *kinds);


#endif
