/* PHOLD, the standard discrete-event benchmark, on the wafersim engine:
 * N entities, each event schedules one new event at a uniformly random
 * entity after 1 + floor(Exp(mean)) cycles. A fixed population of events
 * circulates until the horizon, after which events retire.
 *
 * floor(Exp(mean)) is geometric with q = e^(-1/mean); it is drawn exactly,
 * without a logarithm: an alias table over {0, ..., 63, "64 or more"}, and
 * on "64 or more" add 64 and draw again (the geometric law is memoryless). */
#ifndef WAFERSIM_TESTS_BENCH_PHOLD_H
#define WAFERSIM_TESTS_BENCH_PHOLD_H

#include <stdint.h>

#include "sim/engine/engine.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BENCH_PHOLD_ALIAS 65 /* outcomes 0..63 and "64 or more" */

typedef struct {
  uint32_t entities;   /* N */
  uint32_t population; /* initial events per entity */
  double mean;         /* mean of the exponential part of the delay, cycles */
  sim_time horizon;    /* no event is scheduled past this cycle */
  uint64_t seed;
  int trace_on;        /* hash every event into `trace` (costs ~30% of the run) */
  /* results */
  sim_entity first; /* id of entity 0 */
  uint64_t rng;     /* xorshift64* state */
  uint64_t retired; /* events whose successor fell past the horizon */
  uint64_t trace;   /* FNV-1a hash of (cycle, entity, payload) of every event run */
  uint32_t alias_cut[BENCH_PHOLD_ALIAS]; /* keep column i if 32 random bits < cut */
  uint8_t alias_other[BENCH_PHOLD_ALIAS]; /* else take this outcome */
} bench_phold;

/* Add the PHOLD entities to e and schedule the initial population.
 * 0, or -1 (sim_engine_error says why). p is borrowed for e's lifetime. */
int bench_phold_setup(bench_phold *p, sim_engine *e);

/* Mean delay in cycles: 1 + E[floor(Exp(mean))] = 1 + 1 / (e^(1/mean) - 1). */
double bench_phold_mean_delay(double mean);

#ifdef __cplusplus
}
#endif
#endif
