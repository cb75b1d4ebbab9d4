/* Loading configurations: the embedded default, YAML files and strings
 * (libyaml document API) and --set overrides, all through the schema
 * (schema.h). Cross-key checks are in config_check.c, writers in
 * config_write.c. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "schema.h"
#include "units.h"

/* The embedded default, generated at build time from sim/default.yaml. */
extern const char ws_default_yaml_text[];

#define MAX_SECTIONS 16

const char *ws_config_default_yaml(void) { return ws_default_yaml_text; }

static const char *const *format_names(void) { return ws_schema_key((size_t)ws_schema_find("output.format"))->choices; }

const char *ws_format_name(ws_format f) { return (unsigned)f < 3 ? format_names()[f] : "?"; }

int ws_format_parse(const char *name) {
  for (int i = 0; format_names()[i]; i++)
    if (strcmp(name, format_names()[i]) == 0) return i;
  return -1;
}

void ws_config_init_empty(ws_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  for (size_t i = 0; i < ws_schema_keys(); i++) {
    const ws_key *k = ws_schema_key(i);
    if (k->flags & WS_F_OPTIONAL) *(double *)((char *)cfg + k->offset) = NAN;
    ws_schema_clear(cfg, k);
  }
}

int ws_config_init_default(ws_config *cfg, char *err, size_t errlen) {
  ws_config_init_empty(cfg);
  return ws_config_load_string(cfg, ws_default_yaml_text, strlen(ws_default_yaml_text), "(embedded default)", err,
                               errlen);
}

/* Why `leaf` is not a key of `section`: "unknown key; expected one of: ...",
 * or, for an op kind that is never sparse, why it cannot be. */
static void unknown_key(const char *section, const char *leaf, char *buf, size_t len) {
  const int kind = mdl_op_kind_parse(leaf);
  if (strcmp(section, "workload.sparsity_by_kind") == 0 && kind >= 0) {
    snprintf(buf, len,
             "%s weights are never sparsified (DESIGN.md section 4: embeddings, layernorm, attention scores "
             "and the LM head stay dense); sparsifiable kinds: q, k, v, attn_out, ffn_up, ffn_down",
             leaf);
    return;
  }
  char known[512];
  ws_schema_list(section, known, sizeof known);
  snprintf(buf, len, "unknown key; expected one of: %s", known);
}

/* ---- loading YAML ---- */

typedef struct {
  ws_config *cfg;
  const char *name; /* file name in messages */
  yaml_document_t *doc;
  char *err;
  size_t errlen;
  bool seen_key[WS_CONFIG_MAX_KEYS];
  bool seen_section[MAX_SECTIONS];
  bool seen_version;
} loader;

static int fail_at(loader *L, yaml_mark_t m, const char *path, const char *fmt, ...) {
  int n = snprintf(L->err, L->errlen, "%s:%zu:%zu: %s: ", L->name, m.line + 1, m.column + 1, path);
  if (n >= 0 && (size_t)n < L->errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(L->err + n, L->errlen - (size_t)n, fmt, ap);
    va_end(ap);
  }
  return -1;
}

static const char *node_text(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }

static bool is_null(const yaml_node_t *n) {
  if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return false;
  const char *t = node_text(n);
  return !*t || strcmp(t, "~") == 0 || strcmp(t, "null") == 0 || strcmp(t, "Null") == 0 || strcmp(t, "NULL") == 0;
}

static const char *node_kind(const yaml_node_t *n) {
  if (n->type == YAML_MAPPING_NODE) return "a mapping";
  if (n->type == YAML_SEQUENCE_NODE) return "a list";
  return is_null(n) ? "nothing" : "a value";
}

static void where(loader *L, int ki, yaml_mark_t m) {
  snprintf(L->cfg->origin[ki].where, WS_WHERE_MAX, "%s:%zu:%zu", L->name, m.line + 1, m.column + 1);
}

/* A map-valued key: its mapping replaces the map below it. */
static int load_map(loader *L, int ki, const yaml_node_t *val) {
  const ws_key *k = ws_schema_key((size_t)ki);
  if (!is_null(val) && val->type != YAML_MAPPING_NODE)
    return fail_at(L, val->start_mark, k->path, "expected a mapping (e.g. {0: 0.5} or {name: L0.q}), got %s",
                   node_kind(val));
  ws_schema_clear(L->cfg, k);
  where(L, ki, val->start_mark);
  if (is_null(val)) return 0;
  for (yaml_node_pair_t *p = val->data.mapping.pairs.start; p < val->data.mapping.pairs.top; p++) {
    const yaml_node_t *key = yaml_document_get_node(L->doc, p->key), *v = yaml_document_get_node(L->doc, p->value);
    if (key->type != YAML_SCALAR_NODE || is_null(key))
      return fail_at(L, key->start_mark, k->path, "expected an entry name, got %s", node_kind(key));
    char path[256];
    snprintf(path, sizeof path, "%s.%s", k->path, node_text(key));
    for (yaml_node_pair_t *q = val->data.mapping.pairs.start; q < p; q++) {
      const yaml_node_t *other = yaml_document_get_node(L->doc, q->key);
      if (other->type == YAML_SCALAR_NODE && strcmp(node_text(other), node_text(key)) == 0)
        return fail_at(L, key->start_mark, path, "given twice");
    }
    if (v->type != YAML_SCALAR_NODE || is_null(v))
      return fail_at(L, v->start_mark, path, "expected a single value, got %s", node_kind(v));
    char msg[384];
    if (ws_schema_put(L->cfg, k, node_text(key), node_text(v), msg, sizeof msg) != 0)
      return fail_at(L, v->start_mark, path, "%s", msg);
  }
  return 0;
}

static int load_leaf(loader *L, int ki, const yaml_node_t *val) {
  const ws_key *k = ws_schema_key((size_t)ki);
  if (L->seen_key[ki]) return fail_at(L, val->start_mark, k->path, "given twice");
  L->seen_key[ki] = true;
  if (k->type == WS_K_LAYER_MAP || k->type == WS_K_NAME_MAP) return load_map(L, ki, val);
  if (val->type != YAML_SCALAR_NODE || is_null(val))
    return fail_at(L, val->start_mark, k->path, "expected a single value, got %s", node_kind(val));
  char msg[384];
  if (ws_schema_parse(L->cfg, k, node_text(val), msg, sizeof msg) != 0)
    return fail_at(L, val->start_mark, k->path, "%s", msg);
  where(L, ki, val->start_mark);
  return 0;
}

static int load_section(loader *L, int si, const yaml_node_t *map) {
  const char *sec = ws_schema_section((size_t)si);
  if (L->seen_section[si]) return fail_at(L, map->start_mark, sec, "section given twice");
  L->seen_section[si] = true;
  if (is_null(map)) return 0;
  if (map->type != YAML_MAPPING_NODE)
    return fail_at(L, map->start_mark, sec, "expected a mapping of %s keys, got %s", sec, node_kind(map));
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
    yaml_node_t *key = yaml_document_get_node(L->doc, p->key);
    yaml_node_t *val = yaml_document_get_node(L->doc, p->value);
    if (key->type != YAML_SCALAR_NODE)
      return fail_at(L, key->start_mark, sec, "expected a key name, got %s", node_kind(key));
    char path[256];
    snprintf(path, sizeof path, "%s.%s", sec, node_text(key));
    const int ki = ws_schema_find(path), sub = ws_schema_find_section(path);
    if (ki >= 0) {
      if (load_leaf(L, ki, val) != 0) return -1;
    } else if (sub >= 0) {
      if (load_section(L, sub, val) != 0) return -1;
    } else {
      char why[640];
      unknown_key(sec, node_text(key), why, sizeof why);
      return fail_at(L, key->start_mark, path, "%s", why);
    }
  }
  return 0;
}

static int load_root(loader *L, const yaml_node_t *root) {
  if (root->type != YAML_MAPPING_NODE)
    return fail_at(L, root->start_mark, "(top level)", "expected a mapping with schema_version and sections, got %s",
                   node_kind(root));
  for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
    yaml_node_t *key = yaml_document_get_node(L->doc, p->key);
    yaml_node_t *val = yaml_document_get_node(L->doc, p->value);
    if (key->type != YAML_SCALAR_NODE)
      return fail_at(L, key->start_mark, "(top level)", "expected a section name, got %s", node_kind(key));
    const char *name = node_text(key);
    if (strcmp(name, "schema_version") == 0) {
      if (L->seen_version) return fail_at(L, val->start_mark, name, "given twice");
      L->seen_version = true;
      int64_t v;
      char msg[256];
      if (val->type != YAML_SCALAR_NODE ||
          ws_units_parse(node_text(val), WS_UNIT_COUNT, 1, 1000, &v, msg, sizeof msg) != 0 || v != WS_SCHEMA_VERSION)
        return fail_at(L, val->start_mark, name, "expected %d (the schema this wafersim reads), got %s%s%s",
                       WS_SCHEMA_VERSION, val->type == YAML_SCALAR_NODE ? "'" : "",
                       val->type == YAML_SCALAR_NODE ? node_text(val) : node_kind(val),
                       val->type == YAML_SCALAR_NODE ? "'" : "");
      continue;
    }
    const int si = strchr(name, '.') ? -1 : ws_schema_find_section(name);
    if (si < 0) {
      char known[256] = "schema_version";
      for (size_t i = 0; i < ws_schema_sections(); i++)
        if (!strchr(ws_schema_section(i), '.'))
          snprintf(known + strlen(known), sizeof known - strlen(known), ", %s", ws_schema_section(i));
      return fail_at(L, key->start_mark, name, "unknown section; expected one of: %s", known);
    }
    if (load_section(L, si, val) != 0) return -1;
  }
  if (!L->seen_version) {
    yaml_mark_t start = {0, 0, 0};
    return fail_at(L, start, "schema_version", "missing; expected 'schema_version: %d' first", WS_SCHEMA_VERSION);
  }
  return 0;
}

static int load_string(ws_config *cfg, const char *text, size_t len, const char *name, char *err,
                       size_t errlen) {
  yaml_parser_t parser;
  yaml_document_t doc;
  if (!yaml_parser_initialize(&parser)) {
    snprintf(err, errlen, "%s: cannot initialise the YAML parser (out of memory)", name);
    return -1;
  }
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  int rc = -1;
  if (!yaml_parser_load(&parser, &doc)) {
    snprintf(err, errlen, "%s:%zu:%zu: malformed YAML: %s%s%s", name,
             parser.problem_mark.line + 1, parser.problem_mark.column + 1,
             parser.problem ? parser.problem : "parse error", parser.context ? " " : "",
             parser.context ? parser.context : "");
    yaml_parser_delete(&parser);
    return -1;
  }
  yaml_node_t *root = yaml_document_get_root_node(&doc);
  if (!root) {
    snprintf(err, errlen, "%s:1:1: empty configuration; expected 'schema_version: %d' and sections",
             name, WS_SCHEMA_VERSION);
  } else {
    /* Load into a copy so that a failed load leaves cfg as it was. */
    ws_config *next = malloc(sizeof *next);
    loader L = {.cfg = next, .name = name, .doc = &doc, .err = err, .errlen = errlen};
    if (next) *next = *cfg;
    else snprintf(err, errlen, "%s: out of memory", name);
    rc = next ? load_root(&L, root) : -1;
    if (rc == 0) {
      yaml_document_t extra;
      if (!yaml_parser_load(&parser, &extra)) {
        rc = -1;
        snprintf(err, errlen, "%s:%zu:%zu: malformed YAML: %s", name,
                 parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                 parser.problem ? parser.problem : "parse error");
      } else {
        yaml_node_t *more = yaml_document_get_root_node(&extra);
        if (more) {
          rc = -1;
          snprintf(err, errlen, "%s:%zu:%zu: a second YAML document; expected one", name,
                   more->start_mark.line + 1, more->start_mark.column + 1);
        }
        yaml_document_delete(&extra);
      }
    }
    if (rc == 0) *cfg = *next;
    free(next);
  }
  yaml_document_delete(&doc);
  yaml_parser_delete(&parser);
  return rc;
}

/* Messages quote values of the input, which may hold newlines ("a\nb"
 * in YAML): escaped, so that every message is one line. */
int ws_config_load_string(ws_config *cfg, const char *text, size_t len, const char *name,
                          char *err, size_t errlen) {
  const int rc = load_string(cfg, text, len, name, err, errlen);
  if (rc != 0) ws_schema_one_line(err, errlen);
  return rc;
}

#define CONFIG_FILE_MAX (1 << 20) /* bytes; a configuration is a few hundred */

int ws_config_load_file(ws_config *cfg, const char *path, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    return -1;
  }
  char *buf = malloc(CONFIG_FILE_MAX + 1);
  if (!buf) {
    fclose(f);
    snprintf(err, errlen, "%s: out of memory", path);
    return -1;
  }
  size_t n = fread(buf, 1, CONFIG_FILE_MAX + 1, f);
  int read_error = ferror(f) ? errno : 0;
  fclose(f);
  int rc = -1;
  if (read_error)
    snprintf(err, errlen, "%s: cannot read: %s", path, strerror(read_error));
  else if (n > CONFIG_FILE_MAX)
    snprintf(err, errlen, "%s: larger than %d bytes; not a wafersim configuration", path,
             CONFIG_FILE_MAX);
  else if (memchr(buf, '\0', n))
    snprintf(err, errlen, "%s: contains a NUL byte; expected a YAML text file", path);
  else
    rc = ws_config_load_string(cfg, buf, n, path, err, errlen);
  free(buf);
  return rc;
}


/* ---- overrides ---- */

/* The map key that path is an entry of ("workload.sparsity_by_layer.3"), or -1. */
static int map_entry_key(const char *path) {
  for (size_t i = 0; i < ws_schema_keys(); i++) {
    const ws_key *k = ws_schema_key(i);
    const size_t n = strlen(k->path);
    if ((k->type == WS_K_LAYER_MAP || k->type == WS_K_NAME_MAP) && strncmp(path, k->path, n) == 0 &&
        path[n] == '.' && path[n + 1])
      return (int)i;
  }
  return -1;
}

static int set_one(ws_config *cfg, const char *assignment, char *err, size_t errlen) {
  const char *eq = strchr(assignment, '=');
  if (!eq || eq == assignment) {
    snprintf(err, errlen, "--set '%s': expected key.path=value (e.g. fabric.clock=850MHz)", assignment);
    return -1;
  }
  char path[256]; /* longer paths are unknown keys anyway */
  snprintf(path, sizeof path, "%.*s", (int)(eq - assignment), assignment);
  const int ki = ws_schema_find(path), mi = ki < 0 ? map_entry_key(path) : -1;
  const ws_key *k = ki >= 0 ? ws_schema_key((size_t)ki) : mi >= 0 ? ws_schema_key((size_t)mi) : NULL;
  char msg[640];
  if (!k) {
    const char *dot = strrchr(path, '.');
    char section[256];
    snprintf(section, sizeof section, "%.*s", dot ? (int)(dot - path) : 0, path);
    if (strcmp(path, "schema_version") == 0) {
      snprintf(err, errlen, "--set %s: the schema version cannot be overridden", path);
    } else if (ws_schema_find_section(path) >= 0) {
      ws_schema_list(path, msg, sizeof msg);
      snprintf(err, errlen, "--set %s: is a section; set one of its keys: %s", path, msg);
    } else if (dot && ws_schema_find_section(section) >= 0) {
      unknown_key(section, dot + 1, msg, sizeof msg);
      snprintf(err, errlen, "--set %s: %s", path, msg);
    } else {
      ws_schema_list(NULL, msg, sizeof msg);
      snprintf(err, errlen, "--set %s: unknown key; expected one of: %s", path, msg);
    }
    return -1;
  }
  if (ki >= 0 && (k->type == WS_K_LAYER_MAP || k->type == WS_K_NAME_MAP)) {
    snprintf(err, errlen, "--set %s: is a mapping; set one entry, e.g. %s.%s=%s", path, path,
             k->type == WS_K_LAYER_MAP ? "0" : "TENSOR", k->type == WS_K_LAYER_MAP ? "0.5" : "L0.q");
    return -1;
  }
  ws_config *next = malloc(sizeof *next); /* a failed --set leaves cfg as it was */
  if (!next) {
    snprintf(err, errlen, "--set %s: out of memory", path);
    return -1;
  }
  *next = *cfg;
  const int rc = ki >= 0 ? ws_schema_parse(next, k, eq + 1, msg, sizeof msg)
                         : ws_schema_put(next, k, path + strlen(k->path) + 1, eq + 1, msg, sizeof msg);
  if (rc != 0) {
    snprintf(err, errlen, "--set %s: %s", path, msg);
  } else {
    snprintf(next->origin[ki >= 0 ? ki : mi].where, WS_WHERE_MAX, "--set");
    *cfg = *next;
  }
  free(next);
  return rc;
}

int ws_config_set(ws_config *cfg, const char *assignment, char *err, size_t errlen) {
  const int rc = set_one(cfg, assignment, err, errlen);
  if (rc != 0) ws_schema_one_line(err, errlen);
  return rc;
}
