/* `wafersim check`: compare the figures of two output documents (run or
 * sweep JSON, both valid against the output schema, jschema.h; the other
 * commands' documents are not compared) field by
 * field. Totals compare field to field; op rows match by op name, sweep
 * points and kind rows by (sparsity, value). A number moved when
 * |new - old| > atol + rtol x |old|; any other value when it differs; a row
 * present in only one document moved. Fields the schema marks x-host (wall
 * time, memory of the host) are never compared. */
#ifndef WAFERSIM_SIM_CHECK_H
#define WAFERSIM_SIM_CHECK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { WS_CHECK_TEXT, WS_CHECK_GITHUB } ws_check_format;

typedef struct {
  double rtol, atol;
  const char *const *only; /* compare only these field names; NULL: all */
  size_t nonly;
  bool allow_config_change; /* compare even when the configurations differ */
  ws_check_format format;
  bool cost; /* compare the simulator's own work too (x-cost: events, sim_bytes) */
} ws_check_opts;

typedef struct {
  size_t compared, moved;
} ws_check_result;

/* Room for a row's key: an op name, or "s=LEVEL v=VALUE" (a --vary value
 * is a configuration value; the output schema bounds neither). */
#define WS_CHECK_KEY_MAX 1024

/* Whether a run or sweep document names each of its rows once: run ops by
 * op, sweep points and kind rows by sparsity and --vary value (the keys
 * the comparison matches rows by). 0, or -1 with "SECTION: rows I and J
 * are both KEY ..." in err. */
int ws_check_unique(const json_t *doc, char *err, size_t errlen);

/* Compare cur against base (schema: the output schema, for x-host). Writes
 * one line per moved figure and a summary line to out. 0 with res filled;
 * -1 when they cannot be compared (different schema_version or command,
 * different configurations without allow_config_change, an --only name
 * that names no compared field), the reason in err. The configurations'
 * `output` section (how results are printed) is not compared. */
int ws_check_compare(const json_t *schema, const json_t *base, const json_t *cur, const ws_check_opts *o,
                     FILE *out, ws_check_result *res, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
