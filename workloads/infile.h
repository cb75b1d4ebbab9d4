/* Opening the files a user names as input (configurations, .safetensors
 * weights, check's JSON documents): one rule for all of them. A path must
 * name a regular file (not a FIFO, directory, device or socket: opened with
 * O_NONBLOCK and checked with fstat before anything reads, so a FIFO never
 * blocks) no larger than the limit of its kind. It lives in workloads/, the
 * lowest folder that reads user files (safetensors.c), so that sim/ uses the
 * same function: workloads/ may not include sim/. */
#ifndef WAFERSIM_WORKLOADS_INFILE_H
#define WAFERSIM_WORKLOADS_INFILE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Size limits per kind of input file (bytes). */
#define WL_INFILE_CONFIG_MAX (UINT64_C(1) << 20)   /* a configuration: 1 MiB (they are a few hundred bytes) */
#define WL_INFILE_DOC_MAX (UINT64_C(256) << 20)    /* check's run.json / sweep.json: 256 MiB */
#define WL_INFILE_NO_LIMIT UINT64_MAX              /* .safetensors: read tensor by tensor; its header <= 100 MiB */

/* Open `path` for reading: a blocking descriptor of a regular file of at
 * most max_bytes, its size in *size. -1 with "PATH: what it is; expected
 * a regular KIND file" (KIND e.g. "configuration") in err otherwise. */
int wl_infile_open(const char *path, const char *kind, uint64_t max_bytes, uint64_t *size, char *err,
                   size_t errlen);

/* The whole file, as wl_infile_open admits it, in a malloc'd buffer with a
 * NUL after its *len bytes (the caller frees it); NULL with the reason. */
char *wl_infile_read(const char *path, const char *kind, uint64_t max_bytes, size_t *len, char *err,
                     size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
