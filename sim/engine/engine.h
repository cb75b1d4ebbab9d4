/* The discrete-event engine: integer cycles, entity types with handlers (as
 * ROSS's LP types), events with a 16-byte payload from a pool that grows in
 * chunks, a queue with a total order (cycle, then scheduling order), so a run
 * is bit-for-bit repeatable. Knows nothing of wafers.
 *
 * Use: sim_engine_create; sim_engine_add_type for each kind of entity (a
 * handler and its context, and how many entities of that type); schedule
 * initial events; sim_engine_run (or _until / _while); read statistics;
 * sim_engine_destroy. Handlers schedule and cancel events through the engine
 * they are given. All state hangs off the engine: two engines in one process
 * do not interact. */
#ifndef WAFERSIM_SIM_ENGINE_ENGINE_H
#define WAFERSIM_SIM_ENGINE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "queue.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef uint32_t sim_entity;  /* entity id: types own contiguous ranges from 0 */
typedef uint64_t sim_event_id; /* handle for cancelling; 0 is never a valid one */

typedef struct {
  uint64_t a, b; /* meaning is the handler's */
} sim_payload;

/* What a handler receives. */
typedef struct {
  sim_time time;     /* cycle it runs at (= sim_engine_now) */
  sim_entity entity; /* target */
  uint16_t kind;     /* the handler's own event kind */
  sim_payload payload;
} sim_event;

typedef struct sim_engine sim_engine;
typedef void (*sim_handler)(sim_engine *e, void *ctx, const sim_event *ev);
/* A hint, called for an event a few places before it runs: it may only
 * prefetch what the handler will read (__builtin_prefetch), never change
 * anything, so a run is the same with it or without it. */
typedef void (*sim_prefetcher)(const void *ctx, const sim_event *ev);

/* Knobs (zero fields take the default shown). */
typedef struct {
  sim_queue_kind queue;  /* SIM_QUEUE_WHEEL (default) or SIM_QUEUE_HEAP */
  unsigned wheel_bits;   /* log2 of the wheel's one-cycle buckets; default 12 */
  uint32_t chunk_events; /* events per pool growth step; default 65536 */
  uint32_t max_pending;  /* most events pending at once; default and limit 2^28 */
} sim_config;

typedef struct {
  uint64_t scheduled, executed, cancelled; /* events */
  uint64_t pending, peak_pending;          /* events in the queue, now and at most */
  uint64_t pool_events;                    /* pool capacity, events */
  uint64_t bytes;                          /* pool + queue + tables, bytes */
} sim_stats;

/* An engine with the given knobs (NULL for defaults), or NULL with the reason
 * in err. The caller frees it with sim_engine_destroy. */
sim_engine *sim_engine_create(const sim_config *cfg, char *err, size_t errlen);
void sim_engine_destroy(sim_engine *e);

/* Add a type of `count` entities handled by handler(e, ctx, ev); their ids
 * are *first .. *first + count - 1. 0, or -1 with the reason in the engine's
 * error (sim_engine_error). ctx is borrowed for the engine's lifetime. */
int sim_engine_add_type(sim_engine *e, const char *name, sim_handler handler, void *ctx,
                        uint32_t count, sim_entity *first);

/* Give the type that owns entity `first` a prefetcher (NULL: none). 0, or
 * -1 if no type owns it. */
int sim_engine_set_prefetch(sim_engine *e, sim_entity first, sim_prefetcher fn);

/* Schedule an event for `target` at absolute cycle t >= now, or dt cycles
 * from now. Returns its handle, or 0 when the pool is exhausted (the engine
 * records the error, naming the knob, and the run stops after the current
 * event). Scheduling into the past or to no entity is a program error. */
sim_event_id sim_engine_schedule(sim_engine *e, sim_time t, sim_entity target, uint16_t kind,
                                 sim_payload payload);
sim_event_id sim_engine_schedule_in(sim_engine *e, sim_time dt, sim_entity target, uint16_t kind,
                                    sim_payload payload);

/* Cancel a pending event: 0, or -1 if it already ran or was cancelled. */
int sim_engine_cancel(sim_engine *e, sim_event_id id);

/* Run until no event is left; until every event at cycles <= t has run (now
 * is then t if nothing ran later); or until done(e, ctx) is true after an
 * event. A handler may end any of them with sim_engine_stop. Return 0, or -1
 * on an error (sim_engine_error says which). */
int sim_engine_run(sim_engine *e);
int sim_engine_run_until(sim_engine *e, sim_time t);
int sim_engine_run_until_done(sim_engine *e, bool (*done)(const sim_engine *e, void *ctx),
                              void *ctx);
void sim_engine_stop(sim_engine *e);

sim_time sim_engine_now(const sim_engine *e);
sim_stats sim_engine_stats(const sim_engine *e);
const char *sim_engine_error(const sim_engine *e); /* NULL if none */

#ifdef __cplusplus
}
#endif
#endif
