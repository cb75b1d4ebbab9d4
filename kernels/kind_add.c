/* The ADD stage kind (kind.h): the residual add, element-wise over r x c
 * PEs (PE l, row-major, features D_l), two inputs; the skip input buffers
 * deeper (lower.h), which its PEs' SRAM holds (krn_elementwise_pe_setup). */
#include "kind_internal.h"

static krn_cost pe_cost(const krn_machine *m, const krn_stage *s, uint32_t features, uint32_t b) {
  (void)s;
  return krn_add_cost(m, features, b);
}

static float add(float a, float b) { return a + b; }

const krn_kind_ops krn_kind_add = {
    .name = "add", .named_by_op = true, .inputs = 2, .elementwise = true, .in = KRN_SLOTS_PES,
    .out = KRN_SLOTS_PES, .col_out = true,
    .max_rows = krn_elementwise_max_rows, .max_cols = krn_elementwise_max_cols,
    .shape_ok = krn_elementwise_shape_ok, .estimate = krn_elementwise_estimate, .busy = krn_elementwise_busy,
    .setup = krn_elementwise_setup, .pe_setup = krn_elementwise_pe_setup, .compute = krn_elementwise_compute,
    .pe_cost = pe_cost, .value = add,
};
