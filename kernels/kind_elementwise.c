/* What the element-wise stage kinds (kind_layernorm.c, kind_gelu.c,
 * kind_add.c, kind_swiglu.c, kind_rotary.c) share: r x c PEs, PE l
 * (row-major) holding features D_l of every token (the stage's cut points,
 * or its kind's slot starts), an input and an output slot at each PE. */
#include "kind_internal.h"

/* Where PE l's features start, of `pes`. */
static uint32_t cut(const krn_stage *s, uint32_t pes, uint32_t l) {
  return s->n_cut ? s->n_cut[l] : (uint32_t)krn_kind_slot_start(s, s->n, pes, l);
}

int krn_elementwise_setup(krn_pipe *p, uint32_t si, char *err, size_t errlen) {
  stage *s = &p->st[si];
  const krn_stage *k = &s->s;
  const uint32_t c = s->cols, pes = s->rows * c, w = fab_config_of(p->f)->width;
  if (!(s->nc = malloc((pes + 1) * sizeof *s->nc))) return krn_shape_error(s, "out of memory", err, errlen);
  for (uint32_t l = 0; l <= pes; l++) s->nc[l] = cut(k, pes, l);
  if (!krn_cuts_ok(s->nc, pes, k->n))
    return krn_shape_error(s, "needs at least one feature (and, tiled, one k) per PE", err, errlen);
  for (uint32_t j = 0; j < s->nout; j++) s->out[j] = krn_make_slot(s, w, j / c, j % c, s->nc[j], s->nc[j + 1]);
  for (uint32_t i = 0; i < s->ninputs; i++)
    for (uint32_t n = 0; n < s->nin_slots[i]; n++) /* every PE its own features */
      s->in[i][n] = krn_make_slot(s, w, n / c, n % c, s->nc[n], s->nc[n + 1]);
  return 0;
}

int krn_elementwise_pe_setup(krn_pipe *p, uint32_t si, uint32_t l, krn_cost *cost, char *err, size_t errlen) {
  (void)err, (void)errlen;
  const stage *s = &p->st[si];
  const uint32_t nt = s->nc[l + 1] - s->nc[l];
  *cost = krn_kind_of(s->s.kind)->pe_cost(&p->m, &s->s, nt, p->run.b);
  cost->sram += krn_depth_sram(&s->s, (uint64_t)nt * p->run.b); /* a residual's skip input, deeper */
  return 0;
}

void krn_elementwise_compute(krn_pipe *p, uint32_t si, uint32_t l, uint32_t m, uint64_t start) {
  stage *s = &p->st[si];
  const krn_kind_ops *k = krn_kind_of(s->s.kind);
  const uint32_t b = p->run.b, nt = s->nc[l + 1] - s->nc[l];
  const uint64_t end = krn_charge(p, s, l, start, k->pe_cost(&p->m, &s->s, nt, b));
  float *y = NULL;
  if (p->run.functional) {
    const float *a = s->in[0][l].vals[m % RING], *x = s->ninputs > 1 ? s->in[1][l].vals[m % RING] : NULL;
    y = krn_new_values((size_t)b * nt);
    for (size_t e = 0; e < (size_t)b * nt; e++) y[e] = k->value(a[e], x ? x[e] : 0.0f);
  }
  krn_freed(p, si, l, m, end);
  krn_output(p, si, l, m, end, y);
}

bool krn_elementwise_shape_ok(const krn_stage *s, uint32_t r, uint32_t c, uint32_t seq) {
  (void)seq;
  return (uint64_t)r * c <= s->n;
}

int krn_elementwise_estimate(const krn_machine *m, const fab_config *fc, const krn_stage *s, uint32_t b, uint32_t seq,
                             uint32_t consumers, krn_estimate *e, char *err, size_t errlen) {
  (void)seq, (void)err, (void)errlen;
  const krn_kind_ops *k = krn_kind_of(s->kind);
  const uint32_t r = s->region.h, c = s->region.w, pes = r * c, inputs = k->inputs;
  const bool stats = k->all_reduces;
  uint64_t f_max = 0;
  for (uint32_t l = 0; l < pes; l++) {
    const uint32_t f = cut(s, pes, l + 1) - cut(s, pes, l);
    f_max = krn_max_u64(f_max, f);
    krn_cost pc = k->pe_cost(m, s, f, b);
    pc.sram += krn_depth_sram(s, (uint64_t)f * b); /* a residual's deeper buffers */
    const uint64_t x = krn_ceil_div((uint64_t)f * b, 2), sums = stats && pes > 1 ? 2 * b : 0;
    /* layernorm: the corner takes a row's and a column's sums and multicasts them back */
    krn_est_pe(e, pc, inputs * x + (l == 0 ? 2 * sums : sums), consumers * x + sums);
  }
  e->tile_n = (uint32_t)f_max;
  const uint64_t x = krn_ceil_div(f_max * b, 2);
  e->latency = inputs * x + e->compute + consumers * x +
               (stats && pes > 1 ? 4 * b + (uint64_t)(r + c) * krn_hop_red(fc) : 0);
  return 0;
}

uint64_t krn_elementwise_busy(const krn_machine *m, const krn_stage *s, uint32_t b, uint32_t seq) {
  const krn_kind_ops *k = krn_kind_of(s->kind);
  const uint32_t pes = s->region.h * s->region.w, mbs = b ? seq / b : 0;
  uint64_t best = 0;
  for (uint32_t l = 0; l < pes; l++) {
    const uint32_t f = cut(s, pes, l + 1) - cut(s, pes, l);
    best = krn_max_u64(best, mbs * k->pe_cost(m, s, f, b).cycles);
  }
  return best;
}

uint32_t krn_elementwise_max_rows(const krn_stage *s) {
  (void)s;
  return UINT32_MAX;
}
uint32_t krn_elementwise_max_cols(const krn_stage *s) { return s->n; }
