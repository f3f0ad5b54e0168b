// 1,000 slow /metrics requests — connected and dribbling a head that never ends — never delay
// chat between members, cost the server a bounded number of descriptors (the scraper cap), and
// are cut off by the request timeout, after which a scrape is answered again (issue 22).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <thread>
#include <chrono>
#include <memory>
#include <vector>

#include "support/http_scrape.hpp"
#include "support/net.hpp"
#include "support/process.hpp"

namespace concur::test {
namespace {

using Clock = std::chrono::steady_clock;

TEST(MetricsSlowScrapers, AThousandSlowRequestsNeverDelayChat) {
  Server s({"chat-server", "--port", "0", "--quiet", "--model", "epoll", "--metrics", ":0"});
  int mport = wait_metrics_port(s.proc);
  ASSERT_GT(mport, 0);
  TestClient a(s.port), b(s.port);
  a.send_all("[a]\n");
  b.send_all("[b]\n");
  ASSERT_EQ(a.recv_line(), "[b]");
  auto round_trip = [&](int i) {
    auto t0 = Clock::now();
    a.send_all("m" + std::to_string(i) + "\n");
    EXPECT_EQ(b.recv_line(), "[a]m" + std::to_string(i));
    return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
  };
  std::vector<long> before;
  for (int i = 0; i < 50; ++i) before.push_back(round_trip(i));

  constexpr int kSlow = 1000;
  std::vector<std::unique_ptr<TestClient>> slow;
  for (int i = 0; i < kSlow; ++i) {
    slow.push_back(std::make_unique<TestClient>(mport));
    slow.back()->send_all("GET /metrics HTTP/1.1\r\n");  // and never the rest
  }
  // The server holds at most the scraper cap of them, not a thousand descriptors.
  EXPECT_LT(count_fds(s.proc.pid()), 200);

  std::vector<long> during;
  for (int i = 0; i < 200; ++i) {
    // Dribble one more header byte on a different tenth of the slow connections each round
    // (a closed one fails silently: it was over the cap).
    for (int k = i % 10; k < kSlow; k += 10) {
      [[maybe_unused]] ssize_t n = ::send(slow[static_cast<size_t>(k)]->fd(), "X", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    during.push_back(round_trip(1000 + i));
  }
  std::sort(before.begin(), before.end());
  std::sort(during.begin(), during.end());
  long p50_before = before[before.size() / 2], p50_during = during[during.size() / 2], max_during = during.back();
  // Chat runs on other threads than the endpoint: its round-trips stay those of an idle server.
  EXPECT_LT(max_during, 250'000) << "p50 before " << p50_before << " µs, during " << p50_during << " µs";
  EXPECT_LT(p50_during, std::max(20'000L, 10 * p50_before));

  // The request timeout (5 s) cuts the slow ones off; then a scrape is served again.
  auto start = Clock::now();
  HttpReply r;
  while (Clock::now() - start < Ms(10000)) {
    r = http_fetch(mport, "/metrics", Ms(1000));
    if (r.status == 200) break;
    std::this_thread::sleep_for(Ms(100));
  }
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find(R"(concur_chat_members{room="lobby"} 2)"), std::string::npos);
  s.proc.signal(SIGTERM);
  EXPECT_EQ(s.proc.wait(), 0);
}

}  // namespace
}  // namespace concur::test
