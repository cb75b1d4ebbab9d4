/* Helpers shared by the fuzz targets (fuzz.h). */
#include "fuzz.h"

#include <stdarg.h>
#include <string.h>

int ws_fuzz_fail(char *why, size_t whylen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, whylen, fmt, ap);
  va_end(ap);
  return WS_FUZZ_VIOLATED;
}

bool ws_fuzz_one_line(const char *msg) { return msg[0] != '\0' && strchr(msg, '\n') == NULL; }

bool ws_fuzz_starts(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

char *ws_fuzz_strndup(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (!s) return NULL;
  if (size) memcpy(s, data, size);
  s[size] = '\0';
  return s;
}
