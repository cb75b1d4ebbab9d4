/* The stage model of estimate.h: per-PE costs and traffic from cost.h and
 * the data movement of stages.c, without the engine. */
#include "estimate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }
static uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

/* The cut points the pipeline takes: given, or n split evenly in parts. */
static uint32_t cut(const uint32_t *given, uint32_t n, uint32_t parts, uint32_t i) {
  return given ? given[i] : (uint32_t)((uint64_t)i * n / parts);
}

/* GEMM tile (i, j) of an r x c region: its shape, nonzeros, the kernel it
 * runs and its compute per micro-batch of b tokens (the output row's bias
 * add included). */
typedef struct {
  uint32_t kt, nt;
  uint64_t nnz;
  krn_kernel kernel;
  krn_cost cost;
} gemm_tile;

static gemm_tile tile_of(const krn_machine *m, const krn_stage *s, uint32_t b, uint32_t i, uint32_t j) {
  const uint32_t r = s->region.h, c = s->region.w;
  gemm_tile t;
  const uint32_t k0 = cut(s->k_cut, s->k, r, i), n0 = cut(s->n_cut, s->n, c, j);
  t.kt = cut(s->k_cut, s->k, r, i + 1) - k0;
  t.nt = cut(s->n_cut, s->n, c, j + 1) - n0;
  t.nnz = s->mask ? wl_mask_count(s->mask, k0, k0 + t.kt, n0, n0 + t.nt) : (uint64_t)t.kt * t.nt;
  t.kernel = s->kernel == KRN_AUTO ? krn_gemm_pick(m, t.kt, t.nt, t.nnz, b) : s->kernel;
  t.cost = krn_gemm_cost(m, t.kernel, t.kt, t.nt, t.nnz, b);
  if (i == krn_gemm_out_row(s) && s->bias_add) t.cost.cycles += krn_add_cost(m, t.nt, b).cycles;
  return t;
}

/* Track one PE's figures into the stage's maxima. */
static void pe(krn_estimate *e, krn_cost c, uint64_t in, uint64_t out) {
  e->compute = max_u64(e->compute, c.cycles);
  e->sram = max_u64(e->sram, c.sram);
  e->ramp_in = max_u64(e->ramp_in, in);
  e->ramp_out = max_u64(e->ramp_out, out);
}

static int gemm(const krn_machine *m, const fab_config *fc, const krn_stage *s, uint32_t b, uint32_t consumers,
                krn_estimate *e) {
  const uint32_t r = s->region.h, c = s->region.w, acc = m->acc_bytes;
  const uint64_t hop_red = 2 * fc->ramp_latency + fc->hop_latency + fc->add_latency;
  uint64_t nnz_sum = 0, kt_max = 0, nt_max = 0;
  for (uint32_t i = 0; i < r; i++) {
    for (uint32_t j = 0; j < c; j++) {
      const gemm_tile t = tile_of(m, s, b, i, j);
      const uint32_t kt = t.kt, nt = t.nt;
      const uint64_t nnz = t.nnz;
      const krn_kernel k = t.kernel;
      const uint64_t x = ceil_div((uint64_t)kt * b, 2), part = ceil_div((uint64_t)nt * b * acc, 4);
      pe(e, t.cost, x + (i > 0 ? part : 0),
         (j == 0 && c > 1 ? x : 0) + (i + 1 < r ? part : consumers * ceil_div((uint64_t)nt * b, 2)));
      e->sparse_pes += k == KRN_SPARSE;
      nnz_sum += nnz;
      if (nnz > e->nnz_max) e->nnz_max = nnz;
      kt_max = max_u64(kt_max, kt);
      nt_max = max_u64(nt_max, nt);
    }
  }
  e->nnz_mean = (double)nnz_sum / ((double)r * c);
  e->tile_k = (uint32_t)kt_max;
  e->tile_n = (uint32_t)nt_max;
  const uint64_t x = ceil_div(kt_max * b, 2), part = ceil_div(nt_max * b * acc, 4), y = ceil_div(nt_max * b, 2);
  e->latency = x + (uint64_t)(c - 1) * fc->hop_latency + 2 * fc->ramp_latency + e->compute +
               (r > 1 ? part + (uint64_t)(r - 1) * hop_red : 0) + consumers * y;
  return 0;
}

/* Causal pairs of the keys row i of r holds, over the whole sequence. */
static uint64_t attn_pairs_all(uint32_t seq, uint32_t i, uint32_t r) {
  uint64_t n = 0;
  for (uint32_t q = i; q < seq; q++) n += (q - i) / r + 1;
  return n;
}

static int attention(const krn_machine *m, const fab_config *fc, const krn_stage *s, uint32_t b, uint32_t seq,
                     uint32_t consumers, krn_estimate *e, char *err, size_t errlen) {
  const uint32_t r = s->region.h, c = s->region.w;
  if (s->heads == 0 || s->n % s->heads != 0 || c > s->heads) {
    snprintf(err, errlen, "attention %s: %u columns for %u heads (at most one column per head)", s->name, c,
             s->heads);
    return -1;
  }
  const uint32_t dh = s->n / s->heads, mbs = seq / b;
  const uint64_t hop_red = 2 * fc->ramp_latency + fc->hop_latency + fc->add_latency;
  const uint64_t pairs = ceil_div(attn_pairs_all(seq, 0, r), mbs); /* row 0 holds the most */
  for (uint32_t j = 0; j < c; j++) {
    const uint32_t heads = cut(NULL, s->heads, c, j + 1) - cut(NULL, s->heads, c, j), nt = heads * dh;
    const krn_cost cost = krn_attn_cost(m, heads, dh, pairs, b, r, seq);
    krn_cost with_norm = cost; /* the output PE also normalises */
    with_norm.cycles += krn_attn_norm_cost(m, nt, b).cycles;
    const uint64_t qkv = 3 * ceil_div((uint64_t)b * nt, 2), part = (uint64_t)b * heads * (dh + 1),
                   mx = (uint64_t)b * heads;
    const uint32_t root = krn_attn_row(r, c, j, KRN_ATTN_OUT), sides = (root > 0) + (root + 1 < r);
    /* every PE takes q, k and v (the PE of an input from the producer, the
       others relayed); the output PE takes both sides of the reductions and
       sends; the others pass one side on, and an input's PE relays it */
    const uint64_t out = consumers * ceil_div((uint64_t)b * nt, 2);
    if (r == 1) pe(e, with_norm, qkv, out);
    for (uint32_t port = 0; r > 1 && port < 4; port++) { /* the rows of the four ports, and one other */
      const uint32_t row = krn_attn_row(r, c, j, port);
      uint64_t relays = 0;
      for (uint32_t in = 0; in < 3; in++) relays += krn_attn_row(r, c, j, in) == row ? qkv / 3 : 0;
      if (row == root) pe(e, with_norm, qkv + sides * (part + mx), mx + out + relays);
      else pe(e, cost, qkv + part + 2 * mx, part + mx + relays);
    }
    e->tile_n = e->tile_n > nt ? e->tile_n : nt;
    e->latency = max_u64(e->latency, qkv + (uint64_t)(r - 1) * fc->hop_latency + with_norm.cycles +
                                         (r > 1 ? 2 * (part + mx) + (uint64_t)r * hop_red : 0) +
                                         consumers * ceil_div((uint64_t)b * nt, 2));
  }
  return 0;
}

static int elementwise(const krn_machine *m, const fab_config *fc, const krn_stage *s, uint32_t b,
                       uint32_t consumers, krn_estimate *e) {
  const uint32_t r = s->region.h, c = s->region.w, pes = r * c;
  const uint64_t hop_red = 2 * fc->ramp_latency + fc->hop_latency + fc->add_latency;
  const uint32_t inputs = s->kind == KRN_STAGE_ADD ? 2 : 1;
  uint64_t f_max = 0;
  for (uint32_t l = 0; l < pes; l++) {
    const uint32_t f = cut(s->n_cut, s->n, pes, l + 1) - cut(s->n_cut, s->n, pes, l);
    f_max = max_u64(f_max, f);
    krn_cost cost = s->kind == KRN_STAGE_LAYERNORM ? krn_layernorm_cost(m, f, b)
                    : s->kind == KRN_STAGE_GELU    ? krn_gelu_cost(m, f, b)
                                                   : krn_add_cost(m, f, b);
    cost.sram += krn_depth_sram(s, (uint64_t)f * b); /* a residual's deeper buffers */
    const uint64_t x = ceil_div((uint64_t)f * b, 2), sums = s->kind == KRN_STAGE_LAYERNORM && pes > 1 ? 2 * b : 0;
    /* layernorm: the corner takes a row's and a column's sums and multicasts them back */
    pe(e, cost, inputs * x + (l == 0 ? 2 * sums : sums), consumers * x + sums);
  }
  e->tile_n = (uint32_t)f_max;
  const uint64_t x = ceil_div(f_max * b, 2);
  e->latency = inputs * x + e->compute + consumers * x +
               (s->kind == KRN_STAGE_LAYERNORM && pes > 1 ? 4 * b + (uint64_t)(r + c) * hop_red : 0);
  return 0;
}

static int embed(const krn_machine *m, const fab_config *fc, const krn_stage *s, uint32_t b, uint32_t seq,
                 uint32_t consumers, krn_estimate *e) {
  const uint32_t r = s->region.h, c = s->region.w, acc = m->acc_bytes;
  const uint64_t hop_red = 2 * fc->ramp_latency + fc->hop_latency + fc->add_latency;
  const uint32_t kk = krn_embed_rows(s, seq);
  for (uint32_t j = 0; j < c; j++) { /* the table's rows over the columns, features over the rows */
    const uint32_t v0 = cut(s->k_cut, kk, c, j), v1 = cut(s->k_cut, kk, c, j + 1), rows = v1 - v0;
    /* hits: the expected share of token ids, and up to b positions */
    const uint64_t ids = v0 < s->k ? ceil_div((uint64_t)b * ((v1 < s->k ? v1 : s->k) - v0), s->k) : 0;
    const uint64_t pos = v1 > s->k ? (v1 - (v0 > s->k ? v0 : s->k) < b ? v1 - (v0 > s->k ? v0 : s->k) : b) : 0;
    for (uint32_t i = 0; i < r; i++) {
      const uint32_t nt = cut(s->n_cut, s->n, r, i + 1) - cut(s->n_cut, s->n, r, i);
      const krn_cost cost = krn_embed_cost(m, rows, nt, (uint32_t)(ids + pos), b);
      const uint64_t part = ceil_div((uint64_t)nt * b * acc, 4);
      pe(e, cost, j > 0 ? part : 0, j + 1 < c ? part : consumers * ceil_div((uint64_t)nt * b, 2));
      e->nnz_max = max_u64(e->nnz_max, rows);
      e->tile_k = e->tile_k > rows ? e->tile_k : rows;
      e->tile_n = e->tile_n > nt ? e->tile_n : nt;
    }
  }
  e->latency = e->compute + (c > 1 ? ceil_div((uint64_t)e->tile_n * b * acc, 4) + (uint64_t)(c - 1) * hop_red : 0) +
               consumers * ceil_div((uint64_t)e->tile_n * b, 2);
  return 0;
}

int krn_estimate_stage(const krn_machine *m, const fab_config *fc, const krn_stage *s, uint32_t b, uint32_t seq,
                       uint32_t consumers, krn_estimate *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  const uint32_t r = s->region.h, c = s->region.w;
  const bool elem = s->kind == KRN_STAGE_LAYERNORM || s->kind == KRN_STAGE_GELU || s->kind == KRN_STAGE_ADD;
  if (r == 0 || c == 0 || b == 0 || seq % b != 0 || (s->kind == KRN_STAGE_GEMM && (r > s->k || c > s->n)) ||
      (s->kind == KRN_STAGE_EMBED && (c > krn_embed_rows(s, seq) || r > s->n)) ||
      (elem && (uint64_t)r * c > s->n)) {
    snprintf(err, errlen, "stage %s: %u x %u PEs leave a PE without a tile or feature (k %u, n %u)", s->name, c, r,
             s->k, s->n);
    return -1;
  }
  out->pes = r * c;
  int rc = 0;
  switch (s->kind) {
    case KRN_STAGE_GEMM: rc = gemm(m, fc, s, b, consumers, out); break;
    case KRN_STAGE_ATTENTION: rc = attention(m, fc, s, b, seq, consumers, out, err, errlen); break;
    case KRN_STAGE_EMBED: rc = embed(m, fc, s, b, seq, consumers, out); break;
    default: rc = elementwise(m, fc, s, b, consumers, out); break;
  }
  out->fits = krn_fits(m, out->sram);
  out->interval = max_u64(max_u64(out->compute, out->ramp_in * fc->consume_cycles),
                          max_u64(out->ramp_out, ceil_div(out->latency, 2)));
  return rc;
}

/* The token-id hits of an embedding column holding table rows [v0, v1) in a
 * micro-batch of b uniform ids (the expected share, rounded up), and the
 * position rows of micro-batch mb it holds: what the stage's program charges. */
static uint64_t embed_hits(const krn_stage *s, uint32_t v0, uint32_t v1, uint32_t b, uint32_t mb) {
  uint64_t hits = v0 < s->k ? ceil_div((uint64_t)b * ((v1 < s->k ? v1 : s->k) - v0), s->k) : 0;
  for (uint32_t t = 0; s->bias_add && t < b; t++) {
    const uint64_t row = (uint64_t)s->k + (uint64_t)mb * b + t;
    hits += row >= v0 && row < v1;
  }
  return hits;
}

uint64_t krn_estimate_busy(const krn_machine *m, const krn_stage *s, uint32_t b, uint32_t seq) {
  const uint32_t r = s->region.h, c = s->region.w, mbs = b ? seq / b : 0;
  uint64_t best = 0;
  switch (s->kind) {
    case KRN_STAGE_GEMM:
      for (uint32_t i = 0; i < r; i++)
        for (uint32_t j = 0; j < c; j++) best = max_u64(best, mbs * tile_of(m, s, b, i, j).cost.cycles);
      break;
    case KRN_STAGE_ATTENTION:
      if (s->heads == 0 || s->n % s->heads != 0) return 0;
      for (uint32_t j = 0; j < c; j++) {
        const uint32_t heads = cut(NULL, s->heads, c, j + 1) - cut(NULL, s->heads, c, j), dh = s->n / s->heads;
        const uint32_t root = krn_attn_row(r, c, j, KRN_ATTN_OUT);
        for (uint32_t i = 0; i < r; i++) {
          uint64_t sum = 0;
          for (uint32_t mb = 0; mb < mbs; mb++) {
            const uint64_t pairs = krn_attn_pairs(b, mb, i, r);
            sum += krn_attn_phase(m, 1, heads, dh, pairs).cycles + krn_attn_phase(m, 2, heads, dh, pairs).cycles;
          }
          if (i == root) sum += mbs * krn_attn_norm_cost(m, heads * dh, b).cycles;
          best = max_u64(best, sum);
        }
      }
      break;
    case KRN_STAGE_EMBED: {
      const uint32_t kk = krn_embed_rows(s, seq);
      for (uint32_t j = 0; j < c; j++) {
        const uint32_t v0 = cut(s->k_cut, kk, c, j), v1 = cut(s->k_cut, kk, c, j + 1);
        for (uint32_t i = 0; i < r; i++) {
          const uint32_t nt = cut(s->n_cut, s->n, r, i + 1) - cut(s->n_cut, s->n, r, i);
          uint64_t sum = 0;
          for (uint32_t mb = 0; mb < mbs; mb++)
            sum += krn_embed_cost(m, v1 - v0, nt, (uint32_t)embed_hits(s, v0, v1, b, mb), b).cycles;
          best = max_u64(best, sum);
        }
      }
      break;
    }
    default:
      for (uint32_t l = 0; l < r * c; l++) {
        const uint32_t f = cut(s->n_cut, s->n, r * c, l + 1) - cut(s->n_cut, s->n, r * c, l);
        const krn_cost cost = s->kind == KRN_STAGE_LAYERNORM ? krn_layernorm_cost(m, f, b)
                              : s->kind == KRN_STAGE_GELU    ? krn_gelu_cost(m, f, b)
                                                             : krn_add_cost(m, f, b);
        best = max_u64(best, mbs * cost.cycles);
      }
      break;
  }
  return best;
}
