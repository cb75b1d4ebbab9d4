/* The engine's pending-event queue: (cycle, id) pairs popped in a total
 * order: by cycle, then by push order. Two implementations behind one
 * interface, which produce the same order:
 * - SIM_QUEUE_HEAP: an implicit 4-ary min-heap of 16-byte keys
 *   (cycle, push sequence << 28 | id);
 * - SIM_QUEUE_WHEEL: a timing wheel of 2^wheel_bits one-cycle FIFO buckets
 *   (chains of 64-byte blocks of ids) covering [floor, floor + 2^wheel_bits),
 *   with the heap holding pairs further ahead; O(1) push and pop for the
 *   near-future traffic a mesh makes.
 * Pushes must not go below the cycle of the last pop (the floor): a
 * discrete-event queue never schedules into the past. */
#ifndef WAFERSIM_SIM_ENGINE_QUEUE_H
#define WAFERSIM_SIM_ENGINE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef uint64_t sim_time; /* cycles */

typedef enum { SIM_QUEUE_WHEEL, SIM_QUEUE_HEAP } sim_queue_kind;

#define SIM_QUEUE_ID_BITS 28 /* ids below 2^28: at most 268,435,456 pending */
#define SIM_QUEUE_ID_MAX ((1u << SIM_QUEUE_ID_BITS) - 1)

/* The representation is visible only so that the fast paths below inline
 * into the engine's dispatch loop; everything else goes through functions.
 * Read-only outside queue.c. */
#define SIM_QUEUE_NIL UINT32_MAX
#define SIM_QUEUE_BLOCK_IDS 15

typedef struct {
  sim_time t;   /* cycle */
  uint64_t tie; /* push sequence << SIM_QUEUE_ID_BITS | id */
} sim_queue_key;

/* A wheel bucket is a FIFO of blocks of ids (64 bytes each), so pops read
 * ids in sequence and the engine can prefetch the events a few pops ahead. */
typedef struct {
  uint32_t next; /* next block of the bucket, SIM_QUEUE_NIL at the tail */
  uint32_t id[SIM_QUEUE_BLOCK_IDS];
} sim_queue_block;

typedef struct {
  uint32_t head, tail; /* blocks; head == SIM_QUEUE_NIL when empty */
  uint16_t read;       /* next id to pop in the head block */
  uint16_t write;      /* next free place in the tail block */
} sim_queue_bucket;

typedef struct {
  sim_queue_key *a; /* owned; a[0] is the minimum, children of i are 4i+1 .. 4i+4 */
  size_t n, cap;
  uint64_t seq; /* next push sequence number */
} sim_queue_heap;

typedef struct sim_queue {
  sim_queue_kind kind;
  sim_queue_heap h; /* every pair (heap), or those at or past floor + 2^bits (wheel) */
  sim_time floor; /* cycle of the last pop or advance */
  size_t size;    /* pairs pending */
  /* wheel only */
  uint64_t mask;             /* buckets - 1; bucket of cycle t is t & mask */
  sim_queue_bucket *buckets; /* owned */
  uint64_t *occupied;        /* owned, one bit per non-empty bucket */
  sim_queue_block *blocks;   /* owned, nblocks; free ones chained from free_block */
  uint32_t nblocks, free_block;
  size_t in_wheel; /* pairs in buckets */
} sim_queue;

/* A queue (NULL on out of memory; wheel_bits in [6, 24], ignored for the
 * heap). The caller frees it with sim_queue_destroy. */
sim_queue *sim_queue_create(sim_queue_kind kind, unsigned wheel_bits);
void sim_queue_destroy(sim_queue *q);

/* The general cases of push and pop (below). */
int sim_queue_push_slow(sim_queue *q, sim_time t, uint32_t id);
bool sim_queue_pop_slow(sim_queue *q, sim_time *t, uint32_t *id);

/* Add id (<= SIM_QUEUE_ID_MAX) at cycle t >= sim_queue_floor(q).
 * 0, or -1 on out of memory. */
static inline int sim_queue_push(sim_queue *q, sim_time t, uint32_t id) {
  if (q->kind == SIM_QUEUE_WHEEL && t >= q->floor && t - q->floor <= q->mask) {
    sim_queue_bucket *b = &q->buckets[t & q->mask];
    if (b->head != SIM_QUEUE_NIL && b->write < SIM_QUEUE_BLOCK_IDS) { /* room in its tail block */
      q->blocks[b->tail].id[b->write++] = id;
      q->in_wheel++;
      q->size++;
      return 0;
    }
  }
  return sim_queue_push_slow(q, t, id);
}

/* Remove the first pair in (cycle, push order); false when empty. Pop also
 * raises the floor to the popped cycle. */
static inline bool sim_queue_pop(sim_queue *q, sim_time *t, uint32_t *id) {
  if (q->kind == SIM_QUEUE_WHEEL) {
    sim_queue_bucket *b = &q->buckets[q->floor & q->mask];
    const unsigned end = b->head == b->tail ? b->write : SIM_QUEUE_BLOCK_IDS;
    if (b->head != SIM_QUEUE_NIL && b->read + 1u < end) { /* its block stays non-empty */
      *id = q->blocks[b->head].id[b->read++];
      *t = q->floor;
      q->in_wheel--;
      q->size--;
      return true;
    }
  }
  return sim_queue_pop_slow(q, t, id);
}

/* The first pair without removing it; false when empty. */
bool sim_queue_peek(sim_queue *q, sim_time *t, uint32_t *id);

/* The id that the pop `ahead` pops from now would return if nothing is
 * pushed meanwhile, when the queue knows it cheaply (the wheel's current
 * bucket, this block or the next), else SIM_QUEUE_NIL: the engine uses it to
 * prefetch that event's data. */
static inline uint32_t sim_queue_hint(const sim_queue *q, unsigned ahead) {
  if (q->kind != SIM_QUEUE_WHEEL) return SIM_QUEUE_NIL;
  const sim_queue_bucket *b = &q->buckets[q->floor & q->mask];
  uint32_t k = b->head;
  unsigned at = b->read + ahead;
  if (k == SIM_QUEUE_NIL) return SIM_QUEUE_NIL;
  if (at >= SIM_QUEUE_BLOCK_IDS) {
    if (k == b->tail) return SIM_QUEUE_NIL;
    k = q->blocks[k].next;
    at -= SIM_QUEUE_BLOCK_IDS;
  }
  if (k == b->tail && at >= b->write) return SIM_QUEUE_NIL;
  return q->blocks[k].id[at];
}

/* Raise the floor to t (no pending pair may be below it). */
void sim_queue_advance(sim_queue *q, sim_time t);

static inline sim_time sim_queue_floor(const sim_queue *q) { return q->floor; }
static inline size_t sim_queue_size(const sim_queue *q) { return q->size; }
size_t sim_queue_bytes(const sim_queue *q); /* memory held, for statistics */
const char *sim_queue_kind_name(sim_queue_kind kind);

/* Testing hook: set the next push sequence number, to exercise the
 * renumbering that keeps 36-bit sequence numbers from ever wrapping. */
void sim_queue_set_sequence(sim_queue *q, uint64_t next);

#ifdef __cplusplus
}
#endif
#endif
