/* Output files: a set moved into its directory as a unit, a single file
 * replaced whole, temporaries removed on a signal (see report.h for what a
 * reader can see); and the host's clock. */
#define _GNU_SOURCE /* renameat2 and RENAME_EXCHANGE (Linux, glibc >= 2.28) */
#include "report.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PATH_LEN PATH_MAX
#define MAX_FILES 16 /* files in a set */
#define MAX_PARENTS 8 /* directories made for one set that a signal removes */

double ws_report_wall_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- The temporaries a signal removes ----
 * wafersim's one piece of process-wide mutable state (the house rule is
 * none: a signal handler is given no object to find them from): the paths of
 * the temporary files and directories that exist right now, in the order
 * they were made. Only temps_push and temps_pop change it, with the caught
 * signals blocked; an entry is complete before the count covers it. The
 * handler removes them newest first (files before their directory), restores
 * the default action and raises the signal again, so the process ends by it.
 * unlink, rmdir, signal and raise are async-signal-safe. */
enum { MAX_TEMPS = MAX_FILES + 2 + MAX_PARENTS };
static struct {
  char path[MAX_TEMPS][PATH_LEN];
  volatile sig_atomic_t n; /* entries [0, n) exist */
  bool installed;          /* the handler was installed (where the action was the default) */
} temps;

static const int caught[] = {SIGINT, SIGTERM, SIGHUP};
#define NCAUGHT (sizeof caught / sizeof caught[0])

static void on_signal(int sig) {
  for (sig_atomic_t i = temps.n; i-- > 0;)
    if (unlink(temps.path[i]) != 0) rmdir(temps.path[i]);
  signal(sig, SIG_DFL);
  raise(sig); /* pending until the handler returns: then the default action ends the process */
}

static void block_signals(sigset_t *old) {
  sigset_t s;
  sigemptyset(&s);
  for (size_t i = 0; i < NCAUGHT; i++) sigaddset(&s, caught[i]);
  pthread_sigmask(SIG_BLOCK, &s, old);
}

static void restore_signals(const sigset_t *old) { pthread_sigmask(SIG_SETMASK, old, NULL); }

/* Call with the signals blocked. A signal that was ignored or handled by
 * someone else when the first temporary was made is left alone. */
static void temps_push(const char *path) {
  if (!temps.installed) {
    temps.installed = true;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < NCAUGHT; i++) sigaddset(&sa.sa_mask, caught[i]);
    for (size_t i = 0; i < NCAUGHT; i++) {
      struct sigaction was;
      if (sigaction(caught[i], NULL, &was) == 0 && !(was.sa_flags & SA_SIGINFO) && was.sa_handler == SIG_DFL)
        sigaction(caught[i], &sa, NULL);
    }
  }
  if (temps.n == MAX_TEMPS) return; /* not reached: callers stay within MAX_TEMPS */
  snprintf(temps.path[temps.n], PATH_LEN, "%s", path);
  atomic_signal_fence(memory_order_seq_cst);
  temps.n = temps.n + 1;
}

static void temps_pop(sig_atomic_t to) {
  sigset_t old;
  block_signals(&old);
  temps.n = to;
  restore_signals(&old);
}

/* ---- Paths ---- */

/* path without its trailing slashes as parent and base: "out" is "." and
 * "out", "/a" is "/" and "a", "/" is "/" and "". -1 when too long. */
static int split(const char *path, char *parent, char *base) {
  size_t len = strlen(path);
  while (len > 1 && path[len - 1] == '/') len--;
  if (len >= PATH_LEN) return -1;
  size_t cut = len;
  while (cut > 0 && path[cut - 1] != '/') cut--;
  snprintf(base, PATH_LEN, "%.*s", (int)(len - cut), path + cut);
  if (cut == 0) {
    snprintf(parent, PATH_LEN, ".");
  } else {
    while (cut > 1 && path[cut - 1] == '/') cut--;
    snprintf(parent, PATH_LEN, "%.*s", (int)cut, path);
  }
  return 0;
}

/* dir + "/" + name into out (PATH_LEN bytes). -1 (ENAMETOOLONG) when too long. */
static int join(char *out, const char *dir, const char *name) {
  const int len = snprintf(out, PATH_LEN, "%s/%s", dir, name);
  if (len >= 0 && len < PATH_LEN) return 0;
  errno = ENAMETOOLONG;
  return -1;
}

/* path, or what it names when it is a symbolic link. 0, or -1 (errno). */
static int resolve(const char *path, char *out) {
  struct stat st;
  if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) return realpath(path, out) ? 0 : -1;
  if (strlen(path) >= PATH_LEN) {
    errno = ENAMETOOLONG;
    return -1;
  }
  snprintf(out, PATH_LEN, "%s", path);
  return 0;
}

static bool is_set_name(const char *name, const ws_report_file *files, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(name, files[i].name) == 0) return true;
  return false;
}

/* A temporary wafersim made (".wafersim-PID-K", ".NAME.wafersim-PID-K",
 * ".NAME.wafersim-old-PID-K") that is this process's or was left by one
 * that no longer runs (one still running is writing: not ours to remove),
 * or one of the ".NAME.PID.tmp" that earlier versions made. */
static bool is_temp_name(const char *name, const ws_report_file *files, size_t n) {
  if (name[0] != '.') return false;
  const char *w = strstr(name, ".wafersim-");
  if (w) {
    const char *p = w + strlen(".wafersim-");
    if (strncmp(p, "old-", 4) == 0) p += 4;
    char *end;
    const long pid = strtol(p, &end, 10);
    if (end == p || *end != '-' || pid <= 0) return false;
    return pid == (long)getpid() || (kill((pid_t)pid, 0) != 0 && errno == ESRCH);
  }
  const size_t len = strlen(name);
  if (len < 5 || strcmp(name + len - 4, ".tmp") != 0) return false;
  for (size_t i = 0; i < n; i++) {
    const size_t k = strlen(files[i].name);
    if (strncmp(name + 1, files[i].name, k) == 0 && name[1 + k] == '.') return true;
  }
  return false;
}

/* Remove a temporary directory wafersim made and what it holds (files, and
 * directories of files). Call with the signals blocked. */
static void remove_temp_dir(const char *dir, int depth) {
  DIR *d = opendir(dir);
  if (!d) return;
  char path[PATH_LEN];
  for (struct dirent *e; (e = readdir(d));) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    join(path, dir, e->d_name);
    if (unlink(path) != 0 && depth > 0) remove_temp_dir(path, depth - 1);
  }
  closedir(d);
  rmdir(dir);
}

/* Remove a replaced output directory: only the set's names and wafersim's
 * temporaries; anything else (put there during the run) keeps it. */
static void remove_old_dir(const char *dir, const ws_report_file *files, size_t n) {
  DIR *d = opendir(dir);
  if (!d) return;
  char path[PATH_LEN];
  for (struct dirent *e; (e = readdir(d));) {
    const bool set = is_set_name(e->d_name, files, n);
    if (!set && !is_temp_name(e->d_name, files, n)) continue;
    join(path, dir, e->d_name);
    struct stat st;
    if (lstat(path, &st) != 0) continue;
    if (S_ISREG(st.st_mode) || (!set && !S_ISDIR(st.st_mode))) unlink(path);
    else if (!set && S_ISDIR(st.st_mode)) remove_temp_dir(path, 1);
  }
  closedir(d);
  rmdir(dir);
}

/* A fresh temporary in where: a directory (file = false) or a file open
 * for writing (its descriptor in *fd), named ".BASE.wafersim-PID-K" (or
 * ".wafersim-PID-K" when base is ""), registered for the signals. 0, or -1
 * (errno). */
static int make_temp(const char *where, const char *base, bool file, char *out, int *fd) {
  sigset_t old;
  block_signals(&old);
  int rc = -1;
  for (unsigned k = 0; k < 1000; k++) {
    const int len = snprintf(out, PATH_LEN, "%s/.%s%swafersim-%ld-%u", where, base, *base ? "." : "", (long)getpid(), k);
    if (len >= PATH_LEN) {
      errno = ENAMETOOLONG;
      break;
    }
    if (file) {
      *fd = open(out, O_WRONLY | O_CREAT | O_EXCL, 0666);
      rc = *fd >= 0 ? 0 : -1;
    } else {
      rc = mkdir(out, 0777);
    }
    if (rc == 0) temps_push(out);
    if (rc == 0 || errno != EEXIST) break;
  }
  const int e = errno;
  restore_signals(&old);
  errno = e;
  return rc;
}

/* Run write on f, then flush, fsync (sync) and close it. 0, or the errno. */
static int write_stream(FILE *f, int (*write)(void *ctx, FILE *out), void *ctx, bool sync) {
  errno = 0;
  int e = 0;
  if (write(ctx, f) != 0 || ferror(f) || fflush(f) != 0) e = errno ? errno : EIO;
  if (!e && sync && fsync(fileno(f)) != 0) e = errno;
  if (fclose(f) != 0 && !e) e = errno ? errno : EIO;
  return e;
}

/* Make dir and its missing parents, each registered for the signals (up to
 * MAX_PARENTS); *made is the length of the shortest prefix made (0: none).
 * 0, or -1 with the reason in err. */
static int make_dirs(const char *dir, size_t *made, char *err, size_t errlen) {
  char path[PATH_LEN];
  *made = 0;
  snprintf(path, sizeof path, "%s", dir);
  unsigned pushed = 0;
  for (char *p = path + 1;; p++) {
    const char c = *p;
    if (c != '/' && c != '\0') continue;
    *p = '\0';
    sigset_t old;
    block_signals(&old);
    const int rc = mkdir(path, 0777), e = errno;
    if (rc == 0 && pushed < MAX_PARENTS) {
      temps_push(path);
      pushed++;
    }
    restore_signals(&old);
    if (rc == 0 && *made == 0) *made = strlen(path);
    if (rc != 0 && e != EEXIST) {
      snprintf(err, errlen, "cannot make the directory %s: %s", path, strerror(e));
      return -1;
    }
    *p = c;
    if (c == '\0') break;
  }
  return 0;
}

/* Remove the directories make_dirs made (deepest first), if still empty. */
static void undo_dirs(const char *dir, size_t made) {
  if (made == 0) return;
  char path[PATH_LEN];
  snprintf(path, sizeof path, "%s", dir);
  for (size_t len = strlen(path); len >= made;) {
    path[len] = '\0';
    if (rmdir(path) != 0) return;
    while (len > 0 && path[len - 1] != '/') len--;
    while (len > 1 && path[len - 1] == '/') len--;
  }
}

/* ---- A set of files into a directory ---- */

typedef struct {
  char dir[PATH_LEN];    /* the directory, a symbolic link resolved */
  char parent[PATH_LEN]; /* its parent and last name */
  char base[PATH_LEN];
  bool exists;
  bool in_place; /* file by file into dir: it holds entries not of the set, or cannot be renamed */
  mode_t mode;   /* dir's permission bits, when it exists */
} target;

/* Where and how the set goes. 0, or -1 with the reason in err. */
static int plan(const char *dir, const ws_report_file *files, size_t n, target *t, char *err, size_t errlen) {
  memset(t, 0, sizeof *t);
  if (!*dir) {
    snprintf(err, errlen, "the output directory's name is empty");
    return -1;
  }
  if (resolve(dir, t->dir) != 0 || split(t->dir, t->parent, t->base) != 0) {
    snprintf(err, errlen, "cannot use the output directory %s: %s", dir, strerror(errno));
    return -1;
  }
  struct stat st, pst;
  if (stat(t->dir, &st) != 0) {
    if (errno == ENOENT) return 0;
    snprintf(err, errlen, "cannot make the output directory %s: %s", dir, strerror(errno));
    return -1;
  }
  if (!S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "output directory %s is not a directory", dir);
    return -1;
  }
  t->exists = true;
  t->mode = st.st_mode & 07777;
  t->in_place = !*t->base || strcmp(t->base, ".") == 0 || strcmp(t->base, "..") == 0 ||
                stat(t->parent, &pst) != 0 || pst.st_dev != st.st_dev || access(t->parent, W_OK | X_OK) != 0;
  DIR *d = opendir(t->dir);
  if (!d) {
    snprintf(err, errlen, "cannot read the output directory %s: %s", dir, strerror(errno));
    return -1;
  }
  int rc = 0;
  char path[PATH_LEN];
  for (struct dirent *e; rc == 0 && (e = readdir(d));) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    if (is_set_name(e->d_name, files, n)) {
      join(path, t->dir, e->d_name);
      if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        snprintf(err, errlen,
                 "%s/%s is not a regular file, and wafersim replaces only the files it writes: remove it or give "
                 "another directory",
                 dir, e->d_name);
        rc = -1;
      }
    } else if (!is_temp_name(e->d_name, files, n)) {
      t->in_place = true;
    }
  }
  closedir(d);
  return rc;
}

/* Can a temporary be made in where? Makes one and removes it. */
static int probe(const char *where, const char *what, char *err, size_t errlen) {
  char tmp[PATH_LEN];
  const sig_atomic_t mark = temps.n;
  if (make_temp(where, "", false, tmp, NULL) != 0) {
    snprintf(err, errlen, "%s: cannot write in %s: %s", what, where, strerror(errno));
    return -1;
  }
  rmdir(tmp);
  temps_pop(mark);
  return 0;
}

int ws_report_check_dir(const char *dir, const ws_report_file *files, size_t n, char *err, size_t errlen) {
  target t;
  if (plan(dir, files, n, &t, err, errlen) != 0) return -1;
  if (t.exists) return probe(t.in_place ? t.dir : t.parent, dir, err, errlen);
  /* The nearest ancestor that exists must be a directory we can write in. */
  char path[PATH_LEN], parent[PATH_LEN], base[PATH_LEN];
  snprintf(path, sizeof path, "%s", t.dir);
  for (;;) {
    split(path, parent, base);
    struct stat st;
    if (stat(parent, &st) == 0) {
      if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "cannot make the output directory %s: %s is not a directory", dir, parent);
        return -1;
      }
      return probe(parent, dir, err, errlen);
    }
    if (errno != ENOENT || strcmp(parent, path) == 0) {
      snprintf(err, errlen, "cannot make the output directory %s: %s: %s", dir, parent, strerror(errno));
      return -1;
    }
    snprintf(path, sizeof path, "%s", parent);
  }
}

/* The whole set, written in tmp, replaces dir (which held only the set's
 * files). Signals blocked. */
static int commit_swap(const target *t, const char *shown, const char *tmp, const ws_report_file *files, size_t n,
                       char *err, size_t errlen) {
  if (!t->exists) {
    if (rename(tmp, t->dir) == 0) return 0;
    snprintf(err, errlen, "cannot move the new files into %s: %s", shown, strerror(errno));
    return -1;
  }
  chmod(tmp, t->mode);
#ifdef RENAME_EXCHANGE
  if (renameat2(AT_FDCWD, tmp, AT_FDCWD, t->dir, RENAME_EXCHANGE) == 0) {
    remove_old_dir(tmp, files, n); /* tmp is now the old directory */
    return 0;
  }
  if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP) {
    snprintf(err, errlen, "cannot move the new files into %s: %s", shown, strerror(errno));
    return -1;
  }
#endif
  /* No exchange on this filesystem: the old directory aside, the new in. */
  char old[PATH_LEN];
  struct stat st;
  for (unsigned k = 0;; k++) {
    char name[64 + NAME_MAX];
    const int len = snprintf(name, sizeof name, ".%s.wafersim-old-%ld-%u", t->base, (long)getpid(), k);
    if (len < 0 || len >= (int)sizeof name || join(old, t->parent, name) != 0) {
      errno = ENAMETOOLONG;
      snprintf(err, errlen, "cannot replace %s: %s", shown, strerror(errno));
      return -1;
    }
    if (lstat(old, &st) != 0 && errno == ENOENT) break;
  }
  if (rename(t->dir, old) != 0) {
    snprintf(err, errlen, "cannot move the old files of %s aside: %s", shown, strerror(errno));
    return -1;
  }
  if (rename(tmp, t->dir) != 0) {
    const int e = errno;
    rename(old, t->dir);
    snprintf(err, errlen, "cannot move the new files into %s: %s", shown, strerror(e));
    return -1;
  }
  remove_old_dir(old, files, n);
  return 0;
}

/* The set, written in tmp (inside dir), renamed over its names one by one;
 * the old versions hard-linked aside first and put back if a rename fails.
 * Signals blocked. */
static int commit_in_place(const target *t, const char *shown, const char *tmp, const ws_report_file *files,
                           size_t n, char *err, size_t errlen) {
  char stash[PATH_LEN], from[PATH_LEN], to[PATH_LEN];
  snprintf(stash, sizeof stash, "%s/.old", tmp);
  if (mkdir(stash, 0700) != 0) {
    snprintf(err, errlen, "cannot write in %s: %s", shown, strerror(errno));
    return -1;
  }
  bool had[MAX_FILES] = {false};
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < n; i++) {
    struct stat st;
    join(to, t->dir, files[i].name);
    join(from, stash, files[i].name);
    if (lstat(to, &st) != 0) {
      if (errno == ENOENT) continue;
      snprintf(err, errlen, "cannot replace %s/%s: %s", shown, files[i].name, strerror(errno));
      rc = -1;
    } else if (!S_ISREG(st.st_mode)) {
      snprintf(err, errlen, "%s/%s is not a regular file, and wafersim replaces only the files it writes", shown,
               files[i].name);
      rc = -1;
    } else if (link(to, from) != 0) {
      snprintf(err, errlen, "cannot keep the old %s/%s while replacing it: %s", shown, files[i].name,
               strerror(errno));
      rc = -1;
    } else {
      had[i] = true;
    }
  }
  for (size_t i = 0; rc == 0 && i < n; i++) {
    join(from, tmp, files[i].name);
    join(to, t->dir, files[i].name);
    if (rename(from, to) == 0) continue;
    snprintf(err, errlen, "cannot move the new %s into %s: %s", files[i].name, shown, strerror(errno));
    rc = -1;
    for (size_t j = 0; j < i; j++) { /* every name back as it was */
      join(from, stash, files[j].name);
      join(to, t->dir, files[j].name);
      if (had[j]) rename(from, to);
      else unlink(to);
    }
  }
  remove_temp_dir(stash, 0);
  return rc;
}

int ws_report_write_dir(const char *dir, const ws_report_file *files, size_t n, void *ctx, char *err,
                        size_t errlen) {
  if (n > MAX_FILES) {
    snprintf(err, errlen, "more than %d files in one output directory", MAX_FILES);
    return -1;
  }
  target t;
  if (plan(dir, files, n, &t, err, errlen) != 0) return -1;
  const sig_atomic_t mark = temps.n;
  size_t made = 0;
  char tmp[PATH_LEN] = "", path[PATH_LEN];
  int rc = t.exists ? 0 : make_dirs(t.parent, &made, err, errlen);
  if (rc == 0 && make_temp(t.in_place ? t.dir : t.parent, t.in_place ? "" : t.base, false, tmp, NULL) != 0) {
    snprintf(err, errlen, "cannot write in %s: %s", t.in_place ? dir : t.parent, strerror(errno));
    tmp[0] = '\0';
    rc = -1;
  }
  for (size_t i = 0; rc == 0 && i < n; i++) {
    char name[PATH_LEN];
    int fd = -1, e = 0;
    join(path, tmp, files[i].name);
    sigset_t old;
    block_signals(&old);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0666);
    e = errno;
    if (fd >= 0) temps_push(path);
    restore_signals(&old);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (fd >= 0 && !f) {
      e = errno;
      close(fd);
    }
    if (f) e = write_stream(f, files[i].write, ctx, true);
    if (e != 0) {
      join(name, dir, files[i].name);
      snprintf(err, errlen, "cannot write %s: %s", name, strerror(e));
      rc = -1;
    }
  }
  sigset_t old;
  block_signals(&old);
  /* Look again: DIR may have changed while the files were written (been
   * made, been given someone's file). A set begun inside DIR stays in place. */
  target now;
  if (rc == 0 && plan(dir, files, n, &now, err, errlen) != 0) rc = -1;
  const bool in_place = rc == 0 && (t.in_place || now.in_place);
  if (rc == 0)
    rc = in_place ? commit_in_place(&now, dir, tmp, files, n, err, errlen)
                  : commit_swap(&now, dir, tmp, files, n, err, errlen);
  if (tmp[0] && (rc != 0 || in_place)) remove_temp_dir(tmp, 1);
  if (rc != 0) undo_dirs(t.parent, made);
  temps_pop(mark);
  restore_signals(&old);
  return rc;
}

/* ---- A single file ---- */

int ws_report_check_file(const char *path, char *err, size_t errlen) {
  char real[PATH_LEN], parent[PATH_LEN], base[PATH_LEN];
  struct stat st;
  if (!*path || resolve(path, real) != 0 || split(real, parent, base) != 0) {
    snprintf(err, errlen, "cannot write %s: %s", path, *path ? strerror(errno) : "empty name");
    return -1;
  }
  if (stat(real, &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      snprintf(err, errlen, "cannot write %s: %s", path, strerror(EISDIR));
      return -1;
    }
    if (!S_ISREG(st.st_mode)) return 0; /* a device or pipe: written in place */
  }
  const int e = stat(parent, &st) != 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
  if (e != 0) {
    snprintf(err, errlen, "cannot write %s: %s", path, strerror(e));
    return -1;
  }
  return probe(parent, path, err, errlen);
}

int ws_report_write_file(const char *path, int (*write)(void *ctx, FILE *out), void *ctx, char *err,
                         size_t errlen) {
  char real[PATH_LEN], parent[PATH_LEN], base[PATH_LEN], tmp[PATH_LEN];
  struct stat st;
  if (!*path || resolve(path, real) != 0 || split(real, parent, base) != 0) {
    snprintf(err, errlen, "cannot write %s: %s", path, *path ? strerror(errno) : "empty name");
    return -1;
  }
  const bool exists = stat(real, &st) == 0;
  int e = 0;
  if (exists && S_ISDIR(st.st_mode)) {
    e = EISDIR;
  } else if (exists && !S_ISREG(st.st_mode)) { /* a device or pipe: nothing to replace */
    FILE *f = fopen(real, "w");
    e = f ? write_stream(f, write, ctx, false) : errno;
  } else {
    const sig_atomic_t mark = temps.n;
    int fd = -1;
    if (make_temp(parent, base, true, tmp, &fd) != 0) {
      e = errno;
    } else {
      if (exists) fchmod(fd, st.st_mode & 07777);
      FILE *f = fdopen(fd, "w");
      if (!f) {
        e = errno;
        close(fd);
      }
      if (f) e = write_stream(f, write, ctx, true);
      sigset_t old;
      block_signals(&old);
      if (e == 0 && rename(tmp, real) != 0) e = errno;
      if (e != 0) unlink(tmp);
      temps_pop(mark);
      restore_signals(&old);
    }
  }
  if (e != 0) snprintf(err, errlen, "cannot write %s: %s", path, strerror(e));
  return e ? -1 : 0;
}
