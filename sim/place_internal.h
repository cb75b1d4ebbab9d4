/* The placement's state, shared by place.c (search and layout) and
 * place_report.c (routes, colors, totals, tables) only. */
#ifndef WAFERSIM_SIM_PLACE_INTERNAL_H
#define WAFERSIM_SIM_PLACE_INTERNAL_H

#include "input.h"
#include "kernels/lower.h"
#include "place.h"
#include "workloads/weights.h"

struct ws_placement {
  ws_input own;       /* the input, when ws_place made it (owned: own.g set) */
  const ws_input *in; /* the run input placed (own, or the caller's) */
  const mdl_graph *g; /* in's */
  const wl_weights *w; /* in's masks */
  krn_machine m;
  fab_config fc;
  uint32_t b, seq, W, H;
  uint64_t clock;
  bool balanced;
  ws_placed *st; /* low.n */
  uint32_t n;
  uint64_t **rows, **cols; /* per stage: its mask's row and column counts (NULL: no mask) */
  uint32_t **kc, **nc;     /* per stage: owned cut points of a balanced tiling (NULL: uniform) */
  ws_place_totals tot;
};

/* Stage i's estimate on `region` with uniform cut points (uniform), and in
 * est the one the placement takes: with placer.tiling balanced and a masked
 * GEMM, cut points from its row and column counts (into kc[h + 1] and
 * nc[w + 1]) where they make its fullest tile lighter. 1 if it took them, 0
 * if uniform, -1 with the reason in err. */
int ws_place_estimate(const ws_placement *p, uint32_t i, fab_rect region, uint32_t *kc, uint32_t *nc,
                      krn_estimate *est, krn_estimate *uniform, char *err, size_t errlen);

/* After the layout: cut points, estimates, routes and colors, totals.
 * 0, or -1 with the reason (a color budget the layout cannot meet). */
int ws_place_finish(ws_placement *p, char *err, size_t errlen);

#endif
