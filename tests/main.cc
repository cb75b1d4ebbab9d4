// GoogleTest entry point: runs every suite and ends with one line,
// "N passed, N failed", taken from GoogleTest's own counts.
#include <gtest/gtest.h>

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
  testing::InitGoogleTest(&argc, argv);
  testing::UnitTest::GetInstance()->listeners().Append(new Summary);  // owned by GoogleTest
  return RUN_ALL_TESTS();
}
