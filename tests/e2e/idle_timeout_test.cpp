// Issue 13, item 9: --idle-timeout for echo-server and hello-server (off by default, as the
// seed), under every model. A silent client is closed after the timeout; one that keeps talking
// is not; without the option a silent client is held as before.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "support/net.hpp"
#include "support/process.hpp"

namespace concur::test {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

const std::vector<std::string> kModels = {"iterative", "thread", "process", "select", "poll", "epoll", "uring", "coro"};

std::vector<std::string> echo_args(const std::string& model, std::vector<std::string> extra = {}) {
  std::vector<std::string> a{"echo-server", "--model", model, "--port", "0", "--bind", "127.0.0.1", "--quiet"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

class IdleTimeout : public ::testing::TestWithParam<std::string> {
 protected:
  // False (and the test skipped) when this machine cannot run the model (io_uring refused).
  bool usable(Server& server) {
    try {
      TestClient probe(server.port);
      probe.send_all("p");
      if (probe.recv_exact(1, milliseconds(3000)) == "p") return true;
    } catch (...) {
    }
    return server.proc.running();  // running but not echoing: let the test fail on it
  }
};

TEST_P(IdleTimeout, SilentClientIsClosedTalkingOneIsKept) {
  Server server(echo_args(GetParam(), {"--idle-timeout", "0.4"}));
  if (!usable(server)) GTEST_SKIP() << GetParam() << " cannot run here";
  if (GetParam() != "iterative") {
    // Talks every 100 ms for 0.7 s, well past the timeout: never idle, never closed.
    TestClient talker(server.port);
    for (int i = 0; i < 7; ++i) {
      talker.send_all("t");
      ASSERT_EQ(talker.recv_exact(1, milliseconds(3000)), "t") << "a talking client was closed";
      std::this_thread::sleep_for(milliseconds(100));
    }
  }
  TestClient silent(server.port);
  silent.send_all("a");
  ASSERT_EQ(silent.recv_exact(1, milliseconds(3000)), "a");
  auto t0 = Clock::now();
  auto rest = silent.recv_until_eof(milliseconds(5000));
  auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - t0).count();
  ASSERT_TRUE(rest) << "a silent client was still held 5 s later";
  EXPECT_GE(took, 300);
  EXPECT_LT(took, 3000);
}

TEST_P(IdleTimeout, OffByDefault) {
  Server server(echo_args(GetParam()));
  if (!usable(server)) GTEST_SKIP() << GetParam() << " cannot run here";
  TestClient silent(server.port);
  silent.send_all("a");
  ASSERT_EQ(silent.recv_exact(1, milliseconds(3000)), "a");
  EXPECT_TRUE(silent.silent_for(milliseconds(600)));
}

INSTANTIATE_TEST_SUITE_P(EveryModel, IdleTimeout, ::testing::ValuesIn(kModels),
                         [](const auto& info) { return info.param; });

TEST(IdleTimeoutHello, AcceptedAndGreetingUnchanged) {
  Server server({"hello-server", "--port", "0", "--bind", "127.0.0.1", "--quiet", "--idle-timeout", "0.5"});
  TestClient c(server.port);
  EXPECT_EQ(c.recv_until_eof(milliseconds(3000)), std::optional<std::string>("Hello 127.0.0.1"));
  Process bad({concur_binary(), "echo-server", "--idle-timeout", "soon"});
  EXPECT_EQ(bad.wait(), 2);
  EXPECT_NE(bad.read_all_stderr().find("--idle-timeout"), std::string::npos);
}

}  // namespace
}  // namespace concur::test
