/* The kind tables (kind.h) by kind, and what is asked of any kind. */
#include "kind_internal.h"

#include <stdlib.h>

const krn_kind_ops *krn_kind_of(krn_stage_kind k) {
  static const krn_kind_ops *const tables[] = {
      [KRN_STAGE_EMBED] = &krn_kind_embed,         [KRN_STAGE_GEMM] = &krn_kind_gemm,
      [KRN_STAGE_ATTENTION] = &krn_kind_attention, [KRN_STAGE_LAYERNORM] = &krn_kind_layernorm,
      [KRN_STAGE_GELU] = &krn_kind_gelu,           [KRN_STAGE_ADD] = &krn_kind_add,
      [KRN_STAGE_SWIGLU] = &krn_kind_swiglu,       [KRN_STAGE_ROTARY] = &krn_kind_rotary,
  };
  SIM_CHECK((unsigned)k < sizeof tables / sizeof tables[0], "no stage kind %d", (int)k);
  return tables[k];
}

uint32_t krn_slots_count(krn_slots layout, uint32_t r, uint32_t c) {
  return layout == KRN_SLOTS_ROWS ? r : layout == KRN_SLOTS_PES ? r * c : c;
}

bool krn_kind_entry(const krn_stage *s) {
  const krn_kind_ops *o = krn_kind_of(s->kind);
  return o->inputs == 0 || (o->host_input && s->in[0] < 0);
}

uint32_t krn_kind_in_features(const krn_stage *s, uint32_t i) {
  const krn_kind_ops *o = krn_kind_of(s->kind);
  return o->in_k ? s->k : o->in_width ? o->in_width(s, i) : s->n;
}

uint64_t krn_kind_slot_start(const krn_stage *s, uint32_t f, uint32_t slots, uint32_t j) {
  const krn_kind_ops *o = krn_kind_of(s->kind);
  return o->slot_start ? o->slot_start(s, f, slots, j) : (uint64_t)j * f / slots;
}

float *krn_values_fill(uint64_t seed, const char *op, wl_values_role role, uint32_t rows, uint32_t cols) {
  float *v = malloc(((size_t)rows * cols + 1) * sizeof *v);
  if (v) wl_values_fill(seed, op, role, rows, cols, v);
  return v;
}
