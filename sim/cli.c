/* Command-line parsing, help and dispatch, and what every command shares:
 * loading the configuration, writing tables and JSON, parsing option values.
 * The commands are in cli_run.c. Every input error goes to `err` as one line
 * and returns WS_EXIT_BAD_INPUT; nothing here calls exit(). */
#include "cli.h"

#include <stdbool.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli_internal.h"
#include "schema.h"
#include "sweep_mpi.h"
#include "units.h"
#include "workloads/sparsity.h"

/* Options a command accepts beyond the common ones. */
enum { OPT_SPARSITY = 1, OPT_PER = 2, OPT_PROBE = 4, OPT_KERNEL = 8, OPT_TILING = 16, OPT_PLACE = 32, OPT_RUN = 64,
       OPT_SWEEP = 128, OPT_CHECK = 256, OPT_GEMM = 512 };

typedef struct {
  const char *name;
  const char *summary;
  const char *usage; /* options beyond the common ones */
  unsigned opts;
  unsigned formats; /* the output.format values it writes: bit 1 << ws_format; 0: it has its own --format */
  int (*run)(const ws_cli_args *a, FILE *out, FILE *err);
} command;

#define FMT(f) (1u << (f))
#define FMT_ALL (FMT(WS_FORMAT_TABLE) | FMT(WS_FORMAT_CSV) | FMT(WS_FORMAT_JSON))

static const char common_help[] =
    "Options of every command:\n"
    "  FILE.yaml          configuration applied on top of the embedded default\n"
    "                     (CS-2 preset, GPT-3 1.3B, prefill of 2048 tokens)\n"
    "  --set KEY=VALUE    override one key, repeatable, e.g. --set fabric.clock=850MHz\n"
    "  --model NAME       same as --set model.preset=NAME\n"
    "                     (125M 350M 760M 1.3B 2.7B 6.7B 13B 175B custom)\n"
    "  --format F         table, csv or json; same as --set output.format=F\n"
    "  -h, --help         this help\n"
    "\n"
    "Exit status: 0 success; 1 failure while running (e.g. cannot write output);\n"
    "2 bad input (usage, configuration file, value, a model that cannot be placed\n"
    "or routed, work above a limit: a mesh over 4,194,304 PEs, or more memory than\n"
    "the machine has by the estimate checked before any work).\n";

static const command commands[] = {
    {"flops", "FLOPs, parameters and weight memory per sparsity level",
     "  --sparsity LIST    comma-separated levels in [0, 1), e.g. 0,0.5,0.838\n"
     "                     (default: workload.sparsity of the configuration)\n"
     "  --schedule STEP,TARGET  the levels of iterative pruning instead: from dense,\n"
     "                     each step removes STEP of the remaining weights, until\n"
     "                     TARGET (e.g. 0.2,0.84: 0, 0.2, 0.36, ..., 0.832, 0.84)\n"
     "  --per total|kind|op  one row per level (default), per op kind, or per op\n"
     "  --tiling WxH       cut every weight as on a W x H region (H parts along K,\n"
     "                     W along N) and add its masks' nonzeros per tile; every\n"
     "                     tile holds a weight: W at most the fewest columns of a\n"
     "                     weight, H the fewest rows (d_model for the presets)\n"
     "\n"
     "The levels set workload.sparsity; workload.sparsity_by_kind and\n"
     "sparsity_by_layer still override it where given (levels that then reach no\n"
     "weight are refused: the rows would not have run at them). Nonzeros are the masks'\n"
     "(workload.pattern, seeded by sim.seed) with --tiling or pattern file,\n"
     "otherwise round(density x K x N).\n"
     "\n"
     "FLOPs are forward-pass FLOPs of one sequence (Chinchilla, Appendix F);\n"
     "totals exclude the embedding lookup. Columns (CSV header = JSON keys):\n"
     "model, sparsity, flops_dense, flops_sparse, flops_reduction (dense/sparse),\n"
     "params_dense, params_sparse, params_reduction, weight_bytes_dense (fp16),\n"
     "weight_bytes_sparse (4 B per nonzero), flops_saved, weight_nnz,\n"
     "weight_bytes_csr, weight_bytes_bitmap, seq_len; with --tiling, tile_nnz_max,\n"
     "tile_nnz_mean, tile_nnz_min (nonzeros of a tile) and tile_imbalance (max/mean;\n"
     "in kind and total rows, the worst op's).\n",
     OPT_SPARSITY | OPT_PER | OPT_TILING, FMT_ALL, ws_cmd_flops},
    {"models", "the model presets (GPT-3, Llama): dimensions, parameters, weight bytes", "", 0, FMT_ALL, ws_cmd_models},
    {"probe", "run one communication pattern on the fabric (as the SDK benchmarks)",
     "  PATTERN            unicast, multicast-row, reduce-column, allreduce,\n"
     "                     region-copy, random or multicast-reduce (first argument)\n"
     "  --mesh WxH         mesh size; same as --set fabric.width=W --set fabric.height=H\n"
     "  --wavelets N       wavelets per message (default 1000); in wavelet fidelity\n"
     "                     N x the links of the pattern's routes at most 2^28\n"
     "  --fidelity F       train or wavelet; same as --set sim.fidelity=F\n"
     "  --messages M       random: how many unicasts (default 16)\n"
     "  --seed S           random: which ones; same as --set sim.seed=S\n"
     "\n"
     "Columns (CSV header = JSON keys): pattern, mesh, wavelets, fidelity, cycles\n"
     "(last wavelet consumed + 1), link_busy_max (most cycles one link or ramp\n"
     "carried a wavelet), events, wall_s, cycles_bound (analytic lower bound),\n"
     "bound_exact (yes: nothing contends, cycles must equal it), time_us (cycles\n"
     "at the clock), events_per_s, wavelets_sent, wavelets_received,\n"
     "link_wavelets, colors_max, memory_bytes.\n",
     OPT_PROBE, FMT_ALL, ws_cmd_probe},
    {"kernel", "one weight GEMM of the model on a region: cycles and SRAM per PE, simulated",
     "  --op NAME          a weight GEMM, e.g. L0.ffn_up (default), L3.q, lm_head\n"
     "  --region WxH       its PEs, columns x rows (default 64x32); at most the op's\n"
     "                     N columns and K rows (no empty tile), 4,194,304 PEs\n"
     "  --batch LIST       micro-batch sizes, e.g. 1,16,64 (default: workload.micro_batch)\n"
     "  --sparsity LIST    levels in [0, 1) (default: workload.sparsity)\n"
     "  --kernel LIST      sparse, dense, auto (default: kernels.kernel)\n"
     "  --micro-batches M  micro-batches simulated (default 8); M x each batch at\n"
     "                     most model.context tokens\n"
     "\n"
     "Columns: op, region, pes, batch, sparsity, kernel, nnz_max, nnz_mean (per PE),\n"
     "cycles_pe_max and cycles_pe_mean (the cost model's compute per micro-batch),\n"
     "cycles_interval (simulated cycles per micro-batch once steady), cycles_first\n"
     "(the first micro-batch's latency), sram_pe_max (bytes), fits, sparse_pes,\n"
     "macs_per_microbatch, interval_model (the placer's model of cycles_interval,\n"
     "kernels/estimate.h). A row that does not fit in SRAM is not simulated.\n",
     OPT_SPARSITY | OPT_KERNEL, FMT_ALL, ws_cmd_kernel},
    {"gemm", "one GEMM or GEMV of any shape on a region, by the configured strategy, simulated",
     "  --m M              tokens: X is M x K (1: a GEMV)\n"
     "  --k K              X's features, W's rows\n"
     "  --n N              W's columns (Y is M x N)\n"
     "  --region WxH       its PEs, columns x rows (default: the mesh, at most N\n"
     "                     columns and K rows)\n"
     "  --sparsity LIST    W's levels in [0, 1) (default: workload.sparsity), zeros laid\n"
     "                     out by workload.pattern, seeded by sim.seed\n"
     "\n"
     "sim.strategy chooses how: layerwise (W resident over the whole region, K over\n"
     "its rows and N over its columns; the tokens in steps: X multicast along the\n"
     "rows, the partial sums reduced down the columns by a chain or a segmented\n"
     "tree), pipeline (the layer pipeline's GEMM stage, workload.micro_batch tokens\n"
     "a micro-batch) or bound (the executed MACs over every PE).\n"
     "\n"
     "Columns: m, k, n, region, sparsity, strategy, cycles (its inputs at their\n"
     "sources to its last output, + 1), time_us, flops_per_s (2 x the executed\n"
     "MACs a second), peak_fraction (of the region's peak), sram_pe_max (bytes),\n"
     "pe_slowest (x,y: the most compute), pes, nnz, macs, busy_max, chunk and steps\n"
     "(tokens a step, steps), reduce and segment (layerwise: the columns'\n"
     "reduction), cycles_model (layerwise: its model's cycles), events, wall_s.\n",
     OPT_SPARSITY | OPT_GEMM, FMT_ALL, ws_cmd_gemm},
    {"config", "print the effective configuration (YAML; JSON with --format json)", "", 0,
     FMT(WS_FORMAT_TABLE) | FMT(WS_FORMAT_JSON), ws_cmd_config},
    {"place", "map the layer graph onto the mesh: a region per stage, balanced, in SRAM and colors",
     "  --map FILE         also write every PE's stage (x, y, op) to FILE, for heatmaps\n"
     "\n"
     "Columns (CSV header = JSON keys), one row per stage: op, layer, x, y, w, h\n"
     "(its region), pes, tile_k, tile_n (its largest tile or feature share),\n"
     "nnz_max, nnz_mean (GEMM: nonzeros per tile), stage_cycles (the modelled\n"
     "interval per micro-batch, kernels/estimate.h), sram_max_bytes, colors_max\n"
     "(most colors at a router of its region), kind, nnz_max_uniform and\n"
     "stage_cycles_uniform (the same with uniform cut points), sparse_pes,\n"
     "latency. Then the totals: pes_used, shelf_height, stage_max, stage_mean,\n"
     "stage_mean_pe (weighted by PEs), their ratios, tokens_per_s (micro-batch\n"
     "tokens per slowest interval), fill_latency, colors_max, hops_next_max (gap\n"
     "between consecutive stages), hops_edge_max (any producer to consumer),\n"
     "wall_s, routes_ok, limit (what stops a lower interval: pes, tile, width,\n"
     "sram, colors or none) and limit_stage (where). Table format prints both;\n"
     "CSV the stages (totals on stderr); JSON\n"
     "both, under \"stages\" and \"totals\".\n",
     OPT_PLACE, FMT_ALL, ws_cmd_place},
    {"run", "simulate the configured model on the wafer, end to end: cycles, FLOPs, memory",
     "  --out DIR          also write DIR/run.json (totals, ops, the effective\n"
     "                     config), totals.csv, ops.csv and pes.csv (every PE)\n"
     "  --mesh WxH         same as --set fabric.width=W --set fabric.height=H\n"
     "  --fidelity F       train or wavelet; same as --set sim.fidelity=F\n"
     "  --seed S           same as --set sim.seed=S (the masks)\n"
     "\n"
     "sim.strategy: pipeline places the model (as 'wafersim place'), then\n"
     "simulates every PE of every stage over every micro-batch of the sequences\n"
     "(workload.batch of them, one after another: one pipeline fill for all) on\n"
     "the fabric; layerwise runs op after op on the whole mesh (or copies of it),\n"
     "its weight GEMMs and attention simulated PE by PE, its per-token ops and\n"
     "hand-offs modelled (its two best plans both run when their models are\n"
     "within sim.auto_margin);\n"
     "auto (the default) runs the one of the two its models time faster, or both\n"
     "when they are within sim.auto_margin, keeping the faster; bound computes\n"
     "the wafer's limit; stream (weight streaming; auto's choice for\n"
     "workload.phase: train) simulates each distinct block layer by layer on the\n"
     "wafer and the system section (weight store, switch tree, system.wafers\n"
     "wafers) on SimGrid. Table format\n"
     "prints the totals; CSV the op rows; JSON both. Progress (the share of\n"
     "micro-batches out) goes to stderr: a bar on a terminal, else a line per 10 %.\n"
     "\n"
     "Totals: cycles (last micro-batch out), seconds, tokens_per_s, fill_cycles\n"
     "(first micro-batch out), steady_interval (mean cycles per micro-batch after\n"
     "the first), bound_cycles (analytic lower bound: the largest op bound),\n"
     "placer_interval (the placer's slowest stage), flops_dense, flops_executed,\n"
     "flops_saved, flops_reduction (as 'wafersim flops', each weight at its\n"
     "mask's nonzeros), flops_per_s (flops_simulated / seconds), peak_flops_per_s\n"
     "(PEs x fmac_fp16 x 2 x clock), peak_fraction, params_dense, params,\n"
     "weight_bytes, macs (executed by the simulated PEs, a dense PE's zeros included),\n"
     "sram_max_bytes, sram_mean_bytes, pes_used, pes_mesh, kernel_mix (share of\n"
     "weight-GEMM PEs on the sparse kernel), stages, micro_batch, micro_batches,\n"
     "events, wavelets_sent, link_wavelets, place_wall_s, sim_wall_s,\n"
     "events_per_s, peak_rss_bytes, flops_simulated (2 x macs), bound_cycles_wafer,\n"
     "bound_fraction, batch (sequences; tokens_per_s and flops count them all),\n"
     "limit and limit_stage (what stops the placer's interval lower, as 'place'),\n"
     "placer_cycles (the placer's estimate: fill_latency + (micro_batches - 1) x\n"
     "placer_interval), entry_interval (mean cycles between micro-batches\n"
     "entering the pipeline) and tail_cycles (the last micro-batch's crossing less\n"
     "the first's: cycles - fill_cycles = (micro_batches - 1) x entry_interval +\n"
     "tail_cycles, up to rounding), strategy (the one that ran: auto's choice),\n"
     "replicas (layerwise: copies of the weights), pipeline_cycles_model and\n"
     "layerwise_cycles_model (each candidate's modelled cycles), steps,\n"
     "step_cycles_max, ttft_s, tpot_s, tpot_max_s, tokens_per_s_per_seq (decode),\n"
     "step_s (a training step's seconds), and with stream the step's breakdown:\n"
     "compute_s, stream_s, grad_s, store_s (each resource alone), stall_s,\n"
     "reduce_s, update_s (step_s = compute_s + stall_s + reduce_s + update_s),\n"
     "overlap_s, stream_bytes, grad_bytes, bound_by (the busiest resource), wafers,\n"
     "layer_runs, system_messages, system_wall_s.\n"
     "Ops: op, layer, kind, kernel, x, y, w, h, pes, busy_max, utilisation,\n"
     "nnz_max, nnz_mean, first, cycles (first compute to last output sent),\n"
     "bound_cycles (the busiest PE's compute, or its ramp traffic of the\n"
     "micro-batches after its input buffers' depth),\n"
     "placer_interval, macs, sram_max_bytes, weight_bytes, wait_inputs and\n"
     "wait_outputs (mean cycles a PE sat idle before a micro-batch's compute, for\n"
     "its inputs, or for its stage's output of two micro-batches before to leave).\n"
     "pes.csv: x, y, stage (index, -1 unused), op, busy_cycles, busy_fraction, sram_bytes.\n",
     OPT_RUN, FMT_ALL, ws_cmd_run},
    {"sweep", "run end to end at several sparsity levels (and values of one key): speedup, memory",
     "  --sparsity LIST    levels in [0, 1) (default: 0, the iterative-pruning\n"
     "                     schedule 0.4,0.84 as in 'wafersim flops': 0.4, 0.64,\n"
     "                     0.784, 0.84; then 0.9, 0.95);\n"
     "                     dense (0) is always run: speedups are relative to it\n"
     "  --schedule STEP,TARGET  the pruning schedule's levels instead\n"
     "  --vary KEY=V1,V2   also sweep one configuration key, e.g.\n"
     "                     workload.micro_batch=8,16,32 (each value has its own dense run);\n"
     "                     not workload.sparsity (the levels set it) nor output.*\n"
     "  -j, --jobs N       runs at once, 1 to 64 (default 2: this machine's cores)\n"
     "  --mesh WxH, --fidelity F, --seed S  as for run\n"
     "  --out DIR          also write DIR/sweep.csv, sweep.json, kinds.csv (busy\n"
     "                     cycles per op kind and point) and pes_first.csv,\n"
     "                     pes_last.csv (per-PE maps of the lowest and highest level)\n"
     "\n"
     "At most 256 points (levels, dense included, x values); no two points may be\n"
     "the same run (e.g. workload.sparsity_by_kind or sparsity_by_layer setting every\n"
     "sparse weight's level, so that the levels change nothing). The estimated\n"
     "memory of N runs at once is checked against the machine's before any run.\n"
     "\n"
     "Each point is a whole 'wafersim run' (placement and simulation). Progress on\n"
     "stderr when it is a terminal. Columns (CSV header = JSON keys): sparsity,\n"
     "cycles, seconds, tokens_per_s, speedup (the dense point's cycles / these),\n"
     "flops_reduction, params_reduction (dense / sparse), weight_bytes (held on the\n"
     "wafer), sram_max_bytes, pes_used, kernel_mix (share of weight-GEMM PEs on the\n"
     "sparse kernel), wall_s, then micro_batch, sparse_setup, value (of --vary),\n"
     "fill_cycles, steady_interval, bound_cycles, placer_interval, flops_dense,\n"
     "flops_executed, flops_per_s, peak_fraction, events, events_per_s, sim_wall_s,\n"
     "peak_rss_bytes, flops_simulated, bound_cycles_wafer, bound_fraction, batch,\n"
     "limit, limit_stage, placer_cycles, entry_interval, tail_cycles, strategy,\n"
     "replicas, pipeline_cycles_model, layerwise_cycles_model, steps,\n"
     "step_cycles_max, ttft_s, tpot_s, tpot_max_s, tokens_per_s_per_seq, step_s,\n"
     "compute_s, stream_s, grad_s, store_s, stall_s, reduce_s, update_s, overlap_s,\n"
     "stream_bytes, grad_bytes, bound_by, wafers, layer_runs, system_messages,\n"
     "system_wall_s (see 'wafersim run --help'). With workload.micro_batch:\n"
     "auto, micro_batch is the size each point's placer chose.\n",
     OPT_SWEEP | OPT_SPARSITY, FMT_ALL, ws_cmd_sweep},
    {"check", "compare a run's or sweep's figures with a baseline (CI regression): what moved",
     "  --baseline FILE    the baseline: a run.json or sweep.json wafersim wrote\n"
     "  NEW.json           the document to compare (first argument); without it,\n"
     "                     the baseline's own configuration is run (a sweep's over\n"
     "                     its levels and values; --set KEY=VALUE applies on top)\n"
     "  --rtol X           relative tolerance (default 1e-9)\n"
     "  --atol X           absolute tolerance (default 0): a number moved when\n"
     "                     |new - old| > atol + rtol x |old|; any other value when it\n"
     "                     differs\n"
     "  --only K1,K2       compare only these fields (e.g. cycles,steady_interval)\n"
     "  --allow-config-change  compare even when the configurations differ\n"
     "  --cost             compare the simulator's own work too (events, sim_bytes:\n"
     "                     x-cost, deterministic; a faster event scheme moves them)\n"
     "  --update-baseline  write the new document over the baseline (after an\n"
     "                     intended change, or a new schema_version; review the\n"
     "                     diff and commit it)\n"
     "  --format F         text (a table of what moved) or github (::error lines\n"
     "                     that GitHub Actions shows on the run)\n"
     "\n"
     "Totals compare field by field, op rows matched by op, sweep points and kind\n"
     "rows by sparsity and --vary value. Wall time and host memory (x-host in\n"
     "sim/output.schema.json, which documents every field and its unit) are never\n"
     "compared, nor the configuration's output section; the simulator's own work\n"
     "(x-cost) only with --cost. Both documents are\n"
     "validated against that schema first.\n"
     "\n"
     "Exit status: 0 nothing moved (or the baseline was updated); 1 something\n"
     "moved; 2 cannot compare (unreadable or invalid document, another\n"
     "schema_version or command, configurations that differ).\n",
     OPT_CHECK, 0, ws_cmd_check},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void print_main_help(FILE *out) {
  fprintf(out,
          "usage: wafersim COMMAND [FILE.yaml] [options]\n"
          "\n"
          "wafersim %s: a performance model of a Cerebras CS-2-like wafer (a 2-D mesh\n"
          "of ~750,000 PEs) running GPT-3 models with unstructured weight sparsity.\n"
          "\n"
          "Commands:\n",
          WS_VERSION);
  for (size_t i = 0; i < NCOMMANDS; i++)
    fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
  fprintf(out, "\nRun 'wafersim COMMAND --help' for a command's options.\n\n%s", common_help);
}

static void print_command_help(const command *c, FILE *out) {
  const bool check = c->opts & OPT_CHECK;
  fprintf(out, "usage: wafersim %s %s [options]\n\n%s.\n\n", c->name, check ? "--baseline FILE.json [NEW.json]" : "[FILE.yaml]",
          c->summary);
  if (c->usage[0]) fprintf(out, "Options of %s:\n%s\n", c->name, c->usage);
  if (!check) fputs(common_help, out);
}

/* Appends "prefix" + the first vlen characters of value as an owned --set
 * assignment (sized to fit: no option value is ever cut short). */
static int push_set_n(ws_cli_args *a, const char *prefix, const char *value, size_t vlen) {
  size_t n = strlen(prefix) + vlen + 1;
  char *s = malloc(n);
  if (!s) return -1;
  snprintf(s, n, "%s%.*s", prefix, (int)vlen, value);
  a->sets[a->nsets++] = s;
  return 0;
}

static int push_set(ws_cli_args *a, const char *prefix, const char *value) {
  return push_set_n(a, prefix, value, strlen(value));
}

/* --mesh WxH as two --set assignments (their values are checked as any). */
static int push_mesh(ws_cli_args *a, const char *value, const char *cmd, FILE *err) {
  const char *x = strchr(value, 'x');
  if (!x || x == value || !x[1]) {
    fprintf(err, "wafersim %s: --mesh: expected WxH, e.g. 64x64, got '%s'\n", cmd, value);
    return 1;
  }
  return push_set_n(a, "fabric.width=", value, (size_t)(x - value)) || push_set(a, "fabric.height=", x + 1) ? -1 : 0;
}

static int parse_args(const command *c, int argc, char **argv, ws_cli_args *a, FILE *err) {
  for (int i = 2; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
      a->help = true;
      continue;
    }
    if (strcmp(arg, "-j") == 0 && (c->opts & OPT_SWEEP)) arg = "--jobs";
    if ((c->opts & OPT_CHECK) && strcmp(arg, "--update-baseline") == 0) {
      a->update_baseline = true;
      continue;
    }
    if ((c->opts & OPT_CHECK) && strcmp(arg, "--allow-config-change") == 0) {
      a->allow_config_change = true;
      continue;
    }
    if ((c->opts & OPT_CHECK) && strcmp(arg, "--cost") == 0) {
      a->cost = true;
      continue;
    }
    if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
      if ((c->opts & OPT_PROBE) && !a->pattern) {
        a->pattern = arg;
        continue;
      }
      if (a->file) {
        fprintf(err, "wafersim %s: unexpected argument '%s' (one FILE.yaml at most)\n", c->name,
                arg);
        return -1;
      }
      a->file = arg;
      continue;
    }
    /* --name=value or --name value */
    char name[32]; /* the longest option is shorter; a longer name is unknown, and named in full */
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    snprintf(name, sizeof name, "%.*s", (int)len, arg);
    const bool known = len < sizeof name && (strcmp(name, "--set") == 0 || strcmp(name, "--model") == 0 ||
                       strcmp(name, "--format") == 0 ||
                       (strcmp(name, "--sparsity") == 0 && (c->opts & OPT_SPARSITY)) ||
                       (strcmp(name, "--per") == 0 && (c->opts & OPT_PER)) ||
                       ((c->opts & OPT_TILING) && strcmp(name, "--tiling") == 0) ||
                       ((c->opts & (OPT_TILING | OPT_SWEEP)) && strcmp(name, "--schedule") == 0) ||
                       ((c->opts & OPT_PROBE) &&
                        (strcmp(name, "--mesh") == 0 || strcmp(name, "--wavelets") == 0 ||
                         strcmp(name, "--fidelity") == 0 || strcmp(name, "--messages") == 0 ||
                         strcmp(name, "--seed") == 0)) ||
                       ((c->opts & OPT_PLACE) && strcmp(name, "--map") == 0) ||
                       ((c->opts & (OPT_RUN | OPT_SWEEP)) && strcmp(name, "--out") == 0) ||
                       ((c->opts & (OPT_RUN | OPT_SWEEP)) && (strcmp(name, "--mesh") == 0 || strcmp(name, "--fidelity") == 0 ||
                                                strcmp(name, "--seed") == 0)) ||
                       ((c->opts & OPT_SWEEP) && (strcmp(name, "--jobs") == 0 || strcmp(name, "--vary") == 0)) ||
                       ((c->opts & OPT_CHECK) && (strcmp(name, "--baseline") == 0 || strcmp(name, "--rtol") == 0 ||
                                                  strcmp(name, "--atol") == 0 || strcmp(name, "--only") == 0)) ||
                       ((c->opts & OPT_GEMM) && (strcmp(name, "--m") == 0 || strcmp(name, "--k") == 0 ||
                                                 strcmp(name, "--n") == 0 || strcmp(name, "--region") == 0)) ||
                       ((c->opts & OPT_KERNEL) &&
                        (strcmp(name, "--op") == 0 || strcmp(name, "--region") == 0 ||
                         strcmp(name, "--batch") == 0 || strcmp(name, "--kernel") == 0 ||
                         strcmp(name, "--micro-batches") == 0)));
    if (!known) {
      fprintf(err, "wafersim %s: unknown option '%.*s'; see 'wafersim %s --help'\n", c->name,
              (int)len, arg, c->name);
      return -1;
    }
    const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
    if (!value) {
      fprintf(err, "wafersim %s: option %s needs a value\n", c->name, name);
      return -1;
    }
    int rc = 0;
    if (strcmp(name, "--set") == 0 && strncmp(value, "output.format=", 14) == 0) a->format_from = "--set output.format";
    if (strcmp(name, "--format") == 0) a->format_from = "--format";
    if (strcmp(name, "--set") == 0) rc = push_set(a, "", value);
    else if (strcmp(name, "--model") == 0) rc = push_set(a, "model.preset=", value);
    else if (strcmp(name, "--format") == 0 && (c->opts & OPT_CHECK)) a->check_format = value;
    else if (strcmp(name, "--format") == 0) rc = push_set(a, "output.format=", value);
    else if (strcmp(name, "--baseline") == 0) a->baseline = value;
    else if (strcmp(name, "--rtol") == 0) a->rtol = value;
    else if (strcmp(name, "--atol") == 0) a->atol = value;
    else if (strcmp(name, "--only") == 0) a->only = value;
    else if (strcmp(name, "--sparsity") == 0) a->sparsity = value;
    else if (strcmp(name, "--fidelity") == 0) rc = push_set(a, "sim.fidelity=", value);
    else if (strcmp(name, "--seed") == 0) rc = push_set(a, "sim.seed=", value);
    else if (strcmp(name, "--wavelets") == 0) a->wavelets = value;
    else if (strcmp(name, "--messages") == 0) a->messages = value;
    else if (strcmp(name, "--mesh") == 0) rc = push_mesh(a, value, c->name, err);
    else if (strcmp(name, "--op") == 0) a->op = value;
    else if (strcmp(name, "--m") == 0) a->gemm_m = value;
    else if (strcmp(name, "--k") == 0) a->gemm_k = value;
    else if (strcmp(name, "--n") == 0) a->gemm_n = value;
    else if (strcmp(name, "--region") == 0) a->region = value;
    else if (strcmp(name, "--batch") == 0) a->batch = value;
    else if (strcmp(name, "--kernel") == 0) a->kernels = value;
    else if (strcmp(name, "--micro-batches") == 0) a->micro_batches = value;
    else if (strcmp(name, "--tiling") == 0) a->tiling = value;
    else if (strcmp(name, "--schedule") == 0) a->schedule = value;
    else if (strcmp(name, "--map") == 0) a->map = value;
    else if (strcmp(name, "--out") == 0) a->out = value;
    else if (strcmp(name, "--jobs") == 0) a->jobs = value;
    else if (strcmp(name, "--vary") == 0) a->vary = value;
    else a->per = value;
    if (rc < 0) fprintf(err, "wafersim %s: out of memory\n", c->name);
    if (rc != 0) return -1;
  }
  return 0;
}

/* The embedded default, then FILE, then every --set, then the cross-key checks. */
int ws_cli_load_config(const ws_cli_args *a, ws_config *cfg, FILE *err) {
  char msg[WS_CONFIG_ERR_MAX];
  msg[0] = '\0';
  int rc = ws_config_init_default(cfg, msg, sizeof msg);
  if (rc == 0 && a->file) rc = ws_config_load_file(cfg, a->file, msg, sizeof msg);
  for (int i = 0; rc == 0 && i < a->nsets; i++) rc = ws_config_set(cfg, a->sets[i], msg, sizeof msg);
  if (rc == 0) rc = ws_config_finish(cfg, msg, sizeof msg);
  if (rc != 0) fprintf(err, "wafersim: %s\n", msg);
  if (rc == 0 && a->formats && !(a->formats & FMT(cfg->output.format))) {
    /* A command refuses a format it cannot write, wherever it was asked for. */
    const char *at = cfg->origin[ws_schema_find("output.format")].where;
    char can[64] = "";
    for (int f = WS_FORMAT_TABLE; f <= WS_FORMAT_JSON; f++)
      if (a->formats & FMT(f))
        snprintf(can + strlen(can), sizeof can - strlen(can), "%s%s", *can ? " or " : "", ws_format_name((ws_format)f));
    const char *fmt = ws_format_name(cfg->output.format);
    if (strcmp(at, "--set") != 0 || !a->format_from)
      fprintf(err, "wafersim %s: %s: output.format: %s writes %s, not %s\n", a->cmd, at, a->cmd, can, fmt);
    else
      fprintf(err, "wafersim %s: %s%s%s: %s writes %s, not %s\n", a->cmd, a->format_from,
              strcmp(a->format_from, "--format") == 0 ? " " : "=", fmt, a->cmd, can, fmt);
    rc = -1;
  }
  return rc;
}

json_t *ws_cli_doc(const ws_config *cfg, const char *cmd, json_t *figures) {
  json_t *doc = json_object();
  json_object_set_new(doc, "wafersim", json_string(WS_VERSION));
  json_object_set_new(doc, "schema_version", json_integer(WS_OUTPUT_SCHEMA_VERSION));
  json_object_set_new(doc, "command", json_string(cmd));
  json_object_set_new(doc, "config", ws_config_json(cfg));
  if (figures) json_object_set_new(doc, cmd, figures);
  return doc;
}

int ws_cli_dump_json(const json_t *doc, FILE *out) {
  const int rc = json_dumpf(doc, out, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
  fputc('\n', out);
  return rc == 0 && !ferror(out) ? 0 : -1;
}

int ws_cli_write_json(const ws_config *cfg, const char *cmd, json_t *figures, FILE *out) {
  json_t *doc = ws_cli_doc(cfg, cmd, figures);
  const int rc = ws_cli_dump_json(doc, out);
  json_decref(doc);
  return rc;
}

int ws_cli_emit(const ws_config *cfg, const char *cmd, const char *group, const ws_table *t,
                FILE *out, FILE *err) {
  int rc;
  if (cfg->output.format == WS_FORMAT_JSON) {
    json_t *rows = ws_table_json(t), *figures = rows && group ? json_pack("{s:o}", group, rows) : rows;
    rc = figures ? ws_cli_write_json(cfg, cmd, figures, out) : -1;
  } else {
    rc = ws_table_write(t, cfg->output.format, out);
  }
  return ws_cli_wrote(cmd, rc, out, err);
}

int ws_cli_wrote(const char *cmd, int wrote, FILE *out, FILE *err) {
  if (wrote == 0) return WS_EXIT_OK;
  if (!ferror(out)) fprintf(err, "wafersim %s: cannot format the output: out of memory\n", cmd);
  return WS_EXIT_FAILURE;
}

/* Every command's standard output, checked once at the end: flushed here,
 * so a full disk or a closed pipe is seen however the command wrote. */
static int check_output(const char *cmd, int rc, FILE *out, FILE *err) {
  errno = 0;
  const bool failed = fflush(out) != 0 || ferror(out);
  if (!failed) return rc;
  fprintf(err, "wafersim%s%s: cannot write to standard output: %s\n", cmd ? " " : "", cmd ? cmd : "",
          errno ? strerror(errno) : "write error");
  return rc == WS_EXIT_OK ? WS_EXIT_FAILURE : rc;
}

int ws_cli_parse_levels(const char *cmd, const char *list, double *levels, size_t *n, FILE *err) {
  char buf[4096], msg[256];
  if (strlen(list) >= sizeof buf) {
    fprintf(err, "wafersim %s: --sparsity list longer than %zu characters\n", cmd, sizeof buf - 1);
    return -1;
  }
  snprintf(buf, sizeof buf, "%s", list);
  *n = 0;
  char *save = NULL;
  for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    if (*n == WS_CLI_MAX_LEVELS) {
      fprintf(err, "wafersim %s: --sparsity: more than %d levels\n", cmd, WS_CLI_MAX_LEVELS);
      return -1;
    }
    if (ws_units_parse_real(tok, 0.0, 1.0, 1, &levels[*n], msg, sizeof msg) != 0) {
      fprintf(err, "wafersim %s: --sparsity: %s\n", cmd, msg);
      return -1;
    }
    (*n)++;
  }
  if (*n == 0) {
    fprintf(err, "wafersim %s: --sparsity: expected levels like 0,0.5,0.838, got '%s'\n", cmd, list);
    return -1;
  }
  return 0;
}

/* "WxH" (--region, --tiling): two counts in [1, 2^20]. 0, or -1 with a message. */
int ws_cli_parse_wh(const char *cmd, const char *opt, const char *value, uint32_t *w, uint32_t *h, FILE *err) {
  char msg[256];
  int64_t v[2];
  char *buf = strdup(value); /* sized to the value: never cut short */
  if (!buf) {
    fprintf(err, "wafersim %s: out of memory\n", cmd);
    return -1;
  }
  char *x = strchr(buf, 'x');
  if (!x) {
    fprintf(err, "wafersim %s: %s: expected WxH, e.g. 64x32, got '%s'\n", cmd, opt, value);
    free(buf);
    return -1;
  }
  *x = '\0';
  const char *part[2] = {buf, x + 1};
  for (int i = 0; i < 2; i++)
    if (ws_units_parse(part[i], WS_UNIT_COUNT, 1, 1 << 20, &v[i], msg, sizeof msg) != 0) {
      fprintf(err, "wafersim %s: %s (WxH): %s\n", cmd, opt, msg);
      free(buf);
      return -1;
    }
  free(buf);
  *w = (uint32_t)v[0];
  *h = (uint32_t)v[1];
  return 0;
}

/* --schedule STEP,TARGET into levels. */
int ws_cli_parse_schedule(const char *cmd, const char *value, double *levels, size_t *n, FILE *err) {
  char msg[256];
  double v[2];
  char *buf = strdup(value); /* sized to the value: never cut short */
  if (!buf) {
    fprintf(err, "wafersim %s: out of memory\n", cmd);
    return -1;
  }
  char *comma = strchr(buf, ',');
  if (comma) *comma = '\0';
  const bool ok = comma && ws_units_parse_real(buf, 0.0, 1.0, 1, &v[0], msg, sizeof msg) == 0 &&
                  ws_units_parse_real(comma + 1, 0.0, 1.0, 1, &v[1], msg, sizeof msg) == 0;
  free(buf);
  if (!ok) {
    fprintf(err, "wafersim %s: --schedule: expected STEP,TARGET, two fractions like 0.2,0.84, got '%s'\n", cmd, value);
    return -1;
  }
  const int got = wl_schedule(v[0], v[1], levels, WS_CLI_MAX_LEVELS, msg, sizeof msg);
  if (got < 0) {
    fprintf(err, "wafersim %s: --schedule: %s\n", cmd, msg);
    return -1;
  }
  *n = (size_t)got;
  return 0;
}

/* A comma-separated list of names from `names` (their indices) or of counts
 * (names == NULL, in [1, 2^31)). 0, or -1 with a message. */
int ws_cli_parse_list(const char *cmd, const char *opt, const char *list, const char *const *names,
                      uint32_t *out, uint32_t max, uint32_t *n, FILE *err) {
  char msg[256];
  char *buf = strdup(list); /* sized to the list: never cut short */
  if (!buf) {
    fprintf(err, "wafersim %s: out of memory\n", cmd);
    return -1;
  }
  *n = 0;
  char *save = NULL;
  for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    int64_t v = -1;
    if (names) {
      for (int i = 0; names[i]; i++)
        if (strcmp(tok, names[i]) == 0) v = i;
      snprintf(msg, sizeof msg, "expected %s, got '%s'", names == NULL ? "" : "sparse, dense or auto", tok);
    } else if (ws_units_parse(tok, WS_UNIT_COUNT, 1, INT32_MAX, &v, msg, sizeof msg) != 0) {
      v = -1;
    }
    if (v < 0 || *n == max) {
      fprintf(err, "wafersim %s: %s: %s\n", cmd, opt, *n == max ? "too many values" : msg);
      free(buf);
      return -1;
    }
    out[(*n)++] = (uint32_t)v;
  }
  free(buf);
  if (*n == 0) {
    fprintf(err, "wafersim %s: %s: expected a list, got '%s'\n", cmd, opt, list);
    return -1;
  }
  return 0;
}

int ws_cli_main(int argc, char **argv, FILE *out, FILE *err) {
  if (argc < 2) {
    print_main_help(err);
    return WS_EXIT_BAD_INPUT;
  }
  const char *name = argv[1];
  if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "help") == 0) {
    print_main_help(out);
    return check_output(NULL, WS_EXIT_OK, out, err);
  }
  if (strcmp(name, "--version") == 0) {
    fprintf(out, "wafersim %s (config schema_version %d, output schema_version %d)\n", WS_VERSION, WS_SCHEMA_VERSION,
            WS_OUTPUT_SCHEMA_VERSION);
    return check_output(NULL, WS_EXIT_OK, out, err);
  }
  const command *c = NULL;
  for (size_t i = 0; i < NCOMMANDS; i++)
    if (strcmp(name, commands[i].name) == 0) c = &commands[i];
  if (!c) {
    fprintf(err, "wafersim: unknown command '%s'; run 'wafersim --help'\n", name);
    return WS_EXIT_BAD_INPUT;
  }
  ws_cli_args a = {.cmd = name, .formats = c->formats};
  a.sets = calloc((size_t)argc, sizeof *a.sets);
  if (!a.sets) {
    fprintf(err, "wafersim: out of memory\n");
    return WS_EXIT_FAILURE;
  }
  int rc;
  if (parse_args(c, argc, argv, &a, err) != 0) {
    rc = WS_EXIT_BAD_INPUT;
  } else if (a.help) {
    print_command_help(c, out);
    rc = WS_EXIT_OK;
  } else if (strcmp(c->name, "sweep") != 0 && ws_mpi_refuse_job(c->name, err) != 0) {
    rc = WS_EXIT_BAD_INPUT;
  } else {
    rc = c->run(&a, out, err);
  }
  for (int i = 0; i < a.nsets; i++) free(a.sets[i]);
  free(a.sets);
  return check_output(c->name, rc, out, err);
}
