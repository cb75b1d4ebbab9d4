/* .safetensors reading (see safetensors.h). The header is JSON, parsed with
 * jansson; the data are read tensor by tensor with pread, so threads building
 * masks may share an open file. */
#define _FILE_OFFSET_BITS 64
#include <stdbool.h>
#include "safetensors.h"
#include "infile.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define HEADER_MAX (100u << 20) /* the format's own limit on the header */
#define DIMS_MAX 8

typedef enum { CLASS_F32, CLASS_F16, CLASS_BF16, CLASS_MASK, CLASS_OTHER } dclass;

static const struct {
  const char *name;
  unsigned bytes;
  dclass cls;
} dtypes[] = {
    {"F32", 4, CLASS_F32},  {"F16", 2, CLASS_F16},    {"BF16", 2, CLASS_BF16},  {"U8", 1, CLASS_MASK},
    {"BOOL", 1, CLASS_MASK}, {"F64", 8, CLASS_OTHER}, {"I8", 1, CLASS_OTHER},   {"I16", 2, CLASS_OTHER},
    {"U16", 2, CLASS_OTHER}, {"I32", 4, CLASS_OTHER}, {"U32", 4, CLASS_OTHER},  {"I64", 8, CLASS_OTHER},
    {"U64", 8, CLASS_OTHER}, {"F8_E5M2", 1, CLASS_OTHER}, {"F8_E4M3", 1, CLASS_OTHER},
};
#define NDTYPES (sizeof dtypes / sizeof dtypes[0])

typedef struct {
  char *name;
  unsigned dtype; /* index in dtypes */
  unsigned ndims;
  uint64_t shape[DIMS_MAX];
  uint64_t begin, end; /* byte offsets in the data, after the header */
} tensor;

struct wl_st {
  int fd; /* read with pread only, so threads may share it */
  char *path;
  uint64_t data_start, data_bytes;
  size_t n;
  tensor *t;
};

void wl_st_close(wl_st *f) {
  if (!f) return;
  for (size_t i = 0; i < f->n; i++) free(f->t[i].name);
  free(f->t);
  free(f->path);
  if (f->fd >= 0) close(f->fd);
  free(f);
}

static uint64_t le(const unsigned char *p, unsigned bytes) {
  uint64_t v = 0;
  for (unsigned i = bytes; i-- > 0;) v = v << 8 | p[i];
  return v;
}

/* One tensor's header entry into t; 0, or -1 with what is wrong in why. */
static int parse_entry(const char *name, json_t *v, uint64_t data_bytes, tensor *t, char *why, size_t len) {
  json_t *dt = json_object_get(v, "dtype"), *shape = json_object_get(v, "shape"),
         *off = json_object_get(v, "data_offsets");
  if (!json_is_object(v) || !json_is_string(dt) || !json_is_array(shape) || !json_is_array(off) ||
      json_array_size(off) != 2) {
    snprintf(why, len, "tensor '%s': expected {\"dtype\": ..., \"shape\": [...], \"data_offsets\": [begin, end]}", name);
    return -1;
  }
  t->dtype = NDTYPES;
  for (unsigned i = 0; i < NDTYPES; i++)
    if (strcmp(json_string_value(dt), dtypes[i].name) == 0) t->dtype = i;
  if (t->dtype == NDTYPES) {
    snprintf(why, len, "tensor '%s': unknown dtype '%s'", name, json_string_value(dt));
    return -1;
  }
  t->ndims = (unsigned)json_array_size(shape);
  if (t->ndims > DIMS_MAX) {
    snprintf(why, len, "tensor '%s': %u dimensions; at most %d are read", name, t->ndims, DIMS_MAX);
    return -1;
  }
  uint64_t elems = 1;
  for (unsigned i = 0; i < t->ndims; i++) {
    json_t *d = json_array_get(shape, i);
    if (!json_is_integer(d) || json_integer_value(d) < 0 || (uint64_t)json_integer_value(d) > (UINT64_C(1) << 40)) {
      snprintf(why, len, "tensor '%s': shape[%u] is not a dimension", name, i);
      return -1;
    }
    t->shape[i] = (uint64_t)json_integer_value(d);
    elems = t->shape[i] && elems > (UINT64_C(1) << 48) / t->shape[i] ? UINT64_MAX : elems * t->shape[i];
  }
  json_t *b = json_array_get(off, 0), *e = json_array_get(off, 1);
  if (!json_is_integer(b) || !json_is_integer(e) || json_integer_value(b) < 0 ||
      json_integer_value(e) < json_integer_value(b)) {
    snprintf(why, len, "tensor '%s': data_offsets are not [begin, end] with begin <= end", name);
    return -1;
  }
  t->begin = (uint64_t)json_integer_value(b);
  t->end = (uint64_t)json_integer_value(e);
  if (t->end > data_bytes) {
    snprintf(why, len, "tensor '%s': data_offsets end at %llu, past the %llu data bytes: truncated", name,
             (unsigned long long)t->end, (unsigned long long)data_bytes);
    return -1;
  }
  if (elems == UINT64_MAX || elems * dtypes[t->dtype].bytes != t->end - t->begin) {
    snprintf(why, len, "tensor '%s': %llu bytes of data for a %s tensor of %llu elements", name,
             (unsigned long long)(t->end - t->begin), dtypes[t->dtype].name, (unsigned long long)elems);
    return -1;
  }
  t->name = strdup(name);
  if (!t->name) {
    snprintf(why, len, "out of memory");
    return -1;
  }
  return 0;
}

static int by_offsets(const void *a, const void *b) {
  const tensor *x = a, *y = b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  if (x->end != y->end) return x->end < y->end ? -1 : 1;
  return strcmp(x->name, y->name); /* names are unique: a total order, so messages do not depend on qsort */
}

/* The format's rule for the data area: the tensors' ranges, in order of
 * their offsets, start at 0, each where the one before ends (no overlap, no
 * gap: empty tensors may share an offset) and the last ends at the end of
 * the file. 0, or -1 with the tensor(s) at fault in why. Sorts t. */
static int check_cover(tensor *t, size_t n, uint64_t data_bytes, char *why, size_t len) {
  qsort(t, n, sizeof *t, by_offsets);
  uint64_t at = 0;
  for (size_t i = 0; i < n; i++) {
    if (t[i].begin < at) {
      snprintf(why, len, "tensors '%s' (data_offsets [%llu, %llu]) and '%s' ([%llu, %llu]) overlap", t[i - 1].name,
               (unsigned long long)t[i - 1].begin, (unsigned long long)t[i - 1].end, t[i].name,
               (unsigned long long)t[i].begin, (unsigned long long)t[i].end);
      return -1;
    }
    if (t[i].begin > at) {
      snprintf(why, len, "data bytes [%llu, %llu) belong to no tensor (before tensor '%s'); expected the tensors "
               "to cover the data exactly", (unsigned long long)at, (unsigned long long)t[i].begin, t[i].name);
      return -1;
    }
    at = t[i].end;
  }
  if (at != data_bytes) {
    snprintf(why, len, "data bytes [%llu, %llu) belong to no tensor (after %s%s%s); expected the tensors to cover "
             "the data exactly", (unsigned long long)at, (unsigned long long)data_bytes, n ? "tensor '" : "the header",
             n ? t[n - 1].name : "", n ? "'" : "");
    return -1;
  }
  return 0;
}

/* Exactly len bytes at offset, or false. */
static bool read_at(int fd, void *buf, size_t len, uint64_t offset) {
  for (size_t done = 0; done < len;) {
    const ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(offset + done));
    if (n <= 0) return false;
    done += (size_t)n;
  }
  return true;
}

/* The header at the start of the file into f->t; 0, or -1 with why. */
static int read_header(wl_st *f, uint64_t size, char *why, size_t len) {
  unsigned char lenbuf[8];
  if (size < 8 || !read_at(f->fd, lenbuf, 8, 0)) {
    snprintf(why, len, "%llu bytes, shorter than the 8-byte header length: truncated or not safetensors",
             (unsigned long long)size);
    return -1;
  }
  const uint64_t hlen = le(lenbuf, 8);
  if (hlen > HEADER_MAX || hlen > size - 8) {
    snprintf(why, len, "a header of %llu bytes does not fit in %llu bytes%s", (unsigned long long)hlen,
             (unsigned long long)size, hlen > HEADER_MAX ? " (nor in the format's 100 MiB)" : ": truncated");
    return -1;
  }
  f->data_start = 8 + hlen;
  f->data_bytes = size - 8 - hlen;
  char *text = malloc(hlen + 1);
  if (!text || !read_at(f->fd, text, hlen, 8)) {
    free(text);
    snprintf(why, len, "cannot read the %llu-byte header", (unsigned long long)hlen);
    return -1;
  }
  json_error_t jerr;
  json_t *root = json_loadb(text, hlen, JSON_REJECT_DUPLICATES, &jerr);
  free(text);
  if (!root || !json_is_object(root)) {
    if (root) snprintf(why, len, "header: expected a JSON object of tensors");
    else snprintf(why, len, "header is not JSON: %d:%d: %s", jerr.line, jerr.column, jerr.text);
    json_decref(root);
    return -1;
  }
  f->t = calloc(json_object_size(root) + 1, sizeof *f->t);
  int rc = f->t ? 0 : -1;
  if (rc) snprintf(why, len, "out of memory");
  const char *name;
  json_t *v;
  json_object_foreach(root, name, v) {
    if (rc || strcmp(name, "__metadata__") == 0) continue;
    rc = parse_entry(name, v, f->data_bytes, &f->t[f->n], why, len);
    if (rc == 0) f->n++;
  }
  json_decref(root);
  if (rc == 0) rc = check_cover(f->t, f->n, f->data_bytes, why, len);
  return rc;
}

wl_st *wl_st_open(const char *path, char *err, size_t errlen) {
  wl_st *f = calloc(1, sizeof *f);
  if (f) f->fd = -1;
  if (!f) {
    snprintf(err, errlen, "%s: out of memory", path);
    return NULL;
  }
  uint64_t size = 0;
  f->path = strdup(path);
  f->fd = f->path ? wl_infile_open(path, "safetensors", WL_INFILE_NO_LIMIT, &size, err, errlen) : -1;
  if (!f->path) snprintf(err, errlen, "%s: out of memory", path);
  if (f->fd < 0) {
    wl_st_close(f);
    return NULL;
  }
  char why[384];
  if (read_header(f, size, why, sizeof why) != 0) {
    snprintf(err, errlen, "%s: %s", path, why);
    wl_st_close(f);
    return NULL;
  }
  return f;
}

/* The magnitude of element i of a weight tensor as an ordered key (the bits
 * of |value|, widened so every dtype orders the same way); -1 for NaN. */
static int64_t magnitude_key(dclass cls, const unsigned char *data, size_t i) {
  switch (cls) {
    case CLASS_F32: {
      const uint32_t a = (uint32_t)le(data + 4 * i, 4) & 0x7FFFFFFFu;
      return a > 0x7F800000u ? -1 : (int64_t)a;
    }
    case CLASS_F16: {
      const uint32_t a = (uint32_t)le(data + 2 * i, 2) & 0x7FFFu;
      return a > 0x7C00u ? -1 : (int64_t)a;
    }
    case CLASS_BF16: {
      const uint32_t a = (uint32_t)le(data + 2 * i, 2) & 0x7FFFu;
      return a > 0x7F80u ? -1 : (int64_t)a;
    }
    default: return data[i] != 0;
  }
}

static void shape_text(const tensor *t, char *buf, size_t len) {
  size_t used = (size_t)snprintf(buf, len, "[");
  for (unsigned i = 0; i < t->ndims && used < len; i++)
    used += (size_t)snprintf(buf + used, len - used, "%s%llu", i ? ", " : "", (unsigned long long)t->shape[i]);
  if (used < len) snprintf(buf + used, len - used, "]");
}

wl_mask *wl_st_mask(wl_st *f, const char *name, uint32_t rows, uint32_t cols, wl_layout layout, double density,
                    char *err, size_t errlen) {
  const tensor *t = NULL;
  for (size_t i = 0; i < f->n && !t; i++)
    if (strcmp(f->t[i].name, name) == 0) t = &f->t[i];
  if (!t) {
    snprintf(err, errlen, "%s: tensor '%s': not in the file (it has %zu tensors%s%s)", f->path, name, f->n,
             f->n ? ", e.g. " : "", f->n ? f->t[0].name : "");
    return NULL;
  }
  const dclass cls = dtypes[t->dtype].cls;
  if (cls == CLASS_OTHER) {
    snprintf(err, errlen, "%s: tensor '%s': dtype %s; expected F32, F16 or BF16 weights, or U8 or BOOL masks",
             f->path, name, dtypes[t->dtype].name);
    return NULL;
  }
  const uint64_t want0 = layout == WL_LAYOUT_KN ? rows : cols, want1 = layout == WL_LAYOUT_KN ? cols : rows;
  if (t->ndims != 2 || t->shape[0] != want0 || t->shape[1] != want1) {
    char got[128];
    shape_text(t, got, sizeof got);
    const bool swapped = t->ndims == 2 && t->shape[0] == want1 && t->shape[1] == want0;
    snprintf(err, errlen, "%s: tensor '%s': shape %s; the weight is K x N = %u x %u, stored [%llu, %llu] (layout %s)%s",
             f->path, name, got, rows, cols, (unsigned long long)want0, (unsigned long long)want1,
             layout == WL_LAYOUT_KN ? "kn" : "nk",
             swapped ? layout == WL_LAYOUT_KN ? "; it looks stored N x K: set workload.file.layout: nk"
                                              : "; it looks stored K x N: set workload.file.layout: kn"
                     : "");
    return NULL;
  }
  const size_t n = (size_t)rows * cols, bytes = (size_t)(t->end - t->begin);
  unsigned char *data = malloc(bytes + 1);
  uint32_t *key = malloc(n * sizeof *key + 1);
  wl_mask *m = NULL;
  if (!data || !key) {
    snprintf(err, errlen, "%s: tensor '%s': out of memory for %zu bytes", f->path, name, bytes);
  } else if (!read_at(f->fd, data, bytes, f->data_start + t->begin)) {
    snprintf(err, errlen, "%s: tensor '%s': cannot read its %zu bytes: truncated", f->path, name, bytes);
  } else {
    size_t bad = SIZE_MAX;
    for (uint32_t r = 0; r < rows && bad == SIZE_MAX; r++)
      for (uint32_t c = 0; c < cols; c++) {
        const size_t at = layout == WL_LAYOUT_KN ? (size_t)r * cols + c : (size_t)c * rows + r;
        const int64_t k = magnitude_key(cls, data, at);
        if (k < 0) {
          bad = at;
          break;
        }
        key[(size_t)r * cols + c] = (uint32_t)k;
      }
    if (bad != SIZE_MAX) {
      snprintf(err, errlen, "%s: tensor '%s': element %zu is NaN; expected weights to prune by magnitude", f->path,
               name, bad);
    } else if (cls == CLASS_MASK) {
      for (size_t i = 0; i < n; i++) data[i] = (unsigned char)key[i];
      m = wl_mask_bytes(rows, cols, data);
    } else {
      m = wl_mask_top(rows, cols, key, (uint64_t)llround(density * (double)n));
    }
    if (!m && bad == SIZE_MAX) snprintf(err, errlen, "%s: tensor '%s': out of memory", f->path, name);
  }
  free(data);
  free(key);
  return m;
}
