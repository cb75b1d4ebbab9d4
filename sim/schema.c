/* The key table of schema_version 1 and its values' text forms (see schema.h). */
#include "schema.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "units.h"

static const char *const phase_names[] = {"prefill", "decode", "generate", "train", NULL}; /* ws_phase */
static const char *const format_names[] = {"table", "csv", "json", NULL};
static const char *const fidelity_names[] = {"train", "wavelet", NULL};
static const char *const kernel_names[] = {"auto", "sparse", "dense", NULL}; /* krn_kernel order */
static const char *const accumulate_names[] = {"fp32", "fp16", NULL};
static const char *const pattern_names[] = {"bernoulli", "magnitude", "nm", "block", "file", NULL}; /* wl_pattern_kind */
static const char *const layout_names[] = {"kn", "nk", NULL}; /* wl_layout */
static const char *const tiling_names[] = {"uniform", "balanced", NULL}; /* ws_tiling */
static const char *const machine_names[] = {"cs2", "wse3", NULL}; /* ws_machine */
static const char *const arch_names[] = {"gpt", "llama", NULL}; /* mdl_arch */
static const char *const strategy_names[] = {"pipeline", "bound", "layerwise", "auto", "stream", NULL}; /* ws_strategy */

#define AT(field) offsetof(ws_config, field)
#define DIM_MAX (1 << 24)
#define I(path, field, lo, hi) {path, WS_K_INT, AT(field), lo, hi, 0, 0, NULL, 0}
#define DIM(path, field) {path, WS_K_INT, AT(field), 1, DIM_MAX, 0, 0, NULL, WS_F_CUSTOM_DIM}
#define E(path, field, names) {path, WS_K_ENUM, AT(field), 0, 0, 0, 0, names, 0}
#define R(path, field, lo, hi) {path, WS_K_REAL, AT(field), 0, 0, lo, hi, NULL, 0}
#define BPS(path, field) {path, WS_K_BPS, AT(field), 1, 1000000000000000LL, 0, 0, NULL, WS_F_INF}
#define KIND(path, field) {path, WS_K_FRACTION, AT(field), 0, 0, 0, 0, NULL, WS_F_OPTIONAL}
static const ws_key keys[] = {
    I("fabric.width", fabric.width, 1, 1 << 20),
    I("fabric.height", fabric.height, 1, 1 << 20),
    {"fabric.clock", WS_K_HZ, AT(fabric.clock), 1000000, 100000000000LL, 0, 0, NULL, 0},
    {"fabric.sram_per_pe", WS_K_BYTES, AT(fabric.sram_per_pe), 1, 1LL << 30, 0, 0, NULL, 0},
    I("fabric.fmac_fp16", fabric.fmac_fp16, 1, 1024),
    I("fabric.fmac_fp32", fabric.fmac_fp32, 1, 1024),
    I("fabric.colors", fabric.colors, 1, FAB_COLORS_MAX),
    I("fabric.hop_latency", fabric.hop_latency, 1, 1000),
    I("fabric.ramp_latency", fabric.ramp_latency, 1, 1000),
    I("fabric.queue_depth", fabric.queue_depth, 1, 64),
    I("fabric.add_latency", fabric.add_latency, 0, 1000),
    I("fabric.consume_cycles", fabric.consume_cycles, 1, 1000),
    E("fabric.preset", fabric.preset, machine_names),
    {"model.preset", WS_K_PRESET, AT(model.name), 0, 0, 0, 0, NULL, 0},
    DIM("model.layers", model.layers),
    DIM("model.d_model", model.d_model),
    DIM("model.heads", model.heads),
    DIM("model.d_ff", model.d_ff),
    DIM("model.vocab", model.vocab),
    DIM("model.context", model.context),
    {"model.arch", WS_K_ENUM, AT(model.arch), 0, 0, 0, 0, arch_names, WS_F_CUSTOM_OPT},
    {"model.kv_heads", WS_K_INT, AT(model.kv_heads), 1, DIM_MAX, 0, 0, NULL, WS_F_CUSTOM_OPT},
    {"model.rope_theta", WS_K_REAL, AT(model.rope_theta), 0, 0, 2.0, 1e12, NULL, WS_F_CUSTOM_OPT},
    E("kernels.kernel", kernels.kernel, kernel_names),
    I("kernels.sparse_setup", kernels.sparse_setup, 0, 1000),
    I("kernels.dense_setup", kernels.dense_setup, 0, 1000),
    I("kernels.task_switch", kernels.task_switch, 0, 100000),
    I("kernels.exp_cycles", kernels.exp_cycles, 0, 1000),
    E("kernels.accumulate", kernels.accumulate, accumulate_names),
    {"kernels.sram_reserve", WS_K_BYTES, AT(kernels.sram_reserve), 0, 1LL << 30, 0, 0, NULL, 0},
    E("workload.phase", workload.phase, phase_names),
    I("workload.seq_len", workload.seq_len, 1, DIM_MAX),
    I("workload.new_tokens", workload.new_tokens, 1, DIM_MAX),
    {"workload.micro_batch", WS_K_INT, AT(workload.micro_batch), 1, DIM_MAX, 0, 0, NULL, WS_F_AUTO},
    I("workload.batch", workload.batch, 1, 4096),
    {"workload.sparsity", WS_K_FRACTION, AT(workload.sparsity), 0, 0, 0, 0, NULL, 0},
    KIND("workload.sparsity_by_kind.q", workload.by_kind[MDL_OP_Q]),
    KIND("workload.sparsity_by_kind.k", workload.by_kind[MDL_OP_K]),
    KIND("workload.sparsity_by_kind.v", workload.by_kind[MDL_OP_V]),
    KIND("workload.sparsity_by_kind.attn_out", workload.by_kind[MDL_OP_ATTN_OUT]),
    KIND("workload.sparsity_by_kind.ffn_up", workload.by_kind[MDL_OP_FFN_UP]),
    KIND("workload.sparsity_by_kind.ffn_down", workload.by_kind[MDL_OP_FFN_DOWN]),
    KIND("workload.sparsity_by_kind.ffn_gate", workload.by_kind[MDL_OP_FFN_GATE]),
    {"workload.sparsity_by_layer", WS_K_LAYER_MAP, AT(workload.by_layer), 0, 0, 0, 0, NULL, 0},
    E("workload.pattern", workload.pattern, pattern_names),
    I("workload.nm_group", workload.nm_group, 1, 64),
    I("workload.block", workload.block, 1, 4096),
    R("workload.magnitude.row_sigma", workload.magnitude.row_sigma, 0.0, 10.0),
    R("workload.magnitude.col_sigma", workload.magnitude.col_sigma, 0.0, 10.0),
    R("workload.magnitude.outlier_fraction", workload.magnitude.outlier_fraction, 0.0, 1.0),
    R("workload.magnitude.outlier_scale", workload.magnitude.outlier_scale, 1.0, 1e6),
    {"workload.file.path", WS_K_STRING, AT(workload.file.path), 0, WL_PATH_MAX, 0, 0, NULL, 0},
    E("workload.file.layout", workload.file.layout, layout_names),
    {"workload.file.tensors", WS_K_NAME_MAP, AT(workload.file), 0, 0, 0, 0, NULL, 0},
    E("placer.tiling", placer.tiling, tiling_names),
    I("placer.shelf_height", placer.shelf_height, 0, 1 << 20),
    I("sim.seed", sim.seed, 0, INT64_MAX),
    E("sim.fidelity", sim.fidelity, fidelity_names),
    {"sim.functional", WS_K_BOOL, AT(sim.functional), 0, 0, 0, 0, NULL, 0},
    E("sim.strategy", sim.strategy, strategy_names),
    R("sim.auto_margin", sim.auto_margin, 0.0, 1e6),
    E("output.format", output.format, format_names),
    I("system.wafers", system.wafers, 1, 192),
    {"system.micro_batch", WS_K_INT, AT(system.micro_batch), 1, 4096, 0, 0, NULL, WS_F_AUTO},
    I("system.store_hosts", system.store_hosts, 1, 64),
    BPS("system.store_bandwidth", system.store_bandwidth),
    BPS("system.store_link", system.store_link),
    BPS("system.link_bandwidth", system.link_bandwidth),
    {"system.link_latency", WS_K_NS, AT(system.link_latency), 0, 1000000000LL, 0, 0, NULL, 0},
    I("system.fanout", system.fanout, 2, 64),
    {"system.chunk", WS_K_BYTES, AT(system.chunk), 1024, 1LL << 30, 0, 0, NULL, 0},
    I("system.update_bytes", system.update_bytes, 0, 1024),
};
#define NKEYS (sizeof keys / sizeof keys[0])
_Static_assert(NKEYS <= WS_CONFIG_MAX_KEYS, "raise WS_CONFIG_MAX_KEYS");

static const char *const sections[] = {
    "fabric",   "model",     "kernels", "workload", "workload.sparsity_by_kind", "workload.magnitude",
    "workload.file", "placer", "sim",   "output", "system"};
#define NSECTIONS (sizeof sections / sizeof sections[0])

size_t ws_schema_keys(void) { return NKEYS; }
const ws_key *ws_schema_key(size_t i) { return &keys[i]; }
size_t ws_schema_sections(void) { return NSECTIONS; }
const char *ws_schema_section(size_t i) { return sections[i]; }

int ws_schema_find(const char *path) {
  for (size_t i = 0; i < NKEYS; i++)
    if (strcmp(keys[i].path, path) == 0) return (int)i;
  return -1;
}

int ws_schema_find_section(const char *path) {
  for (size_t i = 0; i < NSECTIONS; i++)
    if (strcmp(sections[i], path) == 0) return (int)i;
  return -1;
}

const char *ws_schema_leaf(const char *path) {
  const char *dot = strrchr(path, '.');
  return dot ? dot + 1 : path;
}

bool ws_schema_in(const char *path, const char *section) {
  const size_t n = strlen(section);
  return strncmp(path, section, n) == 0 && path[n] == '.' && !strchr(path + n + 1, '.');
}

/* Appends item to the list in buf if it fits with room for the tail that
 * counts what does not; counts it in *left otherwise. */
static void list_add(const char *item, char *buf, size_t len, size_t *used, size_t *left) {
  enum { TAIL = 64 }; /* "; and 999 more: 'wafersim config' prints every key" */
  const size_t n = strlen(item) + (*used ? 2 : 0);
  if (*left == 0 && *used + n + TAIL < len) {
    *used += (size_t)snprintf(buf + *used, len - *used, "%s%s", *used ? ", " : "", item);
  } else {
    (*left)++;
  }
}

void ws_schema_list(const char *section, char *buf, size_t len) {
  size_t used = 0, left = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < NKEYS; i++) {
    if (section && !ws_schema_in(keys[i].path, section)) continue;
    list_add(section ? ws_schema_leaf(keys[i].path) : keys[i].path, buf, len, &used, &left);
  }
  for (size_t i = 0; section && i < NSECTIONS; i++)
    if (ws_schema_in(sections[i], section)) list_add(ws_schema_leaf(sections[i]), buf, len, &used, &left);
  if (left && used < len)
    snprintf(buf + used, len - used, "%sand %zu more: 'wafersim config' prints every key", used ? "; " : "", left);
  else if (!buf[0])
    snprintf(buf, len, "(none: section %s has no keys in schema_version %d)", section ? section : "?",
             WS_SCHEMA_VERSION);
}

static void *field(ws_config *cfg, const ws_key *k) { return (char *)cfg + k->offset; }
static const void *cfield(const ws_config *cfg, const ws_key *k) { return (const char *)cfg + k->offset; }

/* "expected one of: a, b, c" for presets or enum values. */
static void list_choices(const ws_key *k, char *buf, size_t len) {
  size_t used = (size_t)snprintf(buf, len, "expected one of:");
  if (k->type == WS_K_PRESET) {
    for (size_t i = 0; i < mdl_gpt_preset_count() && used < len; i++)
      used += (size_t)snprintf(buf + used, len - used, " %s", mdl_gpt_preset_name(i));
    if (used < len) snprintf(buf + used, len - used, " custom");
    return;
  }
  const char *const *names = k->type == WS_K_BOOL ? (const char *const[]){"true", "false", NULL} : k->choices;
  for (size_t i = 0; names[i] && used < len; i++)
    used += (size_t)snprintf(buf + used, len - used, "%s %s", i ? "," : "", names[i]);
}

int ws_schema_parse(ws_config *cfg, const ws_key *k, const char *text, char *msg, size_t msglen) {
  switch (k->type) {
    case WS_K_INT: /* with WS_F_AUTO also "auto", kept as 0 */
      return (k->flags & WS_F_AUTO) ? ws_units_parse_or(text, WS_UNIT_COUNT, k->min, k->max, "auto", 0, field(cfg, k), msg, msglen)
                                    : ws_units_parse(text, WS_UNIT_COUNT, k->min, k->max, field(cfg, k), msg, msglen);
    case WS_K_BYTES: return ws_units_parse(text, WS_UNIT_BYTES, k->min, k->max, field(cfg, k), msg, msglen);
    case WS_K_HZ: return ws_units_parse(text, WS_UNIT_HZ, k->min, k->max, field(cfg, k), msg, msglen);
    case WS_K_BPS: /* with WS_F_INF also "inf", kept as 0 */
      return (k->flags & WS_F_INF) ? ws_units_parse_or(text, WS_UNIT_BPS, k->min, k->max, "inf", 0, field(cfg, k), msg, msglen)
                                   : ws_units_parse(text, WS_UNIT_BPS, k->min, k->max, field(cfg, k), msg, msglen);
    case WS_K_NS: return ws_units_parse(text, WS_UNIT_NS, k->min, k->max, field(cfg, k), msg, msglen);
    case WS_K_FRACTION: return ws_units_parse_real(text, 0.0, 1.0, 1, field(cfg, k), msg, msglen);
    case WS_K_REAL: return ws_units_parse_real(text, k->lo, k->hi, 0, field(cfg, k), msg, msglen);
    case WS_K_STRING:
      if (strlen(text) >= (size_t)k->max) {
        snprintf(msg, msglen, "expected at most %lld characters, got %zu", (long long)k->max - 1, strlen(text));
        return -1;
      }
      snprintf(field(cfg, k), (size_t)k->max, "%s", text);
      return 0;
    case WS_K_ENUM:
      for (int i = 0; k->choices[i]; i++) {
        if (strcmp(text, k->choices[i]) == 0) {
          *(int *)field(cfg, k) = i;
          return 0;
        }
      }
      break;
    case WS_K_BOOL:
      if (strcmp(text, "true") == 0 || strcmp(text, "false") == 0) {
        *(bool *)field(cfg, k) = text[0] == 't';
        return 0;
      }
      break;
    case WS_K_PRESET: {
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
    default:
      snprintf(msg, msglen, "expected a mapping, got '%s'", text);
      return -1;
  }
  char choices[256];
  list_choices(k, choices, sizeof choices);
  snprintf(msg, msglen, "%s, got '%s'", choices, text);
  return -1;
}

static int parse_layer(const char *name, int64_t *layer, char *msg, size_t msglen) {
  char m2[256];
  if (ws_units_parse(name, WS_UNIT_COUNT, 0, WL_MAX_LAYERS - 1, layer, m2, sizeof m2) != 0) {
    snprintf(msg, msglen, "a layer: %s", m2);
    return -1;
  }
  return 0;
}

int ws_schema_entry_name(const ws_key *k, const char *name, char *canon, size_t len, char *msg, size_t msglen) {
  if (k->type == WS_K_LAYER_MAP) {
    int64_t layer;
    if (parse_layer(name, &layer, msg, msglen) != 0) return -1;
    snprintf(canon, len, "%lld", (long long)layer);
    return 0;
  }
  if (k->type != WS_K_NAME_MAP) {
    snprintf(msg, msglen, "is not a mapping");
    return -1;
  }
  if (strlen(name) >= len) {
    snprintf(msg, msglen, "tensor '%s': names up to %zu characters", name, len - 1);
    return -1;
  }
  snprintf(canon, len, "%s", name);
  return 0;
}

int ws_schema_put(ws_config *cfg, const ws_key *k, const char *name, const char *value, char *msg,
                  size_t msglen) {
  if (k->type == WS_K_LAYER_MAP) {
    int64_t layer;
    double level;
    char m2[256];
    if (parse_layer(name, &layer, msg, msglen) != 0) return -1;
    if (ws_units_parse_real(value, 0.0, 1.0, 1, &level, m2, sizeof m2) != 0) {
      snprintf(msg, msglen, "layer %lld: %s", (long long)layer, m2);
      return -1;
    }
    ((double *)field(cfg, k))[layer] = level;
    return 0;
  }
  if (k->type != WS_K_NAME_MAP) {
    snprintf(msg, msglen, "is not a mapping");
    return -1;
  }
  wl_file_spec *fl = field(cfg, k);
  if (strlen(name) >= sizeof fl->tensors[0].tensor || strlen(value) >= sizeof fl->tensors[0].op) {
    snprintf(msg, msglen, "tensor '%s': names up to %zu and op names up to %zu characters", name,
             sizeof fl->tensors[0].tensor - 1, sizeof fl->tensors[0].op - 1);
    return -1;
  }
  uint32_t i = 0;
  while (i < fl->ntensors && strcmp(fl->tensors[i].tensor, name) != 0) i++;
  if (i == WL_MAX_TENSORS) {
    snprintf(msg, msglen, "more than %d tensors", WL_MAX_TENSORS);
    return -1;
  }
  snprintf(fl->tensors[i].tensor, sizeof fl->tensors[i].tensor, "%s", name);
  snprintf(fl->tensors[i].op, sizeof fl->tensors[i].op, "%s", value);
  if (i == fl->ntensors) fl->ntensors++;
  return 0;
}

void ws_schema_clear(ws_config *cfg, const ws_key *k) {
  if (k->type == WS_K_LAYER_MAP)
    for (int i = 0; i < WL_MAX_LAYERS; i++) ((double *)field(cfg, k))[i] = NAN;
  else if (k->type == WS_K_NAME_MAP)
    ((wl_file_spec *)field(cfg, k))->ntensors = 0;
}

/* The shortest text that reads back to d exactly. */
static void real_text(double d, char *buf, size_t len) {
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, len, "%.*g", prec, d);
    if (strtod(buf, NULL) == d) return;
  }
}

/* A YAML double-quoted string. */
static size_t quoted(const char *s, char *buf, size_t len) {
  size_t n = 0;
  if (n < len) buf[n++] = '"';
  for (; *s && n + 2 < len; s++) {
    if (*s == '"' || *s == '\\') buf[n++] = '\\';
    buf[n++] = *s;
  }
  if (n < len) buf[n++] = '"';
  buf[n < len ? n : len - 1] = '\0';
  return n;
}

void ws_schema_format(const ws_config *cfg, const ws_key *k, char *buf, size_t len) {
  const void *v = cfield(cfg, k);
  size_t used = 0;
  switch (k->type) {
    case WS_K_INT:
      if ((k->flags & WS_F_AUTO) && *(const int64_t *)v == 0) snprintf(buf, len, "auto");
      else snprintf(buf, len, "%lld", (long long)*(const int64_t *)v);
      return;
    case WS_K_BYTES: ws_units_format(*(const int64_t *)v, WS_UNIT_BYTES, buf, len); return;
    case WS_K_HZ: ws_units_format(*(const int64_t *)v, WS_UNIT_HZ, buf, len); return;
    case WS_K_BPS:
      if ((k->flags & WS_F_INF) && *(const int64_t *)v == 0) snprintf(buf, len, "inf");
      else ws_units_format(*(const int64_t *)v, WS_UNIT_BPS, buf, len);
      return;
    case WS_K_NS:
      if (*(const int64_t *)v == 0) snprintf(buf, len, "0 s");
      else ws_units_format(*(const int64_t *)v, WS_UNIT_NS, buf, len);
      return;
    case WS_K_FRACTION:
    case WS_K_REAL: real_text(*(const double *)v, buf, len); return;
    case WS_K_ENUM: snprintf(buf, len, "%s", k->choices[*(const int *)v]); return;
    case WS_K_BOOL: snprintf(buf, len, "%s", *(const bool *)v ? "true" : "false"); return;
    case WS_K_PRESET: snprintf(buf, len, "%s", (const char *)v); return;
    case WS_K_STRING: quoted((const char *)v, buf, len); return;
    case WS_K_LAYER_MAP: {
      const double *l = v;
      used += (size_t)snprintf(buf, len, "{");
      for (int i = 0; i < WL_MAX_LAYERS && used < len; i++) {
        if (isnan(l[i])) continue;
        char r[32];
        real_text(l[i], r, sizeof r);
        used += (size_t)snprintf(buf + used, len - used, "%s%d: %s", used > 1 ? ", " : "", i, r);
      }
      if (used < len) snprintf(buf + used, len - used, "}");
      return;
    }
    case WS_K_NAME_MAP: {
      const wl_file_spec *fl = v;
      used += (size_t)snprintf(buf, len, "{");
      for (uint32_t i = 0; i < fl->ntensors && used + 4 < len; i++) {
        if (i) used += (size_t)snprintf(buf + used, len - used, ", ");
        used += quoted(fl->tensors[i].tensor, buf + used, len - used);
        used += (size_t)snprintf(buf + used, len - used, ": %s", fl->tensors[i].op);
      }
      if (used < len) snprintf(buf + used, len - used, "}");
      return;
    }
  }
}

void ws_schema_escape(const char *s, bool github, char *buf, size_t len) {
  if (len == 0) return;
  size_t o = 0;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    char esc[8] = {(char)*p, 0};
    if (github && (*p == '\n' || *p == '\r')) snprintf(esc, sizeof esc, "%%0%c", *p == '\n' ? 'A' : 'D');
    else if (*p == '\n' || *p == '\r' || *p == '\t')
      snprintf(esc, sizeof esc, "\\%c", *p == '\n' ? 'n' : *p == '\r' ? 'r' : 't');
    else if (*p < 0x20 || *p == 0x7F) snprintf(esc, sizeof esc, "\\x%02x", *p);
    const size_t n = strlen(esc);
    if (o + n >= len) break;
    memcpy(buf + o, esc, n);
    o += n;
  }
  buf[o] = '\0';
}

void ws_schema_one_line(char *msg, size_t len) {
  char *text = strdup(msg);
  if (!text) { /* out of memory: blank the control characters where they are */
    for (char *p = msg; *p; p++)
      if ((unsigned char)*p < 0x20 || *p == 0x7F) *p = ' ';
    return;
  }
  ws_schema_escape(text, false, msg, len);
  free(text);
}
