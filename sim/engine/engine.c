/* Event pool, entity types, dispatch loop and statistics (see engine.h). */
#include "engine.h"

#include "check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define NIL UINT32_MAX
#define MAX_TYPES 32
#define NO_LIMIT UINT64_MAX
#define PREFETCH_AHEAD 8 /* events: the slot this far ahead, then its handler's state at half of it
                            (sim_prefetcher): enough lead to hide a miss to memory behind the handlers
                            (4 was as fast on the full wafer, 16 slower) */

/* A free slot's state is stale: its bumped generation is what makes old
 * handles miss, so freeing does not write the state. */
enum { SLOT_PENDING = 1, SLOT_CANCELLED };

/* One pooled event (32 bytes). */
typedef struct {
  sim_payload payload;
  sim_entity entity;
  uint16_t kind;
  uint8_t state; /* SLOT_* */
  uint8_t unused;
  uint32_t gen;       /* bumped when the slot is freed: stale handles do not match */
  uint32_t next_free; /* free list link */
} slot;

typedef struct {
  char name[32];
  sim_handler handler;
  sim_prefetcher prefetch; /* NULL: none */
  void *ctx;       /* borrowed */
  sim_entity end;  /* one past its last entity; types own [previous end, end) */
} entity_type;

struct sim_engine {
  sim_queue *q;         /* owned */
  slot **chunks;        /* owned, nchunks chunks of 2^chunk_shift slots, each owned */
  size_t nchunks;
  unsigned chunk_shift;
  uint32_t capacity;    /* slots in the pool */
  uint32_t max_pending; /* knob: most slots the pool may hold */
  uint32_t free_head;   /* first free slot, NIL if none */
  entity_type types[MAX_TYPES];
  unsigned ntypes;
  sim_entity entities;  /* all types' entities: ids below this exist */
  sim_time now;
  bool stop;
  sim_stats st;
  char error[256]; /* empty unless something failed */
};

static inline slot *slot_at(const sim_engine *e, uint32_t id) {
  return &e->chunks[id >> e->chunk_shift][id & ((1u << e->chunk_shift) - 1)];
}

static void fail(sim_engine *e, const char *fmt, ...) {
  if (e->error[0]) return; /* keep the first */
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->error, sizeof e->error, fmt, ap);
  va_end(ap);
  e->stop = true;
}

sim_engine *sim_engine_create(const sim_config *cfg, char *err, size_t errlen) {
  sim_config c = cfg ? *cfg : (sim_config){0};
  if (!c.wheel_bits) c.wheel_bits = 12;
  if (!c.chunk_events) c.chunk_events = 65536;
  if (!c.max_pending) c.max_pending = SIM_QUEUE_ID_MAX + 1u;
  if (c.queue == SIM_QUEUE_WHEEL && (c.wheel_bits < 6 || c.wheel_bits > 24)) {
    snprintf(err, errlen, "sim: wheel_bits %u outside [6, 24]", c.wheel_bits);
    return NULL;
  }
  if (c.max_pending > SIM_QUEUE_ID_MAX + 1u) {
    snprintf(err, errlen, "sim: max_pending %u above the engine's limit of 2^%d", c.max_pending,
             SIM_QUEUE_ID_BITS);
    return NULL;
  }
  sim_engine *e = calloc(1, sizeof *e);
  if (!e || !(e->q = sim_queue_create(c.queue, c.wheel_bits))) {
    free(e);
    snprintf(err, errlen, "sim: out of memory creating the engine");
    return NULL;
  }
  /* Chunks hold a power of two of slots, so an id splits with a shift. */
  e->chunk_shift = 6;
  while (e->chunk_shift < 24 && (1u << e->chunk_shift) < c.chunk_events) e->chunk_shift++;
  e->max_pending = c.max_pending;
  e->free_head = NIL;
  return e;
}

void sim_engine_destroy(sim_engine *e) {
  if (!e) return;
  for (size_t i = 0; i < e->nchunks; i++) free(e->chunks[i]);
  free(e->chunks);
  sim_queue_destroy(e->q);
  free(e);
}

int sim_engine_add_type(sim_engine *e, const char *name, sim_handler handler, void *ctx,
                        uint32_t count, sim_entity *first) {
  const sim_entity start = e->ntypes ? e->types[e->ntypes - 1].end : 0;
  if (e->ntypes == MAX_TYPES || count == 0 || count > UINT32_MAX - start) {
    fail(e, "sim: cannot add entity type %s with %u entities (%u types, %u entities so far)", name,
         count, e->ntypes, start);
    return -1;
  }
  entity_type *t = &e->types[e->ntypes++];
  snprintf(t->name, sizeof t->name, "%s", name);
  t->handler = handler;
  t->ctx = ctx;
  t->end = start + count;
  e->entities = t->end;
  *first = start;
  return 0;
}

/* Add one chunk of free slots; false (with the error recorded) if it cannot. */
static bool grow(sim_engine *e) {
  const uint32_t n = 1u << e->chunk_shift;
  if (e->capacity >= e->max_pending) {
    fail(e, "sim: more than %u events pending at cycle %llu (knob: max_pending)", e->max_pending,
         (unsigned long long)e->now);
    return false;
  }
  slot **chunks = realloc(e->chunks, (e->nchunks + 1) * sizeof *chunks);
  slot *c = malloc((size_t)n * sizeof *c);
  if (chunks) e->chunks = chunks;
  if (!chunks || !c) {
    free(c);
    fail(e, "sim: out of memory growing the event pool past %u events (knob: chunk_events)",
         e->capacity);
    return false;
  }
  e->chunks[e->nchunks++] = c;
  for (uint32_t i = 0; i < n; i++) {
    c[i].state = 0;
    c[i].gen = 1;
    c[i].next_free = i + 1 < n ? e->capacity + i + 1 : e->free_head;
  }
  e->free_head = e->capacity;
  e->capacity += n;
  return true;
}

sim_event_id sim_engine_schedule(sim_engine *e, sim_time t, sim_entity target, uint16_t kind,
                                 sim_payload payload) {
  SIM_CHECK(t >= e->now, "event for entity %u scheduled at cycle %llu, before now (%llu)", target,
        (unsigned long long)t, (unsigned long long)e->now);
  SIM_CHECK(target < e->entities, "event for entity %u, which no type owns", target);
  if (e->free_head == NIL && !grow(e)) return 0;
  const uint32_t id = e->free_head;
  slot *s = slot_at(e, id);
  e->free_head = s->next_free;
  s->payload = payload;
  s->entity = target;
  s->kind = kind;
  s->state = SLOT_PENDING;
  if (sim_queue_push(e->q, t, id) != 0) {
    fail(e, "sim: out of memory growing the event queue past %llu events",
         (unsigned long long)sim_queue_size(e->q));
    s->gen++;
    s->next_free = e->free_head;
    e->free_head = id;
    return 0;
  }
  e->st.scheduled++;
  if (++e->st.pending > e->st.peak_pending) e->st.peak_pending = e->st.pending;
  return ((uint64_t)s->gen << 32) | id;
}

sim_event_id sim_engine_schedule_in(sim_engine *e, sim_time dt, sim_entity target, uint16_t kind,
                                    sim_payload payload) {
  return sim_engine_schedule(e, e->now + dt, target, kind, payload);
}

int sim_engine_cancel(sim_engine *e, sim_event_id id) {
  const uint32_t idx = (uint32_t)id, gen = (uint32_t)(id >> 32);
  if (idx >= e->capacity) return -1;
  slot *s = slot_at(e, idx);
  if (s->gen != gen || s->state != SLOT_PENDING) return -1;
  s->state = SLOT_CANCELLED;
  e->st.cancelled++;
  e->st.pending--;
  return 0;
}

static inline void release(sim_engine *e, slot *s, uint32_t id) {
  s->gen++;
  s->next_free = e->free_head;
  e->free_head = id;
}

static inline const entity_type *type_of(const sim_engine *e, sim_entity x) {
  const entity_type *t = e->types;
  while (x >= t->end) t++;
  return t;
}

/* The prefetcher's hint for the event `ahead` pops from now (its slot was
 * prefetched before). */
static inline void hint_handler(const sim_engine *e, sim_time t, unsigned ahead) {
  const uint32_t id = sim_queue_hint(e->q, ahead);
  if (id == SIM_QUEUE_NIL) return;
  const slot *n = slot_at(e, id);
  const entity_type *nt = type_of(e, n->entity);
  if (!nt->prefetch) return;
  const sim_event hint = {t, n->entity, n->kind, n->payload};
  nt->prefetch(nt->ctx, &hint);
}

int sim_engine_set_prefetch(sim_engine *e, sim_entity first, sim_prefetcher fn) {
  if (first >= e->entities) return -1;
  ((entity_type *)type_of(e, first))->prefetch = fn;
  return 0;
}

/* The dispatch loop shared by the run functions: events at cycles <= limit,
 * until the queue empties, a handler stops the run, or done() says so.
 * Always inlined, so each caller gets a loop specialised to its arguments. */
static inline __attribute__((always_inline)) int run_loop(sim_engine *e, sim_time limit,
                                                          bool (*done)(const sim_engine *, void *),
                                                          void *ctx) {
  if (e->error[0]) return -1;
  e->stop = false;
  sim_time t;
  uint32_t id;
  while (!e->stop) {
    if (limit != NO_LIMIT && (!sim_queue_peek(e->q, &t, &id) || t > limit)) break;
    if (!sim_queue_pop(e->q, &t, &id)) break;
    const uint32_t ahead = sim_queue_hint(e->q, PREFETCH_AHEAD);
    if (ahead != SIM_QUEUE_NIL) __builtin_prefetch(slot_at(e, ahead));
    hint_handler(e, t, PREFETCH_AHEAD / 2);
    slot *s = slot_at(e, id);
    const bool cancelled = s->state == SLOT_CANCELLED;
    const sim_event ev = {t, s->entity, s->kind, s->payload};
    release(e, s, id); /* first, so the handler's next event reuses a warm slot */
    if (cancelled) continue;
    e->now = t;
    e->st.executed++;
    e->st.pending--;
    const entity_type *ty = type_of(e, ev.entity);
    ty->handler(e, ty->ctx, &ev);
    if (done && done(e, ctx)) break;
  }
  if (e->error[0]) return -1;
  if (limit != NO_LIMIT && !e->stop && e->now < limit) { /* nothing left at or before limit */
    sim_queue_advance(e->q, limit);
    e->now = limit;
  }
  return 0;
}

int sim_engine_run(sim_engine *e) { return run_loop(e, NO_LIMIT, NULL, NULL); }
int sim_engine_run_until(sim_engine *e, sim_time t) {
  SIM_CHECK(t != NO_LIMIT, "run_until the largest cycle: use sim_engine_run");
  return run_loop(e, t, NULL, NULL);
}
int sim_engine_run_until_done(sim_engine *e, bool (*done)(const sim_engine *, void *), void *ctx) {
  return run_loop(e, NO_LIMIT, done, ctx);
}
void sim_engine_stop(sim_engine *e) { e->stop = true; }
sim_time sim_engine_now(const sim_engine *e) { return e->now; }
const char *sim_engine_error(const sim_engine *e) { return e->error[0] ? e->error : NULL; }

sim_stats sim_engine_stats(const sim_engine *e) {
  sim_stats s = e->st;
  s.pool_events = e->capacity;
  s.bytes = sizeof *e + e->nchunks * (sizeof(slot *) + ((size_t)1 << e->chunk_shift) * sizeof(slot)) +
            sim_queue_bytes(e->q);
  return s;
}
