// `concur device` end to end: the real binary, loopback clients (SPEC §3 device).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <regex>

#include "core/endpoint.hpp"
#include "core/socket.hpp"
#include "support/net.hpp"
#include "support/ports.hpp"
#include "support/process.hpp"
#include "support/usage_error.hpp"

namespace concur::test {
namespace {

const std::regex kEnvLine(R"(^Device1: Temp=(\d+), Humid=(\d+), lilum=(\d+)$)");
const std::regex kHealthLine(R"(^Device2: Heartbeat=(\d+), Steps=(\d+), Cal=(\d+)$)");

void expect_env(const std::string& line) {
  std::smatch m;
  ASSERT_TRUE(std::regex_match(line, m, kEnvLine)) << line;
  EXPECT_LE(std::stoi(m[1]), 40);
  EXPECT_LE(std::stoi(m[2]), 100);
  EXPECT_GE(std::stoi(m[3]), 70);
  EXPECT_LE(std::stoi(m[3]), 150);
}

std::string stderr_of(Process& p) { return p.read_all_stderr(2000ms); }

TEST(DeviceEnv, ListeningLineThenExactReadingsAfterRegisterWithoutNewline) {
  Server dev({"device", "--port", "0", "--interval", "0.05"});
  EXPECT_NE(dev.listening_line.find("(tcp, model=epoll)"), std::string::npos);
  TestClient c(dev.port);
  EXPECT_TRUE(c.silent_for(150ms)) << "readings before Register";
  c.send_all("Register");
  for (int i = 0; i < 5; ++i) {
    auto line = c.recv_line(2000ms);
    ASSERT_TRUE(line) << "reading " << i;
    expect_env(*line);
  }
}

TEST(DeviceHealth, ExactReadingsInRange) {
  Server dev({"device", "--kind", "health", "--port", "0", "--interval", "20ms"});
  TestClient c(dev.port);
  c.send_all("Register\n");
  for (int i = 0; i < 10; ++i) {
    auto line = c.recv_line(2000ms);
    ASSERT_TRUE(line);
    std::smatch m;
    ASSERT_TRUE(std::regex_match(*line, m, kHealthLine)) << *line;
    int hb = std::stoi(m[1]), st = std::stoi(m[2]), cal = std::stoi(m[3]);
    EXPECT_TRUE(hb >= 40 && hb <= 140);
    EXPECT_TRUE(st >= 2000 && st <= 6000);
    EXPECT_TRUE(cal >= 1000 && cal <= 4000);
  }
}

TEST(DeviceEnv, RegisterByteByByteAndWithCrLf) {
  Server dev({"device", "--port", "0", "--interval", "0.05", "--name", "Kitchen"});
  TestClient a(dev.port), b(dev.port);
  a.send_in_pieces("Register", 1);
  b.send_all("Register\r\n");
  for (TestClient* c : {&a, &b}) {
    auto line = c->recv_line(2000ms);
    ASSERT_TRUE(line);
    EXPECT_EQ(line->rfind("Kitchen: Temp=", 0), 0u) << *line;
  }
}

TEST(DeviceEnv, SeveralRegistrantsAtOnceEachGetTheirReadings) {
  Server dev({"device", "--port", "0", "--interval", "0.05"});
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < 8; ++i) {
    clients.push_back(std::make_unique<TestClient>(dev.port));
    clients.back()->send_all(i % 2 ? "Register" : "Register\n");
  }
  for (int round = 0; round < 3; ++round) {
    for (auto& c : clients) {
      auto line = c->recv_line(2000ms);
      ASSERT_TRUE(line);
      expect_env(*line);
    }
  }
  // One leaving does not disturb the others.
  clients[3]->close();
  for (auto& c : clients) {
    if (c->fd() >= 0) {
      ASSERT_TRUE(c->recv_line(2000ms));
    }
  }
}

TEST(DeviceEnv, SomethingOtherThanRegisterIsRefused) {
  Server dev({"device", "--port", "0", "--interval", "0.05"});
  TestClient c(dev.port);
  c.send_all("GET / HTTP/1.1\r\n\r\n");
  auto rest = c.recv_until_eof(2000ms);
  ASSERT_TRUE(rest) << "not closed";
  EXPECT_EQ(*rest, "error: expected Register\n");
}

TEST(DeviceFleet, ThreeDevicesOnConsecutivePortsNamedWithIndex) {
  for (int attempt = 0;; ++attempt) {
    int base = free_port_range(3);
    Process p({concur_binary(), "device", "--fleet", "3", "--port", std::to_string(base), "--interval", "0.05"});
    std::vector<std::string> lines;
    for (int i = 0; i < 3; ++i)
      if (auto l = p.read_line(3000ms)) lines.push_back(*l);
    if (lines.size() < 3 && attempt < 3) continue;  // lost a race for the ports: try another range
    ASSERT_EQ(lines.size(), 3u) << stderr_of(p);
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(lines[static_cast<size_t>(i)],
                "listening on 0.0.0.0:" + std::to_string(base + i) + " (tcp, model=epoll)");
      TestClient c(base + i);
      c.send_all("Register");
      auto r = c.recv_line(2000ms);
      ASSERT_TRUE(r);
      std::string prefix = "Device1-" + std::to_string(i + 1) + ": Temp=";
      EXPECT_EQ(r->rfind(prefix, 0), 0u) << *r;
    }
    p.signal(SIGTERM);
    EXPECT_EQ(p.wait(3000ms), 0);
    return;
  }
}

TEST(DeviceFleet, NeedsAFixedPort) {
  Process p({concur_binary(), "device", "--fleet", "3"});
  EXPECT_TRUE(is_usage_error(p, "--fleet"));
}

TEST(DeviceOptions, BadOptionsExitTwoWithOneLineNamingTheOption) {
  struct Case {
    std::vector<std::string> args;
    std::string names;
  };
  for (const Case& c : std::vector<Case>{{{"--kind", "weather"}, "--kind"},
                                         {{"--interval", "abc"}, "--interval"},
                                         {{"--interval", "0"}, "--interval"},
                                         {{"--port", "70000"}, "--port"},
                                         {{"--name", "a:b"}, "--name"},
                                         {{"--bind", "nowhere"}, "--bind"}}) {
    std::vector<std::string> argv{concur_binary(), "device"};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    if (c.names != "--port") argv.insert(argv.end(), {"--port", "0"});
    Process p(argv);
    EXPECT_TRUE(is_usage_error(p, c.names));
  }
}

TEST(DeviceOptions, PortInUseExitsOneCannotBind) {
  Server first({"device", "--port", "0"});
  Process second({concur_binary(), "device", "--port", std::to_string(first.port)});
  EXPECT_EQ(second.wait(3000ms), 1);
  std::string err = stderr_of(second);
  EXPECT_NE(err.find("concur: cannot bind 0.0.0.0:" + std::to_string(first.port) + ": Address already in use"),
            std::string::npos)
      << err;
}

TEST(DeviceEnv, SigtermExitsZeroAndStatsCountReadings) {
  Server dev({"device", "--port", "0", "--interval", "0.02", "--stats", "--quiet"});
  TestClient c(dev.port);
  c.send_all("Register");
  int got = 0;
  for (; got < 5; ++got) ASSERT_TRUE(c.recv_line(2000ms));
  dev.proc.signal(SIGTERM);
  EXPECT_EQ(dev.proc.wait(3000ms), 0);
  std::string err = stderr_of(dev.proc);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(err, m, std::regex(R"(Device1 sent (\d+))"))) << err;
  EXPECT_GE(std::stoi(m[1]), 5);
}

// A registrant that stops reading is dropped once its output passes the bound; others keep flowing.
TEST(DeviceEnv, RegistrantThatStopsReadingIsDroppedNotBlocking) {
  Server dev({"device", "--port", "0", "--interval", "1ms", "--max-pending", "4096", "--quiet"});
  // The stalled client: a tiny receive buffer set before connect so the kernel holds little.
  FileDesc stalled(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int small = 2048;
  ::setsockopt(stalled.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  Endpoint to = Endpoint::parse("127.0.0.1", static_cast<uint16_t>(dev.port));
  ASSERT_EQ(::connect(stalled.get(), to.sa(), to.len()), 0);
  ASSERT_EQ(::send(stalled.get(), "Register", 8, MSG_NOSIGNAL), 8);
  TestClient reader(dev.port);
  reader.send_all("Register");
  auto deadline = std::chrono::steady_clock::now() + 3s;
  int lines = 0;
  while (std::chrono::steady_clock::now() < deadline && lines < 800) {
    ASSERT_TRUE(reader.recv_line(1000ms)) << "the reading client stalled after " << lines;
    ++lines;
  }
  dev.proc.signal(SIGTERM);
  ASSERT_EQ(dev.proc.wait(3000ms), 0);
  std::string err = stderr_of(dev.proc);
  EXPECT_NE(err.find("dropped"), std::string::npos) << "stalled client never dropped; stderr: " << err;
}

TEST(DeviceFleet, LargerThanTheDescriptorLimitIsAClearError) {
  Process p({concur_binary(), "device", "--fleet", "100", "--port", "20000"}, "", [] {
    rlimit rl{64, 64};
    ::setrlimit(RLIMIT_NOFILE, &rl);
  });
  EXPECT_EQ(p.wait(3000ms), 1);
  std::string err = stderr_of(p);
  EXPECT_EQ(err, "concur: --fleet 100 needs 100 listening sockets but the descriptor limit is 64; split the fleet over "
                 "several processes\n");
}

}  // namespace
}  // namespace concur::test
