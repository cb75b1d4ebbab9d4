/* `wafersim check --baseline FILE.json [NEW.json]`: the regression test of
 * the performance model (the comparison itself is check.c). Without
 * NEW.json it runs the baseline's own configuration (with any --set on top;
 * a sweep, over its spec's levels and values) and compares that; with
 * --update-baseline it also rewrites a baseline of an older schema_version. Exit 0: nothing moved; 1: something moved; 2: the
 * documents cannot be compared (unreadable, invalid against the schema,
 * another schema_version or command, another configuration). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cli.h"
#include "cli_internal.h"
#include "jschema.h"
#include "report.h"
#include "run.h"
#include "workloads/infile.h"

#define MAX_ONLY 64

static int parse_tol(const char *opt, const char *text, double *v, FILE *err) {
  if (!text) return 0;
  char *end;
  errno = 0;
  *v = strtod(text, &end);
  if (errno || end == text || *end || !isfinite(*v) || *v < 0) {
    fprintf(err, "wafersim check: %s: expected a number >= 0, got '%s'\n", opt, text);
    return -1;
  }
  return 0;
}

/* A run or sweep document from path, valid against the schema; NULL with
 * the reason on err. An old baseline being updated (another schema_version)
 * needs only what running it again takes: its command and configuration. */
static json_t *load_doc(const char *path, const json_t *schema, bool updating, FILE *err) {
  json_error_t je;
  char msg[512];
  size_t len;
  char *text = wl_infile_read(path, "JSON document", WL_INFILE_DOC_MAX, &len, msg, sizeof msg);
  if (!text) {
    fprintf(err, "wafersim check: %s\n", msg);
    return NULL;
  }
  json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
  free(text);
  if (!doc) {
    if (je.line > 0) fprintf(err, "wafersim check: %s: line %d, column %d: %s\n", path, je.line, je.column, je.text);
    else fprintf(err, "wafersim check: %s: %s\n", path, je.text);
    return NULL;
  }
  const char *cmd = json_string_value(json_object_get(doc, "command"));
  if (cmd && strcmp(cmd, "run") != 0 && strcmp(cmd, "sweep") != 0) {
    fprintf(err, "wafersim check: %s: a document of '%s'; check compares those of run and sweep\n", path, cmd);
    json_decref(doc);
    return NULL;
  }
  if (updating && json_integer_value(json_object_get(doc, "schema_version")) != WS_OUTPUT_SCHEMA_VERSION &&
      json_is_object(json_object_get(doc, "config")) && cmd)
    return doc;
  if (ws_jschema_validate(schema, doc, msg, sizeof msg) != 0) {
    fprintf(err, "wafersim check: %s: %s (sim/output.schema.json)\n", path, msg);
    json_decref(doc);
    return NULL;
  }
  if (ws_check_unique(doc, msg, sizeof msg) != 0) {
    fprintf(err, "wafersim check: %s: %s\n", path, msg);
    json_decref(doc);
    return NULL;
  }
  return doc;
}

/* The baseline's configuration, then every --set; 0 or -1 with the reason on err. */
static int base_config(const json_t *base, const ws_cli_args *a, ws_config *cfg, FILE *err) {
  char *text = json_dumps(json_object_get(base, "config"), JSON_COMPACT), msg[WS_CONFIG_ERR_MAX] = "";
  const size_t nlen = strlen(a->baseline) + 16;
  char *name = malloc(nlen); /* sized to the path: the baseline is named in full */
  if (name) snprintf(name, nlen, "%s (its config)", a->baseline);
  int rc = text && name ? ws_config_init_default(cfg, msg, sizeof msg) : -1;
  if (rc == 0) rc = ws_config_load_string(cfg, text, strlen(text), name, msg, sizeof msg);
  for (int i = 0; rc == 0 && i < a->nsets; i++) rc = ws_config_set(cfg, a->sets[i], msg, sizeof msg);
  if (rc == 0) rc = ws_config_finish(cfg, msg, sizeof msg);
  free(text);
  free(name);
  if (rc != 0) fprintf(err, "wafersim check: %s\n", *msg ? msg : "out of memory");
  return rc;
}

static json_t *rerun_run(const ws_config *cfg, FILE *err) {
  char msg[WS_CONFIG_ERR_MAX] = "";
  ws_run *r = ws_run_simulate(cfg, NULL, NULL, msg, sizeof msg);
  if (!r) {
    fprintf(err, "wafersim check: %s\n", msg);
    return NULL;
  }
  ws_table *totals = ws_run_totals_table(r), *ops = ws_run_ops_table(r);
  json_t *doc = totals && ops ? ws_cli_run_doc(cfg, totals, ops) : NULL;
  ws_table_destroy(totals);
  ws_table_destroy(ops);
  ws_run_destroy(r);
  return doc;
}

/* The sweep its spec names, on two workers (the table does not depend on how many). */
static json_t *rerun_sweep(const json_t *base, const ws_config *cfg, const char *path, FILE *err) {
  const json_t *sp = json_object_get(json_object_get(base, "sweep"), "spec");
  const json_t *lv = json_object_get(sp, "levels"), *vs = json_object_get(sp, "values");
  const char *key = json_string_value(json_object_get(sp, "key"));
  if (!json_is_array(lv) || !json_is_array(vs) || !key) {
    fprintf(err, "wafersim check: %s has no sweep.spec (written before schema_version 2): run the sweep again and give "
            "its sweep.json as NEW.json\n", path);
    return NULL;
  }
  const size_t nl = json_array_size(lv), nv = json_array_size(vs);
  double *levels = calloc(nl + 1, sizeof *levels);
  const char **values = calloc(nv + 1, sizeof *values);
  for (size_t i = 0; levels && i < nl; i++) levels[i] = json_number_value(json_array_get(lv, i));
  for (size_t i = 0; values && i < nv; i++) values[i] = json_string_value(json_array_get(vs, i));
  json_t *doc = NULL;
  /* Messages about the levels and values name the baseline, not --set or --vary. */
  const size_t slen = strlen(path) + 32;
  char *source = malloc(slen);
  if (source) snprintf(source, slen, "%s (its sweep.spec)", path);
  if (levels && values && source) {
    const ws_sweep_spec spec = {levels, nl, *key ? key : NULL, values, nv, 2, NULL, NULL};
    char msg[WS_CONFIG_ERR_MAX] = "";
    ws_sweep *s = ws_sweep_run_from(cfg, &spec, source, msg, sizeof msg);
    if (!s) fprintf(err, "wafersim check: %s\n", msg);
    ws_table *rows = s ? ws_sweep_table(s) : NULL, *kinds = s ? ws_sweep_kinds_table(s) : NULL;
    if (rows && kinds) doc = ws_cli_sweep_doc(cfg, &spec, rows, kinds);
    ws_table_destroy(rows);
    ws_table_destroy(kinds);
    ws_sweep_destroy(s);
  }
  free(levels);
  free(values);
  free(source);
  return doc;
}

/* Run the baseline's configuration (then every --set) as the command that wrote it did. */
static json_t *rerun(const json_t *base, const ws_cli_args *a, FILE *err) {
  ws_config cfg;
  if (base_config(base, a, &cfg, err) != 0) return NULL;
  const bool run = strcmp(json_string_value(json_object_get(base, "command")), "run") == 0;
  return run ? rerun_run(&cfg, err) : rerun_sweep(base, &cfg, a->baseline, err);
}

static int write_doc(void *ctx, FILE *out) { return ws_cli_dump_json(ctx, out); }

/* Replace the baseline with doc, whole (report.h). */
static int update(const char *path, json_t *doc, FILE *out, FILE *err) {
  char msg[1200];
  if (ws_report_write_file(path, write_doc, doc, msg, sizeof msg) != 0) {
    fprintf(err, "wafersim check: %s\n", msg);
    return WS_EXIT_FAILURE;
  }
  fprintf(out, "check: %s updated; review it (git diff) and commit it with the change that moved it\n", path);
  return WS_EXIT_OK;
}

int ws_cmd_check(const ws_cli_args *a, FILE *out, FILE *err) {
  if (!a->baseline) {
    fprintf(err, "wafersim check: --baseline FILE.json is required; see 'wafersim check --help'\n");
    return WS_EXIT_BAD_INPUT;
  }
  ws_check_opts o = {1e-9, 0, NULL, 0, a->allow_config_change || a->update_baseline, WS_CHECK_TEXT, a->cost};
  if (parse_tol("--rtol", a->rtol, &o.rtol, err) || parse_tol("--atol", a->atol, &o.atol, err))
    return WS_EXIT_BAD_INPUT;
  if (a->check_format && strcmp(a->check_format, "github") == 0) o.format = WS_CHECK_GITHUB;
  else if (a->check_format && strcmp(a->check_format, "text") != 0) {
    fprintf(err, "wafersim check: --format: expected text or github, got '%s'\n", a->check_format);
    return WS_EXIT_BAD_INPUT;
  }
  char only_buf[1024];
  const char *only[MAX_ONLY];
  if (a->only) {
    if (strlen(a->only) >= sizeof only_buf) {
      fprintf(err, "wafersim check: --only: longer than %zu characters\n", sizeof only_buf - 1);
      return WS_EXIT_BAD_INPUT;
    }
    snprintf(only_buf, sizeof only_buf, "%s", a->only);
    for (char *save = NULL, *tok = strtok_r(only_buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
      if (o.nonly == MAX_ONLY) {
        fprintf(err, "wafersim check: --only: more than %d names\n", MAX_ONLY);
        return WS_EXIT_BAD_INPUT;
      }
      only[o.nonly++] = tok;
    }
    if (o.nonly == 0) {
      fprintf(err, "wafersim check: --only: expected KEY[,KEY...], got '%s'\n", a->only);
      return WS_EXIT_BAD_INPUT;
    }
    o.only = only;
  }
  char msg[1024];
  json_t *schema = ws_jschema_output(msg, sizeof msg);
  if (!schema) {
    fprintf(err, "wafersim check: %s\n", msg);
    return WS_EXIT_FAILURE;
  }
  if (a->update_baseline && ws_report_check_file(a->baseline, msg, sizeof msg) != 0) {
    fprintf(err, "wafersim check: --update-baseline: %s\n", msg);
    json_decref(schema);
    return WS_EXIT_FAILURE;
  }
  json_t *base = load_doc(a->baseline, schema, a->update_baseline, err), *cur = NULL;
  if (base) cur = a->file ? load_doc(a->file, schema, false, err) : rerun(base, a, err);
  int rc = WS_EXIT_BAD_INPUT;
  const json_int_t was = json_integer_value(json_object_get(base, "schema_version"));
  if (base && cur && a->update_baseline && was != WS_OUTPUT_SCHEMA_VERSION) {
    fprintf(out, "check: %s was of schema_version %lld, not compared\n", a->baseline, (long long)was);
    rc = update(a->baseline, cur, out, err);
  } else if (base && cur) {
    ws_check_result res;
    if (ws_check_compare(schema, base, cur, &o, out, &res, msg, sizeof msg) != 0)
      fprintf(err, "wafersim check: %s: %s\n", a->baseline, msg);
    else if (a->update_baseline)
      rc = update(a->baseline, cur, out, err);
    else
      rc = res.moved ? WS_EXIT_FAILURE : WS_EXIT_OK;
  }
  json_decref(cur);
  json_decref(base);
  json_decref(schema);
  return rc;
}
