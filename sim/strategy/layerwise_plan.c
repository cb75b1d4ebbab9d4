/* The layer-by-layer strategy's plan (layerwise.c): each op's shape and
 * model on r copies of the mesh, its inputs' hand-offs, the SRAM it keeps. */
#include <stdlib.h>
#include <string.h>

#include "kernels/kind.h"
#include "layerwise_internal.h"

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
  const uint64_t wavelets = lw_ceil_div(values, 2);
  const uint64_t ramps = lw_ceil_div(wavelets, lw_min(out, into));
  const uint64_t cut = local ? (uint64_t)p->replicas * lw_min(p->rw, p->rh) : lw_min(in->W, in->H);
  return lw_max(ramps, lw_ceil_div(wavelets, 4 * cut));
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
    const uint32_t seq = b * (uint32_t)lw_ceil_div(in->tokens, b);
    if (k->shape_ok && !k->shape_ok(&st, h, w, seq)) break;
    krn_estimate e;
    char why[256];
    if (krn_estimate_stage(&in->m, &in->fc, &st, b, seq, o->consumers, &e, why, sizeof why) != 0) break;
    if (!krn_fits(&in->m, e.sram + resident)) continue;
    const uint64_t cycles = e.latency + (lw_ceil_div(lw_ceil_div(in->tokens, b), copies) - 1) * e.interval;
    if (o->cycles == 0 || cycles < o->cycles) {
      o->st = st, o->est = e, o->b = b, o->cycles = cycles, o->w = w, o->h = h, o->replicas = copies;
      o->steps = (uint32_t)lw_ceil_div(lw_ceil_div(in->tokens, b), copies);
      better = true;
    }
    if (b > UINT32_MAX / 2) break;
  }
  return better;
}

/* The grid an attention's `units` take over the mesh with gy regions down:
 * across as many as they need, at most the mesh's width; 0 when gy - 1 gave
 * the same grid across (its regions taller, its turns no more). */
static uint32_t grid_across(const ws_input *in, uint64_t units, uint32_t gy) {
  if (gy > 1 && lw_ceil_div(units, gy) == lw_ceil_div(units, gy - 1)) return 0;
  return (uint32_t)lw_min(in->W, lw_ceil_div(units, gy));
}

/* Attention on the whole mesh (kernels/mesh_attention.h): each (head,
 * sequence) unit on a region of a gx x gy grid of the mesh, the units taking
 * turns (rounds) where they outnumber the regions; the grid of fewest
 * modelled cycles (rounds x a unit's) whose buffers fit beside the resident
 * weights. Its inputs reach the rows' and the columns' centres (queries,
 * keys and values), its outputs leave the rows' roots. 0, or -1 with err. */
static int place_attention(const ws_input *in, lw_op *o, uint64_t resident, char *err, size_t errlen) {
  const uint32_t heads = o->st.heads ? o->st.heads : 1, T = in->keys;
  const uint64_t units = lw_units(in, &o->st);
  o->cycles = 0;
  for (uint32_t gy = 1; gy <= units && gy <= in->H; gy++) {
    const uint32_t gx = grid_across(in, units, gy);
    if (!gx) continue;
    const uint32_t R = (uint32_t)lw_min(in->H / gy, T), C = (uint32_t)lw_min(in->W / gx, T);
    const uint64_t rounds = lw_ceil_div(units, (uint64_t)gx * gy);
    const krn_mattn_spec sp = {T, o->st.n / heads, R, C, 0, resident};
    krn_mattn_model mo;
    char why[256];
    if (krn_mattn_plan(&in->m, &in->fc, &sp, &mo, why, sizeof why) != 0) continue;
    if (o->cycles == 0 || rounds * mo.cycles < o->cycles) {
      o->aspec = sp, o->aplan = mo, o->cycles = rounds * mo.cycles, o->rounds = (uint32_t)rounds;
      o->steps = (uint32_t)rounds * mo.steps;
      o->replicas = (uint32_t)lw_min(units, (uint64_t)gx * gy), o->w = C, o->h = R;
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

/* Decode attention on the whole mesh (kernels/mesh_decode.h): each
 * (key/value head, sequence) unit's queries (its group's query heads)
 * against its cache on a region of a gx x gy grid of the mesh (at most a PE
 * a key of the first step). Its units of every layer, (unit, layer) pairs,
 * go round the regions, a layer's units on consecutive ones: a region holds
 * the caches of its pairs (every layer's, when the units fill the grid; one
 * layer's, when the grid has a region a pair), at the last step's keys, and
 * a layer's units take turns (rounds) where they outnumber the regions. The
 * grid of fewest modelled cycles (rounds x a unit's at the last step), of
 * those the fewest caches a PE, whose caches fit beside the weights. Its
 * inputs (the query, the new key and value) reach the regions' centres,
 * its outputs leave them. 0, or -1 with err. */
static int place_decode_attention(const ws_input *in, lw_op *o, uint32_t layers, uint64_t resident, char *err,
                                  size_t errlen) {
  const uint32_t heads = o->st.heads ? o->st.heads : 1;
  const uint64_t units = lw_units(in, &o->st), pairs = units * layers;
  const uint32_t group = heads / (o->st.kv_heads ? o->st.kv_heads : heads); /* query heads a unit */
  char why[256] = "no grid";
  o->cycles = 0;
  for (uint32_t gy = 1; gy <= pairs && gy <= in->H; gy++) {
    const uint32_t gx = grid_across(in, pairs, gy);
    if (!gx) continue;
    const uint64_t regions = (uint64_t)gx * gy, rounds = lw_ceil_div(units, regions);
    const uint64_t caches = lw_ceil_div(pairs, regions);
    const uint32_t R = (uint32_t)lw_min(in->H / gy, in->keys_first);
    const uint32_t C = (uint32_t)lw_min(in->W / gx, in->keys_first / R);
    if (caches > UINT32_MAX) continue;
    const krn_mdec_spec sp = {in->keys, in->keys, o->st.n / heads, R, C, (uint32_t)caches, resident, group};
    krn_mdec_model mo;
    if (krn_mdec_plan(&in->m, &in->fc, &sp, &mo, why, sizeof why) != 0) continue;
    if (o->cycles == 0 || rounds * mo.cycles < o->cycles ||
        (rounds * mo.cycles == o->cycles && caches < o->dspec.layers)) {
      o->dspec = sp, o->dplan = mo, o->cycles = rounds * mo.cycles, o->rounds = (uint32_t)rounds;
      o->steps = (uint32_t)rounds;
      o->replicas = (uint32_t)lw_min(units, regions), o->w = C, o->h = R;
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
 *   element-wise ops  w x h PEs holding a feature (rotary: a pair) or more
 *              each (w a power of two, h = the kind's most columns / w),
 *              copies over every replica's region, whole tokens of that
 *              replica each;
 *   the embedding  the whole mesh (its table is the LM head's, held once).
 * 0, or -1 when no shape fits (err says why). */
static int place_stage(const ws_input *in, const lw_plan *p, lw_op *o, uint64_t resident, char *err,
                       size_t errlen) {
  const krn_kind_ops *k = krn_kind_of(o->st.kind);
  const uint32_t most = k->max_cols(&o->st); /* element-wise: PEs it can use, a feature (or a pair) each */
  o->cycles = 0;
  if ((o->local = k->elementwise)) {
    for (uint32_t w = 1; w <= lw_min(p->rw, most); w *= 2) {
      const uint32_t h = (uint32_t)lw_min(p->rh, most / w);
      const uint64_t copies = lw_min(in->tokens, (uint64_t)(p->rw / w) * (p->rh / h) * p->replicas);
      model_stage(in, w, h, (uint32_t)copies, resident, o);
    }
  } else {
    model_stage(in, (uint32_t)lw_min(in->W, k->max_cols(&o->st)), (uint32_t)lw_min(in->H, k->max_rows(&o->st)),
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
  o->tokens = (uint32_t)lw_ceil_div(in->tokens, o->replicas);
  return 0;
}

/* The plan with r replicas, `down` of them down the mesh (r / down across;
 * 0: the longer side halved first), the GEMMs on `kernel`: 0, 1 if its
 * weights do not fit or the grid does not (err says why), -1 on an error. */
int strat_lw_plan(const ws_input *in, uint32_t r, uint32_t down, krn_kernel kernel, lw_plan *p, char *err,
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
    o->h = (uint32_t)lw_min(p->rh, o->st.k);
    o->w = (uint32_t)lw_min(p->rw, o->st.n);
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
      p->resident += dec.dplan.cache_bytes;
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
      const uint64_t after = lw_max(lw_ceil_div(s, parts), s > during ? s - during : 0);
      if ((uint32_t)from + 1 == i && parts > 1) {
        tail = lw_max(tail, l + after);
      } else if ((uint32_t)from + 1 < i && f->end + l + after <= p->cycles) { /* in place before the op before ends */
        continue;
      } else {
        stream += s;
        latency = lw_max(latency, l);
      }
    }
    const uint64_t span = lw_max(lw_max(o->cycles, stream), tail > latency ? tail - latency : 0);
    o->handoff = latency + (span - o->cycles);
    p->cycles += o->handoff + o->cycles;
    o->end = p->cycles;
  }
  return 0;
}
void strat_lw_plan_free(lw_plan *p) {
  if (p) free(p->ops);
}
