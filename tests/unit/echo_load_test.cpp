// The echo load generator on several threads: each thread's event loop offers its share of a
// fixed rate, and the report is the exact merge of the threads' counts and histograms.
#include <gtest/gtest.h>

#include "bench/echo_load.hpp"
#include "services/echo.hpp"
#include "support/in_process_server.hpp"

namespace concur {
namespace {

using namespace std::chrono_literals;

TEST(EchoLoad, TwoThreadsAtAFixedRateMakeTheOfferedRoundTripsAndMergeExactly) {
  EchoService echo(true);
  test::InProcessServer server("epoll", echo);
  LoadOptions o;
  o.port = server.port();
  o.connections = 8;
  o.threads = 2;
  o.rate = 2000;
  o.warmup = 50ms;
  o.duration = 250ms;
  std::vector<BenchReport> parts;
  BenchReport r = run_echo_load(o, &parts);

  const double expected = o.rate * 0.25;  // 500 round-trips in the measured quarter second
  EXPECT_EQ(r.errors, 0u);
  // Paced: never more than offered (a closed loop would make thousands); a loaded machine may
  // lose a few offers, not most of them.
  EXPECT_LE(static_cast<double>(r.ops), expected * 1.02 + 2);
  EXPECT_GE(static_cast<double>(r.ops), expected * 0.7);
  EXPECT_EQ(r.verified_bytes % o.size, 0u);

  // Two threads, each with half the connections and half the rate, merged without loss.
  ASSERT_EQ(parts.size(), 2u);
  Histogram merged;
  uint64_t ops = 0, bytes = 0;
  for (const auto& p : parts) {
    EXPECT_GE(static_cast<double>(p.ops), expected / 2 * 0.7) << "one thread did not carry its share";
    EXPECT_LE(static_cast<double>(p.ops), expected / 2 * 1.02 + 2);
    EXPECT_EQ(p.latency.count(), p.ops);
    ops += p.ops;
    bytes += p.verified_bytes;
    merged.merge(p.latency);
  }
  EXPECT_EQ(r.ops, ops);
  EXPECT_EQ(r.verified_bytes, bytes);
  EXPECT_EQ(r.latency.count(), r.ops);
  EXPECT_EQ(r.latency.max(), merged.max());
  EXPECT_EQ(r.latency.min(), merged.min());
  for (double q : {0.5, 0.99, 0.999}) EXPECT_EQ(r.latency.percentile(q), merged.percentile(q)) << q;
  EXPECT_GT(r.latency.percentile(0.5), 0u);
}

TEST(EchoLoad, MoreThreadsThanConnectionsUseOneThreadPerConnection) {
  EchoService echo(true);
  test::InProcessServer server("epoll", echo);
  LoadOptions o;
  o.port = server.port();
  o.connections = 2;
  o.threads = 8;
  o.warmup = 20ms;
  o.duration = 100ms;
  std::vector<BenchReport> parts;
  BenchReport r = run_echo_load(o, &parts);
  EXPECT_EQ(parts.size(), 2u);
  EXPECT_EQ(r.errors, 0u);
  EXPECT_GT(r.ops, 0u);
  for (const auto& p : parts) EXPECT_GT(p.ops, 0u);
}

}  // namespace
}  // namespace concur
