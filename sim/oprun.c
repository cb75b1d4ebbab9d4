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

static const char *const cols[] = {
    "op",       "region",     "pes",           "batch",          "sparsity",
    "kernel",   "nnz_max",    "nnz_mean",      "cycles_pe_max",  "cycles_pe_mean",
    "cycles_interval", "cycles_first", "sram_pe_max", "fits",     "sparse_pes",
    "macs_per_microbatch", "interval_model"};

/* The simulated cycles per micro-batch once the stage runs steadily, and the
 * first micro-batch's latency. 0, or -1 with the reason. */
static int simulate(const fab_config *mesh, const krn_machine *m, const krn_stage *st, uint32_t b,
                    uint32_t mbs, uint64_t *interval, uint64_t *first, char *err, size_t errlen) {
  fab_config fc = *mesh;
  fc.width = st->region.w;
  fc.height = st->region.h;
  const krn_run run = {.b = b, .micro_batches = mbs, .seq = b * mbs};
  ws_program prog;
  int rc = ws_program_create(&prog, &fc, m, st, 1, &run, err, errlen);
  if (rc == 0) rc = ws_program_run(&prog, NULL, err, errlen);
  const krn_pipe *p = prog.pipe;
  if (rc == 0) rc = krn_pipe_check(p, err, errlen);
  if (rc == 0) {
    *first = krn_pipe_done(p, 0) + 1;
    *interval = mbs >= 3 ? (krn_pipe_done(p, mbs - 1) - krn_pipe_done(p, 1)) / (mbs - 2)
                         : mbs == 2 ? krn_pipe_done(p, 1) - krn_pipe_done(p, 0) : *first;
  }
  ws_program_destroy(&prog);
  return rc;
}

/* Kept weights of a tile; every weight without a mask (a dense op). */
static uint64_t tile_nnz(const wl_mask *m, uint32_t k0, uint32_t k1, uint32_t n0, uint32_t n1) {
  return m ? wl_mask_count(m, k0, k1, n0, n1) : (uint64_t)(k1 - k0) * (n1 - n0);
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
  ws_table *t = ws_table_create(sizeof cols / sizeof cols[0], cols);
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
        const uint64_t n = tile_nnz(mask, K * i / r, K * (i + 1) / r, N * j / c, N * (j + 1) / c);
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
            const uint64_t nnz = tile_nnz(mask, K * i / r, K * (i + 1) / r, N * j / c, N * (j + 1) / c);
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
        if (ws_table_row(t) != 0) continue;
        ws_table_str(t, 0, spec->op);
        ws_table_str(t, 1, region);
        ws_table_i64(t, 2, (int64_t)r * c);
        ws_table_i64(t, 3, b);
        ws_table_f64(t, 4, level);
        ws_table_str(t, 5, krn_kernel_name(spec->kernels[ki]));
        ws_table_i64(t, 6, (int64_t)nnz_max);
        ws_table_f64(t, 7, (double)nnz_all / ((double)r * c));
        ws_table_i64(t, 8, (int64_t)cyc_max);
        ws_table_f64(t, 9, (double)cyc_sum / ((double)r * c));
        if (fits) {
          ws_table_i64(t, 10, (int64_t)interval);
          ws_table_i64(t, 11, (int64_t)first);
        }
        ws_table_i64(t, 12, (int64_t)sram_max);
        ws_table_str(t, 13, fits ? "yes" : "no");
        ws_table_i64(t, 14, (int64_t)sparse);
        ws_table_i64(t, 15, (int64_t)macs);
        krn_estimate est;
        if (krn_estimate_stage(&m, &in.fc, &st, b, b * spec->micro_batches, 0, &est, err, errlen) == 0)
          ws_table_i64(t, 16, (int64_t)est.interval);
      }
    }
    wl_mask_destroy(mask);
  }
  if (!t && !err[0]) snprintf(err, errlen, "kernel: out of memory");
  ws_input_destroy(&in);
  return t;
}
