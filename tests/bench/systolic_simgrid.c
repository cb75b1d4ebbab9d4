/* The systolic mesh of systolic.h written against SimGrid's C API, as the
 * reference the wafersim engine is checked and timed against:
 *   systolic_simgrid N [K C T]      (default 10 1000 5)
 * One actor per PE on an N x N TORUS cluster (a row's east neighbour is one
 * link away, the last column wraps to the first, as in systolic.h). Each
 * round: execute C flops, put 64 bytes async to the east mailbox, get from
 * its own, wait for the put.
 *
 * Units are scaled so one cycle is one simulated second: hosts run 1 flop/s,
 * links have 1 s latency and 64 / (T - 1) B/s, so a transfer takes
 * 1 + 64 / bw = T seconds; times then sit far above SimGrid's 1e-9 s
 * precision, and the comparison tolerance is 1e-6 cycles. Model CM02 (no TCP
 * factors), no cross-traffic, split-duplex links.
 * Prints: bench simgrid-systolic-N events=MESSAGES wall_s=W events_per_s=R
 *         rss_kb=M sim_end=CYCLES */
#include <simgrid/actor.h>
#include <simgrid/comm.h>
#include <simgrid/engine.h>
#include <simgrid/host.h>
#include <simgrid/mailbox.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define MESSAGE_BYTES 64

static double seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* argv: "pe", index, n, rounds, compute */
static void pe_main(int argc, char **argv) {
  if (argc != 5) abort();
  const long p = atol(argv[1]), n = atol(argv[2]), rounds = atol(argv[3]);
  const double compute = atof(argv[4]);
  const long x = p % n, y = p / n, east = y * n + (x + 1) % n;
  char name[32];
  snprintf(name, sizeof name, "mb-%ld", p);
  sg_mailbox_t self = sg_mailbox_by_name(name);
  snprintf(name, sizeof name, "mb-%ld", east);
  sg_mailbox_t next = sg_mailbox_by_name(name);
  static char payload; /* SimGrid carries a pointer; the size is simulated */
  for (long r = 0; r < rounds; r++) {
    sg_actor_execute(compute);
    sg_comm_t put = sg_mailbox_put_async(next, &payload, MESSAGE_BYTES);
    sg_mailbox_get(self);
    sg_comm_wait(put);
  }
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: systolic_simgrid N [K C T]\n");
    return 2;
  }
  const long n = atol(argv[1]), rounds = argc > 2 ? atol(argv[2]) : 10;
  const long compute = argc > 3 ? atol(argv[3]) : 1000, transfer = argc > 4 ? atol(argv[4]) : 5;
  if (n < 2 || rounds < 1 || compute < 0 || transfer < 2) {
    fprintf(stderr, "systolic_simgrid: need N >= 2, K >= 1, C >= 0, T >= 2\n");
    return 2;
  }
  const double t0 = seconds();
  char platform[] = "/tmp/wafersim-systolic-XXXXXX";
  int fd = mkstemp(platform);
  FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
  if (!f) {
    perror("systolic_simgrid: platform file");
    return 1;
  }
  fprintf(f,
          "<?xml version='1.0'?>\n"
          "<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n"
          "<platform version=\"4.1\">\n"
          "  <cluster id=\"mesh\" prefix=\"pe-\" suffix=\"\" radical=\"0-%ld\" speed=\"1f\"\n"
          "           bw=\"%.17gBps\" lat=\"1s\" topology=\"TORUS\" topo_parameters=\"%ld,%ld\"\n"
          "           sharing_policy=\"SPLITDUPLEX\"/>\n"
          "</platform>\n",
          n * n - 1, (double)MESSAGE_BYTES / (double)(transfer - 1), n, n);
  fclose(f);

  char *sg_argv[] = {argv[0],
                     "--cfg=network/model:CM02",
                     "--cfg=network/crosstraffic:0",
                     "--cfg=contexts/stack-size:16",
                     "--cfg=contexts/guard-size:0",
                     "--log=root.thres:critical",
                     NULL};
  int sg_argc = 6;
  simgrid_init(&sg_argc, sg_argv);
  simgrid_load_platform(platform);
  unlink(platform);

  char a_n[24], a_k[24], a_c[24];
  snprintf(a_n, sizeof a_n, "%ld", n);
  snprintf(a_k, sizeof a_k, "%ld", rounds);
  snprintf(a_c, sizeof a_c, "%ld", compute);
  for (long p = 0; p < n * n; p++) {
    char name[32], idx[24];
    snprintf(name, sizeof name, "pe-%ld", p);
    snprintf(idx, sizeof idx, "%ld", p);
    const char *pe_argv[] = {"pe", idx, a_n, a_k, a_c};
    sg_actor_create("pe", sg_host_by_name(name), pe_main, 5, (char **)pe_argv);
  }
  simgrid_run();
  const double end = simgrid_get_clock(), wall = seconds() - t0;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  const long messages = n * n * rounds;
  printf("bench simgrid-systolic-%ld events=%ld wall_s=%.4f events_per_s=%.0f rss_kb=%ld sim_end=%.9f\n",
         n, messages, wall, (double)messages / wall, ru.ru_maxrss, end);
  return 0;
}
