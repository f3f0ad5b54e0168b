// Per-address limits on every server (issue 23): --max-per-ip N refuses connection N+1 from one
// address with one line, logged once per burst, while that address's other clients and everyone
// else keep being served; --connect-rate refuses a too-fast burst of new connections. Loopback
// is exempt only from the defaults, so these tests give explicit values.
#include <gtest/gtest.h>

#include <csignal>
#include <memory>
#include <string>
#include <vector>

#include "models/model.hpp"
#include "support/model_available.hpp"
#include "support/net.hpp"
#include "support/process.hpp"

namespace concur::test {
namespace {

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// Models that hold many clients at once under one gate (not prefork/pool: a worker per client).
std::vector<std::string> gated_models() {
  return model_names([](const ModelInfo& m) { return m.concurrent && !m.one_client_per_worker; });
}

class AddressLimitModels : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { SKIP_IF_MODEL_UNAVAILABLE(GetParam()); }
};

TEST_P(AddressLimitModels, SeventeenthConnectionFromOneAddressIsRefusedAndLoggedOncePerBurst) {
  Server s({"echo-server", "--port", "0", "--bind", "127.0.0.1", "--model", GetParam(), "--max-per-ip", "16"});
  std::vector<std::unique_ptr<TestClient>> held;
  for (int i = 0; i < 16; ++i) {
    held.push_back(std::make_unique<TestClient>(s.port));
    held.back()->send_all("ping " + std::to_string(i) + "\n");
    ASSERT_EQ(held.back()->recv_line(), "ping " + std::to_string(i)) << i;  // admitted and served
  }
  for (int i = 0; i < 3; ++i) {
    TestClient extra(s.port);
    EXPECT_EQ(extra.recv_line(), "error: too many connections from your address") << i;
    EXPECT_EQ(extra.recv_line(), std::nullopt);  // and closed
  }
  held[3]->send_all("still here\n");
  EXPECT_EQ(held[3]->recv_line(), "still here");
  held[0].reset();  // a place of this address frees up once it is gone
  bool admitted = wait_until([&] {
    TestClient again(s.port);
    again.send_all("back\n");
    return again.recv_line(Ms(500)) == "back";
  });
  EXPECT_TRUE(admitted);
  EXPECT_TRUE(s.proc.wait_for_stderr("more than 16 connections from 127.0.0.1"));
  s.proc.signal(SIGTERM);
  EXPECT_EQ(s.proc.wait(), 0);
  std::string err = s.proc.read_all_stderr();
  EXPECT_EQ(count(err, "more than 16 connections from 127.0.0.1"), 1u) << err;  // one line for the burst
}

INSTANTIATE_TEST_SUITE_P(EveryGatedModel, AddressLimitModels, ::testing::ValuesIn(gated_models()),
                         [](const auto& info) { return info.param; });

TEST(AddressLimitsE2E, ConnectRateRefusesABurstBeyondItsSize) {
  Server s({"chat-server", "--port", "0", "--bind", "127.0.0.1", "--connect-rate", "1"});
  std::vector<std::unique_ptr<TestClient>> ok;
  for (int i = 0; i < 5; ++i) {  // the burst is max(5, R)
    ok.push_back(std::make_unique<TestClient>(s.port));
    ok.back()->send_all("[m" + std::to_string(i) + "]\n");
    ASSERT_TRUE(s.proc.wait_for_line(":[m" + std::to_string(i) + "]")) << i;  // joined, in this order
  }
  TestClient sixth(s.port);
  EXPECT_EQ(sixth.recv_line(), "error: too many connections from your address");
  EXPECT_TRUE(s.proc.wait_for_stderr("more than 1 new connections a second from 127.0.0.1"));
  ok[4]->send_all("hello\n");  // the admitted ones chat on
  bool heard = false;
  while (auto line = ok[0]->recv_line()) {
    if (*line == "[m4]hello") {
      heard = true;
      break;
    }
  }
  EXPECT_TRUE(heard);
}

}  // namespace
}  // namespace concur::test
