// `concur bench` smoke runs against live servers (benchmarks are not tests: these only check that
// each mode runs, reports zero errors and verified bytes, and speaks JSON).
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <regex>
#include <set>

#include "models/model.hpp"

#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/text_file.hpp"
#include "support/tls_peer.hpp"
#include "support/usage_error.hpp"

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

TEST(BenchSmoke, BadGeneratorThreadsAreOneLineUsageErrors) {
  for (std::vector<std::string> args : {std::vector<std::string>{"echo", "--threads", "0"},
                                        std::vector<std::string>{"hold", "--threads", "2"}}) {
    args.insert(args.begin(), {concur_binary(), "bench"});
    Process p(args);
    EXPECT_TRUE(is_usage_error(p, "--threads", Ms(10000))) << args[2];
  }
}

// ---- --tls: the same loops over non-blocking OpenSSL ----

// The names of a JSON report's fields.
std::set<std::string> keys_of(const std::string& json) {
  std::set<std::string> out;
  std::regex re("\"([a-z_0-9]+)\": ");
  for (std::sregex_iterator it(json.begin(), json.end(), re), e; it != e; ++it) out.insert((*it)[1]);
  return out;
}

std::string text_field(const std::string& json, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(json, m, std::regex("\"" + name + "\": \"([^\"]*)\""))) return {};
  return m[1];
}

std::vector<std::string> tls_listener(std::vector<std::string> args, const TestCert& c) {
  args.insert(args.end(), {"--port", "0", "--bind", "127.0.0.1", "--quiet", "--model", "epoll", "--tls-cert", c.cert,
                           "--tls-key", c.key});
  return args;
}

TEST(BenchSmoke, EchoOverTlsReportsRoundTripsInThePlainFormat) {
  TempDir dir;
  TestCert c = make_test_cert(dir, "server");
  Server plain({"echo-server", "--port", "0", "--bind", "127.0.0.1", "--quiet", "--model", "epoll"});
  Server tls(tls_listener({"echo-server"}, c));
  auto p = run_bench({"echo", "--port", std::to_string(plain.port), "--connections", "10", "--duration", "0.3",
                      "--warmup", "0.1", "--server-pid", std::to_string(plain.proc.pid())});
  // Two generator threads over one client context; 1000-byte messages cross in one record each.
  auto t = run_bench({"echo", "--tls", "--tls-ca", c.cert, "--port", std::to_string(tls.port), "--connections", "20",
                      "--size", "1000", "--threads", "2", "--duration", "0.5", "--warmup", "0.1", "--server-pid",
                      std::to_string(tls.proc.pid())});
  EXPECT_EQ(t.code, 0) << t.json;
  EXPECT_EQ(field(t.json, "errors"), 0u) << t.json;
  EXPECT_GT(field(t.json, "roundtrips"), 0u) << t.json;
  EXPECT_GT(field(t.json, "verified_bytes"), 0u) << t.json;
  EXPECT_NE(field(t.json, "server_cpu_ms_per_million"), UINT64_MAX) << t.json;
  EXPECT_EQ(text_field(t.json, "mode"), "echo") << t.json;
  EXPECT_EQ(text_field(t.json, "tls").rfind("TLSv1.", 0), 0u) << t.json;
  // The same report as plain, plus which TLS it was.
  std::set<std::string> want = keys_of(p.json);
  want.insert("tls");
  std::set<std::string> got = keys_of(t.json);
  got.erase("generator_threads");
  EXPECT_EQ(got, want) << p.json << "\n" << t.json;
}

TEST(BenchSmoke, EchoOverTlsTextReportNamesTheCipher) {
  TempDir dir;
  TestCert c = make_test_cert(dir, "server");
  Server tls(tls_listener({"echo-server"}, c));
  Process b(concur_args({"bench", "echo", "--tls", "--tls-ca", c.cert, "--port", std::to_string(tls.port),
                         "--connections", "5", "--duration", "0.2", "--warmup", "0.1"}));
  std::string out = b.read_all_stdout(Ms(20000));
  EXPECT_EQ(b.wait(Ms(5000)), 0) << out;
  EXPECT_NE(out.find("over TLS: TLSv1."), std::string::npos) << out;
  EXPECT_NE(out.find("round-trips/s:"), std::string::npos) << out;
}

TEST(BenchSmoke, ChatFanOutOverTlsDeliversToEveryMember) {
  TempDir dir;
  TestCert c = make_test_cert(dir, "server");
  Server server(tls_listener({"chat-server", "--rate", "0"}, c));
  auto r = run_bench({"chat", "--tls", "--tls-ca", c.cert, "--port", std::to_string(server.port), "--connections",
                      "30", "--duration", "0.5", "--warmup", "0.1", "--server-pid", std::to_string(server.proc.pid())});
  EXPECT_EQ(r.code, 0) << r.json;
  EXPECT_EQ(field(r.json, "errors"), 0u) << r.json;
  EXPECT_GT(field(r.json, "deliveries"), 0u) << r.json;
  EXPECT_GT(field(r.json, "verified_bytes"), 0u) << r.json;
  EXPECT_EQ(text_field(r.json, "tls").rfind("TLSv1.", 0), 0u) << r.json;
}

TEST(BenchSmoke, ChatFanOutOverWssDeliversToEveryMember) {
  TempDir dir;
  TestCert c = make_test_cert(dir, "server");
  Server server(tls_listener({"chat-server", "--rate", "0", "--web", "0"}, c));
  auto web = server.proc.wait_for_line("(https, web)");
  ASSERT_TRUE(web);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(*web, m, std::regex(R"(:(\d+) \(https)")));
  // A name, not an address: the certificate is checked against localhost's DNS entry.
  auto r = run_bench({"chat", "--target", "web", "--tls", "--tls-ca", c.cert, "--host", "localhost", "--port", m[1],
                      "--connections", "20", "--duration", "0.5", "--warmup", "0.1"});
  EXPECT_EQ(r.code, 0) << r.json;
  EXPECT_EQ(field(r.json, "errors"), 0u) << r.json;
  EXPECT_GT(field(r.json, "deliveries"), 0u) << r.json;
}

// hold --tls: every connection finishes its handshake before the hold (the server's size then
// includes its TLS sessions) and echoes the probe after it.
TEST(BenchSmoke, HoldOverTlsHoldsHandshakenConnectionsAndVerifiesEach) {
  TempDir dir;
  TestCert c = make_test_cert(dir, "server");
  Server tls(tls_listener({"echo-server"}, c));
  auto r = run_bench({"hold", "--tls", "--tls-ca", c.cert, "--port", std::to_string(tls.port), "--connections", "200",
                      "--duration", "0.3", "--server-pid", std::to_string(tls.proc.pid())});
  EXPECT_EQ(r.code, 0) << r.json;
  EXPECT_EQ(text_field(r.json, "mode"), "hold") << r.json;
  EXPECT_EQ(field(r.json, "errors"), 0u) << r.json;
  EXPECT_EQ(field(r.json, "verified"), 200u) << r.json;
  EXPECT_EQ(text_field(r.json, "tls").rfind("TLSv1.", 0), 0u) << r.json;
  EXPECT_EQ(r.json.find("tls_handshakes_unfinished"), std::string::npos) << r.json;
  EXPECT_GT(field(r.json, "server_rss_kib_holding"), field(r.json, "server_rss_kib_before")) << r.json;
  // A plaintext hold against the same kind of server: the TLS sessions are what the difference is.
  Server plain({"echo-server", "--port", "0", "--bind", "127.0.0.1", "--quiet", "--model", "epoll"});
  auto p = run_bench({"hold", "--port", std::to_string(plain.port), "--connections", "200", "--duration", "0.3"});
  EXPECT_EQ(p.code, 0) << p.json;
  EXPECT_EQ(field(p.json, "verified"), 200u) << p.json;
}

TEST(BenchSmoke, UntrustedCertificateIsAClearErrorAndInsecureIsExplicit) {
  TempDir dir;
  TestCert c = make_test_cert(dir, "server");
  Server tls(tls_listener({"echo-server"}, c));
  // The system's CAs do not know a self-signed test certificate.
  Process b(concur_args({"bench", "echo", "--tls", "--port", std::to_string(tls.port), "--connections", "3",
                         "--duration", "0.2", "--warmup", "0"}));
  auto rc = b.wait(Ms(20000));
  ASSERT_TRUE(rc);
  EXPECT_EQ(*rc, 1);
  std::string err = b.read_all_stderr(Ms(200));
  EXPECT_NE(err.find("cannot connect to 127.0.0.1:" + std::to_string(tls.port) + ": tls: certificate verify failed"),
            std::string::npos)
      << err;
  auto r = run_bench({"echo", "--tls", "--tls-insecure", "--port", std::to_string(tls.port), "--connections", "3",
                      "--duration", "0.2", "--warmup", "0"});
  EXPECT_EQ(r.code, 0) << r.json;
  EXPECT_GT(field(r.json, "roundtrips"), 0u) << r.json;
  // A plaintext server is not mistaken for a slow one.
  Server plain({"echo-server", "--port", "0", "--bind", "127.0.0.1", "--quiet", "--model", "epoll"});
  Process q(concur_args({"bench", "echo", "--tls", "--tls-insecure", "--port", std::to_string(plain.port),
                         "--connections", "2", "--duration", "0.2", "--warmup", "0"}));
  rc = q.wait(Ms(20000));
  ASSERT_TRUE(rc);
  EXPECT_EQ(*rc, 1);
  err = q.read_all_stderr(Ms(200));
  EXPECT_NE(err.find(": tls: "), std::string::npos) << err;
}

TEST(BenchSmoke, TlsOptionsWhereTheyDoNotApplyAreUsageErrors) {
  struct Case {
    std::vector<std::string> args;
    std::string names;
  };
  for (const Case& k : {Case{{"echo", "--tls-ca", "x.pem"}, "--tls-ca"}, Case{{"echo", "--tls-insecure"}, "--tls-insecure"},
                        Case{{"models", "--tls"}, "--tls"}, Case{{"chat", "--tls", "--target", "redis"}, "--tls"},
                        Case{{"echo", "--tls", "--tls-insecure", "--tls-ca", "x.pem"}, "--tls-insecure"}}) {
    std::vector<std::string> args = k.args;
    args.insert(args.begin(), {concur_binary(), "bench"});
    Process p(args);
    EXPECT_TRUE(is_usage_error(p, k.names, Ms(10000))) << k.args[0] << " " << k.args[1];
  }
}

// ---- bench models: tiny numbers, every model ----

// The "model" names of the rows in one JSON array (by key), in order.
std::vector<std::string> models_in(const std::string& json, const std::string& key) {
  auto at = json.find("\"" + key + "\": [");
  std::vector<std::string> out;
  if (at == std::string::npos) return out;
  auto end = json.find(']', at);
  std::string part = json.substr(at, end - at);
  std::regex re("\"model\": \"([a-z]+)\"");
  for (std::sregex_iterator it(part.begin(), part.end(), re), e; it != e; ++it) out.push_back((*it)[1]);
  return out;
}

// The JSON object of one model's row.
std::string row_of(const std::string& json, const std::string& model) {
  auto at = json.find("\"model\": \"" + model + "\"");
  if (at == std::string::npos) return {};
  return json.substr(at, json.find('}', at) - at);
}

TEST(BenchModels, EveryRegisteredModelGetsARowInRegistryOrder) {
  TempDir dir;
  std::string svg = dir.file("models.svg");
  Process p({concur_binary(), "bench", "models", "--connections", "4", "--duration", "0.25", "--warmup", "0.05",
             "--json", "--svg", svg});
  std::string json = p.read_all_stdout(Ms(120000));
  ASSERT_EQ(p.wait(Ms(10000)), 0) << json << p.read_all_stderr(Ms(100));
  std::vector<std::string> concurrent, alone;
  for (const auto& m : model_registry()) (m.concurrent ? concurrent : alone).push_back(m.name);
  EXPECT_EQ(models_in(json, "models"), concurrent) << json;
  EXPECT_EQ(models_in(json, "one_client_at_a_time"), alone) << json;
  for (const auto& m : model_registry()) {
    std::string row = row_of(json, m.name);
    // Only a model the registry says this machine cannot run (io_uring in some containers) may
    // be left out; any other must have run.
    if (!model_unavailable(m).empty()) {
      EXPECT_NE(row.find("\"skipped\""), std::string::npos) << row;
      continue;
    }
    ASSERT_EQ(row.find("\"skipped\""), std::string::npos) << m.name << " runs here but was not measured: " << row;
    EXPECT_GT(field(row, "roundtrips_per_second"), 0u) << row;
    EXPECT_EQ(field(row, "errors"), 0u) << row;
    EXPECT_NE(field(row, "server_cpu_us_per_roundtrip"), UINT64_MAX) << row;
    // The forking models' work happens in their children: counted, or the figure would be ~0.
    if (m.forks) {
      EXPECT_GE(field(row, "server_cpu_us_per_roundtrip"), 1u) << row;
    }
  }
  std::string chart = slurp(svg);
  EXPECT_NE(chart.find("<svg"), std::string::npos);
  EXPECT_NE(chart.find(">prefork<"), std::string::npos) << chart;
}

TEST(BenchModels, FixedOfferedLoadIsOfferedNotExceeded) {
  Process p({concur_binary(), "bench", "models", "--models", "epoll,prefork", "--connections", "8", "--rate", "400",
             "--duration", "0.5", "--warmup", "0.1", "--json"});
  std::string json = p.read_all_stdout(Ms(60000));
  ASSERT_EQ(p.wait(Ms(10000)), 0) << json;
  for (const std::string m : {"epoll", "prefork"}) {
    std::string row = row_of(json, m);
    uint64_t rate = field(row, "roundtrips_per_second");
    EXPECT_GE(rate, 200u) << row;  // 400/s offered; a loaded machine may lose some
    EXPECT_LE(rate, 440u) << row << " (more than offered: the load is not paced)";
  }
}

TEST(BenchModels, MoreConnectionsThanDescriptorsIsAUsageError) {
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > 900000) GTEST_SKIP() << "descriptor limit too high to exceed";
  Process p({concur_binary(), "bench", "models", "--connections", "1000000"});
  EXPECT_TRUE(is_usage_error(p, "--connections", Ms(10000)));
  EXPECT_NE(p.read_all_stderr(Ms(100)).find("descriptors"), std::string::npos);
  EXPECT_EQ(p.read_all_stdout(Ms(100)), "");
}

}  // namespace
}  // namespace concur::test
