// A real Prometheus (Debian's `prometheus`, scripts/setup.sh installs it) scrapes a chat-server and
// a collector every second through their --metrics endpoints; the test asks its HTTP API
// (/api/v1/query) for the series and their values (issue 22).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <thread>

#include "support/http_scrape.hpp"
#include "support/installed.hpp"
#include "support/net.hpp"
#include "support/ports.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace concur::test {
namespace {

constexpr const char* kPrometheus = "/usr/bin/prometheus";

std::string url_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '_' || c == '.' || c == '-') out += static_cast<char>(c);
    else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// The value of the single series an instant query returns, polled until `want` holds (Prometheus
// scrapes every second) or the time is up; nullopt when the query never returned one series.
std::optional<double> query(int port, const std::string& promql, const std::function<bool(double)>& want,
                            Ms timeout = Ms(20000)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::optional<double> last;
  static const std::regex one(R"re("result":\[\{"metric":\{[^}]*\},"value":\[[0-9.]+,"([^"]+)"\]\}\])re");
  while (std::chrono::steady_clock::now() < deadline) {
    HttpReply r = http_fetch(port, "/api/v1/query?query=" + url_encode(promql));
    std::smatch m;
    if (r.status == 200 && std::regex_search(r.body, m, one)) last = std::stod(m[1]);
    if (last && want(*last)) return last;
    std::this_thread::sleep_for(Ms(250));
  }
  return last;
}

TEST(MetricsPrometheusE2E, PrometheusScrapesAChatServerAndACollector) {
  ASSERT_EQ(::access(kPrometheus, X_OK), 0) << not_installed("prometheus");
  TempDir dir;
  Server chat({"chat-server", "--port", "0", "--quiet", "--model", "epoll", "--metrics", ":0"});
  int chat_metrics = wait_metrics_port(chat.proc);
  ASSERT_GT(chat_metrics, 0);
  Server dev({"device", "--port", "0", "--interval", "0.1", "--quiet"});
  Process col(concur_args({"collect", "--device", loopback(dev.port), "--out", dir.file("data.txt"), "--quiet",
                           "--metrics", ":0"}));
  int col_metrics = wait_metrics_port(col);
  ASSERT_GT(col_metrics, 0);

  int prom_port = free_port();
  {
    std::ofstream f(dir.file("prometheus.yml"));
    f << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
      << "scrape_configs:\n"
      << "  - job_name: chat\n    static_configs:\n      - targets: ['127.0.0.1:" << chat_metrics << "']\n"
      << "  - job_name: collect\n    static_configs:\n      - targets: ['127.0.0.1:" << col_metrics << "']\n";
  }
  Process prom({kPrometheus, "--config.file=" + dir.file("prometheus.yml"), "--storage.tsdb.path=" + dir.file("tsdb"),
                "--web.listen-address=127.0.0.1:" + std::to_string(prom_port), "--log.level=info"});
  ASSERT_TRUE(prom.wait_for_stderr("Server is ready to receive web requests", Ms(30000)))
      << prom.read_all_stderr(Ms(100));

  std::vector<std::unique_ptr<TestClient>> m;
  for (int i = 0; i < 3; ++i) {
    m.push_back(std::make_unique<TestClient>(chat.port));
    m.back()->send_all("[p" + std::to_string(i) + "]\n");
    ASSERT_EQ(wait_sample(chat_metrics, R"(concur_chat_members{room="lobby"})", [&](double v) { return v == i + 1; }), i + 1);
    for (int j = 0; j < i; ++j) ASSERT_EQ(m[j]->recv_line(), "[p" + std::to_string(i) + "]");
  }
  m[0]->send_all("hi\n");
  ASSERT_EQ(m[1]->recv_line(), "[p0]hi");

  EXPECT_EQ(query(prom_port, R"(up{job="chat"})", [](double v) { return v == 1; }), 1);
  EXPECT_EQ(query(prom_port, R"(up{job="collect"})", [](double v) { return v == 1; }), 1);
  EXPECT_EQ(query(prom_port, R"(concur_chat_members{job="chat",room="lobby"})", [](double v) { return v == 3; }), 3);
  EXPECT_EQ(query(prom_port, R"(concur_chat_messages_relayed_total{job="chat"})", [](double v) { return v == 1; }), 1);
  EXPECT_EQ(query(prom_port, R"(concur_connections_open{job="chat"})", [](double v) { return v == 3; }), 3);
  EXPECT_EQ(query(prom_port, R"(concur_collect_devices_online{job="collect"})", [](double v) { return v == 1; }), 1);
  EXPECT_TRUE(query(prom_port, R"(concur_collect_sink_readings_written_total{job="collect",sink="file"})",
                    [](double v) { return v >= 5; }));
  // The histogram reached Prometheus as one: a quantile can be computed from its buckets.
  EXPECT_TRUE(query(prom_port, R"(histogram_quantile(0.5, concur_collect_sink_write_seconds_bucket{job="collect",sink="file"}))",
                    [](double v) { return v > 0 && v <= 10; }));

  prom.signal(SIGTERM);  // by its PID
  EXPECT_TRUE(prom.wait(Ms(10000)));
  col.signal(SIGTERM);
  EXPECT_EQ(col.wait(), 0);
}

}  // namespace
}  // namespace concur::test
