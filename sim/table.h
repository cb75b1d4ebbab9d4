/* A table of typed cells rendered as an aligned text table, CSV or JSON
 * (an array of objects whose keys are the column names). Every command's
 * output goes through it, so the three formats always carry the same figures. */
#ifndef WAFERSIM_SIM_TABLE_H
#define WAFERSIM_SIM_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ws_table ws_table;

/* A table with the given column names (copied). NULL on out of memory.
 * The caller frees it with ws_table_destroy. */
ws_table *ws_table_create(size_t ncols, const char *const *names);
void ws_table_destroy(ws_table *t);

/* Start a new row; its cells are empty until set. 0, or -1 on out of memory. */
int ws_table_row(ws_table *t);

/* Set a cell of the last row, by column index. Text is copied. */
void ws_table_i64(ws_table *t, size_t col, int64_t v);
void ws_table_f64(ws_table *t, size_t col, double v);
void ws_table_str(ws_table *t, size_t col, const char *v);

size_t ws_table_rows(const ws_table *t);

/* The rows as a JSON array of objects (new reference; NULL on out of memory). */
struct json_t *ws_table_json(const ws_table *t);

/* Write the table as CSV (header + rows, exact figures) or, for any other
 * format, as an aligned text table (integers of a million and more rounded to
 * 4 significant digits with an SI prefix). JSON goes through ws_table_json.
 * Returns 0, or -1 on a write or memory error. */
int ws_table_write(const ws_table *t, ws_format fmt, FILE *out);

/* CSV in pieces, for a report too large to hold (one row at a time): the
 * header line; the rows held; ws_table_clear drops the rows (the columns
 * stay). ws_table_write's CSV is the header then the rows. 0, or -1 on a
 * write error. */
int ws_table_write_csv_header(const ws_table *t, FILE *out);
int ws_table_write_csv_rows(const ws_table *t, FILE *out);
void ws_table_clear(ws_table *t);

/* CSV only: column col's reals written with a fixed number of decimals
 * (%.*f) instead of exactly (%.15g); decimals 0 restores exact. */
void ws_table_decimals(ws_table *t, size_t col, int decimals);

/* A one-row table as aligned "name  value" lines, human text (a report's totals). */
int ws_table_write_fields(const ws_table *t, FILE *out);

/* Reports by key: a report's columns as one table of ws_column, each with
 * its name (CSV header, JSON key), unit (the output schema's x-unit) and
 * where its value comes from; headers, keys and cells are all built from
 * that one table, so a column cannot be labelled with another's name, and
 * tests/test_columns.cc checks each table against sim/output.schema.json. */
typedef enum { WS_COL_I64, WS_COL_U64, WS_COL_I32, WS_COL_U32, WS_COL_F64, WS_COL_STR } ws_col_type;

typedef struct ws_column {
  const char *name; /* CSV header and JSON key */
  const char *unit; /* the schema's x-unit; NULL for none (text) */
  ws_col_type type; /* of the field (or, for get, of the value it sets) */
  size_t offset;    /* of the field in the row struct (nested members allowed); unused with get */
  /* A derived value: sets cell col of t's last row from row and ctx; NULL reads the field. */
  void (*get)(ws_table *t, size_t col, const void *row, const void *ctx);
  const char *source; /* where the value comes from, one line */
  int decimals;       /* CSV: a real with this many decimals (%.*f); 0 exact (%.15g) */
} ws_column;

/* A column type from a field's C type (a field of any other type does not
 * compile): int64_t, uint64_t, int32_t, uint32_t, double, or a string
 * pointer (const char *; not a char array). C only (_Generic). */
#define WS_COL_TYPE_OF(e)                                                                                      \
  _Generic((e), int64_t: WS_COL_I64, uint64_t: WS_COL_U64, int32_t: WS_COL_I32, uint32_t: WS_COL_U32,          \
           double: WS_COL_F64, const char *: WS_COL_STR, char *: WS_COL_STR)
/* A column read from field `member` of row struct S: its type from the
 * field's, its source the field's name ("S.member"). */
#define WS_COLUMN(S, member, name, unit)                                                                       \
  { (name), (unit), WS_COL_TYPE_OF(((S *)0)->member), offsetof(S, member), NULL, #S "." #member, 0 }
/* As WS_COLUMN, a real written to CSV with a fixed number of decimals. */
#define WS_COLUMN_FIXED(S, member, name, unit, decimals)                                                       \
  { (name), (unit), WS_COL_TYPE_OF(((S *)0)->member), offsetof(S, member), NULL, #S "." #member, (decimals) }
/* A derived column: get sets it; source says how it is derived. */
#define WS_COLUMN_GET(name, unit, type, get, source) { (name), (unit), (type), 0, (get), (source), 0 }

/* A table whose columns are cols' names (and decimals). NULL on out of memory. */
ws_table *ws_table_of_columns(const ws_column *cols, size_t n);
/* Add a row: each column's cell from row's field at its offset, or from
 * its get (given row and ctx). 0, or -1 on out of memory. */
int ws_table_add(ws_table *t, const ws_column *cols, size_t n, const void *row, const void *ctx);
/* A table of nrows rows of stride bytes each, from rows (cols and ctx as
 * for ws_table_add). NULL on out of memory. */
ws_table *ws_table_of_rows(const ws_column *cols, size_t n, const void *rows, size_t stride, size_t nrows,
                           const void *ctx);
/* The number of columns of a column table (an array). */
#define WS_NCOLS(a) (sizeof(a) / sizeof((a)[0]))
/* The column named name in cols, or NULL. */
const ws_column *ws_column_find(const ws_column *cols, size_t n, const char *name);

#ifdef __cplusplus
}
#endif
#endif
