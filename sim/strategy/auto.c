/* The auto strategy (strategy.h): prepares the pipeline and the layer-by-layer
 * plan and weighs them by their models (the placer's estimate,
 * ws_place_estimated_cycles; the plan's, layerwise.c). Where one model is
 * faster by more than sim.auto_margin, auto simulates only that one; where
 * they are closer than the models' own errors (the placer's is within about
 * 10 % of the simulated pipeline on GPT-3 1.3B, the plan's within 13 %), it
 * simulates both and keeps the faster, so it never keeps the slower on a
 * model's error. A candidate that cannot run this input (does not place,
 * does not fit) drops out; with none left the error is both reasons. With
 * sim.functional only the pipeline, which carries values, is a candidate.
 * A training step has one candidate, weight streaming (stream.c): the
 * others run no backward pass.
 * The totals name the strategy kept and carry both models. */
#include <stdlib.h>
#include <string.h>

#include "strategy.h"

typedef struct {
  void *stream;                 /* a training step's one candidate */
  void *pipe, *lw;              /* the candidates still in (NULL: dropped) */
  uint64_t pipeline, layerwise; /* the models' cycles, 0 for one that could not run */
} auto_state;

static void release(void *state) {
  auto_state *a = state;
  if (!a) return;
  if (a->stream) strat_stream.release(a->stream);
  if (a->pipe) strat_pipeline.release(a->pipe);
  if (a->lw) strat_layerwise.release(a->lw);
  free(a);
}

static int prepare(ws_input *in, void **state, char *err, size_t errlen) {
  *state = NULL;
  auto_state *a = calloc(1, sizeof *a);
  if (!a) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  if (in->phase == WS_PHASE_TRAIN) {
    if (strat_stream.prepare(in, &a->stream, err, errlen) != 0) {
      release(a);
      return -1;
    }
    *state = a;
    return 0;
  }
  char why_p[512] = "", why_l[512] = "";
  if (strat_pipeline.prepare(in, &a->pipe, why_p, sizeof why_p) == 0)
    a->pipeline = strat_pipeline_estimate(a->pipe, in);
  if (in->cfg->sim.functional) /* only the pipeline carries values */
    snprintf(why_l, sizeof why_l, "carries no values (sim.functional)");
  else if (strat_layerwise.prepare(in, &a->lw, why_l, sizeof why_l) == 0)
    a->layerwise = strat_layerwise_estimate(a->lw);
  if (!a->pipeline && !a->layerwise) {
    snprintf(err, errlen, "auto: neither strategy can run this: pipeline: %s; layerwise: %s", why_p, why_l);
    release(a);
    return -1;
  }
  /* one clearly faster: the other out */
  const double p = (double)a->pipeline, l = (double)a->layerwise;
  const double margin = in->cfg->sim.auto_margin;
  if (a->pipe && a->lw && (l > p * (1 + margin) || p > l * (1 + margin))) {
    if (l > p) strat_layerwise.release(a->lw), a->lw = NULL;
    else strat_pipeline.release(a->pipe), a->pipe = NULL;
  }
  *state = a;
  return 0;
}

static int auto_simulate(void *state, const ws_input *in, strat_result *out, strat_progress progress, void *ctx,
                         char *err, size_t errlen) {
  const auto_state *a = state;
  if (a->stream) return strat_stream.simulate(a->stream, in, out, progress, ctx, err, errlen);
  /* the pipeline first if it is in, the layer-by-layer run second if both are */
  const strat_strategy *first = a->pipe ? &strat_pipeline : &strat_layerwise;
  bool second;
  if (strat_simulate_faster(first->simulate, a->pipe ? a->pipe : a->lw, strat_layerwise.simulate,
                            a->pipe ? a->lw : NULL, in, out, progress, ctx, &second, err, errlen) != 0)
    return -1;
  const strat_strategy *kept = second ? &strat_layerwise : first;
  snprintf(out->tot.strategy, sizeof out->tot.strategy, "%s", kept->name);
  out->tot.pipeline_cycles_model = a->pipeline;
  out->tot.layerwise_cycles_model = a->layerwise;
  return 0;
}

const strat_strategy strat_auto = {"auto", prepare, auto_simulate, release};
