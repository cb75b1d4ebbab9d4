/* The configuration schema (schema_version 1): every key's path, type,
 * range and place in ws_config, its sections (which may nest), and how a
 * value is parsed from text and written back. config.c loads, overrides and
 * writes configurations through it; nothing else knows the keys. */
#ifndef WAFERSIM_SIM_SCHEMA_H
#define WAFERSIM_SIM_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  WS_K_INT,       /* int64_t in [min, max] */
  WS_K_BYTES,     /* int64_t bytes, with units */
  WS_K_HZ,        /* int64_t Hz, with units */
  WS_K_BPS,       /* int64_t bytes a second, with units */
  WS_K_NS,        /* int64_t nanoseconds, with units */
  WS_K_FRACTION,  /* double in [0, 1) */
  WS_K_REAL,      /* double in [lo, hi] */
  WS_K_ENUM,      /* int: an index of choices */
  WS_K_PRESET,    /* model.preset: a preset name (models/gpt.h) or "custom" */
  WS_K_BOOL,      /* bool: true or false */
  WS_K_STRING,    /* char[max] */
  WS_K_LAYER_MAP, /* a mapping layer -> fraction, into double[WL_MAX_LAYERS] */
  WS_K_NAME_MAP,  /* a mapping tensor name -> op name, into workload.file */
} ws_key_type;

enum {
  WS_F_CUSTOM_DIM = 1, /* model dimension: given only with model.preset: custom */
  WS_F_OPTIONAL = 2,   /* means something only where given: written and compared only then */
  WS_F_AUTO = 4,       /* INT: also "auto", kept as 0 (min is then at least 1) */
  WS_F_CUSTOM_OPT = 8, /* model key given only with model.preset: custom, where it may be left out (a stated
                          value then: config_check.c's check_model) */
  WS_F_INF = 16,       /* BPS: also "inf" (no limit), kept as 0 (min is then at least 1) */
};

/* Room for the canonical name of a map entry (a tensor name's limit). */
#define WS_ENTRY_NAME_MAX WL_TENSOR_NAME_MAX

typedef struct {
  const char *path; /* "section.key" or "section.sub.key" */
  ws_key_type type;
  size_t offset;              /* of the value in ws_config */
  int64_t min, max;           /* integers: inclusive range in base units; STRING: its size */
  double lo, hi;              /* REAL: inclusive range */
  const char *const *choices; /* ENUM: value names, NULL-terminated */
  unsigned flags;             /* WS_F_* */
} ws_key;

size_t ws_schema_keys(void);
const ws_key *ws_schema_key(size_t i);
int ws_schema_find(const char *path); /* key index, -1 if none */

/* Sections, in writing order, a parent before its children. */
size_t ws_schema_sections(void);
const char *ws_schema_section(size_t i);
int ws_schema_find_section(const char *path); /* -1 if none */

/* The name after the last dot of a path, and whether `path` is directly in `section`. */
const char *ws_schema_leaf(const char *path);
bool ws_schema_in(const char *path, const char *section);

/* "width, height, ..." (the keys and sections directly in `section`), or
 * every key path when section is NULL: all of them, or as many as fit in
 * len and "; and N more: 'wafersim config' prints every key". */
void ws_schema_list(const char *section, char *buf, size_t len);

/* Parse a scalar value into key k of cfg; 0, or -1 with what was expected in msg. */
int ws_schema_parse(ws_config *cfg, const ws_key *k, const char *text, char *msg, size_t msglen);
/* Add one entry of a map key; 0, or -1 with what was expected in msg. */
int ws_schema_put(ws_config *cfg, const ws_key *k, const char *name, const char *value, char *msg,
                  size_t msglen);
/* The canonical form of an entry name of map key k: a layer as its decimal
 * number ("01", "1.0" and "1e0" are layer 1: "1"), a tensor name as it is.
 * Two spellings name the same entry when their canonical forms are equal.
 * 0, or -1 with what was expected in msg. */
int ws_schema_entry_name(const ws_key *k, const char *name, char *canon, size_t len, char *msg, size_t msglen);
/* Empty a map key (a file's map replaces the one below it). */
void ws_schema_clear(ws_config *cfg, const ws_key *k);

/* The value of key k as text ws_schema_parse reads back (maps: a YAML flow
 * mapping). */
void ws_schema_format(const ws_config *cfg, const ws_key *k, char *buf, size_t len);

/* Text quoted from the input made safe for one line of output, into buf
 * (truncated to len): control characters as \n, \r, \t or \xHH; with
 * github, line breaks as GitHub's workflow commands escape them (%0A, %0D). */
void ws_schema_escape(const char *s, bool github, char *buf, size_t len);
/* The same in place: a message made one line. */
void ws_schema_one_line(char *msg, size_t len);

#ifdef __cplusplus
}
#endif
#endif
