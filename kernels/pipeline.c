/* The pipeline's common part: checking and setting up stages, pieces
 * between them, arming micro-batches, credits, the fabric callbacks and
 * results. What each stage computes is its kind's
 * (kind.h: kind_*.c), called from stages.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kind.h"
#include "pipe_internal.h"

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

void krn_fail(krn_pipe *p, const char *msg) {
  if (!p->err[0]) snprintf(p->err, sizeof p->err, "%s", msg);
  sim_engine_stop(p->e);
}

pe_mb *krn_pe_mb(stage *s, uint32_t local, uint32_t m) {
  pe_mb *e = krn_ring(s, local, m);
  SIM_CHECK(e->m == m, "stage %s, PE %u: micro-batch %u is not armed (the ring holds %u)", s->s.name,
            local, m, e->m);
  return e;
}

uint32_t krn_depth(const krn_stage *s, uint32_t k) { return s->depth[k] > 2 ? s->depth[k] : 2; }

uint64_t krn_depth_sram(const krn_stage *s, uint64_t values) {
  uint64_t bytes = 0;
  for (uint32_t k = 0; k < KRN_MAX_INPUTS; k++)
    if (s->in[k] >= 0) bytes += (uint64_t)(krn_depth(s, k) - 2) * values * 2;
  return bytes;
}

void krn_tag(krn_pipe *p, fab_xfer x, tag t) {
  if (x >= p->ntags) {
    uint32_t n = x + x / 2 + 1024;
    tag *a = realloc(p->tags, (size_t)n * sizeof *a);
    SIM_CHECK(a, "out of memory tagging transfer %u", x);
    memset(a + p->ntags, 0, (size_t)(n - p->ntags) * sizeof *a);
    p->tags = a;
    p->ntags = n;
  }
  p->tags[x] = t;
}

/* The slot of each input that feeds PE `local` of stage s: its row's
 * first PE's, its column's, or its own (kind.h's layouts). */
static uint32_t pe_slot(const stage *s, uint32_t local) {
  switch (krn_kind_of(s->s.kind)->in) {
    case KRN_SLOTS_ROWS: return local / s->cols;
    case KRN_SLOTS_COLS: return local % s->cols;
    default: return local;
  }
}

/* PEs a slot feeds. */
static uint32_t group_size(const stage *s) {
  switch (krn_kind_of(s->s.kind)->in) {
    case KRN_SLOTS_ROWS: return s->cols;
    case KRN_SLOTS_COLS: return s->rows;
    default: return 1;
  }
}

static void slot_claim(slot *sl, uint32_t m) {
  const uint32_t i = m % RING;
  if (sl->m[i] == m) return;
  SIM_CHECK(sl->m[i] == NO_MB || sl->m[i] + RING <= m, "slot ring: micro-batch %u meets %u", m, sl->m[i]);
  free(sl->vals[i]);
  sl->vals[i] = NULL;
  sl->m[i] = m;
  sl->freed_count[i] = 0;
  sl->freed[i] = sl->out_ready[i] = NEVER;
}

/* ---- sends: a flow's message of micro-batch m leaves when its data is
 * ready and every slot it goes to has finished micro-batch m - depth
 * (double buffers, or deeper for a residual's skip) ---- */

static void try_send(krn_pipe *p, uint32_t fi, uint32_t m) {
  flow *fl = &p->fl[fi];
  const uint32_t i = m % RING;
  if (m >= p->run.micro_batches || fl->m[i] != m || fl->sent[i]) return;
  const piece *first = &p->pc[fl->piece0];
  const slot *o = &p->st[first->from].out[first->from_slot];
  if (o->m[i] != m || o->out_ready[i] == NEVER || p->st[first->to].armed <= m) return;
  uint64_t credit = 0;
  const uint32_t depth = krn_depth(&p->st[first->to].s, first->to_input);
  for (uint32_t k = fl->piece0; m >= depth && k < fl->piece0 + fl->npieces; k++) {
    const piece *pc = &p->pc[k];
    const slot *s = &p->st[pc->to].in[pc->to_input][pc->to_slot];
    const uint32_t j = (m - depth) % RING;
    if (s->m[j] == NO_MB || s->m[j] < m - depth) return; /* not yet there */
    if (s->m[j] == m - depth) {
      if (s->freed[j] == NEVER) return;
      credit = max_u64(credit, s->freed[j]);
    } /* else its entry holds a later micro-batch: m - depth was freed long ago */
  }
  fl->sent[i] = true;
  const uint64_t at = max_u64(max_u64(o->out_ready[i], credit), fab_now(p->f));
  if (!p->run.functional) {
    fab_ready(p->f, fl->send[i], at);
    fab_release(p->f, fl->send[i]);
    return;
  }
  /* its features of every token, token-major */
  const uint32_t w = fl->f1 - fl->f0, ow = o->f1 - o->f0;
  float *v = malloc((size_t)p->run.b * w * sizeof *v);
  SIM_CHECK(v, "out of memory");
  for (uint32_t b = 0; b < p->run.b; b++)
    memcpy(&v[(size_t)b * w], &o->vals[i][(size_t)b * ow + (fl->f0 - o->f0)], w * sizeof *v);
  fab_ready_values(p->f, fl->send[i], at, v);
  fab_release(p->f, fl->send[i]);
  free(v);
}

void krn_freed(krn_pipe *p, uint32_t si, uint32_t local, uint32_t m, uint64_t cycle) {
  stage *s = &p->st[si];
  for (uint32_t k = 0; k < s->ninputs; k++) {
    slot *sl = &s->in[k][pe_slot(s, local)];
    const uint32_t i = m % RING;
    SIM_CHECK(sl->m[i] == m, "stage %s: input %u freed for micro-batch %u not armed", s->s.name, k, m);
    sl->freed[i] = sl->freed_count[i] ? max_u64(sl->freed[i], cycle) : cycle;
    if (++sl->freed_count[i] < group_size(s)) continue;
    for (uint32_t f = 0; f < sl->nflows; f++) /* its flows of m + depth may leave */
      try_send(p, sl->flows[f], m + krn_depth(&s->s, k));
  }
}

/* ---- arming: the transfers of one micro-batch, made in micro-batch order
 * so that every route's messages and consumers line up. A stage is armed
 * for m when a producer is (or, an entry stage, when it sent m - 2), but
 * only once it sent m - RING on, whose ring entries m takes: a deep stage
 * may lag its entry by more than the ring, and then waits; its producers
 * hold their messages of m until it is armed for m (try_send). ---- */

static int arm(krn_pipe *p, uint32_t si, uint32_t m, char *err, size_t errlen);

static int arm_one(krn_pipe *p, uint32_t si, uint32_t m, char *err, size_t errlen) {
  stage *s = &p->st[si];
  const uint32_t i = m % RING;
  SIM_CHECK(s->mb_m[i] == NO_MB || s->mb_m[i] + RING <= m, "stage ring: %u meets %u", m, s->mb_m[i]);
  s->mb_m[i] = m;
  s->sends_left[i] = 0;
  s->started[i] = 0;
  s->out_free[i] = NEVER;
  for (uint32_t k = 0; k < s->ninputs; k++)
    for (uint32_t j = 0; j < s->nin_slots[k]; j++) slot_claim(&s->in[k][j], m);
  for (uint32_t j = 0; j < s->nout; j++) slot_claim(&s->out[j], m);
  for (uint32_t l = 0; l < s->rows * s->cols; l++) {
    pe_mb *e = krn_ring(s, l, m);
    SIM_CHECK(e->m == NO_MB || (e->m + s->window <= m && s->pe[l].next > e->m), "stage %s PE %u ring: %u meets %u",
              s->s.name, l, m, e->m);
    free(e->scratch);
    *e = (pe_mb){.m = m, .in_done = NEVER, .red = FAB_NONE, .max = FAB_NONE};
  }
  /* its output sends first: an entry stage computes as soon as it is armed */
  for (uint32_t f = 0; f < s->nfl_out; f++) {
    const uint32_t fi = s->fl_out[f];
    flow *fl = &p->fl[fi];
    const piece *pc = &p->pc[fl->piece0];
    fl->m[i] = m;
    fl->sent[i] = false;
    const uint32_t tokens = p->run.b, w = fl->f1 - fl->f0;
    const fab_transfer t = {.pe = s->out[pc->from_slot].pe,
                            .out = fl->route,
                            .n = (tokens * w + 1) / 2, /* two fp16 values per wavelet */
                            .ready = FAB_LATER,
                            .values = p->run.functional ? tokens * w : 0,
                            .own_later = p->run.functional};
    if (fab_combine(p->f, &t, &fl->send[i], err, errlen) != 0) return -1;
    krn_tag(p, fl->send[i], (tag){TAG_SEND, 0, si, fi, m});
    s->sends_left[i]++;
  }
  if (krn_stage_arm(p, si, m, err, errlen) != 0) return -1;
  s->armed = m + 1;
  for (uint32_t c = 0; c < s->nconsumers; c++)
    if (arm(p, s->consumers[c], m, err, errlen) != 0) return -1;
  for (uint32_t fi = s->fl0; fi < s->fl1; fi++) try_send(p, fi, m); /* its producers' messages of m may leave now */
  return 0;
}

/* Arm stage si for every micro-batch before its `want` that its ring lets it. */
static int pump(krn_pipe *p, uint32_t si, char *err, size_t errlen) {
  stage *s = &p->st[si];
  while (s->armed < s->want) {
    /* m takes the ring entries of m - RING: they must be done with (its
       output sent, and every PE started m - RING + 2, the last to look at
       that output's entry) */
    const uint32_t m = s->armed, j = (m - RING) % RING, k = (m - RING + 2) % RING, w = (m - s->window) % RING;
    if (m >= RING && (s->mb_m[j] != m - RING || s->out_free[j] == NEVER || s->mb_m[k] != m - RING + 2 ||
                      s->started[k] < s->rows * s->cols))
      return 0;
    if (m >= s->window && (s->mb_m[w] != m - s->window || s->out_free[w] == NEVER)) return 0;
    if (arm_one(p, si, m, err, errlen) != 0) return -1;
  }
  return 0;
}

/* Stage si is wanted for micro-batch m (and all before). */
static int arm(krn_pipe *p, uint32_t si, uint32_t m, char *err, size_t errlen) {
  stage *s = &p->st[si];
  if (m >= p->run.micro_batches) return 0;
  if (m + 1 > s->want) s->want = m + 1;
  return pump(p, si, err, errlen);
}

/* ---- compute: a PE starts micro-batch m once its inputs are in, its core
 * is free and its stage sent micro-batch m - 2 on ---- */

static void try_compute(krn_pipe *p, uint32_t si, uint32_t local) {
  stage *s = &p->st[si];
  pe_state *pe = &s->pe[local];
  for (;;) {
    const uint32_t m = pe->next;
    const pe_mb *e = krn_ring(s, local, m);
    if (m >= p->run.micro_batches || e->m != m) return;
    if (e->in_done == NEVER) return;
    uint64_t start = max_u64(max_u64(fab_now(p->f), pe->core_free), e->in_done);
    if (m >= 2) {
      const uint32_t j = (m - 2) % RING;
      if (s->mb_m[j] != m - 2 || s->out_free[j] == NEVER) return;
      start = max_u64(start, s->out_free[j]);
    }
    if (s->entry && p->run.feedback && m >= p->run.feedback) { /* a decode: the token before it made */
      const uint64_t made = p->done[m - p->run.feedback];
      if (made == NEVER || p->parts_left[m - p->run.feedback] > 0) return;
      start = max_u64(start, made);
    }
    if (s->st.first == NEVER || start < s->st.first) s->st.first = start;
    if (s->entry && start < p->entered[m]) p->entered[m] = start;
    if (m == 0) pe->first = start;
    else if (start > pe->core_free) { /* idle since its last compute: what it waited for */
      const uint64_t out = m >= 2 ? s->out_free[(m - 2) % RING] : 0;
      *(e->in_done >= out ? &pe->wait_in : &pe->wait_out) += start - pe->core_free;
    }
    pe->next++;
    if (++s->started[m % RING] == s->rows * s->cols) { /* a deferred micro-batch may take its entries now */
      char err[256] = "";
      if (pump(p, si, err, sizeof err) != 0) krn_fail(p, err);
    }
    krn_stage_compute(p, si, local, m, start);
  }
}

uint64_t krn_charge(krn_pipe *p, stage *s, uint32_t local, uint64_t start, krn_cost c) {
  (void)p;
  pe_state *pe = &s->pe[local];
  pe->core_free = start + c.cycles;
  pe->busy += c.cycles;
  pe->macs += c.macs;
  return pe->core_free;
}

/* A small data-triggered task (a bias add, a normalisation) runs when its
 * data is there, between the core's longer tasks: it ends c cycles after
 * `at`, and the core's queued work ends c cycles later. */
uint64_t krn_interleave(krn_pipe *p, stage *s, uint32_t local, uint64_t at, krn_cost c) {
  pe_state *pe = &s->pe[local];
  const uint64_t start = max_u64(at, fab_now(p->f));
  pe->core_free = max_u64(pe->core_free, start) + c.cycles;
  pe->busy += c.cycles;
  pe->macs += c.macs;
  return start + c.cycles;
}

void krn_arrival(krn_pipe *p, uint32_t si, uint32_t local, uint32_t input, uint32_t m, uint64_t cycle) {
  stage *s = &p->st[si];
  pe_mb *e = krn_pe_mb(s, local, m);
  e->got[input]++;
  for (uint32_t k = 0; k < s->ninputs; k++) {
    const slot *sl = &s->in[k][pe_slot(s, local)];
    const uint32_t want = sl->pieces;
    SIM_CHECK(e->got[k] <= want, "stage %s PE %u: %u pieces of input %u, expected %u", s->s.name, local,
              e->got[k], k, want);
    if (e->got[k] < want) return;
  }
  e->in_done = cycle;
  try_compute(p, si, local);
}

/* The stage sent all of micro-batch m's output (or, the last stage, had it). */
static void out_free(krn_pipe *p, uint32_t si, uint32_t m, uint64_t cycle) {
  stage *s = &p->st[si];
  s->out_free[m % RING] = cycle;
  if (s->st.sent == NEVER || cycle > s->st.sent) s->st.sent = cycle;
  char err[256] = "";
  if ((s->entry ? arm(p, si, m + 2, err, sizeof err) : pump(p, si, err, sizeof err)) != 0) krn_fail(p, err);
  for (uint32_t l = 0; l < s->rows * s->cols; l++) try_compute(p, si, l);
}

void krn_output(krn_pipe *p, uint32_t si, uint32_t slot_index, uint32_t m, uint64_t cycle, float *values) {
  stage *s = &p->st[si];
  slot *o = &s->out[slot_index];
  const uint32_t i = m % RING;
  SIM_CHECK(o->m[i] == m && o->out_ready[i] == NEVER, "stage %s: output %u of micro-batch %u twice",
            s->s.name, slot_index, m);
  o->out_ready[i] = cycle;
  free(o->vals[i]);
  o->vals[i] = values; /* owned by the slot from now */
  if (cycle > s->st.last || s->st.last == NEVER) s->st.last = cycle;
  if (si == p->last) {
    if (values && p->final[m]) /* features [f0, f1) of all tokens */
      for (uint32_t b = 0; b < p->run.b; b++)
        memcpy(&p->final[m][(size_t)b * s->s.n + o->f0], &values[(size_t)b * (o->f1 - o->f0)],
               (o->f1 - o->f0) * sizeof *values);
    p->done[m] = p->done[m] == NEVER ? cycle : max_u64(p->done[m], cycle);
    if (--p->parts_left[m] == 0) {
      out_free(p, si, m, p->done[m]);
      for (uint32_t e = 0; p->run.feedback && e < p->nst; e++) /* a decode: the next token may enter */
        if (p->st[e].entry)
          for (uint32_t l = 0; l < p->st[e].rows * p->st[e].cols; l++) try_compute(p, e, l);
    }
    return;
  }
  for (uint32_t f = 0; f < o->nflows; f++) try_send(p, o->flows[f], m);
}

/* An entry stage's inputs of micro-batch m are there: its PEs' arrivals,
 * as an event at the current cycle so that arming never computes. */
void krn_entry_later(krn_pipe *p, uint32_t si, uint32_t m) {
  sim_engine_schedule(p->e, sim_engine_now(p->e), p->entity, 0, (sim_payload){si, m});
}

static void on_event(sim_engine *e, void *ctx, const sim_event *ev) {
  (void)e;
  krn_pipe *p = ctx;
  const uint32_t si = (uint32_t)ev->payload.a, m = (uint32_t)ev->payload.b;
  stage *s = &p->st[si];
  if (s->ninputs == 0) { /* an embedding's token ids: nothing to wait for */
    for (uint32_t l = 0; l < s->rows * s->cols; l++) krn_arrival(p, si, l, 0, m, fab_now(p->f));
  } else { /* a GEMM's rows' first PEs hold their x */
    for (uint32_t n = 0; n < s->nin_slots[0]; n++) krn_arrival(p, si, s->in[0][n].local, 0, m, fab_now(p->f));
  }
}

/* ---- fabric callbacks ---- */

/* A piece (or a relayed copy of it) is in at PE `local` of its consumer. */
/* A piece is in at PE `local` of its consumer, in a message whose values
 * (functional; NULL for timing) hold features [v0, v0 + vw) of every token. */
static void piece_in(krn_pipe *p, uint32_t pi, uint32_t local, uint32_t m, const float *v, uint32_t v0, uint32_t vw,
                     uint64_t cycle) {
  const piece *pc = &p->pc[pi];
  slot *sl = &p->st[pc->to].in[pc->to_input][pc->to_slot];
  if (v) { /* place its features in the slot's tokens x features */
    const uint32_t i = m % RING, tokens = p->run.b, sw = sl->f1 - sl->f0, w = pc->f1 - pc->f0;
    if (!sl->vals[i]) {
      sl->vals[i] = calloc((size_t)tokens * sw + 1, sizeof *sl->vals[i]);
      SIM_CHECK(sl->vals[i], "out of memory");
    }
    for (uint32_t t = 0; t < tokens; t++)
      memcpy(&sl->vals[i][(size_t)t * sw + (pc->f0 - sl->f0)], &v[(size_t)t * vw + (pc->f0 - v0)], w * sizeof *v);
  }
  krn_arrival(p, pc->to, local, pc->to_input, m, cycle);
}

/* Flow fi's message is in at its slot's PE: its piece there, and the
 * piece's relay on along the row or column. */
static void flow_in(krn_pipe *p, uint32_t fi, fab_pe pe, uint32_t m, fab_xfer x, uint64_t cycle) {
  const flow *fl = &p->fl[fi];
  uint32_t k = fl->piece0;
  while (k + 1 < fl->piece0 + fl->npieces && p->st[p->pc[k].to].in[p->pc[k].to_input][p->pc[k].to_slot].pe != pe) k++;
  const piece *pc = &p->pc[k];
  const slot *sl = &p->st[pc->to].in[pc->to_input][pc->to_slot];
  SIM_CHECK(sl->pe == pe, "flow %u delivered at PE %u, none of its slots", fi, pe);
  const float *v = p->run.functional ? fab_values(p->f, x) : NULL;
  if (sl->route != FAB_NONE) {
    if (!v) {
      fab_ready(p->f, pc->relay[m % RING], cycle);
      fab_release(p->f, pc->relay[m % RING]);
    } else { /* the piece's features of every token */
      const uint32_t w = pc->f1 - pc->f0, fw = fl->f1 - fl->f0;
      float *own = malloc((size_t)p->run.b * w * sizeof *own);
      SIM_CHECK(own, "out of memory");
      for (uint32_t t = 0; t < p->run.b; t++)
        memcpy(&own[(size_t)t * w], &v[(size_t)t * fw + (pc->f0 - fl->f0)], w * sizeof *own);
      fab_ready_values(p->f, pc->relay[m % RING], cycle, own);
      fab_release(p->f, pc->relay[m % RING]);
      free(own);
    }
  }
  piece_in(p, k, sl->local, m, v, fl->f0, fl->f1 - fl->f0, cycle);
}

static void on_delivery(void *ctx, fab_pe pe, uint32_t route, fab_xfer sender, uint64_t cycle) {
  (void)route;
  krn_pipe *p = ctx;
  const tag t = sender < p->ntags ? p->tags[sender] : (tag){0};
  const uint32_t width = fab_config_of(p->f)->width;
  switch (t.role) {
    case TAG_SEND: flow_in(p, t.a, pe, t.m, sender, cycle); break;
    case TAG_RELAY: {
      const piece *pc = &p->pc[t.a];
      piece_in(p, t.a, krn_local(&p->st[t.stage], pe, width), t.m,
               p->run.functional ? fab_values(p->f, sender) : NULL, pc->f0, pc->f1 - pc->f0, cycle);
      break;
    }
    case TAG_HOST: krn_arrival(p, t.stage, krn_local(&p->st[t.stage], pe, width), 0, t.m, cycle); break;
    case TAG_MAX:
      krn_stage_max(p, t.stage, krn_local(&p->st[t.stage], pe, width), t.m, t.input, sender, cycle);
      break;
    default: SIM_CHECK(0, "a message of transfer %u (role %u) delivered at PE %u", sender, t.role, pe);
  }
}

static void on_done(void *ctx, fab_xfer x, uint64_t cycle) {
  krn_pipe *p = ctx;
  if (x >= p->ntags) return;
  const tag t = p->tags[x];
  switch (t.role) {
    case TAG_SEND: {
      stage *s = &p->st[t.stage];
      if (--s->sends_left[t.m % RING] == 0) out_free(p, t.stage, t.m, cycle);
      break;
    }
    case TAG_RESULT: krn_stage_result(p, &t, x, cycle); break;
    case TAG_MAX: {
      const stage *s = &p->st[t.stage];
      const fab_coll *c = t.input == KRN_COLL_ROW ? s->row[t.a] : s->max[t.a];
      krn_stage_max(p, t.stage, krn_local(s, fab_coll_member(c, fab_coll_result(c)), fab_config_of(p->f)->width),
                    t.m, t.input, x, cycle);
      break;
    }
    default: break;
  }
}

/* ---- creation and results ---- */

static bool overlap(fab_rect a, fab_rect b) {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

static int check_stages(const fab_config *fc, const krn_stage *st, uint32_t n, char *err, size_t errlen) {
  for (uint32_t i = 0; i < n; i++) {
    const krn_stage *s = &st[i];
    const fab_rect q = s->region;
    const char *bad = NULL;
    if (q.w == 0 || q.h == 0 || q.x + q.w > fc->width || q.y + q.h > fc->height)
      bad = "its region is empty or off the mesh";
    for (uint32_t j = 0; !bad && j < i; j++)
      if (overlap(q, st[j].region)) bad = "its region overlaps an earlier stage's";
    for (uint32_t k = 0; !bad && k < KRN_MAX_INPUTS; k++)
      if (s->in[k] >= (int)i) bad = "it takes an input from itself or a later stage";
    if (bad) {
      snprintf(err, errlen, "pipeline: stage %u (%s): %s", i, s->name ? s->name : "?", bad);
      return -1;
    }
  }
  return 0;
}

/* Room in *a (capacity *cap elements of `size` bytes) for element n:
 * doubled when full. False on out of memory (*a unchanged). */
static bool grow(void **a, uint32_t *cap, uint32_t n, size_t size) {
  if (n < *cap) return true;
  const uint32_t c = *cap ? 2 * *cap : 1024;
  void *b = realloc(*a, (size_t)c * size);
  if (!b) return false;
  *a = b;
  *cap = c;
  return true;
}

krn_pipe *krn_pipe_create(sim_engine *e, fab_fabric *f, const krn_machine *m,
                          const krn_stage *stages, uint32_t nstages, const krn_run *run, char *err,
                          size_t errlen) {
  const bool whole = run->feedback ? run->b == 1 && run->micro_batches % run->feedback == 0 &&
                                          run->prompt + run->micro_batches / run->feedback == run->seq
                                    : run->seq % run->b == 0 && (uint64_t)run->b * run->micro_batches % run->seq == 0;
  if (nstages == 0 || run->b == 0 || run->micro_batches == 0 || run->seq == 0 || !whole) {
    snprintf(err, errlen,
             "pipeline: need stages, b >= 1, micro-batches >= 1, b dividing seq and seq dividing b x micro-batches "
             "(whole sequences; a decode: b = 1, every sequence's new tokens, seq = prompt + new tokens)");
    return NULL;
  }
  for (uint32_t i = 0; i < nstages; i++)
    if ((stages[i].sequences ? stages[i].sequences : 1) != krn_run_sequences(run)) {
      snprintf(err, errlen, "pipeline: stage %s was made for %u sequences, the run has %u", stages[i].name,
               stages[i].sequences, krn_run_sequences(run));
      return NULL;
    }
  if (check_stages(fab_config_of(f), stages, nstages, err, errlen) != 0) return NULL;
  krn_pipe *p = calloc(1, sizeof *p);
  if (!p) goto oom;
  p->e = e;
  p->f = f;
  p->m = *m;
  p->run = *run;
  p->nst = nstages;
  p->st = calloc(nstages, sizeof *p->st);
  p->done = malloc(run->micro_batches * sizeof *p->done);
  p->entered = malloc(run->micro_batches * sizeof *p->entered);
  p->parts_left = calloc(run->micro_batches, sizeof *p->parts_left);
  p->final = calloc(run->micro_batches, sizeof *p->final);
  if (!p->st || !p->done || !p->entered || !p->parts_left || !p->final) goto oom;
  for (uint32_t i = 0; i < nstages; i++) {
    stage *s = &p->st[i];
    s->s = stages[i];
    s->rows = stages[i].region.h;
    s->cols = stages[i].region.w;
    s->st.first = s->st.last = s->st.sent = NEVER;
    for (uint32_t r = 0; r < RING; r++) s->mb_m[r] = NO_MB;
    for (uint32_t k = 0; k < KRN_MAX_INPUTS; k++) {
      if (stages[i].in[k] < 0) continue;
      stage *pr = &p->st[stages[i].in[k]];
      uint32_t *c = realloc(pr->consumers, (pr->nconsumers + 1) * sizeof *c);
      if (!c) goto oom;
      pr->consumers = c;
      c[pr->nconsumers++] = i;
    }
  }
  for (uint32_t i = 0; i < nstages; i++)
    if (krn_stage_setup(p, i, err, errlen) != 0) goto fail;
  /* pieces: every overlap of a producer's output slot and a consumer's input slot */
  uint32_t cap = 0, fcap = 0;
  for (uint32_t c = 0; c < nstages; c++) {
    stage *s = &p->st[c];
    for (uint32_t k = 0; k < s->ninputs; k++) {
      if (s->s.in[k] < 0) continue;
      const stage *pr = &p->st[s->s.in[k]];
      for (uint32_t o = 0; o < pr->nout; o++) {
        const uint32_t flow0 = p->npc; /* this output slot's pieces into input k: one flow */
        for (uint32_t j = 0; j < s->nin_slots[k]; j++) {
          slot *sl = &s->in[k][j];
          const uint32_t f0 = pr->out[o].f0 > sl->f0 ? pr->out[o].f0 : sl->f0;
          const uint32_t f1 = pr->out[o].f1 < sl->f1 ? pr->out[o].f1 : sl->f1;
          if (f0 >= f1) continue;
          if (!grow((void **)&p->pc, &cap, p->npc, sizeof *p->pc)) goto oom;
          piece *pc = &p->pc[p->npc++];
          *pc = (piece){.from = (uint32_t)s->s.in[k], .from_slot = o, .to = c, .to_input = k,
                        .to_slot = j, .f0 = f0, .f1 = f1, .flow = p->nfl};
          sl->pieces++;
        }
        if (p->npc == flow0) continue;
        if (!grow((void **)&p->fl, &fcap, p->nfl, sizeof *p->fl)) goto oom;
        flow *fl = &p->fl[p->nfl++];
        *fl = (flow){.piece0 = flow0, .npieces = p->npc - flow0, .f0 = p->pc[flow0].f0, .f1 = p->pc[p->npc - 1].f1};
        for (uint32_t r = 0; r < RING; r++) fl->m[r] = NO_MB;
      }
    }
  }
  if (krn_flows_index(p) != 0) goto oom;
  if (krn_flows_route(p, err, errlen) != 0) goto fail;
  p->last = nstages - 1;
  while (p->st[p->last].nconsumers > 0) p->last--; /* the last stage nothing consumes */
  for (uint32_t mb = 0; mb < run->micro_batches; mb++) {
    p->done[mb] = p->entered[mb] = NEVER;
    p->parts_left[mb] = p->st[p->last].nout;
    if (run->functional && !(p->final[mb] = calloc((size_t)run->b * p->st[p->last].s.n, sizeof(float))))
      goto oom;
  }
  fab_on_delivery(f, on_delivery, p);
  fab_on_done(f, on_done, p);
  if (sim_engine_add_type(e, "kernels", on_event, p, 1, &p->entity) != 0) {
    snprintf(err, errlen, "pipeline: %s", sim_engine_error(e));
    goto fail;
  }
  for (uint32_t i = 0; i < nstages; i++) /* stages with no producer start on their own */
    if (p->st[i].entry && (arm(p, i, 0, err, errlen) != 0 || arm(p, i, 1, err, errlen) != 0)) goto fail;
  return p;
oom:
  snprintf(err, errlen, "pipeline: out of memory");
fail:
  krn_pipe_destroy(p);
  return NULL;
}

void krn_pipe_destroy(krn_pipe *p) {
  if (!p) return;
  for (uint32_t i = 0; p->st && i < p->nst; i++) {
    stage *s = &p->st[i];
    for (uint32_t k = 0; k < KRN_MAX_INPUTS; k++) {
      for (uint32_t j = 0; s->in[k] && j < s->nin_slots[k]; j++) {
        for (uint32_t r = 0; r < RING; r++) free(s->in[k][j].vals[r]);
        free(s->in[k][j].flows);
      }
      free(s->in[k]);
    }
    for (uint32_t j = 0; s->out && j < s->nout; j++) {
      for (uint32_t r = 0; r < RING; r++) free(s->out[j].vals[r]);
      free(s->out[j].flows);
    }
    free(s->out);
    free(s->fl_out);
    for (uint32_t c = 0; s->red && c < s->nred; c++) fab_coll_destroy(s->red[c]);
    for (uint32_t c = 0; s->max && c < s->cols; c++) fab_coll_destroy(s->max[c]);
    for (uint32_t c = 0; s->row && c < s->nrow; c++) fab_coll_destroy(s->row[c]);
    free(s->red);
    free(s->max);
    free(s->row);
    for (uint32_t l = 0; s->pe && l < s->rows * s->cols; l++) {
      for (uint32_t r = 0; s->rings && r < s->window; r++) free(krn_ring(s, l, r)->scratch);
      free(s->pe[l].kv);
    }
    free(s->pe);
    free(s->rings);
    free(s->kc);
    free(s->nc);
    free(s->consumers);
  }
  for (uint32_t mb = 0; p->final && mb < p->run.micro_batches; mb++) free(p->final[mb]);
  free(p->final);
  free(p->st);
  free(p->pc);
  free(p->fl);
  free(p->tags);
  free(p->done);
  free(p->entered);
  free(p->parts_left);
  free(p);
}

int krn_pipe_check(const krn_pipe *p, char *err, size_t errlen) {
  if (p->err[0]) {
    snprintf(err, errlen, "%s", p->err);
    return -1;
  }
  for (uint32_t mb = 0; mb < p->run.micro_batches; mb++) {
    if (p->done[mb] != NEVER) continue;
    for (uint32_t i = 0; i < p->nst; i++) { /* the first stage that did not finish it */
      const stage *s = &p->st[i];
      for (uint32_t l = 0; l < s->rows * s->cols; l++) {
        if (s->pe[l].next > mb) continue;
        const pe_mb *e = krn_ring(s, l, mb);
        char why[160] = "it was not armed for it";
        for (uint32_t k = 0; e->m == mb && k < s->ninputs; k++) {
          const slot *sl = &s->in[k][pe_slot(s, l)];
          if (e->got[k] < sl->pieces)
            snprintf(why, sizeof why, "it had %u of the %u pieces of its input %u", e->got[k], sl->pieces, k);
        }
        if (e->m == mb && e->in_done != NEVER) snprintf(why, sizeof why, "its stage did not send micro-batch %u on", mb - 2);
        snprintf(err, errlen,
                 "pipeline: micro-batch %u never left stage %s: its PE %u did not start it, as %s (armed: %u "
                 "micro-batches)",
                 mb, s->s.name, l, why, s->armed);
        return -1;
      }
    }
    snprintf(err, errlen, "pipeline: micro-batch %u never left the last stage", mb);
    return -1;
  }
  return 0;
}

krn_stage_stats krn_pipe_stats(const krn_pipe *p, uint32_t si) {
  const stage *s = &p->st[si];
  krn_stage_stats st = s->st;
  st.pes = s->rows * s->cols;
  for (uint32_t l = 0; l < st.pes; l++) {
    const pe_state *pe = &s->pe[l];
    if (pe->busy > st.busy_max) st.busy_max = pe->busy;
    st.busy_sum += pe->busy;
    st.wait_in_sum += pe->wait_in;
    st.wait_out_sum += pe->wait_out;
    st.macs += pe->macs;
    if (pe->sram > st.sram_max) st.sram_max = pe->sram;
    st.weight_bytes += pe->weights;
    st.sparse_pes += pe->kernel == KRN_SPARSE;
  }
  return st;
}

uint64_t krn_pipe_done(const krn_pipe *p, uint32_t mb) { return p->done[mb]; }
uint64_t krn_pipe_entered(const krn_pipe *p, uint32_t mb) { return p->entered[mb]; }
const float *krn_pipe_output(const krn_pipe *p, uint32_t mb) { return p->final[mb]; }
krn_pe_stats krn_pipe_pe(const krn_pipe *p, uint32_t si, uint32_t local) {
  const stage *s = &p->st[si];
  const pe_state *pe = &s->pe[local];
  return (krn_pe_stats){krn_col_x(s, local % s->cols), krn_row_y(s, local / s->cols), pe->busy, pe->macs, pe->sram,
                        pe->weights, krn_kind_of(s->s.kind)->picks_kernel ? pe->kernel : KRN_AUTO, pe->first,
                        pe->core_free, pe->wait_in, pe->wait_out};
}
