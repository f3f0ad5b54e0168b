// `collect --out-max-size SIZE --out-keep N` (issue 21): data.txt past SIZE becomes data.txt.1 (the
// older parts one up) and a new data.txt is begun at once; at most N parts are kept, more while a
// following sink (--db) has not taken them — nothing is lost, and disk use is bounded again once
// the sink is back. Real devices, real SQLite; the parts are looked at with std::filesystem.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <regex>
#include <thread>

#include "support/device_fleet.hpp"
#include "support/installed.hpp"
#include "support/mosquitto_broker.hpp"
#include "support/ports.hpp"
#include "support/process.hpp"
#include "support/sqlite_db.hpp"
#include "support/temp_dir.hpp"
#include "support/text_file.hpp"

namespace concur::test {
namespace {

namespace fs = std::filesystem;

// The k of every `out.k` in out's directory, ascending.
std::vector<unsigned> parts_of(const std::string& out) {
  std::vector<unsigned> ks;
  fs::path p(out);
  std::string prefix = p.filename().string() + ".";
  for (const auto& e : fs::directory_iterator(p.parent_path())) {
    std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    std::string num = name.substr(prefix.size());
    if (!num.empty() && num.find_first_not_of("0123456789") == std::string::npos) ks.push_back(std::stoul(num));
  }
  std::sort(ks.begin(), ks.end());
  return ks;
}

// Every line of the parts, oldest first, then of data.txt.
std::string whole_log(const std::string& out) {
  std::string all;
  auto ks = parts_of(out);
  for (auto k = ks.rbegin(); k != ks.rend(); ++k) all += slurp(fmt::format("{}.{}", out, *k));
  return all + slurp(out);
}

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// "concur: N readings stored in OUT": how many lines data.txt took in that run.
uint64_t stored_in(const std::string& err, const std::string& out) {
  std::smatch m;
  std::regex re("concur: ([0-9]+) readings stored in " + out + ",");
  EXPECT_TRUE(std::regex_search(err, m, re)) << err;
  return m.empty() ? 0 : std::stoull(m[1]);
}

size_t db_readings(const std::string& db) {
  size_t n = 0;
  for (const auto& [device, readings] : db_readings_per_device(db)) n += readings;
  return n;
}

// Rows in the database now; 0 while it or its table is not there yet.
size_t rows_now(const std::string& db) {
  if (!fs::exists(db)) return 0;
  auto r = sqlite_rows(db, "SELECT count(*) FROM readings");
  return r.size() == 1 && !r[0].empty() && r[0].find_first_not_of("0123456789") == std::string::npos ? std::stoul(r[0]) : 0;
}

constexpr uint64_t kMax = 16 * 1024;

TEST(CollectRotation, PastMaxSizeDataTxtBecomesPartOneAndEveryLineIsInExactlyOnePart) {
  TempDir dir;
  std::string out = dir.file("data.txt"), list = dir.file("devices.txt");
  auto fleet = start_device_fleet(20, "10ms", list);  // 2,000 readings/s, ~55 bytes each
  ASSERT_TRUE(fleet);
  Process c(concur_args({"collect", "--device-list", list, "--out", out, "--quiet", "--out-max-size", "16K",
                         "--out-keep", "100", "--count", "3000"}));
  ASSERT_EQ(c.wait(15000ms), 0) << c.read_all_stderr(100ms);
  std::string err = c.read_all_stderr(100ms);
  auto ks = parts_of(out);
  ASSERT_GE(ks.size(), 5u) << err;
  for (size_t i = 0; i < ks.size(); ++i) EXPECT_EQ(ks[i], i + 1) << "a gap in the parts' numbers";
  EXPECT_EQ(count_of(err, "concur: rotated " + out + " ("), ks.size()) << err;
  for (unsigned k : ks) {
    auto size = fs::file_size(fmt::format("{}.{}", out, k));
    EXPECT_GE(size, kMax) << "part " << k << " was rotated before it reached --out-max-size";
    EXPECT_LE(size, kMax + 64 * 1024) << "part " << k << " grew far past --out-max-size";
  }
  EXPECT_LT(fs::file_size(out), kMax + 64 * 1024);
  // Each part ends with a whole line, and the parts with data.txt hold every line once.
  std::string all = whole_log(out);
  auto lines = lines_per_device(all);
  size_t total = 0;
  for (const auto& [device, n] : lines) total += n;
  EXPECT_EQ(total, 3000u);
  EXPECT_EQ(lines.size(), 20u);

  // A run with a smaller --out-keep removes the parts past it: disk use is bounded.
  Process again(concur_args({"collect", "--device-list", list, "--out", out, "--quiet", "--out-max-size", "16K",
                             "--out-keep", "2", "--count", "1000"}));
  ASSERT_EQ(again.wait(15000ms), 0) << again.read_all_stderr(100ms);
  err = again.read_all_stderr(100ms);
  EXPECT_EQ(parts_of(out), (std::vector<unsigned>{1, 2})) << err;
  EXPECT_NE(err.find("concur: removed " + out + "."), std::string::npos) << err;
}

TEST(CollectRotation, ALockedDatabaseHoldsThePartsBackThenTakesEveryReadingAndThePartsGo) {
  TempDir dir;
  std::string out = dir.file("data.txt"), db = dir.file("readings.db"), list = dir.file("devices.txt");
  auto fleet = start_device_fleet(20, "10ms", list);
  ASSERT_TRUE(fleet);
  Process c(concur_args({"collect", "--device-list", list, "--out", out, "--db", db, "--quiet", "--out-max-size", "16K",
                         "--out-keep", "2"}));
  ASSERT_TRUE(wait_until([&] { return rows_now(db) > 0; }, 4000ms)) << c.read_all_stderr(100ms);
  int fds_before = count_fds(c.pid());
  {
    SqliteDb other(db);
    other.exec("BEGIN EXCLUSIVE");
    EXPECT_TRUE(c.wait_for_stderr("cannot write " + db + ": database is locked", 3000ms)) << c.read_all_stderr(100ms);
    // data.txt keeps rotating; the parts the database has not taken stay, past --out-keep.
    EXPECT_TRUE(c.wait_for_stderr("past --out-keep 2: " + db + " has not taken", 6000ms)) << c.read_all_stderr(100ms);
    // 15 parts are over two seconds of readings: more than the database's one-second commits hold back.
    EXPECT_TRUE(wait_until([&] { return parts_of(out).size() >= 15; }, 8000ms)) << parts_of(out).size();
    // The held parts are on disk, not open: at most the one the database reads stays open.
    EXPECT_LE(count_fds(c.pid()), fds_before + 2) << parts_of(out).size() << " parts held";
    other.exec("COMMIT");
  }
  EXPECT_TRUE(c.wait_for_stderr(db + ": caught up with " + out, 8000ms)) << c.read_all_stderr(100ms);
  EXPECT_TRUE(wait_until([&] { return parts_of(out).size() <= 2; }, 3000ms)) << parts_of(out).size();
  c.signal(SIGTERM);
  ASSERT_EQ(c.wait(5000ms), 0) << c.read_all_stderr(100ms);
  std::string err = c.read_all_stderr(100ms);
  EXPECT_NE(err.find("concur: removed " + out + ".3 (--out-keep 2)"), std::string::npos) << err;
  EXPECT_LE(parts_of(out).size(), 2u);
  // Every reading data.txt took in this run is in the database, once.
  EXPECT_EQ(db_readings(db), stored_in(err, out));
  EXPECT_EQ(sqlite_rows(db, "SELECT offset FROM concur_cursor"), std::vector<std::string>{std::to_string(fs::file_size(out))});
}

TEST(CollectRotation, ARestartResumesInThePartItsCursorNamesThenTakesTheNewerOnes) {
  TempDir dir;
  std::string out = dir.file("data.txt"), db = dir.file("readings.db"), list = dir.file("devices.txt");
  auto fleet = start_device_fleet(20, "10ms", list);
  ASSERT_TRUE(fleet);
  std::vector<std::string> args{"collect", "--device-list", list, "--out", out, "--db", db, "--quiet", "--out-max-size", "16K",
                                "--out-keep", "100"};
  {
    Process c(concur_args(args));
    ASSERT_TRUE(wait_until([&] { return rows_now(db) > 0; }, 4000ms)) << c.read_all_stderr(100ms);
    SqliteDb other(db);
    other.exec("BEGIN EXCLUSIVE");
    EXPECT_TRUE(c.wait_for_stderr("database is locked", 3000ms)) << c.read_all_stderr(100ms);
    size_t before = parts_of(out).size();
    EXPECT_TRUE(wait_until([&] { return parts_of(out).size() >= before + 3; }, 6000ms));
    c.signal(SIGKILL);  // its cursor is in a part that is now data.txt.3 or older
    ASSERT_EQ(c.wait(2000ms), 128 + SIGKILL);
    other.exec("COMMIT");
  }
  Process c(concur_args(args));
  EXPECT_TRUE(c.wait_for_stderr("catching up from byte ", 3000ms)) << c.read_all_stderr(100ms);
  EXPECT_TRUE(c.wait_for_stderr(" of " + out + ".", 100ms)) << "it did not resume in a rotated part: " << c.read_all_stderr(100ms);
  EXPECT_TRUE(c.wait_for_stderr(db + ": caught up with " + out, 8000ms)) << c.read_all_stderr(100ms);
  c.signal(SIGTERM);
  ASSERT_EQ(c.wait(5000ms), 0) << c.read_all_stderr(100ms);
  // Every line of every part and of data.txt is in the database, once.
  EXPECT_EQ(db_readings_per_device(db), lines_per_device(whole_log(out)));
}

// The broker is down while data.txt rotates many times past --out-keep 2: the parts the broker has
// not acknowledged stay on disk (a kill -9 meanwhile must find them), whatever the sink's memory
// queue took already. Then it is back: every reading reaches a QoS 1 subscriber (at least once) and
// the parts go.
TEST(CollectRotation, ABrokerDownHoldsThePartsItHasNotAcknowledgedThenEveryReadingArrives) {
  ASSERT_TRUE(::access(kMosquitto, X_OK) == 0) << not_installed("mosquitto");
  ASSERT_TRUE(::access("/usr/bin/mosquitto_sub", X_OK) == 0) << not_installed("mosquitto_sub (mosquitto-clients)");
  TempDir dir;
  std::string out = dir.file("data.txt"), list = dir.file("devices.txt");
  auto fleet = start_device_fleet(20, "10ms", list);
  ASSERT_TRUE(fleet);
  int port = free_port();
  Process c(concur_args({"collect", "--device-list", list, "--out", out, "--mqtt", loopback(port), "--quiet",
                         "--out-max-size", "16K", "--out-keep", "2"}));
  ASSERT_TRUE(c.wait_for_stderr("cannot connect (Connection refused)", 3000ms)) << c.read_all_stderr(100ms);
  // Two seconds of readings (about 4,000: all fit the sink's memory queue) in at least 8 parts.
  ASSERT_TRUE(wait_until([&] { return parts_of(out).size() >= 8; }, 8000ms)) << parts_of(out).size();
  EXPECT_TRUE(c.wait_for_stderr("past --out-keep 2: mqtt://" + loopback(port) + " has not taken", 3000ms))
      << c.read_all_stderr(100ms);

  MosquittoBroker broker(dir, port, "max_queued_messages 0\n");  // the subscriber gets a burst
  ASSERT_TRUE(broker.ready) << broker.proc->read_all_stderr(100ms);
  Process sub({"/usr/bin/stdbuf", "-oL", "/usr/bin/mosquitto_sub", "-h", "127.0.0.1", "-p", std::to_string(port), "-t",
               "concur/#", "-q", "1", "-d"});
  ASSERT_TRUE(sub.wait_for_line("received SUBACK", 5000ms));
  // The sink reconnects with back-off (up to 5 s) and publishes from where the broker left it.
  ASSERT_TRUE(c.wait_for_stderr("connected", 10000ms)) << c.read_all_stderr(100ms);
  EXPECT_TRUE(wait_until([&] { return parts_of(out).size() <= 2; }, 15000ms)) << parts_of(out).size();
  c.signal(SIGTERM);
  ASSERT_EQ(c.wait(8000ms), 0) << c.read_all_stderr(100ms);
  std::string err = c.read_all_stderr(500ms);
  uint64_t stored = stored_in(err, out);
  size_t got = 0;
  while (got < stored) {
    auto line = sub.read_line(3000ms);
    if (!line) break;
    if (line->rfind("{\"time\": ", 0) == 0) ++got;
  }
  EXPECT_GE(got, stored) << err << sub.read_all_stderr(100ms);
  EXPECT_NE(err.find("0 dropped"), std::string::npos) << err;
}

TEST(CollectRotation, ABadSizeOrKeepIsOneUsageLine) {
  for (std::vector<std::string> bad : {std::vector<std::string>{"--out-max-size", "10X"},
                                       {"--out-max-size", "1000"},
                                       {"--out-max-size", "-5M"},
                                       {"--out-keep", "0"}}) {
    std::vector<std::string> args{"collect", "--device", "127.0.0.1:1", "--count", "1"};
    args.insert(args.end(), bad.begin(), bad.end());
    Process c(concur_args(args));
    EXPECT_EQ(c.wait(3000ms), 2) << bad[0] << " " << bad[1];
    std::string err = c.read_all_stderr(100ms);
    EXPECT_EQ(count_of(err, "\n"), 1u) << err;
    EXPECT_NE(err.find(bad[0]), std::string::npos) << err;
  }
}

}  // namespace
}  // namespace concur::test
