/* The stage model of estimate.h: what every kind shares (the shape check,
 * the interval); each kind's per-PE costs and traffic are in its file
 * (kind.h), from cost.h and the data movement of its program. */
#include "estimate.h"

#include <stdio.h>
#include <string.h>

#include "kind_internal.h"

uint32_t krn_cut(const uint32_t *given, uint32_t n, uint32_t parts, uint32_t i) {
  return given ? given[i] : (uint32_t)((uint64_t)i * n / parts);
}

void krn_est_pe(krn_estimate *e, krn_cost c, uint64_t in, uint64_t out) {
  e->compute = krn_max_u64(e->compute, c.cycles);
  e->sram = krn_max_u64(e->sram, c.sram);
  e->ramp_in = krn_max_u64(e->ramp_in, in);
  e->ramp_out = krn_max_u64(e->ramp_out, out);
}

uint64_t krn_hop_red(const fab_config *fc) { return 2 * fc->ramp_latency + fc->hop_latency + fc->add_latency; }

/* Whether stage s can take its region; -1 with the reason if not. */
static int shape_check(const krn_stage *s, uint32_t b, uint32_t seq, char *err, size_t errlen) {
  const krn_kind_ops *o = krn_kind_of(s->kind);
  const uint32_t r = s->region.h, c = s->region.w;
  if (r == 0 || c == 0 || b == 0 || seq % b != 0 || (o->shape_ok && !o->shape_ok(s, r, c, seq))) {
    snprintf(err, errlen, "stage %s: %u x %u PEs leave a PE without a tile or feature (k %u, n %u)", s->name, c, r,
             s->k, s->n);
    return -1;
  }
  return 0;
}

/* Whether its fullest PE fits, and its interval, from its other figures
 * (neither falls as one of them grows). */
static void conclude(const krn_machine *m, const fab_config *fc, krn_estimate *e) {
  e->fits = krn_fits(m, e->sram);
  e->interval = krn_max_u64(krn_max_u64(e->compute, e->ramp_in * fc->consume_cycles),
                            krn_max_u64(e->ramp_out, krn_ceil_div(e->latency, 2)));
}

int krn_estimate_stage(const krn_machine *m, const fab_config *fc, const krn_stage *s, uint32_t b, uint32_t seq,
                       uint32_t consumers, krn_estimate *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (shape_check(s, b, seq, err, errlen) != 0) return -1;
  out->pes = s->region.h * s->region.w;
  const int rc = krn_kind_of(s->kind)->estimate(m, fc, s, b, seq, consumers, out, err, errlen);
  conclude(m, fc, out);
  return rc;
}

int krn_estimate_bounds(const krn_machine *m, const fab_config *fc, const krn_stage *s, uint32_t b, uint32_t seq,
                        uint32_t consumers, krn_estimate *lo, krn_estimate *hi, char *err, size_t errlen) {
  const krn_kind_ops *o = krn_kind_of(s->kind);
  if (!o->bounds) {
    const int rc = krn_estimate_stage(m, fc, s, b, seq, consumers, lo, err, errlen);
    *hi = *lo;
    return rc;
  }
  memset(lo, 0, sizeof *lo);
  memset(hi, 0, sizeof *hi);
  if (shape_check(s, b, seq, err, errlen) != 0) return -1;
  lo->pes = hi->pes = s->region.h * s->region.w;
  const int rc = o->bounds(m, fc, s, b, seq, consumers, lo, hi, err, errlen);
  conclude(m, fc, lo);
  conclude(m, fc, hi);
  return rc;
}

uint64_t krn_estimate_busy(const krn_machine *m, const krn_stage *s, uint32_t b, uint32_t seq) {
  return krn_kind_of(s->kind)->busy(m, s, b, seq);
}
