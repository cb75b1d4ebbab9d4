/* A sweep over the ranks of an MPI job (see sweep_mpi.h). Only the main
 * thread calls MPI (MPI_THREAD_FUNNELED): the sweep's worker threads run
 * the points, the gather comes after they have joined. Built with
 * -DWS_MPI=1 (the Makefile's MPI variable) it uses OpenMPI; without, the
 * same functions give one process. */
#include "sweep_mpi.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct ws_mpi {
  int rank, size;
  bool initialised; /* open called MPI_Init_thread: close finalises */
  ws_sweep_share share;
};

/* The job's size as mpirun's environment gives it: 0 when not started by
 * mpirun; 1 when started by one that names no size (PMIx alone). */
static int env_size(void) {
  const char *v = getenv("OMPI_COMM_WORLD_SIZE");
  if (!v) v = getenv("PMI_SIZE");
  if (v) return atoi(v) > 0 ? atoi(v) : 1;
  return getenv("PMIX_RANK") ? 1 : 0;
}

/* This process's rank as mpirun's environment gives it, 0 without. */
static int env_rank(void) {
  const char *v = getenv("OMPI_COMM_WORLD_RANK");
  if (!v) v = getenv("PMI_RANK");
  if (!v) v = getenv("PMIX_RANK");
  return v ? atoi(v) : 0;
}

/* The share's two parts, per build (below). */
static bool share_mine(void *ctx, size_t i);
static int share_gather(void *ctx, char **parts, size_t *len, size_t n, int status, char *msg, size_t msglen);

/* This process as a job of its own: rank 0 of 1, with this build's share. */
static ws_mpi *one_process(char *err, size_t errlen) {
  ws_mpi *m = calloc(1, sizeof *m);
  if (!m) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  m->size = 1;
  m->share = (ws_sweep_share){share_mine, share_gather, m};
  return m;
}

int ws_mpi_refuse_job(const char *cmd, FILE *err) {
  const int size = env_size();
  if (size <= 1) return 0;
  if (env_rank() == 0)
    fprintf(err,
            "wafersim %s: started by mpirun as %d processes, which would each run it and write the same "
            "output; only 'sweep' spreads over an MPI job's ranks: start 'wafersim %s' without mpirun\n",
            cmd, size, cmd);
  return -1;
}

int ws_mpi_rank(const ws_mpi *m) { return m->rank; }
int ws_mpi_size(const ws_mpi *m) { return m->size; }
const ws_sweep_share *ws_mpi_share(const ws_mpi *m) { return m->size > 1 ? &m->share : NULL; }

#if defined(WS_MPI) && WS_MPI

#include <limits.h>
#include <mpi.h>
#include <time.h>

bool ws_mpi_built(void) { return true; }

static bool owns(int rank, int size, size_t i) { return (int)(i % (size_t)size) == rank; }

static bool share_mine(void *ctx, size_t i) {
  const ws_mpi *m = ctx;
  return owns(m->rank, m->size, i);
}

/* len bytes to rank 0, their count first, in pieces MPI's int counts hold. */
static void send_bytes(const char *b, uint64_t len, int tag) {
  MPI_Send(&len, 1, MPI_UINT64_T, 0, tag, MPI_COMM_WORLD);
  for (uint64_t off = 0; off < len;) {
    const int piece = len - off > INT_MAX ? INT_MAX : (int)(len - off);
    MPI_Send(b + off, piece, MPI_CHAR, 0, tag, MPI_COMM_WORLD);
    off += (uint64_t)piece;
  }
}

/* The bytes send_bytes sent from rank `from`, malloc'd (NUL-terminated past len). */
static char *recv_bytes(int from, int tag, uint64_t *len) {
  MPI_Recv(len, 1, MPI_UINT64_T, from, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  char *b = *len < SIZE_MAX ? malloc((size_t)*len + 1) : NULL;
  if (!b) {
    fprintf(stderr, "wafersim sweep: rank 0: out of memory for %llu bytes of rank %d's results\n",
            (unsigned long long)*len, from);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  for (uint64_t off = 0; off < *len;) {
    const int piece = *len - off > INT_MAX ? INT_MAX : (int)(*len - off);
    MPI_Recv(b + off, piece, MPI_CHAR, from, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    off += (uint64_t)piece;
  }
  b[*len] = '\0';
  return b;
}

/* The lowest rank whose status is not 0 (all of them gathered), -1 if none. */
static int first_failing(const ws_mpi *m, int status, int *st) {
  int *all = malloc((size_t)m->size * sizeof *all);
  if (!all) {
    fprintf(stderr, "wafersim sweep: rank %d: out of memory\n", m->rank);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  /* A rank done before the others sleeps between polls rather than spin in
     MPI's busy wait: on a host running several ranks it would take a core
     from a rank still running points. */
  MPI_Request req;
  MPI_Iallgather(&status, 1, MPI_INT, all, 1, MPI_INT, MPI_COMM_WORLD, &req);
  for (int done = 0;;) {
    MPI_Test(&req, &done, MPI_STATUS_IGNORE);
    if (done) break;
    nanosleep(&(struct timespec){0, 1000000}, NULL); /* 1 ms */
  }
  int first = -1;
  for (int r = 0; r < m->size && first < 0; r++)
    if (all[r] != 0) first = r;
  *st = first >= 0 ? all[first] : 0;
  free(all);
  return first;
}

/* ws_sweep_share's gather: statuses first, so that a failure anywhere
 * stops every rank with the same message; then every result to rank 0,
 * point by point in index order (each rank sends its own in that order:
 * no rank waits on another). */
static int share_gather(void *ctx, char **parts, size_t *len, size_t n, int status, char *msg, size_t msglen) {
  const ws_mpi *m = ctx;
  int st;
  const int first = first_failing(m, status, &st);
  if (first >= 0) {
    if (msglen > INT_MAX) msglen = INT_MAX;
    MPI_Bcast(msg, (int)msglen, MPI_CHAR, first, MPI_COMM_WORLD);
    msg[msglen - 1] = '\0';
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    const int owner = (int)(i % (size_t)m->size), tag = (int)(i % 32768);
    if (owner == 0) continue;
    if (m->rank == owner) {
      send_bytes(parts[i], len[i], tag);
    } else if (m->rank == 0) {
      uint64_t l;
      free(parts[i]);
      parts[i] = recv_bytes(owner, tag, &l);
      len[i] = (size_t)l;
    }
  }
  return m->rank == 0 ? 0 : 1;
}

ws_mpi *ws_mpi_open(char *err, size_t errlen) {
  ws_mpi *m = one_process(err, errlen);
  if (!m || env_size() == 0) return m;
  int done = 0, ready = 0;
  MPI_Finalized(&done);
  if (done) {
    snprintf(err, errlen, "MPI was finalised already in this process: one sweep per process under mpirun");
    free(m);
    return NULL;
  }
  MPI_Initialized(&ready);
  if (!ready) {
    int provided = 0;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
      snprintf(err, errlen, "MPI_Init_thread failed: run under mpirun, or without it for one process");
      free(m);
      return NULL;
    }
    m->initialised = true;
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &m->rank);
  MPI_Comm_size(MPI_COMM_WORLD, &m->size);
  return m;
}

void ws_mpi_close(ws_mpi *m) {
  if (m && m->initialised) MPI_Finalize();
  free(m);
}

int ws_mpi_agree(const ws_mpi *m, int status, const char *text, FILE *err) {
  if (m->size == 1) return status;
  int st;
  const int first = first_failing(m, status, &st);
  if (first <= 0) return st;
  if (m->rank == first) {
    send_bytes(text ? text : "", text ? strlen(text) : 0, 0);
  } else if (m->rank == 0) {
    uint64_t l;
    char *t = recv_bytes(first, 0, &l);
    /* Every line of the failing rank's messages, marked with its rank. */
    for (char *line = t, *nl; *line; line = nl ? nl + 1 : line + strlen(line)) {
      nl = strchr(line, '\n');
      fprintf(err, "[rank %d of %d] %.*s\n", first, m->size, nl ? (int)(nl - line) : (int)strlen(line), line);
    }
    if (l == 0) fprintf(err, "wafersim sweep: rank %d of %d failed (status %d) and said nothing\n", first, m->size, st);
    free(t);
  }
  return st;
}

#else /* a build without MPI: one process */

bool ws_mpi_built(void) { return false; }

static bool share_mine(void *ctx, size_t i) {
  (void)ctx;
  (void)i;
  return true;
}

static int share_gather(void *ctx, char **parts, size_t *len, size_t n, int status, char *msg, size_t msglen) {
  (void)ctx, (void)parts, (void)len, (void)n, (void)msg, (void)msglen;
  return status == 0 ? 0 : -1;
}

ws_mpi *ws_mpi_open(char *err, size_t errlen) {
  const int size = env_size();
  if (size > 1) {
    if (env_rank() == 0)
      snprintf(err, errlen,
               "started by mpirun as %d processes, but this wafersim was built without MPI: every process would "
               "run the whole sweep; rebuild with OpenMPI (make deps, then make MPI=1), or run it without mpirun",
               size);
    else if (errlen)
      err[0] = '\0';
    return NULL;
  }
  return one_process(err, errlen);
}

void ws_mpi_close(ws_mpi *m) { free(m); }

int ws_mpi_agree(const ws_mpi *m, int status, const char *text, FILE *err) {
  (void)m, (void)text, (void)err;
  return status;
}

#endif
