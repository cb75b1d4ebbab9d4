/* Loading configurations: the embedded default, YAML files and strings
 * (libyaml document API) and --set overrides, all through the schema
 * (schema.h). Cross-key checks are in config_check.c, writers in
 * config_write.c. */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "schema.h"
#include "units.h"
#include "workloads/infile.h"

/* The embedded default, generated at build time from sim/default.yaml. */
extern const char ws_default_yaml_text[];

#define MAX_SECTIONS 16
#define DEFAULT_NAME WS_CONFIG_DEFAULT_NAME

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
  return ws_config_load_string(cfg, ws_default_yaml_text, strlen(ws_default_yaml_text), DEFAULT_NAME, err,
                               errlen);
}

/* Why `leaf` is not a key of `section`: "unknown key; expected one of: ...",
 * or, for an op kind that is never sparse, why it cannot be. The list is
 * whole, or says how many more keys there are (ws_schema_list). */
static void unknown_key(const char *section, const char *leaf, char *buf, size_t len) {
  const int kind = mdl_op_kind_parse(leaf);
  if (strcmp(section, "workload.sparsity_by_kind") == 0 && kind >= 0) {
    snprintf(buf, len,
             "%s weights are never sparsified (README, Accounting conventions: embeddings, layernorm, attention scores "
             "and the LM head stay dense); sparsifiable kinds: q, k, v, attn_out, ffn_up, ffn_down",
             leaf);
    return;
  }
  static const char head[] = "unknown key; expected one of: ";
  snprintf(buf, len, "%s", head);
  if (len > sizeof head) ws_schema_list(section, buf + sizeof head - 1, len - (sizeof head - 1));
}

/* The room left in a message of errlen bytes after `used` bytes of prefix
 * (at least a little, so that a list says how many it leaves out). */
static size_t room_after(size_t errlen, size_t used) { return used + 96 < errlen ? errlen - used : 96; }

/* "fabric, model, ...": the top-level sections (a short list: it fits). */
static const char *top_sections(char *buf, size_t len) {
  size_t used = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < ws_schema_sections() && used < len; i++)
    if (!strchr(ws_schema_section(i), '.'))
      used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "", ws_schema_section(i));
  return buf;
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

/* "NAME:LINE:COL: PATH[.LEAF]: message" into L->err; returns -1. */
static int fail_at(loader *L, yaml_mark_t m, const char *path, const char *leaf, const char *fmt, ...) {
  int n = snprintf(L->err, L->errlen, "%s:%zu:%zu: %s%s%s: ", L->name, m.line + 1, m.column + 1, path,
                   leaf ? "." : "", leaf ? leaf : "");
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

/* Writes "NAME" + suffix into an origin of WS_WHERE_MAX bytes: a longer
 * name keeps its end, marked "...", so that a message never shows a cut
 * name as if it were whole. */
static void origin_text(ws_origin *o, const char *name, const char *suffix) {
  const size_t ns = strlen(suffix), room = WS_WHERE_MAX - ns - 1, n = strlen(name);
  char *w = o->where;
  if (n <= room) {
    memcpy(w, name, n);
  } else {
    memcpy(w, "...", 3);
    memcpy(w + 3, name + n - (room - 3), room - 3);
  }
  memcpy(w + (n <= room ? n : room), suffix, ns + 1);
}

/* Records where key ki got its value: NAME:LINE:COL. */
static void where(loader *L, int ki, yaml_mark_t m) {
  char lc[48];
  snprintf(lc, sizeof lc, ":%zu:%zu", m.line + 1, m.column + 1);
  origin_text(&L->cfg->origin[ki], L->name, lc);
}

/* A map's entries have no --set of their own any more (it was replaced). */
static void clear_entry_set(ws_config *cfg, const ws_key *k) {
  if (k->type == WS_K_LAYER_MAP) memset(cfg->entry_set.layer, 0, sizeof cfg->entry_set.layer);
  if (k->type == WS_K_NAME_MAP) memset(cfg->entry_set.tensor, 0, sizeof cfg->entry_set.tensor);
}

/* Marks the entry `canon` of map key k as given by --set. */
static void mark_entry_set(ws_config *cfg, const ws_key *k, const char *canon) {
  if (k->type == WS_K_LAYER_MAP) {
    const long layer = strtol(canon, NULL, 10);
    if (layer >= 0 && layer < WL_MAX_LAYERS) cfg->entry_set.layer[layer] = true;
  } else if (k->type == WS_K_NAME_MAP) {
    for (uint32_t i = 0; i < cfg->workload.file.ntensors; i++)
      if (strcmp(cfg->workload.file.tensors[i].tensor, canon) == 0) cfg->entry_set.tensor[i] = true;
  }
}

/* A map-valued key: its mapping replaces the map below it. */
static int load_map(loader *L, int ki, const yaml_node_t *val) {
  const ws_key *k = ws_schema_key((size_t)ki);
  if (!is_null(val) && val->type != YAML_MAPPING_NODE)
    return fail_at(L, val->start_mark, k->path, NULL, "expected a mapping (e.g. {0: 0.5} or {name: L0.q}), got %s",
                   node_kind(val));
  ws_schema_clear(L->cfg, k);
  clear_entry_set(L->cfg, k);
  where(L, ki, val->start_mark);
  if (is_null(val)) return 0;
  const size_t n = (size_t)(val->data.mapping.pairs.top - val->data.mapping.pairs.start);
  char(*canon)[WS_ENTRY_NAME_MAX] = malloc((n + 1) * sizeof *canon);
  if (!canon) return fail_at(L, val->start_mark, k->path, NULL, "out of memory");
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    const yaml_node_pair_t *p = &val->data.mapping.pairs.start[i];
    const yaml_node_t *key = yaml_document_get_node(L->doc, p->key), *v = yaml_document_get_node(L->doc, p->value);
    if (key->type != YAML_SCALAR_NODE || is_null(key)) {
      rc = fail_at(L, key->start_mark, k->path, NULL, "expected an entry name, got %s", node_kind(key));
      break;
    }
    const char *name = node_text(key);
    char msg[384];
    if (ws_schema_entry_name(k, name, canon[i], sizeof canon[i], msg, sizeof msg) != 0) {
      rc = fail_at(L, key->start_mark, k->path, name, "%s", msg);
      break;
    }
    /* Duplicates by what they name, not how they are spelled: {1: 0.5, 01: 0.6}. */
    for (size_t j = 0; j < i && rc == 0; j++) {
      if (strcmp(canon[j], canon[i]) != 0) continue;
      const yaml_node_t *other = yaml_document_get_node(L->doc, val->data.mapping.pairs.start[j].key);
      if (strcmp(node_text(other), name) == 0)
        rc = fail_at(L, key->start_mark, k->path, name, "given twice (first at %zu:%zu)",
                     other->start_mark.line + 1, other->start_mark.column + 1);
      else
        rc = fail_at(L, key->start_mark, k->path, name, "given twice: '%s' (at %zu:%zu) and '%s' both name "
                     "entry %s", node_text(other), other->start_mark.line + 1, other->start_mark.column + 1, name,
                     canon[i]);
    }
    if (rc != 0) break;
    if (v->type != YAML_SCALAR_NODE || is_null(v)) {
      rc = fail_at(L, v->start_mark, k->path, canon[i], "expected a single value, got %s", node_kind(v));
      break;
    }
    if (ws_schema_put(L->cfg, k, canon[i], node_text(v), msg, sizeof msg) != 0)
      rc = fail_at(L, v->start_mark, k->path, canon[i], "%s", msg);
  }
  free(canon);
  return rc;
}

static int load_leaf(loader *L, int ki, const yaml_node_t *val) {
  const ws_key *k = ws_schema_key((size_t)ki);
  if (L->seen_key[ki]) return fail_at(L, val->start_mark, k->path, NULL, "given twice");
  L->seen_key[ki] = true;
  if (k->type == WS_K_LAYER_MAP || k->type == WS_K_NAME_MAP) return load_map(L, ki, val);
  if (val->type != YAML_SCALAR_NODE || is_null(val))
    return fail_at(L, val->start_mark, k->path, NULL, "expected a single value, got %s", node_kind(val));
  char msg[384];
  if (ws_schema_parse(L->cfg, k, node_text(val), msg, sizeof msg) != 0)
    return fail_at(L, val->start_mark, k->path, NULL, "%s", msg);
  where(L, ki, val->start_mark);
  return 0;
}

static int load_section(loader *L, int si, const yaml_node_t *map) {
  const char *sec = ws_schema_section((size_t)si);
  if (L->seen_section[si]) return fail_at(L, map->start_mark, sec, NULL, "section given twice");
  L->seen_section[si] = true;
  if (is_null(map)) return 0;
  if (map->type != YAML_MAPPING_NODE)
    return fail_at(L, map->start_mark, sec, NULL, "expected a mapping of %s keys, got %s", sec, node_kind(map));
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
    yaml_node_t *key = yaml_document_get_node(L->doc, p->key);
    yaml_node_t *val = yaml_document_get_node(L->doc, p->value);
    if (key->type != YAML_SCALAR_NODE)
      return fail_at(L, key->start_mark, sec, NULL, "expected a key name, got %s", node_kind(key));
    const size_t plen = strlen(sec) + strlen(node_text(key)) + 2;
    char *path = malloc(plen);
    if (!path) return fail_at(L, key->start_mark, sec, NULL, "out of memory");
    snprintf(path, plen, "%s.%s", sec, node_text(key));
    const int ki = ws_schema_find(path), sub = ws_schema_find_section(path);
    free(path);
    if (ki >= 0) {
      if (load_leaf(L, ki, val) != 0) return -1;
    } else if (sub >= 0) {
      if (load_section(L, sub, val) != 0) return -1;
    } else {
      char why[WS_CONFIG_ERR_MAX];
      const size_t prefix = strlen(L->name) + strlen(sec) + strlen(node_text(key)) + 32;
      unknown_key(sec, node_text(key), why, room_after(sizeof why < L->errlen ? sizeof why : L->errlen, prefix));
      return fail_at(L, key->start_mark, sec, node_text(key), "%s", why);
    }
  }
  return 0;
}

/* Every scalar is read as a C string: one holding a NUL (YAML's "\0"
 * escape) would be cut there, so it is refused where it is. */
static int no_nul(loader *L) {
  for (const yaml_node_t *n = L->doc->nodes.start; n < L->doc->nodes.top; n++) {
    if (n->type == YAML_SCALAR_NODE && memchr(n->data.scalar.value, '\0', n->data.scalar.length)) {
      snprintf(L->err, L->errlen, "%s:%zu:%zu: a NUL character (\\0) after '%s'; expected text without one", L->name,
               n->start_mark.line + 1, n->start_mark.column + 1, node_text(n));
      return -1;
    }
  }
  return 0;
}

static int load_root(loader *L, const yaml_node_t *root) {
  if (root->type != YAML_MAPPING_NODE)
    return fail_at(L, root->start_mark, "(top level)", NULL,
                   "expected a mapping with schema_version and sections, got %s", node_kind(root));
  for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
    yaml_node_t *key = yaml_document_get_node(L->doc, p->key);
    yaml_node_t *val = yaml_document_get_node(L->doc, p->value);
    if (key->type != YAML_SCALAR_NODE)
      return fail_at(L, key->start_mark, "(top level)", NULL, "expected a section name, got %s", node_kind(key));
    const char *name = node_text(key);
    if (strcmp(name, "schema_version") == 0) {
      if (L->seen_version) return fail_at(L, val->start_mark, name, NULL, "given twice");
      L->seen_version = true;
      int64_t v;
      char msg[256];
      if (val->type != YAML_SCALAR_NODE ||
          ws_units_parse(node_text(val), WS_UNIT_COUNT, 1, 1000, &v, msg, sizeof msg) != 0 || v != WS_SCHEMA_VERSION)
        return fail_at(L, val->start_mark, name, NULL, "expected %d (the schema this wafersim reads), got %s%s%s",
                       WS_SCHEMA_VERSION, val->type == YAML_SCALAR_NODE ? "'" : "",
                       val->type == YAML_SCALAR_NODE ? node_text(val) : node_kind(val),
                       val->type == YAML_SCALAR_NODE ? "'" : "");
      continue;
    }
    const int si = strchr(name, '.') ? -1 : ws_schema_find_section(name);
    if (si < 0) {
      char known[256];
      return fail_at(L, key->start_mark, name, NULL, "unknown section; expected one of: schema_version, %s",
                     top_sections(known, sizeof known));
    }
    if (load_section(L, si, val) != 0) return -1;
  }
  if (!L->seen_version) {
    yaml_mark_t start = {0, 0, 0};
    return fail_at(L, start, "schema_version", NULL, "missing; expected 'schema_version: %d' first", WS_SCHEMA_VERSION);
  }
  return 0;
}

/* The parser's message for a YAML syntax error. */
static void malformed(const yaml_parser_t *p, const char *name, char *err, size_t errlen) {
  snprintf(err, errlen, "%s:%zu:%zu: malformed YAML: %s%s%s", name, p->problem_mark.line + 1,
           p->problem_mark.column + 1, p->problem ? p->problem : "parse error", p->context ? " " : "",
           p->context ? p->context : "");
}

/* A first pass over the events: refuses, where it starts, the first
 * collection nested deeper than WS_CONFIG_DEPTH_MAX, before building any
 * document (libyaml takes time quadratic in the depth to build one). */
static int check_depth(const char *text, size_t len, const char *name, char *err, size_t errlen) {
  yaml_parser_t p;
  if (!yaml_parser_initialize(&p)) {
    snprintf(err, errlen, "%s: cannot initialise the YAML parser (out of memory)", name);
    return -1;
  }
  yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
  int depth = 0, rc = 0;
  for (bool done = false; !done && rc == 0;) {
    yaml_event_t e;
    if (!yaml_parser_parse(&p, &e)) {
      malformed(&p, name, err, errlen);
      rc = -1;
      break;
    }
    if (e.type == YAML_MAPPING_START_EVENT || e.type == YAML_SEQUENCE_START_EVENT) {
      if (++depth > WS_CONFIG_DEPTH_MAX) {
        snprintf(err, errlen, "%s:%zu:%zu: nested deeper than %d levels; a configuration needs at most 4", name,
                 e.start_mark.line + 1, e.start_mark.column + 1, WS_CONFIG_DEPTH_MAX);
        rc = -1;
      }
    } else if (e.type == YAML_MAPPING_END_EVENT || e.type == YAML_SEQUENCE_END_EVENT) {
      depth--;
    }
    done = e.type == YAML_STREAM_END_EVENT;
    yaml_event_delete(&e);
  }
  yaml_parser_delete(&p);
  return rc;
}

static int load_string(ws_config *cfg, const char *text, size_t len, const char *name, char *err,
                       size_t errlen) {
  if (check_depth(text, len, name, err, errlen) != 0) return -1;
  yaml_parser_t parser;
  yaml_document_t doc;
  if (!yaml_parser_initialize(&parser)) {
    snprintf(err, errlen, "%s: cannot initialise the YAML parser (out of memory)", name);
    return -1;
  }
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  int rc = -1;
  if (!yaml_parser_load(&parser, &doc)) {
    malformed(&parser, name, err, errlen);
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
    rc = next ? no_nul(&L) : -1;
    if (rc == 0) rc = load_root(&L, root);
    if (rc == 0) {
      yaml_document_t extra;
      if (!yaml_parser_load(&parser, &extra)) {
        rc = -1;
        malformed(&parser, name, err, errlen);
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

int ws_config_load_file(ws_config *cfg, const char *path, char *err, size_t errlen) {
  size_t n;
  char *buf = wl_infile_read(path, "configuration", WL_INFILE_CONFIG_MAX, &n, err, errlen);
  if (!buf) return -1;
  int rc = -1;
  if (memchr(buf, '\0', n))
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
  /* The key path, sized to fit: a long one is named in full in messages. */
  char *path = strndup(assignment, (size_t)(eq - assignment));
  if (!path) {
    snprintf(err, errlen, "--set: out of memory");
    return -1;
  }
  const int rc = ws_config_set_key(cfg, path, eq + 1, "--set", err, errlen);
  free(path);
  return rc;
}

int ws_config_set_key(ws_config *cfg, const char *path, const char *value, const char *source, char *err,
                      size_t errlen) {
  /* "--set KEY: ..." for an option, "FILE (its part): KEY: ..." for a file. */
  const char *sep = strncmp(source, "--", 2) == 0 ? " " : ": ";
  const int ki = ws_schema_find(path), mi = ki < 0 ? map_entry_key(path) : -1;
  const ws_key *k = ki >= 0 ? ws_schema_key((size_t)ki) : mi >= 0 ? ws_schema_key((size_t)mi) : NULL;
  char msg[WS_CONFIG_ERR_MAX];
  if (!k) {
    const char *dot = strrchr(path, '.');
    char *section = strndup(path, dot ? (size_t)(dot - path) : 0);
    if (!section) {
      snprintf(err, errlen, "%s%s%s: out of memory", source, sep, path);
    } else if (strcmp(path, "schema_version") == 0) {
      snprintf(err, errlen, "%s%s%s: the schema version cannot be overridden", source, sep, path);
    } else if (ws_schema_find_section(path) >= 0) {
      ws_schema_list(path, msg, room_after(sizeof msg, strlen(path) + 48));
      snprintf(err, errlen, "%s%s%s: is a section; set one of its keys: %s", source, sep, path, msg);
    } else if (dot && ws_schema_find_section(section) >= 0) {
      unknown_key(section, dot + 1, msg, room_after(sizeof msg < errlen ? sizeof msg : errlen, strlen(path) + 8));
      snprintf(err, errlen, "%s%s%s: %s", source, sep, path, msg);
    } else {
      snprintf(err, errlen, "%s%s%s: unknown key; expected SECTION.KEY with a section of: %s (every key: "
               "'wafersim config', README 'Configuration')", source, sep, path, top_sections(msg, sizeof msg));
    }
    free(section);
    return -1;
  }
  if (ki >= 0 && (k->type == WS_K_LAYER_MAP || k->type == WS_K_NAME_MAP)) {
    snprintf(err, errlen, "%s%s%s: is a mapping; set one entry, e.g. %s.%s=%s", source, sep, path, path,
             k->type == WS_K_LAYER_MAP ? "0" : "TENSOR", k->type == WS_K_LAYER_MAP ? "0.5" : "L0.q");
    return -1;
  }
  ws_config *next = malloc(sizeof *next); /* a failed --set leaves cfg as it was */
  if (!next) {
    snprintf(err, errlen, "%s%s%s: out of memory", source, sep, path);
    return -1;
  }
  *next = *cfg;
  const int rc = ki >= 0 ? ws_schema_parse(next, k, value, msg, sizeof msg)
                         : ws_schema_put(next, k, path + strlen(k->path) + 1, value, msg, sizeof msg);
  if (rc != 0) {
    snprintf(err, errlen, "%s%s%s: %s", source, sep, path, msg);
  } else if (ki >= 0) {
    origin_text(&next->origin[ki], source, "");
    *cfg = *next;
  } else {
    /* One entry: the map keeps the origin of its other entries (a file's,
     * a baseline's), the entry is marked as given by --set. */
    char canon[WS_ENTRY_NAME_MAX];
    if (ws_schema_entry_name(k, path + strlen(k->path) + 1, canon, sizeof canon, msg, sizeof msg) == 0)
      mark_entry_set(next, k, canon);
    const char *was = next->origin[mi].where;
    if (!was[0] || strncmp(was, DEFAULT_NAME ":", strlen(DEFAULT_NAME) + 1) == 0)
      origin_text(&next->origin[mi], source, ""); /* the default's {} is nobody's choice */
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

bool ws_config_streams(const ws_config *cfg) {
  return cfg->sim.strategy == WS_STRATEGY_STREAM ||
         (cfg->sim.strategy == WS_STRATEGY_AUTO && cfg->workload.phase == WS_PHASE_TRAIN);
}
