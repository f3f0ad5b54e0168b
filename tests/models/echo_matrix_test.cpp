// The echo service under every registered model (TEST_P over model_registry()): byte-exact echo
// of random binary payloads for 50 concurrent clients, byte-at-a-time input, large bursts read
// while they are sent, the iterative model's one-at-a-time contract, --max-clients, and a stop
// with clients connected (on_close exactly once per on_open).
#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <mutex>
#include <thread>

#include "services/echo.hpp"
#include "support/model_available.hpp"
#include "support/model_server.hpp"
#include "support/net.hpp"

namespace concur::test {
namespace {

using namespace std::chrono_literals;

// Echo, plus counts of the model's callbacks (the service contract of service.hpp).
class CountingEcho final : public StreamService {
 public:
  void on_open(Conn& c) override {
    opened.fetch_add(1);
    echo_.on_open(c);
  }
  void on_data(Conn& c, std::string_view b) override { echo_.on_data(c, b); }
  void on_close(Conn&) override { closed.fetch_add(1); }
  std::atomic<int> opened{0}, closed{0};

 private:
  EchoService echo_{true};
};

// Sends `payload` from a second thread while this one reads the echo, so a payload larger than
// the socket buffers cannot deadlock a client that would otherwise only read after sending.
std::string echo_concurrently(TestClient& c, const std::string& payload, size_t piece, Ms timeout) {
  std::thread sender([&] {
    try {
      c.send_in_pieces(payload, piece);
    } catch (...) {
    }
  });
  std::string got = c.recv_exact(payload.size(), timeout);
  sender.join();
  return got;
}

class EchoMatrix : public ::testing::TestWithParam<std::string> {
 protected:
  // A model the registry says this machine cannot run (io_uring refused) is skipped with its
  // reason; any other that does not echo a probe fails, with what the server reported.
  void start(ServerConfig cfg = {}) {
    SKIP_IF_MODEL_UNAVAILABLE(GetParam());
    server_ = std::make_unique<ModelServer>(GetParam(), service_, std::vector<std::string>{"echo-server", "--quiet"},
                                            cfg);
    std::string got;
    try {
      TestClient probe(server_->port());
      probe.send_all("probe");
      got = probe.recv_exact(5, 5s);
    } catch (const std::exception& e) {
      got = std::string("<") + e.what() + ">";
    }
    ASSERT_EQ(got, "probe") << "model " << GetParam() << " did not echo a probe; " << server_->describe();
  }
  void SetUp() override { start(); }
  bool concurrent() const { return find_model(GetParam())->concurrent; }

  CountingEcho service_;
  std::unique_ptr<ModelServer> server_;
};

TEST_P(EchoMatrix, FiftyConcurrentClientsGetByteExactEchoOfRandomBinaryPayloads) {
  constexpr int kClients = 50;
  std::mutex mu;
  std::vector<std::string> failures;
  std::latch all_connected(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      std::mt19937 rng(1000 + i);
      // Sizes cover the edges (1 byte, exactly 64 KiB) and random sizes in between.
      size_t size = i == 0 ? 1 : i == 1 ? 65536 : 1 + rng() % 65536;
      std::string payload = random_bytes(size, 77 + i);
      std::string got;
      bool counted = false;
      try {
        TestClient c(server_->port());
        all_connected.count_down();
        counted = true;
        if (concurrent()) all_connected.wait();  // everyone connected at once, then traffic
        size_t piece = i == 2 ? 1 : 1 + rng() % 8192;
        got = echo_concurrently(c, payload, piece, 20s);
      } catch (const std::exception& e) {
        if (!counted) all_connected.count_down();
        std::lock_guard lock(mu);
        failures.push_back("client " + std::to_string(i) + ": " + e.what());
        return;
      }
      if (got != payload) {
        size_t at = 0;
        while (at < got.size() && got[at] == payload[at]) ++at;
        std::lock_guard lock(mu);
        failures.push_back("client " + std::to_string(i) + ": got " + std::to_string(got.size()) + " of " +
                           std::to_string(size) + " bytes, first difference at " + std::to_string(at));
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& f : failures) ADD_FAILURE() << f;
  EXPECT_TRUE(failures.empty());
}

TEST_P(EchoMatrix, ByteAtATimeInputEchoedIdentically) {
  TestClient c(server_->port());
  std::string msg = "hello\r\n\0\xff";
  msg.push_back('\0');
  for (char ch : msg) {
    c.send_all(std::string(1, ch));
    std::this_thread::sleep_for(2ms);  // separate segments, as a person typing
  }
  EXPECT_EQ(c.recv_exact(msg.size(), 5s), msg);
}

TEST_P(EchoMatrix, MegabyteBurstEchoedWhileSmallClientsKeepBeingServed) {
  // RELIABILITY 13: a 1 MiB burst on one socket, small messages on 20 others: nothing lost.
  TestClient big(server_->port());
  std::string burst = random_bytes(1 << 20, 4242);
  std::string big_got;
  std::thread big_thread([&] { big_got = echo_concurrently(big, burst, 64 * 1024, 20s); });
  std::vector<std::unique_ptr<TestClient>> small;
  if (concurrent()) {
    for (int i = 0; i < 20; ++i) small.push_back(std::make_unique<TestClient>(server_->port()));
    for (int round = 0; round < 5; ++round) {
      for (int i = 0; i < 20; ++i) {
        std::string m = "m" + std::to_string(i) + "-" + std::to_string(round);
        small[i]->send_all(m);
        ASSERT_EQ(small[i]->recv_exact(m.size(), 5s), m) << "small client " << i;
      }
    }
  }
  big_thread.join();
  EXPECT_EQ(big_got.size(), burst.size());
  EXPECT_TRUE(big_got == burst);
}

TEST_P(EchoMatrix, SecondClientWaitsForFirstOnlyUnderIterative) {
  TestClient a(server_->port());
  a.send_all("a");
  ASSERT_EQ(a.recv_exact(1, 5s), "a");
  TestClient b(server_->port());
  b.send_all("b");
  if (concurrent()) {
    EXPECT_EQ(b.recv_exact(1, 5s), "b") << "a concurrent model must serve B while A stays connected";
    a.send_all("a2");
    EXPECT_EQ(a.recv_exact(2, 5s), "a2");
  } else {
    // Iterative: B waits in the listen backlog until A leaves, then is served.
    EXPECT_TRUE(b.silent_for(300ms)) << "iterative served a second client while the first was connected";
    a.close();
    EXPECT_EQ(b.recv_exact(1, 5s), "b");
  }
}

TEST_P(EchoMatrix, StopWithClientsConnectedClosesEachExactlyOnce) {
  // A forking model (registry: forks) runs as the binary, its callbacks in children this process
  // cannot count; Faults and CliStop stop it with clients connected.
  if (!server_->in_process()) GTEST_SKIP() << GetParam() << " forks: callback counts are visible in-process only";
  int n = concurrent() ? 10 : 1;
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < n; ++i) {
    clients.push_back(std::make_unique<TestClient>(server_->port()));
    clients.back()->send_all("x");
    ASSERT_EQ(clients.back()->recv_exact(1, 5s), "x");
  }
  server_->stop();
  for (auto& c : clients) EXPECT_TRUE(c->recv_until_eof(5s).has_value()) << "client not closed at stop";
  EXPECT_EQ(service_.opened.load(), n + 1);  // + the probe
  EXPECT_EQ(service_.closed.load(), service_.opened.load());
}

class EchoMaxClients : public EchoMatrix {
 protected:
  void SetUp() override {
    ServerConfig cfg;
    cfg.max_clients = 3;
    start(cfg);
  }
};

TEST_P(EchoMaxClients, ExtraClientGetsServerFullLineAndSlotIsReusable) {
  if (!concurrent()) GTEST_SKIP() << GetParam() << " holds one client at a time by design (registry: not concurrent)";
  // The probe of start() has left; wait until the server has counted it out.
  std::vector<std::unique_ptr<TestClient>> held;
  for (int i = 0; i < 3; ++i) {
    std::unique_ptr<TestClient> c;
    bool served = wait_until([&] {
      c = std::make_unique<TestClient>(server_->port());
      c->send_all("k");
      return c->recv_exact(1, 2s) == "k";
    }, 5s);
    ASSERT_TRUE(served) << "client " << i << " of 3 was not served";
    held.push_back(std::move(c));
  }
  TestClient extra(server_->port());
  auto line = extra.recv_line(5s);
  ASSERT_TRUE(line.has_value()) << "the 4th client got no 'server full' line";
  EXPECT_EQ(*line, "error: server full");
  EXPECT_TRUE(extra.recv_until_eof(5s).has_value());
  // The held clients are unaffected.
  held[0]->send_all("still");
  EXPECT_EQ(held[0]->recv_exact(5, 5s), "still");
  // One leaves: a newcomer is served (the process model counts a child out when it is reaped).
  held[1]->close();
  bool served = wait_until([&] {
    TestClient again(server_->port());
    again.send_all("n");
    return again.recv_exact(1, 1s) == "n";
  }, 5s);
  EXPECT_TRUE(served);
}

std::string model_name(const ::testing::TestParamInfo<std::string>& info) { return info.param; }

INSTANTIATE_TEST_SUITE_P(AllModels, EchoMatrix, ::testing::ValuesIn(all_models()), model_name);
INSTANTIATE_TEST_SUITE_P(AllModels, EchoMaxClients, ::testing::ValuesIn(all_models()), model_name);

}  // namespace
}  // namespace concur::test
