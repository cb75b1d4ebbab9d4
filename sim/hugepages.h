/* Huge pages for the simulator's state. A full-wafer run keeps about two
 * gigabytes of state and touches it at random, event after event; with 4 KiB
 * pages nearly every touch also misses the TLB, and under a hypervisor a TLB
 * miss costs a two-level page walk. Where the kernel gives transparent huge
 * pages only on request (the "madvise" mode, Debian's default), glibc's
 * allocator requests them when its tunable glibc.malloc.hugetlb is 1; it
 * reads tunables once, at start, so the process starts itself again with the
 * tunable set. The answer cannot change: only where memory lies does.
 * WAFERSIM_HUGEPAGES=0 keeps the process as it was started. */
#ifndef WAFERSIM_SIM_HUGEPAGES_H
#define WAFERSIM_SIM_HUGEPAGES_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Whether to start again, and with which GLIBC_TUNABLES (written to out):
 * thp is the kernel's /sys/kernel/mm/transparent_hugepage/enabled line (NULL
 * if unreadable), tunables, opt and preload the current GLIBC_TUNABLES,
 * WAFERSIM_HUGEPAGES and LD_PRELOAD (NULL if unset). False when the kernel
 * already gives huge pages to everything ("[always]"), gives none
 * ("[never]") or is not known, when the tunable is already there, when opt
 * is "0", under valgrind (its preload: the new process would run outside
 * it), or when the new value does not fit out. */
bool ws_hugepages_tunables(const char *thp, const char *tunables, const char *opt, const char *preload,
                           char *out, size_t outlen);

/* Start this process again with the tunable, when ws_hugepages_tunables
 * says so; returns only if it does not (or the restart failed). */
void ws_hugepages_restart(char **argv);

#ifdef __cplusplus
}
#endif
#endif
