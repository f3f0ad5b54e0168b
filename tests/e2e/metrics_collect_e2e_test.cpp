// --metrics on collect and device (issue 22): readings counted per sink equal the lines in
// data.txt and the rows in SQLite, and /readyz follows the MQTT broker (a real mosquitto).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <string>

#include "support/http_scrape.hpp"
#include "support/installed.hpp"
#include "support/mosquitto_broker.hpp"
#include "support/ports.hpp"
#include "support/process.hpp"
#include "support/sqlite_db.hpp"
#include "support/temp_dir.hpp"
#include "support/text_file.hpp"

namespace concur::test {
namespace {

TEST(MetricsCollectE2E, ReadingsCountedPerSinkEqualTheLinesStored) {
  TempDir dir;
  const std::string out = dir.file("data.txt"), db = dir.file("r.db");
  Server dev({"device", "--port", "0", "--interval", "0.02", "--quiet", "--metrics", ":0"});
  int dev_metrics = wait_metrics_port(dev.proc);
  ASSERT_GT(dev_metrics, 0);
  Process col(concur_args({"collect", "--device", loopback(dev.port), "--out", out, "--db", db, "--quiet",
                           "--metrics", "127.0.0.1:0"}));
  int mport = wait_metrics_port(col);
  ASSERT_GT(mport, 0);
  ASSERT_TRUE(wait_sample(mport, "concur_collect_devices_online", [](double v) { return v == 1; }));
  ASSERT_TRUE(wait_sample(mport, "concur_collect_readings_total", [](double v) { return v >= 20; }));
  EXPECT_EQ(wait_sample(dev_metrics, "concur_device_registrants", [](double v) { return v == 1; }), 1);
  dev.proc.signal(SIGKILL);  // no more readings: the counts settle
  ASSERT_TRUE(dev.proc.wait());
  // The collector sees the connection end and no reading is in flight any more.
  EXPECT_EQ(wait_sample(mport, "concur_collect_devices_online", [](double v) { return v == 0; }), 0);
  auto total = wait_sample(mport, "concur_collect_readings_total", [](double) { return true; });
  ASSERT_TRUE(total);
  // data.txt is written in the pass that counted; SQLite about a second later.
  auto file = wait_sample(mport, R"(concur_collect_sink_readings_written_total{sink="file"})",
                          [&](double v) { return v == *total; });
  auto sqlite = wait_sample(mport, R"(concur_collect_sink_readings_written_total{sink="sqlite"})",
                            [&](double v) { return v == *total; });
  EXPECT_EQ(file, total);
  EXPECT_EQ(sqlite, total);
  EXPECT_EQ(static_cast<double>(line_count(out)), *total);
  auto commits = wait_sample(mport, R"(concur_collect_sink_write_seconds_count{sink="sqlite"})", [](double v) { return v >= 1; });
  EXPECT_GE(commits.value_or(0), 1);
  HttpReply ready = http_fetch(mport, "/readyz");
  EXPECT_EQ(ready.status, 200) << ready.body;
  col.signal(SIGTERM);
  EXPECT_EQ(col.wait(), 0);
  // An env reading is three rows (Temp, Humid, lilum).
  EXPECT_EQ(sqlite_rows(db, "SELECT COUNT(*) FROM readings"), std::vector<std::string>{std::to_string(3 * static_cast<long>(*total))});
}

TEST(MetricsCollectE2E, ReadyzIs503WhileTheMqttBrokerIsUnreachableAnd200OnceItIsUp) {
  ASSERT_EQ(::access(kMosquitto, X_OK), 0) << not_installed("mosquitto");
  TempDir dir;
  Server dev({"device", "--port", "0", "--interval", "0.1", "--quiet"});
  int broker_port = free_port();
  Process col(concur_args({"collect", "--device", loopback(dev.port), "--out", dir.file("data.txt"), "--quiet",
                           "--mqtt", loopback(broker_port), "--metrics", ":0"}));
  int mport = wait_metrics_port(col);
  ASSERT_GT(mport, 0);
  HttpReply r = http_fetch(mport, "/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("mqtt mqtt://127.0.0.1:" + std::to_string(broker_port)), std::string::npos) << r.body;
  EXPECT_EQ(http_fetch(mport, "/healthz").status, 200);  // alive, only not ready
  // Still 503 a while later (the collector retries, with backoff).
  ASSERT_TRUE(col.wait_for_stderr("and the broker is retried in", Ms(10000)));
  EXPECT_EQ(http_fetch(mport, "/readyz").status, 503);

  MosquittoBroker broker(dir, broker_port);
  ASSERT_TRUE(broker.ready);
  ASSERT_TRUE(col.wait_for_stderr("connected", Ms(10000)));  // the backoff is at most 5 s
  r = http_fetch(mport, "/readyz");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(wait_sample(mport, "concur_mqtt_published_total", [](double v) { return v >= 1; }));
  col.signal(SIGTERM);
  EXPECT_EQ(col.wait(Ms(8000)), 0);
}

}  // namespace
}  // namespace concur::test
