/* A systolic N x N mesh on the wafersim engine: K rounds; in each round
 * every PE computes for C cycles, then sends one message to its east
 * neighbour (the row wraps: a torus row, as SimGrid's TORUS cluster routes
 * it), which arrives T cycles later; a PE starts its next round when its
 * compute is done and the message of this round from its west has arrived.
 * Sends are eager (buffered); in this symmetric pattern they give the same
 * times as SimGrid's rendezvous. Closed form: the run ends at K (C + T). */
#ifndef WAFERSIM_TESTS_BENCH_SYSTOLIC_H
#define WAFERSIM_TESTS_BENCH_SYSTOLIC_H

#include <stdint.h>

#include "sim/engine/engine.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  uint32_t n;        /* PEs per side */
  uint32_t rounds;   /* K */
  sim_time compute;  /* C, cycles */
  sim_time transfer; /* T, cycles from send to arrival */
  /* state and results */
  sim_entity first;
  uint32_t *round;    /* owned, per PE: rounds finished computing */
  uint32_t *received; /* owned, per PE: messages arrived */
  uint64_t messages;  /* messages delivered */
  sim_time end;       /* cycle at which the last PE finished its last round */
} bench_systolic;

/* Add the PEs to e and start round 0 everywhere. 0, or -1 (out of memory,
 * or sim_engine_error). */
int bench_systolic_setup(bench_systolic *s, sim_engine *e);
void bench_systolic_free(bench_systolic *s);

#ifdef __cplusplus
}
#endif
#endif
