/* Huge pages for the simulator's state (see hugepages.h). */
#include "hugepages.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TUNABLE "glibc.malloc.hugetlb"

bool ws_hugepages_tunables(const char *thp, const char *tunables, const char *opt, const char *preload,
                           char *out, size_t outlen) {
  if (opt && strcmp(opt, "0") == 0) return false;
  if (preload && strstr(preload, "vgpreload")) return false;
  if (!thp || !strstr(thp, "[madvise]")) return false; /* always, never, or unknown */
  if (tunables && strstr(tunables, TUNABLE)) return false;
  const int n = tunables && tunables[0] ? snprintf(out, outlen, "%s:" TUNABLE "=1", tunables)
                                        : snprintf(out, outlen, TUNABLE "=1");
  return n > 0 && (size_t)n < outlen;
}

void ws_hugepages_restart(char **argv) {
  char thp[128] = "", value[4096];
  FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
  const bool known = f && fgets(thp, sizeof thp, f);
  if (f) fclose(f);
  if (!ws_hugepages_tunables(known ? thp : NULL, getenv("GLIBC_TUNABLES"), getenv("WAFERSIM_HUGEPAGES"),
                             getenv("LD_PRELOAD"), value, sizeof value))
    return;
  /* This binary by its path, not as /proc/self/exe, which would name the
   * process "exe" in ps, top and perf. */
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0 || (size_t)n >= sizeof self - 1) return;
  self[n] = '\0';
  /* The new process sees the tunable, so it does not start again. */
  if (setenv("GLIBC_TUNABLES", value, 1) != 0) return;
  execv(self, argv); /* returns only on failure (the binary gone, say): carry on as we are */
}
