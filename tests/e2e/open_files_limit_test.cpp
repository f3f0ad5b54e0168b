// Issue 13, item 8: every server, device, collect and bench raises its soft open-files limit to
// the hard one at start (as Redis and nginx do), and names the limit when descriptors still run
// out. The children here start with `ulimit -Sn 1024` (or a hard 64) set before exec.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <memory>
#include <string>
#include <vector>

#include "support/net.hpp"
#include "support/process.hpp"

namespace concur::test {
namespace {

constexpr rlim_t kSoft = 1024;
constexpr int kClients = 1500;  // more than the soft limit allows

bool hard_limit_allows(rlim_t n) {
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  return rl.rlim_max >= n;
}

void soft_1024() {  // like `ulimit -Sn 1024`: the hard limit stays
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = kSoft;
  ::setrlimit(RLIMIT_NOFILE, &rl);
}

void hard_64() {
  rlimit rl{64, 64};
  ::setrlimit(RLIMIT_NOFILE, &rl);
}

TEST(OpenFilesLimit, ServerStartedUnderSoft1024ServesMoreClients) {
  if (!hard_limit_allows(2 * kClients + 100)) GTEST_SKIP() << "hard RLIMIT_NOFILE too low for this test";
  Server server({"echo-server", "--model", "epoll", "--port", "0", "--bind", "127.0.0.1", "--quiet"}, soft_1024);
  std::vector<std::unique_ptr<TestClient>> held;
  for (int i = 0; i < kClients; ++i) held.push_back(std::make_unique<TestClient>(server.port));
  int echoed = 0;
  for (auto& c : held) {
    c->send_all("x");
    if (c->recv_exact(1, std::chrono::milliseconds(3000)) == "x") ++echoed;
  }
  EXPECT_EQ(echoed, kClients) << server.proc.read_all_stderr(std::chrono::milliseconds(200));
}

TEST(OpenFilesLimit, BenchStartedUnderSoft1024HoldsMoreConnections) {
  if (!hard_limit_allows(2 * kClients + 100)) GTEST_SKIP() << "hard RLIMIT_NOFILE too low for this test";
  Server server({"echo-server", "--model", "epoll", "--port", "0", "--bind", "127.0.0.1", "--quiet"});
  Process bench({concur_binary(), "bench", "hold", "--port", std::to_string(server.port), "--connections",
                 std::to_string(kClients), "--duration", "0.2", "--warmup", "0"},
                "", soft_1024);
  std::string out = bench.read_all_stdout(std::chrono::milliseconds(20000));
  EXPECT_EQ(bench.wait(std::chrono::milliseconds(20000)), 0) << out << bench.read_all_stderr();
  EXPECT_NE(out.find("verified echoing: " + std::to_string(kClients) + " of " + std::to_string(kClients)),
            std::string::npos)
      << out;
}

TEST(OpenFilesLimit, WhenStillTooLowTheErrorNamesTheLimit) {
  Server server({"echo-server", "--model", "epoll", "--port", "0", "--bind", "127.0.0.1", "--quiet"});
  Process bench({concur_binary(), "bench", "hold", "--port", std::to_string(server.port), "--connections", "200",
                 "--duration", "0.2", "--warmup", "0"},
                "", hard_64);
  auto rc = bench.wait(std::chrono::milliseconds(10000));
  EXPECT_TRUE(rc == 1 || rc == 2) << "bench did not fail";
  std::string err = bench.read_all_stderr();
  // Either bench's own check up front (--connections names the limit) or the failed socket().
  EXPECT_TRUE(err.find("the open-files limit is 64") != std::string::npos ||
              err.find("may open (64; see ulimit -n)") != std::string::npos)
      << err;
  // A server out of descriptors names the limit in its (rate-limited) log line too.
  Server small({"echo-server", "--model", "epoll", "--port", "0", "--bind", "127.0.0.1", "--quiet"}, hard_64);
  std::vector<std::unique_ptr<TestClient>> held;
  for (int i = 0; i < 80; ++i) held.push_back(std::make_unique<TestClient>(small.port));
  EXPECT_TRUE(small.proc.wait_for_stderr("the open-files limit is 64", std::chrono::milliseconds(3000)))
      << small.proc.read_all_stderr(std::chrono::milliseconds(100));
}

}  // namespace
}  // namespace concur::test
