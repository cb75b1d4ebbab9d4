/* Probe patterns on the fabric and their closed forms (see probe.h). */
#include "probe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "fabric/collective.h"
#include "report.h"

static const char *const names[WS_PROBE_PATTERNS] = {
    "unicast", "multicast-row", "reduce-column", "allreduce", "region-copy", "random",
    "multicast-reduce"};

const char *ws_probe_pattern_name(ws_probe_pattern p) {
  return (unsigned)p < WS_PROBE_PATTERNS ? names[p] : "?";
}

int ws_probe_pattern_parse(const char *name) {
  for (int i = 0; i < WS_PROBE_PATTERNS; i++)
    if (strcmp(name, names[i]) == 0) return i;
  return -1;
}

/* Cycles of a chain over r PEs: each hop goes down a ramp, adds, and up. */
static uint64_t chain_cycles(const fab_config *c, uint64_t n, uint64_t r) {
  return n + (r - 1) * (2 * c->ramp_latency + c->hop_latency + c->add_latency);
}

/* Cycles of n wavelets over h hops with nothing in the way. */
static uint64_t path_cycles(const fab_config *c, uint64_t n, uint64_t h) {
  return n + 2 * c->ramp_latency + h * c->hop_latency;
}

/* Cycles for k x n wavelets through one ramp or link, the first of which
 * cannot arrive before a ramp, a hop and a ramp. */
static uint64_t load_cycles(const fab_config *c, uint64_t n, uint64_t k) {
  return k * n + 2 * c->ramp_latency + c->hop_latency;
}

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* One round of n wavelets over a new plan (the plan itself is not kept). */
static int once(fab_fabric *f, fab_coll *c, uint32_t n, char *err, size_t errlen) {
  if (!c) return -1;
  const fab_round r = {.n = n, .ready = 0};
  const int rc = fab_coll_round(f, c, &r, NULL, err, errlen);
  fab_coll_destroy(c);
  return rc;
}

/* Build the pattern on f and its lower bound. */
static int build(fab_fabric *f, const ws_probe_spec *s, ws_probe_result *r, char *err,
                 size_t errlen) {
  const fab_config *c = &s->fabric;
  const uint32_t w = c->width, h = c->height, n = s->wavelets;
  r->bound_exact = 0;
  static const char *const how[WS_PROBE_PATTERNS] = {"path", "multicast", "chain", "tree", "copy", "path",
                                                     "multicast+chain"};
  r->algorithm = how[s->pattern];
  switch (s->pattern) {
    case WS_PROBE_UNICAST: {
      uint32_t route;
      fab_xfer x;
      r->bound = path_cycles(c, n, (uint64_t)w - 1 + h - 1);
      r->bound_exact = 1;
      return fab_route_path(f, 0, fab_at(w, w - 1, h - 1), &route, err, errlen) ||
             fab_send(f, route, n, 0, &x, err, errlen);
    }
    case WS_PROBE_MULTICAST_ROW:
    case WS_PROBE_REDUCE_COLUMN:
    case WS_PROBE_MULTICAST_REDUCE:
      r->bound_exact = s->pattern != WS_PROBE_MULTICAST_REDUCE;
      if (s->pattern != WS_PROBE_REDUCE_COLUMN) {
        r->bound = path_cycles(c, n, w - 1);
        for (uint32_t y = 0; y < h; y++)
          if (once(f, fab_coll_multicast(f, fab_at(w, 0, y), (fab_rect){0, y, w, 1}, err, errlen), n,
                   err, errlen))
            return -1;
      }
      if (s->pattern != WS_PROBE_MULTICAST_ROW) {
        r->bound = max_u64(r->bound, chain_cycles(c, n, h));
        for (uint32_t i = 0; i < w; i++)
          if (once(f, fab_coll_chain(f, fab_at(w, i, 0), fab_at(w, i, h - 1), err, errlen), n, err,
                   errlen))
            return -1;
      }
      if (s->pattern == WS_PROBE_MULTICAST_REDUCE) /* PE (1,1) takes a row and a chain */
        r->bound = max_u64(r->bound, load_cycles(c, n, 2));
      return 0;
    case WS_PROBE_ALLREDUCE: {
      /* into the centre, each line in the segments of fewest modelled
       * cycles (a chain where n is long), multicast back: the model's
       * cycles for one wavelet and n - 1 more is a lower bound, exact for
       * n = 1; so is the busiest ramp's load */
      const uint32_t rx = w / 2, ry = h / 2;
      r->segment_x = fab_coll_best_segment(c, rx > w - 1 - rx ? rx : w - 1 - rx, n);
      r->segment_y = fab_coll_best_segment(c, ry > h - 1 - ry ? ry : h - 1 - ry, n);
      const fab_rect q = {0, 0, w, h};
      r->algorithm = r->segment_x >= w - 1 - rx && r->segment_y >= h - 1 - ry ? "chain" : "tree";
      r->bound = max_u64(fab_coll_tree_cycles(c, q, rx, ry, r->segment_x, r->segment_y, 1, 1) + n - 1,
                         load_cycles(c, n, (w > 1) + (w > 2) + (h > 1) + (h > 2)));
      r->bound_exact = n == 1;
      return once(f, fab_coll_tree(f, q, fab_at(w, rx, ry), r->segment_x, r->segment_y, 1, err, errlen), n, err,
                  errlen);
    }
    case WS_PROBE_REGION_COPY: {
      /* row j's w routes all cross the link from column w - 1 to column w */
      const uint32_t rw = w / 2 < 16 ? w / 2 : 16, rh = h < 16 ? h : 16;
      r->bound = max_u64(path_cycles(c, n, rw), load_cycles(c, n, rw));
      r->bound_exact = 1;
      return once(f, fab_coll_copy(f, (fab_rect){0, 0, rw, rh}, (fab_rect){rw, 0, rw, rh}, err, errlen),
                  n, err, errlen);
    }
    case WS_PROBE_RANDOM: {
      uint64_t state = s->seed * UINT64_C(0x9E3779B97F4A7C15) + 1;
      r->bound = 0;
      for (uint32_t m = 0; m < s->messages; m++) {
        fab_pe a, b;
        do { /* xorshift64, two distinct PEs */
          state ^= state << 13, state ^= state >> 7, state ^= state << 17;
          a = (fab_pe)((state >> 32) % ((uint64_t)w * h));
          b = (fab_pe)((state & 0xffffffffu) % ((uint64_t)w * h));
        } while (a == b);
        const uint64_t hops = (uint64_t)abs((int)fab_x(w, a) - (int)fab_x(w, b)) +
                              (uint64_t)abs((int)fab_y(w, a) - (int)fab_y(w, b));
        r->bound = max_u64(r->bound, path_cycles(c, n, hops));
        uint32_t route;
        fab_xfer x;
        if (fab_route_path(f, a, b, &route, err, errlen) || fab_send(f, route, n, 0, &x, err, errlen))
          return -1;
      }
      return 0;
    }
    default: snprintf(err, errlen, "probe: no pattern %d", (int)s->pattern); return -1;
  }
}

/* The links a wavelet of the pattern crosses, summed over its messages (an
 * upper bound): the work of wavelet fidelity is this x the wavelets. */
static uint64_t links(const ws_probe_spec *s) {
  const uint64_t w = s->fabric.width, h = s->fabric.height;
  switch (s->pattern) {
    case WS_PROBE_UNICAST: return w - 1 + h - 1;
    case WS_PROBE_MULTICAST_ROW: return h * (w - 1);
    case WS_PROBE_REDUCE_COLUMN: return w * (h - 1);
    case WS_PROBE_MULTICAST_REDUCE: return h * (w - 1) + w * (h - 1);
    case WS_PROBE_REGION_COPY: return 16 * 16 * 16; /* at most 16 x 16 routes of 16 hops */
    case WS_PROBE_RANDOM: return (uint64_t)s->messages * (w + h);
    default: return 2 * w * h; /* allreduce: reduced in, multicast back */
  }
}

int ws_probe_run(const ws_probe_spec *s, ws_probe_result *r, char *err, size_t errlen) {
  const fab_config *c = &s->fabric;
  const uint32_t min_w = s->pattern == WS_PROBE_REGION_COPY ? 2 : 1;
  if (c->width * c->height < 2 || c->width < min_w || s->wavelets == 0 ||
      (s->pattern == WS_PROBE_MULTICAST_ROW && c->width < 2) ||
      (s->pattern == WS_PROBE_REDUCE_COLUMN && c->height < 2) ||
      (s->pattern == WS_PROBE_MULTICAST_REDUCE && (c->width < 2 || c->height < 2))) {
    snprintf(err, errlen, "probe %s: the %u x %u mesh is too small for it, or no wavelets",
             ws_probe_pattern_name(s->pattern), c->width, c->height);
    return -1;
  }
  const double hops = (double)s->wavelets * (double)links(s); /* up to 2^83: no integer overflow */
  if (c->fidelity == FAB_WAVELET && hops > (double)WS_WAVELET_HOPS_MAX) { /* every wavelet an event at every hop */
    snprintf(err, errlen,
             "probe %s: --wavelets %u x %llu links = %.4g wavelet-hops in wavelet fidelity, at most 2^28 (%llu); "
             "fewer --wavelets%s, a smaller mesh, or --fidelity train",
             ws_probe_pattern_name(s->pattern), s->wavelets, (unsigned long long)links(s), hops,
             (unsigned long long)WS_WAVELET_HOPS_MAX, s->pattern == WS_PROBE_RANDOM ? " or --messages" : "");
    return -1;
  }
  memset(r, 0, sizeof *r);
  const double t0 = ws_report_wall_s();
  sim_engine *e = sim_engine_create(NULL, err, errlen);
  fab_fabric *f = e ? fab_create(e, c, err, errlen) : NULL;
  int rc = f ? build(f, s, r, err, errlen) : -1;
  if (rc == 0 && sim_engine_run(e) != 0) {
    snprintf(err, errlen, "probe: %s", sim_engine_error(e));
    rc = -1;
  }
  if (rc == 0) rc = fab_check_finished(f, err, errlen);
  if (rc == 0) {
    r->fabric = fab_stats_get(f);
    r->engine = sim_engine_stats(e);
    r->cycles = r->fabric.last_cycle + 1;
  }
  fab_destroy(f);
  sim_engine_destroy(e);
  r->wall_s = ws_report_wall_s() - t0;
  return rc;
}

/* The report's derived columns (row: a ws_probe_row). */
static void get_pattern(ws_table *t, size_t col, const void *row, const void *ctx) {
  (void)ctx;
  ws_table_str(t, col, ws_probe_pattern_name(((const ws_probe_row *)row)->spec.pattern));
}
static void get_mesh(ws_table *t, size_t col, const void *row, const void *ctx) {
  (void)ctx;
  const fab_config *f = &((const ws_probe_row *)row)->spec.fabric;
  char mesh[48];
  snprintf(mesh, sizeof mesh, "%ux%u", f->width, f->height);
  ws_table_str(t, col, mesh);
}
static void get_fidelity(ws_table *t, size_t col, const void *row, const void *ctx) {
  (void)ctx;
  ws_table_str(t, col, fab_fidelity_name(((const ws_probe_row *)row)->spec.fabric.fidelity));
}
static void get_bound_exact(ws_table *t, size_t col, const void *row, const void *ctx) {
  (void)ctx;
  ws_table_str(t, col, ((const ws_probe_row *)row)->res.bound_exact ? "yes" : "no");
}
static void get_algorithm(ws_table *t, size_t col, const void *row, const void *ctx) {
  (void)ctx;
  const char *a = ((const ws_probe_row *)row)->res.algorithm;
  ws_table_str(t, col, a ? a : "");
}
static void get_time_us(ws_table *t, size_t col, const void *row, const void *ctx) {
  (void)ctx;
  const ws_probe_row *p = row;
  ws_table_f64(t, col, (double)p->res.cycles / (double)p->clock * 1e6);
}
static void get_events_per_s(ws_table *t, size_t col, const void *row, const void *ctx) {
  (void)ctx;
  const ws_probe_result *r = &((const ws_probe_row *)row)->res;
  ws_table_f64(t, col, (double)r->engine.executed / (r->wall_s > 0 ? r->wall_s : 1e-9));
}
static void get_memory(ws_table *t, size_t col, const void *row, const void *ctx) {
  (void)ctx;
  const ws_probe_result *r = &((const ws_probe_row *)row)->res;
  ws_table_i64(t, col, (int64_t)(r->fabric.bytes + r->engine.bytes));
}

static const ws_column probe_columns[] = {
    WS_COLUMN_GET("pattern", NULL, WS_COL_STR, get_pattern, "ws_probe_row.spec.pattern's name"),
    WS_COLUMN_GET("mesh", "PEs", WS_COL_STR, get_mesh, "ws_probe_row.spec.fabric width x height, WxH"),
    WS_COLUMN(ws_probe_row, spec.wavelets, "wavelets", "wavelets"),
    WS_COLUMN_GET("fidelity", NULL, WS_COL_STR, get_fidelity, "ws_probe_row.spec.fabric.fidelity's name"),
    WS_COLUMN(ws_probe_row, res.cycles, "cycles", "cycles"),
    WS_COLUMN(ws_probe_row, res.fabric.link_busy_max, "link_busy_max", "cycles"),
    WS_COLUMN(ws_probe_row, res.engine.executed, "events", "events"),
    WS_COLUMN(ws_probe_row, res.wall_s, "wall_s", "s"),
    WS_COLUMN(ws_probe_row, res.bound, "cycles_bound", "cycles"),
    WS_COLUMN_GET("bound_exact", NULL, WS_COL_STR, get_bound_exact, "ws_probe_row.res.bound_exact as yes or no"),
    WS_COLUMN_GET("time_us", "us", WS_COL_F64, get_time_us, "ws_probe_row.res.cycles / ws_probe_row.clock x 1e6"),
    WS_COLUMN_GET("events_per_s", "events/s", WS_COL_F64, get_events_per_s,
                  "ws_probe_row.res.engine.executed / res.wall_s (1e-9 s at least)"),
    WS_COLUMN(ws_probe_row, res.fabric.wavelets_sent, "wavelets_sent", "wavelets"),
    WS_COLUMN(ws_probe_row, res.fabric.wavelets_received, "wavelets_received", "wavelets"),
    WS_COLUMN(ws_probe_row, res.fabric.link_wavelets, "link_wavelets", "wavelet-hops"),
    WS_COLUMN(ws_probe_row, res.fabric.colors_max, "colors_max", "colors"),
    WS_COLUMN_GET("memory_bytes", "bytes", WS_COL_U64, get_memory, "ws_probe_row.res.fabric.bytes + res.engine.bytes"),
    WS_COLUMN_GET("algorithm", NULL, WS_COL_STR, get_algorithm, "ws_probe_row.res.algorithm"),
    WS_COLUMN(ws_probe_row, res.segment_x, "segment_x", "PEs"),
    WS_COLUMN(ws_probe_row, res.segment_y, "segment_y", "PEs"),
};
#define NPROBE_COLUMNS (sizeof probe_columns / sizeof probe_columns[0])

const ws_column *ws_probe_columns(size_t *n) {
  *n = NPROBE_COLUMNS;
  return probe_columns;
}

ws_table *ws_probe_table(const ws_probe_row *row) {
  return ws_table_of_rows(probe_columns, NPROBE_COLUMNS, row, sizeof *row, 1, NULL);
}
