/* Output files: a command's set of files (run --out, sweep --out) moved into
 * its directory as a unit, a single named file (place --map, check
 * --update-baseline) replaced whole, the temporaries removed when a signal
 * ends the process; and the host's clock that the reports' wall times
 * (x-host fields) are read from.
 *
 * What a reader of DIR can see (ws_report_write_dir):
 * - Every file of the set is first written whole (flushed and fsync'd) into
 *   a hidden temporary directory on DIR's filesystem. Until every file is
 *   written nothing under DIR changes, and DIR (and its missing parents) is
 *   not created: a failure or a signal before then leaves DIR exactly as it
 *   was, or absent, and removes the temporaries (and any parent it made).
 * - DIR absent, empty, or holding nothing but files of this set (and
 *   wafersim's own temporaries, left by a killed run): the temporary
 *   directory `.NAME.wafersim-PID-N` beside DIR replaces DIR in one rename
 *   (renameat2 RENAME_EXCHANGE, or a rename onto an absent or empty DIR),
 *   then the old directory is removed. A reader sees the whole old set or
 *   the whole new set, never a mix. On a filesystem without
 *   RENAME_EXCHANGE it is two renames (DIR aside, the new one in, the old
 *   one put back if that fails): for that instant DIR is absent, still
 *   never a mix. DIR's permission bits are kept.
 * - DIR holding anything else (a user's file, another command's files,
 *   subdirectories as plots/data holds sens_batch/; or DIR is ".", "/", a
 *   mount point, or in a directory we cannot write): nothing but the
 *   set's own names is touched, ever. The set is written into
 *   `DIR/.wafersim-PID-N/`, the old versions are hard-linked aside, then
 *   each file is renamed over its name with SIGINT, SIGTERM and SIGHUP
 *   blocked; if one rename fails every name is put back as it was. An
 *   error or a signal cannot leave a mix; a reader listing DIR during
 *   those few renames (microseconds), or a crash or power loss then, can.
 * - Which of the two is decided again, with the signals blocked, just
 *   before the move: a file put in DIR while the set was being written
 *   makes it the second.
 * - A name of the set that exists in DIR but is not a regular file (a
 *   directory, a symbolic link) is never replaced: refused before the
 *   computation (ws_report_check_dir), DIR unchanged.
 * - DIR a symbolic link: the directory it names is replaced, the link kept.
 *
 * Signals: SIGINT, SIGTERM and SIGHUP (those whose action was the default
 * when the first temporary was made) remove every temporary that exists,
 * then end the process by the same signal (a shell reports 128 + its
 * number). SIGKILL or a crash leaves them (hidden names with "wafersim-"):
 * those inside DIR go when a later set replaces DIR whole; the others stay
 * until removed by hand. The paths
 * live in one small static table in report.c, wafersim's only process-wide
 * mutable state: a signal handler is given no object to find them from. */
#ifndef WAFERSIM_SIM_REPORT_H
#define WAFERSIM_SIM_REPORT_H

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The host's monotonic clock, s (differences only: wall times). */
double ws_report_wall_s(void);

/* One file of a set: its name in the directory and the function that
 * writes it (0 on success), given the set's shared ctx. */
typedef struct {
  const char *name;
  int (*write)(void *ctx, FILE *out);
} ws_report_file;

/* Before a long computation: can ws_report_write_dir put this set in dir?
 * (dir a directory or creatable, writable; no name of the set there that
 * is not a regular file.) Creates nothing that lasts. 0, or -1 with the
 * path and reason in err. */
int ws_report_check_dir(const char *dir, const ws_report_file *files, size_t n, char *err, size_t errlen);

/* Write the set into dir as a unit (above); dir and its parents are made
 * when missing. 0, or -1 with the path and reason in err (dir then as it
 * was). */
int ws_report_write_dir(const char *dir, const ws_report_file *files, size_t n, void *ctx, char *err,
                        size_t errlen);

/* Before a long computation: can ws_report_write_file write path? (its
 * directory exists and is writable, path is not a directory.) 0, or -1
 * with the reason in err. */
int ws_report_check_file(const char *path, char *err, size_t errlen);

/* Replace path by what write(ctx, file) writes, whole: a temporary beside
 * it, fsync'd, renamed over it (its permission bits kept), so path is the
 * old file or the new one, never a part or empty. A path that exists and
 * is not a regular file (/dev/stdout, a pipe) is written in place. 0, or
 * -1 with the path and reason in err. */
int ws_report_write_file(const char *path, int (*write)(void *ctx, FILE *out), void *ctx, char *err,
                         size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
