/* The auto strategy (strategy.h): prepares the pipeline and the layer-by-layer
 * plan, keeps the one whose model times the run faster (the placer's
 * estimate, ws_place_estimated_cycles; the plan's, layerwise.c) and
 * simulates only that one. A candidate that cannot run this input (does not
 * place, does not fit) drops out; with none left the error is both reasons.
 * The totals name the strategy that ran and carry both models. With
 * sim.functional only the pipeline, which carries values, is a candidate. Choosing by
 * the models, not by two simulations, halves the time of a point; where
 * they disagree with the simulation, auto may keep the slower (the note of
 * each model says how far it is off). */
#include <stdlib.h>
#include <string.h>

#include "strategy.h"

typedef struct {
  const strat_strategy *run; /* the one kept */
  void *state;               /* its */
  uint64_t pipeline, layerwise; /* the models' cycles, 0 for one that dropped out */
} auto_state;

static int prepare(ws_input *in, void **state, char *err, size_t errlen) {
  *state = NULL;
  auto_state *a = calloc(1, sizeof *a);
  if (!a) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  char why_p[512] = "", why_l[512] = "";
  void *sp = NULL, *sl = NULL;
  if (strat_pipeline.prepare(in, &sp, why_p, sizeof why_p) == 0) a->pipeline = strat_pipeline_estimate(sp, in);
  if (in->cfg->sim.functional) /* only the pipeline carries values */
    snprintf(why_l, sizeof why_l, "carries no values (sim.functional)");
  else if (strat_layerwise.prepare(in, &sl, why_l, sizeof why_l) == 0)
    a->layerwise = strat_layerwise_estimate(sl);
  if (!a->pipeline && !a->layerwise) {
    snprintf(err, errlen, "auto: neither strategy can run this: pipeline: %s; layerwise: %s", why_p, why_l);
    free(a);
    return -1;
  }
  const bool pipe = a->pipeline && (!a->layerwise || a->pipeline <= a->layerwise);
  a->run = pipe ? &strat_pipeline : &strat_layerwise;
  a->state = pipe ? sp : sl;
  if (pipe && sl) strat_layerwise.release(sl);
  if (!pipe && sp) strat_pipeline.release(sp);
  *state = a;
  return 0;
}

static int auto_simulate(void *state, const ws_input *in, strat_result *out, strat_progress progress, void *ctx,
                         char *err, size_t errlen) {
  const auto_state *a = state;
  if (a->run->simulate(a->state, in, out, progress, ctx, err, errlen) != 0) return -1;
  snprintf(out->tot.strategy, sizeof out->tot.strategy, "%s", a->run->name);
  out->tot.pipeline_cycles_model = a->pipeline;
  out->tot.layerwise_cycles_model = a->layerwise;
  return 0;
}

static void release(void *state) {
  auto_state *a = state;
  if (!a) return;
  a->run->release(a->state);
  free(a);
}

const strat_strategy strat_auto = {"auto", prepare, auto_simulate, release};
