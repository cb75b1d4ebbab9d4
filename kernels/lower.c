/* Ops to stages (see lower.h). */
#include "lower.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 32

int krn_lower(const mdl_graph *g, krn_lowered *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  const uint32_t nops = (uint32_t)mdl_graph_op_count(g);
  const mdl_gpt *m = mdl_graph_model(g);
  int *stage_of = malloc(nops * sizeof *stage_of); /* op -> stage that makes its output */
  out->stages = calloc(nops, sizeof *out->stages);
  out->first_op = malloc(nops * sizeof *out->first_op);
  out->last_op = malloc(nops * sizeof *out->last_op);
  out->names = calloc(nops, NAME_MAX_LEN);
  if (!stage_of || !out->stages || !out->first_op || !out->last_op || !out->names) {
    free(stage_of);
    krn_lowered_free(out);
    snprintf(err, errlen, "lower: out of memory");
    return -1;
  }
  for (uint32_t i = 0; i < nops; i++) {
    const mdl_op *op = mdl_graph_op(g, i);
    const int fused_into = op->kind == MDL_OP_POS_EMBED || op->kind == MDL_OP_SOFTMAX ||
                                   op->kind == MDL_OP_SCORES_V
                               ? (int)out->n - 1
                               : -1;
    if (fused_into >= 0) { /* the op joins the stage just made */
      stage_of[i] = fused_into;
      out->last_op[fused_into] = i;
      continue;
    }
    krn_stage *s = &out->stages[out->n];
    char *name = &out->names[(size_t)out->n * NAME_MAX_LEN];
    snprintf(name, NAME_MAX_LEN, "%s", op->name);
    s->name = name;
    s->in[0] = s->in[1] = s->in[2] = -1;
    s->n = (uint32_t)op->n;
    s->kernel = KRN_AUTO;
    for (int k = 0; k < 2; k++)
      if (op->in[k] != MDL_NO_INPUT) s->in[k] = stage_of[op->in[k]];
    switch (op->kind) {
      case MDL_OP_EMBED:
        s->kind = KRN_STAGE_EMBED;
        s->k = (uint32_t)m->vocab;
        s->bias_add = i + 1 < nops && mdl_graph_op(g, i + 1)->kind == MDL_OP_POS_EMBED; /* GPT's positions, fused */
        break;
      case MDL_OP_LAYERNORM: s->kind = KRN_STAGE_LAYERNORM; break;
      case MDL_OP_RMSNORM:
        s->kind = KRN_STAGE_LAYERNORM;
        s->rms = true;
        break;
      case MDL_OP_GELU: s->kind = KRN_STAGE_GELU; break;
      case MDL_OP_SWIGLU: s->kind = KRN_STAGE_SWIGLU; break;
      case MDL_OP_ROTARY:
        s->kind = KRN_STAGE_ROTARY;
        s->heads = (uint32_t)(op->n / m->d_head);
        s->rope_theta = m->rope_theta;
        break;
      case MDL_OP_RESIDUAL:
        s->kind = KRN_STAGE_ADD;
        for (uint32_t k = 0; k < 2; k++) { /* the residual's skip: see lower.h */
          const uint32_t gap = out->n - (uint32_t)s->in[k] - 1, d = 2 + 2 * gap;
          s->depth[k] = (uint8_t)(d < KRN_DEPTH_MAX ? d : KRN_DEPTH_MAX);
        }
        break;
      case MDL_OP_SCORES: { /* q, k from the scores op; v from the scores_v op two further on */
        const mdl_op *sv = mdl_graph_op(g, i + 2);
        if (i + 2 >= nops || sv->kind != MDL_OP_SCORES_V || sv->in[1] == MDL_NO_INPUT) {
          free(stage_of);
          krn_lowered_free(out);
          snprintf(err, errlen, "lower: %s is not followed by softmax and scores_v", op->name);
          return -1;
        }
        s->kind = KRN_STAGE_ATTENTION;
        s->n = (uint32_t)m->d_model;
        s->heads = (uint32_t)m->heads;
        s->kv_heads = (uint32_t)m->kv_heads;
        s->in[2] = stage_of[sv->in[1]];
        snprintf(name, NAME_MAX_LEN, "L%d.attention", op->layer);
        break;
      }
      default: /* the weight GEMMs: q, k, v, attn_out, ffn_gate, ffn_up, ffn_down, lm_head */
        s->kind = KRN_STAGE_GEMM;
        s->k = (uint32_t)op->k;
        s->bias_add = op->bias > 0;
        break;
    }
    if (op->kind == MDL_OP_EMBED && s->bias_add) snprintf(name, NAME_MAX_LEN, "embed+pos");
    out->first_op[out->n] = out->last_op[out->n] = i;
    stage_of[i] = (int)out->n++;
  }
  free(stage_of);
  return 0;
}

void krn_lowered_free(krn_lowered *l) {
  free(l->stages);
  free(l->first_op);
  free(l->last_op);
  free(l->names);
  memset(l, 0, sizeof *l);
}
