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

/* A one-row table as aligned "name  value" lines, human text (a report's totals). */
int ws_table_write_fields(const ws_table *t, FILE *out);

#ifdef __cplusplus
}
#endif
#endif
