/* Fuzz target (c): the documents of `wafersim check`. The input is one JSON
 * document, or two split at the first NUL byte (the baseline, then the new
 * one); each is parsed as check parses a file (jansson, duplicate keys
 * refused) and validated against the embedded output schema. Invariants: a
 * schema violation is one line; a valid run or sweep document compared
 * with a copy of itself compares and moves nothing, in either output
 * format (or is refused, in one line, for two rows of the same name); two valid documents either cannot be compared (one line why) or
 * compare both ways with as many figures moved (zero tolerances), and the
 * github format writes one line per moved figure plus the summary. */
#define _GNU_SOURCE /* open_memstream */
#include <jansson.h>
#include <string.h>

#include "fuzz.h"
#include "sim/check.h"
#include "sim/jschema.h"

/* A document as check loads one: NULL if it is not JSON or not valid against
 * the schema (then *rc is the outcome: refused, or violated). */
static json_t *load(const json_t *schema, const uint8_t *data, size_t size, int *rc, char *why, size_t whylen) {
  json_t *doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
  *rc = WS_FUZZ_REFUSED;
  if (!doc) return NULL;
  char err[512] = "";
  if (ws_jschema_validate(schema, doc, err, sizeof err) != 0) {
    if (!ws_fuzz_one_line(err)) *rc = ws_fuzz_fail(why, whylen, "a schema violation not one line: '%s'", err);
    json_decref(doc);
    return NULL;
  }
  *rc = WS_FUZZ_ACCEPTED;
  return doc;
}

typedef struct {
  int rc;               /* of ws_check_compare */
  ws_check_result res;
  size_t lines, errors; /* lines written, of them "::error" lines */
  bool warned;          /* a "configurations differ" line */
  char err[1024];
} outcome;

static void compare(const json_t *schema, const json_t *a, const json_t *b, ws_check_format format, outcome *o) {
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  const ws_check_opts opts = {0.0, 0.0, NULL, 0, true, format, false};
  o->err[0] = '\0';
  o->res = (ws_check_result){0, 0};
  o->rc = out ? ws_check_compare(schema, a, b, &opts, out, &o->res, o->err, sizeof o->err) : -2;
  o->lines = o->errors = 0;
  o->warned = false;
  if (out && fclose(out) == 0 && text) {
    for (const char *line = text; *line;) {
      const char *nl = strchr(line, '\n');
      o->lines++;
      o->errors += ws_fuzz_starts(line, "::error ");
      o->warned |= ws_fuzz_starts(line, "::warning ") || ws_fuzz_starts(line, "check: the configurations differ");
      line = nl ? nl + 1 : line + strlen(line);
    }
  } else {
    o->rc = -2;
  }
  free(text);
}

static int check_pair(const json_t *schema, const json_t *a, const json_t *b, char *why, size_t whylen) {
  outcome ab, ba;
  compare(schema, a, b, WS_CHECK_GITHUB, &ab);
  if (ab.rc == -2) return ws_fuzz_fail(why, whylen, "out of memory");
  if (ab.rc != 0) {
    if (!ws_fuzz_one_line(ab.err)) return ws_fuzz_fail(why, whylen, "a refusal not one line: '%s'", ab.err);
    return WS_FUZZ_REFUSED;
  }
  if (ab.errors != ab.res.moved || ab.lines != ab.res.moved + 1 + ab.warned)
    return ws_fuzz_fail(why, whylen, "github format: %zu lines, %zu ::error, for %zu moved", ab.lines, ab.errors,
                        ab.res.moved);
  compare(schema, b, a, WS_CHECK_GITHUB, &ba);
  if (ba.rc != 0 || ba.res.moved != ab.res.moved || ba.res.compared != ab.res.compared)
    return ws_fuzz_fail(why, whylen, "not symmetric: %zu of %zu moved one way, %zu of %zu (rc %d: %s) the other",
                        ab.res.moved, ab.res.compared, ba.res.moved, ba.res.compared, ba.rc, ba.err);
  return WS_FUZZ_ACCEPTED;
}

static int check_self(const json_t *schema, const json_t *doc, char *why, size_t whylen) {
  const char *cmd = json_string_value(json_object_get(doc, "command"));
  if (!cmd || (strcmp(cmd, "run") != 0 && strcmp(cmd, "sweep") != 0)) return WS_FUZZ_ACCEPTED; /* check refuses those */
  json_t *copy = json_deep_copy(doc);
  outcome o;
  int rc = WS_FUZZ_ACCEPTED;
  for (int f = 0; f < 2 && rc == WS_FUZZ_ACCEPTED; f++) {
    compare(schema, doc, copy, f ? WS_CHECK_TEXT : WS_CHECK_GITHUB, &o);
    if (o.rc == -1 && strstr(o.err, " are both ") && ws_fuzz_one_line(o.err)) break; /* rows it cannot match */
    if (o.rc != 0 || o.res.moved != 0 || o.warned || o.lines != 1)
      rc = ws_fuzz_fail(why, whylen, "a %s document against itself: rc %d (%s), %zu of %zu moved, %zu lines", cmd, o.rc,
                        o.err, o.res.moved, o.res.compared, o.lines);
  }
  json_decref(copy);
  return rc;
}

/* The output schema, parsed on the first call and kept (never changed, and
 * parsing its 40 kB took most of the time of an input). */
static const json_t *output_schema(char *err, size_t errlen) {
  static json_t *schema;
  if (!schema) schema = ws_jschema_output(err, errlen);
  return schema;
}

int ws_fuzz_check(const uint8_t *data, size_t size, char *why, size_t whylen) {
  char err[512] = "";
  const json_t *schema = output_schema(err, sizeof err);
  if (!schema) return ws_fuzz_fail(why, whylen, "the embedded schema: %s", err);
  const uint8_t *nul = memchr(data, '\0', size);
  const size_t n1 = nul ? (size_t)(nul - data) : size;
  int rc1, rc2 = WS_FUZZ_REFUSED;
  json_t *a = load(schema, data, n1, &rc1, why, whylen), *b = NULL;
  if (nul && rc1 != WS_FUZZ_VIOLATED) b = load(schema, nul + 1, size - n1 - 1, &rc2, why, whylen);
  int rc = rc1 == WS_FUZZ_VIOLATED || rc2 == WS_FUZZ_VIOLATED ? WS_FUZZ_VIOLATED : a || b ? WS_FUZZ_ACCEPTED : WS_FUZZ_REFUSED;
  if (a) rc = check_self(schema, a, why, whylen);
  if (b && rc == WS_FUZZ_ACCEPTED) rc = check_self(schema, b, why, whylen);
  if (a && b && rc == WS_FUZZ_ACCEPTED) rc = check_pair(schema, a, b, why, whylen);
  json_decref(a);
  json_decref(b);
  return rc;
}

WS_FUZZ_ENTRY(ws_fuzz_check)
