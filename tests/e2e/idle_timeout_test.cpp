// Issue 13, item 9: --idle-timeout for echo-server and hello-server (off by default, as the
// seed), under every model. A silent client is closed after the timeout; one that keeps talking
// is not; without the option a silent client is held as before.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "support/echo_probe.hpp"
#include "support/model_available.hpp"
#include "support/model_server.hpp"
#include "support/net.hpp"
#include "support/process.hpp"
#include "support/usage_error.hpp"

namespace concur::test {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::vector<std::string> idle_args(const std::string& model, std::vector<std::string> extra = {}) {
  std::vector<std::string> a{"echo-server", "--model", model, "--port", "0", "--bind", "127.0.0.1", "--quiet"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

// Every registered model; one the registry says this machine cannot run is skipped with its
// reason, and a server that then does not echo a probe fails with its stderr.
class IdleTimeout : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { SKIP_IF_MODEL_UNAVAILABLE(GetParam()); }
};

TEST_P(IdleTimeout, SilentClientIsClosedTalkingOneIsKept) {
  Server server(idle_args(GetParam(), {"--idle-timeout", "0.4"}));
  ASSERT_TRUE(serves_echo(server)) << GetParam();
  {
    // Talks every 100 ms for 0.7 s, well past the timeout: never idle, never closed. (It leaves
    // before `silent` comes, so a model serving one client at a time runs this too.)
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
  Server server(idle_args(GetParam()));
  ASSERT_TRUE(serves_echo(server)) << GetParam();
  TestClient silent(server.port);
  silent.send_all("a");
  ASSERT_EQ(silent.recv_exact(1, milliseconds(3000)), "a");
  EXPECT_TRUE(silent.silent_for(milliseconds(600)));
}

INSTANTIATE_TEST_SUITE_P(EveryModel, IdleTimeout, ::testing::ValuesIn(all_models()),
                         [](const auto& info) { return info.param; });

TEST(IdleTimeoutHello, AcceptedAndGreetingUnchanged) {
  Server server({"hello-server", "--port", "0", "--bind", "127.0.0.1", "--quiet", "--idle-timeout", "0.5"});
  TestClient c(server.port);
  EXPECT_EQ(c.recv_until_eof(milliseconds(3000)), std::optional<std::string>("Hello 127.0.0.1"));
  Process bad({concur_binary(), "echo-server", "--idle-timeout", "soon"});
  EXPECT_TRUE(is_usage_error(bad, "--idle-timeout"));
}

}  // namespace
}  // namespace concur::test
