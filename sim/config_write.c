/* Comparing configurations and writing them as YAML (read back to an equal
 * configuration) or JSON, both nested as the schema's sections are. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "schema.h"

#define TEXT_MAX 65536 /* the longest value text: a full tensor map */

static const void *value_of(const ws_config *cfg, const ws_key *k) { return (const char *)cfg + k->offset; }

/* Whether key k is written out: model dimensions only for a custom model
 * (the rotary base only for a llama), optional keys only where given. */
static bool in_effect(const ws_config *cfg, const ws_key *k) {
  if ((k->flags & (WS_F_CUSTOM_DIM | WS_F_CUSTOM_OPT)) && strcmp(cfg->model.name, "custom") != 0) return false;
  if (k->offset == offsetof(ws_config, model.rope_theta) && cfg->model.arch != MDL_ARCH_LLAMA) return false;
  return !(k->flags & WS_F_OPTIONAL) || !isnan(*(const double *)value_of(cfg, k));
}

bool ws_config_equal(const ws_config *a, const ws_config *b) {
  char *va = malloc(TEXT_MAX), *vb = malloc(TEXT_MAX);
  bool same = va && vb && a->model.d_head == b->model.d_head;
  for (size_t i = 0; same && i < ws_schema_keys(); i++) {
    ws_schema_format(a, ws_schema_key(i), va, TEXT_MAX); /* texts are exact: shortest round trip */
    ws_schema_format(b, ws_schema_key(i), vb, TEXT_MAX);
    same = strcmp(va, vb) == 0;
  }
  free(va);
  free(vb);
  return same;
}

static void write_section(const ws_config *cfg, const char *sec, int depth, char *text, FILE *out) {
  const int indent = 2 * depth;
  bool any = false;
  for (size_t i = 0; i < ws_schema_keys(); i++) {
    const ws_key *k = ws_schema_key(i);
    if (!ws_schema_in(k->path, sec) || !in_effect(cfg, k)) continue;
    if (!any) fprintf(out, "%*s%s:\n", indent, "", ws_schema_leaf(sec));
    any = true;
    ws_schema_format(cfg, k, text, TEXT_MAX);
    fprintf(out, "%*s  %s: %s\n", indent, "", ws_schema_leaf(k->path), text);
  }
  for (size_t s = 0; s < ws_schema_sections(); s++) {
    if (!ws_schema_in(ws_schema_section(s), sec)) continue;
    if (!any) fprintf(out, "%*s%s:\n", indent, "", ws_schema_leaf(sec));
    any = true;
    write_section(cfg, ws_schema_section(s), depth + 1, text, out);
  }
  if (!any) fprintf(out, "%*s%s: {}\n", indent, "", ws_schema_leaf(sec));
}

int ws_config_write_yaml(const ws_config *cfg, FILE *out) {
  char *text = malloc(TEXT_MAX);
  if (!text) return -1;
  fprintf(out, "# wafersim effective configuration\nschema_version: %d\n", WS_SCHEMA_VERSION);
  for (size_t s = 0; s < ws_schema_sections(); s++)
    if (!strchr(ws_schema_section(s), '.')) write_section(cfg, ws_schema_section(s), 0, text, out);
  free(text);
  return ferror(out) ? -1 : 0;
}

static json_t *json_value(const ws_config *cfg, const ws_key *k, char *text) {
  const void *v = value_of(cfg, k);
  switch (k->type) {
    case WS_K_BOOL: return json_boolean(*(const bool *)v);
    case WS_K_INT:
      if ((k->flags & WS_F_AUTO) && *(const int64_t *)v == 0) return json_string("auto");
      return json_integer(*(const int64_t *)v);
    case WS_K_FRACTION:
    case WS_K_REAL: return json_real(*(const double *)v);
    case WS_K_STRING: return json_string((const char *)v);
    case WS_K_LAYER_MAP: {
      json_t *map = json_object();
      for (int i = 0; i < WL_MAX_LAYERS; i++) {
        if (isnan(((const double *)v)[i])) continue;
        char layer[16];
        snprintf(layer, sizeof layer, "%d", i);
        json_object_set_new(map, layer, json_real(((const double *)v)[i]));
      }
      return map;
    }
    case WS_K_NAME_MAP: {
      const wl_file_spec *f = v;
      json_t *map = json_object();
      for (uint32_t i = 0; i < f->ntensors; i++) json_object_set_new(map, f->tensors[i].tensor, json_string(f->tensors[i].op));
      return map;
    }
    default: ws_schema_format(cfg, k, text, TEXT_MAX); return json_string(text);
  }
}

static json_t *json_section(const ws_config *cfg, const char *sec, char *text) {
  json_t *obj = json_object();
  for (size_t i = 0; i < ws_schema_keys(); i++) {
    const ws_key *k = ws_schema_key(i);
    if (ws_schema_in(k->path, sec) && in_effect(cfg, k))
      json_object_set_new(obj, ws_schema_leaf(k->path), json_value(cfg, k, text));
  }
  for (size_t s = 0; s < ws_schema_sections(); s++)
    if (ws_schema_in(ws_schema_section(s), sec))
      json_object_set_new(obj, ws_schema_leaf(ws_schema_section(s)), json_section(cfg, ws_schema_section(s), text));
  return obj;
}

json_t *ws_config_json(const ws_config *cfg) {
  char *text = malloc(TEXT_MAX);
  if (!text) return NULL;
  json_t *root = json_object();
  json_object_set_new(root, "schema_version", json_integer(WS_SCHEMA_VERSION));
  for (size_t s = 0; s < ws_schema_sections(); s++)
    if (!strchr(ws_schema_section(s), '.'))
      json_object_set_new(root, ws_schema_section(s), json_section(cfg, ws_schema_section(s), text));
  free(text);
  return root;
}
