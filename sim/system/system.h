/* The system around the wafers, on SimGrid (DESIGN.md section 3, "stream"):
 * a weight store of `store_hosts` hosts, a broadcast/reduce tree of
 * switches (each with `fanout` children) and `wafers` wafers training
 * data-parallel. Every entity is a SimGrid actor on its host; every link is
 * two SimGrid links, one each way (weights down and gradients up do not
 * share); weights and gradients move as SimGrid communications of `chunk`
 * bytes, so bandwidth sharing and contention are SimGrid's.
 *
 * A step is `passes` passes on every wafer. A pass is the forward over the
 * layers in order, then (train) the backward in reverse. For each layer of
 * each direction the store streams the layer's weights: host h sends every
 * chunk i with i mod store_hosts = h, after reading it from its memory (an
 * execution of its bytes on the host, whose speed is store_bandwidth: reads
 * and updates share it). Each switch passes a chunk on to all its children
 * once it has it (store and forward, a chunk at a time), with at most two
 * chunks a child in flight (double buffering; a full buffer holds the chunks
 * behind it). A wafer computes a layer as its weights arrive: on each chunk
 * the layer's compute times the chunk's share of its bytes (a sleep: the
 * wafer's time is the wafer simulation's, cached per layer, coupled by
 * windows of one chunk: a wafer never computes past the data SimGrid has
 * delivered). It posts its receive for the next chunk before computing the
 * present one. In the backward each chunk's gradients leave when computed.
 * A switch sums the same chunk from all its children and sends one up; the
 * root sends chunk i to store host i mod store_hosts, which adds it to its
 * accumulated gradient (accumulate_bytes a weight) or, on the last pass,
 * applies the update (update_bytes a weight), both on its memory.
 *
 * SimGrid is a process-wide singleton that runs once: sys_run forks a child
 * that builds the platform (an XML file written to a temporary file and
 * loaded through the C API), runs it and returns the figures through a
 * pipe. */
#ifndef WAFERSIM_SIM_SYSTEM_SYSTEM_H
#define WAFERSIM_SIM_SYSTEM_SYSTEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One layer as the system sees it: a pass's figures on one wafer. */
typedef struct {
  double fwd_s, bwd_s;  /* compute of a pass, seconds (bwd_s unused without train) */
  double weight_bytes;  /* streamed in for the forward, and again for the backward */
  double grad_bytes;    /* streamed out in the backward (train) */
  double weights;       /* weights the store keeps and updates (accumulate_bytes, update_bytes each) */
} sys_layer;

typedef struct {
  uint32_t wafers, passes, store_hosts, fanout;
  bool train;                 /* backward, gradients and update; else the forward alone */
  double store_bandwidth;     /* bytes/s of a store host's memory; 0: no limit */
  double store_link;          /* bytes/s of a store host's link to the root; 0: no limit */
  double link_bandwidth;      /* bytes/s each way of the tree's links; 0: no limit */
  double link_latency;        /* s */
  double chunk;               /* bytes */
  double update_bytes;        /* store memory bytes a weight for the update (last pass) */
  double accumulate_bytes;    /* ... for adding a pass's gradient to the sum (the passes before) */
} sys_spec;

typedef struct {
  double step_s;      /* the step: its last update (train) or the wafers' last compute */
  double compute_s;   /* a wafer's compute over the step */
  double wafer_end_s; /* when the wafers' last compute ends */
  double stall_s;     /* wafer_end_s - compute_s: a wafer waiting for weights */
  double stream_s;    /* a wafer's weight bytes / its link's bandwidth: the stream alone */
  double grad_s;      /* a wafer's gradient bytes / its link's bandwidth */
  double store_s;     /* a store host's memory traffic (reads, accumulation, update) / its bandwidth */
  double reduce_s;    /* after wafer_end_s, until the stores hold the last gradient (train) */
  double update_s;    /* after that, until the last update ends (train) */
  double overlap_s;   /* compute_s + stream_s - wafer_end_s: the stream hidden behind compute */
  double stream_bytes, grad_bytes; /* into and out of a wafer over the step */
  uint32_t switches, depth;        /* the tree: switches, and levels of them between the store and a wafer */
  uint64_t messages;  /* SimGrid communications */
  char bound_by[16];  /* the busiest resource: compute, stream, reduce (gradients) or store */
} sys_result;

/* The tree of switches over `wafers` wafers with `fanout` children each:
 * its switches and depth (at least one switch). */
void sys_tree(uint32_t wafers, uint32_t fanout, uint32_t *switches, uint32_t *depth);

/* SimGrid communications a step of n layers makes (sys_result.messages), counted before: a chunk of weights
 * is a store host's put and one a child edge of the tree; a chunk of gradients one a wafer and one a switch. */
uint64_t sys_messages(const sys_spec *s, const sys_layer *layers, uint32_t n);

/* At most this many communications a step (SimGrid moves about 230,000 a second here: about 2.5 minutes). */
#define SYS_MESSAGES_MAX (UINT64_C(1) << 25)

/* Simulate one step of n layers on SimGrid: 0, or -1 with the reason. */
int sys_run(const sys_spec *s, const sys_layer *layers, uint32_t n, sys_result *out, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
