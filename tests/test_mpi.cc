// Sweeps over the ranks of an MPI job (sim/sweep_mpi.h): `mpirun -n 2
// wafersim sweep` writes the same files as `wafersim sweep -j 1`, byte for
// byte once the host's fields are out; so does a job of more ranks than
// points; bad input is one message and the same non-zero status from every
// rank, with nothing written; a build without MPI refuses a job of more
// than one process. The binary is spawned under mpirun (make deps installs
// OpenMPI; CI runs as root, so the child is allowed to).
#include <gtest/gtest.h>
#include <jansson.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "sim/sweep_mpi.h"
#include "ws_json.h"
#include "ws_test.h"

namespace {

using wstest::read_file;
using wstest::source_path;

const std::string kTiny = source_path("tests/expected/tiny-sparse.yaml");

// mpirun's path on PATH, "" when absent.
std::string mpirun() {
  const char *path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  for (size_t a = 0, b; a <= dirs.size(); a = b + 1) {
    b = dirs.find(':', a);
    if (b == std::string::npos) b = dirs.size();
    const std::string p = dirs.substr(a, b - a) + "/mpirun";
    if (b > a && access(p.c_str(), X_OK) == 0) return p;
  }
  return "";
}

struct Ran {
  int code;  // exit status, -1 if not exited
  std::string out, err;
};

// Runs `[mpirun -n ranks --oversubscribe] wafersim ARGS` through the shell
// (ranks 0: the binary alone), stdout and stderr into files under dir,
// allowed to run as root, stopped after two minutes.
// program: what each rank runs, as shell words (quoted). In a sanitizer
// build, what OpenMPI keeps until exit is not a leak of ours
// (tests/mpi.lsan.supp; whole stacks, so that ours still show).
Ran spawn_program(int ranks, const std::string &program, const std::string &dir) {
  std::string cmd = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
                    "OMPI_MCA_mca_base_component_disable_dlclose=1 ASAN_OPTIONS=fast_unwind_on_malloc=0 "
                    "LSAN_OPTIONS=suppressions='" + source_path("tests/mpi.lsan.supp") + "' timeout 120 ";
  if (ranks > 0)
    cmd += "'" + mpirun() + "' -n " + std::to_string(ranks) +
           " --oversubscribe -x OMPI_MCA_mca_base_component_disable_dlclose -x ASAN_OPTIONS -x LSAN_OPTIONS ";
  cmd += program;
  const std::string out = dir + ".stdout", err = dir + ".stderr";
  cmd += " >'" + out + "' 2>'" + err + "'";
  const int st = std::system(cmd.c_str());
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, read_file(out), read_file(err)};
}

Ran spawn(int ranks, const std::vector<std::string> &args, const std::string &dir) {
  std::string program = "'" + wstest::binary() + "'";
  for (const auto &a : args) program += " '" + a + "'";
  return spawn_program(ranks, program, dir);
}

using wstest::Json;

// Every file of a sweep's --out, the same in a and b: the host's fields out
// of sweep.csv and sweep.json, the others byte for byte.
void expect_same_sweep(const std::string &a, const std::string &b) {
  Json s(wstest::output_schema());
  for (const char *f : {"kinds.csv", "pes_first.csv", "pes_last.csv"}) {
    const std::string fa = read_file(a + "/" + f);
    EXPECT_FALSE(fa.empty()) << a << "/" << f;
    EXPECT_EQ(fa, read_file(b + "/" + f)) << f;
  }
  const std::string ca = read_file(a + "/sweep.csv");
  EXPECT_FALSE(ca.empty());
  EXPECT_EQ(wstest::strip_host_csv(s.j, "#/$defs/point", ca),
            wstest::strip_host_csv(s.j, "#/$defs/point", read_file(b + "/sweep.csv")));
  EXPECT_EQ(wstest::json_without_host(s.j, a + "/sweep.json"), wstest::json_without_host(s.j, b + "/sweep.json"));
}

// Why the MPI runs cannot be tested here, "" when they can.
std::string why_not() {
  if (!ws_mpi_built()) return "this build has no MPI (make MPI=0, or OpenMPI absent when it was built)";
  if (mpirun().empty()) return "no mpirun on PATH (make deps installs openmpi-bin)";
  if (wstest::binary().empty()) return "no wafersim binary beside the tests: run make";
  return "";
}

// A fresh path (absent) under the temporary directory, removed at the end
// with what a spawn left beside it (its .stdout and .stderr).
struct Fresh {
  std::string path;
  explicit Fresh(const std::string &name) : path(wstest::temp_dir("mpi_" + name)) { clear(); }
  ~Fresh() { clear(); }
  Fresh(const Fresh &) = delete;
  Fresh &operator=(const Fresh &) = delete;
  void clear() const {
    if (std::system(("rm -rf '" + path + "' '" + path + ".stdout' '" + path + ".stderr'").c_str()) != 0) std::abort();
  }
};

// msg is in err exactly once: rank 0 alone prints it.
void expect_once(const std::string &err, const std::string &msg) {
  const size_t at = err.find(msg);
  EXPECT_NE(at, std::string::npos) << err;
  EXPECT_EQ(err.find(msg, at + 1), std::string::npos) << "printed once, by rank 0:\n" << err;
}

// Nothing was written at path.
void expect_absent(const std::string &path) {
  struct stat st;
  EXPECT_NE(stat(path.c_str(), &st), 0) << "nothing written at " << path;
}

TEST(Mpi, TwoRanksWriteTheFilesOfOneProcess) {
  const std::string why = why_not();
  if (!why.empty()) GTEST_SKIP() << why;
  const Fresh one("one"), two("two");
  const std::vector<std::string> sweep = {"sweep", kTiny, "--sparsity", "0.5,0.9", "--format", "csv", "--out"};
  auto args = [&](const std::string &jobs, const std::string &out) {
    std::vector<std::string> v = sweep;
    v.push_back(out);
    v.insert(v.end(), {"-j", jobs});
    return v;
  };
  const Ran r1 = spawn(0, args("1", one.path), one.path);
  ASSERT_EQ(r1.code, 0) << r1.err;
  const Ran r2 = spawn(2, args("1", two.path), two.path);
  ASSERT_EQ(r2.code, 0) << r2.err;
  expect_same_sweep(one.path, two.path);
  // stdout: rank 0's table alone (a second rank's would double the rows).
  Json s(wstest::output_schema());
  EXPECT_EQ(wstest::strip_host_csv(s.j, "#/$defs/point", r2.out), wstest::strip_host_csv(s.j, "#/$defs/point", r1.out));
  EXPECT_EQ(std::count(r2.out.begin(), r2.out.end(), '\n'), 4) << r2.out;  // header and 3 points
}

// More ranks than points: the ranks without a point still take part.
TEST(Mpi, MoreRanksThanPoints) {
  const std::string why = why_not();
  if (!why.empty()) GTEST_SKIP() << why;
  const Fresh one("few1"), three("few3");
  const Ran r1 = spawn(0, {"sweep", kTiny, "--sparsity", "0.9", "-j", "2", "--out", one.path}, one.path);
  ASSERT_EQ(r1.code, 0) << r1.err;
  const Ran r3 = spawn(3, {"sweep", kTiny, "--sparsity", "0.9", "-j", "2", "--out", three.path}, three.path);
  ASSERT_EQ(r3.code, 0) << r3.err;
  expect_same_sweep(one.path, three.path);
}

// Bad input: every rank finds it; one message, status 2, nothing written.
TEST(Mpi, BadInputIsOneMessageAndStatusTwo) {
  const std::string why = why_not();
  if (!why.empty()) GTEST_SKIP() << why;
  const Fresh out("bad");
  const Ran r = spawn(2, {"sweep", kTiny, "--sparsity", "0.5,1.5", "--out", out.path}, out.path);
  EXPECT_EQ(r.code, 2) << r.err;
  const std::string msg = "wafersim sweep: --sparsity: expected a number in [0, 1), got '1.5'";
  expect_once(r.err, msg);
  EXPECT_EQ(r.out, "");
  expect_absent(out.path);
}

// Any other command under mpirun with more than one process would run once
// per rank, each writing the same --out: refused once, by rank 0, status 2.
TEST(Mpi, OtherCommandsRefuseAJob) {
  const std::string why = why_not();
  if (!why.empty()) GTEST_SKIP() << why;
  const Fresh out("run");
  const Ran r = spawn(2, {"run", kTiny, "--out", out.path}, out.path);
  EXPECT_EQ(r.code, 2) << r.err;
  const std::string msg = "wafersim run: started by mpirun as 2 processes";
  expect_once(r.err, msg);
  EXPECT_EQ(r.out, "");
  expect_absent(out.path);
  const Ran one = spawn(1, {"flops", "--format", "csv"}, out.path);
  EXPECT_EQ(one.code, 0) << "a job of one process runs it: " << one.err;
}

// A point that cannot be placed (too few colors: found while it runs) on
// rank 1 alone (points 0 and 2 are rank 0's and run): rank 0 prints its
// reason, naming the point, once; every rank exits 2; nothing written.
TEST(Mpi, AFailingPointStopsEveryRank) {
  const std::string why = why_not();
  if (!why.empty()) GTEST_SKIP() << why;
  const Fresh out("fail");
  const Ran r = spawn(2, {"sweep", kTiny, "--sparsity", "0", "--vary", "fabric.colors=24,2,32", "--out", out.path}, out.path);
  EXPECT_EQ(r.code, 2) << r.err;
  const std::string msg = "wafersim sweep: sparsity 0, fabric.colors=2: place: no layout keeps every router";
  expect_once(r.err, msg);
  expect_absent(out.path);
}

// --out not a directory: rank 0 alone checks it (the others may be on
// hosts without it); every rank exits 1 before any point runs.
TEST(Mpi, RankZerosOutIsCheckedBeforeTheSweep) {
  const std::string why = why_not();
  if (!why.empty()) GTEST_SKIP() << why;
  const Fresh scratch("notadir");
  const std::string file = wstest::write_temp("mpi_notadir." + std::to_string((long)getpid()), "x");
  const Ran r = spawn(2, {"sweep", kTiny, "--sparsity", "0.9", "--out", file}, scratch.path);
  EXPECT_EQ(r.code, 1) << r.err;
  const std::string msg = "wafersim sweep: --out: output directory " + file + " is not a directory";
  expect_once(r.err, msg);
  EXPECT_EQ(r.err.find("% after"), std::string::npos) << "no point ran:\n" << r.err;
  EXPECT_EQ(read_file(file), "x");
  std::remove(file.c_str());
}

// A failure on rank 1 alone (its configuration file missing, as on a host
// without it): rank 0 shows rank 1's message, marked with its rank; every
// rank exits 2; nothing written.
TEST(Mpi, ARankAlonesFailureIsShownByRankZero) {
  const std::string why = why_not();
  if (!why.empty()) GTEST_SKIP() << why;
  const Fresh out("local");
  const std::string program = "sh -c 'if [ \"$OMPI_COMM_WORLD_RANK\" = 1 ]; then y=/nonexistent/x.yaml; else y=" +
                              kTiny + "; fi; exec " + wstest::binary() + " sweep \"$y\" --sparsity 0.9 --out " +
                              out.path + "'";
  const Ran r = spawn_program(2, program, out.path);
  EXPECT_EQ(r.code, 2) << r.err;
  const std::string msg = "[rank 1 of 2] wafersim: /nonexistent/x.yaml: cannot open";
  const size_t at = r.err.find(msg);
  EXPECT_NE(at, std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("cannot open", at + msg.size()), std::string::npos) << r.err;
  expect_absent(out.path);
}

// Without MPI a job of two would run the whole sweep twice into the same
// files: refused, once.
TEST(Mpi, ABuildWithoutMpiRefusesAJob) {
  if (ws_mpi_built()) GTEST_SKIP() << "this build has MPI (the other Mpi tests cover it)";
  if (mpirun().empty()) GTEST_SKIP() << "no mpirun on PATH";
  const Fresh out("nompi");
  const Ran r = spawn(2, {"sweep", kTiny, "--sparsity", "0.9", "--out", out.path}, out.path);
  EXPECT_EQ(r.code, 2) << r.err;
  const std::string msg = "built without MPI";
  expect_once(r.err, msg);
}

// Not started by mpirun: one process, MPI untouched, no share.
TEST(Mpi, WithoutMpirunOneProcess) {
  char err[256] = "";
  ws_mpi *m = ws_mpi_open(err, sizeof err);
  ASSERT_NE(m, nullptr) << err;
  EXPECT_EQ(ws_mpi_rank(m), 0);
  EXPECT_EQ(ws_mpi_size(m), 1);
  EXPECT_EQ(ws_mpi_share(m), nullptr);
  EXPECT_EQ(ws_mpi_agree(m, 3, "", stderr), 3);
  ws_mpi_close(m);
}

}  // namespace
