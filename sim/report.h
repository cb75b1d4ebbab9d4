/* Report files: written whole to a temporary name in the output directory,
 * then renamed, so a reader never sees half a file (and a failed run leaves
 * the previous report in place); and the host's clock that the reports'
 * wall times (x-host fields) are read from. */
#ifndef WAFERSIM_SIM_REPORT_H
#define WAFERSIM_SIM_REPORT_H

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The host's monotonic clock, s (differences only: wall times). */
double ws_report_wall_s(void);

/* Make dir and its missing parents. 0, or -1 with the reason in err. */
int ws_report_mkdir(const char *dir, char *err, size_t errlen);

/* Write dir/name through write(ctx, file) (0 on success) atomically. 0, or
 * -1 with the path and reason in err. */
int ws_report_write(const char *dir, const char *name, int (*write)(void *ctx, FILE *out), void *ctx, char *err,
                    size_t errlen);

/* A report's files: each written through its function (ctx shared). */
typedef struct {
  const char *name;
  int (*write)(void *ctx, FILE *out);
} ws_report_file;

/* Every file in turn; stops at the first failure. 0, or -1 with the reason in err. */
int ws_report_write_all(const char *dir, const ws_report_file *files, size_t n, void *ctx, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
