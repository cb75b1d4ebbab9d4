/* The configuration schema and its loader (libyaml document API), overrides,
 * cross-key checks and writers. One table, `keys`, drives parsing, --set,
 * equality and both writers. */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "units.h"

/* The embedded default, generated at build time from sim/default.yaml. */
extern const char ws_default_yaml_text[];

typedef enum { K_INT, K_BYTES, K_HZ, K_FRACTION, K_ENUM, K_PRESET, K_BOOL } key_type;

typedef struct {
  const char *path; /* "section.key" */
  key_type type;
  size_t offset;              /* of the value in ws_config */
  int64_t min, max;           /* K_INT, K_BYTES, K_HZ: inclusive range in base units */
  const char *const *choices; /* K_ENUM: value names, NULL-terminated */
  bool custom_dim;            /* model dimension: given only with model.preset: custom */
} key_def;

static const char *const phase_names[] = {"prefill", NULL};
static const char *const format_names[] = {"table", "csv", "json", NULL};
static const char *const fidelity_names[] = {"train", "wavelet", NULL};
static const char *const kernel_names[] = {"auto", "sparse", "dense", NULL}; /* krn_kernel order */
static const char *const accumulate_names[] = {"fp32", "fp16", NULL};
static const char *const bool_names[] = {"false", "true", NULL};

#define AT(field) offsetof(ws_config, field)
#define DIM_MAX (1 << 24)
static const key_def keys[] = {
    {"fabric.width", K_INT, AT(fabric.width), 1, 1 << 20, NULL, false},
    {"fabric.height", K_INT, AT(fabric.height), 1, 1 << 20, NULL, false},
    {"fabric.clock", K_HZ, AT(fabric.clock), 1000000, 100000000000LL, NULL, false},
    {"fabric.sram_per_pe", K_BYTES, AT(fabric.sram_per_pe), 1, 1LL << 30, NULL, false},
    {"fabric.fmac_fp16", K_INT, AT(fabric.fmac_fp16), 1, 1024, NULL, false},
    {"fabric.fmac_fp32", K_INT, AT(fabric.fmac_fp32), 1, 1024, NULL, false},
    {"fabric.colors", K_INT, AT(fabric.colors), 1, FAB_COLORS_MAX, NULL, false},
    {"fabric.hop_latency", K_INT, AT(fabric.hop_latency), 1, 1000, NULL, false},
    {"fabric.ramp_latency", K_INT, AT(fabric.ramp_latency), 1, 1000, NULL, false},
    {"fabric.queue_depth", K_INT, AT(fabric.queue_depth), 1, 64, NULL, false},
    {"fabric.add_latency", K_INT, AT(fabric.add_latency), 0, 1000, NULL, false},
    {"fabric.consume_cycles", K_INT, AT(fabric.consume_cycles), 1, 1000, NULL, false},
    {"model.preset", K_PRESET, AT(model.name), 0, 0, NULL, false},
    {"model.layers", K_INT, AT(model.layers), 1, DIM_MAX, NULL, true},
    {"model.d_model", K_INT, AT(model.d_model), 1, DIM_MAX, NULL, true},
    {"model.heads", K_INT, AT(model.heads), 1, DIM_MAX, NULL, true},
    {"model.d_ff", K_INT, AT(model.d_ff), 1, DIM_MAX, NULL, true},
    {"model.vocab", K_INT, AT(model.vocab), 1, DIM_MAX, NULL, true},
    {"model.context", K_INT, AT(model.context), 1, DIM_MAX, NULL, true},
    {"kernels.kernel", K_ENUM, AT(kernels.kernel), 0, 0, kernel_names, false},
    {"kernels.sparse_setup", K_INT, AT(kernels.sparse_setup), 0, 1000, NULL, false},
    {"kernels.dense_setup", K_INT, AT(kernels.dense_setup), 0, 1000, NULL, false},
    {"kernels.task_switch", K_INT, AT(kernels.task_switch), 0, 100000, NULL, false},
    {"kernels.exp_cycles", K_INT, AT(kernels.exp_cycles), 0, 1000, NULL, false},
    {"kernels.accumulate", K_ENUM, AT(kernels.accumulate), 0, 0, accumulate_names, false},
    {"kernels.sram_reserve", K_BYTES, AT(kernels.sram_reserve), 0, 1LL << 30, NULL, false},
    {"workload.phase", K_ENUM, AT(workload.phase), 0, 0, phase_names, false},
    {"workload.seq_len", K_INT, AT(workload.seq_len), 1, DIM_MAX, NULL, false},
    {"workload.micro_batch", K_INT, AT(workload.micro_batch), 1, DIM_MAX, NULL, false},
    {"workload.sparsity", K_FRACTION, AT(workload.sparsity), 0, 0, NULL, false},
    {"sim.seed", K_INT, AT(sim.seed), 0, INT64_MAX, NULL, false},
    {"sim.fidelity", K_ENUM, AT(sim.fidelity), 0, 0, fidelity_names, false},
    {"sim.functional", K_BOOL, AT(sim.functional), 0, 0, bool_names, false},
    {"output.format", K_ENUM, AT(output.format), 0, 0, format_names, false},
};
#define NKEYS (sizeof keys / sizeof keys[0])
_Static_assert(NKEYS <= WS_CONFIG_MAX_KEYS, "raise WS_CONFIG_MAX_KEYS");

/* Sections in writing order; a section may have no keys yet. */
static const char *const sections[] = {"fabric", "model", "kernels", "workload", "placer", "sim", "output"};
#define NSECTIONS (sizeof sections / sizeof sections[0])

const char *ws_config_default_yaml(void) { return ws_default_yaml_text; }

const char *ws_format_name(ws_format f) {
  return (unsigned)f < 3 ? format_names[f] : "?";
}

int ws_format_parse(const char *name) {
  for (int i = 0; format_names[i]; i++)
    if (strcmp(name, format_names[i]) == 0) return i;
  return -1;
}

static int key_index(const char *path) {
  for (size_t i = 0; i < NKEYS; i++)
    if (strcmp(keys[i].path, path) == 0) return (int)i;
  return -1;
}

static int section_index(const char *name) {
  for (size_t i = 0; i < NSECTIONS; i++)
    if (strcmp(sections[i], name) == 0) return (int)i;
  return -1;
}

/* Key name after the section ("width" of "fabric.width"). */
static const char *leaf_name(const key_def *k) { return strchr(k->path, '.') + 1; }

static bool in_section(const key_def *k, const char *section) {
  size_t n = strlen(section);
  return strncmp(k->path, section, n) == 0 && k->path[n] == '.';
}

/* "width, height, ..." for section, or every key path when section is NULL. */
static void list_keys(const char *section, char *buf, size_t len) {
  size_t used = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < NKEYS && used < len; i++) {
    if (section && !in_section(&keys[i], section)) continue;
    used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
                             section ? leaf_name(&keys[i]) : keys[i].path);
  }
  if (!buf[0]) snprintf(buf, len, "(none: section %s has no keys in schema_version %d)",
                        section ? section : "?", WS_SCHEMA_VERSION);
}

static void *field(ws_config *cfg, const key_def *k) { return (char *)cfg + k->offset; }
static const void *cfield(const ws_config *cfg, const key_def *k) {
  return (const char *)cfg + k->offset;
}

/* "expected one of: a, b, c" for presets or enum values. */
static void list_choices(const key_def *k, char *buf, size_t len) {
  size_t used = (size_t)snprintf(buf, len, "expected one of:");
  if (k->type == K_PRESET) {
    for (size_t i = 0; i < mdl_gpt_preset_count() && used < len; i++)
      used += (size_t)snprintf(buf + used, len - used, " %s", mdl_gpt_preset_name(i));
    if (used < len) snprintf(buf + used, len - used, " custom");
    return;
  }
  for (size_t i = 0; k->choices[i] && used < len; i++)
    used += (size_t)snprintf(buf + used, len - used, "%s %s", i ? "," : "", k->choices[i]);
}

/* Parse text into key k of cfg; on error, msg says what was expected. */
static int parse_value(ws_config *cfg, const key_def *k, const char *text, char *msg,
                       size_t msglen) {
  switch (k->type) {
  case K_INT:
    return ws_units_parse(text, WS_UNIT_COUNT, k->min, k->max, field(cfg, k), msg, msglen);
  case K_BYTES:
    return ws_units_parse(text, WS_UNIT_BYTES, k->min, k->max, field(cfg, k), msg, msglen);
  case K_HZ:
    return ws_units_parse(text, WS_UNIT_HZ, k->min, k->max, field(cfg, k), msg, msglen);
  case K_FRACTION:
    return ws_units_parse_real(text, 0.0, 1.0, 1, field(cfg, k), msg, msglen);
  case K_ENUM:
    for (int i = 0; k->choices[i]; i++) {
      if (strcmp(text, k->choices[i]) == 0) {
        *(int *)field(cfg, k) = i;
        return 0;
      }
    }
    break;
  case K_BOOL:
    if (strcmp(text, "true") == 0 || strcmp(text, "false") == 0) {
      *(bool *)field(cfg, k) = text[0] == 't';
      return 0;
    }
    break;
  case K_PRESET: {
    mdl_gpt m;
    char *name = field(cfg, k);
    if (strcmp(text, "custom") == 0) {
      snprintf(name, MDL_NAME_MAX, "custom");
      return 0;
    }
    if (mdl_gpt_preset(text, &m) == 0) {
      memcpy(name, m.name, MDL_NAME_MAX);
      return 0;
    }
    break;
  }
  }
  char choices[256];
  list_choices(k, choices, sizeof choices);
  snprintf(msg, msglen, "%s, got '%s'", choices, text);
  return -1;
}

/* Canonical text of key k's value, the form parse_value reads back. */
static void format_value(const ws_config *cfg, const key_def *k, char *buf, size_t len) {
  const void *v = cfield(cfg, k);
  switch (k->type) {
  case K_INT: snprintf(buf, len, "%lld", (long long)*(const int64_t *)v); return;
  case K_BYTES: ws_units_format(*(const int64_t *)v, WS_UNIT_BYTES, buf, len); return;
  case K_HZ: ws_units_format(*(const int64_t *)v, WS_UNIT_HZ, buf, len); return;
  case K_FRACTION: {
    double d = *(const double *)v; /* shortest text that reads back exactly */
    for (int prec = 1; prec <= 17; prec++) {
      snprintf(buf, len, "%.*g", prec, d);
      if (strtod(buf, NULL) == d) return;
    }
    return;
  }
  case K_ENUM: snprintf(buf, len, "%s", k->choices[*(const int *)v]); return;
  case K_BOOL: snprintf(buf, len, "%s", *(const bool *)v ? "true" : "false"); return;
  case K_PRESET: snprintf(buf, len, "%s", (const char *)v); return;
  }
}

/* ---- loading YAML ---- */

typedef struct {
  ws_config *cfg;
  const char *name; /* file name in messages */
  yaml_document_t *doc;
  char *err;
  size_t errlen;
  bool seen_key[NKEYS];
  bool seen_section[NSECTIONS];
  bool seen_version;
} loader;

static int fail_at(loader *L, yaml_mark_t m, const char *path, const char *fmt, ...) {
  int n = snprintf(L->err, L->errlen, "%s:%zu:%zu: %s: ", L->name, m.line + 1, m.column + 1,
                   path);
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
  return !*t || strcmp(t, "~") == 0 || strcmp(t, "null") == 0 || strcmp(t, "Null") == 0 ||
         strcmp(t, "NULL") == 0;
}

static const char *node_kind(const yaml_node_t *n) {
  if (n->type == YAML_MAPPING_NODE) return "a mapping";
  if (n->type == YAML_SEQUENCE_NODE) return "a list";
  return is_null(n) ? "nothing" : "a value";
}

static int load_leaf(loader *L, int ki, const yaml_node_t *val) {
  const key_def *k = &keys[ki];
  if (L->seen_key[ki]) return fail_at(L, val->start_mark, k->path, "given twice");
  L->seen_key[ki] = true;
  if (val->type != YAML_SCALAR_NODE || is_null(val))
    return fail_at(L, val->start_mark, k->path, "expected a single value, got %s",
                   node_kind(val));
  char msg[384];
  if (parse_value(L->cfg, k, node_text(val), msg, sizeof msg) != 0)
    return fail_at(L, val->start_mark, k->path, "%s", msg);
  snprintf(L->cfg->origin[ki].where, WS_WHERE_MAX, "%s:%zu:%zu", L->name,
           val->start_mark.line + 1, val->start_mark.column + 1);
  return 0;
}

static int load_section(loader *L, int si, const yaml_node_t *map) {
  const char *sec = sections[si];
  if (L->seen_section[si]) return fail_at(L, map->start_mark, sec, "section given twice");
  L->seen_section[si] = true;
  if (is_null(map)) return 0;
  if (map->type != YAML_MAPPING_NODE)
    return fail_at(L, map->start_mark, sec, "expected a mapping of %s keys, got %s", sec,
                   node_kind(map));
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
    yaml_node_t *key = yaml_document_get_node(L->doc, p->key);
    yaml_node_t *val = yaml_document_get_node(L->doc, p->value);
    if (key->type != YAML_SCALAR_NODE)
      return fail_at(L, key->start_mark, sec, "expected a key name, got %s", node_kind(key));
    char path[256];
    snprintf(path, sizeof path, "%s.%s", sec, node_text(key));
    int ki = key_index(path);
    if (ki < 0) {
      char known[512];
      list_keys(sec, known, sizeof known);
      return fail_at(L, key->start_mark, path, "unknown key; expected one of: %s", known);
    }
    if (load_leaf(L, ki, val) != 0) return -1;
  }
  return 0;
}

static int load_root(loader *L, const yaml_node_t *root) {
  if (root->type != YAML_MAPPING_NODE)
    return fail_at(L, root->start_mark, "(top level)",
                   "expected a mapping with schema_version and sections, got %s", node_kind(root));
  for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
       p++) {
    yaml_node_t *key = yaml_document_get_node(L->doc, p->key);
    yaml_node_t *val = yaml_document_get_node(L->doc, p->value);
    if (key->type != YAML_SCALAR_NODE)
      return fail_at(L, key->start_mark, "(top level)", "expected a section name, got %s",
                     node_kind(key));
    const char *name = node_text(key);
    if (strcmp(name, "schema_version") == 0) {
      if (L->seen_version) return fail_at(L, val->start_mark, name, "given twice");
      L->seen_version = true;
      int64_t v;
      char msg[256];
      if (val->type != YAML_SCALAR_NODE ||
          ws_units_parse(node_text(val), WS_UNIT_COUNT, 1, 1000, &v, msg, sizeof msg) != 0 ||
          v != WS_SCHEMA_VERSION)
        return fail_at(L, val->start_mark, name,
                       "expected %d (the schema this wafersim reads), got %s%s%s",
                       WS_SCHEMA_VERSION, val->type == YAML_SCALAR_NODE ? "'" : "",
                       val->type == YAML_SCALAR_NODE ? node_text(val) : node_kind(val),
                       val->type == YAML_SCALAR_NODE ? "'" : "");
      continue;
    }
    int si = section_index(name);
    if (si < 0)
      return fail_at(L, key->start_mark, name,
                     "unknown section; expected one of: schema_version, fabric, model, kernels, "
                     "workload, placer, sim, output");
    if (load_section(L, si, val) != 0) return -1;
  }
  if (!L->seen_version) {
    yaml_mark_t start = {0, 0, 0};
    return fail_at(L, start, "schema_version", "missing; expected 'schema_version: %d' first",
                   WS_SCHEMA_VERSION);
  }
  return 0;
}

int ws_config_load_string(ws_config *cfg, const char *text, size_t len, const char *name,
                          char *err, size_t errlen) {
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
    ws_config next = *cfg;
    loader L = {.cfg = &next, .name = name, .doc = &doc, .err = err, .errlen = errlen};
    rc = load_root(&L, root);
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
    if (rc == 0) *cfg = next;
  }
  yaml_document_delete(&doc);
  yaml_parser_delete(&parser);
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

int ws_config_init_default(ws_config *cfg, char *err, size_t errlen) {
  memset(cfg, 0, sizeof *cfg);
  return ws_config_load_string(cfg, ws_default_yaml_text, strlen(ws_default_yaml_text),
                               "(embedded default)", err, errlen);
}

/* ---- overrides and cross-key checks ---- */

int ws_config_set(ws_config *cfg, const char *assignment, char *err, size_t errlen) {
  const char *eq = strchr(assignment, '=');
  if (!eq || eq == assignment) {
    snprintf(err, errlen, "--set '%s': expected key.path=value (e.g. fabric.clock=850MHz)",
             assignment);
    return -1;
  }
  char path[96]; /* longer paths are unknown keys anyway */
  snprintf(path, sizeof path, "%.*s", (int)(eq - assignment), assignment);
  int ki = key_index(path);
  if (ki < 0) {
    char known[768];
    if (strcmp(path, "schema_version") == 0) {
      snprintf(err, errlen, "--set %s: the schema version cannot be overridden", path);
    } else if (section_index(path) >= 0) {
      list_keys(path, known, sizeof known);
      snprintf(err, errlen, "--set %s: is a section; set one of its keys: %s", path, known);
    } else {
      list_keys(NULL, known, sizeof known);
      snprintf(err, errlen, "--set %s: unknown key; expected one of: %s", path, known);
    }
    return -1;
  }
  char msg[384];
  ws_config next = *cfg;
  if (parse_value(&next, &keys[ki], eq + 1, msg, sizeof msg) != 0) {
    snprintf(err, errlen, "--set %s: %s", path, msg);
    return -1;
  }
  snprintf(next.origin[ki].where, WS_WHERE_MAX, "--set");
  *cfg = next;
  return 0;
}

int ws_config_finish(ws_config *cfg, char *err, size_t errlen) {
  const ws_origin *org = cfg->origin;
  const int preset_k = key_index("model.preset");
  const bool custom = strcmp(cfg->model.name, "custom") == 0;
  for (size_t i = 0; i < NKEYS; i++) {
    if (!keys[i].custom_dim) continue;
    bool given = org[i].where[0] != '\0';
    if (custom && !given) {
      snprintf(err, errlen, "%s: model.preset: custom needs %s as well", org[preset_k].where,
               keys[i].path);
      return -1;
    }
    if (!custom && given) {
      snprintf(err, errlen,
               "%s: %s: only with model.preset: custom (preset %s fixes the dimensions)",
               org[i].where, keys[i].path, cfg->model.name);
      return -1;
    }
  }
  if (custom) {
    const int heads_k = key_index("model.heads");
    if (cfg->model.d_model % cfg->model.heads != 0) {
      snprintf(err, errlen, "%s: model.heads: %lld does not divide model.d_model = %lld",
               org[heads_k].where, (long long)cfg->model.heads, (long long)cfg->model.d_model);
      return -1;
    }
    cfg->model.d_head = cfg->model.d_model / cfg->model.heads;
  } else {
    char name[MDL_NAME_MAX];
    memcpy(name, cfg->model.name, sizeof name);
    if (mdl_gpt_preset(name, &cfg->model) != 0) {
      snprintf(err, errlen, "%s: model.preset: no preset '%s'", org[preset_k].where, name);
      return -1;
    }
  }
  char msg[256];
  if (mdl_gpt_check(&cfg->model, msg, sizeof msg) != 0) {
    snprintf(err, errlen, "%s: model: %s", org[preset_k].where, msg);
    return -1;
  }
  if (cfg->workload.seq_len % cfg->workload.micro_batch != 0) {
    snprintf(err, errlen, "%s: workload.micro_batch: %lld tokens do not divide workload.seq_len = %lld",
             org[key_index("workload.micro_batch")].where, (long long)cfg->workload.micro_batch,
             (long long)cfg->workload.seq_len);
    return -1;
  }
  if (cfg->workload.seq_len > cfg->model.context) {
    snprintf(err, errlen,
             "%s: workload.seq_len: %lld tokens exceed the context of model %s (%lld tokens)",
             org[key_index("workload.seq_len")].where, (long long)cfg->workload.seq_len,
             cfg->model.name, (long long)cfg->model.context);
    return -1;
  }
  return 0;
}

void ws_config_fabric(const ws_config *cfg, fab_config *out) {
  *out = (fab_config){
      .width = (uint32_t)cfg->fabric.width,
      .height = (uint32_t)cfg->fabric.height,
      .colors = (uint32_t)cfg->fabric.colors,
      .hop_latency = (uint32_t)cfg->fabric.hop_latency,
      .ramp_latency = (uint32_t)cfg->fabric.ramp_latency,
      .queue_depth = (uint32_t)cfg->fabric.queue_depth,
      .add_latency = (uint32_t)cfg->fabric.add_latency,
      .consume_cycles = (uint32_t)cfg->fabric.consume_cycles,
      .fidelity = cfg->sim.fidelity == WS_FIDELITY_WAVELET ? FAB_WAVELET : FAB_TRAIN,
  };
}

void ws_config_machine(const ws_config *cfg, krn_machine *out) {
  *out = (krn_machine){
      .simd_fp16 = (uint32_t)cfg->fabric.fmac_fp16,
      .simd_fp32 = (uint32_t)cfg->fabric.fmac_fp32,
      .sparse_setup = (uint32_t)cfg->kernels.sparse_setup,
      .dense_setup = (uint32_t)cfg->kernels.dense_setup,
      .task_switch = (uint32_t)cfg->kernels.task_switch,
      .exp_cycles = (uint32_t)cfg->kernels.exp_cycles,
      .acc_bytes = cfg->kernels.accumulate == WS_ACC_FP16 ? 2 : 4,
      .sram = (uint64_t)cfg->fabric.sram_per_pe,
      .sram_reserve = (uint64_t)cfg->kernels.sram_reserve,
  };
}

/* ---- comparing and writing ---- */

bool ws_config_equal(const ws_config *a, const ws_config *b) {
  char va[64], vb[64];
  for (size_t i = 0; i < NKEYS; i++) {
    format_value(a, &keys[i], va, sizeof va);
    format_value(b, &keys[i], vb, sizeof vb);
    if (strcmp(va, vb) != 0) return false;
  }
  return a->model.d_head == b->model.d_head; /* texts are exact: shortest round-trip */
}

/* Whether key i is written out: model dimensions only for a custom model. */
static bool key_in_effect(const ws_config *cfg, size_t i) {
  return !keys[i].custom_dim || strcmp(cfg->model.name, "custom") == 0;
}

int ws_config_write_yaml(const ws_config *cfg, FILE *out) {
  fprintf(out, "# wafersim effective configuration\nschema_version: %d\n", WS_SCHEMA_VERSION);
  for (size_t s = 0; s < NSECTIONS; s++) {
    bool any = false;
    for (size_t i = 0; i < NKEYS; i++) {
      if (!in_section(&keys[i], sections[s]) || !key_in_effect(cfg, i)) continue;
      char v[64];
      format_value(cfg, &keys[i], v, sizeof v);
      if (!any) fprintf(out, "%s:\n", sections[s]);
      any = true;
      fprintf(out, "  %s: %s\n", leaf_name(&keys[i]), v);
    }
    if (!any) fprintf(out, "%s: {}\n", sections[s]);
  }
  return ferror(out) ? -1 : 0;
}

json_t *ws_config_json(const ws_config *cfg) {
  json_t *root = json_object();
  json_object_set_new(root, "schema_version", json_integer(WS_SCHEMA_VERSION));
  for (size_t s = 0; s < NSECTIONS; s++) {
    json_t *sec = json_object();
    for (size_t i = 0; i < NKEYS; i++) {
      const key_def *k = &keys[i];
      if (!in_section(k, sections[s]) || !key_in_effect(cfg, i)) continue;
      json_t *v;
      if (k->type == K_BOOL) {
        v = json_boolean(*(const bool *)cfield(cfg, k));
      } else if (k->type == K_INT) {
        v = json_integer(*(const int64_t *)cfield(cfg, k));
      } else if (k->type == K_FRACTION) {
        v = json_real(*(const double *)cfield(cfg, k));
      } else {
        char text[64];
        format_value(cfg, k, text, sizeof text);
        v = json_string(text);
      }
      json_object_set_new(sec, leaf_name(k), v);
    }
    json_object_set_new(root, sections[s], sec);
  }
  return root;
}
