/* The SWIGLU stage kind (kind.h): Llama's gated activation silu(gate) x up,
 * element-wise over r x c PEs (PE l, row-major, features D_l), two inputs
 * (the gate's GEMM and the up's). */
#include <math.h>

#include "kind_internal.h"

static krn_cost pe_cost(const krn_machine *m, const krn_stage *s, uint32_t features, uint32_t b) {
  (void)s;
  return krn_swiglu_cost(m, features, b);
}

static float swiglu(float gate, float up) { return gate / (1.0f + expf(-gate)) * up; }

const krn_kind_ops krn_kind_swiglu = {
    .name = "swiglu", .named_by_op = true, .inputs = 2, .elementwise = true, .in = KRN_SLOTS_PES,
    .out = KRN_SLOTS_PES, .col_out = true, .turn_before = true,
    .max_rows = krn_elementwise_max_rows, .max_cols = krn_elementwise_max_cols,
    .shape_ok = krn_elementwise_shape_ok, .estimate = krn_elementwise_estimate, .busy = krn_elementwise_busy,
    .setup = krn_elementwise_setup, .pe_setup = krn_elementwise_pe_setup, .compute = krn_elementwise_compute,
    .pe_cost = pe_cost, .value = swiglu,
};
