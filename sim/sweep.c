/* A sweep of end-to-end runs over worker threads (see sweep.h). A point
 * keeps only its totals and per-kind sums once run, so a sweep holds one
 * run per worker at a time; the two per-PE maps are rendered as text when
 * their points finish. Shared among processes (ws_sweep_share), each runs
 * the points that are its own and a point's result travels as bytes
 * (point_pack, point_unpack) to the process that writes. */
#include "sweep.h"

#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "schema.h"
#include "workloads/sparsity.h"

#define MAX_KINDS 16

typedef struct {
  char name[24];
  uint64_t busy; /* its stages' busiest PEs' compute cycles, summed */
} kind_sum;

typedef struct {
  ws_config cfg;
  double level;
  size_t value; /* index into the spec's values, 0 without */
  ws_run_totals tot;
  kind_sum kinds[MAX_KINDS];
  uint32_t nkinds;
  double done; /* share of its micro-batches out */
  char *map;   /* the per-PE map's CSV, for the first value's lowest and highest level */
  size_t map_len;
} point;

struct ws_sweep {
  point *pt;
  size_t n, nlevels, nvalues;
  const char *key;
  const char *const *values;
  ws_run_progress progress;
  void *ctx;
  const ws_sweep_share *share; /* NULL: every point here */
  size_t nmine;     /* points this process runs */
  bool complete;    /* every point's result is here */
  pthread_mutex_t lock;
  size_t next;      /* next point to start */
  int failed;       /* a point failed: stop starting new ones */
  char err[512];
};

static int cmp_double(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

typedef struct {
  ws_sweep *s;
  size_t i;
} point_ref;

static void point_progress(void *ctx, double done) {
  const point_ref *r = ctx;
  ws_sweep *s = r->s;
  pthread_mutex_lock(&s->lock);
  s->pt[r->i].done = done;
  double sum = 0;
  for (size_t k = 0; k < s->n; k++) sum += s->pt[k].done;
  if (s->progress) s->progress(s->ctx, sum / (double)s->nmine);
  pthread_mutex_unlock(&s->lock);
}

/* What a point keeps of its run. */
static int keep(ws_sweep *s, point *p, const ws_run *r, bool map) {
  p->tot = *ws_run_totals_of(r);
  for (uint32_t i = 0; i < ws_run_op_count(r); i++) {
    const ws_run_op *o = ws_run_op_at(r, i);
    uint32_t k = 0;
    while (k < p->nkinds && strcmp(p->kinds[k].name, o->kind) != 0) k++;
    if (k == p->nkinds) {
      if (k == MAX_KINDS) continue;
      snprintf(p->kinds[p->nkinds++].name, sizeof p->kinds[k].name, "%s", o->kind);
    }
    p->kinds[k].busy += o->busy_max;
  }
  if (!map) return 0;
  FILE *f = open_memstream(&p->map, &p->map_len);
  const int rc = f ? ws_run_write_pes(r, f) : -1;
  if (!f || (fclose(f) != 0) | (rc != 0)) {
    snprintf(s->err, sizeof s->err, "out of memory for the per-PE map");
    return -1;
  }
  return 0;
}

static bool is_mine(const ws_sweep *s, size_t i) { return !s->share || s->share->mine(s->share->ctx, i); }

static void *worker(void *arg) {
  ws_sweep *s = arg;
  for (;;) {
    pthread_mutex_lock(&s->lock);
    while (!s->failed && s->next < s->n && !is_mine(s, s->next)) s->next++;
    const size_t i = s->failed ? s->n : s->next++;
    pthread_mutex_unlock(&s->lock);
    if (i >= s->n) return NULL;
    point *p = &s->pt[i];
    point_ref ref = {s, i};
    char err[512] = "";
    ws_run *r = ws_run_simulate(&p->cfg, point_progress, &ref, err, sizeof err);
    const bool map = p->value == 0 && (i == 0 || i + 1 == s->nlevels);
    pthread_mutex_lock(&s->lock);
    int rc = r ? keep(s, p, r, map) : -1;
    if (!r && s->key)
      snprintf(s->err, sizeof s->err, "sparsity %g, %s=%s: %s", p->level, s->key, s->values[p->value], err);
    else if (!r)
      snprintf(s->err, sizeof s->err, "sparsity %g: %s", p->level, err);
    if (rc != 0) s->failed = 1;
    pthread_mutex_unlock(&s->lock);
    ws_run_destroy(r);
  }
}

/* A --vary key must be one the sweep does not set itself and one that can
 * change a figure. 0, or -1 naming the key and why. */
static int check_key(const char *key, char *err, size_t errlen) {
  if (strcmp(key, "workload.sparsity") == 0) {
    snprintf(err, errlen,
             "--vary workload.sparsity: the sweep sets it itself, to each of its levels (every point would run at "
             "the --vary value under the level's label); give the levels with --sparsity or --schedule");
    return -1;
  }
  if (strcmp(key, "output") == 0 || strncmp(key, "output.", 7) == 0) {
    snprintf(err, errlen, "--vary %s: changes no figure (the output section only chooses how results are written)",
             key);
    return -1;
  }
  if (ws_schema_find(key) < 0) {
    snprintf(err, errlen, "--vary %s: not a configuration key (see 'wafersim config' for the keys)", key);
    return -1;
  }
  return 0;
}

/* Whether two points' configurations are the same run: every sparse weight
 * at the same level (wherever the level comes from: workload.sparsity, a
 * kind's or a layer's override) and every other key equal. */
static bool same_run(const ws_config *a, const ws_config *b) {
  wl_sparsity sa, sb;
  ws_config_sparsity(a, &sa);
  ws_config_sparsity(b, &sb);
  if (a->model.layers != b->model.layers || a->model.arch != b->model.arch) return false;
  for (int l = 0; l < (int)a->model.layers && l < WL_MAX_LAYERS; l++)
    for (int k = 0; k < MDL_OP_KIND_COUNT; k++) {
      const mdl_op op = {.kind = (mdl_op_kind)k, .layer = l,
                         .sparsifiable = wl_sparsity_kind_sparsifiable((mdl_op_kind)k) &&
                                         mdl_arch_has(a->model.arch, (mdl_op_kind)k)};
      if (wl_sparsity_level(&sa, &op) != wl_sparsity_level(&sb, &op)) return false;
    }
  ws_config *ca = malloc(sizeof *ca), *cb = malloc(sizeof *cb);
  bool same = ca && cb;
  if (same) {
    *ca = *a;
    *cb = *b;
    ca->workload.sparsity = cb->workload.sparsity = 0;
    memcpy(cb->workload.by_kind, ca->workload.by_kind, sizeof ca->workload.by_kind);
    memcpy(cb->workload.by_layer, ca->workload.by_layer, sizeof ca->workload.by_layer);
    same = ws_config_equal(ca, cb);
  }
  free(ca);
  free(cb);
  return same;
}

/* No two points with different labels may be the same run. 0, or -1 naming
 * the two points and why. */
static int check_distinct(const ws_sweep *s, char *err, size_t errlen) {
  for (size_t i = 0; i < s->n; i++)
    for (size_t j = i + 1; j < s->n; j++) {
      const point *a = &s->pt[i], *b = &s->pt[j];
      if (!same_run(&a->cfg, &b->cfg)) continue;
      if (a->value == b->value)
        snprintf(err, errlen,
                 "sparsity %g and %g are the same run: workload.sparsity_by_kind / sparsity_by_layer give every "
                 "sparse weight its level, so the sweep's levels (workload.sparsity) change nothing; drop the "
                 "overrides, or sweep one of them with --vary",
                 a->level, b->level);
      else
        snprintf(err, errlen,
                 "--vary %s: %s and %s are the same run (at sparsity %g): a value repeated, or one this "
                 "configuration does not use",
                 s->key, s->values[a->value], s->values[b->value], a->level);
      return -1;
    }
  return 0;
}

/* The points' configurations: levels ascending with 0 first, per value. */
static int configure(ws_sweep *s, const ws_config *cfg, const ws_sweep_spec *spec, const char *source, char *err,
                     size_t errlen) {
  double *lv = malloc((spec->nlevels + 1) * sizeof *lv);
  if (!lv) return -1;
  size_t n = 0;
  lv[n++] = 0;
  for (size_t i = 0; i < spec->nlevels; i++) lv[n++] = spec->levels[i];
  qsort(lv, n, sizeof *lv, cmp_double);
  size_t u = 0;
  for (size_t i = 0; i < n; i++)
    if (u == 0 || lv[i] != lv[u - 1]) lv[u++] = lv[i];
  s->nlevels = u;
  s->nvalues = spec->key ? spec->nvalues : 1;
  s->n = s->nlevels * s->nvalues;
  if (s->n > WS_SWEEP_MAX_POINTS) {
    snprintf(err, errlen,
             "%zu levels (dense included) x %zu values = %zu points: at most %d in a sweep (--sparsity, --schedule, "
             "--vary)",
             s->nlevels, s->nvalues, s->n, WS_SWEEP_MAX_POINTS);
    s->n = 0;
    free(lv);
    return -1;
  }
  s->pt = calloc(s->n, sizeof *s->pt);
  int rc = s->pt ? 0 : -1;
  for (size_t v = 0; rc == 0 && v < s->nvalues; v++)
    for (size_t l = 0; rc == 0 && l < s->nlevels; l++) {
      point *p = &s->pt[v * s->nlevels + l];
      char level[32], msg[1024] = "";
      p->cfg = *cfg;
      p->level = lv[l];
      p->value = v;
      snprintf(level, sizeof level, "%.17g", lv[l]);
      /* Key and value apart: a value is never cut to a buffer; messages name where they came from. */
      rc = ws_config_set_key(&p->cfg, "workload.sparsity", level, source ? source : "--sparsity", msg,
                             sizeof msg);
      if (rc == 0 && spec->key)
        rc = ws_config_set_key(&p->cfg, spec->key, spec->values[v], source ? source : "--vary", msg,
                               sizeof msg);
      if (rc == 0) rc = ws_config_finish(&p->cfg, msg, sizeof msg);
      if (rc != 0) snprintf(err, errlen, "%s", msg);
    }
  free(lv);
  if (!s->pt) snprintf(err, errlen, "out of memory");
  return rc;
}

ws_sweep *ws_sweep_run(const ws_config *cfg, const ws_sweep_spec *spec, char *err, size_t errlen) {
  return ws_sweep_run_from(cfg, spec, NULL, err, errlen);
}

ws_sweep *ws_sweep_run_from(const ws_config *cfg, const ws_sweep_spec *spec, const char *source, char *err,
                            size_t errlen) {
  return ws_sweep_run_shared(cfg, spec, source, NULL, err, errlen);
}

/* A point's result as bytes: its totals, its kinds' count and sums, its
 * map's length and text. The processes of a sweep run the same build on
 * the same architecture (as an MPI job does), so the structs travel as
 * they are. NULL out of memory. */
static char *point_pack(const point *p, size_t *len) {
  const uint64_t map_len = p->map_len;
  *len = sizeof p->tot + sizeof p->nkinds + p->nkinds * sizeof p->kinds[0] + sizeof map_len + p->map_len;
  char *b = malloc(*len), *w = b;
  if (!b) return NULL;
  memcpy(w, &p->tot, sizeof p->tot), w += sizeof p->tot;
  memcpy(w, &p->nkinds, sizeof p->nkinds), w += sizeof p->nkinds;
  memcpy(w, p->kinds, p->nkinds * sizeof p->kinds[0]), w += p->nkinds * sizeof p->kinds[0];
  memcpy(w, &map_len, sizeof map_len), w += sizeof map_len;
  if (p->map_len) memcpy(w, p->map, p->map_len);
  return b;
}

/* The inverse of point_pack into p. 0, or -1 when the bytes are not a point's. */
static int point_unpack(point *p, const char *b, size_t len) {
  uint32_t nk;
  uint64_t map_len;
  const size_t head = sizeof p->tot + sizeof nk;
  if (len < head) return -1;
  memcpy(&nk, b + sizeof p->tot, sizeof nk);
  if (nk > MAX_KINDS || len < head + nk * sizeof p->kinds[0] + sizeof map_len) return -1;
  const char *r = b + head + nk * sizeof p->kinds[0];
  memcpy(&map_len, r, sizeof map_len);
  r += sizeof map_len;
  if (map_len != len - (size_t)(r - b)) return -1;
  char *map = map_len ? malloc(map_len) : NULL;
  if (map_len && !map) return -1;
  memcpy(&p->tot, b, sizeof p->tot);
  p->nkinds = nk;
  memcpy(p->kinds, b + head, nk * sizeof p->kinds[0]);
  if (map_len) memcpy(map, r, map_len);
  free(p->map);
  p->map = map;
  p->map_len = map_len;
  return 0;
}

/* The length of the message a share's gather passes on: the same in every process. */
#define SHARE_MSG_MAX 512

/* Every point's result brought here through the share (ws_sweep_share's
 * gather), whatever this process's status. 0 (s->complete set when every
 * result is here), or -1 with the reason in err. */
static int share_results(ws_sweep *s, int status, char *err, size_t errlen) {
  char **parts = status == 0 ? calloc(s->n, sizeof *parts) : NULL;
  size_t *len = status == 0 ? calloc(s->n, sizeof *len) : NULL;
  char msg[SHARE_MSG_MAX] = "";
  if (status != 0) snprintf(msg, sizeof msg, "%s", err);
  if (status == 0 && (!parts || !len)) {
    snprintf(msg, sizeof msg, "out of memory for the points' results");
    status = -1;
  }
  for (size_t i = 0; status == 0 && i < s->n; i++)
    if (is_mine(s, i) && !(parts[i] = point_pack(&s->pt[i], &len[i]))) {
      snprintf(msg, sizeof msg, "out of memory for the points' results");
      status = -1;
    }
  const size_t n = status == 0 ? s->n : 0;
  int rc = s->share->gather(s->share->ctx, status == 0 ? parts : NULL, status == 0 ? len : NULL, n, status, msg,
                            sizeof msg);
  for (size_t i = 0; rc == 0 && i < s->n; i++)
    if (!parts[i] || point_unpack(&s->pt[i], parts[i], len[i]) != 0) {
      snprintf(msg, sizeof msg, "point %zu's result came back malformed from the process that ran it", i);
      rc = -1;
    }
  for (size_t i = 0; parts && i < s->n; i++) free(parts[i]);
  free(parts);
  free(len);
  if (rc < 0) snprintf(err, errlen, "%s", msg);
  s->complete = rc == 0;
  return rc < 0 ? -1 : 0;
}

ws_sweep *ws_sweep_run_shared(const ws_config *cfg, const ws_sweep_spec *spec, const char *source,
                              const ws_sweep_share *share, char *err, size_t errlen) {
  ws_sweep *s = calloc(1, sizeof *s);
  if (!s) {
    char msg[SHARE_MSG_MAX] = "out of memory";
    if (share) share->gather(share->ctx, NULL, NULL, 0, -1, msg, sizeof msg);
    snprintf(err, errlen, "%s", msg);
    return NULL;
  }
  s->share = share;
  s->complete = !share;
  s->key = spec->key;
  s->values = spec->values;
  s->progress = spec->progress;
  s->ctx = spec->ctx;
  pthread_mutex_init(&s->lock, NULL);
  unsigned jobs = spec->jobs ? spec->jobs : 1;
  int rc = spec->key ? check_key(spec->key, err, errlen) : 0;
  if (rc == 0 && jobs > WS_SWEEP_MAX_JOBS) {
    snprintf(err, errlen, "-j %u: at most %d runs at once", jobs, WS_SWEEP_MAX_JOBS);
    rc = -1;
  }
  if (rc == 0) rc = configure(s, cfg, spec, source, err, errlen);
  if (rc == 0) rc = check_distinct(s, err, errlen);
  for (size_t i = 0; i < s->n; i++) s->nmine += is_mine(s, i);
  if (jobs > s->nmine) jobs = s->nmine ? (unsigned)s->nmine : 1;
  for (size_t i = 0; rc == 0 && i < s->n; i++) { /* each point fits, and jobs of them in memory */
    const point *p = &s->pt[i];
    char why[512];
    if ((rc = ws_run_check(&p->cfg, jobs, why, sizeof why)) == 0) continue;
    if (s->key)
      snprintf(err, errlen, "sparsity %g, %s=%s: %s", p->level, s->key, s->values[p->value], why);
    else
      snprintf(err, errlen, "sparsity %g: %s", p->level, why);
  }
  if (rc != 0) {
    if (share) share_results(s, -1, err, errlen); /* the others learn of it, and we of theirs */
    ws_sweep_destroy(s);
    return NULL;
  }
  pthread_t th[WS_SWEEP_MAX_JOBS];
  unsigned started = 0;
  for (; started < jobs; started++)
    if (pthread_create(&th[started], NULL, worker, s) != 0) break;
  if (started == 0) worker(s);
  for (unsigned i = 0; i < started; i++) pthread_join(th[i], NULL);
  if (s->failed) snprintf(err, errlen, "%s", s->err);
  if (share && share_results(s, s->failed ? -1 : 0, err, errlen) != 0) s->failed = 1;
  if (s->failed) {
    ws_sweep_destroy(s);
    return NULL;
  }
  return s;
}

bool ws_sweep_complete(const ws_sweep *s) { return s->complete; }

void ws_sweep_destroy(ws_sweep *s) {
  if (!s) return;
  for (size_t i = 0; s->pt && i < s->n; i++) free(s->pt[i].map);
  free(s->pt);
  pthread_mutex_destroy(&s->lock);
  free(s);
}

/* The derived columns of a point (row: a point; ctx: its sweep). */
static const ws_run_totals *dense_of(const void *row, const void *ctx) {
  const ws_sweep *s = ctx;
  return &s->pt[((const point *)row)->value * s->nlevels].tot;
}
static void get_speedup(ws_table *t, size_t col, const void *row, const void *ctx) {
  ws_table_f64(t, col, (double)dense_of(row, ctx)->cycles / (double)((const point *)row)->tot.cycles);
}
static void get_params_reduction(ws_table *t, size_t col, const void *row, const void *ctx) {
  (void)ctx;
  const ws_run_totals *tot = &((const point *)row)->tot;
  ws_table_f64(t, col, (double)tot->params_dense / (double)tot->params);
}
static void get_value(ws_table *t, size_t col, const void *row, const void *ctx) {
  const ws_sweep *s = ctx;
  ws_table_str(t, col, s->key ? s->values[((const point *)row)->value] : "");
}

static void get_micro_batch(ws_table *t, size_t col, const void *row, const void *ctx) {
  (void)ctx;
  const point *pt = row;
  /* weight streaming: its pass's tokens, whatever workload.micro_batch says */
  const bool given = pt->cfg.workload.micro_batch > 0 && !pt->tot.wafers;
  ws_table_i64(t, col, given ? pt->cfg.workload.micro_batch : (int64_t)pt->tot.micro_batch);
}
static void get_bound_by(ws_table *t, size_t col, const void *row, const void *ctx) {
  (void)ctx;
  ws_table_str(t, col, ((const point *)row)->tot.sys.bound_by);
}

static void get_strategy(ws_table *t, size_t col, const void *row, const void *ctx) {
  (void)ctx;
  ws_table_str(t, col, ((const point *)row)->tot.strategy);
}
static void get_limit(ws_table *t, size_t col, const void *row, const void *ctx) {
  (void)ctx;
  ws_table_str(t, col, ((const point *)row)->tot.limit);
}
static void get_limit_stage(ws_table *t, size_t col, const void *row, const void *ctx) {
  (void)ctx;
  ws_table_str(t, col, ((const point *)row)->tot.limit_stage);
}

/* A point's columns, in output order (sweep.h; the totals' fields as run.h defines them). */
static const ws_column point_columns[] = {
    WS_COLUMN(point, level, "sparsity", "fraction of zeros"),
    WS_COLUMN(point, tot.cycles, "cycles", "cycles"),
    WS_COLUMN(point, tot.seconds, "seconds", "s"),
    WS_COLUMN(point, tot.tokens_per_s, "tokens_per_s", "tokens/s"),
    WS_COLUMN_GET("speedup", "ratio", WS_COL_F64, get_speedup,
                  "cycles of the dense point (level 0) with the same value / point.tot.cycles"),
    WS_COLUMN(point, tot.flops_reduction, "flops_reduction", "ratio"),
    WS_COLUMN_GET("params_reduction", "ratio", WS_COL_F64, get_params_reduction,
                  "point.tot.params_dense / point.tot.params"),
    WS_COLUMN(point, tot.weight_bytes, "weight_bytes", "bytes"),
    WS_COLUMN(point, tot.sram_max, "sram_max_bytes", "bytes"),
    WS_COLUMN(point, tot.pes_used, "pes_used", "PEs"),
    WS_COLUMN(point, tot.kernel_mix, "kernel_mix", "ratio"),
    WS_COLUMN(point, tot.wall_s, "wall_s", "s"),
    WS_COLUMN_GET("micro_batch", "tokens", WS_COL_I64, get_micro_batch,
                  "the point's workload.micro_batch; with auto, the size its placer chose (its run's micro_batch); with stream, a pass's tokens"),
    WS_COLUMN(point, cfg.kernels.sparse_setup, "sparse_setup", "cycles per nonzero"),
    WS_COLUMN_GET("value", NULL, WS_COL_STR, get_value, "the --vary key's value of the point, empty without --vary"),
    WS_COLUMN(point, tot.fill_cycles, "fill_cycles", "cycles"),
    WS_COLUMN(point, tot.steady_interval, "steady_interval", "cycles per micro-batch"),
    WS_COLUMN(point, tot.bound, "bound_cycles", "cycles"),
    WS_COLUMN(point, tot.placer_interval, "placer_interval", "cycles per micro-batch"),
    WS_COLUMN(point, tot.flops_dense, "flops_dense", "FLOP"),
    WS_COLUMN(point, tot.flops_executed, "flops_executed", "FLOP"),
    WS_COLUMN(point, tot.flops_per_s, "flops_per_s", "FLOP/s"),
    WS_COLUMN(point, tot.peak_fraction, "peak_fraction", "ratio"),
    WS_COLUMN(point, tot.events, "events", "events"),
    WS_COLUMN(point, tot.events_per_s, "events_per_s", "events/s"),
    WS_COLUMN(point, tot.sim_wall_s, "sim_wall_s", "s"),
    WS_COLUMN(point, tot.peak_rss_bytes, "peak_rss_bytes", "bytes"),
    WS_COLUMN(point, tot.flops_simulated, "flops_simulated", "FLOP"),
    WS_COLUMN(point, tot.bound_cycles_wafer, "bound_cycles_wafer", "cycles"),
    WS_COLUMN(point, tot.bound_fraction, "bound_fraction", "ratio"),
    WS_COLUMN(point, cfg.workload.batch, "batch", "sequences"),
    WS_COLUMN_GET("limit", NULL, WS_COL_STR, get_limit, "the point's limit (run.h): what stops its placer's interval lower"),
    WS_COLUMN_GET("limit_stage", NULL, WS_COL_STR, get_limit_stage, "the point's limit_stage (run.h)"),
    WS_COLUMN(point, tot.placer_cycles, "placer_cycles", "cycles"),
    WS_COLUMN(point, tot.entry_interval, "entry_interval", "cycles per micro-batch"),
    WS_COLUMN(point, tot.tail_cycles, "tail_cycles", "cycles"),
    WS_COLUMN_GET("strategy", NULL, WS_COL_STR, get_strategy, "the strategy the point ran (auto: the one it chose)"),
    WS_COLUMN(point, tot.replicas, "replicas", "copies"),
    WS_COLUMN(point, tot.pipeline_cycles_model, "pipeline_cycles_model", "cycles"),
    WS_COLUMN(point, tot.layerwise_cycles_model, "layerwise_cycles_model", "cycles"),
    WS_COLUMN(point, tot.steps, "steps", "steps"),
    WS_COLUMN(point, tot.step_cycles_max, "step_cycles_max", "cycles"),
    WS_COLUMN(point, tot.ttft_s, "ttft_s", "s"),
    WS_COLUMN(point, tot.tpot_s, "tpot_s", "s"),
    WS_COLUMN(point, tot.tpot_max_s, "tpot_max_s", "s"),
    WS_COLUMN(point, tot.tokens_per_s_per_seq, "tokens_per_s_per_seq", "tokens/s"),
    WS_COLUMN(point, tot.sys.step_s, "step_s", "s"),
    WS_COLUMN(point, tot.sys.compute_s, "compute_s", "s"),
    WS_COLUMN(point, tot.sys.stream_s, "stream_s", "s"),
    WS_COLUMN(point, tot.sys.grad_s, "grad_s", "s"),
    WS_COLUMN(point, tot.sys.store_s, "store_s", "s"),
    WS_COLUMN(point, tot.sys.stall_s, "stall_s", "s"),
    WS_COLUMN(point, tot.sys.reduce_s, "reduce_s", "s"),
    WS_COLUMN(point, tot.sys.update_s, "update_s", "s"),
    WS_COLUMN(point, tot.sys.overlap_s, "overlap_s", "s"),
    WS_COLUMN(point, tot.sys.stream_bytes, "stream_bytes", "bytes"),
    WS_COLUMN(point, tot.sys.grad_bytes, "grad_bytes", "bytes"),
    WS_COLUMN_GET("bound_by", NULL, WS_COL_STR, get_bound_by, "the point's bound_by (run.h): its step's busiest resource"),
    WS_COLUMN(point, tot.wafers, "wafers", "wafers"),
    WS_COLUMN(point, tot.layer_runs, "layer_runs", "runs"),
    WS_COLUMN(point, tot.sys.messages, "system_messages", "communications"),
    WS_COLUMN(point, tot.system_wall_s, "system_wall_s", "s"),
};
#define NPOINT_COLUMNS (sizeof point_columns / sizeof point_columns[0])

const ws_column *ws_sweep_columns(size_t *n) {
  *n = NPOINT_COLUMNS;
  return point_columns;
}

ws_table *ws_sweep_table(const ws_sweep *s) {
  return ws_table_of_rows(point_columns, NPOINT_COLUMNS, s->pt, sizeof s->pt[0], s->n, s);
}

ws_table *ws_sweep_kinds_table(const ws_sweep *s) {
  const point *p0 = &s->pt[0]; /* every point runs the same graph: the same kinds */
  const char *cols[2 + MAX_KINDS] = {"sparsity", "value"};
  for (uint32_t k = 0; k < p0->nkinds; k++) cols[2 + k] = p0->kinds[k].name;
  ws_table *tb = ws_table_create(2 + p0->nkinds, cols);
  for (size_t i = 0; tb && i < s->n; i++) {
    if (ws_table_row(tb) != 0) {
      ws_table_destroy(tb);
      return NULL;
    }
    const point *p = &s->pt[i];
    ws_table_f64(tb, 0, p->level);
    ws_table_str(tb, 1, s->key ? s->values[p->value] : "");
    for (uint32_t k = 0; k < p->nkinds && k < p0->nkinds; k++) ws_table_i64(tb, 2 + k, (int64_t)p->kinds[k].busy);
  }
  return tb;
}

int ws_sweep_write_pes(const ws_sweep *s, int first, FILE *out) {
  const point *p = &s->pt[first ? 0 : s->nlevels - 1];
  if (p->map && fwrite(p->map, 1, p->map_len, out) != p->map_len) return -1;
  return ferror(out) ? -1 : 0;
}
