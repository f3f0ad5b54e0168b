// Reconnect backoff: 0.5 s doubling to 5 s, up to 20 % shorter by jitter, reset after a success.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "iot/backoff.hpp"

namespace concur::iot {
namespace {

TEST(IotBackoff, DoublesToTheCapWithoutJitterWhenTheDrawIsZero) {
  Backoff b(Millis(500), Millis(5000), 0.2, [] { return 0.0; });
  std::vector<long> got;
  for (int i = 0; i < 7; ++i) got.push_back(b.next().count());
  EXPECT_EQ(got, (std::vector<long>{500, 1000, 2000, 4000, 5000, 5000, 5000}));
  EXPECT_EQ(b.attempts(), 7);
}

TEST(IotBackoff, JitterOnlyShortensByUpToTwentyPercent) {
  Backoff hi(Millis(500), Millis(5000), 0.2, [] { return 0.0; });
  Backoff lo(Millis(500), Millis(5000), 0.2, [] { return 0.999999; });
  EXPECT_EQ(hi.next(), Millis(500));
  EXPECT_EQ(lo.next(), Millis(400));
  for (int i = 0; i < 10; ++i) {
    lo.next();
    hi.next();
  }
  EXPECT_EQ(hi.next(), Millis(5000));
  EXPECT_EQ(lo.next(), Millis(4000));
}

TEST(IotBackoff, ResetStartsOver) {
  Backoff b(Millis(500), Millis(5000), 0.2, [] { return 0.0; });
  b.next();
  b.next();
  b.next();
  b.reset();
  EXPECT_EQ(b.next(), Millis(500));
  EXPECT_EQ(b.attempts(), 1);
}

TEST(IotBackoff, ManyDevicesDoNotRetryInLockstep) {
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::set<long> first_delays;
  for (int d = 0; d < 100; ++d) {
    Backoff b(Millis(500), Millis(5000), 0.2, [&] { return u(rng); });
    first_delays.insert(b.next().count());
  }
  EXPECT_GT(first_delays.size(), 50u);  // spread over 400..500 ms
  EXPECT_GE(*first_delays.begin(), 400);
  EXPECT_LE(*first_delays.rbegin(), 500);
}

}  // namespace
}  // namespace concur::iot
