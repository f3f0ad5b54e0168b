// The latency histogram behind `concur bench`: percentiles within its stated 1 % error.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "bench/histogram.hpp"

namespace concur {
namespace {

TEST(Histogram, EmptyReportsZero) {
  Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.percentile(0.99), 0u);
}

TEST(Histogram, SmallValuesAreExact) {
  Histogram h;
  for (uint64_t v = 1; v <= 100; ++v) h.record(v);
  EXPECT_EQ(h.percentile(0.5), 50u);
  EXPECT_EQ(h.percentile(0.99), 99u);
  EXPECT_EQ(h.percentile(1.0), 100u);
  EXPECT_EQ(h.min(), 1u);
  EXPECT_EQ(h.max(), 100u);
}

TEST(Histogram, PercentilesWithinOnePercentOfTheSortedTruth) {
  std::mt19937_64 rng(1);
  std::lognormal_distribution<double> dist(11.0, 1.5);  // ~60 us median, long tail, in ns
  std::vector<uint64_t> values;
  Histogram h;
  for (int i = 0; i < 200000; ++i) {
    auto v = static_cast<uint64_t>(dist(rng)) + 1;
    values.push_back(v);
    h.record(v);
  }
  std::sort(values.begin(), values.end());
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    uint64_t truth = values[static_cast<size_t>(q * values.size()) - 1];
    uint64_t got = h.percentile(q);
    EXPECT_GE(got, truth) << "q=" << q;  // an upper bound of the bucket
    EXPECT_LE(static_cast<double>(got), static_cast<double>(truth) * 1.01 + 1) << "q=" << q;
  }
}

TEST(Histogram, MergeAddsCounts) {
  Histogram a, b;
  for (int i = 0; i < 10; ++i) a.record(1000);
  for (int i = 0; i < 30; ++i) b.record(5000);
  a.merge(b);
  EXPECT_EQ(a.count(), 40u);
  EXPECT_LE(a.percentile(0.25), 1010u);
  EXPECT_GE(a.percentile(0.5), 5000u);
  EXPECT_EQ(a.max(), 5000u);
}

TEST(Histogram, HugeValuesDoNotOverflow) {
  Histogram h;
  h.record(UINT64_MAX / 2);
  h.record(1);
  EXPECT_EQ(h.percentile(1.0), UINT64_MAX / 2);
}

}  // namespace
}  // namespace concur
