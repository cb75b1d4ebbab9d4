/* Private to kernels/pipeline.c, stages.c and the kind files (kind.h): the
 * pipeline's state. */
#ifndef WAFERSIM_KERNELS_PIPE_INTERNAL_H
#define WAFERSIM_KERNELS_PIPE_INTERNAL_H

#include "fabric/collective.h"
#include "pipeline.h"
#include "sim/engine/check.h"

/* Micro-batches a PE, slot or flow keeps state for, as a ring: a stage arms
 * m only once m - RING is done with (see pipeline.c), and an input of depth
 * d takes messages of up to m + d while computing m; RING leaves room for
 * KRN_DEPTH_MAX + 2, and every access checks it. */
#define RING 16
#define NEVER UINT64_MAX
#define NO_MB UINT32_MAX

/* Where a stage takes in or holds a tensor: a PE and a feature range, for
 * every token of a micro-batch. */
typedef struct {
  fab_pe pe;
  uint32_t local; /* the PE's index in its stage's region, row-major */
  uint32_t f0, f1;
  uint32_t route;   /* multicast from this slot to its group (FAB_NONE: the group is its PE) */
  uint32_t pieces;  /* pieces that arrive at it */
  uint32_t *flows;  /* an input slot: the flows of its pieces; an output slot: the flows it sends */
  uint32_t nflows;
  /* per micro-batch (ring) */
  uint32_t m[RING];
  uint32_t freed_count[RING]; /* group PEs done with the input */
  uint64_t freed[RING];       /* cycle the whole group was, NEVER before */
  uint64_t out_ready[RING];   /* output slot: cycle its values were ready, NEVER before */
  float *vals[RING];          /* functional: assembled input, or output values */
} slot;

/* An overlap of a producer's output slot with a consumer's input slot. */
typedef struct {
  uint32_t from, from_slot, to, to_input, to_slot; /* stages and slots */
  uint32_t f0, f1; /* features it carries */
  uint32_t flow;   /* the message it rides in */
  fab_xfer relay[RING]; /* into a slot with a relay: its send on, once its flow is in */
} piece;

/* What one output slot sends one input of one consumer per micro-batch:
 * the features of its pieces (consecutive in the pieces array), as one
 * message on one route (a tree to their slots' PEs), of which each slot
 * takes its piece. */
typedef struct {
  uint32_t piece0, npieces;
  uint32_t f0, f1; /* features: from its first piece's f0 to its last's f1 */
  uint32_t route;
  uint32_t m[RING];
  fab_xfer send[RING];
  bool sent[RING];
} flow;

/* What a fabric transfer is, for the callbacks. */
enum { TAG_NONE, TAG_SEND, TAG_RELAY, TAG_HOST, TAG_RESULT, TAG_MAX };
/* A stage's collectives: a PE's member of each (pe_mb's red, max and row). */
typedef enum { KRN_COLL_RED, KRN_COLL_MAX, KRN_COLL_ROW } krn_coll_role;
typedef struct {
  uint8_t role;
  uint8_t input;     /* TAG_RELAY: which input of the stage; TAG_MAX: which all-reduce (krn_coll_role) */
  uint32_t stage, a; /* a: flow (SEND), piece (RELAY), slot (HOST), column or row (RESULT, MAX) */
  uint32_t m;
} tag;

/* One PE of a stage, per micro-batch (ring). */
typedef struct {
  uint32_t m;
  uint32_t got[KRN_MAX_INPUTS]; /* pieces arrived per input */
  uint64_t in_done;             /* cycle its inputs were all in, NEVER before */
  fab_xfer red;                 /* its member of the stage's reduction round (chain or sum) */
  fab_xfer max;                 /* its member of the max or statistics all-reduce */
  fab_xfer row;                 /* ATTENTION with a head over several columns: its member of its row's
                                   all-reduce of partial scores */
  float *scratch;               /* functional: kept between two phases */
} pe_mb;

typedef struct {
  uint32_t next;      /* next micro-batch it computes */
  uint64_t core_free; /* first cycle its core is free */
  uint64_t first;     /* cycle its first compute started (0 before) */
  uint64_t wait_in, wait_out; /* cycles idle before a micro-batch's compute (the first's excepted),
                                 waiting for its inputs, or for its stage's output of m - 2 to leave */
  uint64_t busy, macs, sram, weights; /* weights: bytes of sram (krn_cost) */
  krn_kernel kernel; /* GEMM: the kernel it runs */
  uint64_t nnz;      /* GEMM: its tile's nonzeros; EMBED: its rows */
  float *kv; /* functional ATTENTION: K and V of its tokens, ceil(seq / rows) x 2 x features */
} pe_state;

typedef struct {
  krn_stage s;
  uint32_t rows, cols, dh; /* region shape; ATTENTION: head size */
  bool elementwise;        /* LAYERNORM, GELU, ADD: features over every PE, row-major */
  uint32_t *kc, *nc;       /* owned cut points: rows + 1 over k; over n, cols + 1
                              (element-wise: rows x cols + 1); EMBED: cols + 1 over
                              the vocabulary, rows + 1 over n */
  slot *in[KRN_MAX_INPUTS];
  uint32_t nin_slots[KRN_MAX_INPUTS], ninputs;
  slot *out;
  uint32_t nout;
  fab_coll **red; /* nred: per column (GEMM: chain; ATTENTION: sum), per row (EMBED: chain) */
  uint32_t nred;
  fab_coll **max; /* ATTENTION: per column, max all-reduce; LAYERNORM: [0], the row's all-reduce */
  fab_coll **row; /* ATTENTION: per row and head (rows x heads; NULL where a head has one column), the
                     all-reduce of partial scores over the head's columns */
  uint32_t nrow;
  pe_state *pe;   /* rows x cols */
  bool entry;     /* no producer: it arms its own micro-batches */
  uint32_t window; /* it arms m only once its output of m - window was sent: its deepest
                      input + 2 (a micro-batch's transfers exist only that far ahead) */
  pe_mb *rings;     /* owned: rows x cols x window, each PE's ring of micro-batches (a PE is
                       done with m - window, whose output was sent, before m is armed) */
  uint32_t armed; /* micro-batches armed */
  uint32_t want;  /* micro-batches a producer (or itself, an entry) has armed */
  uint32_t mb_m[RING];
  uint32_t sends_left[RING]; /* output sends of that micro-batch still running */
  uint32_t started[RING];    /* PEs that started computing it */
  uint64_t out_free[RING];   /* cycle its output was all sent, NEVER before */
  uint32_t pc0, pc1, fl0, fl1; /* the pieces and flows into it (consecutive) */
  uint32_t *fl_out, nfl_out;    /* the flows out of it */
  uint32_t *consumers;       /* stages fed by it */
  uint32_t nconsumers;
  krn_stage_stats st;
} stage;

/* PE local's ring entry for micro-batch m (a PE's ring lives in its stage's
 * rings, not behind a pointer in its state: one read where there were two). */
static inline pe_mb *krn_ring(const stage *s, uint32_t local, uint32_t m) {
  return &s->rings[(size_t)local * s->window + m % s->window];
}

struct krn_pipe {
  sim_engine *e;
  sim_entity entity; /* its own: entry stages' inputs arrive by an event, not while arming */
  fab_fabric *f;
  krn_machine m;
  krn_run run;
  stage *st;
  uint32_t nst, last; /* `last`: the stage whose output is the pipeline's */
  piece *pc;
  uint32_t npc;
  flow *fl;
  uint32_t nfl;
  tag *tags; /* per fabric transfer */
  uint32_t ntags;
  uint64_t *done;       /* per micro-batch: cycle the last stage had all of it */
  uint64_t *entered;    /* per micro-batch: cycle its first compute started at an entry stage */
  uint32_t *parts_left; /* per micro-batch: last stage's output slots still to come */
  float **final;        /* functional: per micro-batch, b x n */
  char err[256];        /* first error inside a callback */
};

/* The mesh column of a stage's column j and the mesh row of its row i (a
 * mirrored stage's columns run right to left, a flipped one's rows bottom
 * to top), and the index (row-major, in rows i and columns j) of its PE at pe. */
static inline uint32_t krn_col_x(const stage *s, uint32_t j) {
  return s->s.mirror ? s->s.region.x + s->cols - 1 - j : s->s.region.x + j;
}
static inline uint32_t krn_row_y(const stage *s, uint32_t i) {
  return s->s.flip ? s->s.region.y + s->rows - 1 - i : s->s.region.y + i;
}
/* A GEMM's N band in its column j, and the column of its band j (nrev). */
static inline uint32_t krn_band(const stage *s, uint32_t j) { return s->s.nrev ? s->cols - 1 - j : j; }
static inline uint32_t krn_local(const stage *s, fab_pe pe, uint32_t width) {
  const uint32_t x = fab_x(width, pe), y = fab_y(width, pe);
  const uint32_t j = s->s.mirror ? s->s.region.x + s->cols - 1 - x : x - s->s.region.x;
  const uint32_t i = s->s.flip ? s->s.region.y + s->rows - 1 - y : y - s->s.region.y;
  return i * s->cols + j;
}

/* pipeline.c, for stages.c and the kind files */
void krn_entry_later(krn_pipe *p, uint32_t si, uint32_t m);
pe_mb *krn_pe_mb(stage *s, uint32_t local, uint32_t m);
void krn_tag(krn_pipe *p, fab_xfer x, tag t);
void krn_fail(krn_pipe *p, const char *msg);
void krn_arrival(krn_pipe *p, uint32_t si, uint32_t local, uint32_t input, uint32_t m, uint64_t cycle);
void krn_output(krn_pipe *p, uint32_t si, uint32_t slot_index, uint32_t m, uint64_t cycle, float *values);
void krn_freed(krn_pipe *p, uint32_t si, uint32_t local, uint32_t m, uint64_t cycle);
uint64_t krn_charge(krn_pipe *p, stage *s, uint32_t local, uint64_t start, krn_cost c);
uint64_t krn_interleave(krn_pipe *p, stage *s, uint32_t local, uint64_t at, krn_cost c);

/* flows.c: each stage's pieces and flows in, the flows out of each stage
 * and slot (krn_flows_index: -1 on out of memory); every flow's route
 * (krn_flows_route: 0, or -1 with the reason) */
int krn_flows_index(krn_pipe *p);
int krn_flows_route(krn_pipe *p, char *err, size_t errlen);

/* stages.c: the stages' programs (each kind's from its table, kind.h) */
int krn_stage_setup(krn_pipe *p, uint32_t si, char *err, size_t errlen);
int krn_stage_arm(krn_pipe *p, uint32_t si, uint32_t m, char *err, size_t errlen);
void krn_stage_compute(krn_pipe *p, uint32_t si, uint32_t local, uint32_t m, uint64_t start);
void krn_stage_result(krn_pipe *p, const tag *t, fab_xfer x, uint64_t cycle);
void krn_stage_max(krn_pipe *p, uint32_t si, uint32_t local, uint32_t m, krn_coll_role which, fab_xfer x,
                   uint64_t cycle);

#endif
