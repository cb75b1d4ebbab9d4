/* wafersim benchmarks, one scenario per process (so that peak RSS is the
 * scenario's own):
 *   bench phold N [EVENTS]       PHOLD with N entities, about EVENTS events
 *   bench systolic N [K C T]     systolic N x N mesh, K rounds (default 10 1000 5)
 *   bench queue N [OPS]          the queue alone: N keys, OPS pop+push pairs
 *   bench masks T PATTERN LEVEL  every sparse weight's mask of GPT-3 1.3B on T
 *                                threads (events: weights decided)
 *   --queue wheel|heap           which queue (default: the engine's default)
 * Prints: bench NAME events=E wall_s=W events_per_s=R rss_kb=M [extra=...] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "phold.h"
#include "sim/config.h"
#include "sim/engine/engine.h"
#include "systolic.h"

static double seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static long rss_kb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

static void report(const char *name, uint64_t events, double wall, const char *extra) {
  printf("bench %s events=%llu wall_s=%.4f events_per_s=%.0f rss_kb=%ld%s%s\n", name,
         (unsigned long long)events, wall, (double)events / wall, rss_kb(), extra[0] ? " " : "",
         extra);
}

static int usage(void) {
  fprintf(stderr, "usage: bench phold|systolic|queue N [args] [--queue wheel|heap]\n"
                  "       bench masks THREADS PATTERN LEVEL\n");
  return 2;
}

static sim_engine *engine(sim_queue_kind kind) {
  char err[256];
  sim_config cfg = {.queue = kind};
  sim_engine *e = sim_engine_create(&cfg, err, sizeof err);
  if (!e) fprintf(stderr, "bench: %s\n", err);
  return e;
}

static int run_phold(uint32_t n, uint64_t events, sim_queue_kind kind, const char *name) {
  const double t0 = seconds();
  sim_engine *e = engine(kind);
  if (!e) return 1;
  bench_phold p = {.entities = n, .population = 1, .mean = 10.0, .seed = 1};
  p.horizon = (sim_time)((double)events * bench_phold_mean_delay(p.mean) / n);
  if (bench_phold_setup(&p, e) != 0 || sim_engine_run(e) != 0) {
    fprintf(stderr, "bench: %s\n", sim_engine_error(e));
    return 1;
  }
  const double wall = seconds() - t0;
  sim_stats st = sim_engine_stats(e);
  char extra[160];
  snprintf(extra, sizeof extra, "queue=%s peak_pending=%llu retired=%llu", sim_queue_kind_name(kind),
           (unsigned long long)st.peak_pending, (unsigned long long)p.retired);
  report(name, st.executed, wall, extra);
  sim_engine_destroy(e);
  return 0;
}

static int run_systolic(uint32_t n, uint32_t k, sim_time c, sim_time t, sim_queue_kind kind,
                        const char *name) {
  const double t0 = seconds();
  sim_engine *e = engine(kind);
  if (!e) return 1;
  bench_systolic s = {.n = n, .rounds = k, .compute = c, .transfer = t};
  if (bench_systolic_setup(&s, e) != 0 || sim_engine_run(e) != 0) {
    fprintf(stderr, "bench: systolic setup or run failed: %s\n", sim_engine_error(e));
    return 1;
  }
  const double wall = seconds() - t0;
  char extra[160];
  snprintf(extra, sizeof extra, "queue=%s messages=%llu sim_end=%llu closed_form=%llu",
           sim_queue_kind_name(kind), (unsigned long long)s.messages, (unsigned long long)s.end,
           (unsigned long long)(k * (c + t)));
  report(name, sim_engine_stats(e).executed, wall, extra);
  bench_systolic_free(&s);
  sim_engine_destroy(e);
  return 0;
}

/* The queue alone: the hold model with PHOLD's delay distribution, delays
 * drawn beforehand so the loop times nothing but pops and pushes. */
static int run_queue(uint32_t n, uint64_t ops, sim_queue_kind kind, const char *name) {
  enum { TABLE = 1 << 16 };
  sim_time *delays = malloc(TABLE * sizeof *delays);
  sim_queue *q = sim_queue_create(kind, 12);
  if (!delays || !q) return 1;
  uint64_t x = 88172645463325252ULL;
  for (int i = 0; i < TABLE; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    delays[i] = 1 + (sim_time)(-10.0 * log((double)((x >> 11) + 1) * 0x1p-53));
  }
  const double t0 = seconds();
  for (uint32_t i = 0; i < n; i++) sim_queue_push(q, delays[i % TABLE] - 1, i);
  sim_time t;
  uint32_t id;
  for (uint64_t i = 0; i < ops; i++) {
    sim_queue_pop(q, &t, &id);
    sim_queue_push(q, t + delays[i & (TABLE - 1)], id);
  }
  const double wall = seconds() - t0;
  char extra[64];
  snprintf(extra, sizeof extra, "queue=%s", sim_queue_kind_name(kind));
  report(name, ops, wall, extra);
  sim_queue_destroy(q);
  free(delays);
  return 0;
}

/* All masks of the default model (GPT-3 1.3B) at one level. */
static int run_masks(uint32_t threads, const char *pattern, double level, const char *name) {
  static ws_config cfg;
  char err[WS_CONFIG_ERR_MAX], set[64];
  snprintf(set, sizeof set, "workload.pattern=%s", pattern);
  if (ws_config_init_default(&cfg, err, sizeof err) != 0 || ws_config_set(&cfg, set, err, sizeof err) != 0 ||
      ws_config_finish(&cfg, err, sizeof err) != 0) {
    fprintf(stderr, "bench: %s\n", err);
    return 1;
  }
  mdl_graph *g = mdl_graph_build(&cfg.model, cfg.workload.seq_len, err, sizeof err);
  wl_sparsity s;
  ws_config_sparsity(&cfg, &s);
  s.level = level;
  wl_spec spec = ws_config_spec(&cfg, &s);
  spec.threads = threads;
  const double t0 = seconds();
  wl_weights *w = g ? wl_weights_build(g, &spec, err, sizeof err) : NULL;
  const double wall = seconds() - t0;
  if (!w) {
    fprintf(stderr, "bench: %s\n", err);
    return 1;
  }
  uint64_t weights = 0, nnz = 0;
  for (size_t i = 0; i < mdl_graph_op_count(g); i++) {
    const wl_mask *m = wl_weights_mask(w, i);
    if (!m) continue;
    weights += (uint64_t)wl_mask_rows(m) * wl_mask_cols(m);
    nnz += wl_mask_nnz(m);
  }
  char extra[160];
  snprintf(extra, sizeof extra, "threads=%u level=%g nnz=%llu mask_bytes=%zu", threads, level,
           (unsigned long long)nnz, wl_weights_bytes(w));
  report(name, weights, wall, extra);
  wl_weights_destroy(w);
  mdl_graph_destroy(g);
  return 0;
}

int main(int argc, char **argv) {
  sim_queue_kind kind = SIM_QUEUE_WHEEL;
  char *args[8];
  int nargs = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--queue") == 0 && i + 1 < argc) {
      const char *k = argv[++i];
      if (strcmp(k, "heap") == 0) kind = SIM_QUEUE_HEAP;
      else if (strcmp(k, "wheel") == 0) kind = SIM_QUEUE_WHEEL;
      else return usage();
    } else if (nargs < 8) {
      args[nargs++] = argv[i];
    } else {
      return usage();
    }
  }
  if (nargs < 2) return usage();
  const uint32_t n = (uint32_t)strtoul(args[1], NULL, 10);
  if (n == 0) return usage();
  char name[64];
  snprintf(name, sizeof name, "%s-%s%s", args[0], args[1], kind == SIM_QUEUE_HEAP ? "-heap" : "");
  if (strcmp(args[0], "phold") == 0)
    return run_phold(n, nargs > 2 ? strtoull(args[2], NULL, 10) : 20000000ULL, kind, name);
  if (strcmp(args[0], "queue") == 0)
    return run_queue(n, nargs > 2 ? strtoull(args[2], NULL, 10) : 20000000ULL, kind, name);
  if (strcmp(args[0], "masks") == 0 && nargs == 4) {
    snprintf(name, sizeof name, "masks-%s-%st", args[2], args[1]);
    return run_masks(n, args[2], atof(args[3]), name);
  }
  if (strcmp(args[0], "systolic") == 0)
    return run_systolic(n, nargs > 2 ? (uint32_t)atoi(args[2]) : 10,
                        nargs > 3 ? (sim_time)atoll(args[3]) : 1000,
                        nargs > 4 ? (sim_time)atoll(args[4]) : 5, kind, name);
  return usage();
}
