/* Exact parsing and formatting of quantities with units (see units.h). */
#include "units.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
  const char *name;
  int64_t factor; /* base units per unit */
} unit_def;

/* Largest unit first: ws_units_format picks the first that fits. */
static const unit_def byte_units[] = {
    {"TiB", 1LL << 40}, {"TB", 1000000000000LL}, {"GiB", 1LL << 30}, {"GB", 1000000000LL},
    {"MiB", 1LL << 20}, {"MB", 1000000LL},       {"KiB", 1LL << 10}, {"KB", 1000LL},
    {"B", 1LL},
};
static const unit_def hz_units[] = {
    {"GHz", 1000000000LL}, {"MHz", 1000000LL}, {"kHz", 1000LL}, {"Hz", 1LL},
};

static const unit_def bps_units[] = {
    {"TB/s", 1000000000000LL}, {"GB/s", 1000000000LL}, {"MB/s", 1000000LL}, {"KB/s", 1000LL}, {"B/s", 1LL},
};
static const unit_def ns_units[] = {
    {"s", 1000000000LL}, {"ms", 1000000LL}, {"us", 1000LL}, {"ns", 1LL},
};

static const unit_def *units_of(ws_unit u, size_t *n) {
  switch (u) {
  case WS_UNIT_BYTES: *n = sizeof byte_units / sizeof byte_units[0]; return byte_units;
  case WS_UNIT_HZ: *n = sizeof hz_units / sizeof hz_units[0]; return hz_units;
  case WS_UNIT_BPS: *n = sizeof bps_units / sizeof bps_units[0]; return bps_units;
  case WS_UNIT_NS: *n = sizeof ns_units / sizeof ns_units[0]; return ns_units;
  default: *n = 0; return NULL;
  }
}

static const char *what_of(ws_unit u) {
  switch (u) {
  case WS_UNIT_BYTES: return "a size like '48 KiB'";
  case WS_UNIT_HZ: return "a frequency like '1.1 GHz'";
  case WS_UNIT_BPS: return "a bandwidth like '150 GB/s'";
  case WS_UNIT_NS: return "a time like '1 us'";
  default: return "an integer";
  }
}

/* What was expected: a quantity of `unit` in [min, max], or the word `word` (NULL: none). */
static void expected(char *err, size_t errlen, const char *text, ws_unit unit, int64_t min,
                     int64_t max, const char *word, const char *why) {
  char lo[32], hi[32];
  ws_units_format(min, unit, lo, sizeof lo);
  ws_units_format(max, unit, hi, sizeof hi);
  snprintf(err, errlen, "expected %s in [%s, %s]%s%s, got '%s'%s%s", what_of(unit), lo, hi, word ? " or " : "",
           word ? word : "", text, why ? ": " : "", why ? why : "");
}

/* Reads a decimal number "[+-]digits[.digits][e[+-]digits]" as mant x 10^exp10.
 * Returns the position after it, or NULL if there is none. */
static const char *read_decimal(const char *p, __int128 *mant, int *exp10, int *too_long) {
  int sign = 1, digits = 0, frac = 0;
  *mant = 0;
  *too_long = 0;
  if (*p == '+' || *p == '-') sign = *p++ == '-' ? -1 : 1;
  for (int in_frac = 0;; p++) {
    if (isdigit((unsigned char)*p)) {
      if (digits < 20) *mant = *mant * 10 + (*p - '0');
      else *too_long = 1;
      digits++;
      frac += in_frac;
    } else if (*p == '.' && !in_frac) {
      in_frac = 1;
    } else {
      break;
    }
  }
  if (digits == 0) return NULL;
  int e = 0;
  if (*p == 'e' || *p == 'E') {
    const char *q = p + 1;
    int esign = 1;
    if (*q == '+' || *q == '-') esign = *q++ == '-' ? -1 : 1;
    if (!isdigit((unsigned char)*q)) return NULL;
    for (; isdigit((unsigned char)*q); q++)
      if (e < 1000) e = e * 10 + (*q - '0');
    e *= esign;
    p = q;
  }
  *mant *= sign;
  *exp10 = e - frac;
  return p;
}

/* ws_units_parse, whose errors also offer `word` (NULL: none). */
static int parse_quantity(const char *text, ws_unit unit, int64_t min, int64_t max, const char *word, int64_t *out,
                          char *err, size_t errlen) {
  const char *p = text;
  while (isspace((unsigned char)*p)) p++;
  __int128 mant;
  int exp10, too_long;
  const char *end = read_decimal(p, &mant, &exp10, &too_long);
  if (!end) {
    expected(err, errlen, text, unit, min, max, word, NULL);
    return -1;
  }
  while (isspace((unsigned char)*end)) end++;
  size_t ulen = strlen(end);
  while (ulen > 0 && isspace((unsigned char)end[ulen - 1])) ulen--;

  int64_t factor = 1;
  const char *bare = unit == WS_UNIT_BYTES ? "a bare number counts bytes"
                     : unit == WS_UNIT_HZ  ? "a bare number counts Hz"
                     : unit == WS_UNIT_BPS ? "a bare number counts bytes a second"
                     : unit == WS_UNIT_NS  ? "a bare number counts nanoseconds"
                                           : NULL;
  if (ulen > 0) {
    bare = NULL;
    size_t n;
    const unit_def *defs = units_of(unit, &n);
    size_t i = 0;
    for (; i < n; i++)
      if (strlen(defs[i].name) == ulen && strncasecmp(end, defs[i].name, ulen) == 0) break;
    if (i == n) {
      expected(err, errlen, text, unit, min, max, word,
               unit == WS_UNIT_COUNT ? "no unit allowed" : "unknown unit");
      return -1;
    }
    factor = defs[i].factor;
  }
  /* value = mant x factor x 10^exp10, exactly, or out of range. */
  __int128 v = mant * factor;
  const __int128 limit = (__int128)INT64_MAX;
  if (too_long || exp10 > 30 || exp10 < -30) {
    expected(err, errlen, text, unit, min, max, word, "too many digits");
    return -1;
  }
  for (; exp10 > 0; exp10--) {
    v *= 10;
    if (v > limit || v < -limit) break;
  }
  for (; exp10 < 0; exp10++) {
    if (v % 10 != 0) {
      expected(err, errlen, text, unit, min, max, word, bare ? bare : "not a whole number of base units");
      return -1;
    }
    v /= 10;
  }
  if (v < min || v > max) {
    expected(err, errlen, text, unit, min, max, word, bare);
    return -1;
  }
  *out = (int64_t)v;
  return 0;
}

int ws_units_parse(const char *text, ws_unit unit, int64_t min, int64_t max, int64_t *out, char *err,
                   size_t errlen) {
  return parse_quantity(text, unit, min, max, NULL, out, err, errlen);
}

int ws_units_parse_or(const char *text, ws_unit unit, int64_t min, int64_t max, const char *word, int64_t word_value,
                      int64_t *out, char *err, size_t errlen) {
  if (strcmp(text, word) == 0) {
    *out = word_value;
    return 0;
  }
  return parse_quantity(text, unit, min, max, word, out, err, errlen);
}

int ws_units_parse_real(const char *text, double lo, double hi, int hi_open, double *out,
                        char *err, size_t errlen) {
  char *end;
  errno = 0;
  double v = strtod(text, &end);
  while (end && isspace((unsigned char)*end)) end++;
  int ok = end != text && *end == '\0' && errno == 0 && isfinite(v) &&
           !strpbrk(text, "xX") && v >= lo && (hi_open ? v < hi : v <= hi);
  if (!ok) {
    snprintf(err, errlen, "expected a number in [%g, %g%c, got '%s'", lo, hi, hi_open ? ')' : ']',
             text);
    return -1;
  }
  *out = v;
  return 0;
}

void ws_units_format(int64_t v, ws_unit unit, char *buf, size_t len) {
  size_t n;
  const unit_def *defs = units_of(unit, &n);
  for (size_t i = 0; i < n; i++) {
    const int64_t f = defs[i].factor;
    if (v < f || ((__int128)v * 1000) % f != 0) continue;
    int64_t whole = v / f, milli = (int64_t)(((__int128)(v % f) * 1000) / f);
    if (milli != 0 && whole >= 1000) continue; /* "1123456.789 kHz" reads worse than Hz */
    if (milli == 0)
      snprintf(buf, len, "%lld %s", (long long)whole, defs[i].name);
    else if (milli % 100 == 0)
      snprintf(buf, len, "%lld.%lld %s", (long long)whole, (long long)(milli / 100), defs[i].name);
    else if (milli % 10 == 0)
      snprintf(buf, len, "%lld.%02lld %s", (long long)whole, (long long)(milli / 10), defs[i].name);
    else
      snprintf(buf, len, "%lld.%03lld %s", (long long)whole, (long long)milli, defs[i].name);
    return;
  }
  snprintf(buf, len, "%lld", (long long)v);
}
