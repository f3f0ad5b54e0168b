// Rendezvous sharding of a device list: exact partition, balance, and minimal movement.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "iot/shard.hpp"

namespace concur::iot {
namespace {

std::vector<std::string> fleet(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250) + ":7001");
  return out;
}

TEST(IotShard, ParsesIOverN) {
  auto s = parse_shard("2/3");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->index, 2u);
  EXPECT_EQ(s->count, 3u);
  EXPECT_TRUE(parse_shard("1/1"));
  EXPECT_TRUE(parse_shard("3/3"));
  for (const char* bad : {"4/3", "0/3", "1/0", "0/0", "", "/", "1/", "/3", "a/b", "1/3x", "-1/3", "1 /3", "1/5000", "2"})
    EXPECT_FALSE(parse_shard(bad)) << bad;
}

TEST(IotShard, NShardsPartitionTheListExactlyAndEvenly) {
  auto devices = fleet(8000);
  for (unsigned n : {1u, 2u, 3u, 5u, 8u, 13u}) {
    std::vector<int> per(n + 1, 0);
    for (const auto& d : devices) {
      unsigned s = shard_of(d, n);
      ASSERT_GE(s, 1u);
      ASSERT_LE(s, n);
      ++per[s];  // exactly one shard per device, by construction of a function: none twice, none left out
    }
    int total = 0;
    for (unsigned s = 1; s <= n; ++s) {
      total += per[s];
      double share = per[s] / 8000.0;
      EXPECT_NEAR(share, 1.0 / n, 0.25 / n) << "shard " << s << "/" << n;
    }
    EXPECT_EQ(total, 8000);
  }
}

TEST(IotShard, AddingACollectorMovesAboutOneNthAndOnlyToTheNewShard) {
  auto devices = fleet(8000);
  for (unsigned n : {1u, 2u, 4u, 7u}) {
    int moved = 0;
    for (const auto& d : devices) {
      unsigned before = shard_of(d, n), after = shard_of(d, n + 1);
      if (before != after) {
        ++moved;
        EXPECT_EQ(after, n + 1) << d << " moved between two old shards";
      }
    }
    double frac = moved / 8000.0;
    EXPECT_NEAR(frac, 1.0 / (n + 1), 0.25 / (n + 1)) << n << " -> " << n + 1;
  }
}

TEST(IotShard, TheSplitIsPinned) {
  // A fixed hash: these values must never change, or collectors of two builds would disagree
  // about who owns a device (one collected twice, another by nobody).
  EXPECT_EQ(shard_of("127.0.0.1:7001", 1), 1u);
  EXPECT_EQ(shard_of("127.0.0.1:7001", 3), 2u);
  EXPECT_EQ(shard_of("127.0.0.1:7002", 10), 5u);
  EXPECT_EQ(shard_of("10.0.0.5:7001", 3), 1u);
  EXPECT_EQ(shard_of("10.0.0.5:7001", 100), 69u);
  EXPECT_EQ(shard_of("[::1]:7001", 100), 97u);
}

}  // namespace
}  // namespace concur::iot
