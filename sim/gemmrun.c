/* One GEMM on a region by the configured strategy (see gemmrun.h). */
#include "gemmrun.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "input.h"
#include "kernels/mesh_gemm.h"
#include "kernels/pipeline.h"
#include "report.h"
#include "workloads/mask.h"

/* One row of the report. */
typedef struct {
  uint32_t m, k, n;
  const char *region;       /* "WxH" */
  double sparsity;          /* W's fraction of zeros, as asked */
  const char *strategy;     /* sim.strategy */
  uint64_t cycles;          /* the GEMM from its inputs at their sources to its last output, + 1 */
  double time_us;           /* cycles at fabric.clock */
  double flops_per_s;       /* executed FLOPs (2 x MACs) per second */
  double peak_fraction;     /* flops_per_s / the region's peak (fmac_fp16 FMAC a PE a cycle) */
  uint64_t sram_pe_max;     /* bytes of the fullest PE, the reserve included */
  const char *pe_slowest;   /* "x,y" in the region: the PE with the most compute; "" for bound */
  char slowest[24];         /* pe_slowest's text */
  uint64_t pes;             /* the region's PEs */
  uint64_t nnz;             /* W's kept weights */
  uint64_t macs;            /* executed */
  uint64_t busy_max;        /* compute cycles of the slowest PE */
  uint32_t chunk, steps;    /* tokens a step (pipeline: a micro-batch) and steps */
  const char *reduce;       /* layerwise: the columns' reduction, chain, tree or none; else "" */
  uint32_t segment;         /* layerwise: its segment */
  uint64_t cycles_model;    /* layerwise: krn_mgemm_plan's cycles; pipeline: 0 */
  uint64_t events;
  double wall_s;
} gemm_row;

static const ws_column gemm_columns[] = {
    WS_COLUMN(gemm_row, m, "m", "tokens"),
    WS_COLUMN(gemm_row, k, "k", "features"),
    WS_COLUMN(gemm_row, n, "n", "features"),
    WS_COLUMN(gemm_row, region, "region", "PEs"),
    WS_COLUMN(gemm_row, sparsity, "sparsity", "fraction of zeros"),
    WS_COLUMN(gemm_row, strategy, "strategy", NULL),
    WS_COLUMN(gemm_row, cycles, "cycles", "cycles"),
    WS_COLUMN(gemm_row, time_us, "time_us", "us"),
    WS_COLUMN(gemm_row, flops_per_s, "flops_per_s", "FLOP/s"),
    WS_COLUMN(gemm_row, peak_fraction, "peak_fraction", "ratio"),
    WS_COLUMN(gemm_row, sram_pe_max, "sram_pe_max", "bytes"),
    WS_COLUMN(gemm_row, pe_slowest, "pe_slowest", "x,y"),
    WS_COLUMN(gemm_row, pes, "pes", "PEs"),
    WS_COLUMN(gemm_row, nnz, "nnz", "nonzeros"),
    WS_COLUMN(gemm_row, macs, "macs", "multiply-accumulates"),
    WS_COLUMN(gemm_row, busy_max, "busy_max", "cycles"),
    WS_COLUMN(gemm_row, chunk, "chunk", "tokens"),
    WS_COLUMN(gemm_row, steps, "steps", "steps"),
    WS_COLUMN(gemm_row, reduce, "reduce", NULL),
    WS_COLUMN(gemm_row, segment, "segment", "PEs"),
    WS_COLUMN(gemm_row, cycles_model, "cycles_model", "cycles"),
    WS_COLUMN(gemm_row, events, "events", "events"),
    WS_COLUMN(gemm_row, wall_s, "wall_s", "s"),
};
#define NGCOLS (sizeof gemm_columns / sizeof gemm_columns[0])

const ws_column *ws_gemmrun_columns(size_t *n) {
  *n = NGCOLS;
  return gemm_columns;
}

/* The layer pipeline's GEMM stage on the region, m / b micro-batches. */
static int pipeline(const krn_machine *km, const fab_config *fc, const ws_config *cfg, const ws_gemm_spec *s,
                    const wl_mask *mask, gemm_row *row, char *err, size_t errlen) {
  const uint32_t b = (uint32_t)cfg->workload.micro_batch;
  if (b == 0 || s->m % b != 0) {
    snprintf(err, errlen, "gemm: the pipeline runs --m %u tokens as micro-batches of workload.micro_batch, which must "
                          "divide it (it is %s); set workload.micro_batch",
             s->m, b ? "not a divisor" : "auto");
    return -1;
  }
  const krn_stage st = {.kind = KRN_STAGE_GEMM, .name = "gemm", .region = {0, 0, s->width, s->height},
                        .in = {-1, -1, -1}, .k = s->k, .n = s->n, .kernel = cfg->kernels.kernel, .mask = mask};
  const krn_run run = {.b = b, .micro_batches = s->m / b, .seq = s->m};
  ws_program prog;
  const int rc = ws_program_stage(&prog, fc, km, &st, &run, err, errlen);
  if (rc == 0) {
    row->cycles = krn_pipe_done(prog.pipe, run.micro_batches - 1) + 1;
    for (uint32_t l = 0; l < s->width * s->height; l++) {
      const krn_pe_stats pe = krn_pipe_pe(prog.pipe, 0, l);
      row->macs += pe.macs;
      row->sram_pe_max = pe.sram > row->sram_pe_max ? pe.sram : row->sram_pe_max;
      if (pe.busy > row->busy_max) {
        row->busy_max = pe.busy;
        snprintf(row->slowest, sizeof row->slowest, "%u,%u", pe.x, pe.y);
      }
    }
    row->chunk = b;
    row->steps = run.micro_batches;
    row->events = sim_engine_stats(prog.e).executed;
  }
  ws_program_destroy(&prog);
  return rc;
}

static int layerwise(const krn_machine *km, const fab_config *fc, const ws_config *cfg, const ws_gemm_spec *s,
                     const wl_mask *mask, gemm_row *row, char *err, size_t errlen) {
  const krn_mgemm_spec ms = {s->m, s->k, s->n, s->height, s->width, mask, cfg->kernels.kernel, 0, 0};
  krn_mgemm_result r;
  if (krn_mgemm_run(km, fc, &ms, &r, err, errlen) != 0) return -1;
  row->cycles = r.cycles;
  row->macs = r.macs;
  row->sram_pe_max = r.plan.sram_max;
  row->busy_max = r.busy_max;
  snprintf(row->slowest, sizeof row->slowest, "%u,%u", r.slowest_x, r.slowest_y);
  row->chunk = r.plan.chunk;
  row->steps = r.plan.steps;
  row->reduce = r.plan.reduce;
  row->segment = r.plan.segment;
  row->cycles_model = r.plan.cycles;
  row->events = r.events;
  return 0;
}

static int one(const ws_config *cfg, const krn_machine *km, const fab_config *fc, const ws_gemm_spec *s,
               double level, gemm_row *row, char *err, size_t errlen) {
  const double t0 = ws_report_wall_s();
  wl_mask *mask = NULL;
  if (level > 0) {
    const wl_pattern pat = ws_config_pattern(cfg);
    if (!(mask = wl_mask_make(&pat, s->k, s->n, 1.0 - level, (uint64_t)cfg->sim.seed, err, errlen))) return -1;
  }
  row->nnz = wl_mask_count(mask, 0, s->k, 0, s->n);
  int rc = 0;
  switch (cfg->sim.strategy) {
    case WS_STRATEGY_AUTO: /* one GEMM has no pipeline to fill: the whole region */
    case WS_STRATEGY_LAYERWISE: rc = layerwise(km, fc, cfg, s, mask, row, err, errlen); break;
    case WS_STRATEGY_PIPELINE: rc = pipeline(km, fc, cfg, s, mask, row, err, errlen); break;
    default: { /* bound: the executed MACs over every PE of the region */
      const uint64_t per_cycle = (uint64_t)s->width * s->height * km->simd_fp16;
      row->macs = (uint64_t)s->m * row->nnz;
      row->cycles = (row->macs + per_cycle - 1) / per_cycle;
      row->busy_max = row->cycles;
      break;
    }
  }
  wl_mask_destroy(mask);
  if (rc != 0) return -1;
  const double seconds = (double)row->cycles / (double)cfg->fabric.clock;
  row->time_us = seconds * 1e6;
  row->flops_per_s = 2.0 * (double)row->macs / seconds;
  row->peak_fraction = row->flops_per_s / (2.0 * (double)row->pes * km->simd_fp16 * (double)cfg->fabric.clock);
  row->wall_s = ws_report_wall_s() - t0;
  return 0;
}

ws_table *ws_gemmrun(const ws_config *cfg, const ws_gemm_spec *spec, char *err, size_t errlen) {
  ws_gemm_spec s = *spec;
  if (s.m == 0 || s.k == 0 || s.n == 0 || s.m > WS_GEMM_DIM_MAX || s.k > WS_GEMM_DIM_MAX || s.n > WS_GEMM_DIM_MAX) {
    snprintf(err, errlen, "gemm: --m, --k and --n are each 1 to %u, got %u, %u and %u", WS_GEMM_DIM_MAX, s.m, s.k,
             s.n);
    return NULL;
  }
  const uint32_t W = (uint32_t)cfg->fabric.width, H = (uint32_t)cfg->fabric.height;
  if (!s.width) s.width = s.n < W ? s.n : W, s.height = s.k < H ? s.k : H;
  char why[WS_CONFIG_ERR_MAX];
  const mdl_op op = {.name = "the GEMM", .weight_rows = s.k, .weight_cols = s.n, .k = s.k, .n = s.n,
                     .sparsifiable = true};
  if (s.width > W || s.height > H) {
    snprintf(err, errlen, "gemm: --region %ux%u is larger than the %ux%u mesh (fabric.width x fabric.height)",
             s.width, s.height, W, H);
    return NULL;
  }
  if (ws_bounds_region(&op, s.width, s.height, "--region", why, sizeof why) != 0 ||
      ws_bounds_op_memory_check(&op, s.width, s.height, ws_bounds_budget(), why, sizeof why) != 0) {
    snprintf(err, errlen, "gemm: %s", why);
    return NULL;
  }
  krn_machine km;
  fab_config fc;
  ws_config_machine(cfg, &km);
  ws_config_fabric(cfg, &fc);
  char region[32];
  snprintf(region, sizeof region, "%ux%u", s.width, s.height);
  ws_table *t = ws_table_of_columns(gemm_columns, NGCOLS);
  static const char *const names[] = {"pipeline", "bound", "layerwise", "layerwise"}; /* ws_strategy; auto: layerwise */
  for (uint32_t i = 0; t && i < s.nlevels; i++) {
    gemm_row row = {.m = s.m, .k = s.k, .n = s.n, .region = region, .sparsity = s.levels[i],
                    .strategy = names[cfg->sim.strategy], .pes = (uint64_t)s.width * s.height, .reduce = ""};
    row.pe_slowest = row.slowest;
    if (one(cfg, &km, &fc, &s, s.levels[i], &row, err, errlen) != 0 ||
        ws_table_add(t, gemm_columns, NGCOLS, &row, NULL) != 0) {
      if (!err[0]) snprintf(err, errlen, "gemm: out of memory");
      ws_table_destroy(t);
      return NULL;
    }
  }
  if (!t) snprintf(err, errlen, "gemm: out of memory");
  return t;
}
