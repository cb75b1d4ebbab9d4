/* What the whole-region kernels (mesh_gemm.c, mesh_attention.c) share: a
 * fabric of the region on its own engine, its run to the end, the figures
 * they report, and the tags that name a root's transfer (kind_internal.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kind_internal.h"

int krn_region_open(const fab_config *fc, uint32_t w, uint32_t h, sim_engine **e, fab_fabric **f, char *err,
                    size_t errlen) {
  fab_config c = *fc;
  c.width = w;
  c.height = h;
  *f = NULL;
  *e = sim_engine_create(NULL, err, errlen);
  if (*e) *f = fab_create(*e, &c, err, errlen);
  return *f ? 0 : -1;
}

int krn_region_run(sim_engine *e, fab_fabric *f, const char *what, const int *failed, char *err, size_t errlen) {
  if (sim_engine_run(e) != 0) {
    snprintf(err, errlen, "%s: %s", what, sim_engine_error(e));
    return -1;
  }
  if (*failed) return -1;
  return fab_check_finished(f, err, errlen);
}

krn_region_stats krn_region_stats_of(sim_engine *e, const fab_fabric *f, const uint64_t *busy, uint32_t w,
                                     uint32_t h) {
  krn_region_stats s = {0};
  for (size_t p = 0; p < (size_t)w * h; p++) {
    s.busy_sum += busy[p];
    if (busy[p] > s.busy_max) s.busy_max = busy[p], s.slowest_x = (uint32_t)(p % w), s.slowest_y = (uint32_t)(p / w);
  }
  const fab_stats st = fab_stats_get(f);
  const sim_stats es = sim_engine_stats(e);
  s.last_cycle = st.last_cycle;
  s.events = es.executed;
  s.wavelets_sent = st.wavelets_sent;
  s.link_wavelets = st.link_wavelets;
  s.bytes = st.bytes + es.bytes;
  return s;
}

void krn_region_close(sim_engine *e, fab_fabric *f) {
  fab_destroy(f);
  sim_engine_destroy(e);
}

int krn_tag_set(krn_tags *t, fab_xfer id, uint64_t v) {
  if (id >= t->n) {
    size_t n = t->n ? t->n : 1024;
    while (n <= id) n *= 2;
    uint64_t *v2 = realloc(t->v, n * sizeof *v2);
    if (!v2) return -1;
    memset(v2 + t->n, 0, (n - t->n) * sizeof *v2);
    t->v = v2, t->n = n;
  }
  t->v[id] = v;
  return 0;
}

uint64_t krn_tag_take(krn_tags *t, fab_xfer id) {
  if (id >= t->n) return 0;
  const uint64_t v = t->v[id];
  t->v[id] = 0;
  return v;
}
