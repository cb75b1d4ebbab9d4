/* The fabric: wavelets moving over the mesh's routes, on the event engine,
 * at one of two fidelities behind one interface.
 *
 * Machine model. One 32-bit wavelet per link per direction per cycle; a hop
 * between routers takes hop_latency cycles, the ramp between a core and its
 * router ramp_latency each way. Each route hop has its own input queue of
 * queue_depth wavelets (colors do not block each other); a router sends a
 * wavelet only when every next queue has room (credits come back one cycle
 * after a wavelet leaves a queue), so a full queue stalls the sender and
 * nothing is dropped. A multicast hop forwards a wavelet to all its outputs in
 * the same cycle. A router serves its routes round-robin, each link carrying
 * at most one wavelet per cycle. A core sends at most one wavelet per cycle
 * on its ramp and takes consume_cycles per wavelet it receives.
 *
 * Fidelities.
 * - FAB_WAVELET: every wavelet is an event at every hop. The reference.
 * - FAB_TRAIN: a message of n wavelets is one event per hop: it takes each
 *   link it crosses for n consecutive cycles from the first cycle all of a
 *   hop's outputs are free (head after hop latencies, tail n - 1 cycles
 *   later). Trains are routed hop by hop in simulated time, so contention is
 *   resolved in the order heads reach a link; queues are not bounded (no
 *   back-pressure) and trains sharing a link are served one after the other
 *   instead of interleaved. Makespans agree with FAB_WAVELET; see tests.
 *
 * Transfers. Cores move data with transfers: at PE pe, a transfer of n
 * wavelets takes one message from each of its input routes (which must
 * deliver to pe), adds them element-wise to the PE's own data (ready from a
 * cycle, or later through fab_ready), waits add_latency cycles per wavelet,
 * and sends the result on its output route (which must start at pe), or keeps
 * it. With no input it is a plain send; with no output, a final reduction.
 * Messages that reach a PE where no transfer takes them are consumed and
 * reported through the delivery callback.
 *
 * Functional values. A transfer may carry real values (any count, often one
 * per wavelet): its own, combined (sum or max) with the values of the
 * messages it takes, when the last of them is in. They ride the same
 * transfers as the timing, so a result is only right if the data went where
 * the routes say.
 *
 * Time: the engine runs in ticks, FAB_TICKS per cycle: phase 0 delivers
 * (arrivals, credits), phase 1 decides (routers and cores arbitrate), so no
 * decision depends on the order of events within a cycle. */
#ifndef WAFERSIM_FABRIC_FABRIC_H
#define WAFERSIM_FABRIC_FABRIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh.h"
#include "route.h"
#include "sim/engine/engine.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { FAB_TRAIN, FAB_WAVELET } fab_fidelity;

typedef struct {
  uint32_t width, height;  /* PEs */
  uint32_t colors;         /* routable colors per router, 1..32 */
  uint32_t hop_latency;    /* cycles per router-to-router hop, >= 1 */
  uint32_t ramp_latency;   /* cycles core -> router and router -> core, >= 1 */
  uint32_t queue_depth;    /* wavelets per route hop input queue, 1..64 */
  uint32_t add_latency;    /* cycles from a wavelet's arrival to its sum leaving */
  uint32_t consume_cycles; /* cycles a core takes per wavelet it receives, >= 1 */
  fab_fidelity fidelity;
} fab_config;

#define FAB_TICKS 2            /* engine ticks per cycle */
#define FAB_LATER UINT64_MAX   /* a cycle not known yet */
#define FAB_MAX_IN 4           /* inputs of one transfer */

typedef uint32_t fab_xfer;

typedef enum { FAB_SUM, FAB_MAX } fab_op;

/* A transfer to make (see above). */
typedef struct {
  fab_pe pe;
  const uint32_t *in; /* routes delivering to pe whose next message it takes */
  uint32_t nin;       /* <= FAB_MAX_IN */
  uint32_t out;       /* route starting at pe, or FAB_NONE to keep the result */
  uint32_t n;         /* wavelets */
  uint64_t ready;     /* cycle the PE's own data is ready, or FAB_LATER */
  /* functional, optional */
  uint32_t values; /* values it carries, 0 for timing only */
  const float *own; /* the PE's own `values` values (copied), NULL for none */
  bool own_later;   /* its own values come with fab_ready_values */
  fab_op op;        /* how they combine with the inputs' */
  bool quiet;       /* nobody waits for its end: no fab_done_fn call (and no event) for it */
} fab_transfer;

/* Called when a destination PE has consumed the last wavelet of a message
 * that no transfer took (cycle of that wavelet); `sender` made the message. */
typedef void (*fab_delivery_fn)(void *ctx, fab_pe pe, uint32_t route, fab_xfer sender,
                                uint64_t cycle);
/* Called at the cycle a transfer finishes (see fab_done). */
typedef void (*fab_done_fn)(void *ctx, fab_xfer id, uint64_t cycle);

typedef struct {
  uint64_t wavelets_sent;     /* wavelets cores put on their ramps */
  uint64_t wavelets_received; /* wavelets cores took off their ramps */
  uint64_t link_wavelets;     /* wavelet crossings of router-to-router links */
  uint64_t link_busy_max;     /* most cycles any one link or ramp carried a wavelet */
  uint64_t deliveries;        /* (message, PE) pairs consumed with no transfer */
  uint64_t last_cycle;        /* latest cycle a transfer finished or a message arrived */
  uint64_t queued;            /* wavelets still in queues (0 when all is done) */
  uint32_t colors_max;        /* most colors taken at one router */
  uint64_t bytes;             /* memory of routes, transfers and state */
} fab_stats;

typedef struct fab_fabric fab_fabric;

/* A fabric on engine e (it adds one entity type: routers, then cores). NULL
 * with the reason in err. The caller frees it with fab_destroy, before e. */
fab_fabric *fab_create(sim_engine *e, const fab_config *cfg, char *err, size_t errlen);
void fab_destroy(fab_fabric *f);
const fab_config *fab_config_of(const fab_fabric *f);

/* Routes: see route.h. Every route has a color (fab_routes_recolor) before
 * a transfer is made: fab_combine fails with the coloring's error if not. */
int fab_route_path(fab_fabric *f, fab_pe src, fab_pe dst, uint32_t *route, char *err,
                   size_t errlen);
int fab_route_path_free(fab_fabric *f, fab_pe src, fab_pe dst, uint32_t *route, char *err, size_t errlen);
int fab_route_rect(fab_fabric *f, fab_pe src, fab_rect dst, uint32_t *route, char *err,
                   size_t errlen);
int fab_route_path_via(fab_fabric *f, fab_pe src, fab_pe dst, bool y_first, uint32_t via, uint32_t *route, char *err,
                       size_t errlen);
int fab_route_tree(fab_fabric *f, fab_pe src, const fab_pe *dst, uint32_t n, uint32_t *route, char *err,
                   size_t errlen);
int fab_route_reserve(fab_fabric *f, fab_pe pe, bool take);
const fab_routes *fab_routes_of(const fab_fabric *f);

/* Make transfer t. 0, or -1 with the reason in err. Transfers on one output
 * route send in the order they were made; at a destination, transfers taking
 * a route take its messages in the order they were made, from the first
 * message that starts arriving after. */
int fab_combine(fab_fabric *f, const fab_transfer *t, fab_xfer *id, char *err, size_t errlen);
/* The caller will not touch transfer id again (fab_ready, fab_values,
 * fab_done), though its callbacks still come: once it has finished, been
 * reported and its message taken everywhere, its state is reused for a new
 * transfer. A transfer never released is kept to the end. */
void fab_release(fab_fabric *f, fab_xfer id);
/* A plain send of n wavelets from the route's source. */
int fab_send(fab_fabric *f, uint32_t route, uint32_t n, uint64_t ready, fab_xfer *id, char *err,
             size_t errlen);
/* The PE's own data of a transfer made with FAB_LATER is ready at cycle (>= now). */
void fab_ready(fab_fabric *f, fab_xfer id, uint64_t cycle);
/* The same, with its own values (a transfer made with own_later). */
void fab_ready_values(fab_fabric *f, fab_xfer id, uint64_t cycle, const float *own);
/* Cycle at which a transfer sent its last wavelet (or, with no output, had
 * its last sum), FAB_LATER while it has not. */
uint64_t fab_done(const fab_fabric *f, fab_xfer id);
/* A transfer's values once all its inputs are in (NULL for timing only);
 * owned by the fabric, valid until fab_destroy. */
const float *fab_values(const fab_fabric *f, fab_xfer id);

void fab_on_delivery(fab_fabric *f, fab_delivery_fn fn, void *ctx);
void fab_on_done(fab_fabric *f, fab_done_fn fn, void *ctx);

/* The current cycle of the engine. */
uint64_t fab_now(const fab_fabric *f);
fab_stats fab_stats_get(const fab_fabric *f);

/* After a run: 0 if every transfer finished and no wavelet is left, else -1
 * with what is stuck (a deadlock, or data never made ready) in err. */
int fab_check_finished(const fab_fabric *f, char *err, size_t errlen);

const char *fab_fidelity_name(fab_fidelity v);

#ifdef __cplusplus
}
#endif
#endif
