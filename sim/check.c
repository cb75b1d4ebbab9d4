/* Field-by-field comparison of two output documents (see check.h). */
#include "check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jschema.h"
#include "schema.h"

typedef struct {
  const json_t *schema;
  const ws_check_opts *o;
  FILE *out;
  ws_check_result *res;
  size_t *only_hits; /* per --only name, the fields it compared */
  bool header;       /* the text table's header printed */
} cmp;

static void text_of(const json_t *v, char *buf, size_t len) {
  if (!v) snprintf(buf, len, "(missing)");
  else if (json_is_string(v)) snprintf(buf, len, "%s", json_string_value(v));
  else if (json_is_number(v)) snprintf(buf, len, "%.10g", json_number_value(v));
  else {
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    snprintf(buf, len, "%s", s ? s : "?");
    free(s);
  }
}

static void report(cmp *c, const char *where_raw, const char *field_raw, const json_t *a, const json_t *b, double tol) {
  char old_raw[64], now_raw[64], change[32] = "-", tolerance[32] = "-";
  char where[640], field[256], old[256], now[256];
  const bool github = c->o->format == WS_CHECK_GITHUB;
  text_of(a, old_raw, sizeof old_raw);
  text_of(b, now_raw, sizeof now_raw);
  ws_schema_escape(where_raw, github, where, sizeof where);
  ws_schema_escape(field_raw, github, field, sizeof field);
  ws_schema_escape(old_raw, github, old, sizeof old);
  ws_schema_escape(now_raw, github, now, sizeof now);
  if (json_is_number(a) && json_is_number(b)) {
    snprintf(tolerance, sizeof tolerance, "%.3g", tol);
    if (json_number_value(a) != 0)
      snprintf(change, sizeof change, "%+.4f%%",
               100.0 * (json_number_value(b) - json_number_value(a)) / fabs(json_number_value(a)));
  }
  c->res->moved++;
  if (github) {
    fprintf(c->out, "::error title=wafersim check::%s %s moved from %s to %s (%s; tolerance %s)\n", where, field,
            old, now, change, tolerance);
    return;
  }
  if (!c->header) {
    fprintf(c->out, "%-24s %-18s %18s %18s %12s %10s\n", "where", "field", "old", "new", "change", "tolerance");
    c->header = true;
  }
  fprintf(c->out, "%-24s %-18s %18s %18s %12s %10s\n", where, field, old, now, change, tolerance);
}

static bool wanted(cmp *c, const char *field) {
  if (!c->o->only) return true;
  for (size_t i = 0; i < c->o->nonly; i++)
    if (strcmp(c->o->only[i], field) == 0) {
      c->only_hits[i]++;
      return true;
    }
  return false;
}

/* One field of an object that schema def describes; a or b NULL where missing. */
static void field(cmp *c, const json_t *def, const char *where, const char *name, const json_t *a, const json_t *b) {
  const json_t *ps = ws_jschema_property(c->schema, def, name);
  if ((ps && ws_jschema_is_host(c->schema, ps)) || (ps && !c->o->cost && ws_jschema_is_cost(c->schema, ps)) ||
      !wanted(c, name))
    return;
  c->res->compared++;
  if (json_is_number(a) && json_is_number(b)) {
    const double x = json_number_value(a), y = json_number_value(b), tol = c->o->atol + c->o->rtol * fabs(x);
    if (fabs(y - x) > tol) report(c, where, name, a, b, tol);
  } else if (!a || !b || !json_equal((json_t *)a, (json_t *)b)) {
    report(c, where, name, a, b, 0);
  }
}

static void object(cmp *c, const json_t *def, const char *where, const json_t *a, const json_t *b) {
  const char *key;
  const json_t *v;
  json_object_foreach((json_t *)a, key, v) field(c, def, where, key, v, json_object_get(b, key));
  json_object_foreach((json_t *)b, key, v) if (!json_object_get(a, key)) field(c, def, where, key, NULL, v);
}

/* The shortest decimal text that reads back to d exactly: two levels are
 * the same row only when they are the same number. */
static void exact_text(double d, char *buf, size_t len) {
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, len, "%.*g", prec, d);
    if (strtod(buf, NULL) == d) return;
  }
}

/* A row's name: an op's, or a sweep row's sparsity and --vary value.
 * False if it does not fit in len (ws_check_unique refuses such a row). */
static bool row_key(const json_t *row, char *buf, size_t len) {
  const json_t *op = json_object_get(row, "op");
  if (op) return (size_t)snprintf(buf, len, "%s", json_string_value(op)) < len;
  const char *value = json_string_value(json_object_get(row, "value"));
  char level[32];
  exact_text(json_number_value(json_object_get(row, "sparsity")), level, sizeof level);
  return (size_t)snprintf(buf, len, "s=%s%s%s", level, value && *value ? " v=" : "", value ? value : "") < len;
}

/* Whether the rows' keys (row_key) are unique; -1 naming the first repeated one. */
static int unique_rows(const json_t *rows, const char *section, char *err, size_t errlen) {
  json_t *seen = json_object();
  size_t i;
  const json_t *r;
  int rc = seen ? 0 : -1;
  if (!seen) snprintf(err, errlen, "out of memory");
  json_array_foreach(rows, i, r) {
    if (rc) break;
    char key[WS_CHECK_KEY_MAX];
    const json_t *first = NULL;
    if (!row_key(r, key, sizeof key)) {
      snprintf(err, errlen, "%s: row %zu: its %s is longer than %d characters", section, i,
               json_object_get(r, "op") ? "op name" : "--vary value", WS_CHECK_KEY_MAX - 16);
      rc = -1;
    } else if ((first = json_object_get(seen, key)) != NULL) {
      snprintf(err, errlen, "%s: rows %lld and %zu are both %s; expected each %s once", section,
               (long long)json_integer_value(first), i, key,
               json_object_get(r, "op") ? "op" : "sparsity and --vary value");
      rc = -1;
    } else if (json_object_set_new(seen, key, json_integer((json_int_t)i)) != 0) {
      snprintf(err, errlen, "out of memory");
      rc = -1;
    }
  }
  json_decref(seen);
  return rc;
}

int ws_check_unique(const json_t *doc, char *err, size_t errlen) {
  const char *cmd = json_string_value(json_object_get(doc, "command"));
  const json_t *fig = cmd ? json_object_get(doc, cmd) : NULL;
  if (!cmd || !fig) return 0;
  if (strcmp(cmd, "run") == 0) return unique_rows(json_object_get(fig, "ops"), "run.ops", err, errlen);
  if (strcmp(cmd, "sweep") == 0)
    return unique_rows(json_object_get(fig, "points"), "sweep.points", err, errlen) != 0 ||
                   unique_rows(json_object_get(fig, "kinds"), "sweep.kinds", err, errlen) != 0
               ? -1
               : 0;
  return 0;
}

static const json_t *find_row(const json_t *rows, const char *key) {
  size_t i;
  const json_t *r;
  char k[WS_CHECK_KEY_MAX];
  json_array_foreach(rows, i, r) {
    row_key(r, k, sizeof k);
    if (strcmp(k, key) == 0) return r;
  }
  return NULL;
}

/* A row of only one of the documents. */
static void row_alone(cmp *c, const char *where, bool in_base) {
  json_t *p = json_string("present");
  c->res->compared++;
  report(c, where, "(row)", in_base ? p : NULL, in_base ? NULL : p, 0);
  json_decref(p);
}

static void rows(cmp *c, const char *def_name, const char *what, const json_t *a, const json_t *b) {
  const json_t *def = ws_jschema_at(c->schema, def_name);
  size_t i;
  const json_t *r;
  char key[WS_CHECK_KEY_MAX], where[WS_CHECK_KEY_MAX + 32];
  json_array_foreach(a, i, r) {
    row_key(r, key, sizeof key);
    snprintf(where, sizeof where, "%s[%s]", what, key);
    const json_t *other = find_row(b, key);
    if (other) object(c, def, where, r, other);
    else row_alone(c, where, true);
  }
  json_array_foreach(b, i, r) {
    row_key(r, key, sizeof key);
    snprintf(where, sizeof where, "%s[%s]", what, key);
    if (!find_row(a, key)) row_alone(c, where, false);
  }
}

/* Up to `room` differing leaves of two configurations, as "path: a vs b; ". */
static void config_diff(const json_t *a, const json_t *b, const char *path, char *buf, size_t len, int *room) {
  if (*room <= 0 || json_equal((json_t *)a, (json_t *)b)) return;
  if (json_is_object(a) && json_is_object(b)) {
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)a, key, v) {
      char sub[256];
      snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", key);
      const json_t *w = json_object_get(b, key);
      config_diff(v, w ? w : json_null(), sub, buf, len, room);
    }
    json_object_foreach((json_t *)b, key, v) if (!json_object_get(a, key)) {
      char sub[256];
      snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", key);
      config_diff(json_null(), v, sub, buf, len, room);
    }
    return;
  }
  char x[64], y[64];
  text_of(a, x, sizeof x);
  text_of(b, y, sizeof y);
  const size_t used = strlen(buf);
  snprintf(buf + used, len - used, "%s%s: %s vs %s", used ? "; " : "", path, x, y);
  (*room)--;
}

static int compare_docs(const json_t *schema, const json_t *base, const json_t *cur, const ws_check_opts *o,
                        FILE *out, ws_check_result *res, char *err, size_t errlen) {
  *res = (ws_check_result){0, 0};
  const json_t *va = json_object_get(base, "schema_version"), *vb = json_object_get(cur, "schema_version");
  if (!json_equal((json_t *)va, (json_t *)vb)) {
    snprintf(err, errlen, "schema_version %lld of the baseline against %lld: regenerate the baseline with this version",
             json_integer_value(va), json_integer_value(vb));
    return -1;
  }
  const char *cmd = json_string_value(json_object_get(base, "command"));
  if (!cmd || !json_equal(json_object_get(base, "command"), json_object_get(cur, "command"))) {
    snprintf(err, errlen, "the baseline is of command '%s', the new document of '%s'", cmd ? cmd : "?",
             json_string_value(json_object_get(cur, "command")));
    return -1;
  }
  json_t *ca = json_deep_copy(json_object_get(base, "config")), *cb = json_deep_copy(json_object_get(cur, "config"));
  json_object_del(ca, "output");
  json_object_del(cb, "output");
  char diff[768] = "";
  int room = 6;
  config_diff(ca, cb, "", diff, sizeof diff, &room);
  json_decref(ca);
  json_decref(cb);
  if (*diff && !o->allow_config_change) {
    snprintf(err, errlen, "the configurations differ (%s); --allow-config-change compares them anyway", diff);
    return -1;
  }
  const json_t *a = json_object_get(base, cmd), *b = json_object_get(cur, cmd);
  const bool run = strcmp(cmd, "run") == 0;
  /* rows are matched by their key: with two of one key, one would be compared with the other's match */
  char why[WS_CHECK_KEY_MAX + 256];
  const json_t *const docs[2] = {base, cur};
  for (int d = 0; d < 2; d++)
    if (ws_check_unique(docs[d], why, sizeof why) != 0) {
      snprintf(err, errlen, "the %s: %s", d ? "new document" : "baseline", why);
      return -1;
    }
  cmp c = {schema, o, out, res, calloc(o->nonly + 1, sizeof(size_t)), false};
  if (!c.only_hits) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  if (*diff) {
    char quoted[2048];
    ws_schema_escape(diff, o->format == WS_CHECK_GITHUB, quoted, sizeof quoted);
    fprintf(out, "%sthe configurations differ (%s)\n",
            o->format == WS_CHECK_GITHUB ? "::warning title=wafersim check::" : "check: ", quoted);
  }
  if (run) {
    object(&c, ws_jschema_at(schema, "#/$defs/totals"), "totals", json_object_get(a, "totals"),
           json_object_get(b, "totals"));
    rows(&c, "#/$defs/op", "ops", json_object_get(a, "ops"), json_object_get(b, "ops"));
  } else {
    rows(&c, "#/$defs/point", "points", json_object_get(a, "points"), json_object_get(b, "points"));
    rows(&c, "#/$defs/kinds", "kinds", json_object_get(a, "kinds"), json_object_get(b, "kinds"));
  }
  int rc = 0;
  for (size_t i = 0; i < o->nonly; i++)
    if (c.only_hits[i] == 0 && rc == 0) {
      snprintf(err, errlen, "--only: '%s' names no compared figure of a %s document", o->only[i], cmd);
      rc = -1;
    }
  free(c.only_hits);
  if (rc == 0)
    fprintf(out, "check: %zu of %zu figures moved (rtol %g, atol %g)\n", res->moved, res->compared, o->rtol,
            o->atol);
  return rc;
}

int ws_check_compare(const json_t *schema, const json_t *base, const json_t *cur, const ws_check_opts *o,
                     FILE *out, ws_check_result *res, char *err, size_t errlen) {
  const int rc = compare_docs(schema, base, cur, o, out, res, err, errlen);
  if (rc != 0) ws_schema_one_line(err, errlen); /* the reason quotes op names and values: one line */
  return rc;
}
