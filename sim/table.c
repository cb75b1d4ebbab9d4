/* Typed table cells and their three renderings (see table.h). */
#include "table.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef enum { CELL_EMPTY, CELL_I64, CELL_F64, CELL_STR } cell_type;

typedef struct {
  cell_type type;
  union {
    int64_t i;
    double f;
    char *s; /* owned */
  } v;
} cell;

struct ws_table {
  size_t ncols;
  char **names; /* owned, ncols */
  int *decimals; /* owned, ncols: CSV decimals of a real, 0 exact */
  size_t nrows, cap;
  cell *cells; /* owned, nrows x ncols */
};

ws_table *ws_table_create(size_t ncols, const char *const *names) {
  ws_table *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->ncols = ncols;
  t->names = calloc(ncols, sizeof *t->names);
  t->decimals = calloc(ncols ? ncols : 1, sizeof *t->decimals);
  if (!t->names || !t->decimals) {
    free(t->names);
    free(t->decimals);
    free(t);
    return NULL;
  }
  for (size_t c = 0; c < ncols; c++) {
    t->names[c] = strdup(names[c]);
    if (!t->names[c]) {
      ws_table_destroy(t);
      return NULL;
    }
  }
  return t;
}

void ws_table_clear(ws_table *t) {
  for (size_t i = 0; i < t->nrows * t->ncols; i++)
    if (t->cells[i].type == CELL_STR) free(t->cells[i].v.s);
  t->nrows = 0;
}

void ws_table_decimals(ws_table *t, size_t col, int decimals) {
  if (col < t->ncols) t->decimals[col] = decimals;
}

void ws_table_destroy(ws_table *t) {
  if (!t) return;
  ws_table_clear(t);
  free(t->cells);
  free(t->decimals);
  for (size_t c = 0; c < t->ncols; c++) free(t->names[c]);
  free(t->names);
  free(t);
}

int ws_table_row(ws_table *t) {
  if (t->nrows == t->cap) {
    size_t cap = t->cap ? 2 * t->cap : 16;
    cell *cells = realloc(t->cells, cap * t->ncols * sizeof *cells);
    if (!cells) return -1;
    t->cells = cells;
    t->cap = cap;
  }
  memset(&t->cells[t->nrows * t->ncols], 0, t->ncols * sizeof *t->cells);
  t->nrows++;
  return 0;
}

static cell *last(ws_table *t, size_t col) {
  if (t->nrows == 0 || col >= t->ncols) {
    fprintf(stderr, "%s:%d: internal error: cell %zu of row %zu\n", __FILE__, __LINE__, col,
            t->nrows);
    abort();
  }
  cell *c = &t->cells[(t->nrows - 1) * t->ncols + col];
  if (c->type == CELL_STR) free(c->v.s);
  return c;
}

void ws_table_i64(ws_table *t, size_t col, int64_t v) {
  cell *c = last(t, col);
  c->type = CELL_I64;
  c->v.i = v;
}

void ws_table_f64(ws_table *t, size_t col, double v) {
  cell *c = last(t, col);
  c->type = CELL_F64;
  c->v.f = v;
}

void ws_table_str(ws_table *t, size_t col, const char *v) {
  cell *c = last(t, col);
  c->v.s = strdup(v);
  c->type = c->v.s ? CELL_STR : CELL_EMPTY;
}

size_t ws_table_rows(const ws_table *t) { return t->nrows; }

json_t *ws_table_json(const ws_table *t) {
  json_t *rows = json_array();
  for (size_t r = 0; rows && r < t->nrows; r++) {
    json_t *obj = json_object();
    for (size_t c = 0; obj && c < t->ncols; c++) {
      const cell *x = &t->cells[r * t->ncols + c];
      json_t *v = x->type == CELL_I64   ? json_integer(x->v.i)
                  : x->type == CELL_F64 && isfinite(x->v.f) ? json_real(x->v.f)
                  : x->type == CELL_STR ? json_string(x->v.s)
                                        : json_null(); /* empty, or not finite */
      json_object_set_new(obj, t->names[c], v);
    }
    if (!obj || json_array_append_new(rows, obj) != 0) {
      json_decref(rows);
      return NULL;
    }
  }
  return rows;
}

/* Exact text of a cell (CSV): integers in full, reals with 15 digits, or
 * with the given decimals when more than 0. */
static void exact_text(const cell *x, int decimals, char *buf, size_t len) {
  switch (x->type) {
  case CELL_I64: snprintf(buf, len, "%" PRId64, x->v.i); break;
  case CELL_F64:
    if (decimals > 0) snprintf(buf, len, "%.*f", decimals, x->v.f);
    else snprintf(buf, len, "%.15g", x->v.f);
    break;
  case CELL_STR: snprintf(buf, len, "%s", x->v.s); break;
  default: buf[0] = '\0';
  }
}

/* Human text of a cell: integers of 10^6 and more as 4 digits + SI prefix. */
static void human_text(const cell *x, char *buf, size_t len) {
  static const char prefix[] = "kMGTPE";
  if (x->type == CELL_F64) {
    snprintf(buf, len, "%.4g", x->v.f);
    return;
  }
  if (x->type != CELL_I64 || llabs(x->v.i) < 1000000) {
    exact_text(x, 0, buf, len);
    return;
  }
  double v = (double)x->v.i;
  int p = -1;
  while (fabs(v) >= 1000.0 && p < 5) {
    v /= 1000.0;
    p++;
  }
  snprintf(buf, len, "%.4g%c", v, prefix[p]);
}

/* CSV field: quoted when it holds a comma, quote or newline. */
static void csv_field(FILE *out, const char *s) {
  if (!strpbrk(s, ",\"\n")) {
    fputs(s, out);
    return;
  }
  fputc('"', out);
  for (; *s; s++) {
    if (*s == '"') fputc('"', out);
    fputc(*s, out);
  }
  fputc('"', out);
}

static int write_text(const ws_table *t, FILE *out) {
  size_t *width = calloc(t->ncols, sizeof *width);
  if (!width) return -1;
  char buf[64];
  for (size_t c = 0; c < t->ncols; c++) width[c] = strlen(t->names[c]);
  for (size_t r = 0; r < t->nrows; r++) {
    for (size_t c = 0; c < t->ncols; c++) {
      human_text(&t->cells[r * t->ncols + c], buf, sizeof buf);
      if (strlen(buf) > width[c]) width[c] = strlen(buf);
    }
  }
  for (size_t c = 0; c < t->ncols; c++)
    fprintf(out, "%*s%s", (int)width[c], t->names[c], c + 1 < t->ncols ? "  " : "\n");
  for (size_t r = 0; r < t->nrows; r++) {
    for (size_t c = 0; c < t->ncols; c++) {
      const cell *x = &t->cells[r * t->ncols + c];
      human_text(x, buf, sizeof buf);
      /* text left-aligned, numbers right-aligned */
      fprintf(out, x->type == CELL_STR ? "%-*s%s" : "%*s%s", (int)width[c], buf,
              c + 1 < t->ncols ? "  " : "\n");
    }
  }
  free(width);
  return 0;
}

int ws_table_write_fields(const ws_table *t, FILE *out) {
  size_t width = 0;
  char buf[64];
  for (size_t c = 0; c < t->ncols; c++) width = strlen(t->names[c]) > width ? strlen(t->names[c]) : width;
  for (size_t c = 0; t->nrows && c < t->ncols; c++) {
    human_text(&t->cells[c], buf, sizeof buf);
    fprintf(out, "%-*s  %s\n", (int)width, t->names[c], buf);
  }
  return ferror(out) ? -1 : 0;
}

int ws_table_write_csv_header(const ws_table *t, FILE *out) {
  for (size_t c = 0; c < t->ncols; c++) {
    csv_field(out, t->names[c]);
    fputc(c + 1 < t->ncols ? ',' : '\n', out);
  }
  return ferror(out) ? -1 : 0;
}

int ws_table_write_csv_rows(const ws_table *t, FILE *out) {
  char buf[512]; /* a real with up to 308 integer digits and its decimals */
  for (size_t r = 0; r < t->nrows; r++) {
    for (size_t c = 0; c < t->ncols; c++) {
      const cell *x = &t->cells[r * t->ncols + c];
      if (x->type == CELL_STR) csv_field(out, x->v.s);
      else {
        exact_text(x, t->decimals[c], buf, sizeof buf);
        fputs(buf, out);
      }
      fputc(c + 1 < t->ncols ? ',' : '\n', out);
    }
  }
  return ferror(out) ? -1 : 0;
}

int ws_table_write(const ws_table *t, ws_format fmt, FILE *out) {
  if (fmt != WS_FORMAT_CSV) {
    if (write_text(t, out) != 0) return -1;
    return ferror(out) ? -1 : 0;
  }
  if (ws_table_write_csv_header(t, out) != 0) return -1;
  return ws_table_write_csv_rows(t, out);
}

ws_table *ws_table_of_columns(const ws_column *cols, size_t n) {
  const char *names[128] = {0};
  if (n > sizeof names / sizeof names[0]) {
    fprintf(stderr, "%s:%d: internal error: %zu columns\n", __FILE__, __LINE__, n);
    abort();
  }
  for (size_t c = 0; c < n; c++) names[c] = cols[c].name;
  ws_table *t = ws_table_create(n, names);
  for (size_t c = 0; t && c < n; c++) ws_table_decimals(t, c, cols[c].decimals);
  return t;
}

ws_table *ws_table_of_rows(const ws_column *cols, size_t n, const void *rows, size_t stride, size_t nrows,
                           const void *ctx) {
  ws_table *t = ws_table_of_columns(cols, n);
  for (size_t i = 0; t && i < nrows; i++)
    if (ws_table_add(t, cols, n, (const char *)rows + i * stride, ctx) != 0) {
      ws_table_destroy(t);
      return NULL;
    }
  return t;
}

int ws_table_add(ws_table *t, const ws_column *cols, size_t n, const void *row, const void *ctx) {
  if (n != t->ncols) {
    fprintf(stderr, "%s:%d: internal error: %zu columns for a table of %zu\n", __FILE__, __LINE__, n, t->ncols);
    abort();
  }
  if (ws_table_row(t) != 0) return -1;
  for (size_t c = 0; c < n; c++) {
    const ws_column *k = &cols[c];
    if (k->get) {
      k->get(t, c, row, ctx);
      continue;
    }
    const char *at = (const char *)row + k->offset;
    switch (k->type) { /* memcpy: the row struct's field, whatever its alignment here */
    case WS_COL_I64: {
      int64_t v;
      memcpy(&v, at, sizeof v);
      ws_table_i64(t, c, v);
    } break;
    case WS_COL_U64: {
      uint64_t v;
      memcpy(&v, at, sizeof v);
      ws_table_i64(t, c, (int64_t)v);
    } break;
    case WS_COL_I32: {
      int32_t v;
      memcpy(&v, at, sizeof v);
      ws_table_i64(t, c, v);
    } break;
    case WS_COL_U32: {
      uint32_t v;
      memcpy(&v, at, sizeof v);
      ws_table_i64(t, c, v);
    } break;
    case WS_COL_F64: {
      double v;
      memcpy(&v, at, sizeof v);
      ws_table_f64(t, c, v);
    } break;
    case WS_COL_STR: {
      const char *v;
      memcpy(&v, at, sizeof v);
      ws_table_str(t, c, v ? v : "");
    } break;
    }
  }
  return 0;
}

const ws_column *ws_column_find(const ws_column *cols, size_t n, const char *name) {
  for (size_t c = 0; c < n; c++)
    if (strcmp(cols[c].name, name) == 0) return &cols[c];
  return NULL;
}
