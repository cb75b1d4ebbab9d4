/* The strategies' table and what every strategy's result shares: its
 * arrays and the totals derived alike from its cycles and op rows (see
 * strategy.h). */
#include "strategy.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "sim/config.h"

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

static uint64_t peak_rss(void) {
  struct rusage u;
  return getrusage(RUSAGE_SELF, &u) == 0 ? (uint64_t)u.ru_maxrss * 1024u : 0;
}

const strat_strategy *strat_of(int strategy) {
  switch (strategy) {
    case WS_STRATEGY_BOUND: return &strat_bound;
    case WS_STRATEGY_LAYERWISE: return &strat_layerwise;
    case WS_STRATEGY_AUTO: return &strat_auto;
    case WS_STRATEGY_STREAM: return &strat_stream;
    default: return &strat_pipeline;
  }
}

int strat_result_alloc(strat_result *r, uint32_t nops, uint32_t W, uint32_t H, char *err, size_t errlen) {
  memset(r, 0, sizeof *r);
  const size_t cells = (size_t)W * H;
  r->nops = nops;
  r->W = W;
  r->H = H;
  r->ops = calloc(nops ? nops : 1, sizeof *r->ops);
  r->owner = malloc(cells * sizeof *r->owner);
  r->busy = calloc(cells, sizeof *r->busy);
  r->sram = calloc(cells, sizeof *r->sram);
  if (!r->ops || !r->owner || !r->busy || !r->sram) {
    snprintf(err, errlen, "out of memory for a %u x %u mesh", W, H);
    strat_result_free(r);
    return -1;
  }
  for (size_t i = 0; i < cells; i++) r->owner[i] = -1;
  return 0;
}

void strat_result_free(strat_result *r) {
  free(r->ops);
  free(r->owner);
  free(r->busy);
  free(r->sram);
  free(r->logits);
  memset(r, 0, sizeof *r);
}

void strat_set_macs(strat_totals *t, uint64_t macs) {
  /* what the simulated PEs executed, 2 FLOPs a multiply-accumulate: the
     rate and the share of the peak come from it, not from the accounting */
  t->macs = macs;
  t->flops_simulated = 2.0 * (double)t->macs;
  t->flops_per_s = t->flops_simulated / t->seconds;
  t->peak_fraction = t->flops_per_s / t->peak_flops_per_s;
}

int strat_result_common(strat_result *r, const ws_input *in, char *err, size_t errlen) {
  strat_totals *t = &r->tot;
  /* the accounting's FLOPs of a sequence: a prefill's, or a decode's steps, linear in the keys (the scores and
     their product with V), so their sum is the steps times the mean of the first and the last */
  mdl_cost acc, first;
  if (ws_input_account(in, in->keys, &acc, err, errlen) != 0) return -1;
  if (in->keys_first == in->keys) first = acc; /* one step: a prefill's */
  else if (ws_input_account(in, in->keys_first, &first, err, errlen) != 0) return -1;
  const double clock = (double)in->clock, steps = (double)in->steps;
  /* a training step: the forward, and the backward's activations' and weights' gradients, each the forward's
     FLOPs (each sparse weight at its nonzeros in all three) */
  const double passes = in->phase == WS_PHASE_TRAIN ? 3.0 : 1.0;
  if (t->steps == 0) t->steps = in->steps;
  if (t->step_cycles_max == 0) t->step_cycles_max = t->cycles;
  t->seconds = (double)t->cycles / clock;
  t->tokens_per_s = (double)in->tokens * steps / t->seconds;
  t->tokens_per_s_per_seq = t->tokens_per_s / (double)in->batch;
  t->ttft_s = in->phase == WS_PHASE_DECODE ? (double)t->fill_cycles / clock : t->seconds;
  t->tpot_s = in->phase == WS_PHASE_DECODE ? t->seconds / steps : 0;
  t->tpot_max_s = in->phase == WS_PHASE_DECODE ? (double)t->step_cycles_max / clock : 0;
  if (in->phase == WS_PHASE_TRAIN && t->sys.step_s == 0) t->sys.step_s = t->seconds; /* stream sets its own, SimGrid's */
  t->batch = in->batch;
  t->flops_dense = passes * (double)in->batch * steps * ((double)first.flops_dense + (double)acc.flops_dense) / 2;
  t->flops_executed = passes * (double)in->batch * steps * ((double)first.flops_sparse + (double)acc.flops_sparse) / 2;
  t->flops_saved = t->flops_dense - t->flops_executed;
  t->flops_reduction = t->flops_dense / t->flops_executed;
  t->peak_flops_per_s = (double)t->pes_mesh * (double)in->cfg->fabric.fmac_fp16 * 2.0 * clock;
  t->params_dense = acc.params_dense;
  t->params = acc.params_sparse;
  double sram_sum = 0;
  for (uint32_t i = 0; i < r->nops; i++) {
    strat_op *o = &r->ops[i];
    if (!r->rows_final) o->utilisation /= (double)o->pes * (double)(r->rows_one_step ? t->step_cycles_max : t->cycles);
    t->bound = max_u64(t->bound, o->bound);
    t->macs += o->macs;
    t->weight_bytes += o->weight_bytes;
    t->sram_max = max_u64(t->sram_max, o->sram_max);
  }
  strat_set_macs(t, t->macs);
  for (size_t at = 0; at < (size_t)r->W * r->H; at++) sram_sum += r->owner[at] >= 0 ? r->sram[at] : 0;
  t->sram_mean = sram_sum / (double)t->pes_used;
  t->peak_rss_bytes = peak_rss();
  return 0;
}

/* With two simulations, each reports its share as half of the whole. */
typedef struct {
  strat_progress progress;
  void *ctx;
  double base;
} half;

static void half_progress(void *ctx, double done) {
  const half *h = ctx;
  h->progress(h->ctx, h->base + done / 2);
}

int strat_simulate_faster(strat_simulate_fn fa, void *a, strat_simulate_fn fb, void *b, const ws_input *in,
                          strat_result *out, strat_progress progress, void *ctx, bool *kept_b, char *err,
                          size_t errlen) {
  *kept_b = false;
  half h[2] = {{progress, ctx, 0}, {progress, ctx, 0.5}};
  const bool split = b && progress;
  if (fa(a, in, out, split ? half_progress : progress, split ? (void *)&h[0] : ctx, err, errlen) != 0) return -1;
  if (!b) return 0;
  strat_result other = {0};
  if (fb(b, in, &other, split ? half_progress : progress, split ? (void *)&h[1] : ctx, err, errlen) != 0) {
    strat_result_free(&other);
    return -1;
  }
  *kept_b = other.tot.cycles < out->tot.cycles;
  strat_result_free(*kept_b ? out : &other);
  if (*kept_b) *out = other;
  return 0;
}
