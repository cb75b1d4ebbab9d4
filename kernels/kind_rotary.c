/* The ROTARY stage kind (kind.h): Llama's rotary position on queries or
 * keys, element-wise over r x c PEs (PE l, row-major), one input. PE l
 * holds whole pairs of adjacent features (cut points even: its slots start
 * on a pair), and turns each pair (x, y) of a head at position p by angle
 * p theta^(-2i / dh), i the pair's index in its head: (x cos - y sin,
 * x sin + y cos), as Meta's reference code does on complex pairs. Its cost
 * is krn_rotary_cost's. */
#include <math.h>

#include "kind_internal.h"

static krn_cost pe_cost(const krn_machine *m, const krn_stage *s, uint32_t features, uint32_t b) {
  (void)s;
  return krn_rotary_cost(m, features, b);
}

static int setup(krn_pipe *p, uint32_t si, char *err, size_t errlen) {
  const stage *s = &p->st[si];
  if (s->s.heads == 0 || s->s.n % s->s.heads != 0 || (s->s.n / s->s.heads) % 2 != 0)
    return krn_shape_error(s, "needs heads of an even number of features", err, errlen);
  if (krn_elementwise_setup(p, si, err, errlen) != 0) return -1;
  for (uint32_t l = 0; l <= s->rows * s->cols; l++)
    if (s->nc[l] % 2 != 0) return krn_shape_error(s, "needs whole pairs of features at each PE", err, errlen);
  return 0;
}

static void compute(krn_pipe *p, uint32_t si, uint32_t l, uint32_t m, uint64_t start) {
  stage *s = &p->st[si];
  const uint32_t b = p->run.b, f0 = s->nc[l], nt = s->nc[l + 1] - f0, dh = s->s.n / s->s.heads;
  const uint64_t end = krn_charge(p, s, l, start, krn_rotary_cost(&p->m, nt, b));
  float *y = NULL;
  if (p->run.functional) {
    const float *x = s->in[0][l].vals[m % RING];
    y = krn_new_values((size_t)b * nt);
    for (uint32_t t = 0; t < b; t++) {
      const double pos = (double)krn_mb_in_seq(&p->run, m) * b + t;
      for (uint32_t f = 0; f + 1 < nt; f += 2) {
        const uint32_t i = (f0 + f) % dh / 2;
        const double a = pos * pow(s->s.rope_theta, -2.0 * i / dh);
        const float c = (float)cos(a), sn = (float)sin(a), u = x[(size_t)t * nt + f], v = x[(size_t)t * nt + f + 1];
        y[(size_t)t * nt + f] = u * c - v * sn;
        y[(size_t)t * nt + f + 1] = u * sn + v * c;
      }
    }
  }
  krn_freed(p, si, l, m, end);
  krn_output(p, si, l, m, end, y);
}

/* Pairs: at most n / 2 PEs, slots starting on a pair. */
static uint32_t max_cols(const krn_stage *s) { return s->n / 2; }
static bool shape_ok(const krn_stage *s, uint32_t r, uint32_t c, uint32_t seq) {
  (void)seq;
  return (uint64_t)r * c <= s->n / 2;
}
static uint64_t slot_start(const krn_stage *s, uint32_t f, uint32_t slots, uint32_t j) {
  (void)s;
  return 2 * ((uint64_t)j * (f / 2) / slots) + (j == slots ? f % 2 : 0);
}

const krn_kind_ops krn_kind_rotary = {
    .name = "rotary", .named_by_op = true, .inputs = 1, .elementwise = true, .in = KRN_SLOTS_PES,
    .out = KRN_SLOTS_PES, .col_out = true,
    .max_rows = krn_elementwise_max_rows, .max_cols = max_cols, .slot_start = slot_start,
    .shape_ok = shape_ok, .estimate = krn_elementwise_estimate, .busy = krn_elementwise_busy,
    .setup = setup, .pe_setup = krn_elementwise_pe_setup, .compute = compute, .pe_cost = pe_cost,
};
