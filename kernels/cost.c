/* The PE cost model (formulas in cost.h). */
#include "cost.h"

static uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }
static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

const char *krn_kernel_name(krn_kernel k) {
  return k == KRN_SPARSE ? "sparse" : k == KRN_DENSE ? "dense" : "auto";
}

krn_cost krn_gemm_cost(const krn_machine *m, krn_kernel k, uint32_t kt, uint32_t nt, uint64_t nnz,
                       uint32_t b) {
  const uint64_t s = m->simd_fp16;
  krn_cost c = {m->task_switch, 0, m->sram_reserve, 0};
  c.sram += 2 * (uint64_t)kt * b * 2 + 2 * (uint64_t)nt * b * m->acc_bytes; /* x and y, double */
  if (k == KRN_SPARSE) {
    c.cycles += nnz * (m->sparse_setup + ceil_div(b, s));
    c.macs = nnz * b;
    c.weights = 4 * nnz + 2 * (uint64_t)kt;
  } else {
    c.cycles += min_u64((uint64_t)kt * b * (m->dense_setup + ceil_div(nt, s)),
                        (uint64_t)kt * nt * (m->dense_setup + ceil_div(b, s)));
    c.macs = (uint64_t)kt * nt * b;
    c.weights = 2 * (uint64_t)kt * nt;
  }
  c.sram += c.weights;
  return c;
}

krn_kernel krn_gemm_pick(const krn_machine *m, uint32_t kt, uint32_t nt, uint64_t nnz, uint32_t b) {
  return krn_gemm_cost(m, KRN_SPARSE, kt, nt, nnz, b).cycles <
                 krn_gemm_cost(m, KRN_DENSE, kt, nt, nnz, b).cycles
             ? KRN_SPARSE
             : KRN_DENSE;
}

uint64_t krn_attn_pairs(uint32_t b, uint32_t mb, uint32_t row, uint32_t rows) {
  uint64_t pairs = 0;
  for (uint32_t q = 0; q < b; q++) {
    const uint64_t last = (uint64_t)mb * b + q; /* keys 0 .. last */
    if (last >= row) pairs += (last - row) / rows + 1;
  }
  return pairs;
}

krn_cost krn_attn_phase(const krn_machine *m, int phase, uint32_t heads, uint32_t dh, uint64_t pairs) {
  const uint64_t ph = pairs * heads, dots = ph * ceil_div(dh, m->simd_fp16);
  krn_cost c = {m->task_switch + dots + ph * (phase == 1 ? 1 : (uint64_t)m->exp_cycles + 1), ph * dh, 0, 0};
  return c;
}

krn_cost krn_attn_cost(const krn_machine *m, uint32_t heads, uint32_t dh, uint64_t pairs, uint32_t b,
                       uint32_t rows, uint32_t seq, uint32_t sequences) {
  const uint64_t keys = ceil_div(seq, rows), held = keys * (sequences ? sequences : 1);
  const krn_cost p1 = krn_attn_phase(m, 1, heads, dh, pairs), p2 = krn_attn_phase(m, 2, heads, dh, pairs);
  krn_cost c = {0};
  c.cycles = p1.cycles + p2.cycles;
  c.macs = p1.macs + p2.macs;
  c.sram = m->sram_reserve + held * heads * dh * 2 * 2 /* K and V cache of every sequence, fp16 */
           + 2 * (uint64_t)b * heads * dh * 2           /* the micro-batch's queries, double-buffered */
           + 2 * 2 * ceil_div(b, rows) * heads * dh * 2 /* its own tokens' keys and values, double-buffered */
           + (uint64_t)b * keys * heads * 4             /* scores, fp32 */
           + 2 * (uint64_t)b * heads * (dh + 2) * 4;    /* partial outputs, max and sum */
  return c;
}

krn_cost krn_attn_norm_cost(const krn_machine *m, uint32_t features, uint32_t b) {
  krn_cost c = {m->task_switch + ceil_div((uint64_t)b * features, m->simd_fp32), 0, 0, 0};
  return c;
}

krn_cost krn_attn_merge_cost(const krn_machine *m, uint32_t dh, uint32_t b) {
  const uint64_t v = (uint64_t)b * (dh + 1);
  krn_cost c = {m->task_switch + 2 * (uint64_t)b * m->exp_cycles + 3 * ceil_div(v, m->simd_fp32), 0, 0, 0};
  return c;
}

krn_cost krn_norm_phase(const krn_machine *m, bool rms, int phase, uint32_t features, uint32_t b) {
  const uint64_t e = (uint64_t)features * b, ops = rms && phase == 1 ? e : 2 * e; /* RMSNorm sums squares only */
  krn_cost c = {m->task_switch + ceil_div(ops, m->simd_fp32), ops, 0, 0};
  if (phase == 2) c.cycles += (uint64_t)b * m->exp_cycles; /* an inverse square root per token */
  return c;
}

krn_cost krn_norm_cost(const krn_machine *m, bool rms, uint32_t features, uint32_t b) {
  const uint64_t e = (uint64_t)features * b, sums = rms ? 1 : 2; /* per token: its sums */
  const krn_cost p1 = krn_norm_phase(m, rms, 1, features, b), p2 = krn_norm_phase(m, rms, 2, features, b);
  krn_cost c = {0};
  c.cycles = p1.cycles + p2.cycles;
  c.macs = p1.macs + p2.macs;
  c.weights = sums * features * 2; /* gain (and shift), fp16 */
  c.sram = m->sram_reserve + c.weights + 2 * 2 * e * 2 + 2 * sums * (uint64_t)b * 4;
  return c;
}

krn_cost krn_swiglu_cost(const krn_machine *m, uint32_t features, uint32_t b) {
  const uint64_t e = (uint64_t)features * b;
  krn_cost c = {0};
  c.cycles = m->task_switch + e * m->exp_cycles + ceil_div(4 * e, m->simd_fp16);
  c.macs = 4 * e;
  c.sram = m->sram_reserve + 3 * 2 * e * 2; /* two inputs and the output, double-buffered */
  return c;
}

krn_cost krn_rotary_cost(const krn_machine *m, uint32_t features, uint32_t b) {
  const uint64_t e = (uint64_t)features * b;
  krn_cost c = {0};
  c.cycles = m->task_switch + ceil_div(2 * e, m->simd_fp16) + ceil_div(2 * e, m->simd_fp32);
  c.macs = 4 * e;
  c.weights = (uint64_t)features * 4; /* a base rotation a pair: 2 fp32 values */
  c.sram = m->sram_reserve + c.weights + 2 * 2 * e * 2 + (uint64_t)features * 4; /* + the angles advanced */
  return c;
}

krn_cost krn_gelu_cost(const krn_machine *m, uint32_t features, uint32_t b) {
  const uint64_t e = (uint64_t)features * b;
  krn_cost c = {0};
  c.cycles = m->task_switch + e * m->exp_cycles + ceil_div(5 * e, m->simd_fp16);
  c.macs = 5 * e;
  c.sram = m->sram_reserve + 2 * 2 * e * 2;
  return c;
}

krn_cost krn_add_cost(const krn_machine *m, uint32_t features, uint32_t b) {
  const uint64_t e = (uint64_t)features * b;
  krn_cost c = {0};
  c.cycles = m->task_switch + ceil_div(e, m->simd_fp16);
  c.macs = 0;
  c.sram = m->sram_reserve + 3 * 2 * e * 2; /* two inputs and the output, double-buffered */
  return c;
}

krn_cost krn_embed_cost(const krn_machine *m, uint32_t rows, uint32_t features, uint32_t hits,
                        uint32_t b) {
  krn_cost c = {0};
  c.cycles = m->task_switch + (uint64_t)hits * ceil_div(features, m->simd_fp16);
  c.macs = 0;
  c.weights = (uint64_t)rows * features * 2;
  c.sram = m->sram_reserve + c.weights + 2 * (uint64_t)b * 4 + 2 * (uint64_t)features * b * 2;
  return c;
}

bool krn_fits(const krn_machine *m, uint64_t sram) { return sram <= m->sram; }
