/* Builds the layer graph. GPT: embeddings, then per decoder block ln1, q,
 * k, v, scores, softmax, scores_v, attn_out, res1, ln2, ffn_up, gelu,
 * ffn_down, res2 (pre-layernorm blocks, as GPT-2/3), then final layernorm
 * and the LM head. Llama: the embedding, then per block ln1 (RMSNorm), q,
 * k, v (k and v kv_heads x d_head wide), q_rope, k_rope, scores, softmax,
 * scores_v, attn_out, res1, ln2, ffn_gate, ffn_up, swiglu, ffn_down, res2,
 * then the final RMSNorm and an untied LM head; no biases. Shapes are per
 * sequence of S tokens. */
#include "graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mdl_graph {
  mdl_gpt model;
  int64_t seq_len; /* new tokens */
  int64_t keys;    /* the keys the last of them attends to */
  size_t count;    /* ops */
  mdl_op *ops;     /* owned; count entries in topological order */
};

static const char *const kind_names[MDL_OP_KIND_COUNT] = {
    [MDL_OP_EMBED] = "embed",       [MDL_OP_POS_EMBED] = "pos_embed",
    [MDL_OP_LAYERNORM] = "layernorm", [MDL_OP_Q] = "q",
    [MDL_OP_K] = "k",               [MDL_OP_V] = "v",
    [MDL_OP_SCORES] = "scores",     [MDL_OP_SOFTMAX] = "softmax",
    [MDL_OP_SCORES_V] = "scores_v", [MDL_OP_ATTN_OUT] = "attn_out",
    [MDL_OP_RESIDUAL] = "residual", [MDL_OP_FFN_UP] = "ffn_up",
    [MDL_OP_GELU] = "gelu",         [MDL_OP_FFN_DOWN] = "ffn_down",
    [MDL_OP_LM_HEAD] = "lm_head",   [MDL_OP_RMSNORM] = "rmsnorm",
    [MDL_OP_ROTARY] = "rotary",     [MDL_OP_FFN_GATE] = "ffn_gate",
    [MDL_OP_SWIGLU] = "swiglu",
};

const char *mdl_op_kind_name(mdl_op_kind kind) {
  return (unsigned)kind < MDL_OP_KIND_COUNT ? kind_names[kind] : "?";
}

int mdl_op_kind_parse(const char *name) {
  for (int i = 0; i < MDL_OP_KIND_COUNT; i++)
    if (strcmp(name, kind_names[i]) == 0) return i;
  return -1;
}

bool mdl_arch_has(mdl_arch a, mdl_op_kind kind) {
  const bool llama_only = kind == MDL_OP_RMSNORM || kind == MDL_OP_ROTARY || kind == MDL_OP_FFN_GATE ||
                          kind == MDL_OP_SWIGLU;
  const bool gpt_only = kind == MDL_OP_POS_EMBED || kind == MDL_OP_LAYERNORM || kind == MDL_OP_GELU;
  return a == MDL_ARCH_LLAMA ? !gpt_only : !llama_only;
}

const char *mdl_dtype_name(mdl_dtype t) { return t == MDL_FP32 ? "fp32" : "fp16"; }

/* Appends ops to a graph under construction. */
typedef struct {
  mdl_graph *g;
  int layer; /* block of the ops being added, -1 outside */
} builder;

static int add(builder *b, mdl_op_kind kind, const char *role, int64_t batch, int64_t m,
               int64_t k, int64_t n, int in0, int in1) {
  mdl_op *op = &b->g->ops[b->g->count];
  memset(op, 0, sizeof *op);
  op->kind = kind;
  op->layer = b->layer;
  if (b->layer >= 0)
    snprintf(op->name, sizeof op->name, "L%d.%s", b->layer, role);
  else
    snprintf(op->name, sizeof op->name, "%s", role);
  op->batch = batch;
  op->m = m;
  op->k = k;
  op->n = n;
  /* Assumption: mixed precision, as on the CS-2 for training and inference:
   * fp16 operands, with the row statistics of softmax and layernorm in fp32. */
  op->dtype = (kind == MDL_OP_SOFTMAX || kind == MDL_OP_LAYERNORM || kind == MDL_OP_RMSNORM) ? MDL_FP32 : MDL_FP16;
  op->in[0] = in0;
  op->in[1] = in1;
  return (int)b->g->count++;
}

/* A projection with a [k x n] weight and n biases. */
static int add_linear(builder *b, mdl_op_kind kind, const char *role, int64_t s, int64_t k,
                      int64_t n, int in0, bool sparsifiable) {
  int i = add(b, kind, role, 1, s, k, n, in0, MDL_NO_INPUT);
  mdl_op *op = &b->g->ops[i];
  op->weight_rows = k;
  op->weight_cols = n;
  op->bias = n;
  op->sparsifiable = sparsifiable;
  return i;
}

/* GPT's layernorm (gain and shift) or Llama's RMSNorm (gain). */
static int add_norm(builder *b, const char *role, int64_t s, int64_t d, int in0) {
  const bool rms = b->g->model.arch == MDL_ARCH_LLAMA;
  int i = add(b, rms ? MDL_OP_RMSNORM : MDL_OP_LAYERNORM, role, 1, s, 0, d, in0, MDL_NO_INPUT);
  b->g->ops[i].norm_params = rms ? d : 2 * d;
  return i;
}

/* A projection as the block family has it: GPT's with biases, Llama's without. */
static int add_proj(builder *b, mdl_op_kind kind, const char *role, int64_t s, int64_t k, int64_t n, int in0) {
  int i = add_linear(b, kind, role, s, k, n, in0, true);
  if (b->g->model.arch == MDL_ARCH_LLAMA) b->g->ops[i].bias = 0;
  return i;
}

/* Adds a*b to *acc; false on int64 overflow. */
static bool acc_mul(int64_t *acc, int64_t a, int64_t b) {
  int64_t p;
  return !__builtin_mul_overflow(a, b, &p) && !__builtin_add_overflow(*acc, p, acc);
}

/* Every FLOP and byte count derived from an op is at most 8 x (its largest
 * product + its parameters + 1); if the sum of these bounds over the graph
 * fits in int64, every per-op figure and every total does. */
static bool counts_fit(const mdl_graph *g) {
  int64_t bound = 0;
  for (size_t i = 0; i < g->count; i++) {
    const mdl_op *op = &g->ops[i];
    int64_t bm = 0, bmk = 0, work = 0;
    int64_t params = op->bias + op->norm_params + op->weight_rows + 1; /* small: dims <= 2^24 */
    if (!acc_mul(&bm, op->batch, op->m) || !acc_mul(&bmk, bm, op->k > 0 ? op->k : 1) ||
        !acc_mul(&work, bmk, op->n) || !acc_mul(&params, op->weight_rows, op->weight_cols) ||
        !acc_mul(&bound, 8, work) || !acc_mul(&bound, 8, params))
      return false;
  }
  return true;
}

mdl_graph *mdl_graph_build(const mdl_gpt *m, int64_t seq_len, char *err, size_t errlen) {
  return mdl_graph_build_step(m, seq_len, seq_len, err, errlen);
}

mdl_graph *mdl_graph_build_step(const mdl_gpt *m, int64_t tokens, int64_t keys, char *err, size_t errlen) {
  if (mdl_gpt_check(m, err, errlen) != 0) return NULL;
  if (keys < 1 || keys > m->context) {
    snprintf(err, errlen, "sequence length %lld outside [1, %lld] (the context of model %s)",
             (long long)keys, (long long)m->context, m->name);
    return NULL;
  }
  if (tokens < 1 || tokens > keys) {
    snprintf(err, errlen, "%lld new tokens outside [1, %lld] (the keys they attend to)", (long long)tokens,
             (long long)keys);
    return NULL;
  }
  mdl_graph *g = calloc(1, sizeof *g);
  size_t cap = (size_t)(18 * m->layers + 4);
  if (g) g->ops = calloc(cap, sizeof *g->ops);
  if (!g || !g->ops) {
    snprintf(err, errlen, "out of memory for a graph of %zu ops", cap);
    mdl_graph_destroy(g);
    return NULL;
  }
  g->model = *m;
  g->seq_len = tokens;
  g->keys = keys;

  const int64_t s = tokens, kv = keys, d = m->d_model, h = m->heads, dh = m->d_head, f = m->d_ff;
  const int64_t dkv = m->kv_heads * dh; /* keys' and values' width */
  const bool llama = m->arch == MDL_ARCH_LLAMA;
  builder b = {g, -1};
  /* Embedding lookup, counted by Chinchilla as a [S x V] x [V x d] product. */
  int emb = add(&b, MDL_OP_EMBED, "embed", 1, s, m->vocab, d, MDL_NO_INPUT, MDL_NO_INPUT);
  g->ops[emb].weight_rows = m->vocab;
  g->ops[emb].weight_cols = d;
  int stream = emb;
  if (!llama) { /* a learned position table; Llama's position is rotary, in each block */
    stream = add(&b, MDL_OP_POS_EMBED, "pos_embed", 1, s, 0, d, emb, MDL_NO_INPUT);
    g->ops[stream].weight_rows = m->context;
    g->ops[stream].weight_cols = d;
  }

  for (int l = 0; l < (int)m->layers; l++) {
    b.layer = l;
    int ln1 = add_norm(&b, "ln1", s, d, stream);
    int q = add_proj(&b, MDL_OP_Q, "q", s, d, d, ln1);
    int k = add_proj(&b, MDL_OP_K, "k", s, d, dkv, ln1);
    int v = add_proj(&b, MDL_OP_V, "v", s, d, dkv, ln1);
    if (llama) {
      q = add(&b, MDL_OP_ROTARY, "q_rope", 1, s, 0, d, q, MDL_NO_INPUT);
      k = add(&b, MDL_OP_ROTARY, "k_rope", 1, s, 0, dkv, k, MDL_NO_INPUT);
    }
    int sc = add(&b, MDL_OP_SCORES, "scores", h, s, dh, kv, q, k);
    int sm = add(&b, MDL_OP_SOFTMAX, "softmax", h, s, 0, kv, sc, MDL_NO_INPUT);
    int sv = add(&b, MDL_OP_SCORES_V, "scores_v", h, s, kv, dh, sm, v);
    int out = add_proj(&b, MDL_OP_ATTN_OUT, "attn_out", s, d, d, sv);
    int res1 = add(&b, MDL_OP_RESIDUAL, "res1", 1, s, 0, d, stream, out);
    int ln2 = add_norm(&b, "ln2", s, d, res1);
    int act;
    if (llama) {
      int gate = add_proj(&b, MDL_OP_FFN_GATE, "ffn_gate", s, d, f, ln2);
      int up = add_proj(&b, MDL_OP_FFN_UP, "ffn_up", s, d, f, ln2);
      act = add(&b, MDL_OP_SWIGLU, "swiglu", 1, s, 0, f, gate, up);
    } else {
      int up = add_proj(&b, MDL_OP_FFN_UP, "ffn_up", s, d, f, ln2);
      act = add(&b, MDL_OP_GELU, "gelu", 1, s, 0, f, up, MDL_NO_INPUT);
    }
    int down = add_proj(&b, MDL_OP_FFN_DOWN, "ffn_down", s, f, d, act);
    stream = add(&b, MDL_OP_RESIDUAL, "res2", 1, s, 0, d, res1, down);
  }
  b.layer = -1;
  int lnf = add_norm(&b, "final.ln", s, d, stream);
  int head = add_linear(&b, MDL_OP_LM_HEAD, "lm_head", s, d, m->vocab, lnf, false);
  g->ops[head].bias = 0; /* GPT-2/3 and Llama logits have no bias */
  g->ops[head].weight_tied = !llama;

  if (!counts_fit(g)) {
    snprintf(err, errlen,
             "model %s at %lld tokens is too large: its FLOP or byte counts overflow 64 bits",
             m->name, (long long)keys);
    mdl_graph_destroy(g);
    return NULL;
  }
  return g;
}

void mdl_graph_destroy(mdl_graph *g) {
  if (!g) return;
  free(g->ops);
  free(g);
}

size_t mdl_graph_op_count(const mdl_graph *g) { return g->count; }
const mdl_op *mdl_graph_op(const mdl_graph *g, size_t i) { return i < g->count ? &g->ops[i] : NULL; }
int mdl_graph_find(const mdl_graph *g, const char *name) {
  for (size_t i = 0; i < g->count; i++)
    if (strcmp(g->ops[i].name, name) == 0) return (int)i;
  return -1;
}

const mdl_gpt *mdl_graph_model(const mdl_graph *g) { return &g->model; }
int64_t mdl_graph_seq_len(const mdl_graph *g) { return g->seq_len; }
int64_t mdl_graph_keys(const mdl_graph *g) { return g->keys; }
