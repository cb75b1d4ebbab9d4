/* The layer-by-layer strategy (strategy.h): every op runs on the whole wafer
 * (or copies of it on equal parts), one op after another, every weight held
 * for the whole run.
 *
 * Replicas. The mesh is cut into r equal rectangles (r = 1, 2, 4, ...; the
 * longer side halved first), each holding every layer's weights and taking
 * tokens / r of the tokens: a GEMM's work per PE stays the same while its
 * tiles grow by r, so the traffic per multiply-accumulate (x in, partial sums
 * out: 1 / nt + 1 / kt a MAC) falls by sqrt(r). r = 1 is the whole mesh. The
 * plan takes the r of fewest modelled cycles whose weights fit every PE (with
 * kernels.kernel auto, also of every GEMM on the dense kernel: below about
 * half density its 2 bytes a weight can leave room for more copies than the
 * sparse encoding's 4 a nonzero), then that r's grid of copies (1, 2, ... r
 * down the mesh) of fewest: a wide, short
 * copy gives a tile more of K and less of N, fewer partial sums to reduce a
 * token. The two best plans by the model are both simulated where their
 * models are within sim.auto_margin (the mesh GEMM's model errs by up to
 * 20 % on a sparse GEMM), and the faster run kept.
 *
 * Per op, in the lowered graph's order:
 *   weight GEMM  simulated PE by PE on one replica's region
 *                (kernels/mesh_gemm.h: K over its rows, N over its columns,
 *                the tokens in steps, column reductions by trees); every
 *                replica runs the same shape on the same weights at once, so
 *                one replica's cycles are the op's;
 *   attention    simulated PE by PE (kernels/mesh_attention.h): every
 *                (head, sequence) on its own region of a grid over the whole
 *                mesh, queries striped over its rows, keys and values over
 *                its columns; the grid of fewest modelled cycles; every
 *                layer's is the same run, simulated once;
 *   the others   modelled: their kind's estimate (kernels/estimate.h, the
 *                placer's model of the simulated stage) on the shape and
 *                micro-batch of fewest cycles, latency + (a copy's
 *                micro-batches - 1) x interval (place_stage: the per-token
 *                ops in copies of a small region over every replica's
 *                region, on its tokens; the embedding whole).
 * Between ops the data changes layout (a GEMM's outputs end at its columns'
 * roots, the next GEMM wants them at its rows' centres): each input of an op
 * is a hand-off, a stream of its wavelets (tokens x features, fp16, two a
 * wavelet) through the fewer of the PEs sending and receiving them (one
 * wavelet a cycle each, the kinds' output and input slots times the copies)
 * or across the narrower bisection (half of them, both directions) of the
 * mesh, or of every replica's region at once between two ops inside them
 * (GEMMs and per-token ops: a replica's tokens stay in its region),
 * whichever takes longer, after a crossing's latency (half the width and
 * height in hops, of the mesh or of a replica's region likewise). An op's
 * output leaves it in parts (its steps or micro-batches): into the op right
 * after it, all but the last part stream while it runs, so that op starts
 * as it ends and ends no sooner than the last part is in; an older op's
 * output is in place if it could have arrived before the op before ends;
 * any other input streams while the op runs, after the latency (the op
 * starts then). The op row's gap before `first` holds the latency and any
 * excess of the streams over the op's cycles. An input an earlier GEMM of
 * the same region and K took is in place (K and V after Q): no hand-off. An
 * op does not start before the one before it ends.
 *
 * SRAM: every GEMM's fullest tile's weights (the sum of the maxima: no PE
 * holds more) stay resident; each GEMM's buffers fit beside the others'
 * weights (spec.resident), each modelled op's fullest PE too. The embedding
 * table is the LM head's weight (tied): counted once, with the head's tiles.
 *
 * The totals: one micro-batch of every token (as the bound reports it),
 * cycles the sum of the ops' spans and the gaps before them; op rows with
 * each op's start (`first`, after its gap), span, compute and MACs (a GEMM's
 * replica's times the replicas; attention's region's times its units; the
 * others none);
 * per PE the ops' work spread evenly (the simulation keeps no per-PE map
 * here). */
#include <stdlib.h>
#include <string.h>

#include "kernels/kind.h"
#include "layerwise_internal.h"
#include "sim/report.h"

#define MAX_REPLICAS 64

/* The plans kept: the best by its model, and the next if its model is
 * within sim.auto_margin of it (the mesh GEMM's model errs by up to 20 % on
 * a sparse GEMM's chain): both are simulated and the faster run kept. */
typedef struct {
  lw_plan plan[2]; /* ops NULL: none */
} lw_state;

/* The plan with r copies, `down` of them down the mesh, on kernel k
 * (strat_lw_plan), ranked into the state's two (the others freed):
 * strat_lw_plan's return. */
static int consider(const ws_input *in, uint32_t r, uint32_t down, krn_kernel k, lw_state *st, char *why,
                    size_t whylen) {
  lw_plan cand;
  const int rc = strat_lw_plan(in, r, down, k, &cand, why, whylen);
  if (rc == 0 && (!st->plan[0].ops || cand.cycles < st->plan[0].cycles)) {
    strat_lw_plan_free(&st->plan[1]);
    st->plan[1] = st->plan[0];
    st->plan[0] = cand;
  } else if (rc == 0 && (!st->plan[1].ops || cand.cycles < st->plan[1].cycles)) {
    strat_lw_plan_free(&st->plan[1]);
    st->plan[1] = cand;
  } else {
    strat_lw_plan_free(&cand);
  }
  return rc;
}

static void release(void *state) {
  lw_state *st = state;
  if (!st) return;
  strat_lw_plan_free(&st->plan[0]);
  strat_lw_plan_free(&st->plan[1]);
  free(st);
}

static int prepare(ws_input *in, void **state, char *err, size_t errlen) {
  *state = NULL;
  if (!in->w && !ws_input_dense(in) && ws_input_masks(in, WS_WORK_MASKS, err, errlen) != 0) return -1;
  lw_state *st = calloc(1, sizeof *st);
  if (!st) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  char why[512] = "";
  /* for the configured kernel, and with auto also dense everywhere (its 2 bytes a weight can leave room for
     more copies than a sparse tile's 4 a nonzero: below about half density), r by the grids that halve the
     longer side first, up to the copies whose weights fit; then the best r's other grids (1, 2, 4, ... r
     copies down the mesh) */
  const krn_kernel cfg = (krn_kernel)in->cfg->kernels.kernel, kernels[2] = {cfg, KRN_DENSE};
  int rc = 0;
  for (uint32_t c = 0; rc >= 0 && c < (cfg == KRN_AUTO ? 2u : 1u); c++) {
    rc = 0;
    for (uint32_t r = 1; r <= MAX_REPLICAS && r <= in->tokens && in->tokens % r == 0; r *= 2)
      if ((rc = consider(in, r, 0, kernels[c], st, why, sizeof why)) != 0) break;
  }
  if (rc >= 0 && st->plan[0].ops) {
    const uint32_t r = st->plan[0].replicas, tried = st->plan[0].down;
    const krn_kernel k = st->plan[0].kernel;
    for (uint32_t down = 1; rc >= 0 && down <= r; down *= 2)
      if (down != tried) rc = consider(in, r, down, k, st, why, sizeof why);
  }
  if (rc < 0 || !st->plan[0].ops) {
    snprintf(err, errlen, "%s", why);
    release(st);
    return -1;
  }
  if (st->plan[1].ops && (double)st->plan[1].cycles > (double)st->plan[0].cycles * (1 + in->cfg->sim.auto_margin))
    strat_lw_plan_free(&st->plan[1]), st->plan[1].ops = NULL;
  *state = st;
  return 0;
}

uint64_t strat_layerwise_estimate(const void *state) { return ((const lw_state *)state)->plan[0].cycles; }

/* The simulations ops share (each is deterministic, so the same spec runs
 * the same): attention's last (every layer's is the same unit on the same
 * region), a decode's last, and the dense GEMMs' (no mask, or the dense
 * kernel on every PE, asked for or picked, whose cycles, MACs and traffic
 * do not depend on the mask: every layer's Q, K, V and attn_out the same
 * shape, its ffn_up and ffn_down theirs). */
#define LW_DENSE_RUNS 8
typedef struct {
  krn_mgemm_spec spec;
  krn_mgemm_result r;
} lw_gemm_run;
typedef struct {
  lw_gemm_run dense[LW_DENSE_RUNS];
  uint32_t ndense;
  bool have;
  krn_mattn_spec spec;
  krn_mattn_result r;
  krn_mdec_spec dspec; /* a decode's: the last run's, by its keys (dspec.keys 0: none yet) */
  krn_mdec_result d;
} lw_runs;

/* A decode's attention at `keys` keys into last->d: simulated unless the last run was at the same keys. */
static int decode_attention(const ws_input *in, const lw_op *o, uint32_t keys, lw_runs *last, strat_totals *t,
                            char *err, size_t errlen) {
  if (last->dspec.keys == keys) return 0;
  krn_mdec_spec sp = o->dspec;
  sp.keys = keys;
  if (krn_mdec_run(&in->m, &in->fc, &sp, &last->d, err, errlen) != 0) return -1;
  last->dspec = sp;
  t->events += last->d.events;
  t->sim_bytes = lw_max(t->sim_bytes, last->d.bytes);
  return 0;
}

/* Whether GEMM s (planned as `plan`) runs the same whatever its mask: none, or the dense kernel on every PE
   (kernels.kernel dense, the plan's all-dense encoding, or auto's pick everywhere). */
static bool mask_free(const krn_mgemm_spec *s, const krn_mgemm_model *plan) {
  return !s->mask || plan->sparse_pes == 0;
}

static bool same_gemm(const krn_mgemm_spec *a, const krn_mgemm_spec *b) {
  return a->m == b->m && a->k == b->k && a->n == b->n && a->rows == b->rows && a->cols == b->cols &&
         !a->mask == !b->mask && a->kernel == b->kernel && a->chunk == b->chunk && a->resident == b->resident;
}

/* GEMM s's run into g: a mask-free one's earlier run of the same spec with s's own plan (its nonzeros and
   weights), else simulated (its events counted). `plan` is s's, as the run would make it (the layer-by-layer
   plan fixed its chunk). */
static int gemm(const ws_input *in, const krn_mgemm_spec *s, const krn_mgemm_model *plan, lw_runs *last,
                krn_mgemm_result *g, strat_totals *t, char *err, size_t errlen) {
  const bool reuse = mask_free(s, plan);
  for (uint32_t j = 0; reuse && j < last->ndense; j++)
    if (same_gemm(&last->dense[j].spec, s)) {
      *g = last->dense[j].r;
      g->plan = *plan;
      return 0;
    }
  if (krn_mgemm_run(&in->m, &in->fc, s, g, err, errlen) != 0) return -1;
  t->events += g->events;
  t->sim_bytes = lw_max(t->sim_bytes, g->bytes);
  if (reuse && last->ndense < LW_DENSE_RUNS) last->dense[last->ndense++] = (lw_gemm_run){*s, *g};
  return 0;
}

/* One (head, sequence) unit's simulated attention (a prefill's or a decode step's): its figures. */
typedef struct {
  uint64_t busy_max, busy_sum, macs, cycles, sram_max, wavelets_sent, link_wavelets;
} lw_unit;

/* Attention op o's row from its unit's figures: the units take o->rounds turns at the regions. */
static void attention_row(const ws_input *in, const lw_op *o, const lw_unit *u, strat_op *row, strat_totals *t) {
  const uint64_t units = lw_units(in, &o->st);
  row->kernel = "mesh";
  row->busy_max = o->rounds * u->busy_max;
  row->macs = units * u->macs;
  row->cycles = o->rounds * u->cycles;
  row->sram_max = u->sram_max;
  row->utilisation = (double)units * (double)u->busy_sum;
  t->wavelets_sent += units * u->wavelets_sent;
  t->link_wavelets += units * u->link_wavelets;
}

/* Op i's row: what ran (GEMM and attention: simulated); it starts when its hand-off, which starts at `at`, is
 * over. */
static int run_op(const ws_input *in, const lw_plan *p, uint32_t i, uint64_t at, lw_runs *last,
                  strat_result *out, char *err, size_t errlen) {
  const lw_op *o = &p->ops[i];
  strat_op *row = &out->ops[i];
  strat_totals *t = &out->tot;
  const mdl_op *op = mdl_graph_op(in->g, in->low.first_op[i]);
  row->name = o->st.name;
  row->kind = ws_input_stage_kind(in, i);
  row->layer = op->layer;
  row->region = (fab_rect){0, 0, o->w, o->h};
  row->pes = o->replicas * o->w * o->h;
  row->kernel = krn_kind_of(o->st.kind)->name;
  row->first = at + o->handoff;
  if (o->gemm) {
    krn_mgemm_result g;
    if (gemm(in, &o->spec, &o->plan, last, &g, t, err, errlen) != 0) return -1;
    const uint32_t sp = g.plan.sparse_pes, pes = o->w * o->h;
    row->kernel = sp == pes ? "sparse" : sp == 0 ? "dense" : "mixed";
    row->sparse_pes = o->replicas * sp;
    row->busy_max = g.busy_max;
    row->macs = o->replicas * g.macs;
    row->cycles = g.cycles;
    row->nnz_max = g.plan.nnz_max;
    row->nnz_mean = g.plan.nnz_mean;
    row->sram_max = g.plan.sram_max + o->spec.resident;
    row->weight_bytes = o->replicas * g.plan.weights;
    row->utilisation = (double)o->replicas * (double)g.busy_sum;
    t->wavelets_sent += o->replicas * g.wavelets_sent;
    t->link_wavelets += o->replicas * g.link_wavelets;
  } else if (o->attn && in->phase == WS_PHASE_DECODE) { /* the last step's */
    if (decode_attention(in, o, in->keys, last, t, err, errlen) != 0) return -1;
    const krn_mdec_result *a = &last->d;
    const lw_unit u = {a->busy_max, a->busy_sum, a->macs, a->cycles, a->plan.sram_max + o->dspec.resident,
                       a->wavelets_sent, a->link_wavelets};
    attention_row(in, o, &u, row, t);
  } else if (o->attn) {
    const krn_mattn_spec *q = &last->spec, *n = &o->aspec;
    if (!last->have || q->seq != n->seq || q->dh != n->dh || q->rows != n->rows || q->cols != n->cols ||
        q->chunk != n->chunk || q->resident != n->resident) {
      if (krn_mattn_run(&in->m, &in->fc, &o->aspec, &last->r, err, errlen) != 0) return -1;
      last->have = true, last->spec = o->aspec;
      t->events += last->r.events;
      t->sim_bytes = lw_max(t->sim_bytes, last->r.bytes);
    }
    const krn_mattn_result *a = &last->r;
    const lw_unit u = {a->busy_max, a->busy_sum, a->macs, a->cycles, a->plan.sram_max + o->aspec.resident,
                       a->wavelets_sent, a->link_wavelets};
    attention_row(in, o, &u, row, t);
  } else { /* a copy's share */
    row->busy_max = krn_estimate_busy(&in->m, &o->st, o->b, o->b * (uint32_t)lw_ceil_div(o->tokens, o->b));
    row->cycles = o->cycles;
    row->sram_max = o->est.sram + p->resident;
    row->utilisation = (double)row->busy_max * row->pes; /* every PE as busy as the busiest: an upper bound */
  }
  row->bound = row->busy_max;
  return 0;
}

/* A decode's steps, from the op rows of its last (out->ops): every op but
 * attention takes the same cycles and hand-offs each step; attention is
 * simulated at each step's keys (keys_first + s), the last step's first
 * (the op rows' run, in last->d already). Into out's totals the
 * steps' sum (cycles), the first (fill_cycles), the mean after it and the
 * longest; into *macs every step's multiply-accumulates. */
static int decode_steps(const ws_input *in, const lw_plan *p, strat_result *out, lw_runs *last, uint64_t *macs,
                        char *err, size_t errlen) {
  strat_totals *t = &out->tot;
  uint64_t base = t->cycles, base_macs = 0, nattn = 0;
  const lw_op *a = NULL;
  for (uint32_t i = 0; i < p->n; i++) {
    if (p->ops[i].attn) {
      base -= out->ops[i].cycles;
      nattn++;
      a = &p->ops[i];
    } else {
      base_macs += out->ops[i].macs;
    }
  }
  const uint64_t units = a ? lw_units(in, &a->st) : 0;
  t->cycles = t->step_cycles_max = 0;
  *macs = 0;
  for (uint32_t s = in->steps; s-- > 0;) { /* the last first: its attention ran for the op rows */
    uint64_t step = base;
    *macs += base_macs;
    if (a) {
      if (decode_attention(in, a, in->keys_first + s, last, t, err, errlen) != 0) return -1;
      step += nattn * a->rounds * last->d.cycles;
      *macs += nattn * units * last->d.macs;
    }
    if (s == 0) t->fill_cycles = step;
    t->cycles += step;
    t->step_cycles_max = lw_max(t->step_cycles_max, step);
  }
  t->micro_batches = t->steps = in->steps;
  t->steady_interval = in->steps > 1 ? (t->cycles - t->fill_cycles) / (in->steps - 1) : 0;
  return 0;
}

/* Simulate plan `plan` (an lw_plan) into out. */
static int simulate_plan(void *plan, const ws_input *in, strat_result *out, strat_progress progress, void *ctx,
                         char *err, size_t errlen) {
  const lw_plan *p = plan;
  const double t0 = ws_report_wall_s();
  const uint64_t P = (uint64_t)in->W * in->H;
  if (strat_result_alloc(out, p->n, in->W, in->H, err, errlen) != 0) return -1;
  strat_totals *t = &out->tot;
  uint64_t at = 0, work = 0, gemms = 0, sparse = 0;
  lw_runs last = {0};
  for (uint32_t i = 0; i < p->n; i++) {
    if (run_op(in, p, i, at, &last, out, err, errlen) != 0) return -1;
    const strat_op *o = &out->ops[i];
    at = o->first + o->cycles;
    work += (uint64_t)o->utilisation;
    if (p->ops[i].gemm) {
      gemms += o->pes;
      sparse += o->sparse_pes;
    }
    if (progress) progress(ctx, (double)(i + 1) / p->n);
  }
  t->cycles = t->fill_cycles = t->step_cycles_max = at; /* one micro-batch of every token: out at the end */
  t->stages = p->n;
  t->micro_batch = in->tokens;
  t->micro_batches = t->steps = 1;
  uint64_t macs = 0;
  if (in->phase == WS_PHASE_DECODE && decode_steps(in, p, out, &last, &macs, err, errlen) != 0) return -1;
  t->pes_used = t->pes_mesh = P;
  t->kernel_mix = gemms ? (double)sparse / (double)gemms : 0;
  t->layerwise_cycles_model = p->cycles;
  t->replicas = p->replicas;
  for (uint64_t pe = 0; pe < P; pe++) { /* the work and the weights spread evenly */
    out->busy[pe] = work / P + (pe < work % P);
    out->sram[pe] = (uint32_t)(in->m.sram_reserve + p->resident);
  }
  out->rows_one_step = in->phase == WS_PHASE_DECODE; /* its op rows: the last step */
  if (strat_result_common(out, in, err, errlen) != 0) return -1;
  if (in->phase == WS_PHASE_DECODE) strat_set_macs(t, macs); /* every step's, not the op rows' (the last step's) */
  t->sram_mean = (double)(in->m.sram_reserve + p->resident);
  t->sim_wall_s = ws_report_wall_s() - t0;
  t->events_per_s = t->sim_wall_s > 0 ? (double)t->events / t->sim_wall_s : 0;
  return 0;
}

static int layerwise_simulate(void *state, const ws_input *in, strat_result *out, strat_progress progress, void *ctx,
                              char *err, size_t errlen) {
  lw_state *st = state;
  bool second;
  return strat_simulate_faster(simulate_plan, &st->plan[0], simulate_plan, st->plan[1].ops ? &st->plan[1] : NULL, in,
                               out, progress, ctx, &second, err, errlen);
}

const strat_strategy strat_layerwise = {"layerwise", prepare, layerwise_simulate, release};
