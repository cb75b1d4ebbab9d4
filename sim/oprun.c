/* One op on a region, simulated (see oprun.h). */
#include "oprun.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "input.h"
#include "kernels/estimate.h"
#include "kernels/pipeline.h"
#include "models/graph.h"
#include "workloads/mask.h"
#include "workloads/weights.h"

/* One row of the kernel report: the op at one level, micro-batch size and kernel. */
typedef struct {
  const char *op;            /* the op's name */
  const char *region;        /* "WxH", PEs */
  uint64_t pes;              /* PEs of the region */
  uint32_t batch;            /* tokens per micro-batch */
  double sparsity;           /* the op's level, fraction of zeros */
  const char *kernel;        /* the kernel asked for */
  uint64_t nnz_max;          /* nonzeros of the fullest tile */
  double nnz_mean;           /* nonzeros per tile */
  uint64_t cycles_pe_max;    /* cost model, the slowest PE, cycles per micro-batch */
  double cycles_pe_mean;     /* cost model, per PE, cycles per micro-batch */
  bool fits;                 /* sram_pe_max fits a PE: simulated, the next two set */
  uint64_t cycles_interval;  /* simulated, cycles per micro-batch */
  uint64_t cycles_first;     /* simulated, the first micro-batch's latency, cycles */
  uint64_t sram_pe_max;      /* bytes */
  uint64_t sparse_pes;       /* PEs the sparse kernel runs on */
  uint64_t macs;             /* per micro-batch, multiply-accumulates */
  bool has_model;            /* the interval model answered: interval_model set */
  uint64_t interval_model;   /* krn_estimate_stage, cycles per micro-batch */
} kernel_row;

static void get_interval(ws_table *t, size_t col, const void *row, const void *ctx) {
  (void)ctx;
  const kernel_row *k = row;
  if (k->fits) ws_table_i64(t, col, (int64_t)k->cycles_interval);
}
static void get_first(ws_table *t, size_t col, const void *row, const void *ctx) {
  (void)ctx;
  const kernel_row *k = row;
  if (k->fits) ws_table_i64(t, col, (int64_t)k->cycles_first);
}
static void get_fits(ws_table *t, size_t col, const void *row, const void *ctx) {
  (void)ctx;
  ws_table_str(t, col, ((const kernel_row *)row)->fits ? "yes" : "no");
}
static void get_model(ws_table *t, size_t col, const void *row, const void *ctx) {
  (void)ctx;
  const kernel_row *k = row;
  if (k->has_model) ws_table_i64(t, col, (int64_t)k->interval_model);
}

static const ws_column kernel_columns[] = {
    WS_COLUMN(kernel_row, op, "op", NULL),
    WS_COLUMN(kernel_row, region, "region", "PEs"),
    WS_COLUMN(kernel_row, pes, "pes", "PEs"),
    WS_COLUMN(kernel_row, batch, "batch", "tokens"),
    WS_COLUMN(kernel_row, sparsity, "sparsity", "fraction of zeros"),
    WS_COLUMN(kernel_row, kernel, "kernel", NULL),
    WS_COLUMN(kernel_row, nnz_max, "nnz_max", "nonzeros"),
    WS_COLUMN(kernel_row, nnz_mean, "nnz_mean", "nonzeros"),
    WS_COLUMN(kernel_row, cycles_pe_max, "cycles_pe_max", "cycles per micro-batch"),
    WS_COLUMN(kernel_row, cycles_pe_mean, "cycles_pe_mean", "cycles per micro-batch"),
    WS_COLUMN_GET("cycles_interval", "cycles per micro-batch", WS_COL_I64, get_interval,
                  "kernel_row.cycles_interval, empty where it does not fit"),
    WS_COLUMN_GET("cycles_first", "cycles", WS_COL_I64, get_first,
                  "kernel_row.cycles_first, empty where it does not fit"),
    WS_COLUMN(kernel_row, sram_pe_max, "sram_pe_max", "bytes"),
    WS_COLUMN_GET("fits", NULL, WS_COL_STR, get_fits, "kernel_row.fits as yes or no"),
    WS_COLUMN(kernel_row, sparse_pes, "sparse_pes", "PEs"),
    WS_COLUMN(kernel_row, macs, "macs_per_microbatch", "multiply-accumulates"),
    WS_COLUMN_GET("interval_model", "cycles per micro-batch", WS_COL_I64, get_model,
                  "kernel_row.interval_model, empty where the model has no answer"),
};
#define NKCOLS (sizeof kernel_columns / sizeof kernel_columns[0])

const ws_column *ws_oprun_columns(size_t *n) {
  *n = NKCOLS;
  return kernel_columns;
}

/* The simulated cycles per micro-batch once the stage runs steadily, and the
 * first micro-batch's latency. 0, or -1 with the reason. */
static int simulate(const fab_config *mesh, const krn_machine *m, const krn_stage *st, uint32_t b,
                    uint32_t mbs, uint64_t *interval, uint64_t *first, char *err, size_t errlen) {
  const krn_run run = {.b = b, .micro_batches = mbs, .seq = b * mbs};
  ws_program prog;
  const int rc = ws_program_stage(&prog, mesh, m, st, &run, err, errlen);
  const krn_pipe *p = prog.pipe;
  if (rc == 0) {
    *first = krn_pipe_done(p, 0) + 1;
    *interval = mbs >= 3 ? (krn_pipe_done(p, mbs - 1) - krn_pipe_done(p, 1)) / (mbs - 2)
                         : mbs == 2 ? krn_pipe_done(p, 1) - krn_pipe_done(p, 0) : *first;
  }
  ws_program_destroy(&prog);
  return rc;
}

ws_table *ws_oprun(const ws_config *cfg, const ws_oprun_spec *spec, char *err, size_t errlen) {
  ws_input in; /* the machine, the fabric's settings and the graph */
  if (ws_input_create(&in, cfg, err, errlen) != 0) {
    ws_input_destroy(&in);
    return NULL;
  }
  const mdl_graph *g = in.g;
  const int index = mdl_graph_find(g, spec->op);
  const mdl_op *op = index >= 0 ? mdl_graph_op(g, (size_t)index) : NULL;
  if (!op || op->weight_rows == 0 || op->kind == MDL_OP_EMBED) {
    snprintf(err, errlen, "kernel: '%s' is not a weight GEMM of model %s (e.g. L0.q, L0.ffn_up, lm_head)",
             spec->op, cfg->model.name);
    ws_input_destroy(&in);
    return NULL;
  }
  char why[WS_CONFIG_ERR_MAX];
  if (ws_bounds_region(op, spec->width, spec->height, "--region", why, sizeof why) != 0 ||
      ws_bounds_tokens(cfg, spec->batches, spec->nbatches, spec->micro_batches, why, sizeof why) != 0 ||
      ws_bounds_op_memory_check(op, spec->width, spec->height, ws_bounds_budget(), why, sizeof why) != 0) {
    snprintf(err, errlen, "kernel: %s", why);
    ws_input_destroy(&in);
    return NULL;
  }
  const krn_machine m = in.m;
  ws_table *t = ws_table_of_columns(kernel_columns, NKCOLS);
  const uint32_t K = (uint32_t)op->k, N = (uint32_t)op->n, r = spec->height, c = spec->width;
  char region[32];
  snprintf(region, sizeof region, "%ux%u", c, r);
  wl_sparsity s;
  for (uint32_t li = 0; t && li < spec->nlevels; li++) {
    ws_config_sparsity(cfg, &s);
    s.level = spec->levels[li];
    const double level = wl_sparsity_level(&s, op);
    const wl_spec ws = ws_config_spec(cfg, &s);
    wl_mask *mask = op->sparsifiable ? wl_weights_op_mask(g, (size_t)index, &ws, err, errlen) : NULL;
    if (op->sparsifiable && !mask) {
      ws_table_destroy(t);
      t = NULL;
      break;
    }
    uint64_t nnz_max = 0, nnz_all = 0;
    for (uint32_t i = 0; i < r; i++)
      for (uint32_t j = 0; j < c; j++) {
        const uint64_t n = wl_mask_count(mask, K * i / r, K * (i + 1) / r, N * j / c, N * (j + 1) / c);
        nnz_max = n > nnz_max ? n : nnz_max;
        nnz_all += n;
      }
    for (uint32_t bi = 0; t && bi < spec->nbatches; bi++) {
      for (uint32_t ki = 0; t && ki < spec->nkernels; ki++) {
        const uint32_t b = spec->batches[bi];
        krn_stage st = {.kind = KRN_STAGE_GEMM, .name = spec->op, .region = {0, 0, c, r},
                        .in = {-1, -1, -1}, .k = K, .n = N, .kernel = spec->kernels[ki], .mask = mask,
                        .bias_add = op->bias > 0};
        /* the cost model over every PE */
        uint64_t cyc_max = 0, cyc_sum = 0, sram_max = 0, macs = 0, sparse = 0;
        for (uint32_t i = 0; i < r; i++)
          for (uint32_t j = 0; j < c; j++) {
            const uint32_t kt = K * (i + 1) / r - K * i / r, nt = N * (j + 1) / c - N * j / c;
            const uint64_t nnz = wl_mask_count(mask, K * i / r, K * (i + 1) / r, N * j / c, N * (j + 1) / c);
            const krn_kernel kk = st.kernel == KRN_AUTO ? krn_gemm_pick(&m, kt, nt, nnz, b) : st.kernel;
            const krn_cost cost = krn_gemm_cost(&m, kk, kt, nt, nnz, b);
            cyc_max = cost.cycles > cyc_max ? cost.cycles : cyc_max;
            cyc_sum += cost.cycles;
            sram_max = cost.sram > sram_max ? cost.sram : sram_max;
            macs += cost.macs;
            sparse += kk == KRN_SPARSE;
          }
        const bool fits = krn_fits(&m, sram_max);
        uint64_t interval = 0, first = 0;
        if (fits && simulate(&in.fc, &m, &st, b, spec->micro_batches, &interval, &first, err, errlen) != 0) {
          ws_table_destroy(t);
          t = NULL;
          break;
        }
        kernel_row row = {.op = spec->op, .region = region, .pes = (uint64_t)r * c, .batch = b,
                          .sparsity = level, .kernel = krn_kernel_name(spec->kernels[ki]), .nnz_max = nnz_max,
                          .nnz_mean = (double)nnz_all / ((double)r * c), .cycles_pe_max = cyc_max,
                          .cycles_pe_mean = (double)cyc_sum / ((double)r * c), .fits = fits,
                          .cycles_interval = interval, .cycles_first = first, .sram_pe_max = sram_max,
                          .sparse_pes = sparse, .macs = macs};
        krn_estimate est;
        if (krn_estimate_stage(&m, &in.fc, &st, b, b * spec->micro_batches, 0, &est, err, errlen) == 0) {
          row.has_model = true;
          row.interval_model = est.interval;
        }
        if (ws_table_add(t, kernel_columns, NKCOLS, &row, NULL) != 0) {
          ws_table_destroy(t);
          t = NULL;
        }
      }
    }
    wl_mask_destroy(mask);
  }
  if (!t && !err[0]) snprintf(err, errlen, "kernel: out of memory");
  ws_input_destroy(&in);
  return t;
}
