/* Building every sparse weight's mask of a model (see weights.h). */
#include "weights.h"

#include "mask_internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_THREADS 64

struct wl_weights {
  size_t n;
  wl_mask **mask; /* per op, NULL where the op has no sparsifiable weight */
  size_t bytes;
};

/* A seed per op from the run's seed and the op's place in the graph. */
static uint64_t op_seed(uint64_t seed, size_t op) {
  uint64_t z = seed + (op + 1) * UINT64_C(0x9E3779B97F4A7C15);
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

int wl_spec_check(const mdl_graph *g, const wl_spec *spec, char *err, size_t errlen) {
  char why[384];
  for (size_t i = 0; spec->pattern.kind != WL_PATTERN_FILE && i < mdl_graph_op_count(g); i++) {
    const mdl_op *op = mdl_graph_op(g, i);
    if (op->sparsifiable && wl_pattern_check(&spec->pattern, (uint32_t)op->weight_rows, (uint32_t)op->weight_cols,
                                             wl_sparsity_density(spec->sparsity, op), why, sizeof why) != 0) {
      snprintf(err, errlen, "op %s: %s", op->name, why);
      return -1;
    }
  }
  return 0;
}

/* The mask of one op; `file` is the open file for pattern file, sc the
 * calling thread's scratch memory. */
static wl_mask *op_mask(const mdl_graph *g, size_t op, const wl_spec *spec, wl_st *file, wl_scratch *sc, char *err,
                        size_t errlen) {
  const mdl_op *o = mdl_graph_op(g, op);
  if (!o->sparsifiable || o->weight_rows > UINT32_MAX || o->weight_cols > UINT32_MAX) {
    snprintf(err, errlen, "op %s: has no sparsifiable weight a mask can describe", o->name);
    return NULL;
  }
  const uint32_t rows = (uint32_t)o->weight_rows, cols = (uint32_t)o->weight_cols;
  const double density = wl_sparsity_density(spec->sparsity, o);
  char why[512];
  wl_mask *m = NULL;
  if (spec->pattern.kind == WL_PATTERN_FILE) {
    const char *tensor = NULL;
    for (uint32_t i = 0; file && spec->file && i < spec->file->ntensors && !tensor; i++)
      if (strcmp(spec->file->tensors[i].op, o->name) == 0) tensor = spec->file->tensors[i].tensor;
    if (!tensor) {
      snprintf(err, errlen, "op %s: no tensor of workload.file.tensors is its weight", o->name);
      return NULL;
    }
    m = wl_st_mask(file, tensor, rows, cols, spec->file->layout, density, why, sizeof why);
  } else {
    m = wl_mask_make_with(&spec->pattern, rows, cols, density, op_seed(spec->seed, op), sc, why, sizeof why);
  }
  if (!m) snprintf(err, errlen, "op %s: %s", o->name, why);
  return m;
}

wl_mask *wl_weights_op_mask(const mdl_graph *g, size_t op, const wl_spec *spec, char *err, size_t errlen) {
  wl_st *file = NULL;
  if (spec->pattern.kind == WL_PATTERN_FILE && !(file = wl_st_open(spec->file->path, err, errlen))) return NULL;
  wl_scratch sc = {0};
  wl_mask *m = op_mask(g, op, spec, file, &sc, err, errlen);
  wl_scratch_free(&sc);
  wl_st_close(file);
  return m;
}

/* Threads building masks share the ops through a counter; the error
 * reported is the lowest-numbered op's, as a single thread would report. */
typedef struct {
  const mdl_graph *g;
  const wl_spec *spec;
  wl_st *file;
  wl_weights *w;
  atomic_size_t next;
  pthread_mutex_t lock;
  size_t failed; /* lowest op that failed, SIZE_MAX if none */
  char err[512];
} job;

static void *worker(void *arg) {
  job *j = arg;
  char err[512];
  wl_scratch sc = {0};
  for (size_t i; (i = atomic_fetch_add(&j->next, 1)) < j->w->n;) {
    if (!mdl_graph_op(j->g, i)->sparsifiable) continue;
    pthread_mutex_lock(&j->lock);
    const bool skip = i > j->failed;
    pthread_mutex_unlock(&j->lock);
    if (skip) continue;
    j->w->mask[i] = op_mask(j->g, i, j->spec, j->file, &sc, err, sizeof err);
    if (j->w->mask[i]) continue;
    pthread_mutex_lock(&j->lock);
    if (i < j->failed) {
      j->failed = i;
      memcpy(j->err, err, sizeof err);
    }
    pthread_mutex_unlock(&j->lock);
  }
  wl_scratch_free(&sc);
  return NULL;
}

wl_weights *wl_weights_build(const mdl_graph *g, const wl_spec *spec, char *err, size_t errlen) {
  wl_weights *w = calloc(1, sizeof *w);
  if (w) w->n = mdl_graph_op_count(g);
  if (w) w->mask = calloc(w->n, sizeof *w->mask);
  if (!w || !w->mask) {
    free(w);
    snprintf(err, errlen, "masks: out of memory");
    return NULL;
  }
  job j = {.g = g, .spec = spec, .w = w, .failed = SIZE_MAX};
  if (spec->pattern.kind == WL_PATTERN_FILE && !(j.file = wl_st_open(spec->file->path, err, errlen))) {
    wl_weights_destroy(w);
    return NULL;
  }
  atomic_init(&j.next, 0);
  pthread_mutex_init(&j.lock, NULL);
  long online = sysconf(_SC_NPROCESSORS_ONLN);
  unsigned threads = spec->threads ? spec->threads : online > 0 ? (unsigned)online : 1;
  threads = threads > MAX_THREADS ? MAX_THREADS : threads;
  pthread_t tid[MAX_THREADS];
  unsigned started = 0;
  while (started + 1 < threads && pthread_create(&tid[started], NULL, worker, &j) == 0) started++;
  worker(&j); /* this thread works too */
  for (unsigned i = 0; i < started; i++) pthread_join(tid[i], NULL);
  pthread_mutex_destroy(&j.lock);
  wl_st_close(j.file);
  if (j.failed != SIZE_MAX) {
    snprintf(err, errlen, "%s", j.err);
    wl_weights_destroy(w);
    return NULL;
  }
  for (size_t i = 0; i < w->n; i++)
    if (w->mask[i]) w->bytes += wl_mask_bytes_used(w->mask[i]);
  return w;
}

void wl_weights_destroy(wl_weights *w) {
  if (!w) return;
  for (size_t i = 0; i < w->n; i++) wl_mask_destroy(w->mask[i]);
  free(w->mask);
  free(w);
}

const wl_mask *wl_weights_mask(const wl_weights *w, size_t op) { return op < w->n ? w->mask[op] : NULL; }
size_t wl_weights_bytes(const wl_weights *w) { return w->bytes; }
