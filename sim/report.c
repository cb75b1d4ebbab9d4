/* Report files written atomically (see report.h). */
#include "report.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

double ws_report_wall_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int ws_report_mkdir(const char *dir, char *err, size_t errlen) {
  char path[4096];
  if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) {
    snprintf(err, errlen, "output directory name too long: %s", dir);
    return -1;
  }
  for (char *p = path + 1;; p++) {
    const char c = *p;
    if (c != '/' && c != '\0') continue;
    *p = '\0';
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
      snprintf(err, errlen, "cannot make the output directory %s: %s", path, strerror(errno));
      return -1;
    }
    *p = c;
    if (c == '\0') break;
  }
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "output directory %s is not a directory", dir);
    return -1;
  }
  return 0;
}

int ws_report_write(const char *dir, const char *name, int (*write)(void *ctx, FILE *out), void *ctx, char *err,
                    size_t errlen) {
  char path[4096], tmp[4200];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  snprintf(tmp, sizeof tmp, "%s/.%s.%ld.tmp", dir, name, (long)getpid());
  FILE *f = fopen(tmp, "w");
  if (!f) {
    snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
    return -1;
  }
  const int wrote = write(ctx, f);
  const int closed = fclose(f);
  if (wrote != 0 || closed != 0 || rename(tmp, path) != 0) {
    snprintf(err, errlen, "cannot write %s: %s", path, errno ? strerror(errno) : "write error");
    unlink(tmp);
    return -1;
  }
  return 0;
}

int ws_report_write_all(const char *dir, const ws_report_file *files, size_t n, void *ctx, char *err, size_t errlen) {
  for (size_t i = 0; i < n; i++)
    if (ws_report_write(dir, files[i].name, files[i].write, ctx, err, errlen) != 0) return -1;
  return 0;
}
