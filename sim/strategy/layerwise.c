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

#include "kernels/estimate.h"
#include "kernels/kind.h"
#include "kernels/mesh_attention.h"
#include "kernels/mesh_decode.h"
#include "kernels/mesh_gemm.h"
#include "sim/report.h"
#include "strategy.h"

#define MAX_REPLICAS 64

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }
static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }
static uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

typedef struct {
  bool gemm;                /* a weight GEMM (simulated) */
  bool attn;                /* attention (simulated), else modelled */
  bool local;               /* inside each replica's region, on its tokens (the GEMMs and the per-token ops);
                               attention and the embedding span the mesh */
  uint32_t replicas;        /* copies running it at once: a GEMM the plan's r, attention its regions, the others
                               their shape's */
  uint32_t rounds;          /* attention: turns its (head, sequence) units take at the regions */
  krn_mattn_spec aspec;     /* attention: one unit's */
  krn_mattn_model aplan;
  krn_mdec_spec dspec;      /* decode attention (aspec unused): one unit's, at the last step's keys */
  krn_mdec_model dplan;
  uint32_t w, h;            /* one copy's region, PEs */
  uint32_t tokens;          /* a copy's (at most) */
  krn_mgemm_spec spec;      /* GEMM */
  krn_mgemm_model plan;     /* GEMM */
  krn_stage st;             /* the others: the stage on its region */
  krn_estimate est;         /* the others: at micro-batch b */
  uint32_t b;
  uint32_t consumers;       /* the others: stages its output goes to */
  uint64_t cycles;          /* modelled */
  uint32_t steps;           /* the parts its outputs leave in, one after another (GEMM and attention: its steps;
                               the others: a copy's micro-batches) */
  uint64_t handoff;         /* its inputs' hand-offs, cycles */
  uint64_t end;             /* modelled: the cycle it ends, the run starting at 0 */
  uint32_t in_slots, out_slots; /* PEs taking its inputs and sending its outputs, all copies */
} lw_op;

typedef struct {
  uint32_t replicas;         /* r copies */
  uint32_t down;             /* of them down the mesh (r / down across) */
  krn_kernel kernel;         /* the weight GEMMs' (kernels.kernel, or dense everywhere) */
  uint32_t rw, rh;           /* one copy's region */
  uint64_t resident;         /* weight bytes (and in a decode the KV caches) every PE keeps at most */
  uint64_t cache;            /* of resident: a decode's KV caches, every layer's */
  uint64_t cycles;           /* modelled, the hand-offs included */
  uint32_t n;
  lw_op *ops;
} lw_plan;

static bool is_gemm(const krn_stage *s) { return krn_kind_of(s->kind)->picks_kernel; }

/* Stage i's consumers (its output sent once to each). */
static uint32_t consumers(const ws_input *in, uint32_t i) {
  uint32_t c = 0;
  for (uint32_t j = i + 1; j < in->low.n; j++)
    for (uint32_t k = 0; k < KRN_MAX_INPUTS; k++) c += in->low.stages[j].in[k] == (int)i;
  return c;
}

/* A hand-off's stream: `values` fp16 values from `out` PEs to `in` PEs, at
 * a wavelet a cycle through each of the fewer, or half of them across the
 * narrower bisection (both ways) of the mesh, or of every replica's region
 * at once between two ops inside them, whichever is slower. */
static uint64_t handoff_stream(const ws_input *in, const lw_plan *p, bool local, uint64_t values, uint32_t out,
                               uint32_t into) {
  const uint64_t wavelets = ceil_div(values, 2);
  const uint64_t ramps = ceil_div(wavelets, min_u64(out, into));
  const uint64_t cut = local ? (uint64_t)p->replicas * min_u64(p->rw, p->rh) : min_u64(in->W, in->H);
  return max_u64(ramps, ceil_div(wavelets, 4 * cut));
}

/* Whether GEMM i's input from stage `from` is already where it reads it: an
 * earlier GEMM of the same region and K took the same stage's output (Q, K
 * and V read the layernorm's output at the same rows' centres). */
static bool input_in_place(const lw_plan *p, const ws_input *in, uint32_t i, int from) {
  const lw_op *o = &p->ops[i];
  for (uint32_t j = 0; o->gemm && j < i; j++) {
    const lw_op *e = &p->ops[j];
    if (!e->gemm || e->replicas != o->replicas || e->w != o->w || e->h != o->h || e->st.k != o->st.k) continue;
    for (uint32_t q = 0; q < KRN_MAX_INPUTS; q++)
      if (in->low.stages[j].in[q] == from) return true;
  }
  return false;
}

/* A hand-off's latency: its first wavelet across half the width and height
 * of the mesh, or of a replica's region between two ops inside them. */
static uint64_t handoff_latency(const ws_input *in, const lw_plan *p, bool local) {
  const uint64_t w = local ? p->rw : in->W, h = local ? p->rh : in->H;
  return 2ull * in->fc.ramp_latency + (w + h) / 2 * in->fc.hop_latency;
}

/* o's stage modelled on `copies` regions of w x h PEs taking turns at its
 * micro-batches: the micro-batch (a power of two) of fewest cycles, latency
 * + (a copy's micro-batches - 1) x interval, that fits beside the resident
 * weights. Better than o's cycles (o->cycles 0: none yet): into o, true. */
static bool model_stage(const ws_input *in, uint32_t w, uint32_t h, uint32_t copies, uint64_t resident,
                        lw_op *o) {
  const krn_kind_ops *k = krn_kind_of(o->st.kind);
  krn_stage st = o->st;
  st.region = (fab_rect){0, 0, w, h};
  bool better = false;
  for (uint32_t b = 1; b <= in->tokens; b *= 2) {
    const uint32_t seq = b * (uint32_t)ceil_div(in->tokens, b);
    if (k->shape_ok && !k->shape_ok(&st, h, w, seq)) break;
    krn_estimate e;
    char why[256];
    if (krn_estimate_stage(&in->m, &in->fc, &st, b, seq, o->consumers, &e, why, sizeof why) != 0) break;
    if (!krn_fits(&in->m, e.sram + resident)) continue;
    const uint64_t cycles = e.latency + (ceil_div(ceil_div(in->tokens, b), copies) - 1) * e.interval;
    if (o->cycles == 0 || cycles < o->cycles) {
      o->st = st, o->est = e, o->b = b, o->cycles = cycles, o->w = w, o->h = h, o->replicas = copies;
      o->steps = (uint32_t)ceil_div(ceil_div(in->tokens, b), copies);
      better = true;
    }
    if (b > UINT32_MAX / 2) break;
  }
  return better;
}

/* Attention on the whole mesh (kernels/mesh_attention.h): each (head,
 * sequence) unit on a region of a gx x gy grid of the mesh, the units taking
 * turns (rounds) where they outnumber the regions; the grid of fewest
 * modelled cycles (rounds x a unit's) whose buffers fit beside the resident
 * weights. Its inputs reach the rows' and the columns' centres (queries,
 * keys and values), its outputs leave the rows' roots. 0, or -1 with err. */
static int place_attention(const ws_input *in, lw_op *o, uint64_t resident, char *err, size_t errlen) {
  const uint32_t heads = o->st.heads ? o->st.heads : 1, T = in->keys;
  const uint64_t units = (uint64_t)heads * in->batch;
  o->cycles = 0;
  for (uint32_t gy = 1; gy <= units && gy <= in->H; gy++) {
    const uint32_t gx = (uint32_t)min_u64(in->W, ceil_div(units, gy));
    if (gy > 1 && ceil_div(units, gy) == ceil_div(units, gy - 1)) continue; /* the same grid across, shorter regions */
    const uint32_t R = (uint32_t)min_u64(in->H / gy, T), C = (uint32_t)min_u64(in->W / gx, T);
    const uint64_t rounds = ceil_div(units, (uint64_t)gx * gy);
    const krn_mattn_spec sp = {T, o->st.n / heads, R, C, 0, resident};
    krn_mattn_model mo;
    char why[256];
    if (krn_mattn_plan(&in->m, &in->fc, &sp, &mo, why, sizeof why) != 0) continue;
    if (o->cycles == 0 || rounds * mo.cycles < o->cycles) {
      o->aspec = sp, o->aplan = mo, o->cycles = rounds * mo.cycles, o->rounds = (uint32_t)rounds;
      o->steps = (uint32_t)rounds * mo.steps;
      o->replicas = (uint32_t)min_u64(units, (uint64_t)gx * gy), o->w = C, o->h = R;
    }
  }
  if (o->cycles == 0) {
    snprintf(err, errlen,
             "layerwise: %s's keys and values fit no region of the %u x %u mesh beside the %llu bytes of weights "
             "every PE keeps (fabric.sram_per_pe, kernels.sram_reserve); a larger mesh, more SRAM or more sparsity "
             "would",
             o->st.name, in->W, in->H, (unsigned long long)resident);
    return -1;
  }
  o->aspec.chunk = o->aplan.chunk; /* the run simulates what was planned */
  o->tokens = in->tokens;
  o->in_slots = o->replicas * (o->h + o->w);
  o->out_slots = o->replicas * o->h;
  return 0;
}

/* Decode attention on the whole mesh (kernels/mesh_decode.h): each (head,
 * sequence) unit's query against its cache on a region of a gx x gy grid of
 * the mesh (at most a PE a key of the first step), the units taking turns
 * (rounds) where they outnumber the regions, every region holding its
 * rounds' caches of every layer at the last step's keys; the grid of fewest
 * modelled cycles (rounds x a unit's at the last step) whose caches fit
 * beside the weights. Its inputs (the query, the new key and value) reach
 * the regions' centres, its outputs leave them. 0, or -1 with err. */
static int place_decode_attention(const ws_input *in, lw_op *o, uint32_t layers, uint64_t resident, char *err,
                                  size_t errlen) {
  const uint32_t heads = o->st.heads ? o->st.heads : 1;
  const uint64_t units = (uint64_t)heads * in->batch;
  char why[256] = "no grid";
  o->cycles = 0;
  for (uint32_t gy = 1; gy <= units && gy <= in->H; gy++) {
    const uint32_t gx = (uint32_t)min_u64(in->W, ceil_div(units, gy));
    if (gy > 1 && ceil_div(units, gy) == ceil_div(units, gy - 1)) continue;
    const uint32_t R = (uint32_t)min_u64(in->H / gy, in->keys_first);
    const uint32_t C = (uint32_t)min_u64(in->W / gx, in->keys_first / R);
    const uint64_t rounds = ceil_div(units, (uint64_t)gx * gy);
    if (rounds * layers > UINT32_MAX) continue;
    const krn_mdec_spec sp = {in->keys, in->keys, o->st.n / heads, R, C, (uint32_t)(rounds * layers), resident};
    krn_mdec_model mo;
    if (krn_mdec_plan(&in->m, &in->fc, &sp, &mo, why, sizeof why) != 0) continue;
    if (o->cycles == 0 || rounds * mo.cycles < o->cycles) {
      o->dspec = sp, o->dplan = mo, o->cycles = rounds * mo.cycles, o->rounds = (uint32_t)rounds;
      o->steps = (uint32_t)rounds;
      o->replicas = (uint32_t)min_u64(units, (uint64_t)gx * gy), o->w = C, o->h = R;
    }
  }
  if (o->cycles == 0) {
    snprintf(err, errlen,
             "layerwise: the KV caches of %u layers (workload.seq_len + workload.new_tokens = %u keys, "
             "workload.batch = %u sequences) fit no grid of the %u x %u mesh beside the %llu bytes of weights every PE "
             "keeps (the last: %s); a shorter prompt, fewer new tokens or sequences, more sparsity, a larger mesh or "
             "more SRAM would",
             layers, in->keys, in->batch, in->W, in->H, (unsigned long long)resident, why);
    return -1;
  }
  o->tokens = in->tokens;
  o->in_slots = 2 * o->replicas; /* the centre takes the query, the new key's PE its key and value */
  o->out_slots = o->replicas;
  return 0;
}

/* o's stage (neither a weight GEMM nor attention) on the shape of fewest
 * modelled cycles:
 *   element-wise ops  w x h PEs holding a feature or more each (w a power of
 *              two, h = features / w), copies over every replica's region,
 *              whole tokens of that replica each;
 *   the embedding  the whole mesh (its table is the LM head's, held once).
 * 0, or -1 when no shape fits (err says why). */
static int place_stage(const ws_input *in, const lw_plan *p, lw_op *o, uint64_t resident, char *err,
                       size_t errlen) {
  const krn_kind_ops *k = krn_kind_of(o->st.kind);
  const uint32_t n = o->st.n;
  o->cycles = 0;
  if ((o->local = k->elementwise)) {
    for (uint32_t w = 1; w <= min_u64(p->rw, k->max_cols(&o->st)); w *= 2) {
      const uint32_t h = (uint32_t)min_u64(p->rh, n / w);
      const uint64_t copies = min_u64(in->tokens, (uint64_t)(p->rw / w) * (p->rh / h) * p->replicas);
      model_stage(in, w, h, (uint32_t)copies, resident, o);
    }
  } else {
    model_stage(in, (uint32_t)min_u64(in->W, k->max_cols(&o->st)), (uint32_t)min_u64(in->H, k->max_rows(&o->st)),
                1, resident, o);
  }
  if (o->cycles == 0) {
    snprintf(err, errlen,
             "layerwise: %s fits no region of the %u x %u mesh beside the %llu bytes of weights every PE keeps, "
             "even one token at a time (fabric.sram_per_pe, kernels.sram_reserve); a larger mesh, more SRAM or more "
             "sparsity would",
             o->st.name, in->W, in->H, (unsigned long long)resident);
    return -1;
  }
  o->tokens = (uint32_t)ceil_div(in->tokens, o->replicas);
  return 0;
}

/* The plan with r replicas, `down` of them down the mesh (r / down across;
 * 0: the longer side halved first), the GEMMs on `kernel`: 0, 1 if its
 * weights do not fit or the grid does not (err says why), -1 on an error. */
static int plan_replicas(const ws_input *in, uint32_t r, uint32_t down, krn_kernel kernel, lw_plan *p, char *err,
                         size_t errlen) {
  memset(p, 0, sizeof *p);
  p->replicas = r;
  p->kernel = kernel;
  uint32_t ax = r / (down ? down : r), ay = down ? down : 1;
  for (uint32_t c = 1; !down && c < r; c *= 2) { /* halve the longer side */
    if (in->W / ax >= in->H / ay) ax *= 2;
    else ay *= 2;
  }
  if (ax > in->W || ay > in->H) {
    snprintf(err, errlen, "layerwise: %u x %u copies do not fit the %u x %u mesh", ax, ay, in->W, in->H);
    return 1;
  }
  p->down = ay;
  p->rw = in->W / ax;
  p->rh = in->H / ay;
  p->n = in->low.n;
  if (!(p->ops = calloc(p->n, sizeof *p->ops))) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  /* the GEMMs first, each alone, for their weights */
  for (uint32_t i = 0; i < p->n; i++) {
    lw_op *o = &p->ops[i];
    o->st = in->low.stages[i];
    o->local = o->gemm = is_gemm(&o->st);
    if (!o->gemm) continue;
    o->replicas = r;
    o->tokens = in->tokens / r;
    o->h = (uint32_t)min_u64(p->rh, o->st.k);
    o->w = (uint32_t)min_u64(p->rw, o->st.n);
    const uint32_t op = in->low.first_op[i];
    const wl_mask *mask = in->w && mdl_graph_op(in->g, op)->sparsifiable ? wl_weights_mask(in->w, op) : NULL;
    o->spec = (krn_mgemm_spec){o->tokens, o->st.k, o->st.n, o->h, o->w, mask, kernel, 0, 0};
    if (krn_mgemm_plan(&in->m, &in->fc, &o->spec, &o->plan, err, errlen) != 0) return 1;
    p->resident += o->plan.weights_max;
  }
  const uint64_t usable = in->m.sram > in->m.sram_reserve ? in->m.sram - in->m.sram_reserve : 0;
  if (p->resident > usable) {
    snprintf(err, errlen,
             "layerwise: %u cop%s of every layer's weights need%s %llu bytes at a PE, more than fabric.sram_per_pe - "
             "kernels.sram_reserve (%llu); sparsity, a larger mesh or more SRAM would",
             r, r == 1 ? "y" : "ies", r == 1 ? "s" : "", (unsigned long long)p->resident, (unsigned long long)usable);
    return 1;
  }
  /* a decode's attention: every layer's the same, placed once; its caches stay beside the weights */
  lw_op dec = {0};
  if (in->phase == WS_PHASE_DECODE) {
    uint32_t layers = 0, first = p->n;
    for (uint32_t i = 0; i < p->n; i++)
      if (krn_kind_of(p->ops[i].st.kind)->attends) layers++, first = first < p->n ? first : i;
    if (layers) {
      dec.st = p->ops[first].st;
      if (place_decode_attention(in, &dec, layers, p->resident, err, errlen) != 0) return 1;
      p->cache = dec.dplan.cache_bytes;
      p->resident += p->cache;
    }
  }
  for (uint32_t i = 0; i < p->n; i++) {
    lw_op *o = &p->ops[i];
    const krn_kind_ops *k = krn_kind_of(o->st.kind);
    if (o->gemm) {
      o->spec.resident = p->resident - o->plan.weights_max; /* the others' weights beside its buffers */
      if (!krn_fits(&in->m, o->plan.sram_max + o->spec.resident) && /* else its plan stands */
          krn_mgemm_plan(&in->m, &in->fc, &o->spec, &o->plan, err, errlen) != 0)
        return 1;
      o->spec.chunk = o->plan.chunk; /* the run simulates what was planned, no search again */
      o->cycles = o->plan.cycles;
      o->steps = o->plan.steps;
    } else if ((o->attn = k->attends) && in->phase == WS_PHASE_DECODE) {
      const krn_stage st = o->st;
      *o = dec;
      o->st = st, o->attn = true;
    } else if (o->attn) {
      if (place_attention(in, o, p->resident, err, errlen) != 0) return 1;
    } else {
      o->consumers = consumers(in, i);
      if (place_stage(in, p, o, p->resident, err, errlen) != 0) return 1;
    }
    if (!o->attn) {
      o->in_slots = o->replicas * krn_slots_count(k->in, o->h, o->w);
      o->out_slots = o->replicas * krn_slots_count(k->out, o->h, o->w);
    }
    /* its inputs' hand-offs (data-triggered cores start on the first data
       that arrives): an op's output in several parts streams part by part
       as each leaves it, while the op runs and after; into the op right
       after it, its last part crosses after it ends (that op starts at once
       on the parts already in, and ends no sooner than the last is in); an
       older op's output is in place if it could have streamed and crossed
       before the op before ends; any other input streams while the op runs,
       after a crossing's latency (the op starts then), the streams one
       after another; an input in place costs nothing. The gap before the op
       holds the latency and any excess of the streams over its own
       cycles. */
    uint64_t stream = 0, latency = 0, tail = 0;
    for (uint32_t q = 0; q < KRN_MAX_INPUTS; q++) {
      const int from = o->st.in[q];
      if (from < 0 || input_in_place(p, in, i, from)) continue;
      const lw_op *f = &p->ops[from];
      const uint64_t values = (uint64_t)in->tokens * in->low.stages[from].n;
      const bool local = o->local && f->local;
      const uint64_t s = handoff_stream(in, p, local, values, f->out_slots, o->in_slots);
      const uint64_t l = handoff_latency(in, p, local);
      /* after f ends: its last part's stream, or all that did not fit while it ran */
      const uint32_t parts = f->steps ? f->steps : 1;
      const uint64_t during = f->cycles / parts * (parts - 1);
      const uint64_t after = max_u64(ceil_div(s, parts), s > during ? s - during : 0);
      if ((uint32_t)from + 1 == i && parts > 1) {
        tail = max_u64(tail, l + after);
      } else if ((uint32_t)from + 1 < i && f->end + l + after <= p->cycles) { /* in place before the op before ends */
        continue;
      } else {
        stream += s;
        latency = max_u64(latency, l);
      }
    }
    const uint64_t span = max_u64(max_u64(o->cycles, stream), tail > latency ? tail - latency : 0);
    o->handoff = latency + (span - o->cycles);
    p->cycles += o->handoff + o->cycles;
    o->end = p->cycles;
  }
  return 0;
}

static void plan_free(lw_plan *p) {
  if (p) free(p->ops);
}

/* The plans kept: the best by its model, and the next if its model is
 * within sim.auto_margin of it (the mesh GEMM's model errs by up to 20 % on
 * a sparse GEMM's chain): both are simulated and the faster run kept. */
typedef struct {
  lw_plan plan[2]; /* ops NULL: none */
} lw_state;

/* The plan with r copies, `down` of them down the mesh, on kernel k
 * (plan_replicas), ranked into the state's two (the others freed):
 * plan_replicas's return. */
static int consider(const ws_input *in, uint32_t r, uint32_t down, krn_kernel k, lw_state *st, char *why,
                    size_t whylen) {
  lw_plan cand;
  const int rc = plan_replicas(in, r, down, k, &cand, why, whylen);
  if (rc == 0 && (!st->plan[0].ops || cand.cycles < st->plan[0].cycles)) {
    plan_free(&st->plan[1]);
    st->plan[1] = st->plan[0];
    st->plan[0] = cand;
  } else if (rc == 0 && (!st->plan[1].ops || cand.cycles < st->plan[1].cycles)) {
    plan_free(&st->plan[1]);
    st->plan[1] = cand;
  } else {
    plan_free(&cand);
  }
  return rc;
}

static void release(void *state) {
  lw_state *st = state;
  if (!st) return;
  plan_free(&st->plan[0]);
  plan_free(&st->plan[1]);
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
    plan_free(&st->plan[1]), st->plan[1].ops = NULL;
  *state = st;
  return 0;
}

uint64_t strat_layerwise_estimate(const void *state) { return ((const lw_state *)state)->plan[0].cycles; }

/* The simulations ops share (each is deterministic, so the same spec runs
 * the same): attention's last (every layer's is the same unit on the same
 * region), a decode's last, and the dense GEMMs' (no mask, or the dense
 * kernel everywhere, whose cycles, MACs and traffic do not depend on the
 * mask: every layer's Q, K, V and attn_out the same shape, its ffn_up and
 * ffn_down theirs). */
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
  t->sim_bytes = max_u64(t->sim_bytes, last->d.bytes);
  return 0;
}

/* Whether GEMM s runs the same whatever its mask: none, or the dense kernel on every PE. */
static bool mask_free(const krn_mgemm_spec *s) { return !s->mask || s->kernel == KRN_DENSE; }

static bool same_gemm(const krn_mgemm_spec *a, const krn_mgemm_spec *b) {
  return a->m == b->m && a->k == b->k && a->n == b->n && a->rows == b->rows && a->cols == b->cols &&
         !a->mask == !b->mask && a->kernel == b->kernel && a->chunk == b->chunk && a->resident == b->resident;
}

/* GEMM s's run into g: a mask-free one's earlier run of the same spec (its plan's nonzeros s's own), else
   simulated (its events counted). */
static int gemm(const ws_input *in, const krn_mgemm_spec *s, lw_runs *last, krn_mgemm_result *g, strat_totals *t,
                char *err, size_t errlen) {
  for (uint32_t j = 0; mask_free(s) && j < last->ndense; j++)
    if (same_gemm(&last->dense[j].spec, s)) {
      *g = last->dense[j].r;
      return s->mask ? krn_mgemm_plan(&in->m, &in->fc, s, &g->plan, err, errlen) : 0;
    }
  if (krn_mgemm_run(&in->m, &in->fc, s, g, err, errlen) != 0) return -1;
  t->events += g->events;
  t->sim_bytes = max_u64(t->sim_bytes, g->bytes);
  if (mask_free(s) && last->ndense < LW_DENSE_RUNS) last->dense[last->ndense++] = (lw_gemm_run){*s, *g};
  return 0;
}

/* One (head, sequence) unit's simulated attention (a prefill's or a decode step's): its figures. */
typedef struct {
  uint64_t busy_max, busy_sum, macs, cycles, sram_max, wavelets_sent, link_wavelets;
} lw_unit;

/* Attention op o's row from its unit's figures: the units take o->rounds turns at the regions. */
static void attention_row(const ws_input *in, const lw_op *o, const lw_unit *u, strat_op *row, strat_totals *t) {
  const uint64_t units = (uint64_t)(o->st.heads ? o->st.heads : 1) * in->batch;
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
    if (gemm(in, &o->spec, last, &g, t, err, errlen) != 0) return -1;
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
      t->sim_bytes = max_u64(t->sim_bytes, last->r.bytes);
    }
    const krn_mattn_result *a = &last->r;
    const lw_unit u = {a->busy_max, a->busy_sum, a->macs, a->cycles, a->plan.sram_max + o->aspec.resident,
                       a->wavelets_sent, a->link_wavelets};
    attention_row(in, o, &u, row, t);
  } else { /* a copy's share */
    row->busy_max = krn_estimate_busy(&in->m, &o->st, o->b, o->b * (uint32_t)ceil_div(o->tokens, o->b));
    row->cycles = o->cycles;
    row->sram_max = o->est.sram + p->resident;
    row->utilisation = (double)row->busy_max * row->pes; /* every PE as busy as the busiest: an upper bound */
  }
  row->bound = row->busy_max;
  return 0;
}

/* A decode's steps, from the op rows of its last (out->ops): every op but
 * attention takes the same cycles and hand-offs each step; attention is
 * simulated at each step's keys (keys_first + s). Into out's totals the
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
  const uint64_t units = a ? (uint64_t)(a->st.heads ? a->st.heads : 1) * in->batch : 0;
  t->cycles = t->step_cycles_max = 0;
  *macs = 0;
  for (uint32_t s = 0; s < in->steps; s++) {
    uint64_t step = base;
    *macs += base_macs;
    if (a) {
      if (decode_attention(in, a, in->keys_first + s, last, t, err, errlen) != 0) return -1;
      step += nattn * a->rounds * last->d.cycles;
      *macs += nattn * units * last->d.macs;
    }
    if (s == 0) t->fill_cycles = step;
    t->cycles += step;
    t->step_cycles_max = max_u64(t->step_cycles_max, step);
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
