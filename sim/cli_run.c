/* The commands of wafersim (see cli.h): each loads the configuration, runs
 * its part of the simulator and writes a table. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_internal.h"
#include "flops.h"
#include "models/graph.h"
#include "oprun.h"
#include "place.h"
#include "gemmrun.h"
#include "probe.h"
#include "schema.h"
#include "report.h"
#include "units.h"

/* flops, kernel and place count or lay out a prefill (the pipeline's, one
 * sequence's forward pass): a decode, generate or training step is refused by name, not
 * silently counted as a prefill. 0, or -1 with the message written. */
static int prefill_only(const char *cmd, const ws_config *cfg, FILE *err) {
  if (cfg->workload.phase == WS_PHASE_PREFILL) return 0;
  const char *at = cfg->origin[ws_schema_find("workload.phase")].where;
  fprintf(err,
          "wafersim %s: %s: workload.phase: %s counts a prefill (one sequence's forward pass, the pipeline's "
          "layout); a decode's or a training step's FLOPs and cycles are wafersim run's and sweep's\n",
          cmd, at[0] ? at : "(embedded default)", cmd);
  return -1;
}

int ws_cmd_flops(const ws_cli_args *a, FILE *out, FILE *err) {
  ws_config cfg;
  if (ws_cli_load_config(a, &cfg, err) != 0 || prefill_only("flops", &cfg, err) != 0) return WS_EXIT_BAD_INPUT;
  double levels[WS_CLI_MAX_LEVELS];
  ws_flops_spec spec = {.levels = levels, .nlevels = 1, .per = WS_PER_TOTAL};
  levels[0] = cfg.workload.sparsity;
  if (a->sparsity && a->schedule) {
    fprintf(err, "wafersim flops: --sparsity and --schedule both give the levels; use one\n");
    return WS_EXIT_BAD_INPUT;
  }
  if ((a->sparsity && ws_cli_parse_levels("flops", a->sparsity, levels, &spec.nlevels, err) != 0) ||
      (a->schedule && ws_cli_parse_schedule("flops", a->schedule, levels, &spec.nlevels, err) != 0) ||
      (a->tiling && ws_cli_parse_wh("flops", "--tiling", a->tiling, &spec.tile_w, &spec.tile_h, err) != 0))
    return WS_EXIT_BAD_INPUT;
  if ((a->sparsity || a->schedule) && !ws_config_sparsity_reaches(&cfg)) {
    fprintf(err,
            "wafersim flops: %s: workload.sparsity_by_kind / sparsity_by_layer give every sparse weight its level, so "
            "the levels (workload.sparsity) change nothing and would label rows that did not run at them; drop the "
            "overrides or the levels\n",
            a->sparsity ? "--sparsity" : "--schedule");
    return WS_EXIT_BAD_INPUT;
  }
  const int per = a->per ? ws_flops_per_parse(a->per) : WS_PER_TOTAL;
  if (per < 0) {
    fprintf(err, "wafersim flops: --per: expected total, kind or op, got '%s'\n", a->per);
    return WS_EXIT_BAD_INPUT;
  }
  spec.per = (ws_flops_per)per;
  char msg[WS_CONFIG_ERR_MAX] = "";
  ws_table *t = ws_flops_table(&cfg, &spec, msg, sizeof msg);
  if (!t) {
    fprintf(err, "wafersim flops: %s\n", msg);
    return WS_EXIT_BAD_INPUT;
  }
  if (cfg.output.format == WS_FORMAT_TABLE) {
    const mdl_gpt *m = &cfg.model;
    char sram[32];
    ws_units_format(cfg.fabric.sram_per_pe, WS_UNIT_BYTES, sram, sizeof sram);
    fprintf(out,
            "%s %s: %lld layers, d_model %lld, %lld heads x %lld (%lld key/value heads), d_ff %lld, vocab %lld; "
            "prefill of %lld tokens\n"
            "Forward-pass FLOPs of one sequence (Chinchilla App. F; totals exclude the "
            "embedding lookup).\n"
            "Weights: dense = fp16; sparse = 16-bit value + 16-bit index per nonzero. "
            "Wafer SRAM: %lld x %lld PEs x %s = %.1f GiB.\n\n",
            mdl_family(m), m->name, (long long)m->layers, (long long)m->d_model, (long long)m->heads,
            (long long)m->d_head, (long long)m->kv_heads, (long long)m->d_ff, (long long)m->vocab,
            (long long)cfg.workload.seq_len, (long long)cfg.fabric.width,
            (long long)cfg.fabric.height, sram,
            (double)cfg.fabric.width * (double)cfg.fabric.height * (double)cfg.fabric.sram_per_pe /
                (double)(1LL << 30));
  }
  static const char *const groups[] = {"totals", "kinds", "ops"};
  int rc = ws_cli_emit(&cfg, "flops", groups[spec.per], t, out, err);
  ws_table_destroy(t);
  return rc;
}

int ws_cmd_models(const ws_cli_args *a, FILE *out, FILE *err) {
  ws_config cfg;
  if (ws_cli_load_config(a, &cfg, err) != 0) return WS_EXIT_BAD_INPUT;
  char msg[WS_CONFIG_ERR_MAX] = "";
  ws_table *t = ws_models_table(msg, sizeof msg);
  if (!t) {
    fprintf(err, "wafersim models: %s\n", msg);
    return WS_EXIT_FAILURE;
  }
  int rc = ws_cli_emit(&cfg, "models", NULL, t, out, err);
  ws_table_destroy(t);
  return rc;
}

int ws_cmd_config(const ws_cli_args *a, FILE *out, FILE *err) {
  ws_config cfg;
  if (ws_cli_load_config(a, &cfg, err) != 0) return WS_EXIT_BAD_INPUT;
  int rc = cfg.output.format == WS_FORMAT_JSON ? ws_cli_write_json(&cfg, "config", NULL, out)
                                               : ws_config_write_yaml(&cfg, out);
  return ws_cli_wrote("config", rc, out, err);
}

/* A count option (--wavelets, --messages) in [1, 2^31 - 1]. */
static int count_option(const char *name, const char *value, uint32_t dflt, uint32_t *out,
                        FILE *err) {
  char msg[256];
  int64_t v = dflt;
  if (value && ws_units_parse(value, WS_UNIT_COUNT, 1, INT32_MAX, &v, msg, sizeof msg) != 0) {
    fprintf(err, "wafersim probe: %s: %s\n", name, msg);
    return -1;
  }
  *out = (uint32_t)v;
  return 0;
}

int ws_cmd_probe(const ws_cli_args *a, FILE *out, FILE *err) {
  if (!a->pattern) {
    fprintf(err, "wafersim probe: which PATTERN? see 'wafersim probe --help'\n");
    return WS_EXIT_BAD_INPUT;
  }
  const int pattern = ws_probe_pattern_parse(a->pattern);
  if (pattern < 0) {
    fprintf(err,
            "wafersim probe: unknown pattern '%s'; expected unicast, multicast-row, "
            "reduce-column, allreduce, region-copy, random or multicast-reduce\n",
            a->pattern);
    return WS_EXIT_BAD_INPUT;
  }
  ws_config cfg;
  if (ws_cli_load_config(a, &cfg, err) != 0) return WS_EXIT_BAD_INPUT;
  ws_probe_spec spec = {.pattern = (ws_probe_pattern)pattern, .seed = (uint64_t)cfg.sim.seed};
  if (count_option("--wavelets", a->wavelets, 1000, &spec.wavelets, err) != 0 ||
      count_option("--messages", a->messages, 16, &spec.messages, err) != 0)
    return WS_EXIT_BAD_INPUT;
  ws_config_fabric(&cfg, &spec.fabric);
  ws_probe_result r;
  char msg[WS_CONFIG_ERR_MAX] = "";
  if (ws_probe_run(&spec, &r, msg, sizeof msg) != 0) {
    fprintf(err, "wafersim probe: %s\n", msg);
    return WS_EXIT_BAD_INPUT;
  }
  const ws_probe_row row = {spec, r, cfg.fabric.clock};
  ws_table *t = ws_probe_table(&row);
  if (!t) {
    fprintf(err, "wafersim probe: out of memory\n");
    return WS_EXIT_FAILURE;
  }
  int rc = ws_cli_emit(&cfg, "probe", NULL, t, out, err);
  ws_table_destroy(t);
  return rc;
}

int ws_cmd_kernel(const ws_cli_args *a, FILE *out, FILE *err) {
  ws_config cfg;
  if (ws_cli_load_config(a, &cfg, err) != 0 || prefill_only("kernel", &cfg, err) != 0) return WS_EXIT_BAD_INPUT;
  static const char *const kernel_names[] = {"auto", "sparse", "dense", NULL}; /* krn_kernel order */
  double levels[WS_CLI_MAX_LEVELS];
  uint32_t batches[64], kernels[3], mbs = 8, one;
  uint32_t nb = 1, nk = 1;
  size_t nl = 1;
  levels[0] = cfg.workload.sparsity;
  batches[0] = (uint32_t)cfg.workload.micro_batch; /* 0 (auto): --batch must say */
  kernels[0] = (uint32_t)cfg.kernels.kernel;
  uint32_t w = 64, h = 32;
  if (a->region && ws_cli_parse_wh("kernel", "--region", a->region, &w, &h, err) != 0) return WS_EXIT_BAD_INPUT;
  if ((a->sparsity && ws_cli_parse_levels("kernel", a->sparsity, levels, &nl, err) != 0) ||
      (a->batch && ws_cli_parse_list("kernel", "--batch", a->batch, NULL, batches, 64, &nb, err) != 0) ||
      (a->kernels && ws_cli_parse_list("kernel", "--kernel", a->kernels, kernel_names, kernels, 3, &nk, err) != 0) ||
      (a->micro_batches && ws_cli_parse_list("kernel", "--micro-batches", a->micro_batches, NULL, &mbs, 1, &one, err) != 0))
    return WS_EXIT_BAD_INPUT;
  if (batches[0] == 0) { /* workload.micro_batch: auto, and no --batch */
    fprintf(err, "wafersim kernel: workload.micro_batch is auto, which only a placed run resolves; give --batch "
                 "(e.g. --batch 4,16)\n");
    return WS_EXIT_BAD_INPUT;
  }
  krn_kernel kk[3];
  for (uint32_t i = 0; i < nk; i++) kk[i] = (krn_kernel)kernels[i];
  const ws_oprun_spec spec = {a->op ? a->op : "L0.ffn_up", w, h, batches, nb, levels, (uint32_t)nl, kk, nk, mbs};
  char msg[WS_CONFIG_ERR_MAX] = "";
  ws_table *t = ws_oprun(&cfg, &spec, msg, sizeof msg);
  if (!t) {
    fprintf(err, "wafersim %s\n", msg);
    return WS_EXIT_BAD_INPUT;
  }
  int rc = ws_cli_emit(&cfg, "kernel", NULL, t, out, err);
  ws_table_destroy(t);
  return rc;
}

int ws_cmd_gemm(const ws_cli_args *a, FILE *out, FILE *err) {
  ws_config cfg;
  if (ws_cli_load_config(a, &cfg, err) != 0) return WS_EXIT_BAD_INPUT;
  const char *const dims[3] = {a->gemm_m, a->gemm_k, a->gemm_n}, *const opts[3] = {"--m", "--k", "--n"};
  uint32_t v[3], one;
  for (int i = 0; i < 3; i++) {
    if (!dims[i]) {
      fprintf(err, "wafersim gemm: %s is missing; give --m M --k K --n N (e.g. --m 1 --k 16384 --n 16384)\n", opts[i]);
      return WS_EXIT_BAD_INPUT;
    }
    if (ws_cli_parse_list("gemm", opts[i], dims[i], NULL, &v[i], 1, &one, err) != 0) return WS_EXIT_BAD_INPUT;
  }
  double levels[WS_CLI_MAX_LEVELS];
  size_t nl = 1;
  levels[0] = cfg.workload.sparsity;
  uint32_t w = 0, h = 0;
  if ((a->region && ws_cli_parse_wh("gemm", "--region", a->region, &w, &h, err) != 0) ||
      (a->sparsity && ws_cli_parse_levels("gemm", a->sparsity, levels, &nl, err) != 0))
    return WS_EXIT_BAD_INPUT;
  const ws_gemm_spec spec = {v[0], v[1], v[2], w, h, levels, (uint32_t)nl};
  char msg[WS_CONFIG_ERR_MAX] = "";
  ws_table *t = ws_gemmrun(&cfg, &spec, msg, sizeof msg);
  if (!t) {
    fprintf(err, "wafersim %s\n", msg);
    return WS_EXIT_BAD_INPUT;
  }
  int rc = ws_cli_emit(&cfg, "gemm", NULL, t, out, err);
  ws_table_destroy(t);
  return rc;
}

static int write_map(void *ctx, FILE *out) { return ws_place_write_map(ctx, out); }

int ws_cmd_place(const ws_cli_args *a, FILE *out, FILE *err) {
  ws_config cfg;
  if (ws_cli_load_config(a, &cfg, err) != 0 || prefill_only("place", &cfg, err) != 0) return WS_EXIT_BAD_INPUT;
  char msg[WS_CONFIG_ERR_MAX] = "";
  if (a->map && ws_report_check_file(a->map, msg, sizeof msg) != 0) {
    fprintf(err, "wafersim place: --map: %s\n", msg);
    return WS_EXIT_FAILURE;
  }
  ws_placement *p = ws_place(&cfg, msg, sizeof msg);
  if (!p || ws_placement_routed(p, msg, sizeof msg) != 0) {
    fprintf(err, "wafersim %s\n", msg);
    ws_placement_destroy(p);
    return WS_EXIT_BAD_INPUT;
  }
  ws_table *stages = ws_place_table(p), *totals = ws_place_totals_table(p);
  int rc = stages && totals ? WS_EXIT_OK : WS_EXIT_FAILURE;
  if (rc != WS_EXIT_OK) {
    fprintf(err, "wafersim place: out of memory\n");
  } else if (cfg.output.format == WS_FORMAT_JSON) {
    json_t *tot = ws_table_json(totals), *both = json_object();
    json_object_set_new(both, "stages", ws_table_json(stages));
    json_object_set(both, "totals", json_array_get(tot, 0));
    json_decref(tot);
    rc = ws_cli_wrote("place", ws_cli_write_json(&cfg, "place", both, out), out, err);
  } else {
    int wrote = ws_table_write(stages, cfg.output.format, out);
    FILE *tot_out = cfg.output.format == WS_FORMAT_CSV ? err : out;
    if (wrote == 0 && cfg.output.format == WS_FORMAT_TABLE) fputc('\n', out);
    if (wrote == 0 && ws_table_write(totals, cfg.output.format, tot_out) != 0 && tot_out == out) wrote = -1;
    rc = ws_cli_wrote("place", wrote, out, err);
  }
  if (rc == WS_EXIT_OK && a->map && ws_report_write_file(a->map, write_map, p, msg, sizeof msg) != 0) {
    fprintf(err, "wafersim place: --map: %s\n", msg);
    rc = WS_EXIT_FAILURE;
  }
  ws_table_destroy(stages);
  ws_table_destroy(totals);
  ws_placement_destroy(p);
  return rc;
}
