/* Systolic mesh model (see systolic.h). */
#include "systolic.h"

#include <stdlib.h>

enum { COMPUTE_DONE, ARRIVE };

/* Round r of PE p is complete: start the next one or record the end. */
static void finish_round(bench_systolic *s, sim_engine *e, uint32_t p) {
  if (s->round[p] < s->rounds) {
    sim_engine_schedule_in(e, s->compute, s->first + p, COMPUTE_DONE, (sim_payload){0, 0});
  } else if (sim_engine_now(e) > s->end) {
    s->end = sim_engine_now(e);
  }
}

static void handle(sim_engine *e, void *ctx, const sim_event *ev) {
  bench_systolic *s = ctx;
  const uint32_t p = ev->entity - s->first, x = p % s->n, y = p / s->n;
  if (ev->kind == COMPUTE_DONE) {
    const uint32_t east = y * s->n + (x + 1) % s->n;
    sim_engine_schedule_in(e, s->transfer, s->first + east, ARRIVE, (sim_payload){s->round[p], 0});
    s->round[p]++;
    if (s->received[p] >= s->round[p]) finish_round(s, e, p);
  } else {
    s->received[p]++;
    s->messages++;
    if (s->received[p] == s->round[p]) finish_round(s, e, p); /* was waiting for this */
  }
}

int bench_systolic_setup(bench_systolic *s, sim_engine *e) {
  const uint32_t pes = s->n * s->n;
  s->round = calloc(pes, sizeof *s->round);
  s->received = calloc(pes, sizeof *s->received);
  s->messages = 0;
  s->end = 0;
  if (!s->round || !s->received) return -1;
  if (sim_engine_add_type(e, "systolic-pe", handle, s, pes, &s->first) != 0) return -1;
  for (uint32_t p = 0; p < pes; p++) finish_round(s, e, p);
  return sim_engine_error(e) ? -1 : 0;
}

void bench_systolic_free(bench_systolic *s) {
  free(s->round);
  free(s->received);
  s->round = s->received = NULL;
}
