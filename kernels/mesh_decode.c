/* One key/value head's decode attention on a whole region, simulated (see mesh_decode.h). */
#include "mesh_decode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fabric/collective.h"
#include "kind_internal.h"

/* Keys t = p (mod pes) of `keys`: PE p's. */
static uint32_t held(uint32_t keys, uint64_t pes, uint64_t p) {
  return p < keys ? (uint32_t)((keys - 1 - p) / pes + 1) : 0;
}

/* Query heads of a unit. */
static uint32_t queries(const krn_mdec_spec *s) { return s->queries ? s->queries : 1; }

/* A PE's compute for q queries against `n` keys: scores, exp and P x V
 * (cost.h's two attention phases, q heads on the same keys), then its merge. */
static krn_cost pe_cost(const krn_machine *m, uint32_t dh, uint32_t q, uint32_t n) {
  const krn_cost p1 = krn_attn_phase(m, 1, q, dh, n), p2 = krn_attn_phase(m, 2, q, dh, n);
  krn_cost c = {p1.cycles + p2.cycles + krn_attn_merge_cost(m, dh, q).cycles, p1.macs + p2.macs, 0, 0};
  return c;
}

/* Wavelets: the queries (fp16); a partial (dh outputs, max and sum, acc_bytes each, a query). */
static uint64_t q_wavelets(uint32_t dh, uint32_t q) { return krn_ceil_div((uint64_t)dh * q, 2); }
static uint64_t part_wavelets(const krn_machine *m, uint32_t dh, uint32_t q) {
  return krn_ceil_div((uint64_t)(dh + 2) * q * m->acc_bytes, 4);
}

static int check_shape(const krn_mdec_spec *s, char *err, size_t errlen) {
  if (s->keys == 0 || s->dh == 0 || s->rows == 0 || s->cols == 0 || s->layers == 0 || s->capacity < s->keys ||
      (uint64_t)s->rows * s->cols > s->keys) {
    snprintf(err, errlen,
             "decode attention: %u keys (a cache of %u, %u layers) of a %u-feature head on %u x %u PEs (columns x "
             "rows): needs keys, features and layers >= 1, the cache at least the keys, and at most a PE a key",
             s->keys, s->capacity, s->layers, s->dh, s->cols, s->rows);
    return -1;
  }
  return 0;
}

int krn_mdec_plan(const krn_machine *m, const fab_config *fc, const krn_mdec_spec *s, krn_mdec_model *o, char *err,
                  size_t errlen) {
  memset(o, 0, sizeof *o);
  if (check_shape(s, err, errlen) != 0) return -1;
  const uint32_t R = s->rows, C = s->cols, dh = s->dh, q = queries(s), rx = C / 2, ry = R / 2;
  const uint64_t pes = (uint64_t)R * C, sw = part_wavelets(m, dh, q);
  const uint64_t far = (uint64_t)(rx > C - 1 - rx ? rx : C - 1 - rx) + (ry > R - 1 - ry ? ry : R - 1 - ry);
  o->multicast = pes > 1 ? 2ull * fc->ramp_latency + far * fc->hop_latency + q_wavelets(dh, q) : 0;
  o->compute = pe_cost(m, dh, q, held(s->keys, pes, 0)).cycles;
  o->seg_x = C > 1 ? fab_coll_best_segment(fc, rx > C - 1 - rx ? rx : C - 1 - rx, (uint32_t)sw) : 0;
  o->seg_y = R > 1 ? fab_coll_best_segment(fc, ry > R - 1 - ry ? ry : R - 1 - ry, (uint32_t)sw) : 0;
  o->tree = pes > 1 ? fab_coll_tree_cycles(fc, (fab_rect){0, 0, C, R}, rx, ry, o->seg_x, o->seg_y, (uint32_t)sw, 0) : 0;
  o->norm = krn_attn_norm_cost(m, dh, q).cycles;
  o->cycles = o->multicast + o->compute + o->tree + o->norm;
  o->macs = 2ull * s->keys * dh * q;
  const uint64_t cap = held(s->capacity, pes, 0);
  o->cache_bytes = (uint64_t)s->layers * cap * dh * 2 * 2; /* K and V, fp16, every layer's */
  o->sram_max = m->sram_reserve + o->cache_bytes + (uint64_t)dh * q * 2 /* the queries */
                + cap * q * 4                                           /* their scores, fp32 */
                + 2 * (dh + 2) * (uint64_t)q * m->acc_bytes;            /* its partials and those coming in */
  if (!krn_fits(m, o->sram_max + s->resident)) {
    snprintf(err, errlen,
             "decode attention: %u caches (layers x turns) of %u keys over %u x %u PEs need %llu bytes at a PE beside "
             "%llu of weights, more than its SRAM less the reserve (%llu)",
             s->layers, s->capacity, s->cols, s->rows, (unsigned long long)o->sram_max,
             (unsigned long long)s->resident, (unsigned long long)(m->sram - m->sram_reserve));
    return -1;
  }
  return 0;
}

/* ---- the simulation ---- */

typedef struct {
  const krn_machine *m;
  const krn_mdec_spec *s;
  fab_fabric *f;
  uint32_t R, C;
  uint64_t *busy;
  fab_xfer *red;  /* per PE: its transfer of the tree's round */
  fab_xfer root;  /* the root's */
  uint64_t end, macs;
} md;

static void compute(md *g, uint32_t p, uint64_t t) {
  const krn_cost c = pe_cost(g->m, g->s->dh, queries(g->s), held(g->s->keys, (uint64_t)g->R * g->C, p));
  g->busy[p] += c.cycles;
  g->macs += c.macs;
  fab_ready(g->f, g->red[p], t + c.cycles);
}

static void on_delivery(void *ctx, fab_pe pe, uint32_t route, fab_xfer sender, uint64_t cycle) {
  (void)route, (void)sender;
  compute(ctx, pe, cycle);
}

static void on_done(void *ctx, fab_xfer id, uint64_t cycle) {
  md *g = ctx;
  if (id != g->root) return;
  const uint64_t norm = krn_attn_norm_cost(g->m, g->s->dh, queries(g->s)).cycles;
  g->busy[fab_at(g->C, g->C / 2, g->R / 2)] += norm;
  g->end = cycle + norm;
}

int krn_mdec_run(const krn_machine *m, const fab_config *fc, const krn_mdec_spec *s, krn_mdec_result *out, char *err,
                 size_t errlen) {
  memset(out, 0, sizeof *out);
  krn_mdec_model plan;
  if (krn_mdec_plan(m, fc, s, &plan, err, errlen) != 0) return -1;
  const uint32_t R = s->rows, C = s->cols;
  const size_t pes = (size_t)R * C;
  const fab_pe centre = fab_at(C, C / 2, R / 2);
  md g = {.m = m, .s = s, .R = R, .C = C};
  g.busy = calloc(pes, sizeof *g.busy);
  g.red = calloc(pes, sizeof *g.red);
  sim_engine *e = NULL;
  fab_coll *tree = NULL;
  int rc = g.busy && g.red ? 0 : -1, failed = 0;
  if (rc != 0) snprintf(err, errlen, "decode attention: out of memory for %u x %u PEs", C, R);
  if (rc == 0) rc = krn_region_open(fc, C, R, &e, &g.f, err, errlen);
  uint32_t route = FAB_NONE;
  if (rc == 0 && pes > 1 &&
      (fab_route_rect(g.f, centre, (fab_rect){0, 0, C, R}, &route, err, errlen) != 0 ||
       !(tree = fab_coll_tree(g.f, (fab_rect){0, 0, C, R}, centre, plan.seg_x, plan.seg_y, 0, err, errlen))))
    rc = -1;
  if (rc == 0) {
    fab_on_delivery(g.f, on_delivery, &g);
    fab_on_done(g.f, on_done, &g);
    if (pes > 1) {
      const fab_round r = {.n = (uint32_t)part_wavelets(m, s->dh, queries(s)), .ready = FAB_LATER, .quiet = true};
      fab_xfer x;
      if (fab_coll_round(g.f, tree, &r, g.red, err, errlen) != 0 ||
          fab_send(g.f, route, (uint32_t)q_wavelets(s->dh, queries(s)), 0, &x, err, errlen) != 0) {
        rc = -1;
      } else {
        fab_release(g.f, x);
        g.root = g.red[fab_coll_result(tree)];
        compute(&g, centre, 0); /* the source has the query */
      }
    } else { /* one PE: no tree */
      const krn_cost c = pe_cost(m, s->dh, queries(s), s->keys);
      g.busy[0] = c.cycles + plan.norm;
      g.macs = c.macs;
      g.end = g.busy[0];
    }
  }
  if (rc == 0) rc = krn_region_run(e, g.f, "decode attention", &failed, err, errlen);
  if (rc == 0) {
    const krn_region_stats st = krn_region_stats_of(e, g.f, g.busy, C, R);
    out->plan = plan;
    out->cycles = krn_max_u64(st.last_cycle + 1, g.end);
    out->busy_max = st.busy_max, out->busy_sum = st.busy_sum;
    out->slowest_x = st.slowest_x, out->slowest_y = st.slowest_y;
    out->macs = g.macs;
    out->events = st.events;
    out->wavelets_sent = st.wavelets_sent;
    out->link_wavelets = st.link_wavelets;
    out->bytes = st.bytes;
  }
  fab_coll_destroy(tree);
  if (e) krn_region_close(e, g.f);
  free(g.busy);
  free(g.red);
  return rc;
}
