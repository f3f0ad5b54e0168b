// /readyz of a chat-server federated over Redis (issue 22): ready while the link is subscribed
// and answering; 503 within 2 s of Redis being frozen (SIGSTOP, the test's own redis-server);
// ready again after SIGCONT; the link gauge and counters follow.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <thread>

#include "support/http_scrape.hpp"
#include "support/installed.hpp"
#include "support/net.hpp"
#include "support/process.hpp"
#include "support/redis_server.hpp"

namespace concur::test {
namespace {

using Clock = std::chrono::steady_clock;

// Polls /readyz until its status is `want`; how long that took, or nullopt past `timeout`.
std::optional<Ms> until_status(int port, int want, Ms timeout, std::string* body = nullptr) {
  auto start = Clock::now();
  while (Clock::now() - start < timeout) {
    HttpReply r = http_fetch(port, "/readyz", Ms(1000));
    if (r.status == want) {
      if (body) *body = r.body;
      return std::chrono::duration_cast<Ms>(Clock::now() - start);
    }
    std::this_thread::sleep_for(Ms(20));
  }
  return std::nullopt;
}

TEST(MetricsRedisE2E, ReadyzIs503WithinTwoSecondsOfAFrozenRedisAnd200AfterItResumes) {
  ASSERT_TRUE(have_redis_server()) << not_installed("redis-server");
  RedisServer redis;
  Server s({"chat-server", "--port", "0", "--quiet", "--redis", redis.address(), "--metrics", ":0"});
  int mport = wait_metrics_port(s.proc);
  ASSERT_GT(mport, 0);
  ASSERT_TRUE(until_status(mport, 200, Ms(5000)));
  EXPECT_EQ(wait_sample(mport, "concur_redis_link_up", [](double v) { return v == 1; }), 1);
  TestClient a(s.port);
  a.send_all("[a]\n");
  a.send_all("hello\n");
  EXPECT_TRUE(wait_sample(mport, "concur_redis_published_total", [](double v) { return v >= 2; }));

  redis.stall();
  std::string why;
  auto took = until_status(mport, 503, Ms(4000), &why);
  ASSERT_TRUE(took) << "still ready 4 s after SIGSTOP";
  EXPECT_LT(took->count(), 2000) << why;
  EXPECT_NE(why.find("redis: "), std::string::npos) << why;
  // Local chat goes on meanwhile.
  TestClient b(s.port);
  b.send_all("[b]\n");
  EXPECT_EQ(a.recv_line(), "[b]");

  redis.resume();
  EXPECT_TRUE(until_status(mport, 200, Ms(8000)));
  EXPECT_EQ(wait_sample(mport, "concur_redis_link_up", [](double v) { return v == 1; }), 1);
  s.proc.signal(SIGTERM);
  EXPECT_EQ(s.proc.wait(Ms(8000)), 0);
}

}  // namespace
}  // namespace concur::test
