// `concur bench` smoke runs against live servers (benchmarks are not tests: these only check that
// each mode runs, reports zero errors and verified bytes, and speaks JSON).
#include <gtest/gtest.h>

#include <regex>

#include "support/process.hpp"

namespace concur::test {
namespace {

struct BenchResult {
  int code;
  std::string json;
};

BenchResult run_bench(std::vector<std::string> args) {
  args.insert(args.begin(), {concur_binary(), "bench"});
  args.push_back("--json");
  Process p(args);
  std::string out = p.read_all_stdout(Ms(30000));
  auto rc = p.wait(Ms(5000));
  return {rc.value_or(-1), out};
}

uint64_t field(const std::string& json, const std::string& name) {
  std::smatch m;
  std::regex re("\"" + name + "\": ([0-9.]+)");
  if (!std::regex_search(json, m, re)) return UINT64_MAX;
  return static_cast<uint64_t>(std::stod(m[1]));
}

TEST(BenchSmoke, EchoReportsVerifiedBytesAndNoErrors) {
  Server server({"echo-server", "--port", "0", "--bind", "127.0.0.1", "--quiet", "--model", "epoll"});
  auto r = run_bench({"echo", "--port", std::to_string(server.port), "--connections", "20", "--duration", "0.5",
                      "--warmup", "0.1", "--server-pid", std::to_string(server.proc.pid())});
  EXPECT_EQ(r.code, 0) << r.json;
  EXPECT_EQ(field(r.json, "errors"), 0u) << r.json;
  EXPECT_GT(field(r.json, "verified_bytes"), 0u) << r.json;
  EXPECT_GT(field(r.json, "roundtrips"), 0u) << r.json;
  EXPECT_NE(field(r.json, "server_cpu_seconds"), UINT64_MAX) << r.json;
}

TEST(BenchSmoke, HoldVerifiesEveryConnection) {
  Server server({"echo-server", "--port", "0", "--bind", "127.0.0.1", "--quiet", "--model", "epoll"});
  auto r = run_bench({"hold", "--port", std::to_string(server.port), "--connections", "200", "--duration", "0.3",
                      "--sources", "4", "--server-pid", std::to_string(server.proc.pid())});
  EXPECT_EQ(r.code, 0) << r.json;
  EXPECT_EQ(field(r.json, "errors"), 0u) << r.json;
  EXPECT_EQ(field(r.json, "verified"), 200u) << r.json;
  EXPECT_NE(field(r.json, "server_rss_kib_per_connection"), UINT64_MAX) << r.json;
}

TEST(BenchSmoke, ChatFanOutDeliversToEveryMember) {
  Server server({"chat-server", "--port", "0", "--bind", "127.0.0.1", "--quiet", "--model", "epoll", "--rate", "0"});
  auto r = run_bench({"chat", "--port", std::to_string(server.port), "--connections", "20", "--duration", "0.5",
                      "--warmup", "0.1"});
  EXPECT_EQ(r.code, 0) << r.json;
  EXPECT_EQ(field(r.json, "errors"), 0u) << r.json;
  EXPECT_GT(field(r.json, "deliveries"), 0u) << r.json;
  EXPECT_GT(field(r.json, "verified_bytes"), 0u) << r.json;
}

TEST(BenchSmoke, ChatFanOutOverWebSocketDeliversToEveryMember) {
  Server server({"chat-server", "--port", "0", "--bind", "127.0.0.1", "--quiet", "--model", "epoll", "--rate", "0",
                 "--web", "0"});
  auto web = server.proc.wait_for_line("(http, web)");
  ASSERT_TRUE(web);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(*web, m, std::regex(R"(:(\d+) \(http)")));
  auto r = run_bench({"chat", "--target", "web", "--port", m[1], "--connections", "20", "--duration", "0.5",
                      "--warmup", "0.1"});
  EXPECT_EQ(r.code, 0) << r.json;
  EXPECT_EQ(field(r.json, "errors"), 0u) << r.json;
  EXPECT_GT(field(r.json, "deliveries"), 0u) << r.json;
  EXPECT_GT(field(r.json, "verified_bytes"), 0u) << r.json;
}

TEST(BenchSmoke, NoServerIsAClearErrorNotAHang) {
  Process p({concur_binary(), "bench", "echo", "--port", "1", "--duration", "0.2"});
  auto rc = p.wait(Ms(10000));
  ASSERT_TRUE(rc);
  EXPECT_EQ(*rc, 1);
  EXPECT_NE(p.read_all_stderr(Ms(100)).find("cannot connect"), std::string::npos);
}

}  // namespace
}  // namespace concur::test
