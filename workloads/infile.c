/* Opening user-named input files: regular files within a size limit (see infile.h). */
#define _FILE_OFFSET_BITS 64
#include "infile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What a non-regular file is, for messages. */
static const char *file_type(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO (named pipe)";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

/* "1 MiB" for the limits, else bytes. */
static void size_text(uint64_t v, char *buf, size_t len) {
  if (v >= (UINT64_C(1) << 20) && v % (UINT64_C(1) << 20) == 0)
    snprintf(buf, len, "%llu MiB", (unsigned long long)(v >> 20));
  else
    snprintf(buf, len, "%llu bytes", (unsigned long long)v);
}

int wl_infile_open(const char *path, const char *kind, uint64_t max_bytes, uint64_t *size, char *err,
                   size_t errlen) {
  /* O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting. */
  const int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    snprintf(err, errlen, "%s: cannot stat the %s file: %s", path, kind, strerror(errno));
    close(fd);
    return -1;
  }
  if (!S_ISREG(st.st_mode)) {
    snprintf(err, errlen, "%s: is %s; expected a regular %s file", path, file_type(st.st_mode), kind);
    close(fd);
    return -1;
  }
  if ((uint64_t)st.st_size > max_bytes) {
    char lim[32];
    size_text(max_bytes, lim, sizeof lim);
    snprintf(err, errlen, "%s: %llu bytes, larger than the %s limit of a %s file", path,
             (unsigned long long)st.st_size, lim, kind);
    close(fd);
    return -1;
  }
  /* Reads of a regular file never block; clear the flag anyway for whoever reads it. */
  const int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
    snprintf(err, errlen, "%s: cannot set up the %s file: %s", path, kind, strerror(errno));
    close(fd);
    return -1;
  }
  *size = (uint64_t)st.st_size;
  return fd;
}

char *wl_infile_read(const char *path, const char *kind, uint64_t max_bytes, size_t *len, char *err,
                     size_t errlen) {
  uint64_t size;
  const int fd = wl_infile_open(path, kind, max_bytes, &size, err, errlen);
  if (fd < 0) return NULL;
  /* Read to the end, not to the stat'ed size: the file may change while it
   * is read; more than the limit is refused as above. */
  size_t cap = (size_t)size + 1, n = 0;
  char *buf = malloc(cap + 1);
  while (buf) {
    if (n == cap) {
      if ((uint64_t)cap > max_bytes) break;
      char *more = realloc(buf, cap * 2 + 1);
      if (!more) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = more;
      cap *= 2;
    }
    const ssize_t got = read(fd, buf + n, cap - n);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      snprintf(err, errlen, "%s: cannot read the %s file: %s", path, kind, strerror(errno));
      free(buf);
      close(fd);
      return NULL;
    }
    if (got == 0) break;
    n += (size_t)got;
  }
  close(fd);
  if (!buf) {
    snprintf(err, errlen, "%s: out of memory reading the %s file", path, kind);
    return NULL;
  }
  if ((uint64_t)n > max_bytes) {
    char lim[32];
    size_text(max_bytes, lim, sizeof lim);
    snprintf(err, errlen, "%s: larger than the %s limit of a %s file", path, lim, kind);
    free(buf);
    return NULL;
  }
  buf[n] = '\0';
  *len = n;
  return buf;
}
