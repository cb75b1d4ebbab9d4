/* Quantities with units, as written in YAML and on the command line:
 * "2048", "48 KiB", "1.1 GHz", "0.838". Parsing is exact (decimal mantissa
 * times an integer unit factor), so "1.1 GHz" is 1100000000 Hz, not a float. */
#ifndef WAFERSIM_SIM_UNITS_H
#define WAFERSIM_SIM_UNITS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  WS_UNIT_COUNT, /* a plain integer: "2048", "2.048e3" */
  WS_UNIT_BYTES, /* B, KB/MB/GB/TB (powers of 1000), KiB/MiB/GiB/TiB (of 1024) */
  WS_UNIT_HZ,    /* Hz, kHz, MHz, GHz */
  WS_UNIT_BPS,   /* bytes a second: B/s, KB/s, MB/s, GB/s, TB/s (powers of 1000) */
  WS_UNIT_NS,    /* a time in nanoseconds: ns, us, ms, s */
} ws_unit;

/* Parse text as an integer quantity of `unit` in [min, max] (in base units:
 * bytes, Hz). A bare number is in base units. Returns 0, or -1 with what was
 * expected in err (e.g. "expected a size like '48 KiB' in [1 B, 1 GiB]"). */
int ws_units_parse(const char *text, ws_unit unit, int64_t min, int64_t max, int64_t *out,
                   char *err, size_t errlen);

/* The same, or the word `word`, which reads as word_value (an error then
 * says "expected ... in [min, max] or WORD"). */
int ws_units_parse_or(const char *text, ws_unit unit, int64_t min, int64_t max, const char *word, int64_t word_value,
                      int64_t *out, char *err, size_t errlen);

/* Parse a finite decimal number in [lo, hi) (hi_open != 0) or [lo, hi]. */
int ws_units_parse_real(const char *text, double lo, double hi, int hi_open, double *out,
                        char *err, size_t errlen);

/* Write v in the largest unit that represents it exactly with at most three
 * decimals, and with no decimals from 1000 units up ("48 KiB", "1.1 GHz",
 * "1123456789 Hz", "2048"): a form the parser reads back to v. */
void ws_units_format(int64_t v, ws_unit unit, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
