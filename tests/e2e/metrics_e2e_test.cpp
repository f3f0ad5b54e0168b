// --metrics on the servers (issue 22): the real binary, its "metrics on" line, /metrics values
// that follow what clients did, /healthz and /readyz, and usage errors.
#include <gtest/gtest.h>
#include <signal.h>

#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "support/http_scrape.hpp"
#include "support/net.hpp"
#include "support/model_available.hpp"
#include "support/process.hpp"
#include "support/usage_error.hpp"

namespace concur::test {
namespace {

TEST(MetricsE2E, MetricsLineFollowsTheListeningLineAndHealthAnswers) {
  Server s({"echo-server", "--port", "0", "--quiet", "--metrics", "127.0.0.1:0"});
  auto line = s.proc.read_line();
  ASSERT_TRUE(line);
  EXPECT_TRUE(std::regex_match(*line, std::regex(R"(metrics on 127\.0\.0\.1:\d+)"))) << *line;
  int port = std::stoi(line->substr(line->rfind(':') + 1));
  HttpReply h = http_fetch(port, "/healthz");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body, "ok\n");
  HttpReply r = http_fetch(port, "/readyz");
  EXPECT_EQ(r.status, 200) << r.body;
  HttpReply m = http_fetch(port, "/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("# TYPE concur_connections_open gauge\n"), std::string::npos) << m.body;
  EXPECT_EQ(http_fetch(port, "/nope").status, 404);
  s.proc.signal(SIGTERM);
  EXPECT_EQ(s.proc.wait(), 0);
}

TEST(MetricsE2E, EchoConnectionsOpenAcceptedAndBytes) {
  for (const char* model : {"thread", "epoll"}) {
    SCOPED_TRACE(model);
    Server s({"echo-server", "--port", "0", "--quiet", "--model", model, "--metrics", ":0"});
    int mport = wait_metrics_port(s.proc);
    ASSERT_GT(mport, 0);
    std::vector<std::unique_ptr<TestClient>> clients;
    for (int i = 0; i < 5; ++i) {
      clients.push_back(std::make_unique<TestClient>(s.port));
      clients.back()->send_all("ping\n");
      ASSERT_EQ(clients.back()->recv_line(), "ping");  // served: admitted and counted
    }
    EXPECT_EQ(wait_sample(mport, "concur_connections_open", [](double v) { return v == 5; }), 5);
    EXPECT_EQ(wait_sample(mport, "concur_connections_accepted_total", [](double v) { return v == 5; }), 5);
    EXPECT_EQ(wait_sample(mport, "concur_received_bytes_total", [](double v) { return v == 25; }), 25);
    EXPECT_EQ(wait_sample(mport, "concur_sent_bytes_total", [](double v) { return v == 25; }), 25);
    clients.resize(2);
    EXPECT_EQ(wait_sample(mport, "concur_connections_open", [](double v) { return v == 2; }), 2);
    EXPECT_EQ(wait_sample(mport, "concur_connections_closed_total", [](double v) { return v == 3; }), 3);
    EXPECT_EQ(wait_sample(mport, "concur_connections_accepted_total", [](double v) { return v == 5; }), 5);
    s.proc.signal(SIGTERM);
    EXPECT_EQ(s.proc.wait(), 0);
  }
}

// Every event loop counts its wake-ups and busy time under its backend: the model shows in the
// label (epoll's loop, uring's ring), and both grow with traffic.
TEST(MetricsE2E, LoopWakeupsAndBusyTimeByBackend) {
  for (const char* model : {"epoll", "poll", "uring"}) {
    SCOPED_TRACE(model);
    SKIP_IF_MODEL_UNAVAILABLE(model);
    Server s({"echo-server", "--port", "0", "--quiet", "--model", model, "--metrics", ":0"});
    int mport = wait_metrics_port(s.proc);
    ASSERT_GT(mport, 0);
    std::string wakeups = std::string("concur_loop_wakeups_total{backend=\"") + model + "\"}";
    std::string busy = std::string("concur_loop_busy_seconds_total{backend=\"") + model + "\"}";
    TestClient c(s.port);
    for (int i = 0; i < 50; ++i) {
      c.send_all("ping\n");
      ASSERT_EQ(c.recv_line(), "ping");
    }
    EXPECT_GE(wait_sample(mport, wakeups, [](double v) { return v >= 50; }), 50) << "a wake-up per round-trip at least";
    EXPECT_GT(wait_sample(mport, busy, [](double v) { return v > 0; }), 0);
    s.proc.signal(SIGTERM);
    EXPECT_EQ(s.proc.wait(), 0);
  }
}

TEST(MetricsE2E, MaxClientsRefusalsAreCountedByReason) {
  Server s({"echo-server", "--port", "0", "--quiet", "--model", "epoll", "--max-clients", "1", "--metrics", ":0"});
  int mport = wait_metrics_port(s.proc);
  ASSERT_GT(mport, 0);
  TestClient a(s.port);
  a.send_all("x");
  ASSERT_EQ(a.recv_exact(1), "x");
  TestClient b(s.port);
  EXPECT_EQ(b.recv_line(), "error: server full");
  EXPECT_EQ(wait_sample(mport, R"(concur_connections_refused_total{reason="max_clients"})", [](double v) { return v == 1; }), 1);
  EXPECT_EQ(wait_sample(mport, "concur_connections_accepted_total", [](double v) { return v == 1; }), 1);
}

TEST(MetricsE2E, ChatMembersAndMessagesAreCounted) {
  constexpr int kMembers = 6;
  Server s({"chat-server", "--port", "0", "--quiet", "--metrics", "127.0.0.1:0"});
  int mport = wait_metrics_port(s.proc);
  ASSERT_GT(mport, 0);
  std::vector<std::unique_ptr<TestClient>> m;
  for (int i = 0; i < kMembers; ++i) {
    m.push_back(std::make_unique<TestClient>(s.port));
    m.back()->send_all("[m" + std::to_string(i) + "]\n");
    // In the room before the next joins (each connection has its own thread: joins sent back to
    // back could be handled in either order); everyone already in sees the join.
    ASSERT_EQ(wait_sample(mport, R"(concur_chat_members{room="lobby"})", [&](double v) { return v == i + 1; }), i + 1);
    for (int j = 0; j < i; ++j) ASSERT_EQ(m[j]->recv_line(), "[m" + std::to_string(i) + "]");
  }
  EXPECT_EQ(wait_sample(mport, R"(concur_chat_members{room="lobby"})", [](double v) { return v == kMembers; }), kMembers);
  m[0]->send_all("hello\n");
  for (int j = 1; j < kMembers; ++j) ASSERT_EQ(m[j]->recv_line(), "[m0]hello");
  EXPECT_EQ(wait_sample(mport, "concur_chat_messages_received_total", [](double v) { return v == 1; }), 1);
  EXPECT_EQ(wait_sample(mport, "concur_chat_messages_relayed_total", [](double v) { return v == 1; }), 1);
  EXPECT_EQ(wait_sample(mport, "concur_chat_joins_total", [](double v) { return v == kMembers; }), kMembers);
  // Joins reach those already in (0 + 1 + … + N-1), the message every other member.
  const double delivered = kMembers * (kMembers - 1) / 2 + (kMembers - 1);
  EXPECT_EQ(wait_sample(mport, "concur_chat_messages_delivered_total", [&](double v) { return v == delivered; }), delivered);
  m[kMembers - 1]->send_all("[m" + std::to_string(kMembers - 1) + "]quit\n");
  ASSERT_TRUE(m[kMembers - 1]->recv_until_eof());
  EXPECT_EQ(wait_sample(mport, R"(concur_chat_members{room="lobby"})", [](double v) { return v == kMembers - 1; }),
            kMembers - 1);
  s.proc.signal(SIGTERM);
  EXPECT_EQ(s.proc.wait(), 0);
}

TEST(MetricsE2E, UdpChatCountsDatagramsAndMembers) {
  Server s({"chat-server", "--transport", "udp", "--port", "0", "--quiet", "--metrics", ":0"});
  int mport = wait_metrics_port(s.proc);
  ASSERT_GT(mport, 0);
  UdpPeer a(s.port), b(s.port);
  a.send("[a]");
  ASSERT_EQ(wait_sample(mport, R"(concur_chat_members{room="lobby"})", [](double v) { return v == 1; }), 1);
  b.send("[b]");
  EXPECT_EQ(a.recv(), "[b]");
  b.send("[b]hi");
  EXPECT_EQ(a.recv(), "[b]hi");
  EXPECT_EQ(wait_sample(mport, R"(concur_chat_members{room="lobby"})", [](double v) { return v == 2; }), 2);
  EXPECT_EQ(wait_sample(mport, "concur_datagrams_received_total", [](double v) { return v == 3; }), 3);
  EXPECT_EQ(wait_sample(mport, "concur_datagrams_sent_total", [](double v) { return v == 2; }), 2);
}

TEST(MetricsE2E, EveryServerCommandTakesMetrics) {
  std::vector<std::vector<std::string>> commands = {
      {"hello-server", "--port", "0"},
      {"counter-server", "--port", "0", "--sync", "atomic"},
      {"chat-server", "--port", "0", "--web", "0"},
      {"device", "--port", "0"},
  };
  for (auto args : commands) {
    SCOPED_TRACE(args[0]);
    args.insert(args.end(), {"--metrics", ":0"});
    Server s(args);
    int mport = wait_metrics_port(s.proc);
    ASSERT_GT(mport, 0);
    EXPECT_EQ(http_fetch(mport, "/readyz").status, 200);
    EXPECT_EQ(http_fetch(mport, "/metrics").status, 200);
    s.proc.signal(SIGTERM);
    EXPECT_EQ(s.proc.wait(), 0);
  }
}

TEST(MetricsE2E, BadAddressIsAUsageErrorAndABusyPortARuntimeError) {
  Process bad(concur_args({"echo-server", "--port", "0", "--metrics", "127.0.0.1:http"}));
  EXPECT_TRUE(is_usage_error(bad, "--metrics"));
  Server first({"echo-server", "--port", "0", "--metrics", ":0"});
  int mport = wait_metrics_port(first.proc);
  ASSERT_GT(mport, 0);
  Process busy(concur_args({"echo-server", "--port", "0", "--metrics", std::to_string(mport)}));
  EXPECT_EQ(busy.wait(), 1);
  EXPECT_NE(busy.read_all_stderr().find("cannot bind 127.0.0.1:" + std::to_string(mport)), std::string::npos);
}

}  // namespace
}  // namespace concur::test
