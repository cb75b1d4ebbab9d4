/* A sweep spread over the processes of an MPI job (`mpirun -n N wafersim
 * sweep ...`): every rank computes the same configuration and points, runs
 * point i when i mod N is its rank (on its own -j threads), and rank 0
 * gathers every point's result and writes the reports, exactly the files
 * and text a sweep in one process writes; the other ranks write nothing
 * and print nothing on stdout. The whole of MPI lives in sweep_mpi.c: a
 * build without MPI (make MPI=0, or OpenMPI absent) compiles the same
 * functions to a single process, and refuses a job of more than one.
 *
 * A process not started by mpirun never initialises MPI: it is one process
 * of rank 0, as in a build without MPI. */
#ifndef WAFERSIM_SIM_SWEEP_MPI_H
#define WAFERSIM_SIM_SWEEP_MPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "sweep.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ws_mpi ws_mpi;

/* A command other than sweep started by mpirun as a job of more than one
 * process (its environment says so; MPI untouched): -1, with the refusal
 * printed on err by rank 0 alone; else 0. */
int ws_mpi_refuse_job(const char *cmd, FILE *err);

/* Whether this build can spread a sweep over MPI ranks. */
bool ws_mpi_built(void);

/* The job this process is part of. Started by mpirun (its environment
 * says so: OMPI_COMM_WORLD_SIZE, PMIX_RANK or PMI_SIZE), MPI is initialised
 * and the job's rank and size taken; otherwise one process, MPI untouched.
 * NULL with the reason in err: started by mpirun with more than one
 * process in a build without MPI (err then empty on every rank but 0, so
 * the reason is printed once), MPI already finalised in this process, or
 * out of memory. */
ws_mpi *ws_mpi_open(char *err, size_t errlen);
/* Leave the job (MPI_Finalize when open initialised MPI); m may be NULL. */
void ws_mpi_close(ws_mpi *m);

int ws_mpi_rank(const ws_mpi *m);
int ws_mpi_size(const ws_mpi *m);

/* The share of a sweep's points (sweep.h) over the job's ranks: point i on
 * rank i mod size, every result gathered to rank 0; NULL for one process. */
const ws_sweep_share *ws_mpi_share(const ws_mpi *m);

/* Every rank's status brought together, called by every rank at the same
 * step: 0 when all are 0, else the status of the lowest rank whose status
 * is not 0 (every rank gets the same). text is what this rank would have
 * printed on stderr (rank 0's own is printed already): when the failing
 * rank is not 0, rank 0 prints its text on err, each line marked with the
 * rank. One process: status itself. */
int ws_mpi_agree(const ws_mpi *m, int status, const char *text, FILE *err);

#ifdef __cplusplus
}
#endif
#endif
