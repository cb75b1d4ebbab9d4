/* 4-ary heap and timing wheel (see queue.h). */
#include "queue.h"

#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NIL SIM_QUEUE_NIL
#define ID_MASK ((uint64_t)SIM_QUEUE_ID_MAX)
#define SEQ_LIMIT (UINT64_C(1) << (64 - SIM_QUEUE_ID_BITS)) /* sequence numbers per renumbering */


typedef sim_queue_key hkey;
typedef sim_queue_heap heap;
typedef sim_queue_block block;
typedef sim_queue_bucket bucket;

/* (cycle, tie) as one 128-bit number: one branch-free comparison. */
static inline unsigned __int128 key_value(hkey k) { return ((unsigned __int128)k.t << 64) | k.tie; }
static inline bool key_less(hkey x, hkey y) { return key_value(x) < key_value(y); }

static int cmp_key(const void *a, const void *b) {
  const hkey *x = a, *y = b;
  return key_less(*x, *y) ? -1 : key_less(*y, *x) ? 1 : 0;
}

/* Sequence numbers ran out: renumber by rank. A sorted array is a valid heap
 * and ranks keep the order, so nothing observable changes. */
static void heap_renumber(heap *h) {
  qsort(h->a, h->n, sizeof *h->a, cmp_key);
  for (size_t i = 0; i < h->n; i++) h->a[i].tie = ((uint64_t)i << SIM_QUEUE_ID_BITS) | (h->a[i].tie & ID_MASK);
  h->seq = h->n;
}

static int heap_push(heap *h, sim_time t, uint32_t id) {
  if (h->n == h->cap) {
    size_t cap = h->cap ? 2 * h->cap : 1024;
    hkey *a = realloc(h->a, cap * sizeof *a);
    if (!a) return -1;
    h->a = a;
    h->cap = cap;
  }
  if (h->seq == SEQ_LIMIT) heap_renumber(h);
  const hkey k = {t, (h->seq++ << SIM_QUEUE_ID_BITS) | id};
  size_t i = h->n++;
  while (i > 0) {
    size_t p = (i - 1) / 4;
    if (!key_less(k, h->a[p])) break;
    h->a[i] = h->a[p];
    i = p;
  }
  h->a[i] = k;
  return 0;
}

static hkey heap_pop(heap *h) {
  hkey *a = h->a;
  const hkey top = a[0], last = a[--h->n];
  const size_t n = h->n;
  size_t i = 0;
  for (;;) {
    size_t c = 4 * i + 1;
    if (c >= n) break;
    size_t m = c;
    if (c + 4 <= n) { /* all four children: a tournament, branch-free */
      const size_t m01 = key_less(a[c + 1], a[c]) ? c + 1 : c;
      const size_t m23 = key_less(a[c + 3], a[c + 2]) ? c + 3 : c + 2;
      m = key_less(a[m23], a[m01]) ? m23 : m01;
    } else {
      for (size_t j = c + 1; j < n; j++)
        if (key_less(a[j], a[m])) m = j;
    }
    if (!key_less(a[m], last)) break;
    a[i] = a[m];
    i = m;
  }
  a[i] = last;
  return top;
}

sim_queue *sim_queue_create(sim_queue_kind kind, unsigned wheel_bits) {
  sim_queue *q = calloc(1, sizeof *q);
  if (!q) return NULL;
  q->kind = kind;
  q->free_block = NIL;
  if (kind == SIM_QUEUE_WHEEL) {
    SIM_CHECK(wheel_bits >= 6 && wheel_bits <= 24, "wheel_bits %u outside [6, 24]", wheel_bits);
    const size_t n = (size_t)1 << wheel_bits;
    q->mask = n - 1;
    q->buckets = malloc(n * sizeof *q->buckets);
    q->occupied = calloc(n / 64, sizeof *q->occupied);
    if (!q->buckets || !q->occupied) {
      sim_queue_destroy(q);
      return NULL;
    }
    for (size_t b = 0; b < n; b++) q->buckets[b] = (bucket){NIL, NIL, 0, 0};
  }
  return q;
}

void sim_queue_destroy(sim_queue *q) {
  if (!q) return;
  free(q->h.a);
  free(q->buckets);
  free(q->occupied);
  free(q->blocks);
  free(q);
}

/* A free block, growing the block array by half when none is left. */
static uint32_t new_block(sim_queue *q) {
  if (q->free_block == NIL) {
    const uint32_t n = q->nblocks ? q->nblocks / 2 : 1024;
    block *b = realloc(q->blocks, ((size_t)q->nblocks + n) * sizeof *b);
    if (!b) return NIL;
    q->blocks = b;
    for (uint32_t i = 0; i < n; i++) b[q->nblocks + i].next = i + 1 < n ? q->nblocks + i + 1 : NIL;
    q->free_block = q->nblocks;
    q->nblocks += n;
  }
  const uint32_t k = q->free_block;
  q->free_block = q->blocks[k].next;
  q->blocks[k].next = NIL;
  return k;
}

static inline void free_block(sim_queue *q, uint32_t k) {
  q->blocks[k].next = q->free_block;
  q->free_block = k;
}

static inline int bucket_append(sim_queue *q, sim_time t, uint32_t id) {
  const size_t b = (size_t)(t & q->mask);
  bucket *bk = &q->buckets[b];
  if (bk->head == NIL || bk->write == SIM_QUEUE_BLOCK_IDS) {
    const uint32_t k = new_block(q);
    if (k == NIL) return -1;
    if (bk->head == NIL) {
      bk->head = k;
      bk->read = 0;
      q->occupied[b >> 6] |= UINT64_C(1) << (b & 63);
    } else {
      q->blocks[bk->tail].next = k;
    }
    bk->tail = k;
    bk->write = 0;
  }
  q->blocks[bk->tail].id[bk->write++] = id;
  q->in_wheel++;
  return 0;
}

/* Take the first id of non-empty bucket b. */
static inline uint32_t bucket_take(sim_queue *q, size_t b) {
  bucket *bk = &q->buckets[b];
  const uint32_t k = bk->head, id = q->blocks[k].id[bk->read++];
  if (k == bk->tail && bk->read == bk->write) { /* now empty */
    free_block(q, k);
    bk->head = NIL;
    q->occupied[b >> 6] &= ~(UINT64_C(1) << (b & 63));
  } else if (bk->read == SIM_QUEUE_BLOCK_IDS) {
    bk->head = q->blocks[k].next;
    bk->read = 0;
    free_block(q, k);
  }
  q->in_wheel--;
  return id;
}

/* Move heap pairs that the window [floor, floor + 2^bits) now covers into
 * their buckets. They were all pushed before any pair pushed straight into
 * those buckets (which could only happen once the window covered them), so
 * appending keeps push order. */
static void migrate(sim_queue *q) {
  const sim_time end = q->floor + q->mask + 1;
  while (q->h.n > 0 && q->h.a[0].t < end) {
    hkey k = heap_pop(&q->h);
    SIM_CHECK(bucket_append(q, k.t, (uint32_t)(k.tie & ID_MASK)) == 0,
          "out of memory moving %zu events into the wheel", q->h.n + 1);
  }
}

int sim_queue_push_slow(sim_queue *q, sim_time t, uint32_t id) {
  SIM_CHECK(t >= q->floor, "push at cycle %llu below the floor %llu", (unsigned long long)t,
        (unsigned long long)q->floor);
  SIM_CHECK(id <= SIM_QUEUE_ID_MAX, "id %u above 2^%d - 1", id, SIM_QUEUE_ID_BITS);
  if (q->kind == SIM_QUEUE_WHEEL && t - q->floor <= q->mask) {
    if (bucket_append(q, t, id) != 0) return -1;
  } else if (heap_push(&q->h, t, id) != 0) {
    return -1;
  }
  q->size++;
  return 0;
}

/* First non-empty bucket at or after the floor's, circularly (in_wheel > 0). */
static size_t first_bucket(const sim_queue *q) {
  const size_t start = (size_t)(q->floor & q->mask), words = (q->mask + 1) / 64;
  size_t w = start >> 6;
  uint64_t bits = q->occupied[w] & (~UINT64_C(0) << (start & 63));
  for (size_t scanned = 0; !bits; scanned++) {
    SIM_CHECK(scanned <= words, "wheel holds %zu pairs but no bucket is marked", q->in_wheel);
    w = (w + 1) % words;
    bits = q->occupied[w];
  }
  return (w << 6) | (size_t)__builtin_ctzll(bits);
}

bool sim_queue_peek(sim_queue *q, sim_time *t, uint32_t *id) {
  if (q->in_wheel > 0) {
    const size_t b = first_bucket(q);
    *t = q->floor + ((b - (size_t)(q->floor & q->mask)) & q->mask);
    const bucket *bk = &q->buckets[b];
    *id = q->blocks[bk->head].id[bk->read];
    return true;
  }
  if (q->h.n == 0) return false;
  *t = q->h.a[0].t;
  *id = (uint32_t)(q->h.a[0].tie & ID_MASK);
  return true;
}

bool sim_queue_pop_slow(sim_queue *q, sim_time *t, uint32_t *id) {
  if (q->in_wheel > 0) {
    const size_t b = first_bucket(q);
    *t = q->floor + ((b - (size_t)(q->floor & q->mask)) & q->mask);
    *id = bucket_take(q, b);
  } else if (q->h.n > 0) {
    hkey k = heap_pop(&q->h);
    *t = k.t;
    *id = (uint32_t)(k.tie & ID_MASK);
  } else {
    return false;
  }
  q->size--;
  if (*t != q->floor) {
    q->floor = *t;
    if (q->kind == SIM_QUEUE_WHEEL) migrate(q);
  }
  return true;
}

void sim_queue_advance(sim_queue *q, sim_time t) {
  sim_time first;
  uint32_t id;
  SIM_CHECK(t >= q->floor, "advance to %llu below the floor %llu", (unsigned long long)t,
        (unsigned long long)q->floor);
  SIM_CHECK(!sim_queue_peek(q, &first, &id) || first >= t, "advance to %llu past a pair at %llu",
        (unsigned long long)t, (unsigned long long)first);
  q->floor = t;
  if (q->kind == SIM_QUEUE_WHEEL) migrate(q);
}


size_t sim_queue_bytes(const sim_queue *q) {
  size_t bytes = sizeof *q + q->h.cap * sizeof *q->h.a + (size_t)q->nblocks * sizeof(block);
  if (q->kind == SIM_QUEUE_WHEEL) bytes += (q->mask + 1) * sizeof(bucket) + (q->mask + 1) / 8;
  return bytes;
}

const char *sim_queue_kind_name(sim_queue_kind kind) {
  return kind == SIM_QUEUE_HEAP ? "heap" : "wheel";
}

void sim_queue_set_sequence(sim_queue *q, uint64_t next) {
  SIM_CHECK(next <= SEQ_LIMIT, "sequence %llu past the limit", (unsigned long long)next);
  q->h.seq = next;
}
