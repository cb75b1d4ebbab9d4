/* Mesh geometry: PEs numbered row by row (pe = y * width + x, y growing
 * southward), the five router ports, neighbours. Inline helpers only. */
#ifndef WAFERSIM_FABRIC_MESH_H
#define WAFERSIM_FABRIC_MESH_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef uint32_t fab_pe; /* y * width + x */

/* Router ports: four links to the neighbours and the ramp to the PE's core. */
typedef enum { FAB_N, FAB_E, FAB_S, FAB_W, FAB_RAMP, FAB_PORTS } fab_port;

#define FAB_NONE UINT32_MAX

typedef struct {
  uint32_t x, y, w, h; /* PEs [x, x + w) x [y, y + h) */
} fab_rect;

static inline uint32_t fab_x(uint32_t width, fab_pe p) { return p % width; }
static inline uint32_t fab_y(uint32_t width, fab_pe p) { return p / width; }
static inline fab_pe fab_at(uint32_t width, uint32_t x, uint32_t y) { return y * width + x; }

/* The port on the other side of a link: a wavelet leaving by E enters by W. */
static inline fab_port fab_opposite(fab_port d) { return (fab_port)((d + 2) % 4); }

/* The neighbour of p through port d (d < FAB_RAMP; the caller keeps it on the mesh). */
static inline fab_pe fab_step(uint32_t width, fab_pe p, fab_port d) {
  switch (d) {
    case FAB_N: return p - width;
    case FAB_S: return p + width;
    case FAB_E: return p + 1;
    default: return p - 1;
  }
}

static inline const char *fab_port_name(fab_port d) {
  static const char *const names[] = {"N", "E", "S", "W", "ramp"};
  return (unsigned)d < FAB_PORTS ? names[d] : "?";
}

#ifdef __cplusplus
}
#endif
#endif
