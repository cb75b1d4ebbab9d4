/* The fuzz targets: one function per input surface of wafersim (the YAML
 * loader and --set, the safetensors reader, the JSON documents of `check`,
 * the command line), each a checker: it runs one input through the public
 * API and tests the invariants an input of that surface must keep (an
 * accepted configuration reads back equal, a refusal is one line naming
 * where, the command line exits 0, 1 or 2, ...).
 *
 * The same functions are built twice: with clang and libFuzzer
 * (-DWS_FUZZ_LIBFUZZER, `make fuzz`, one binary per target, each calling
 * its function from LLVMFuzzerTestOneInput and aborting on a violated
 * invariant), and with the project's compiler into the GoogleTest binary,
 * which replays the corpus tests/fuzz/corpus/<target>/ and the regression
 * inputs tests/fuzz/regress/<target>/ (tests/test_fuzz.cc). */
#ifndef WAFERSIM_TESTS_FUZZ_FUZZ_H
#define WAFERSIM_TESTS_FUZZ_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What a target made of an input. */
enum {
  WS_FUZZ_VIOLATED = -1, /* an invariant does not hold: what, in why */
  WS_FUZZ_REFUSED = 0,   /* refused, as it should be, with a well-formed message */
  WS_FUZZ_ACCEPTED = 1,  /* accepted, and what was made of it checked */
};

#define WS_FUZZ_WHY_MAX 2048

/* (a) YAML text, then after a NUL byte the --set assignments, one a line
 * (newline- or NUL-separated), then ws_config_finish. */
int ws_fuzz_config(const uint8_t *data, size_t size, char *why, size_t whylen);
/* (b) the bytes as a .safetensors file (a memfd read by path), then every
 * 2-D tensor's mask at two densities and both layouts. */
int ws_fuzz_safetensors(const uint8_t *data, size_t size, char *why, size_t whylen);
/* (c) one or two JSON documents (split at the first NUL byte: baseline,
 * then the new one) validated against the output schema and compared. */
int ws_fuzz_check(const uint8_t *data, size_t size, char *why, size_t whylen);
/* (d) the command line: arguments separated by NUL bytes (the first is the
 * command), with fixed arguments appended that keep every run tiny. */
int ws_fuzz_cli(const uint8_t *data, size_t size, char *why, size_t whylen);

/* Shared by the targets. */
/* Record a violated invariant in why; returns WS_FUZZ_VIOLATED. */
int ws_fuzz_fail(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Whether msg is one non-empty line (no newline). */
bool ws_fuzz_one_line(const char *msg);
/* Whether s starts with prefix. */
bool ws_fuzz_starts(const char *s, const char *prefix);
/* A NUL-terminated copy of data[0, size) (NULL on out of memory). */
char *ws_fuzz_strndup(const uint8_t *data, size_t size);

#ifdef __cplusplus
}
#endif

/* The libFuzzer entry point of a target (only in the clang fuzz build). */
#ifdef WS_FUZZ_LIBFUZZER
#define WS_FUZZ_ENTRY(fn)                                                      \
  int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);                \
  int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {               \
    char why[WS_FUZZ_WHY_MAX] = "";                                            \
    if (fn(data, size, why, sizeof why) == WS_FUZZ_VIOLATED) {                 \
      fprintf(stderr, "\n%s: invariant violated: %s\n", #fn, why);             \
      abort();                                                                 \
    }                                                                          \
    return 0;                                                                  \
  }
#else
#define WS_FUZZ_ENTRY(fn)
#endif

#endif
