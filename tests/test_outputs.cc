// Output files and standard output (sim/report.h): a run's or sweep's files
// replace the old set as a unit or not at all, a single file (--map,
// --update-baseline) is the old one or the new one and never a part, no
// temporary outlives a failure or SIGINT/SIGTERM, and every command says so
// when it cannot write its standard output. Most cases spawn the wafersim
// binary (make builds it beside the tests) to give it /dev/full, a file
// size limit (the "full disk": writes past it fail with EFBIG) or a signal.
#include <gtest/gtest.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "sim/cli.h"
#include "sim/report.h"
#include "ws_test.h"

namespace {

const std::string kTiny = wstest::source_path("tests/expected/tiny-dense.yaml");
const std::string kTinyJson = wstest::source_path("tests/expected/tiny-dense.json");
const std::string kSmall = wstest::source_path("tests/expected/small-125m.yaml");

using wstest::binary;

struct Spawned {
  int status;  // as waitpid gives it
  std::string err;
  int code() const { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }
};

struct SpawnOpts {
  std::string out = "/dev/null";  // standard output
  rlim_t fsize = RLIM_INFINITY;   // file size limit, bytes (SIGXFSZ ignored: the write fails with EFBIG)
  std::string kill_after;         // send SIGTERM once stderr shows this
};

// Runs the binary with args; stderr is captured through a pipe.
Spawned spawn(const std::vector<std::string> &args, const SpawnOpts &o = {}) {
  const std::string bin = binary();
  if (bin.empty()) {
    ADD_FAILURE() << "no wafersim binary in " WS_BUILD_DIR " or " WS_SOURCE_DIR ": run make";
    return {-1, ""};
  }
  int pipefd[2];
  if (pipe(pipefd) != 0) std::abort();
  const pid_t pid = fork();
  if (pid == 0) {
    const int out = open(o.out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (out < 0) _exit(126);
    dup2(out, 1);
    dup2(pipefd[1], 2);
    close(pipefd[0]);
    if (o.fsize != RLIM_INFINITY) {
      signal(SIGXFSZ, SIG_IGN);
      const struct rlimit lim = {o.fsize, o.fsize};
      setrlimit(RLIMIT_FSIZE, &lim);
    }
    std::vector<std::string> storage = {bin};
    storage.insert(storage.end(), args.begin(), args.end());
    std::vector<char *> argv;
    for (auto &s : storage) argv.push_back(&s[0]);
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  close(pipefd[1]);
  std::string err;
  char buf[4096];
  bool killed = false;
  for (ssize_t n; (n = read(pipefd[0], buf, sizeof buf)) > 0;) {
    err.append(buf, (size_t)n);
    if (!killed && !o.kill_after.empty() && err.find(o.kill_after) != std::string::npos) {
      kill(pid, SIGTERM);
      killed = true;
    }
  }
  close(pipefd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return {status, err};
}

// A directory's entries (hidden ones too) and their contents ("<dir>" for a directory).
std::map<std::string, std::string> listing(const std::string &dir) {
  std::map<std::string, std::string> files;
  DIR *d = opendir(dir.c_str());
  if (!d) return files;
  for (struct dirent *e; (e = readdir(d));) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st;
    lstat((dir + "/" + name).c_str(), &st);
    files[name] = S_ISDIR(st.st_mode) ? "<dir>" : wstest::read_file(dir + "/" + name);
  }
  closedir(d);
  return files;
}

std::set<std::string> names(const std::string &dir) {
  std::set<std::string> s;
  for (const auto &kv : listing(dir)) s.insert(kv.first);
  return s;
}

// A fresh, empty directory for one test, removed with what it holds at the end.
struct Scratch {
  std::string dir;
  explicit Scratch(const std::string &name) : dir(wstest::temp_dir("outputs_" + name)) {
    clear();
    mkdir(dir.c_str(), 0777);
  }
  ~Scratch() { clear(); }
  void clear() const {
    if (std::system(("rm -rf '" + dir + "'").c_str()) != 0) std::abort();
  }
};

const std::set<std::string> kRunSet = {"run.json", "totals.csv", "ops.csv", "pes.csv"};

// Every command that writes to standard output: a full one is one line on
// stderr and exit 1 (check used to exit 0, place 1 without a word).
TEST(Outputs, EveryCommandSaysWhenStandardOutputIsFull) {
  const std::vector<std::vector<std::string>> commands = {
      {"flops"},
      {"models"},
      {"config"},
      {"probe", "unicast", "--mesh", "8x8", "--wavelets", "10"},
      {"kernel"},
      {"place", kTiny},
      {"run", kTiny},
      {"sweep", kTiny, "--sparsity", "0.5"},
      {"check", "--baseline", kTinyJson, kTinyJson},
      {"flops", "--help"},
      {"--version"},
  };
  for (const auto &args : commands) {
    SpawnOpts o;
    o.out = "/dev/full";
    const Spawned r = spawn(args, o);
    const std::string cmd = args[0][0] == '-' ? "" : " " + args[0];
    const std::string line = "wafersim" + cmd + ": cannot write to standard output: No space left on device\n";
    EXPECT_EQ(r.code(), 1) << args[0] << ": " << r.err;
    ASSERT_GE(r.err.size(), line.size()) << args[0] << ": " << r.err;
    EXPECT_EQ(r.err.substr(r.err.size() - line.size()), line) << args[0] << ": " << r.err;
    EXPECT_EQ(r.err.find("cannot write"), r.err.rfind("cannot write")) << "said once: " << r.err;
    // And the same command to a working stdout succeeds: the failure is the stream's.
    EXPECT_EQ(spawn(args).code(), 0) << args[0];
  }
}

// In-process, as the tests call the CLI: the message names the command and the reason.
TEST(Outputs, InProcessFullStreamIsOneLine) {
  FILE *full = std::fopen("/dev/full", "w");
  if (!full) GTEST_SKIP() << "no /dev/full";
  char *argv[] = {(char *)"wafersim", (char *)"models", nullptr};
  char *ebuf = nullptr;
  size_t elen = 0;
  FILE *err = open_memstream(&ebuf, &elen);
  EXPECT_EQ(ws_cli_main(2, argv, full, err), WS_EXIT_FAILURE);
  std::fclose(full);
  std::fclose(err);
  EXPECT_EQ(std::string(ebuf, elen), "wafersim models: cannot write to standard output: No space left on device\n");
  std::free(ebuf);
}

// A second run over the first's directory: the whole new set, the
// directory's permission bits kept, no temporary left beside or inside.
TEST(Outputs, RunReplacesTheOldSetWhole) {
  const Scratch scratch("replace");
  const std::string root = scratch.dir, dir = root + "/out";
  ASSERT_EQ(spawn({"run", kTiny, "--out", dir}).code(), 0);
  const auto first = listing(dir);
  ASSERT_EQ(names(dir), kRunSet);
  chmod(dir.c_str(), 0750);
  const Spawned r = spawn({"run", kTiny, "--set", "workload.sparsity=0.5", "--out", dir});
  ASSERT_EQ(r.code(), 0) << r.err;
  const auto second = listing(dir);
  EXPECT_EQ(names(dir), kRunSet);
  for (const char *name : {"run.json", "totals.csv", "ops.csv", "pes.csv"})
    EXPECT_NE(first.at(name), second.at(name)) << name << " is the new run's";
  EXPECT_NE(second.at("run.json").find("\"sparsity\": 0.5"), std::string::npos);
  EXPECT_EQ(names(root), std::set<std::string>{"out"}) << "no temporary beside DIR";
  struct stat st;
  stat(dir.c_str(), &st);
  EXPECT_EQ(st.st_mode & 0777, 0750u);
}

// Temporaries left in DIR by a killed run (SIGKILL) go with the old set;
// one of a process still running is not touched.
TEST(Outputs, LeftoverTemporariesOfDeadProcessesGoLiveOnesStay) {
  const Scratch scratch("leftover");
  const std::string root = scratch.dir, dir = root + "/out";
  ASSERT_EQ(spawn({"run", kTiny, "--out", dir}).code(), 0);
  const std::string dead = dir + "/.wafersim-999999999-0", legacy = dir + "/.pes.csv.12345.tmp";
  mkdir(dead.c_str(), 0777);
  std::fclose(std::fopen((dead + "/pes.csv").c_str(), "w"));
  std::fclose(std::fopen(legacy.c_str(), "w"));
  ASSERT_EQ(spawn({"run", kTiny, "--out", dir}).code(), 0);
  EXPECT_EQ(names(dir), kRunSet);
  const std::string live = dir + "/.wafersim-" + std::to_string((long)getpid()) + "-0";
  mkdir(live.c_str(), 0777);
  ASSERT_EQ(spawn({"run", kTiny, "--out", dir}).code(), 0);
  auto want = kRunSet;
  want.insert(live.substr(dir.size() + 1));
  EXPECT_EQ(names(dir), want);
  EXPECT_EQ(names(root), std::set<std::string>{"out"});
}

// A run that fails after it started writing (pes.csv, 138 kB, passes a
// 64 kB file size limit; run.json before it does not): the old set stays
// byte for byte, no temporaries; into a new directory: nothing is made.
TEST(Outputs, AFailedWriteLeavesTheOldSetAndNoTemporaries) {
  const Scratch scratch("failed");
  const std::string root = scratch.dir, dir = root + "/out";
  ASSERT_EQ(spawn({"run", kTiny, "--out", dir}).code(), 0);
  const auto old = listing(dir);
  SpawnOpts o;
  o.fsize = 64 * 1024;
  Spawned r = spawn({"run", kTiny, "--set", "workload.sparsity=0.5", "--out", dir}, o);
  EXPECT_EQ(r.code(), 1);
  EXPECT_NE(r.err.find("wafersim run: cannot write " + dir + "/pes.csv: File too large\n"), std::string::npos)
      << r.err;
  EXPECT_EQ(listing(dir), old) << "the old set, whole";
  EXPECT_EQ(names(root), std::set<std::string>{"out"});

  const std::string fresh_dir = root + "/new/nested/out";
  r = spawn({"run", kTiny, "--out", fresh_dir}, o);
  EXPECT_EQ(r.code(), 1) << r.err;
  EXPECT_EQ(names(root), std::set<std::string>{"out"}) << "neither DIR nor its parents made";

  // A sweep's set the same way (pes_first.csv and pes_last.csv are its large ones).
  const std::string sweep = root + "/sweep";
  ASSERT_EQ(spawn({"sweep", kTiny, "--sparsity", "0.5", "--out", sweep}).code(), 0);
  const auto sweep_old = listing(sweep);
  ASSERT_EQ(sweep_old.size(), 5u);
  r = spawn({"sweep", kTiny, "--sparsity", "0.75", "--out", sweep}, o);
  EXPECT_EQ(r.code(), 1);
  EXPECT_NE(r.err.find("File too large"), std::string::npos) << r.err;
  EXPECT_EQ(listing(sweep), sweep_old);
  EXPECT_EQ(names(root), (std::set<std::string>{"out", "sweep"}));
}

// DIR holding what wafersim did not write (a note, a subdirectory as
// plots/data holds sens_batch/, another command's files): those stay as
// they are; the set's names are replaced, or on failure kept.
TEST(Outputs, OthersFilesInTheDirectoryStay) {
  const Scratch scratch("others");
  const std::string root = scratch.dir, dir = root + "/out";
  ASSERT_EQ(spawn({"run", kTiny, "--out", dir}).code(), 0);
  {
    FILE *f = std::fopen((dir + "/notes.txt").c_str(), "w");
    std::fputs("mine\n", f);
    std::fclose(f);
  }
  mkdir((dir + "/sub").c_str(), 0777);
  ASSERT_EQ(spawn({"sweep", kTiny, "--sparsity", "0.5", "--out", dir + "/sub"}).code(), 0);
  const auto sub = listing(dir + "/sub");
  const auto old = listing(dir);

  SpawnOpts o;
  o.fsize = 64 * 1024;
  Spawned r = spawn({"run", kTiny, "--set", "workload.sparsity=0.5", "--out", dir}, o);
  EXPECT_EQ(r.code(), 1);
  EXPECT_EQ(listing(dir), old) << "a failure changes nothing";

  r = spawn({"run", kTiny, "--set", "workload.sparsity=0.5", "--out", dir});
  ASSERT_EQ(r.code(), 0) << r.err;
  const auto now = listing(dir);
  EXPECT_EQ(names(dir), (std::set<std::string>{"run.json", "totals.csv", "ops.csv", "pes.csv", "notes.txt", "sub"}));
  EXPECT_EQ(now.at("notes.txt"), "mine\n");
  EXPECT_EQ(listing(dir + "/sub"), sub);
  for (const char *name : {"run.json", "totals.csv", "ops.csv", "pes.csv"}) EXPECT_NE(now.at(name), old.at(name));
  EXPECT_EQ(names(root), std::set<std::string>{"out"});
}

// A name of the set that is not a regular file is refused before the
// simulation, and nothing changes.
TEST(Outputs, ANonFileUnderASetNameIsRefusedFirst) {
  const Scratch scratch("refused");
  const std::string root = scratch.dir, dir = root + "/out";
  ASSERT_EQ(spawn({"run", kTiny, "--out", dir}).code(), 0);
  unlink((dir + "/pes.csv").c_str());
  mkdir((dir + "/pes.csv").c_str(), 0777);
  const auto old = listing(dir);
  const Spawned r = spawn({"run", kTiny, "--out", dir});
  EXPECT_EQ(r.code(), 1);
  EXPECT_EQ(r.err, "wafersim run: --out: " + dir +
                       "/pes.csv is not a regular file, and wafersim replaces only the files it writes: remove it or "
                       "give another directory\n");
  EXPECT_EQ(listing(dir), old);
  // And an output directory that cannot be made: said before simulating.
  const Spawned r2 = spawn({"run", kTiny, "--out", dir + "/run.json/x"});
  EXPECT_EQ(r2.code(), 1);
  EXPECT_NE(r2.err.find("run.json/x: Not a directory"), std::string::npos) << r2.err;
  EXPECT_EQ(r2.err.find("simulating"), std::string::npos) << "refused before the run: " << r2.err;
}

// Targets that cannot be written are said before the work, one line, exit 1.
TEST(Outputs, UnwritableTargetsAreRefusedBeforeTheWork) {
  struct Case {
    std::vector<std::string> args;
    std::string err;
  } cases[] = {
      {{"sweep", kTiny, "--sparsity", "0.5", "--out", "/proc/x/y"},
       "wafersim sweep: --out: /proc/x/y: cannot write in /proc: No such file or directory\n"},
      {{"run", kTiny, "--out", "/dev/full"}, "wafersim run: --out: output directory /dev/full is not a directory\n"},
      {{"place", kTiny, "--map", "/proc/version"},
       "wafersim place: --map: /proc/version: cannot write in /proc: No such file or directory\n"},
      {{"check", "--baseline", "/proc/version", "--update-baseline"},
       "wafersim check: --update-baseline: /proc/version: cannot write in /proc: No such file or directory\n"},
  };
  for (const auto &c : cases) {
    const Spawned r = spawn(c.args);
    EXPECT_EQ(r.code(), 1) << c.args[0];
    EXPECT_EQ(r.err, c.err);
  }
}

// DIR and its parents are made only once there is something to put in them.
TEST(Outputs, NothingIsMadeWhenTheRunFailsOrIsStopped) {
  const Scratch scratch("nothing");
  const std::string root = scratch.dir;
  Spawned r = spawn({"run", kTiny, "--mesh", "16x16", "--out", root + "/a/b"});
  EXPECT_EQ(r.code(), 2) << r.err;
  EXPECT_TRUE(names(root).empty());
  SpawnOpts o;
  o.kill_after = "simulating: 0%";
  r = spawn({"run", kSmall, "--out", root + "/a/b"}, o);
  ASSERT_TRUE(WIFSIGNALED(r.status)) << "it was still running: " << r.err;
  EXPECT_EQ(WTERMSIG(r.status), SIGTERM);
  EXPECT_TRUE(names(root).empty());
}

// ---- Signals while the files are being written: the library in a child ----

struct Stall {
  int ready;  // write end of a pipe: a byte once the temporary holds data
};

int write_hello(void *, FILE *out) { return std::fputs("hello\n", out) < 0 ? -1 : 0; }
int write_bye(void *, FILE *out) { return std::fputs("bye\n", out) < 0 ? -1 : 0; }

int write_and_stall(void *ctx, FILE *out) {
  std::fputs("half a file", out);
  std::fflush(out);
  const char c = 'x';
  if (write(static_cast<Stall *>(ctx)->ready, &c, 1) != 1) _exit(98);
  for (;;) pause();
}

// In a child, writes dir (or the single file) with a writer that stalls in
// the middle; signals it once its temporaries exist. Returns the child's wait
// status and the entries of `watch` seen while it was stalled.
int kill_mid_write(const std::string &target, bool single, int sig, const std::string &watch,
                   std::set<std::string> *seen) {
  int p[2];
  if (pipe(p) != 0) std::abort();
  const pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    Stall s{p[1]};
    char err[1024];
    const ws_report_file files[] = {{"a.txt", write_hello}, {"b.txt", write_and_stall}, {"c.txt", write_bye}};
    if (single) ws_report_write_file(target.c_str(), write_and_stall, &s, err, sizeof err);
    else ws_report_write_dir(target.c_str(), files, 3, &s, err, sizeof err);
    _exit(97);  // not reached: the writer stalls until the signal
  }
  close(p[1]);
  char c;
  const bool stalled = read(p[0], &c, 1) == 1;
  close(p[0]);
  *seen = names(watch);
  if (stalled) kill(pid, sig);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(stalled);
  return status;
}

bool has_temporary(const std::set<std::string> &entries) {
  for (const auto &n : entries)
    if (n.find("wafersim-") != std::string::npos) return true;
  return false;
}

TEST(Outputs, ASignalMidWriteRemovesEveryTemporary) {
  const ws_report_file old_set[] = {{"a.txt", write_bye}, {"b.txt", write_bye}, {"c.txt", write_bye}};
  for (int sig : {SIGTERM, SIGINT}) {
    SCOPED_TRACE(sig);
    const Scratch scratch("signal");
    const std::string root = scratch.dir;
    char err[1024];
    // Over an older set: the old set stays.
    const std::string dir = root + "/out";
    ASSERT_EQ(ws_report_write_dir(dir.c_str(), old_set, 3, nullptr, err, sizeof err), 0) << err;
    const auto old = listing(dir);
    std::set<std::string> seen;
    int status = kill_mid_write(dir, false, sig, root, &seen);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == sig) << status;
    EXPECT_TRUE(has_temporary(seen)) << "the temporary directory beside DIR existed while writing";
    EXPECT_EQ(listing(dir), old);
    EXPECT_EQ(names(root), std::set<std::string>{"out"});

    // Into a new directory under new parents: nothing made is left.
    status = kill_mid_write(root + "/p/q/out", false, sig, root + "/p/q", &seen);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == sig) << status;
    EXPECT_TRUE(has_temporary(seen));
    EXPECT_EQ(names(root), std::set<std::string>{"out"}) << "p/ and p/q/ removed too";

    // DIR holding a file of someone else's: the temporary inside it goes.
    FILE *f = std::fopen((dir + "/notes.txt").c_str(), "w");
    std::fclose(f);
    const auto with_notes = listing(dir);
    status = kill_mid_write(dir, false, sig, dir, &seen);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == sig) << status;
    EXPECT_TRUE(has_temporary(seen));
    EXPECT_EQ(listing(dir), with_notes);

    // A single file: the old one stays, its temporary goes.
    const std::string file = root + "/map.txt";
    ASSERT_EQ(ws_report_write_file(file.c_str(), write_bye, nullptr, err, sizeof err), 0) << err;
    status = kill_mid_write(file, true, sig, root, &seen);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == sig) << status;
    EXPECT_TRUE(has_temporary(seen));
    EXPECT_EQ(wstest::read_file(file), "bye\n");
    EXPECT_EQ(names(root), (std::set<std::string>{"out", "map.txt"}));
  }
}

// Someone changes DIR while the set is being written: the choice between
// replacing DIR whole and file by file is made again just before the move.
struct Meddle {
  std::string path;
  bool dir;  // replace path by a directory; else create it as a file
};

int write_new(void *, FILE *out) { return std::fputs("new\n", out) < 0 ? -1 : 0; }
int write_and_meddle(void *ctx, FILE *out) {
  const Meddle *m = static_cast<const Meddle *>(ctx);
  if (m->dir) {
    unlink(m->path.c_str());
    mkdir(m->path.c_str(), 0777);
  } else {
    std::fclose(std::fopen(m->path.c_str(), "w"));
  }
  return write_new(nullptr, out);
}

TEST(Outputs, DirectoryChangedDuringTheWriteIsLookedAtAgain) {
  const ws_report_file old_set[] = {{"a.txt", write_bye}, {"b.txt", write_bye}, {"c.txt", write_bye}};
  const Scratch scratch("meddle");
  const std::string root = scratch.dir, dir = root + "/out";
  char err[1024] = "";
  ASSERT_EQ(ws_report_write_dir(dir.c_str(), old_set, 3, nullptr, err, sizeof err), 0) << err;
  const ws_report_file new_set[] = {{"a.txt", write_new}, {"b.txt", write_new}, {"c.txt", write_and_meddle}};

  Meddle notes{dir + "/notes.txt", false};  // a user's file appears: kept, in DIR
  ASSERT_EQ(ws_report_write_dir(dir.c_str(), new_set, 3, &notes, err, sizeof err), 0) << err;
  EXPECT_EQ(listing(dir), (std::map<std::string, std::string>{
                              {"a.txt", "new\n"}, {"b.txt", "new\n"}, {"c.txt", "new\n"}, {"notes.txt", ""}}));
  EXPECT_EQ(names(root), std::set<std::string>{"out"});

  unlink(notes.path.c_str());
  ASSERT_EQ(ws_report_write_dir(dir.c_str(), old_set, 3, nullptr, err, sizeof err), 0) << err;
  Meddle b{dir + "/b.txt", true};  // a name of the set becomes a directory: refused, the rest as it was
  EXPECT_EQ(ws_report_write_dir(dir.c_str(), new_set, 3, &b, err, sizeof err), -1);
  EXPECT_NE(std::string(err).find(dir + "/b.txt is not a regular file"), std::string::npos) << err;
  EXPECT_EQ(listing(dir), (std::map<std::string, std::string>{{"a.txt", "bye\n"}, {"b.txt", "<dir>"}, {"c.txt", "bye\n"}}));
  EXPECT_EQ(names(root), std::set<std::string>{"out"});
}

// The exit status a shell reports: 128 + the signal's number (a sweep of
// seven points of GPT-3 125M is still running after a second).
TEST(Outputs, AShellSees128PlusTheSignal) {
  const std::string bin = binary();
  ASSERT_FALSE(bin.empty());
  const Scratch scratch("shell");
  const std::string root = scratch.dir;
  const std::string cmd = "exec 2>/dev/null; '" + bin + "' sweep '" + kSmall + "' --out '" + root +
                          "/o' >/dev/null & pid=$!; sleep 1; kill -TERM $pid; wait $pid; exit $?";
  const int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGTERM);
  EXPECT_TRUE(names(root).empty());
}

// --map and --update-baseline: the old file or the new one, never a part;
// /dev/full and a directory are errors that say so.
TEST(Outputs, SingleFilesAreReplacedWhole) {
  const Scratch scratch("single");
  const std::string root = scratch.dir, map = root + "/map.csv";
  ASSERT_EQ(spawn({"place", kTiny, "--map", map}).code(), 0);
  const std::string whole = wstest::read_file(map);
  ASSERT_GT(whole.size(), 8192u);
  {
    FILE *f = std::fopen(map.c_str(), "w");
    std::fputs("old\n", f);
    std::fclose(f);
  }
  chmod(map.c_str(), 0640);
  SpawnOpts o;
  o.fsize = 4096;
  Spawned r = spawn({"place", kTiny, "--map", map}, o);
  EXPECT_EQ(r.code(), 1);
  EXPECT_EQ(r.err, "wafersim place: --map: cannot write " + map + ": File too large\n");
  EXPECT_EQ(wstest::read_file(map), "old\n");
  EXPECT_EQ(names(root), std::set<std::string>{"map.csv"});
  unlink(map.c_str());
  r = spawn({"place", kTiny, "--map", map}, o);
  EXPECT_EQ(r.code(), 1);
  EXPECT_TRUE(names(root).empty()) << "no 0-byte map under its name";

  // A symbolic link keeps pointing at the new map; the file's mode is kept.
  ASSERT_EQ(spawn({"place", kTiny, "--map", map}).code(), 0);
  chmod(map.c_str(), 0640);
  const std::string link = root + "/link.csv";
  ASSERT_EQ(symlink(map.c_str(), link.c_str()), 0);
  ASSERT_EQ(spawn({"place", kTiny, "--map", link, "--set", "workload.sparsity=0.5"}).code(), 0);
  struct stat st;
  ASSERT_EQ(lstat(link.c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  ASSERT_EQ(stat(map.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  EXPECT_EQ(names(root), (std::set<std::string>{"map.csv", "link.csv"}));

  r = spawn({"place", kTiny, "--map", "/dev/full"});
  EXPECT_EQ(r.code(), 1);
  EXPECT_EQ(r.err, "wafersim place: --map: cannot write /dev/full: No space left on device\n");
  ASSERT_EQ(stat("/dev/full", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode)) << "a device is written in place, never replaced";
  r = spawn({"place", kTiny, "--map", root});
  EXPECT_EQ(r.code(), 1);
  EXPECT_EQ(r.err, "wafersim place: --map: cannot write " + root + ": Is a directory\n");
  r = spawn({"place", kTiny, "--map", root + "/no/such/map.csv"});
  EXPECT_EQ(r.code(), 1);
  EXPECT_EQ(r.err, "wafersim place: --map: cannot write " + root + "/no/such/map.csv: No such file or directory\n");

  // check --update-baseline: the baseline stays whole when the new one cannot be written.
  const std::string base = root + "/base.json", now = root + "/now.json";
  const std::string doc = wstest::read_file(kTinyJson);
  for (const std::string &p : {base, now}) {
    FILE *f = std::fopen(p.c_str(), "w");
    std::fputs(doc.c_str(), f);
    std::fclose(f);
  }
  {
    FILE *f = std::fopen(base.c_str(), "w");  // a baseline that differs: something to update
    std::string moved = doc;
    moved.replace(moved.find("\"cycles\": "), 10, "\"cycles\": 1");
    std::fputs(moved.c_str(), f);
    std::fclose(f);
  }
  const std::string before = wstest::read_file(base);
  r = spawn({"check", "--baseline", base, now, "--update-baseline"}, o);
  EXPECT_EQ(r.code(), 1) << r.err;
  EXPECT_NE(r.err.find("wafersim check: cannot write " + base + ": File too large"), std::string::npos) << r.err;
  EXPECT_EQ(wstest::read_file(base), before);
  r = spawn({"check", "--baseline", base, now, "--update-baseline"});
  EXPECT_EQ(r.code(), 0) << r.err;
  EXPECT_NE(wstest::read_file(base), before);
  EXPECT_EQ(spawn({"check", "--baseline", base, now}).code(), 0) << "the baseline is the new document";
  r = spawn({"check", "--baseline", root, now, "--update-baseline"});
  EXPECT_EQ(r.code(), 1);
  EXPECT_EQ(r.err, "wafersim check: --update-baseline: cannot write " + root + ": Is a directory\n");
}

}  // namespace
