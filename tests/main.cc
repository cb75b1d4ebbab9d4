// GoogleTest entry point: runs every suite and ends with one line,
// "N passed, N failed", taken from GoogleTest's own counts.
#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>

namespace {
class Summary : public testing::EmptyTestEventListener {
  void OnTestProgramEnd(const testing::UnitTest &unit) override {
    std::printf("%d passed, %d failed\n", unit.successful_test_count(), unit.failed_test_count());
    std::fflush(stdout);
  }
};
}  // namespace

int main(int argc, char **argv) {
  // Started in the background of a shell without job control, the binary
  // inherits SIGINT and SIGQUIT ignored; the output writer leaves an ignored
  // signal ignored (nohup), so Outputs.ASignalMidWrite* would wait forever
  // for a SIGINT that cannot come. The suites assume the defaults.
  for (int sig : {SIGINT, SIGQUIT})
    if (std::signal(sig, SIG_DFL) == SIG_ERR) std::perror("signal");
  testing::InitGoogleTest(&argc, argv);
  testing::UnitTest::GetInstance()->listeners().Append(new Summary);  // owned by GoogleTest
  return RUN_ALL_TESTS();
}
