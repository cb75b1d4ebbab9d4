/* The system around the wafers on SimGrid (see system.h). */
#include "system.h"

#include <errno.h>
#include <math.h>
#include <simgrid/actor.h>
#include <simgrid/comm.h>
#include <simgrid/engine.h>
#include <simgrid/host.h>
#include <simgrid/mailbox.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* "No limit" on a link: 1 PB/s moves a 4 MB chunk in 4 ns, far below any
   figure reported (a store host's memory without limit is not simulated).
   SimGrid's TCP window bound (network/TCP-gamma) is off: these are not
   long-haul TCP flows, and it would cap a 1 us link at 2.1 TB/s. */
#define SYS_UNLIMITED 1e15
#define RING 2 /* chunks in flight per link: double buffering */

/* The tree's levels from the wafers up: each level's switches into sizes (at most 64), the count returned. */
static uint32_t tree_levels(uint32_t wafers, uint32_t fanout, uint32_t sizes[64]) {
  uint32_t level = wafers, n = 0;
  do sizes[n++] = level = (level + fanout - 1) / fanout;
  while (level > 1);
  return n;
}

void sys_tree(uint32_t wafers, uint32_t fanout, uint32_t *switches, uint32_t *depth) {
  uint32_t sizes[64];
  *depth = tree_levels(wafers, fanout, sizes);
  *switches = 0;
  for (uint32_t l = 0; l < *depth; l++) *switches += sizes[l];
}

/* A segment: one layer's weights in one direction of one pass. */
typedef struct {
  uint32_t layer;
  bool bwd;
  uint32_t chunks;      /* K: a multiple of the store hosts, or 0 (no weights) */
  double bytes, grad;   /* a chunk's weights, its gradients (bwd) */
  double compute;       /* a chunk's compute */
  double weights;       /* a chunk's weights (store update work) */
  bool last_pass;
} segment;

/* Everything the actors share, in the child process. */
typedef struct {
  const sys_spec *s;
  uint32_t nseg;
  segment *seg;
  uint32_t nsw, depth;   /* switches (0 the root; switch j's parent and children below) and their levels */
  int32_t *sw_parent;    /* -1 for the root */
  uint32_t *sw_first, *sw_nchild; /* its children: sw_nchild switches, or wafers if sw_leaf, from sw_first */
  bool *sw_leaf;         /* its children are wafers */
  uint32_t *wafer_parent, *wafer_slot; /* a wafer's switch and its index among that switch's children */
  uint32_t *sw_slot;     /* a switch's index among its parent's children */
  double wafer_end, grad_in; /* the wafers' last compute's end; the stores' last gradient in */
  uint64_t messages;
} world;

typedef struct {
  world *w;
  uint32_t index;
} actor_ctx;

static char payload; /* SimGrid carries a pointer; the size is simulated */

/* The mailbox "KIND-A", or with b >= 0 "KIND-A-B". */
static sg_mailbox_t mbox(const char *kind, uint32_t a, int64_t b) {
  char name[48];
  if (b < 0) snprintf(name, sizeof name, "%s-%u", kind, a);
  else snprintf(name, sizeof name, "%s-%u-%lld", kind, a, (long long)b);
  return sg_mailbox_by_name(name);
}

/* Put on a ring of RING slots: wait the slot's older put first. */
static void ring_put(world *w, sg_comm_t *slot, sg_mailbox_t to, double bytes) {
  if (*slot) sg_comm_wait(*slot);
  *slot = sg_mailbox_put_async(to, &payload, (long)ceil(bytes));
  w->messages++;
}

static void ring_drain(sg_comm_t *ring, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (ring[i]) sg_comm_wait(ring[i]), ring[i] = NULL;
}

/* The down (weights) sequence: segment, chunk for each of n positions. */
static uint64_t down_count(const world *w) {
  uint64_t n = 0;
  for (uint32_t i = 0; i < w->nseg; i++) n += w->seg[i].chunks;
  return n;
}

/* The mailbox a switch's or a wafer's weights arrive in. */
static sg_mailbox_t down_of_switch(uint32_t j) { return mbox("down-sw", j, -1); }
static sg_mailbox_t down_of_wafer(uint32_t k) { return mbox("down-w", k, -1); }

static void store_down(int argc, char **argv) {
  (void)argc, (void)argv;
  const actor_ctx *c = sg_actor_self_get_data();
  world *w = c->w;
  const uint32_t S = w->s->store_hosts, h = c->index;
  sg_mailbox_t to = mbox("sd", h, -1);
  sg_comm_t ring[RING] = {0};
  uint64_t sent = 0;
  for (uint32_t g = 0; g < w->nseg; g++)
    for (uint32_t i = h; i < w->seg[g].chunks; i += S) {
      if (w->s->store_bandwidth > 0) sg_actor_execute(w->seg[g].bytes); /* read it from memory */
      ring_put(w, &ring[sent++ % RING], to, w->seg[g].bytes);
    }
  ring_drain(ring, RING);
}

static void switch_down(int argc, char **argv) {
  (void)argc, (void)argv;
  const actor_ctx *c = sg_actor_self_get_data();
  world *w = c->w;
  const uint32_t j = c->index, S = w->s->store_hosts, nk = w->sw_nchild[j];
  sg_mailbox_t *kids = malloc(nk * sizeof *kids);
  sg_comm_t *ring = calloc((size_t)nk * RING, sizeof *ring);
  if (!kids || !ring) abort();
  for (uint32_t k = 0; k < nk; k++)
    kids[k] = w->sw_leaf[j] ? down_of_wafer(w->sw_first[j] + k) : down_of_switch(w->sw_first[j] + k);
  /* position p's source: the root takes it from store host p mod S (every segment's chunks are a multiple of
     S), a get posted at each host ahead; another switch from its parent, one ahead */
  const uint64_t n = down_count(w);
  const uint32_t ahead = j == 0 ? S : 1;
  sg_comm_t *gets = calloc(ahead, sizeof *gets);
  void **data = calloc(ahead, sizeof *data);
  if (!gets || !data) abort();
  for (uint64_t p = 0; p < n && p < ahead; p++)
    gets[p] = sg_mailbox_get_async(j == 0 ? mbox("sd", (uint32_t)p, -1) : down_of_switch(j), &data[p]);
  uint32_t g = 0, i = 0;
  while (g < w->nseg && w->seg[g].chunks == 0) g++;
  for (uint64_t p = 0; p < n; p++) {
    const uint32_t slot = (uint32_t)(p % ahead);
    sg_comm_wait(gets[slot]);
    if (p + ahead < n)
      gets[slot] = sg_mailbox_get_async(j == 0 ? mbox("sd", slot, -1) : down_of_switch(j), &data[slot]);
    const segment *sg = &w->seg[g];
    for (uint32_t k = 0; k < nk; k++) ring_put(w, &ring[(size_t)k * RING + p % RING], kids[k], sg->bytes);
    if (++i == sg->chunks) { /* the next position's segment */
      i = 0;
      do g++;
      while (g < w->nseg && w->seg[g].chunks == 0);
    }
  }
  free(data);
  free(gets);
  ring_drain(ring, (size_t)nk * RING);
  free(ring);
  free(kids);
}

/* The mailbox switch j takes child k's gradients from. */
static sg_mailbox_t up_of(uint32_t j, uint32_t k) { return mbox("up-sw", j, k); }

static void switch_up(int argc, char **argv) {
  (void)argc, (void)argv;
  const actor_ctx *c = sg_actor_self_get_data();
  world *w = c->w;
  const uint32_t j = c->index, S = w->s->store_hosts, nk = w->sw_nchild[j];
  sg_comm_t *gets = calloc(nk, sizeof *gets);
  sg_comm_t *ring = calloc((size_t)(j == 0 ? S : 1) * RING, sizeof *ring);
  void **data = calloc(nk, sizeof *data);
  if (!gets || !ring || !data) abort();
  uint64_t sent = 0;
  for (uint32_t g = 0; g < w->nseg; g++) {
    const segment *sg = &w->seg[g];
    if (!sg->bwd || sg->grad <= 0) continue;
    for (uint32_t i = 0; i < sg->chunks; i++) {
      for (uint32_t k = 0; k < nk; k++) gets[k] = sg_mailbox_get_async(up_of(j, k), &data[k]);
      sg_comm_wait_all(gets, nk); /* the same chunk from every child, summed */
      if (j == 0) ring_put(w, &ring[(i % S) * RING + (sent / S) % RING], mbox("su", i % S, -1), sg->grad);
      else ring_put(w, &ring[sent % RING], up_of((uint32_t)w->sw_parent[j], w->sw_slot[j]), sg->grad);
      sent++;
    }
  }
  ring_drain(ring, (size_t)(j == 0 ? S : 1) * RING);
  free(data);
  free(ring);
  free(gets);
}

static void store_up(int argc, char **argv) {
  (void)argc, (void)argv;
  const actor_ctx *c = sg_actor_self_get_data();
  world *w = c->w;
  const uint32_t S = w->s->store_hosts, h = c->index;
  sg_mailbox_t from = mbox("su", h, -1);
  for (uint32_t g = 0; g < w->nseg; g++) {
    const segment *sg = &w->seg[g];
    if (!sg->bwd || sg->grad <= 0) continue;
    for (uint32_t i = h; i < sg->chunks; i += S) {
      sg_mailbox_get(from);
      if (simgrid_get_clock() > w->grad_in) w->grad_in = simgrid_get_clock();
      if (w->s->store_bandwidth > 0)
        sg_actor_execute(sg->weights * (sg->last_pass ? w->s->update_bytes : w->s->accumulate_bytes));
    }
  }
}

static void wafer(int argc, char **argv) {
  (void)argc, (void)argv;
  const actor_ctx *c = sg_actor_self_get_data();
  world *w = c->w;
  const uint32_t k = c->index;
  sg_mailbox_t in = down_of_wafer(k), up = up_of(w->wafer_parent[k], w->wafer_slot[k]);
  const uint64_t n = down_count(w);
  sg_comm_t ring[RING] = {0};
  void *data;
  sg_comm_t get = n ? sg_mailbox_get_async(in, &data) : NULL;
  uint64_t got = 0, sent = 0;
  for (uint32_t g = 0; g < w->nseg; g++) {
    const segment *sg = &w->seg[g];
    for (uint32_t i = 0; i < sg->chunks; i++) {
      sg_comm_wait(get); /* the window: compute no further than the weights delivered */
      if (++got < n) get = sg_mailbox_get_async(in, &data);
      sg_actor_sleep_for(sg->compute);
      if (sg->bwd && sg->grad > 0) ring_put(w, &ring[sent++ % RING], up, sg->grad); /* its gradients leave */
    }
    if (sg->chunks == 0) sg_actor_sleep_for(sg->compute); /* a layer without weights */
  }
  if (simgrid_get_clock() > w->wafer_end) w->wafer_end = simgrid_get_clock();
  ring_drain(ring, RING);
}

/* The platform as SimGrid XML: hosts, a link each way per edge, routes between neighbours. */
static int write_platform(const world *w, FILE *f) {
  const sys_spec *s = w->s;
  const double lbw = s->link_bandwidth > 0 ? s->link_bandwidth : SYS_UNLIMITED;
  const double sbw = s->store_link > 0 ? s->store_link : SYS_UNLIMITED;
  const double mem = s->store_bandwidth > 0 ? s->store_bandwidth : SYS_UNLIMITED;
  fprintf(f, "<?xml version='1.0'?>\n<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n"
             "<platform version=\"4.1\">\n<zone id=\"system\" routing=\"Full\">\n");
  for (uint32_t h = 0; h < s->store_hosts; h++) fprintf(f, "<host id=\"store-%u\" speed=\"%.17gf\"/>\n", h, mem);
  for (uint32_t j = 0; j < w->nsw; j++) fprintf(f, "<host id=\"sw-%u\" speed=\"1f\"/>\n", j);
  for (uint32_t k = 0; k < s->wafers; k++) fprintf(f, "<host id=\"wafer-%u\" speed=\"1f\"/>\n", k);
  /* edges, each (parent host, child host, bandwidth): every link first, then the routes (the DTD's order) */
  const uint32_t nedge = s->store_hosts + w->nsw - 1 + s->wafers;
  for (int pass = 0; pass < 2; pass++)
    for (uint32_t e = 0; e < nedge; e++) {
      char parent[32], child[32];
      double bw = lbw;
      if (e < s->store_hosts) { /* weights flow down from the store */
        snprintf(parent, sizeof parent, "store-%u", e);
        snprintf(child, sizeof child, "sw-0");
        bw = sbw;
      } else if (e < s->store_hosts + w->nsw - 1) {
        const uint32_t j = e - s->store_hosts + 1;
        snprintf(parent, sizeof parent, "sw-%d", w->sw_parent[j]);
        snprintf(child, sizeof child, "sw-%u", j);
      } else {
        const uint32_t k = e - s->store_hosts - (w->nsw - 1);
        snprintf(parent, sizeof parent, "sw-%u", w->wafer_parent[k]);
        snprintf(child, sizeof child, "wafer-%u", k);
      }
      if (pass == 0) {
        for (int up = 0; up < 2; up++)
          fprintf(f, "<link id=\"e%u-%s\" bandwidth=\"%.17gBps\" latency=\"%.17gs\"/>\n", e, up ? "up" : "down", bw,
                  s->link_latency);
      } else {
        fprintf(f, "<route src=\"%s\" dst=\"%s\" symmetrical=\"NO\"><link_ctn id=\"e%u-down\"/></route>\n",
                parent, child, e);
        fprintf(f, "<route src=\"%s\" dst=\"%s\" symmetrical=\"NO\"><link_ctn id=\"e%u-up\"/></route>\n", child,
                parent, e);
      }
    }
  fprintf(f, "</zone>\n</platform>\n");
  return ferror(f) ? -1 : 0;
}

/* The tree: level by level from the wafers up, then numbered from the root down. */
static int build_tree(world *w) {
  const sys_spec *s = w->s;
  uint32_t sizes[64];
  const uint32_t nl = w->depth = tree_levels(s->wafers, s->fanout, sizes);
  w->nsw = 0;
  for (uint32_t l = 0; l < nl; l++) w->nsw += sizes[l];
  w->sw_parent = calloc(w->nsw, sizeof *w->sw_parent);
  w->sw_first = calloc(w->nsw, sizeof *w->sw_first);
  w->sw_nchild = calloc(w->nsw, sizeof *w->sw_nchild);
  w->sw_leaf = calloc(w->nsw, sizeof *w->sw_leaf);
  w->sw_slot = calloc(w->nsw, sizeof *w->sw_slot);
  w->wafer_parent = calloc(s->wafers, sizeof *w->wafer_parent);
  w->wafer_slot = calloc(s->wafers, sizeof *w->wafer_slot);
  if (!w->sw_parent || !w->sw_first || !w->sw_nchild || !w->sw_leaf || !w->sw_slot || !w->wafer_parent ||
      !w->wafer_slot)
    return -1;
  /* switches numbered root first: level nl-1 (1 switch), then nl-2, ... */
  uint32_t start = 0;
  w->sw_parent[0] = -1;
  for (int l = (int)nl - 1; l >= 0; l--) {
    const uint32_t below = l > 0 ? sizes[l - 1] : s->wafers, below_start = start + sizes[l];
    for (uint32_t a = 0; a < sizes[l]; a++) {
      const uint32_t j = start + a, first = a * s->fanout;
      const uint32_t last = first + s->fanout < below ? first + s->fanout : below;
      w->sw_leaf[j] = l == 0;
      w->sw_first[j] = l == 0 ? first : below_start + first;
      w->sw_nchild[j] = last - first;
      for (uint32_t b = first; b < last; b++) {
        if (l == 0) {
          w->wafer_parent[b] = j;
          w->wafer_slot[b] = b - first;
        } else {
          w->sw_parent[below_start + b] = (int32_t)j;
          w->sw_slot[below_start + b] = b - first;
        }
      }
    }
    start += sizes[l];
  }
  return 0;
}

/* A layer's chunks: its bytes in pieces of at most `chunk`, a multiple of the store hosts; 0 without weights. */
static uint32_t chunks_of(const sys_spec *s, double bytes) {
  return bytes > 0 ? (uint32_t)(s->store_hosts * ceil(ceil(bytes / s->chunk) / s->store_hosts)) : 0;
}

uint64_t sys_messages(const sys_spec *s, const sys_layer *layers, uint32_t n) {
  uint32_t nsw, depth;
  sys_tree(s->wafers, s->fanout, &nsw, &depth);
  uint64_t down = 0, up = 0;
  for (uint32_t l = 0; l < n; l++) {
    const uint64_t k = chunks_of(s, layers[l].weight_bytes);
    down += k * (s->train ? 2 : 1);
    up += s->train && layers[l].grad_bytes > 0 ? k : 0;
  }
  return s->passes * (down * (1 + (uint64_t)nsw - 1 + s->wafers) + up * ((uint64_t)s->wafers + nsw));
}

static int build_segments(world *w, const sys_layer *layers, uint32_t n) {
  const sys_spec *s = w->s;
  const uint32_t per_pass = s->train ? 2 * n : n;
  w->nseg = per_pass * s->passes;
  if (!(w->seg = calloc(w->nseg ? w->nseg : 1, sizeof *w->seg))) return -1;
  for (uint32_t p = 0, g = 0; p < s->passes; p++)
    for (uint32_t q = 0; q < per_pass; q++, g++) {
      const bool bwd = q >= n;
      const uint32_t l = bwd ? per_pass - 1 - q : q;
      const sys_layer *y = &layers[l];
      segment *sg = &w->seg[g];
      sg->layer = l;
      sg->bwd = bwd;
      sg->last_pass = p + 1 == s->passes;
      if ((sg->chunks = chunks_of(s, y->weight_bytes))) {
        sg->bytes = y->weight_bytes / sg->chunks;
        sg->grad = bwd ? y->grad_bytes / sg->chunks : 0;
        sg->weights = y->weights / sg->chunks;
      }
      const double compute = bwd ? y->bwd_s : y->fwd_s;
      sg->compute = sg->chunks ? compute / sg->chunks : compute;
    }
  return 0;
}

static void world_free(world *w) {
  free(w->seg);
  free(w->sw_parent);
  free(w->sw_first);
  free(w->sw_nchild);
  free(w->sw_leaf);
  free(w->sw_slot);
  free(w->wafer_parent);
  free(w->wafer_slot);
}

static void start(actor_ctx *ctx, const char *name, const char *host_fmt, uint32_t host, void (*code)(int, char **)) {
  char hn[32];
  snprintf(hn, sizeof hn, host_fmt, host);
  sg_actor_t a = sg_actor_init(name, sg_host_by_name(hn));
  sg_actor_set_data(a, ctx);
  sg_actor_start_(a, code, 0, NULL);
}

/* In the child: the whole simulation; the figures into r. */
static int simulate(const sys_spec *s, const sys_layer *layers, uint32_t n, sys_result *r) {
  world w = {.s = s};
  if (build_tree(&w) != 0 || build_segments(&w, layers, n) != 0) return -1;
  char path[] = "/tmp/wafersim-system-XXXXXX";
  const int fd = mkstemp(path);
  FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
  if (!f || write_platform(&w, f) != 0) return -1;
  fclose(f);
  char *argv[] = {"wafersim", "--cfg=network/model:CM02", "--cfg=network/crosstraffic:0", "--cfg=network/TCP-gamma:0",
                  "--log=root.thres:critical", NULL};
  int argc = 5;
  simgrid_init(&argc, argv);
  simgrid_load_platform(path);
  unlink(path);
  const uint32_t nctx = s->store_hosts + w.nsw + s->wafers;
  actor_ctx *ctx = calloc(nctx, sizeof *ctx);
  if (!ctx) return -1;
  for (uint32_t i = 0; i < nctx; i++) ctx[i].w = &w;
  for (uint32_t h = 0; h < s->store_hosts; h++) {
    ctx[h].index = h;
    start(&ctx[h], "store-down", "store-%u", h, store_down);
    if (s->train) start(&ctx[h], "store-up", "store-%u", h, store_up);
  }
  for (uint32_t j = 0; j < w.nsw; j++) {
    actor_ctx *c = &ctx[s->store_hosts + j];
    c->index = j;
    start(c, "switch-down", "sw-%u", j, switch_down);
    if (s->train) start(c, "switch-up", "sw-%u", j, switch_up);
  }
  for (uint32_t k = 0; k < s->wafers; k++) {
    actor_ctx *c = &ctx[s->store_hosts + w.nsw + k];
    c->index = k;
    start(c, "wafer", "wafer-%u", k, wafer);
  }
  simgrid_run();
  memset(r, 0, sizeof *r);
  r->step_s = simgrid_get_clock();
  r->wafer_end_s = w.wafer_end;
  r->messages = w.messages;
  r->switches = w.nsw;
  r->depth = w.depth;
  /* the closed forms beside it */
  double store_bytes = 0;
  for (uint32_t g = 0; g < w.nseg; g++) {
    const segment *sg = &w.seg[g];
    r->compute_s += sg->chunks ? sg->compute * sg->chunks : sg->compute;
    r->stream_bytes += sg->bytes * sg->chunks;
    r->grad_bytes += sg->grad * sg->chunks;
    store_bytes += sg->chunks * (sg->bytes + (sg->grad > 0 ? sg->weights * (sg->last_pass ? s->update_bytes
                                                                                           : s->accumulate_bytes)
                                                           : 0));
  }
  r->stall_s = r->wafer_end_s - r->compute_s;
  r->stream_s = s->link_bandwidth > 0 ? r->stream_bytes / s->link_bandwidth : 0;
  r->grad_s = s->link_bandwidth > 0 ? r->grad_bytes / s->link_bandwidth : 0;
  r->store_s = s->store_bandwidth > 0 ? store_bytes / s->store_hosts / s->store_bandwidth : 0;
  if (s->store_link > 0) {
    const double over_link = r->stream_bytes / s->store_hosts / s->store_link;
    if (over_link > r->store_s) r->store_s = over_link;
  }
  r->reduce_s = s->train && w.grad_in > r->wafer_end_s ? w.grad_in - r->wafer_end_s : 0;
  r->update_s = s->train ? r->step_s - (r->wafer_end_s + r->reduce_s) : 0;
  r->overlap_s = r->compute_s + r->stream_s - r->wafer_end_s;
  const double busiest[4] = {r->compute_s, r->stream_s, r->grad_s, r->store_s};
  const char *names[4] = {"compute", "stream", "reduce", "store"};
  uint32_t b = 0;
  for (uint32_t i = 1; i < 4; i++)
    if (busiest[i] > busiest[b]) b = i;
  snprintf(r->bound_by, sizeof r->bound_by, "%s", names[b]);
  free(ctx);
  world_free(&w);
  return 0;
}

int sys_run(const sys_spec *s, const sys_layer *layers, uint32_t n, sys_result *out, char *err, size_t errlen) {
  if (s->wafers < 1 || s->passes < 1 || s->store_hosts < 1 || s->fanout < 2 || !(s->chunk > 0)) {
    snprintf(err, errlen, "system: wafers, passes and store hosts must be at least 1, fanout 2, chunk positive");
    return -1;
  }
  int fds[2];
  if (pipe(fds) != 0) {
    snprintf(err, errlen, "system: pipe: %s", strerror(errno));
    return -1;
  }
  fflush(NULL);
  const pid_t pid = fork();
  if (pid < 0) {
    snprintf(err, errlen, "system: fork: %s", strerror(errno));
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  if (pid == 0) { /* the child: SimGrid once, the figures up the pipe */
    close(fds[0]);
    sys_result r;
    const int rc = simulate(s, layers, n, &r);
    const ssize_t wrote = rc == 0 ? write(fds[1], &r, sizeof r) : -1;
    _exit(wrote == (ssize_t)sizeof r ? 0 : 3);
  }
  close(fds[1]);
  size_t got = 0;
  while (got < sizeof *out) {
    const ssize_t k = read(fds[0], (char *)out + got, sizeof *out - got);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break;
    got += (size_t)k;
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (got != sizeof *out || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    snprintf(err, errlen, "system: the SimGrid simulation failed (%s %d)",
             WIFSIGNALED(status) ? "signal" : "exit status", WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    return -1;
  }
  return 0;
}
