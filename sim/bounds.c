/* Bounds on the work a configuration or an option asks for, checked before
 * the work starts (see bounds.h). */
#include "bounds.h"

#include <stdio.h>
#include <unistd.h>

int ws_bounds_mesh(const ws_config *cfg, const char *where, char *err, size_t errlen) {
  const uint64_t pes = (uint64_t)cfg->fabric.width * (uint64_t)cfg->fabric.height;
  if (pes <= WS_MESH_MAX_PES) return 0;
  snprintf(err, errlen,
           "%s: fabric.width x fabric.height: a %lld x %lld mesh has %llu PEs, at most %u are allowed (2^22, 5.6 "
           "CS-2 wafers: the placer's time and memory grow with the mesh)",
           where, (long long)cfg->fabric.width, (long long)cfg->fabric.height, (unsigned long long)pes,
           WS_MESH_MAX_PES);
  return -1;
}

int ws_bounds_region(const mdl_op *op, uint32_t w, uint32_t h, const char *opt, char *err, size_t errlen) {
  const int64_t K = op->weight_rows, N = op->weight_cols;
  if ((int64_t)w > N || (int64_t)h > K) {
    snprintf(err, errlen,
             "%s: a %ux%u region gives %s (%lld x %lld) an empty tile: at most %lld columns (N) and %lld rows (K)",
             opt, w, h, op->name, (long long)K, (long long)N, (long long)N, (long long)K);
    return -1;
  }
  if ((uint64_t)w * h > WS_MESH_MAX_PES) {
    snprintf(err, errlen, "%s: a %ux%u region has %llu PEs, at most %u are allowed (the mesh limit)", opt, w, h,
             (unsigned long long)w * h, WS_MESH_MAX_PES);
    return -1;
  }
  return 0;
}

int ws_bounds_tokens(const ws_config *cfg, const uint32_t *batches, uint32_t nbatches, uint32_t micro_batches,
                     char *err, size_t errlen) {
  for (uint32_t i = 0; i < nbatches; i++) {
    const uint64_t tokens = (uint64_t)batches[i] * micro_batches;
    if (tokens <= (uint64_t)cfg->model.context) continue;
    snprintf(err, errlen,
             "--micro-batches %u x --batch %u = %llu tokens, at most model.context = %lld of %s %s (the longest "
             "sequence it takes)",
             micro_batches, batches[i], (unsigned long long)tokens, (long long)cfg->model.context, mdl_family(&cfg->model), cfg->model.name);
    return -1;
  }
  return 0;
}

/* Bytes of a K x N mask bitmap (mask.c: rows of 64-bit words). */
static uint64_t bitmap(int64_t K, int64_t N) { return (uint64_t)K * (uint64_t)((N + 63) / 64) * 8; }

static uint32_t per_pe(ws_work work) {
  return work == WS_WORK_RUN ? WS_RUN_BYTES_PER_PE : work == WS_WORK_PLACE ? WS_PLACE_BYTES_PER_PE : 0;
}

uint64_t ws_bounds_memory(const ws_config *cfg, ws_work work, uint64_t *masks) {
  const mdl_gpt *m = &cfg->model;
  const int64_t d = m->d_model, f = m->d_ff;
  /* per layer: q, k, v, attn_out (d x d), ffn_up (d x f), ffn_down (f x d);
     then the selection keys of the largest, 4 B a weight */
  const uint64_t layer = 4 * bitmap(d, d) + bitmap(d, f) + bitmap(f, d);
  const uint64_t mask = (uint64_t)m->layers * layer + 4 * (uint64_t)d * (uint64_t)(f > d ? f : d);
  const uint64_t pes = work == WS_WORK_MASKS ? 0 : (uint64_t)cfg->fabric.width * (uint64_t)cfg->fabric.height;
  if (masks) *masks = mask;
  return mask + pes * per_pe(work);
}

uint64_t ws_bounds_budget(void) {
  const long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
  return pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size : 0;
}

/* need = copies x (masks + pes x each) against budget; `what` is what is
 * built ("GPT-3 1.3B on a 750 x 994 mesh"), `smaller` what would shrink it. */
static int over(const char *prefix, const char *what, uint64_t masks, uint64_t pes, uint32_t each, uint64_t copies,
                uint64_t budget, const char *smaller, char *err, size_t errlen) {
  const uint64_t one = masks + pes * each, need = one * (copies ? copies : 1);
  if (budget == 0 || need <= budget) return 0;
  const double gib = 1024.0 * 1024.0 * 1024.0;
  char runs[64] = "", per[64] = "";
  if (copies > 1) snprintf(runs, sizeof runs, "%llu runs at once (-j) x ", (unsigned long long)copies);
  if (each) snprintf(per, sizeof per, " + %u B per PE", each);
  snprintf(err, errlen,
           "%s%s needs an estimated %s%.1f GiB of memory (mask bitmaps and selection keys %.1f GiB%s), this machine "
           "has %.1f GiB (physical memory); a smaller %s%s would fit",
           prefix, what, runs, (double)one / gib, (double)masks / gib, per, (double)budget / gib, smaller,
           copies > 1 ? ", or a smaller -j," : "");
  return -1;
}

int ws_bounds_memory_check(const ws_config *cfg, ws_work work, uint64_t copies, uint64_t budget, char *err,
                           size_t errlen) {
  uint64_t masks;
  ws_bounds_memory(cfg, work, &masks);
  char what[128];
  if (work == WS_WORK_MASKS)
    snprintf(what, sizeof what, "building the masks of %s %s", mdl_family(&cfg->model), cfg->model.name);
  else
    snprintf(what, sizeof what, "%s %s on a %lld x %lld mesh", mdl_family(&cfg->model), cfg->model.name, (long long)cfg->fabric.width,
             (long long)cfg->fabric.height);
  const uint64_t pes = work == WS_WORK_MASKS ? 0 : (uint64_t)cfg->fabric.width * (uint64_t)cfg->fabric.height;
  return over(work == WS_WORK_PLACE ? "place: " : "", what, masks, pes, per_pe(work), copies, budget,
              work == WS_WORK_MASKS ? "model (model.preset)" : "model.preset or fabric.width x fabric.height", err,
              errlen);
}

int ws_bounds_op_memory_check(const mdl_op *op, uint32_t w, uint32_t h, uint64_t budget, char *err, size_t errlen) {
  const uint64_t masks = op->sparsifiable ? bitmap(op->weight_rows, op->weight_cols) +
                                                4 * (uint64_t)op->weight_rows * (uint64_t)op->weight_cols
                                          : 0;
  char what[128];
  snprintf(what, sizeof what, "%s on a %ux%u region", op->name, w, h);
  return over("", what, masks, (uint64_t)w * h, WS_RUN_BYTES_PER_PE, 1, budget, "model or --region", err, errlen);
}
