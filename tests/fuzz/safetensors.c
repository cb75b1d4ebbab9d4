/* Fuzz target (b): the .safetensors reader on arbitrary bytes, through its
 * file API (the input is written to a memfd and opened by its /proc path, so
 * the reader's own open, fstat and pread run). Invariants: a refused file or
 * tensor gets one line starting with the path; an opened file's every 2-D
 * tensor (this target reads the header itself, with jansson) gives a mask
 * or a refusal as its dtype and values say: weights (F32, F16, BF16) keep
 * exactly round(density x K x N) at each density, the largest magnitudes
 * (ties to the lower index), the lower density's mask inside the higher's, the same count in the other layout, and are refused
 * exactly when a value is NaN; masks (U8, BOOL) keep their nonzero bytes,
 * whatever the density, and the other layout is the transpose; other
 * dtypes, other shapes and unknown names are refused. */
#define _GNU_SOURCE /* memfd_create */
#include <jansson.h>
#include <math.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "workloads/safetensors.h"

#define MAX_CHECKED 16            /* tensors checked per input */
#define MAX_ELEMS (UINT64_C(1) << 20) /* larger tensors are only opened */

typedef enum { K_WEIGHT, K_MASK, K_OTHER } kind;

static kind kind_of(const char *dtype, unsigned *bytes) {
  static const struct {
    const char *name;
    unsigned bytes;
    kind k;
  } known[] = {{"F32", 4, K_WEIGHT}, {"F16", 2, K_WEIGHT}, {"BF16", 2, K_WEIGHT}, {"U8", 1, K_MASK}, {"BOOL", 1, K_MASK}};
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    if (strcmp(dtype, known[i].name) == 0) {
      *bytes = known[i].bytes;
      return known[i].k;
    }
  *bytes = 0;
  return K_OTHER;
}

/* Whether element i of a weight tensor of `bytes`-byte elements (dtype) is NaN. */
static bool is_nan(const char *dtype, const uint8_t *p, uint64_t i) {
  if (strcmp(dtype, "F32") == 0) {
    const uint32_t v = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
                       (uint32_t)p[4 * i + 3] << 24;
    return (v & 0x7FFFFFFFu) > 0x7F800000u;
  }
  const uint32_t h = (uint32_t)p[2 * i] | (uint32_t)p[2 * i + 1] << 8;
  return (h & 0x7FFFu) > (strcmp(dtype, "F16") == 0 ? 0x7C00u : 0x7F80u);
}

/* The magnitude of weight element i as an ordered key: the bits of |value|
 * (non-negative floats order as their bits do). */
static uint32_t magnitude(const char *dtype, const uint8_t *p, uint64_t i) {
  if (strcmp(dtype, "F32") == 0)
    return ((uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
            (uint32_t)p[4 * i + 3] << 24) & 0x7FFFFFFFu;
  return ((uint32_t)p[2 * i] | (uint32_t)p[2 * i + 1] << 8) & 0x7FFFu;
}

/* Whether mask m (K x N = a x b, stored K x N at p) keeps the largest
 * magnitudes, ties to the lower row-major index: every kept weight is larger
 * than every dropped one, or as large and before it. */
static bool keeps_largest(const wl_mask *m, const char *dtype, const uint8_t *p, uint32_t a, uint32_t b) {
  bool any_kept = false, any_dropped = false;
  uint32_t min_kept = 0, max_dropped = 0;
  uint64_t last_kept_at_min = 0, first_dropped_at_max = 0;
  for (uint64_t i = 0; i < (uint64_t)a * b; i++) {
    const uint32_t k = magnitude(dtype, p, i);
    if (wl_mask_get(m, (uint32_t)(i / b), (uint32_t)(i % b))) {
      if (!any_kept || k <= min_kept) last_kept_at_min = i;
      if (!any_kept || k < min_kept) min_kept = k;
      any_kept = true;
    } else {
      if (!any_dropped || k > max_dropped) first_dropped_at_max = i;
      if (!any_dropped || k > max_dropped) max_dropped = k;
      any_dropped = true;
    }
  }
  if (!any_kept || !any_dropped || min_kept > max_dropped) return true;
  return min_kept == max_dropped && last_kept_at_min < first_dropped_at_max;
}

/* A refusal of tensor `name`: NULL, with one line starting with the path. */
static int refused(wl_mask *m, const char *err, const char *path, const char *name, const char *what, char *why,
                   size_t whylen) {
  if (m) return ws_fuzz_fail(why, whylen, "tensor '%s': %s gave a mask", name, what);
  if (!ws_fuzz_one_line(err) || !ws_fuzz_starts(err, path))
    return ws_fuzz_fail(why, whylen, "tensor '%s': %s: the error is not one line naming the file: '%s'", name, what, err);
  return WS_FUZZ_REFUSED;
}

/* One 2-D tensor stored [a, b] with data at p (its bytes checked by the reader). */
static int check_tensor(wl_st *f, const char *path, const char *name, const char *dtype, uint32_t a, uint32_t b,
                        const uint8_t *p, char *why, size_t whylen) {
  static const double lo = 0.3, hi = 0.7;
  unsigned bytes;
  const kind k = kind_of(dtype, &bytes);
  const uint64_t n = (uint64_t)a * b;
  char err[512] = "";
  int rc = WS_FUZZ_ACCEPTED;
  wl_mask *m1 = wl_st_mask(f, name, a, b, WL_LAYOUT_KN, lo, err, sizeof err);
  if (k == K_OTHER) {
    rc = refused(m1, err, path, name, "another dtype", why, whylen);
    wl_mask_destroy(m1);
    return rc == WS_FUZZ_REFUSED ? WS_FUZZ_ACCEPTED : rc;
  }
  bool nan = false;
  for (uint64_t i = 0; k == K_WEIGHT && i < n && !nan; i++) nan = is_nan(dtype, p, i);
  if (nan) {
    rc = refused(m1, err, path, name, "a NaN weight", why, whylen);
    wl_mask_destroy(m1);
    return rc == WS_FUZZ_REFUSED ? WS_FUZZ_ACCEPTED : rc;
  }
  wl_mask *m2 = m1 ? wl_st_mask(f, name, a, b, WL_LAYOUT_KN, hi, err, sizeof err) : NULL;
  wl_mask *mt = m2 ? wl_st_mask(f, name, b, a, WL_LAYOUT_NK, hi, err, sizeof err) : NULL;
  if (!m1 || !m2 || !mt) {
    rc = ws_fuzz_fail(why, whylen, "tensor '%s' (%s [%u, %u]) refused: %s", name, dtype, a, b, err);
  } else if (wl_mask_rows(m1) != a || wl_mask_cols(m1) != b || wl_mask_rows(mt) != b || wl_mask_cols(mt) != a) {
    rc = ws_fuzz_fail(why, whylen, "tensor '%s': masks of the wrong shape", name);
  } else if (k == K_WEIGHT) {
    const uint64_t want1 = (uint64_t)llround(lo * (double)n), want2 = (uint64_t)llround(hi * (double)n);
    if (wl_mask_nnz(m1) != want1 || wl_mask_nnz(m2) != want2 || wl_mask_nnz(mt) != want2)
      rc = ws_fuzz_fail(why, whylen, "tensor '%s' [%u, %u]: kept %llu, %llu, %llu (nk); expected %llu, %llu", name, a, b,
                        (unsigned long long)wl_mask_nnz(m1), (unsigned long long)wl_mask_nnz(m2),
                        (unsigned long long)wl_mask_nnz(mt), (unsigned long long)want1, (unsigned long long)want2);
    if (rc == WS_FUZZ_ACCEPTED && (!keeps_largest(m1, dtype, p, a, b) || !keeps_largest(m2, dtype, p, a, b)))
      rc = ws_fuzz_fail(why, whylen, "tensor '%s' [%u, %u]: a dropped weight is larger than a kept one (or as large "
                        "and before it)", name, a, b);
    for (uint32_t r = 0; r < a && rc == WS_FUZZ_ACCEPTED; r++)
      for (uint32_t c = 0; c < b; c++)
        if (wl_mask_get(m1, r, c) && !wl_mask_get(m2, r, c)) {
          rc = ws_fuzz_fail(why, whylen, "tensor '%s': (%u, %u) kept at density %g, not at %g: not nested", name, r, c,
                            lo, hi);
          break;
        }
  } else {
    uint64_t nonzero = 0;
    for (uint64_t i = 0; i < n; i++) nonzero += p[i] != 0;
    if (wl_mask_nnz(m1) != nonzero || wl_mask_nnz(m2) != nonzero)
      rc = ws_fuzz_fail(why, whylen, "mask '%s': kept %llu and %llu of %llu nonzero bytes", name,
                        (unsigned long long)wl_mask_nnz(m1), (unsigned long long)wl_mask_nnz(m2),
                        (unsigned long long)nonzero);
    for (uint32_t r = 0; r < a && rc == WS_FUZZ_ACCEPTED; r++)
      for (uint32_t c = 0; c < b; c++)
        if (wl_mask_get(m1, r, c) != (p[(uint64_t)r * b + c] != 0) || wl_mask_get(mt, c, r) != wl_mask_get(m1, r, c)) {
          rc = ws_fuzz_fail(why, whylen, "mask '%s': (%u, %u) not as stored, or not transposed in layout nk", name, r, c);
          break;
        }
  }
  wl_mask_destroy(m1);
  wl_mask_destroy(m2);
  wl_mask_destroy(mt);
  if (rc != WS_FUZZ_ACCEPTED) return rc;
  /* Another shape is refused. */
  wl_mask *wrong = wl_st_mask(f, name, a + 1, b, WL_LAYOUT_KN, lo, err, sizeof err);
  rc = refused(wrong, err, path, name, "another shape", why, whylen);
  wl_mask_destroy(wrong);
  return rc == WS_FUZZ_REFUSED ? WS_FUZZ_ACCEPTED : rc;
}

/* Every 2-D tensor of an opened file (its header parsed again here). */
static int check_tensors(wl_st *f, const char *path, const uint8_t *data, size_t size, char *why, size_t whylen) {
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; i--) hlen = hlen << 8 | data[i];
  json_t *root = json_loadb((const char *)data + 8, (size_t)hlen, 0, NULL);
  if (!json_is_object(root)) {
    json_decref(root);
    return ws_fuzz_fail(why, whylen, "opened a file whose header is not a JSON object");
  }
  int rc = WS_FUZZ_ACCEPTED, checked = 0;
  const char *name;
  json_t *v;
  json_object_foreach(root, name, v) {
    if (strcmp(name, "__metadata__") == 0) continue;
    const json_t *shape = json_object_get(v, "shape");
    const uint64_t begin = (uint64_t)json_integer_value(json_array_get(json_object_get(v, "data_offsets"), 0));
    if (json_array_size(shape) != 2 || checked == MAX_CHECKED) continue;
    const json_int_t a = json_integer_value(json_array_get(shape, 0)), b = json_integer_value(json_array_get(shape, 1));
    if (a < 0 || b < 0 || a >= 65536 || b >= 65536 || (uint64_t)a * (uint64_t)b > MAX_ELEMS) continue;
    checked++;
    rc = check_tensor(f, path, name, json_string_value(json_object_get(v, "dtype")), (uint32_t)a, (uint32_t)b,
                      data + 8 + hlen + begin, why, whylen);
    if (rc != WS_FUZZ_ACCEPTED) break;
  }
  (void)size;
  json_decref(root);
  if (rc != WS_FUZZ_ACCEPTED) return rc;
  char err[512] = "";
  wl_mask *none = wl_st_mask(f, "\x01 no such tensor", 1, 1, WL_LAYOUT_KN, 0.5, err, sizeof err);
  rc = refused(none, err, path, "\\x01 no such tensor", "an unknown name", why, whylen);
  wl_mask_destroy(none);
  return rc == WS_FUZZ_REFUSED ? WS_FUZZ_ACCEPTED : rc;
}

int ws_fuzz_safetensors(const uint8_t *data, size_t size, char *why, size_t whylen) {
  const int fd = memfd_create("fuzz.safetensors", 0);
  if (fd < 0) return ws_fuzz_fail(why, whylen, "memfd_create failed");
  for (size_t done = 0; done < size;) {
    const ssize_t n = write(fd, data + done, size - done);
    if (n <= 0) {
      close(fd);
      return ws_fuzz_fail(why, whylen, "writing the memfd failed");
    }
    done += (size_t)n;
  }
  char path[64], err[512] = "";
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  wl_st *f = wl_st_open(path, err, sizeof err);
  int rc;
  if (!f) {
    char prefix[80];
    snprintf(prefix, sizeof prefix, "%s: ", path);
    rc = ws_fuzz_one_line(err) && ws_fuzz_starts(err, prefix)
             ? WS_FUZZ_REFUSED
             : ws_fuzz_fail(why, whylen, "an open error not one line naming the file: '%s'", err);
  } else {
    rc = check_tensors(f, path, data, size, why, whylen);
    wl_st_close(f);
  }
  close(fd);
  return rc;
}

WS_FUZZ_ENTRY(ws_fuzz_safetensors)
