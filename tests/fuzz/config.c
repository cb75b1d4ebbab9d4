/* Fuzz target (a): the configuration loader. The input is a YAML text, then
 * (after the first NUL byte) --set assignments, one a line; they apply on top
 * of the embedded default as on the command line, then ws_config_finish.
 * Invariants: a refusal is one line naming where (the file "fuzz.yaml:", the
 * "--set", or the origin of a cross-key error), and a refused --set leaves
 * the configuration as it was; an accepted configuration is valid (model
 * dimensions, ranges), writes YAML that reads back equal and writes the
 * same YAML again, and its JSON echo (what `check` reloads from a baseline)
 * reads back equal too. */
#define _GNU_SOURCE /* open_memstream is POSIX 2008; jansson's header wants nothing more */
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "fuzz.h"
#include "models/gpt.h"
#include "sim/config.h"

/* cfg's YAML in a new string (NULL if the stream fails). */
static char *yaml_of(const ws_config *cfg) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f) return NULL;
  const int rc = ws_config_write_yaml(cfg, f);
  if (fclose(f) != 0 || rc != 0) {
    free(text);
    return NULL;
  }
  return text;
}

/* text loaded onto the default into out and finished; 0, or -1 with the reason in err. */
static int reload(const char *text, const char *name, ws_config *out, char *err, size_t errlen) {
  if (ws_config_init_default(out, err, errlen) != 0) return -1;
  if (ws_config_load_string(out, text, strlen(text), name, err, errlen) != 0) return -1;
  return ws_config_finish(out, err, errlen);
}

/* The invariants of an accepted configuration. */
static int check_accepted(const ws_config *c, ws_config *back, char *why, size_t whylen) {
  char msg[WS_CONFIG_ERR_MAX] = "";
  if (mdl_gpt_check(&c->model, msg, sizeof msg) != 0) return ws_fuzz_fail(why, whylen, "accepted an invalid model: %s", msg);
  if (c->fabric.width < 1 || c->fabric.height < 1 || c->fabric.sram_per_pe < 1 || c->fabric.clock < 1000000)
    return ws_fuzz_fail(why, whylen, "accepted fabric %lldx%lld, %lld B SRAM, %lld Hz", (long long)c->fabric.width,
                        (long long)c->fabric.height, (long long)c->fabric.sram_per_pe, (long long)c->fabric.clock);
  if (!(c->workload.sparsity >= 0.0 && c->workload.sparsity < 1.0))
    return ws_fuzz_fail(why, whylen, "accepted workload.sparsity %g", c->workload.sparsity);
  if (c->workload.seq_len < 1 || c->workload.seq_len > c->model.context || c->workload.micro_batch < 0 ||
      (c->workload.micro_batch > 0 && c->workload.seq_len % c->workload.micro_batch != 0)) /* 0: auto */
    return ws_fuzz_fail(why, whylen, "accepted seq_len %lld, micro_batch %lld, context %lld",
                        (long long)c->workload.seq_len, (long long)c->workload.micro_batch, (long long)c->model.context);
  if (c->workload.batch < 1 || c->workload.batch * c->workload.seq_len > WS_TOKENS_MAX)
    return ws_fuzz_fail(why, whylen, "accepted batch %lld of seq_len %lld", (long long)c->workload.batch,
                        (long long)c->workload.seq_len);

  /* The YAML echo reads back equal, and is a fixed point. */
  char *text = yaml_of(c), *again = NULL;
  int rc = WS_FUZZ_ACCEPTED;
  if (!text) rc = ws_fuzz_fail(why, whylen, "ws_config_write_yaml failed");
  else if (reload(text, "written.yaml", back, msg, sizeof msg) != 0)
    rc = ws_fuzz_fail(why, whylen, "the written YAML does not load: %s\n--- written:\n%s", msg, text);
  else if (!ws_config_equal(c, back))
    rc = ws_fuzz_fail(why, whylen, "the written YAML reads back to another configuration\n--- written:\n%s", text);
  else if (!(again = yaml_of(back)) || strcmp(text, again) != 0)
    rc = ws_fuzz_fail(why, whylen, "the YAML of the reloaded configuration differs\n--- first:\n%s--- then:\n%s", text,
                      again ? again : "(write failed)");
  free(text);
  free(again);
  if (rc != WS_FUZZ_ACCEPTED) return rc;

  /* The JSON echo (a document's "config") reads back equal: check reruns baselines from it. */
  json_t *j = ws_config_json(c);
  char *js = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  if (!js) rc = ws_fuzz_fail(why, whylen, "ws_config_json failed");
  else if (reload(js, "config.json", back, msg, sizeof msg) != 0)
    rc = ws_fuzz_fail(why, whylen, "the JSON echo does not load: %s\n--- json: %s", msg, js);
  else if (!ws_config_equal(c, back))
    rc = ws_fuzz_fail(why, whylen, "the JSON echo reads back to another configuration\n--- json: %s", js);
  free(js);
  return rc;
}

static int run(const uint8_t *data, size_t size, ws_config *c, ws_config *before, char *why, size_t whylen) {
  char err[WS_CONFIG_ERR_MAX] = "";
  if (ws_config_init_default(c, err, sizeof err) != 0) return ws_fuzz_fail(why, whylen, "the default: %s", err);
  const uint8_t *nul = memchr(data, '\0', size);
  const size_t ylen = nul ? (size_t)(nul - data) : size;
  *before = *c;
  if (ws_config_load_string(c, (const char *)data, ylen, "fuzz.yaml", err, sizeof err) != 0) {
    if (!ws_fuzz_one_line(err) || !ws_fuzz_starts(err, "fuzz.yaml:"))
      return ws_fuzz_fail(why, whylen, "a load error not one line naming fuzz.yaml: '%s'", err);
    if (memcmp(before, c, sizeof *c) != 0) return ws_fuzz_fail(why, whylen, "a refused load changed the configuration");
    return WS_FUZZ_REFUSED;
  }
  /* The --set lines. */
  for (size_t at = ylen + 1; nul && at <= size;) {
    size_t end = at;
    while (end < size && data[end] != '\n' && data[end] != '\0') end++;
    char *line = ws_fuzz_strndup(data + at, end - at);
    if (!line) return ws_fuzz_fail(why, whylen, "out of memory");
    int rc = WS_FUZZ_ACCEPTED;
    *before = *c;
    if (*line && ws_config_set(c, line, err, sizeof err) != 0) {
      if (!ws_fuzz_one_line(err) || !ws_fuzz_starts(err, "--set "))
        rc = ws_fuzz_fail(why, whylen, "a --set error not one line naming --set: '%s' (for '%s')", err, line);
      else if (memcmp(before, c, sizeof *c) != 0)
        rc = ws_fuzz_fail(why, whylen, "a refused --set changed the configuration: '%s'", line);
      else rc = WS_FUZZ_REFUSED;
    }
    free(line);
    if (rc != WS_FUZZ_ACCEPTED) return rc;
    at = end + 1;
  }
  if (ws_config_finish(c, err, sizeof err) != 0) {
    if (!ws_fuzz_one_line(err) ||
        !(ws_fuzz_starts(err, "fuzz.yaml:") || ws_fuzz_starts(err, "--set") || ws_fuzz_starts(err, "(embedded default)")))
      return ws_fuzz_fail(why, whylen, "a cross-key error not one line naming where: '%s'", err);
    return WS_FUZZ_REFUSED;
  }
  return check_accepted(c, before, why, whylen);
}

int ws_fuzz_config(const uint8_t *data, size_t size, char *why, size_t whylen) {
  ws_config *c = malloc(2 * sizeof *c); /* large (tensor maps): not on the stack */
  if (!c) return ws_fuzz_fail(why, whylen, "out of memory");
  const int rc = run(data, size, c, c + 1, why, whylen);
  free(c);
  return rc;
}

WS_FUZZ_ENTRY(ws_fuzz_config)
