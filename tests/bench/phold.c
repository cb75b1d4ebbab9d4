/* PHOLD model (see phold.h). */
#include "phold.h"

#include <math.h>

static inline uint64_t next_random(uint64_t *s) {
  uint64_t x = *s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return x * UINT64_C(2685821657736338717);
}

/* Vose's alias method over the truncated geometric law of phold.h. */
static void build_alias(bench_phold *p) {
  enum { N = BENCH_PHOLD_ALIAS };
  const double q = exp(-1.0 / p->mean);
  double prob[N];
  int small[N], large[N], ns = 0, nl = 0;
  for (int k = 0; k < N - 1; k++) prob[k] = (1.0 - q) * pow(q, k) * N;
  prob[N - 1] = pow(q, N - 1) * N; /* P(X >= 64) */
  for (int k = 0; k < N; k++) {
    if (prob[k] < 1.0) small[ns++] = k;
    else large[nl++] = k;
  }
  while (ns > 0 && nl > 0) {
    const int s = small[--ns], l = large[nl - 1];
    p->alias_cut[s] = (uint32_t)(prob[s] * 4294967296.0);
    p->alias_other[s] = (uint8_t)l;
    prob[l] -= 1.0 - prob[s];
    if (prob[l] < 1.0) {
      nl--;
      small[ns++] = l;
    }
  }
  while (nl > 0) p->alias_cut[large[--nl]] = UINT32_MAX, p->alias_other[large[nl]] = (uint8_t)large[nl];
  while (ns > 0) p->alias_cut[small[--ns]] = UINT32_MAX, p->alias_other[small[ns]] = (uint8_t)small[ns];
}

static inline sim_time delay(bench_phold *p) {
  sim_time d = 1;
  for (;;) {
    const uint64_t r = next_random(&p->rng);
    const uint32_t col = (uint32_t)(((r >> 32) * BENCH_PHOLD_ALIAS) >> 32);
    const uint32_t k = (uint32_t)r < p->alias_cut[col] ? col : p->alias_other[col];
    if (k < BENCH_PHOLD_ALIAS - 1) return d + k;
    d += BENCH_PHOLD_ALIAS - 1;
  }
}

static inline sim_entity target(bench_phold *p) {
  return p->first + (sim_entity)(((unsigned __int128)next_random(&p->rng) * p->entities) >> 64);
}

static inline uint64_t fnv(uint64_t h, uint64_t v) {
  for (int i = 0; i < 8; i++) h = (h ^ ((v >> (8 * i)) & 0xff)) * UINT64_C(0x100000001b3);
  return h;
}

static void handle(sim_engine *e, void *ctx, const sim_event *ev) {
  bench_phold *p = ctx;
  if (p->trace_on) p->trace = fnv(fnv(fnv(p->trace, ev->time), ev->entity), ev->payload.a);
  const sim_time t = ev->time + delay(p);
  if (t > p->horizon) {
    p->retired++;
    return;
  }
  const sim_payload next = {ev->payload.a + 1, ev->payload.b};
  sim_engine_schedule(e, t, target(p), 0, next);
}

int bench_phold_setup(bench_phold *p, sim_engine *e) {
  p->rng = p->seed * UINT64_C(0x9E3779B97F4A7C15) + 1;
  p->retired = 0;
  p->trace = UINT64_C(0xcbf29ce484222325);
  build_alias(p);
  if (sim_engine_add_type(e, "phold", handle, p, p->entities, &p->first) != 0) return -1;
  for (uint32_t i = 0; i < p->entities; i++) {
    for (uint32_t j = 0; j < p->population; j++) {
      const sim_payload token = {0, (uint64_t)i * p->population + j}; /* hops, token id */
      if (!sim_engine_schedule(e, delay(p) - 1, p->first + i, 0, token)) return -1;
    }
  }
  return 0;
}

double bench_phold_mean_delay(double mean) { return 1.0 + 1.0 / expm1(1.0 / mean); }
