/* The LAYERNORM stage kind (kind.h): element-wise over r x c PEs (PE l,
 * row-major, features D_l); each PE sums its features and their squares
 * per token (phase 1), the sums are all-reduced over the region, and each
 * PE normalises with the gain and shift (phase 2). RMSNorm (krn_stage.rms)
 * is the same with the sum of squares alone, no mean and no shift (its
 * all-reduce still carries both sums: a value a token more than it needs). */
#include <math.h>

#include "kind_internal.h"

static krn_cost pe_cost(const krn_machine *m, const krn_stage *s, uint32_t features, uint32_t b) {
  return krn_norm_cost(m, s->rms, features, b);
}

static int setup(krn_pipe *p, uint32_t si, char *err, size_t errlen) {
  stage *s = &p->st[si];
  if (krn_elementwise_setup(p, si, err, errlen) != 0) return -1;
  if (s->rows * s->cols == 1) return 0;
  if (!(s->max = calloc(s->cols, sizeof *s->max))) return krn_shape_error(s, "out of memory", err, errlen);
  return (s->max[0] = fab_coll_reduce(p->f, s->s.region, 1, err, errlen)) ? 0 : -1; /* the statistics */
}

static int arm(krn_pipe *p, uint32_t si, uint32_t m, char *err, size_t errlen) {
  stage *s = &p->st[si];
  const uint32_t v = 2 * p->run.b; /* a sum and a sum of squares per token */
  return s->max ? krn_round(p, si, s->max[0], 0, m, v, v, FAB_SUM, KRN_COLL_MAX, err, errlen) : 0;
}

/* Phase 2 at PE l, the region's sums in: normalise. */
static void phase2(krn_pipe *p, uint32_t si, uint32_t l, uint32_t m, bool row, const float *sums, uint64_t at) {
  (void)row; /* its one all-reduce */
  stage *s = &p->st[si];
  const krn_stage *k = &s->s;
  const uint32_t b = p->run.b, n0 = s->nc[l], nt = s->nc[l + 1] - n0;
  const uint64_t start = krn_max_u64(krn_max_u64(at, fab_now(p->f)), s->pe[l].core_free);
  const uint64_t end = krn_charge(p, s, l, start, krn_norm_phase(&p->m, k->rms, 2, nt, b));
  float *y = NULL;
  if (p->run.functional) {
    const float *x = s->in[0][l].vals[m % RING];
    y = krn_new_values((size_t)b * nt);
    for (uint32_t t = 0; t < b; t++) {
      const float mean = k->rms ? 0.0f : sums[2 * t] / (float)k->n;
      const float var = sums[2 * t + 1] / (float)k->n - mean * mean;
      const float inv = 1.0f / sqrtf(var + 1e-5f);
      for (uint32_t f = 0; f < nt; f++)
        y[(size_t)t * nt + f] =
            (x[(size_t)t * nt + f] - mean) * inv * k->weight[n0 + f] + (k->bias ? k->bias[n0 + f] : 0.0f);
    }
  }
  krn_freed(p, si, l, m, end);
  krn_output(p, si, l, m, end, y);
}

/* Phase 1 at PE l: sum and sum of squares per token, over its features. */
static void compute(krn_pipe *p, uint32_t si, uint32_t l, uint32_t m, uint64_t start) {
  stage *s = &p->st[si];
  const uint32_t b = p->run.b, nt = s->nc[l + 1] - s->nc[l];
  const uint64_t end = krn_charge(p, s, l, start, krn_norm_phase(&p->m, s->s.rms, 1, nt, b));
  float *sums = NULL;
  if (p->run.functional) {
    const float *x = s->in[0][l].vals[m % RING];
    sums = krn_new_values(2 * (size_t)b);
    for (uint32_t t = 0; t < b; t++)
      for (uint32_t f = 0; f < nt; f++) {
        sums[2 * t] += x[(size_t)t * nt + f];
        sums[2 * t + 1] += x[(size_t)t * nt + f] * x[(size_t)t * nt + f];
      }
  }
  if (s->max)
    krn_ready(p, krn_pe_mb(s, l, m)->max, end, sums);
  else
    phase2(p, si, l, m, false, sums, end);
  free(sums);
}

static bool has_values(const krn_stage *s, const krn_run *run) {
  (void)run;
  return s->weight && (s->bias || s->rms);
}

static int values(const krn_stage *s, uint64_t seed, uint32_t seq, float **w, float **b) {
  (void)seq;
  *w = krn_values_fill(seed, s->name, WL_VALUES_GAIN, 1, s->n);
  *b = s->rms ? NULL : krn_values_fill(seed, s->name, WL_VALUES_SHIFT, 1, s->n);
  return *w && (*b || s->rms) ? 0 : -1;
}

const krn_kind_ops krn_kind_layernorm = {
    .name = "layernorm", .named_by_op = true, .inputs = 1, .elementwise = true, .in = KRN_SLOTS_PES,
    .out = KRN_SLOTS_PES, .col_out = true, .routes_in = 4, .routes_out = 4, /* its all-reduce */
    .max_rows = krn_elementwise_max_rows, .max_cols = krn_elementwise_max_cols,
    .shape_ok = krn_elementwise_shape_ok, .estimate = krn_elementwise_estimate, .busy = krn_elementwise_busy,
    .setup = setup, .pe_setup = krn_elementwise_pe_setup, .arm = arm, .compute = compute, .all_reduced = phase2,
    .has_values = has_values, .values = values, .pe_cost = pe_cost, .all_reduces = true,
};
