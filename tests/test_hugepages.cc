// Huge pages (sim/hugepages.h): when the process starts itself again with
// glibc's hugetlb tunable, and that doing so cannot change an answer: the
// binary's run of a small configuration is the same, host fields aside,
// with the restart and without it (WAFERSIM_HUGEPAGES=0).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <string>

#include "sim/hugepages.h"
#include "ws_json.h"
#include "ws_test.h"

namespace {

const char *kMadvise = "always [madvise] never\n";

std::string tunables(const char *thp, const char *current, const char *opt, const char *preload = nullptr) {
  char out[256];
  return ws_hugepages_tunables(thp, current, opt, preload, out, sizeof out) ? out : "(none)";
}

TEST(HugePages, AskedForOnlyWhereTheKernelGivesThemOnRequest) {
  EXPECT_EQ(tunables(kMadvise, nullptr, nullptr), "glibc.malloc.hugetlb=1");
  EXPECT_EQ(tunables(kMadvise, "", nullptr), "glibc.malloc.hugetlb=1");
  EXPECT_EQ(tunables("[always] madvise never\n", nullptr, nullptr), "(none)") << "every page may be huge already";
  EXPECT_EQ(tunables("always madvise [never]\n", nullptr, nullptr), "(none)") << "none can be";
  EXPECT_EQ(tunables(nullptr, nullptr, nullptr), "(none)") << "no such kernel file";
}

TEST(HugePages, NotUnderValgrindWhichTheRestartWouldLeave) {
  EXPECT_EQ(tunables(kMadvise, nullptr, nullptr,
                     "/usr/libexec/valgrind/vgpreload_core-amd64-linux.so:/usr/libexec/valgrind/vgpreload_memcheck-amd64-linux.so"),
            "(none)");
  EXPECT_EQ(tunables(kMadvise, nullptr, nullptr, "libfoo.so"), "glibc.malloc.hugetlb=1");
}

TEST(HugePages, KeepsTheUsersTunablesAndNeverAsksTwice) {
  EXPECT_EQ(tunables(kMadvise, "glibc.malloc.arena_max=2", nullptr),
            "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1");
  EXPECT_EQ(tunables(kMadvise, "glibc.malloc.hugetlb=1", nullptr), "(none)") << "the restarted process";
  EXPECT_EQ(tunables(kMadvise, "glibc.malloc.hugetlb=0", nullptr), "(none)") << "the user's own choice";
  EXPECT_EQ(tunables(kMadvise, nullptr, "0"), "(none)") << "WAFERSIM_HUGEPAGES=0";
  EXPECT_EQ(tunables(kMadvise, nullptr, "1"), "glibc.malloc.hugetlb=1");
  char small[8];
  EXPECT_FALSE(ws_hugepages_tunables(kMadvise, nullptr, nullptr, nullptr, small, sizeof small)) << "does not fit";
}

// run.json of `wafersim run tiny-sparse --out dir` under env, host fields out.
std::string run_json(const std::string &env, const std::string &dir) {
  const std::string cmd = env + " '" + wstest::binary() + "' run '" +
                          wstest::source_path("tests/expected/tiny-sparse.yaml") + "' --out '" + dir +
                          "' >/dev/null 2>&1";
  const int st = std::system(cmd.c_str());
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << cmd;
  wstest::Json s(wstest::output_schema());
  return wstest::json_without_host(s.j, dir + "/run.json");
}

TEST(HugePages, TheAnswerIsTheSameWithAndWithoutThem) {
  if (wstest::binary().empty()) GTEST_SKIP() << "no wafersim binary beside the tests: run make";
  const std::string a = wstest::temp_dir("huge_on"), b = wstest::temp_dir("huge_off");
  const std::string with = run_json("env -u GLIBC_TUNABLES", a);
  const std::string without = run_json("WAFERSIM_HUGEPAGES=0", b);
  EXPECT_FALSE(with.empty());
  EXPECT_EQ(with, without);
  EXPECT_EQ(std::system(("rm -rf '" + a + "' '" + b + "'").c_str()), 0);
}

}  // namespace
