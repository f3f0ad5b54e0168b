// LogLimiter and log_excerpt: what a peer can make the log say is bounded in lines and in bytes.
#include <gtest/gtest.h>

#include <regex>
#include <thread>

#include "core/log_limiter.hpp"

namespace concur {
namespace {

using namespace std::chrono_literals;
using Clock = LogLimiter::Clock;

TEST(LogLimiter, FirstBurstIsLoggedTheRestCountedAndSummarisedWhenTheWindowEnds) {
  LogLimiter lim(3, 10s);
  Clock::time_point t0{};
  t0 += 1h;
  int logged = 0;
  for (int i = 0; i < 1000; ++i) {
    auto v = lim.admit(t0 + std::chrono::milliseconds(i));
    EXPECT_EQ(v.suppressed, 0u);
    logged += v.log;
  }
  EXPECT_EQ(logged, 3);
  double window = 0;
  EXPECT_EQ(lim.take_suppressed(t0 + 9s, false, &window), 0u) << "window still running";
  EXPECT_EQ(lim.take_suppressed(t0 + 12s, false, &window), 997u);
  EXPECT_DOUBLE_EQ(window, 10.0);
  EXPECT_EQ(lim.take_suppressed(t0 + 13s, false, &window), 0u) << "reported twice";
  // A new window logs a burst again.
  EXPECT_TRUE(lim.admit(t0 + 20s).log);
}

TEST(LogLimiter, AnEventAfterTheWindowCarriesTheSummaryOfTheLastOne) {
  LogLimiter lim(1, 10s);
  Clock::time_point t0{};
  t0 += 1h;
  EXPECT_TRUE(lim.admit(t0).log);
  EXPECT_FALSE(lim.admit(t0 + 1s).log);
  EXPECT_FALSE(lim.admit(t0 + 2s).log);
  auto v = lim.admit(t0 + 11s);
  EXPECT_TRUE(v.log);
  EXPECT_EQ(v.suppressed, 2u);
  EXPECT_DOUBLE_EQ(v.window_s, 10.0);
}

TEST(LogLimiter, ForceReportsTheRunningWindowAtExit) {
  LogLimiter lim(1, 10s);
  Clock::time_point t0{};
  t0 += 1h;
  lim.admit(t0);
  lim.admit(t0 + 1s);
  double window = 0;
  EXPECT_EQ(lim.take_suppressed(t0 + 3s, true, &window), 1u);
  EXPECT_DOUBLE_EQ(window, 3.0);
  EXPECT_FALSE(lim.has_suppressed());
}

TEST(LogLimiter, AQuietSpellEndsABurstAndTheNextEventOpensANewOne) {
  LogLimiter lim(1, 10s, 1s);  // per_burst's rules
  Clock::time_point t0{};
  t0 += 1h;
  EXPECT_TRUE(lim.admit(t0).log);
  EXPECT_FALSE(lim.admit(t0 + 500ms).log);
  EXPECT_FALSE(lim.admit(t0 + 1200ms).log) << "events closer than the quiet second keep the burst";
  double window = 0;
  EXPECT_EQ(lim.take_suppressed(t0 + 2s, false, &window), 0u) << "burst still running";
  EXPECT_EQ(lim.take_suppressed(t0 + 2300ms, false, &window), 2u);
  EXPECT_DOUBLE_EQ(window, 2.3);
  EXPECT_TRUE(lim.admit(t0 + 3s).log) << "a new burst logs its first event";
}

// The self-logging form, shared by the threads of a server: its lines are what the
// BeyondFdSetSizeFlood e2e test and the MemoryLimit tests read.
TEST(LogLimiter, SelfLoggingWritesTheFirstLineThenOneSummaryWithTheCount) {
  testing::internal::CaptureStderr();
  {
    LogLimiter lim("things refused", 1, 10s, 200ms);
    for (int i = 0; i < 4; ++i) lim.hit([i] { return "refused thing " + std::to_string(i); });
    EXPECT_TRUE(lim.active());
    EXPECT_EQ(lim.total(), 4u);
    std::this_thread::sleep_for(250ms);  // the quiet spell (a rule of time, not synchronisation)
    lim.flush();
    EXPECT_FALSE(lim.active());
    lim.hit([] { return std::string("refused thing 4"); });
    lim.hit([]() -> std::string { throw std::bad_alloc(); });  // counted, never thrown
  }  // the destructor sums up the open burst
  std::string err = testing::internal::GetCapturedStderr();
  err = std::regex_replace(err, std::regex("in the last [0-9]+\\.[0-9] s"), "in the last X s");
  EXPECT_EQ(err,
            "refused thing 0\n"
            "concur: 3 more things refused in the last X s\n"
            "refused thing 4\n"
            "concur: 1 more things refused in the last X s\n");
}

TEST(LogExcerpt, ShortTextIsOnlyEscaped) { EXPECT_EQ(log_excerpt("a\x1b[2Jb"), "a\\x1b[2Jb"); }

TEST(LogExcerpt, LongTextIsCutAndNamesItsSize) {
  std::string long_line(3000, 'A');
  std::string e = log_excerpt(long_line, 200);
  EXPECT_EQ(e, std::string(200, 'A') + "... (3000 bytes)");
}

TEST(LogExcerpt, CutNeverSplitsAnEscapeOrAUtf8Character) {
  std::string ctl(100, '\x01');  // each becomes "\x01": 4 bytes
  std::string e = log_excerpt(ctl, 10);
  EXPECT_EQ(e, "\\x01\\x01... (100 bytes)");
  std::string utf = "ab" + std::string(50, ' ');
  for (int i = 0; i < 50; ++i) utf += "\xc3\xa9";  // é
  e = log_excerpt(utf, 53);  // 52 ASCII bytes, then room for half an é only
  EXPECT_EQ(e, utf.substr(0, 52) + "... (152 bytes)");
}

TEST(Thousands, GroupsDigits) {
  EXPECT_EQ(thousands(0), "0");
  EXPECT_EQ(thousands(999), "999");
  EXPECT_EQ(thousands(61900), "61,900");
  EXPECT_EQ(thousands(1234567), "1,234,567");
}

}  // namespace
}  // namespace concur
