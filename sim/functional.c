/* Functional mode of the end-to-end run: values for the placed stages, the
 * reference forward pass over the layer graph, the comparison (see
 * functional.h). */
#include "functional.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kind.h"
#include "workloads/values.h"
#include "workloads/weights.h"

uint64_t ws_functional_weights(const mdl_graph *g) {
  uint64_t n = 0;
  for (size_t i = 0; i < mdl_graph_op_count(g); i++) {
    const mdl_op *op = mdl_graph_op(g, i);
    if (!op->weight_tied) n += (uint64_t)op->weight_rows * (uint64_t)op->weight_cols;
    n += (uint64_t)op->bias + (uint64_t)op->norm_params;
  }
  return n;
}

int ws_functional_check(const ws_config *cfg, const mdl_graph *g, const char *where, char *err, size_t errlen) {
  const uint64_t weights = ws_functional_weights(g);
  if (weights > WS_FUNCTIONAL_MAX_WEIGHTS) {
    snprintf(err, errlen,
             "%s: sim.functional: model %s has %llu parameters; functional mode holds every one in memory as a "
             "real fp32 value and takes at most %llu (2^24, 64 MiB); use a smaller model (model.preset: custom) "
             "or set it false",
             where, cfg->model.name, (unsigned long long)weights, (unsigned long long)WS_FUNCTIONAL_MAX_WEIGHTS);
    return -1;
  }
  const mdl_gpt *m = &cfg->model;
  int64_t wide = m->d_ff > m->vocab ? m->d_ff : m->vocab;
  if (m->d_model > wide) wide = m->d_model;
  const uint64_t acts = (uint64_t)cfg->workload.seq_len * (uint64_t)wide;
  if (acts > WS_FUNCTIONAL_MAX_ACTIVATIONS) {
    snprintf(err, errlen,
             "%s: sim.functional: workload.seq_len %lld x the widest op output (%lld) is %llu values; functional "
             "mode holds an op's output for the whole sequence in memory (its reference forward pass, in double) "
             "and takes at most %llu (2^22, 32 MiB); use a shorter workload.seq_len or set it false",
             where, (long long)cfg->workload.seq_len, (long long)wide, (unsigned long long)acts,
             (unsigned long long)WS_FUNCTIONAL_MAX_ACTIVATIONS);
    return -1;
  }
  return 0;
}

/* ---- values for the placed stages ---- */

struct ws_functional {
  float **vals; /* 2 per stage: weight, bias (NULL where none) */
  uint32_t nstages;
  uint32_t *tokens; /* every sequence's, one after another */
  uint32_t seq, batch, vocab;
  uint32_t b; /* tokens per micro-batch (the run's: workload.micro_batch, or the placer's choice) */
};

void ws_functional_destroy(ws_functional *f) {
  if (!f) return;
  for (uint32_t i = 0; f->vals && i < 2 * f->nstages; i++) free(f->vals[i]);
  free(f->vals);
  free(f->tokens);
  free(f);
}

/* The LM head's weight, d x vocab: the token table (vocab x d) transposed. */
static float *tied_head(uint64_t seed, uint32_t vocab, uint32_t d) {
  float *e = krn_values_fill(seed, "embed", WL_VALUES_TABLE, vocab, d);
  float *w = e ? malloc((size_t)d * vocab * sizeof *w) : NULL;
  for (uint32_t k = 0; w && k < d; k++)
    for (uint32_t n = 0; n < vocab; n++) w[(size_t)k * vocab + n] = e[(size_t)n * d + k];
  free(e);
  return w;
}

ws_functional *ws_functional_create(const ws_config *cfg, const ws_placement *p, krn_stage *stages, krn_run *run,
                                    char *err, size_t errlen) {
  const uint64_t seed = (uint64_t)cfg->sim.seed;
  const uint32_t seq = (uint32_t)cfg->workload.seq_len, vocab = (uint32_t)cfg->model.vocab;
  const uint32_t d = (uint32_t)cfg->model.d_model, batch = (uint32_t)cfg->workload.batch;
  ws_functional *f = calloc(1, sizeof *f);
  if (f) {
    f->nstages = ws_placement_count(p);
    f->seq = seq;
    f->batch = batch;
    f->b = run->b;
    f->vocab = vocab;
    f->vals = calloc(2 * (size_t)f->nstages, sizeof *f->vals);
    f->tokens = malloc(((size_t)seq * batch + 1) * sizeof *f->tokens);
  }
  if (!f || !f->vals || !f->tokens) {
    ws_functional_destroy(f);
    snprintf(err, errlen, "functional: out of memory");
    return NULL;
  }
  wl_values_tokens(seed, seq * batch, vocab, f->tokens); /* sequence s: ids s seq .. s seq + seq - 1 */
  for (uint32_t i = 0; i < f->nstages; i++) {
    krn_stage *s = &stages[i];
    const ws_placed *pl = ws_placement_stage(p, i);
    float **w = &f->vals[2 * i], **b = &f->vals[2 * i + 1];
    /* its weights, table or gain and its bias, positions or shift (kernels/kind.h); GPT's LM head's
       weight is the token table's transpose (tied) */
    const krn_kind_ops *ko = krn_kind_of(s->kind);
    if (ko->values && ko->values(s, seed, seq, w, b) != 0) {
      ws_functional_destroy(f);
      snprintf(err, errlen, "functional: out of memory");
      return NULL;
    }
    if (strcmp(pl->kind, "lm_head") == 0 && cfg->model.arch == MDL_ARCH_GPT) {
      if (s->k != d || s->n != vocab) {
        snprintf(err, errlen, "functional: stage %s is %u x %u, the tied LM head %u x %u", s->name, s->k, s->n, d,
                 vocab);
        ws_functional_destroy(f);
        return NULL;
      }
      free(*w);
      if (!(*w = tied_head(seed, vocab, d))) {
        ws_functional_destroy(f);
        snprintf(err, errlen, "functional: out of memory");
        return NULL;
      }
    }
    s->weight = *w;
    s->bias = *b;
  }
  run->functional = true;
  run->tokens = f->tokens;
  run->input = NULL;
  return f;
}

/* ---- the reference forward pass over the graph's ops ---- */

/* y[t, n] = bias[n] + sum over kept k of x[t, k] w[k, n] (mask NULL: all
 * kept). Masked weights are zeroed in w first (w is the caller's copy), so
 * that the loops run along rows. */
static void linear(const double *x, float *w, const float *bias, const wl_mask *mask, uint32_t seq, uint32_t k,
                   uint32_t n, double *y) {
  for (uint32_t kk = 0; mask && kk < k; kk++)
    for (uint32_t j = 0; j < n; j++)
      if (!wl_mask_get(mask, kk, j)) w[(size_t)kk * n + j] = 0.0f;
  for (uint32_t t = 0; t < seq; t++) {
    double *row = &y[(size_t)t * n];
    for (uint32_t j = 0; j < n; j++) row[j] = bias ? bias[j] : 0.0;
    for (uint32_t kk = 0; kk < k; kk++) {
      const double a = x[(size_t)t * k + kk];
      const float *wr = &w[(size_t)kk * n];
      for (uint32_t j = 0; j < n; j++) row[j] += a * wr[j];
    }
  }
}

/* Layernorm, or with no shift RMSNorm (x / sqrt(mean(x^2) + eps) x gain); eps 1e-5, GPT-2's and Llama 3's. */
static void layernorm(const double *x, const float *gain, const float *shift, uint32_t seq, uint32_t d, double *y) {
  for (uint32_t t = 0; t < seq; t++) {
    const double *r = &x[(size_t)t * d];
    double mean = 0, var = 0;
    for (uint32_t i = 0; shift && i < d; i++) mean += r[i];
    mean /= d;
    for (uint32_t i = 0; i < d; i++) var += (r[i] - mean) * (r[i] - mean);
    var /= d;
    const double inv = 1.0 / sqrt(var + 1e-5);
    for (uint32_t i = 0; i < d; i++) y[(size_t)t * d + i] = (r[i] - mean) * inv * gain[i] + (shift ? shift[i] : 0.0);
  }
}

/* Rotary position: each pair (x[2i], x[2i + 1]) of each head of dh features of token t turned by angle
   t theta^(-2i / dh). */
static void rotary(const double *x, uint32_t seq, uint32_t n, uint32_t dh, double theta, double *y) {
  for (uint32_t t = 0; t < seq; t++)
    for (uint32_t f = 0; f + 1 < n; f += 2) {
      const double a = t * pow(theta, -2.0 * (f % dh / 2) / dh), u = x[(size_t)t * n + f], v = x[(size_t)t * n + f + 1];
      y[(size_t)t * n + f] = u * cos(a) - v * sin(a);
      y[(size_t)t * n + f + 1] = u * sin(a) + v * cos(a);
    }
}

/* Causal softmax attention per head: y[t, h] = sum_{u <= t} softmax_u(q_t . k_u / sqrt(dh)) v_u, head h's keys and
   values those of key/value head h / (heads / kv_heads) (k and v are kv_heads x dh wide). */
static int attention(const double *q, const double *k, const double *v, uint32_t seq, uint32_t heads,
                     uint32_t kv_heads, uint32_t dh, double *y) {
  const uint32_t d = heads * dh, dkv = kv_heads * dh, group = heads / kv_heads;
  double *p = malloc(((size_t)seq + 1) * sizeof *p);
  if (!p) return -1;
  memset(y, 0, (size_t)seq * d * sizeof *y);
  for (uint32_t h = 0; h < heads; h++)
    for (uint32_t t = 0; t < seq; t++) {
      double mx = -INFINITY, sum = 0;
      for (uint32_t u = 0; u <= t; u++) {
        double s = 0;
        for (uint32_t e = 0; e < dh; e++) s += q[(size_t)t * d + h * dh + e] * k[(size_t)u * dkv + h / group * dh + e];
        p[u] = s / sqrt((double)dh);
        if (p[u] > mx) mx = p[u];
      }
      for (uint32_t u = 0; u <= t; u++) sum += (p[u] = exp(p[u] - mx));
      for (uint32_t u = 0; u <= t; u++)
        for (uint32_t e = 0; e < dh; e++)
          y[(size_t)t * d + h * dh + e] += p[u] / sum * v[(size_t)u * dkv + h / group * dh + e];
    }
  free(p);
  return 0;
}

/* GELU, tanh form (GPT-2/3): sqrt(2 / pi) = 0.7978845608028654. */
static double gelu(double x) { return 0.5 * x * (1.0 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))); }

/* SwiGLU (Shazeer 2020): silu(gate) up = gate / (1 + exp(-gate)) up. */
static double swiglu(double gate, double up) { return gate / (1.0 + exp(-gate)) * up; }

/* One op's output for the whole sequence (NULL for scores and softmax: the
 * scores_v op computes them with their producers' outputs). */
static int forward_op(const ws_config *cfg, const mdl_graph *g, const wl_weights *wts, size_t i, const uint32_t *tokens,
                      double **out) {
  const mdl_op *op = mdl_graph_op(g, i);
  const uint64_t seed = (uint64_t)cfg->sim.seed;
  const uint32_t seq = (uint32_t)op->m, n = (uint32_t)op->n, vocab = (uint32_t)cfg->model.vocab;
  if (op->kind == MDL_OP_SCORES || op->kind == MDL_OP_SOFTMAX) return 0;
  const uint32_t width = op->kind == MDL_OP_SCORES_V ? (uint32_t)cfg->model.d_model : n;
  double *y = out[i] = malloc(((size_t)seq * width + 1) * sizeof *y);
  if (!y) return -1;
  const double *a = op->in[0] != MDL_NO_INPUT ? out[op->in[0]] : NULL;
  const double *b = op->in[1] != MDL_NO_INPUT ? out[op->in[1]] : NULL;
  float *w = NULL, *bias = NULL;
  int rc = 0;
  switch (op->kind) {
    case MDL_OP_EMBED:
      if (!(w = krn_values_fill(seed, "embed", WL_VALUES_TABLE, vocab, n))) return -1;
      for (uint32_t t = 0; t < seq; t++)
        for (uint32_t j = 0; j < n; j++) y[(size_t)t * n + j] = w[(size_t)tokens[t] * n + j];
      break;
    case MDL_OP_POS_EMBED:
      if (!(w = krn_values_fill(seed, op->name, WL_VALUES_TABLE, seq, n))) return -1;
      for (size_t e = 0; e < (size_t)seq * n; e++) y[e] = a[e] + w[e];
      break;
    case MDL_OP_LAYERNORM:
      w = krn_values_fill(seed, op->name, WL_VALUES_GAIN, 1, n);
      bias = krn_values_fill(seed, op->name, WL_VALUES_SHIFT, 1, n);
      if (w && bias) layernorm(a, w, bias, seq, n, y);
      else rc = -1;
      break;
    case MDL_OP_RMSNORM:
      if ((w = krn_values_fill(seed, op->name, WL_VALUES_GAIN, 1, n))) layernorm(a, w, NULL, seq, n, y);
      else rc = -1;
      break;
    case MDL_OP_ROTARY: rotary(a, seq, n, (uint32_t)cfg->model.d_head, cfg->model.rope_theta, y); break;
    case MDL_OP_SWIGLU:
      for (size_t e = 0; e < (size_t)seq * n; e++) y[e] = swiglu(a[e], b[e]);
      break;
    case MDL_OP_SCORES_V: { /* softmax(scores(q, k)) v */
      const mdl_op *sm = mdl_graph_op(g, (size_t)op->in[0]), *sc = mdl_graph_op(g, (size_t)sm->in[0]);
      rc = attention(out[sc->in[0]], out[sc->in[1]], b, seq, (uint32_t)cfg->model.heads, (uint32_t)cfg->model.kv_heads,
                     (uint32_t)cfg->model.d_head, y);
      break;
    }
    case MDL_OP_RESIDUAL:
      for (size_t e = 0; e < (size_t)seq * n; e++) y[e] = a[e] + b[e];
      break;
    case MDL_OP_GELU:
      for (size_t e = 0; e < (size_t)seq * n; e++) y[e] = gelu(a[e]);
      break;
    default: { /* a projection: q, k, v, attn_out, ffn_gate, ffn_up, ffn_down, lm_head (GPT's tied) */
      const uint32_t k = (uint32_t)op->weight_rows;
      w = op->weight_tied ? tied_head(seed, n, k) : krn_values_fill(seed, op->name, WL_VALUES_WEIGHT, k, n);
      if (op->bias > 0) bias = krn_values_fill(seed, op->name, WL_VALUES_BIAS, 1, n);
      if (!w || (op->bias > 0 && !bias)) rc = -1;
      else linear(a, w, bias, op->sparsifiable ? wl_weights_mask(wts, i) : NULL, seq, k, n, y);
      break;
    }
  }
  free(w);
  free(bias);
  return rc;
}

double *ws_functional_reference(const ws_config *cfg, const uint32_t *tokens, char *err, size_t errlen) {
  mdl_graph *g = mdl_graph_build(&cfg->model, cfg->workload.seq_len, err, errlen);
  if (!g) return NULL;
  wl_sparsity sp;
  ws_config_sparsity(cfg, &sp);
  const wl_spec spec = ws_config_spec(cfg, &sp);
  wl_weights *wts = wl_weights_build(g, &spec, err, errlen);
  const size_t nops = mdl_graph_op_count(g);
  double **out = calloc(nops, sizeof *out);
  size_t *last = malloc(nops * sizeof *last); /* the last op that reads each op's output */
  int rc = wts && out && last ? 0 : -1;
  if (rc == 0 && !(wts && out && last)) snprintf(err, errlen, "functional: out of memory");
  for (size_t i = 0; rc == 0 && i < nops; i++) {
    last[i] = i + 1 == nops ? nops : i;
    const mdl_op *op = mdl_graph_op(g, i);
    for (int k = 0; k < 2; k++)
      if (op->in[k] != MDL_NO_INPUT) last[op->in[k]] = i;
  }
  for (size_t i = 0; rc == 0 && i < nops; i++) { /* scores and softmax hand q, k on to scores_v */
    const mdl_op *op = mdl_graph_op(g, i);
    if (op->kind != MDL_OP_SCORES_V) continue;
    const mdl_op *sm = mdl_graph_op(g, (size_t)op->in[0]), *sc = mdl_graph_op(g, (size_t)sm->in[0]);
    for (int k = 0; k < 2; k++)
      if (last[sc->in[k]] < i) last[sc->in[k]] = i;
  }
  for (size_t i = 0; rc == 0 && i < nops; i++) {
    if (forward_op(cfg, g, wts, i, tokens, out) != 0) {
      snprintf(err, errlen, "functional: out of memory in the reference forward pass");
      rc = -1;
    }
    for (size_t j = 0; j < i; j++)
      if (out[j] && last[j] <= i) free(out[j]), out[j] = NULL;
  }
  double *logits = rc == 0 ? out[nops - 1] : NULL;
  if (rc == 0) out[nops - 1] = NULL;
  for (size_t i = 0; out && i < nops; i++) free(out[i]);
  free(out);
  free(last);
  wl_weights_destroy(wts);
  mdl_graph_destroy(g);
  return logits;
}

int ws_functional_compare(const ws_config *cfg, const ws_functional *f, const krn_pipe *pipe,
                          ws_functional_result *out, float *logits, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  const uint32_t b = f->b, V = f->vocab, mps = f->seq / b;
  for (uint32_t s = 0; s < f->batch; s++) { /* each sequence against its own reference */
    double *ref = ws_functional_reference(cfg, &f->tokens[(size_t)s * f->seq], err, errlen);
    if (!ref) return -1;
    for (uint32_t mb = s * mps; mb < (s + 1) * mps; mb++) {
      const float *y = krn_pipe_output(pipe, mb);
      if (!y) {
        snprintf(err, errlen, "functional: no logits for micro-batch %u", mb);
        free(ref);
        return -1;
      }
      if (logits) memcpy(&logits[(size_t)mb * b * V], y, (size_t)b * V * sizeof *logits);
      for (uint32_t t = 0; t < b; t++)
        for (uint32_t n = 0; n < V; n++) {
          const double r = ref[((size_t)(mb - s * mps) * b + t) * V + n], e = fabs((double)y[(size_t)t * V + n] - r);
          if (!(e <= out->max_error)) { /* NaN counts as the worst */
            out->max_error = isnan(e) ? INFINITY : e;
            out->worst_token = mb * b + t;
            out->worst_logit = n;
          }
          if (fabs(r) > out->max_logit) out->max_logit = fabs(r);
        }
    }
    free(ref);
  }
  out->logits = (uint64_t)f->seq * f->batch * V;
  out->tolerance = WS_FUNCTIONAL_TOLERANCE * (out->max_logit > 1.0 ? out->max_logit : 1.0);
  out->ok = out->max_error <= out->tolerance;
  return 0;
}
