/* Fuzz target (d): the command line. The input is the arguments after
 * "wafersim", separated by NUL bytes (the first is the command); stdout and
 * stderr go to memory streams.
 *
 * Bounded work: every command that accepts options gets, after the fuzzed
 * arguments, fixed --set assignments of a tiny model on a tiny mesh (one
 * layer, d_model 16, a 16-token prefill, 16 x 16 PEs): the last --set of a
 * key wins, so whatever file or --set the input gives, nothing simulates
 * more than that (a fuzzed option left without its value eats the first
 * fixed argument; the next is then a second FILE, refused). The options that
 * size work but are not keys (--wavelets, --messages, --region, --batch,
 * --micro-batches, --tiling, --jobs, --vary, --sparsity, --schedule, and
 * gemm's --m, --k and --n) are
 * bounded instead: numbers in their values at most 64 (--jobs 2), at most
 * 4 list items, a --schedule step of at least 0.1; inputs beyond are
 * skipped. Inputs that would write files (--out, --map, --update-baseline)
 * or read outside the working directory (an argument starting with '/' or
 * holding "..", e.g. /dev/stdin) are skipped too; relative paths read files
 * of the tree (the fuzzer runs from the repository's root).
 *
 * Invariants: the exit status is 0, 1 or 2, and 1 only from check (a moved
 * figure); 0 writes something on stdout; 2 ends stderr with one line
 * starting "wafersim", the only one beside progress lines (when an argument
 * holds a newline, which messages quote as it is: a message naming
 * "wafersim"). */
#define _GNU_SOURCE /* open_memstream */
#include <string.h>

#include "fuzz.h"
#include "sim/cli.h"

#define MAX_ARGS 48

static const char *const tail[] = {
    "--set", "model.preset=custom",  "--set", "model.layers=1",      "--set", "model.d_model=16",
    "--set", "model.heads=2",        "--set", "model.d_ff=32",       "--set", "model.vocab=32",
    "--set", "model.context=16",     "--set", "workload.seq_len=16", "--set", "workload.micro_batch=8",
    "--set", "fabric.width=16",      "--set", "fabric.height=16",
};
#define NTAIL (sizeof tail / sizeof tail[0])

/* Whether the value of a work-sizing option is within the bounds above. */
static bool bounded(const char *opt, const char *value) {
  const bool jobs = strcmp(opt, "--jobs") == 0 || strcmp(opt, "-j") == 0;
  if (strcmp(opt, "--vary") == 0) {
    const char *eq = strchr(value, '=');
    value = eq ? eq + 1 : value;
  }
  if (strcmp(opt, "--schedule") == 0) {
    const double step = strtod(value, NULL);
    return step >= 0.1 || step <= 0.0;
  }
  int items = 1;
  for (const char *p = value; *p; p++) items += *p == ',';
  if (items > 4) return false;
  if (strcmp(opt, "--sparsity") == 0) return true; /* fractions: only their count sizes work */
  for (const char *p = value; *p;) {
    if (strchr("eEkKmMgGtTpP", *p) && p > value && strchr("0123456789.", p[-1])) return false; /* units, exponents */
    if (*p >= '0' && *p <= '9') {
      char *end;
      const unsigned long long v = strtoull(p, &end, 10);
      if (v > (jobs ? 2u : 64u) || end - p > 3) return false;
      p = end;
    } else {
      p++;
    }
  }
  return true;
}

/* Whether the arguments may run: no files written, nothing read outside the tree, work bounded. */
static bool allowed(int argc, char **argv) {
  static const char *const sizing[] = {"--wavelets", "--messages", "--region", "--batch", "--micro-batches",
                                       "--tiling",   "--jobs",     "-j",       "--vary",  "--sparsity", "--schedule",
                                       "--m",        "--k",        "--n"};
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (arg[0] == '/' || strstr(arg, "..") || ws_fuzz_starts(arg, "--out") || ws_fuzz_starts(arg, "--map") ||
        ws_fuzz_starts(arg, "--update-baseline"))
      return false;
    for (size_t s = 0; s < sizeof sizing / sizeof sizing[0]; s++) {
      const size_t n = strlen(sizing[s]);
      if (strncmp(arg, sizing[s], n) != 0 || (arg[n] != '\0' && arg[n] != '=')) continue;
      const char *value = arg[n] == '=' ? arg + n + 1 : i + 1 < argc ? argv[i + 1] : "";
      if (!bounded(sizing[s], value)) return false;
    }
  }
  return true;
}

/* Whether a line is progress: "WHAT: P% after S s" (sim/cli_sim.c). */
static bool progress(const char *line) {
  const char *colon = strrchr(line, ':');
  int pct, secs, n = -1;
  return colon && ws_fuzz_starts(line, "wafersim ") && sscanf(colon, ": %d%% after %d s%n", &pct, &secs, &n) == 2 &&
         n == (int)strlen(colon) && pct >= 0 && pct <= 100;
}

/* The lines of text, and of them those that are not progress. */
static void count_lines(const char *text, size_t *lines, size_t *messages, const char **last) {
  *lines = *messages = 0;
  *last = text;
  for (const char *line = text; *line;) {
    const char *nl = strchr(line, '\n');
    const size_t len = nl ? (size_t)(nl - line) : strlen(line);
    char buf[256];
    snprintf(buf, sizeof buf, "%.*s", (int)(len < 255 ? len : 255), line);
    (*lines)++;
    *messages += !progress(buf);
    *last = line;
    line = nl ? nl + 1 : line + len;
  }
}

static int run(int argc, char **argv, bool newline, char *why, size_t whylen) {
  char *out_text = NULL, *err_text = NULL;
  size_t out_len = 0, err_len = 0;
  FILE *out = open_memstream(&out_text, &out_len), *err = open_memstream(&err_text, &err_len);
  int rc = WS_FUZZ_ACCEPTED;
  if (!out || !err) {
    if (out) fclose(out);
    if (err) fclose(err);
    free(out_text);
    free(err_text);
    return ws_fuzz_fail(why, whylen, "open_memstream failed");
  }
  const int status = ws_cli_main(argc, argv, out, err);
  fclose(out);
  fclose(err);
  const char *cmd = argc > 1 ? argv[1] : "";
  size_t lines, messages;
  const char *last;
  count_lines(err_text, &lines, &messages, &last);
  if (status < 0 || status > 2) {
    rc = ws_fuzz_fail(why, whylen, "exit status %d", status);
  } else if (status == 1 && strcmp(cmd, "check") != 0) {
    rc = ws_fuzz_fail(why, whylen, "exit status 1 (a failure while running, in memory) from %s: %s", cmd, err_text);
  } else if (status == 0 && out_len == 0) {
    rc = ws_fuzz_fail(why, whylen, "exit status 0 and nothing on stdout");
  } else if (status == 2 && argc > 1) {
    if (err_len == 0 || err_text[err_len - 1] != '\n' || (newline ? !strstr(err_text, "wafersim") : !ws_fuzz_starts(last, "wafersim")))
      rc = ws_fuzz_fail(why, whylen, "exit status 2 without a last line starting 'wafersim': '%s'", err_text);
    else if (!newline && messages != 1)
      rc = ws_fuzz_fail(why, whylen, "exit status 2 with %zu message lines: '%s'", messages, err_text);
    else
      rc = WS_FUZZ_REFUSED;
  }
  free(out_text);
  free(err_text);
  return rc;
}

int ws_fuzz_cli(const uint8_t *data, size_t size, char *why, size_t whylen) {
  char *text = ws_fuzz_strndup(data, size);
  char *argv[1 + MAX_ARGS + NTAIL + 1];
  int argc = 0;
  if (!text) return ws_fuzz_fail(why, whylen, "out of memory");
  argv[argc++] = (char *)"wafersim";
  bool newline = false;
  for (size_t at = 0; size && at <= size && argc <= MAX_ARGS;) {
    const size_t len = strlen(text + at); /* up to the next NUL */
    argv[argc++] = text + at;
    newline |= memchr(text + at, '\n', len) != NULL || memchr(text + at, '\r', len) != NULL;
    at += len + 1;
  }
  int rc = WS_FUZZ_REFUSED; /* skipped: too many arguments, or not allowed */
  if (argc <= MAX_ARGS && allowed(argc, argv)) {
    const bool options = argc > 1 && argv[1][0] != '-' && strcmp(argv[1], "help") != 0;
    for (size_t i = 0; options && i < NTAIL; i++) argv[argc++] = (char *)tail[i];
    argv[argc] = NULL;
    rc = run(argc, argv, newline, why, whylen);
  }
  free(text);
  return rc;
}

WS_FUZZ_ENTRY(ws_fuzz_cli)
