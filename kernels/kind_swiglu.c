/* The SWIGLU stage kind (kind.h): Llama's gated activation silu(gate) x up,
 * element-wise over r x c PEs (PE l, row-major, features D_l), two inputs
 * (the gate's GEMM and the up's). */
#include <math.h>

#include "kind_internal.h"

static int estimate(const krn_machine *m, const fab_config *fc, const krn_stage *s, uint32_t b, uint32_t seq,
                    uint32_t consumers, krn_estimate *e, char *err, size_t errlen) {
  (void)seq, (void)err, (void)errlen;
  return krn_elementwise_estimate(m, fc, s, b, consumers, e, krn_swiglu_cost, false);
}

static uint64_t busy(const krn_machine *m, const krn_stage *s, uint32_t b, uint32_t seq) {
  return krn_elementwise_busy(m, s, b, seq, krn_swiglu_cost);
}

static int pe_setup(krn_pipe *p, uint32_t si, uint32_t l, krn_cost *cost, char *err, size_t errlen) {
  (void)err, (void)errlen;
  const stage *s = &p->st[si];
  *cost = krn_swiglu_cost(&p->m, s->nc[l + 1] - s->nc[l], p->run.b);
  return 0;
}

static float swiglu(float gate, float up) { return gate / (1.0f + expf(-gate)) * up; }

static void compute(krn_pipe *p, uint32_t si, uint32_t l, uint32_t m, uint64_t start) {
  const stage *s = &p->st[si];
  krn_elementwise(p, si, l, m, start, krn_swiglu_cost(&p->m, s->nc[l + 1] - s->nc[l], p->run.b), swiglu);
}

const krn_kind_ops krn_kind_swiglu = {
    .name = "swiglu", .named_by_op = true, .inputs = 2, .elementwise = true, .in = KRN_SLOTS_PES,
    .out = KRN_SLOTS_PES, .col_out = true, .turn_before = true,
    .max_rows = krn_elementwise_max_rows, .max_cols = krn_elementwise_max_cols,
    .shape_ok = krn_elementwise_shape_ok, .estimate = estimate, .busy = busy,
    .setup = krn_elementwise_setup, .pe_setup = pe_setup, .compute = compute,
};
