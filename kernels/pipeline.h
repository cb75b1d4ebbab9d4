/* Placed ops running micro-batches on the fabric: the layer-pipelined
 * execution of DESIGN.md section 3. Each stage (one op of the graph, or a
 * stated fusion of several) owns a rectangle of PEs; micro-batches of b
 * tokens flow through all stages at once.
 *
 * Stages and their programs (per micro-batch; each kind's program, cost,
 * estimate and placer facts are in its own file, kind_*.c, behind one table
 * of operations, kind.h):
 *   GEMM       r x c PEs, PE (i, j) holds the tile W[K_i, N_j] (its nonzeros
 *              for the sparse kernel). Row i's first PE receives x[K_i] and
 *              relays it along the row (multicast); every PE computes its
 *              partial y[N_j] (cost.h); each column chain-reduces the partials
 *              to its last PE, which holds y[N_j] and sends it on.
 *   EMBED      token embedding and position embedding (fused): one table of
 *              the vocabulary's rows, then the positions' (krn_embed_rows);
 *              PE (i, j) holds table rows V_j, features D_i; a PE copies the
 *              rows its tokens hit (a token's id and k + its position); rows
 *              chain-reduce (sum) to their last PE, which sends (so a wide
 *              table sends one slot per row, beside the next stage's rows).
 *   ATTENTION  scores, causal softmax and scores x V (fused), r x c PEs: column
 *              j takes heads H_j, row i the keys of tokens t = i (mod r) (K and
 *              V kept for every sequence of the run, each whole; a query
 *              scores its own sequence's keys). Queries, keys and values of the
 *              micro-batch each reach one PE of each column (krn_attn_row:
 *              staggered, so the routes in arrive along different rows),
 *              which relays them up and down the column (each PE keeps the
 *              keys and values of its tokens: one route per column, not one
 *              per PE); each PE scores its keys; a max all-reduce along the
 *              column (to its output PE and back), then each PE's exp, sum
 *              and partial output reduce to the output PE, which normalises
 *              and sends.
 *   LAYERNORM  r x c PEs, PE l (row-major) features D_l: sums, an all-reduce
 *              over the region, normalise.
 *   GELU, ADD  r x c PEs, PE l (row-major) features D_l (ADD: residual, two
 *              inputs).
 * Between stages, each overlap of a producer's output features with a
 * consumer's input features is a message on its own route, Y first then X
 * (from a row of outputs to a column of inputs, the routes spread over the
 * rows instead of all sharing the consumer's first column). Inputs are
 * double-buffered, or `depth` deep: a message of micro-batch m leaves when
 * its data is ready and its consumer has finished micro-batch m - depth.
 *
 * Functional mode carries real fp32 values (small configurations): weights,
 * tables and token ids given, every stage computes its numbers from its PEs'
 * shares, and the values ride the fabric's transfers. */
#ifndef WAFERSIM_KERNELS_PIPELINE_H
#define WAFERSIM_KERNELS_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cost.h"
#include "fabric/fabric.h"
#include "sim/engine/engine.h"
#include "workloads/mask.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  KRN_STAGE_EMBED,
  KRN_STAGE_GEMM,
  KRN_STAGE_ATTENTION,
  KRN_STAGE_LAYERNORM,
  KRN_STAGE_GELU,
  KRN_STAGE_ADD,
  KRN_STAGE_SWIGLU, /* Llama's gated activation: silu(gate) x up */
  KRN_STAGE_ROTARY, /* Llama's rotary position, on queries or keys */
} krn_stage_kind;

#define KRN_MAX_INPUTS 3

typedef struct {
  krn_stage_kind kind;
  const char *name;   /* for reports and errors, e.g. "L3.ffn_up" */
  fab_rect region;
  bool mirror;            /* columns right to left (a region on a westward shelf): column j
                             at region.x + region.w - 1 - j, so that data flows west as it
                             flows east on an unmirrored one */
  bool flip;              /* rows bottom to top: row i at region.y + region.h - 1 - i (GEMM
                             row heads, element-wise features: data arriving from the shelf
                             above then needs no route to cross another); a GEMM's column
                             still reduces top to bottom */
  bool nrev;              /* GEMM: N bands the other way: band j in column w - 1 - j (its
                             row heads stay in column 0), so that its outputs reach a
                             flipped column without crossing */
  int in[KRN_MAX_INPUTS]; /* producer stages, -1 for none: GEMM, LAYERNORM, GELU: 1
                             (a GEMM with in[0] = -1 takes krn_run.input at its rows' first
                             PEs); ADD, SWIGLU: 2; ROTARY: 1; ATTENTION: q, k, v; EMBED: none
                             (token ids) */
  uint32_t k;             /* GEMM: input features K; EMBED: vocabulary */
  uint32_t n;             /* output features N (all stages) */
  const uint32_t *k_cut;  /* GEMM: region.h + 1 cut points over k, EMBED: region.w + 1 (NULL: even) */
  const uint32_t *n_cut;  /* region.w + 1 cut points over n (EMBED: region.h + 1; element-wise stages:
                             region.w x region.h + 1, row-major); NULL: even */
  uint8_t depth[KRN_MAX_INPUTS]; /* micro-batches each input buffers (0: 2, double-buffered); up to
                                    KRN_DEPTH_MAX: a residual add takes its skip input this deep */
  krn_kernel kernel;      /* GEMM: KRN_SPARSE, KRN_DENSE or KRN_AUTO (per PE) */
  const wl_mask *mask;    /* GEMM: kept weights, k x n (NULL: all) */
  uint32_t heads;         /* ATTENTION: heads (n = heads x head size); ROTARY: the heads it turns */
  double rope_theta;      /* ROTARY: the base of its angles (models/gpt.h) */
  uint32_t kv_heads;      /* ATTENTION: key/value heads, each shared by heads / kv_heads query heads (0: heads) */
  bool rms;               /* LAYERNORM: RMSNorm (no mean, no shift) */
  uint32_t sequences;     /* the run's sequences (krn_run_sequences; 0 counts as 1): ATTENTION
                             keeps the keys and values of every one */
  bool bias_add;          /* GEMM: add a bias at its outputs; EMBED: add the positions (table rows) */
  /* functional values (only with functional mode) */
  const float *weight;    /* GEMM: W[k x n]; EMBED: token table [k x n]; LAYERNORM: gain[n] */
  const float *bias;      /* GEMM: bias[n] or NULL; EMBED: positions [seq x n]; LAYERNORM: shift[n] */
} krn_stage;

/* The tokens a run takes: b x micro_batches / seq sequences of seq tokens
 * each, one after another, in micro-batches of b; micro-batch m is tokens
 * m b .. m b + b - 1 of them all, of sequence m / (seq / b). A token
 * attends to the tokens before it in its own sequence only.
 *
 * A decode (feedback > 0): `feedback` sequences, each with a prompt of
 * `prompt` tokens already in the attention stages' caches, then seq -
 * prompt new tokens one at a time (b = 1), the sequences taking turns:
 * micro-batch m is the token at position prompt + m / feedback of sequence
 * m % feedback, and it enters (its entry stages start it) no sooner than
 * micro-batch m - feedback, the same sequence's token before, is done: the
 * token each step makes is the next one's input. */
typedef struct {
  uint32_t b;             /* tokens per micro-batch */
  uint32_t micro_batches; /* micro-batches of all the sequences */
  uint32_t seq;           /* tokens in a sequence (b x its micro-batches; divides b x micro_batches); a decode's
                             positions, its prompt's included */
  bool functional;
  const uint32_t *tokens; /* the token ids of every sequence, one after another (functional; else
                             NULL: uniform hits) */
  const float *input;     /* functional, for a GEMM with no producer: tokens x k activations */
  uint32_t feedback;      /* a decode's sequences (b = 1): see above; 0: a prefill */
  uint32_t prompt;        /* a decode's prompt tokens a sequence, in the caches before the run */
} krn_run;

/* Sequences of a run, and micro-batch m's index within its sequence (the
 * micro-batches before it there, a decode's prompt counting b = 1 each). */
static inline uint32_t krn_run_sequences(const krn_run *r) {
  return r->feedback ? r->feedback : r->b * r->micro_batches / r->seq;
}
static inline uint32_t krn_mb_in_seq(const krn_run *r, uint32_t m) {
  return r->feedback ? r->prompt + m / r->feedback : m % (r->seq / r->b);
}
/* Micro-batch m's sequence. */
static inline uint32_t krn_mb_seq(const krn_run *r, uint32_t m) {
  return r->feedback ? m % r->feedback : m / (r->seq / r->b);
}

/* Per stage, after a run. */
typedef struct {
  uint64_t busy_max, busy_sum; /* compute cycles of its busiest PE, and of all its PEs */
  uint64_t wait_in_sum, wait_out_sum; /* its PEs' krn_pe_stats.wait_in and wait_out, summed */
  uint64_t macs;               /* multiply-accumulates executed */
  uint64_t sram_max;           /* bytes of its fullest PE */
  uint64_t weight_bytes;       /* bytes of weights, tables and gains its PEs keep (in each
                                  PE's kernel's encoding) */
  uint64_t first, last;        /* cycles its first compute started and last output was ready */
  uint64_t sent;               /* cycle its last micro-batch's output had all left its PEs (its
                                  sends' last wavelet; the pipeline's last stage, which sends
                                  nothing: its output complete) */
  uint32_t pes;
  uint32_t sparse_pes;         /* GEMM: PEs that ran the sparse kernel */
} krn_stage_stats;

#define KRN_DEPTH_MAX 14

/* Input k's buffer depth (2 unless set), and the SRAM a PE holding `values`
 * values of each input spends on buffers beyond double (fp16). */
uint32_t krn_depth(const krn_stage *s, uint32_t k);
uint64_t krn_depth_sram(const krn_stage *s, uint64_t values);

/* Rows of an EMBED stage's table: k token rows, then with bias_add the seq
 * position rows. */
uint32_t krn_embed_rows(const krn_stage *s, uint32_t seq);

/* The row of column n of an r x c attention region where q (port 0), k (1)
 * and v (2) come in and where its reductions end and its output leaves (3):
 * n r / c + port (mod r). Staggered down the region, so that routes from
 * the projections reach the columns along different rows; four PEs, so
 * that no router holds all the routes into and out of a column. */
uint32_t krn_attn_row(uint32_t r, uint32_t c, uint32_t n, uint32_t port);
/* The row (0-based, in the stage's rows) of a GEMM's output PEs, where its
 * columns' reductions end and its bias is added: the last, or with flip the
 * first (its column still reduces top to bottom on the mesh). */
uint32_t krn_gemm_out_row(const krn_stage *s);
#define KRN_ATTN_OUT 3

typedef struct krn_pipe krn_pipe;

/* Check the stages (regions on the mesh and disjoint, shapes, SRAM of every
 * PE), make their routes and all micro-batches' transfers on f. NULL with the
 * reason in err (a PE that does not fit names the stage, the PE, the bytes
 * needed and available). The caller runs the engine, then reads results,
 * and frees the pipeline with krn_pipe_destroy before the fabric. */
krn_pipe *krn_pipe_create(sim_engine *e, fab_fabric *f, const krn_machine *m,
                          const krn_stage *stages, uint32_t nstages, const krn_run *run, char *err,
                          size_t errlen);
void krn_pipe_destroy(krn_pipe *p);

/* After the run: 0 if every micro-batch left the last stage, else -1 with what is stuck. */
int krn_pipe_check(const krn_pipe *p, char *err, size_t errlen);
krn_stage_stats krn_pipe_stats(const krn_pipe *p, uint32_t stage);
/* Cycle micro-batch mb's output was complete at the last stage. */
uint64_t krn_pipe_done(const krn_pipe *p, uint32_t mb);
/* Cycle micro-batch mb's first compute started at an entry stage (it entered the pipeline). */
uint64_t krn_pipe_entered(const krn_pipe *p, uint32_t mb);
/* Functional: the last stage's output of micro-batch mb, b x n row-major (token-major). */
const float *krn_pipe_output(const krn_pipe *p, uint32_t mb);
/* One PE of a stage after the run (local_pe row-major in the stage's rows i
 * and columns j), for per-PE maps and the exactness tests. */
typedef struct {
  uint32_t x, y;       /* its place on the mesh */
  uint64_t busy, macs; /* compute cycles and multiply-accumulates, all micro-batches */
  uint64_t sram;       /* bytes, the reserve included */
  uint64_t weights;    /* of sram: weights, tables and gains */
  krn_kernel kernel;   /* GEMM: the kernel it ran (KRN_SPARSE or KRN_DENSE); else KRN_AUTO */
  uint64_t first, last; /* cycle its first compute started, and its core was last free */
  uint64_t wait_in;     /* cycles it sat idle before a micro-batch's compute (the first's excepted)
                           because that micro-batch's inputs had not all arrived */
  uint64_t wait_out;    /* ... because its stage's output of two micro-batches before had not all left
                           (double-buffered outputs: its consumers had not taken it) */
} krn_pe_stats;
krn_pe_stats krn_pipe_pe(const krn_pipe *p, uint32_t stage, uint32_t local_pe);

#ifdef __cplusplus
}
#endif
#endif
