/* The layer graph of a forward pass (a GPT or Llama block family, gpt.h)
 * over one sequence of S tokens: ops in topological order with their
 * shapes, weights and producers. */
#ifndef WAFERSIM_MODELS_GRAPH_H
#define WAFERSIM_MODELS_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gpt.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  MDL_OP_EMBED,     /* token embedding lookup */
  MDL_OP_POS_EMBED, /* add the position embedding */
  MDL_OP_LAYERNORM,
  MDL_OP_Q,
  MDL_OP_K,
  MDL_OP_V,
  MDL_OP_SCORES,   /* Q K^T per head */
  MDL_OP_SOFTMAX,  /* causal softmax over each score row */
  MDL_OP_SCORES_V, /* softmax(scores) V per head */
  MDL_OP_ATTN_OUT, /* output projection */
  MDL_OP_RESIDUAL,
  MDL_OP_FFN_UP,
  MDL_OP_GELU,
  MDL_OP_FFN_DOWN,
  MDL_OP_LM_HEAD, /* final logits; GPT's weight tied to the token embedding */
  /* Llama blocks (gpt.h's MDL_ARCH_LLAMA) */
  MDL_OP_RMSNORM,  /* x / rms(x) x gain */
  MDL_OP_ROTARY,   /* rotary position: each pair of a head's features turned by its position's angle */
  MDL_OP_FFN_GATE, /* the gated feed-forward's gate projection */
  MDL_OP_SWIGLU,   /* silu(gate) x up */
  MDL_OP_KIND_COUNT
} mdl_op_kind;

typedef enum { MDL_FP16, MDL_FP32 } mdl_dtype;

#define MDL_OP_NAME_MAX 24
#define MDL_NO_INPUT (-1)

/* One op: out[batch][m][n] = in[batch][m][k] x B[batch][k][n] for matrix ops;
 * k == 0 for elementwise and row-wise ops (layernorm, softmax, GELU, adds). */
typedef struct {
  mdl_op_kind kind;
  int layer;                  /* decoder block, or -1 outside the blocks */
  char name[MDL_OP_NAME_MAX]; /* unique: "emb", "L3.q", "final.ln", "lm_head" */
  int64_t batch, m, k, n;     /* elements */
  int64_t weight_rows;        /* K of the weight matrix, 0 if the op has none */
  int64_t weight_cols;        /* N of the weight matrix */
  int64_t bias;               /* bias parameters */
  int64_t norm_params;        /* layernorm gain and shift, RMSNorm gain */
  bool sparsifiable;          /* weight may carry unstructured sparsity */
  bool weight_tied;           /* weight is another op's (GPT's LM head = embedding) */
  mdl_dtype dtype;            /* arithmetic precision of the op */
  int in[2];                  /* producer op indices, MDL_NO_INPUT if none */
} mdl_op;

typedef struct mdl_graph mdl_graph;

/* Build the graph for model m over seq_len tokens (1 <= seq_len <= context).
 * Returns a graph the caller frees with mdl_graph_destroy, or NULL with a
 * one-line reason in err (bad dimensions, counts that would overflow). */
mdl_graph *mdl_graph_build(const mdl_gpt *m, int64_t seq_len, char *err, size_t errlen);
/* The graph of one step that processes `tokens` new tokens of a sequence
 * whose last attends to `keys` keys (1 <= tokens <= keys <= context): the
 * GEMMs and element-wise ops over the new tokens, the scores and their
 * softmax and product with V over tokens x keys (the whole matrix, as a
 * prefill counts it). A prefill is tokens = keys = seq_len; a decode step
 * tokens = 1 and keys its context (the prompt, the tokens made so far and
 * itself). */
mdl_graph *mdl_graph_build_step(const mdl_gpt *m, int64_t tokens, int64_t keys, char *err, size_t errlen);
void mdl_graph_destroy(mdl_graph *g);

size_t mdl_graph_op_count(const mdl_graph *g);
const mdl_op *mdl_graph_op(const mdl_graph *g, size_t i);
const mdl_gpt *mdl_graph_model(const mdl_graph *g);
/* Index of the op named `name` ("L3.q"), or -1 if none. */
int mdl_graph_find(const mdl_graph *g, const char *name);
int64_t mdl_graph_seq_len(const mdl_graph *g); /* the new tokens */
int64_t mdl_graph_keys(const mdl_graph *g);

/* Short lower-case name of an op kind ("ffn_up"), and the kind for a name
 * (-1 if none). These names are the ones used in YAML and in outputs. */
const char *mdl_op_kind_name(mdl_op_kind kind);
int mdl_op_kind_parse(const char *name);
const char *mdl_dtype_name(mdl_dtype t);
/* Whether graphs of block family a have ops of this kind (GPT: no RMSNorm, rotary, gate or SwiGLU; Llama: no position
 * table, layernorm or GELU). */
bool mdl_arch_has(mdl_arch a, mdl_op_kind kind);

#ifdef __cplusplus
}
#endif
#endif
