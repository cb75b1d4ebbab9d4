/* The GELU stage kind (kind.h): element-wise over r x c PEs (PE l,
 * row-major, features D_l), the tanh approximation. The placer may turn to
 * its next shelf before a GELU (sim/place.c). */
#include <math.h>

#include "kind_internal.h"

static krn_cost pe_cost(const krn_machine *m, const krn_stage *s, uint32_t features, uint32_t b) {
  (void)s;
  return krn_gelu_cost(m, features, b);
}

static float gelu(float a, float unused) {
  (void)unused;
  return 0.5f * a * (1.0f + tanhf(0.7978845608f * (a + 0.044715f * a * a * a)));
}

const krn_kind_ops krn_kind_gelu = {
    .name = "gelu", .named_by_op = true, .inputs = 1, .elementwise = true, .in = KRN_SLOTS_PES,
    .out = KRN_SLOTS_PES, .col_out = true, .turn_before = true,
    .max_rows = krn_elementwise_max_rows, .max_cols = krn_elementwise_max_cols,
    .shape_ok = krn_elementwise_shape_ok, .estimate = krn_elementwise_estimate, .busy = krn_elementwise_busy,
    .setup = krn_elementwise_setup, .pe_setup = krn_elementwise_pe_setup, .compute = krn_elementwise_compute,
    .pe_cost = pe_cost, .value = gelu,
};
