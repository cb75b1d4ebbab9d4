/* A validator for the subset of JSON Schema the output schema uses (see jschema.h). */
#include "jschema.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char ws_output_schema_text[]; /* generated from sim/output.schema.json */

json_t *ws_jschema_output(char *err, size_t errlen) {
  json_error_t je;
  json_t *s = json_loads(ws_output_schema_text, 0, &je);
  if (!s) snprintf(err, errlen, "embedded output schema: line %d: %s", je.line, je.text);
  return s;
}

const json_t *ws_jschema_at(const json_t *root, const char *pointer) {
  if (pointer[0] != '#') return NULL;
  const json_t *s = root;
  const char *p = pointer + 1;
  while (s && *p == '/') {
    const char *end = strchr(p + 1, '/');
    const size_t len = end ? (size_t)(end - p - 1) : strlen(p + 1);
    char key[128];
    if (len >= sizeof key) return NULL;
    memcpy(key, p + 1, len);
    key[len] = '\0';
    s = json_object_get(s, key);
    p += len + 1;
  }
  return *p ? NULL : s;
}

/* s with its $ref followed (to a depth that no sane schema needs). */
static const json_t *deref(const json_t *root, const json_t *s) {
  for (int depth = 0; s && depth < 16; depth++) {
    const json_t *ref = json_object_get(s, "$ref");
    if (!json_is_string(ref)) return s;
    s = ws_jschema_at(root, json_string_value(ref));
  }
  return NULL;
}

const json_t *ws_jschema_property(const json_t *root, const json_t *s, const char *name) {
  s = deref(root, s);
  const json_t *p = json_object_get(json_object_get(s, "properties"), name);
  if (p) return deref(root, p);
  const json_t *extra = json_object_get(s, "additionalProperties");
  return json_is_object(extra) ? deref(root, extra) : NULL;
}

bool ws_jschema_is_host(const json_t *root, const json_t *property) {
  return json_is_true(json_object_get(deref(root, property), "x-host"));
}

bool ws_jschema_is_cost(const json_t *root, const json_t *property) {
  return json_is_true(json_object_get(deref(root, property), "x-cost"));
}

static const char *type_of(const json_t *v) {
  switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    default: return "null";
  }
}

static bool has_type(const json_t *v, const char *type) {
  const char *t = type_of(v);
  return strcmp(t, type) == 0 || (strcmp(type, "number") == 0 && strcmp(t, "integer") == 0);
}

/* Whether v has the type, or one of the types, a "type" keyword names. */
static bool type_matches(const json_t *v, const json_t *type) {
  if (json_is_string(type)) return has_type(v, json_string_value(type));
  size_t i;
  const json_t *t;
  json_array_foreach(type, i, t) if (json_is_string(t) && has_type(v, json_string_value(t))) return true;
  return false;
}

static double number(const json_t *v) { return json_number_value(v); }

typedef struct {
  const json_t *root;
  char *err;
  size_t errlen;
} ctx;

static int fail(ctx *c, const char *path, const char *fmt, const char *a, const char *b) {
  char what[256];
  snprintf(what, sizeof what, fmt, a, b);
  snprintf(c->err, c->errlen, "%s: %s", *path ? path : "(document)", what);
  return -1;
}

static int check(ctx *c, const json_t *s, const json_t *v, const char *path);

/* An object's fields: the names first (required, then none unknown), then
 * how many, then each value against its schema. */
static int check_object(ctx *c, const json_t *s, const json_t *v, const char *path) {
  const json_t *req = json_object_get(s, "required"), *props = json_object_get(s, "properties"),
               *extra = json_object_get(s, "additionalProperties");
  size_t i;
  const json_t *name;
  json_array_foreach(req, i, name) {
    if (!json_object_get(v, json_string_value(name)))
      return fail(c, path, "missing required field '%s'%s", json_string_value(name), "");
  }
  const char *key;
  const json_t *val;
  json_object_foreach((json_t *)v, key, val) {
    if (!json_object_get(props, key) && json_is_false(extra))
      return fail(c, path, "field '%s' is not in the schema%s", key, "");
  }
  const json_t *least = json_object_get(s, "minProperties"), *most = json_object_get(s, "maxProperties");
  const long long size = (long long)json_object_size(v);
  char n[32], limit[32];
  snprintf(n, sizeof n, "%lld", size);
  if (least && size < json_integer_value(least)) {
    snprintf(limit, sizeof limit, "%lld", (long long)json_integer_value(least));
    return fail(c, path, "%s fields, expected at least %s", n, limit);
  }
  if (most && size > json_integer_value(most)) {
    snprintf(limit, sizeof limit, "%lld", (long long)json_integer_value(most));
    return fail(c, path, "%s fields, expected at most %s", n, limit);
  }
  json_object_foreach((json_t *)v, key, val) {
    char sub[512];
    snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", key);
    const json_t *ps = json_object_get(props, key);
    if (!ps) ps = json_is_object(extra) ? extra : NULL;
    if (ps && check(c, ps, val, sub) != 0) return -1;
  }
  return 0;
}

/* The validation keywords this validator implements, then the annotations it skips. */
static const char *const keywords[] = {
    "type",  "const", "enum", "minimum", "maximum", "required", "minProperties", "maxProperties", "properties",
    "additionalProperties", "items", "allOf", "if", "then", "$ref", "$schema", "$id", "$defs", "title",
    "description", "x-unit", "x-host", "x-cost", NULL};

static int check(ctx *c, const json_t *s, const json_t *v, const char *path) {
  const char *kw;
  const json_t *arg;
  json_object_foreach((json_t *)s, kw, arg) {
    size_t k = 0;
    while (keywords[k] && strcmp(keywords[k], kw) != 0) k++;
    if (!keywords[k]) return fail(c, path, "the schema uses '%s', which this validator does not implement%s", kw, "");
  }
  const json_t *ref = json_object_get(s, "$ref");
  if (ref) {
    const json_t *target = ws_jschema_at(c->root, json_string_value(ref));
    if (!target) return fail(c, path, "schema $ref '%s' names nothing%s", json_string_value(ref), "");
    if (check(c, target, v, path) != 0) return -1;
  }
  const json_t *type = json_object_get(s, "type");
  if (type && !type_matches(v, type)) {
    char *want = json_is_string(type) ? NULL : json_dumps(type, JSON_COMPACT);
    fail(c, path, "expected %s, got %s", want ? want : json_string_value(type), type_of(v));
    free(want);
    return -1;
  }
  size_t i;
  const json_t *cst = json_object_get(s, "const");
  if (cst && !json_equal((json_t *)cst, (json_t *)v)) {
    char *want = json_dumps(cst, JSON_ENCODE_ANY), *got = json_dumps(v, JSON_ENCODE_ANY);
    fail(c, path, "expected %s, got %s", want ? want : "?", got ? got : "?");
    free(want), free(got);
    return -1;
  }
  const json_t *en = json_object_get(s, "enum");
  if (en) {
    const json_t *e;
    bool found = false;
    json_array_foreach(en, i, e) found = found || json_equal((json_t *)e, (json_t *)v);
    if (!found) {
      char *want = json_dumps(en, JSON_COMPACT), *got = json_dumps(v, JSON_ENCODE_ANY);
      fail(c, path, "expected one of %s, got %s", want ? want : "?", got ? got : "?");
      free(want), free(got);
      return -1;
    }
  }
  const json_t *lo = json_object_get(s, "minimum"), *hi = json_object_get(s, "maximum");
  if (json_is_number(v) && ((lo && number(v) < number(lo)) || (hi && number(v) > number(hi)))) {
    char val[64], lim[64];
    snprintf(val, sizeof val, "%.17g", number(v));
    snprintf(lim, sizeof lim, "[%.17g, %.17g]", lo ? number(lo) : -INFINITY, hi ? number(hi) : INFINITY);
    return fail(c, path, "%s is outside %s", val, lim);
  }
  if (json_is_object(v) && check_object(c, s, v, path) != 0) return -1;
  const json_t *items = json_object_get(s, "items");
  if (json_is_array(v) && items) {
    const json_t *e;
    json_array_foreach(v, i, e) {
      char sub[512];
      snprintf(sub, sizeof sub, "%s[%zu]", path, i);
      if (check(c, items, e, sub) != 0) return -1;
    }
  }
  /* the conditions last, so that a plainer violation is the one named */
  const json_t *part;
  json_array_foreach(json_object_get(s, "allOf"), i, part) if (check(c, part, v, path) != 0) return -1;
  const json_t *cond = json_object_get(s, "if"), *then = json_object_get(s, "then");
  if (cond && then) {
    char scratch[512];
    ctx quiet = {c->root, scratch, sizeof scratch};
    if (check(&quiet, cond, v, path) == 0 && check(c, then, v, path) != 0) return -1;
  }
  return 0;
}

int ws_jschema_validate(const json_t *root, const json_t *doc, char *err, size_t errlen) {
  ctx c = {root, err, errlen};
  return check(&c, root, doc, "");
}
