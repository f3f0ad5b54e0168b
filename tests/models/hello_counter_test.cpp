// hello-server: exactly "Hello <client ip>" (no newline, as the seed), then close — under every
// model, and through the binary with its log line. counter-server: with --sync mutex or atomic,
// k clients leave exactly k x increments (SPEC §3), also when they arrive at the same time.
#include <gtest/gtest.h>

#include <algorithm>
#include <latch>
#include <regex>
#include <set>
#include <thread>

#include "core/socket.hpp"
#include "services/counter.hpp"
#include "services/hello.hpp"
#include "support/model_available.hpp"
#include "support/model_server.hpp"
#include "support/net.hpp"
#include "support/ports.hpp"

namespace concur::test {
namespace {

using namespace std::chrono_literals;

class HelloMatrix : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { SKIP_IF_MODEL_UNAVAILABLE(GetParam()); }
};

TEST_P(HelloMatrix, SendsExactlyHelloAndClientIpThenCloses) {
  HelloService service(true);
  ModelServer server(GetParam(), service, {"hello-server", "--quiet"});
  for (int i = 0; i < 3; ++i) {
    TestClient c(server.port());
    auto all = c.recv_until_eof(5s);
    ASSERT_EQ(all, std::optional<std::string>("Hello 127.0.0.1")) << "connection " << i << "; " << server.describe();
  }
}

TEST_P(HelloMatrix, ConcurrentClientsEachGetTheirGreeting) {
  HelloService service(true);
  ModelServer server(GetParam(), service, {"hello-server", "--quiet"});
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < 8; ++i) clients.push_back(std::make_unique<TestClient>(server.port()));
  for (size_t i = 0; i < clients.size(); ++i) {
    auto all = clients[i]->recv_until_eof(5s);
    ASSERT_EQ(all, std::optional<std::string>("Hello 127.0.0.1")) << "client " << i << "; " << server.describe();
  }
}

INSTANTIATE_TEST_SUITE_P(AllModels, HelloMatrix, ::testing::ValuesIn(all_models()),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });

TEST(HelloBinary, DefaultIterativeLogsConnectionFromClientAddress) {
  Server server({"hello-server", "--port", "0"});
  EXPECT_NE(server.listening_line.find("model=iterative"), std::string::npos) << server.listening_line;
  TestClient c(server.port);
  Endpoint me = local_endpoint(c.fd());
  EXPECT_EQ(c.recv_until_eof(5s).value_or("<no close>"), "Hello 127.0.0.1");
  auto line = server.proc.wait_for_line("Connection from", 5s);
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ(*line, "Connection from 127.0.0.1:" + std::to_string(me.port()));
}

TEST(HelloBinary, GreetsIpv6ClientWithItsAddress) {
  if (std::string why = why_no_ipv6_loopback(); !why.empty()) GTEST_SKIP() << why;
  Server server({"hello-server", "--port", "0", "--bind", "::1", "--quiet"});
  EXPECT_NE(server.listening_line.find("listening on [::1]:"), std::string::npos) << server.listening_line;
  TestClient c(server.port, "::1");
  EXPECT_EQ(c.recv_until_eof(5s).value_or("<no close>"), "Hello ::1");
}

// ---- counter ----

// Connects `k` clients at once and returns the number each one received.
std::vector<uint64_t> concurrent_counter_clients(int port, int k) {
  std::vector<std::string> got(k);
  std::latch go(k);
  std::vector<std::thread> threads;
  for (int i = 0; i < k; ++i)
    threads.emplace_back([&, i] {
      go.arrive_and_wait();
      try {
        TestClient c(port);
        got[i] = c.recv_until_eof(20s).value_or("<no close>");
      } catch (const std::exception& e) {
        got[i] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  std::vector<uint64_t> values;
  for (const auto& s : got) {
    EXPECT_TRUE(std::regex_match(s, std::regex("[0-9]+"))) << "not a decimal number: '" << s << "'";
    values.push_back(std::strtoull(s.c_str(), nullptr, 10));
  }
  return values;
}

constexpr uint64_t kIncrements = 200000;

TEST(Counter, MutexGivesExactMultiplesForFourConcurrentClients) {
  CounterService service(SyncMode::mutex, kIncrements, true);
  InProcessServer server("thread", service);
  auto v = concurrent_counter_clients(server.port(), 4);
  std::sort(v.begin(), v.end());
  // The whole loop is one critical section: each client sees the counter right after its own
  // 200,000 additions, so the values are exactly N, 2N, 3N, 4N.
  EXPECT_EQ(v, (std::vector<uint64_t>{kIncrements, 2 * kIncrements, 3 * kIncrements, 4 * kIncrements}));
}

TEST(Counter, AtomicLosesNoUpdateWithFourConcurrentClients) {
  CounterService service(SyncMode::atomic, kIncrements, true);
  InProcessServer server("thread", service);
  auto v = concurrent_counter_clients(server.port(), 4);
  ASSERT_EQ(v.size(), 4u);
  EXPECT_EQ(*std::max_element(v.begin(), v.end()), 4 * kIncrements);
  EXPECT_EQ(std::set<uint64_t>(v.begin(), v.end()).size(), 4u) << "two clients saw the same value";
  for (uint64_t x : v) {
    EXPECT_GE(x, kIncrements);
    EXPECT_LE(x, 4 * kIncrements);
  }
}

TEST(Counter, NoneNeverExceedsTheTrueTotal) {
  // Lost updates may or may not happen on a given run; the value can never be more than k x N.
  CounterService service(SyncMode::none, kIncrements, true);
  InProcessServer server("thread", service);
  auto v = concurrent_counter_clients(server.port(), 4);
  for (uint64_t x : v) {
    EXPECT_GE(x, 1u);
    EXPECT_LE(x, 4 * kIncrements);
  }
}

TEST(Counter, SequentialClientsSeeKTimesIncrements) {
  for (SyncMode mode : {SyncMode::mutex, SyncMode::atomic, SyncMode::none}) {
    CounterService service(mode, 1000, true);
    InProcessServer server("thread", service);
    for (uint64_t k = 1; k <= 3; ++k) {
      TestClient c(server.port());
      EXPECT_EQ(c.recv_until_eof(5s).value_or("<no close>"), std::to_string(k * 1000));
    }
  }
}

TEST(CounterBinary, FourConcurrentClientsUnderMutexAndAtomicLeaveExactTotal) {
  for (std::string sync : {"mutex", "atomic"}) {
    Server server({"counter-server", "--port", "0", "--sync", sync, "--increments", "100000"});
    auto v = concurrent_counter_clients(server.port, 4);
    EXPECT_EQ(*std::max_element(v.begin(), v.end()), 400000u) << sync;
    if (sync == "mutex") {
      std::sort(v.begin(), v.end());
      EXPECT_EQ(v, (std::vector<uint64_t>{100000, 200000, 300000, 400000}));
    }
    // The server logs each connection as the seed does and each value it sent.
    int connected = 0, values = 0;
    for (int i = 0; i < 8; ++i) {
      auto line = server.proc.read_line(5s);
      ASSERT_TRUE(line.has_value());
      if (std::regex_match(*line, std::regex(R"(connected by \('127\.0\.0\.1', \d+\))"))) ++connected;
      else if (std::regex_match(*line, std::regex(R"(\d+)"))) ++values;
      else ADD_FAILURE() << "unexpected log line: " << *line;
    }
    EXPECT_EQ(connected, 4);
    EXPECT_EQ(values, 4);
  }
}

}  // namespace
}  // namespace concur::test
