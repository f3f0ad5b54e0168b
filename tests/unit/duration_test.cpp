// parse_duration: SPEC §1 "Durations are seconds and may be fractional (0.5); 500ms, 3s, 2m are
// accepted too." Anything else is refused (the CLI turns that into a usage error naming the option).
#include "core/duration.hpp"

#include <gtest/gtest.h>

namespace concur {
namespace {

std::optional<long long> ms(std::string_view s) {
  auto d = parse_duration(s);
  if (!d) return std::nullopt;
  return d->count();
}

TEST(Duration, BareNumberIsSeconds) {
  EXPECT_EQ(ms("3"), 3000);
  EXPECT_EQ(ms("0"), 0);
  EXPECT_EQ(ms("600"), 600000);
}

TEST(Duration, FractionalSeconds) {
  EXPECT_EQ(ms("0.5"), 500);
  EXPECT_EQ(ms(".25"), 250);
  EXPECT_EQ(ms("1.5"), 1500);
  EXPECT_EQ(ms("0.001"), 1);
}

TEST(Duration, Units) {
  EXPECT_EQ(ms("500ms"), 500);
  EXPECT_EQ(ms("3s"), 3000);
  EXPECT_EQ(ms("2m"), 120000);
  EXPECT_EQ(ms("1h"), 3600000);
  EXPECT_EQ(ms("1.5s"), 1500);
  EXPECT_EQ(ms("0.5m"), 30000);
}

TEST(Duration, MillisecondsAreNotMinutes) {
  EXPECT_EQ(ms("5ms"), 5);
  EXPECT_EQ(ms("5m"), 300000);
}

TEST(Duration, RejectsGarbage) {
  for (const char* bad : {"", "abc", "-1", "-0.5", "+1", "1x", "ms", "s", "m", "1 s", " 1", "1 ", "1..5", "1.2.3",
                          "nan", "inf", "1e400", "5sec", "3S", "1,5", "0x10", "0x1p3", "1e3"}) {
    EXPECT_FALSE(parse_duration(bad).has_value()) << "accepted '" << bad << "'";
  }
}

TEST(Duration, RejectsAbsurdlyLargeValues) {
  EXPECT_FALSE(parse_duration("99999999999999999999").has_value());
  EXPECT_FALSE(parse_duration("9999999999999h").has_value());
}

}  // namespace
}  // namespace concur
