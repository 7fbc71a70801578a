#include "akida/progress.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace {

TEST(Progress, DisabledWritesNothing) {
  testing::internal::CaptureStderr();
  {
    akida::Progress progress("work", 10, false);
    for (int i = 0; i < 10; ++i) progress.advance();
  }
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

TEST(Progress, EnabledEndsWithTheTotalAndANewline) {
  testing::internal::CaptureStderr();
  {
    akida::Progress progress("work", 4, true);
    for (int i = 0; i < 4; ++i) progress.advance();
  }
  const std::string text = testing::internal::GetCapturedStderr();
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  const std::string last = text.substr(text.rfind('\r') + 1);
  EXPECT_EQ(last.rfind("work [", 0), 0u) << last;
  EXPECT_NE(last.find("] 4/4 "), std::string::npos) << last;
}

TEST(Progress, CountsEveryAdvanceFromSeveralThreads) {
  testing::internal::CaptureStderr();
  {
    akida::Progress progress("threads", 4000, true);
    std::vector<std::thread> workers;
    for (int t = 0; t < 4; ++t)
      workers.emplace_back([&] { for (int i = 0; i < 1000; ++i) progress.advance(); });
    for (auto& w : workers) w.join();
  }
  const std::string text = testing::internal::GetCapturedStderr();
  EXPECT_NE(text.substr(text.rfind('\r') + 1).find("4000/4000"), std::string::npos) << text;
}

TEST(Progress, ZeroTotalDrawsNothing) {
  testing::internal::CaptureStderr();
  { akida::Progress progress("empty", 0, true); }
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

}  // namespace
