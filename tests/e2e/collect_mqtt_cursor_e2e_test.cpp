// data.txt as the log (issue 21, the MQTT half): `collect --mqtt` is a consumer of data.txt with a
// cursor file (<out>.mqtt.cursor) that moves after the broker's PUBACK. Every reading of data.txt
// reaches a QoS 1 subscriber at least once — across a broker that is down for more readings than
// the old 100,000-reading memory queue held, and across a kill -9 of the collector — and a garbage
// cursor is not trusted. Also --mqtt-tls against a TLS listener of a real mosquitto.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <ctime>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <thread>

#include "support/installed.hpp"
#include "support/mosquitto_broker.hpp"
#include "support/ports.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/text_file.hpp"
#include "support/tls_peer.hpp"
#include "support/usage_error.hpp"

// Under ASan/TSan the collector's RSS is mostly shadow memory and quarantine: its bound is then
// not checked (only that every reading arrives).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CONCUR_RSS_UNCHECKED 1
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define CONCUR_RSS_UNCHECKED 1
#endif
#endif

namespace concur::test {
namespace {

#define REQUIRE_MOSQUITTO()                                                              \
  ASSERT_TRUE(::access(kMosquitto, X_OK) == 0) << not_installed("mosquitto");            \
  ASSERT_TRUE(::access("/usr/bin/mosquitto_sub", X_OK) == 0) << not_installed("mosquitto_sub (mosquitto-clients)")

// mosquitto_sub, QoS 1, "topic payload" lines. `extra`: -c -i ID (a session kept while it is
// away), --cafile for TLS. Ready once its SUBACK came (-d) — or, for a session that resumes, once
// it is connected (its subscription is the broker's already).
struct Sub {
  Sub(int port, std::vector<std::string> extra, const std::string& ready_on = "received SUBACK") {
    std::vector<std::string> argv{"/usr/bin/stdbuf", "-oL", "/usr/bin/mosquitto_sub", "-h", "127.0.0.1", "-p",
                                  std::to_string(port), "-t", "concur/#", "-q", "1", "-v", "-d"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    proc = std::make_unique<Process>(argv);
    ready = proc->wait_for_line(ready_on, 5000ms).has_value();
  }
  // Messages so far, waiting until there are `n` or `timeout` passes without a new one.
  const std::vector<std::string>& messages(size_t n, Ms quiet_for) {
    while (got.size() < n) {
      auto line = proc->read_line(quiet_for);
      if (!line) break;
      if (line->rfind("Client ", 0) != 0 && line->find(R"( {"time": )") != std::string::npos) got.push_back(*line);
    }
    return got;
  }
  std::unique_ptr<Process> proc;
  std::vector<std::string> got;
  bool ready = false;
};

// Unix seconds of a data.txt stamp in local time, as the collector computes it.
double stamp_unix(const std::string& asctime) {
  std::tm tm{};
  if (!::strptime(asctime.c_str(), "%a %b %e %H:%M:%S %Y", &tm)) return -1;
  tm.tm_isdst = -1;
  return static_cast<double>(std::mktime(&tm));
}

// The message a data.txt line becomes: "concur/<device> {"time": ..., "device": ..., fields}".
std::string message_of(const std::string& line) {
  static const std::regex re(R"(^(.{24}): ([^:]+): (.*)$)");
  static const std::regex field(R"((\w+)=(-?\d+))");
  std::smatch m;
  if (!std::regex_match(line, m, re)) return "bad line: " + line;
  std::string out = fmt::format(R"(concur/{} {{"time": {:.3f}, "device": "{}")", m[2].str(), stamp_unix(m[1]), m[2].str());
  std::string fields = m[3];
  for (std::sregex_iterator it(fields.begin(), fields.end(), field), end; it != end; ++it)
    out += fmt::format(R"(, "{}": {})", (*it)[1].str(), (*it)[2].str());
  return out + "}";
}

struct Line {
  std::string message;
  uint64_t offset;  // where the line starts in data.txt
};

std::vector<Line> data_lines(const std::string& text) {
  std::vector<Line> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) break;
    out.push_back({message_of(text.substr(start, nl - start)), start});
    start = nl + 1;
  }
  return out;
}

// The cursor file's offset (nullopt: no file, or no offset line).
std::optional<uint64_t> cursor_offset(const std::string& path) {
  for (const auto& l : split_lines(slurp(path)))
    if (l.rfind("offset ", 0) == 0) return std::stoull(l.substr(7));
  return std::nullopt;
}

// A device fleet of n on consecutive free ports, listed in `list`.
std::unique_ptr<Process> fleet_of(int n, const std::string& interval, const std::string& list) {
  for (int attempt = 0; attempt < 4; ++attempt) {
    int base = free_port_range(n);
    auto fleet = std::make_unique<Process>(std::vector<std::string>{
        concur_binary(), "device", "--fleet", std::to_string(n), "--port", std::to_string(base), "--interval", interval, "--quiet"});
    bool up = true;
    for (int i = 0; i < n && up; ++i) up = fleet->read_line(3000ms).has_value();
    if (!up) continue;  // lost a race for a port: another range
    std::ofstream f(list);
    for (int i = 0; i < n; ++i) f << loopback(base + i) << "\n";
    return fleet;
  }
  return nullptr;
}

// VmHWM (peak resident set) of a running process, in KiB; 0 when unknown.
long peak_rss_kib(pid_t pid) {
  for (const auto& l : split_lines(slurp(fmt::format("/proc/{}/status", pid))))
    if (l.rfind("VmHWM:", 0) == 0) return std::stol(l.substr(6));
  return 0;
}

// How many times each message was received; and every data.txt line's message must be there
// at least as often as the file holds it.
std::map<std::string, size_t> counts(const std::vector<std::string>& v) {
  std::map<std::string, size_t> n;
  for (const auto& s : v) ++n[s];
  return n;
}

// The broker is down while a data.txt 100,000 readings behind (the old queue's whole size) is
// published with --backfill and a fleet adds live readings meanwhile; then it is back. The
// subscriber's session (kept by the broker across its restart, persistence on) gets every
// reading; the collector's memory stays bounded (the readings wait in data.txt, not in memory).
// 100,000 pre-written lines keep this fast; the live ones take the same path once the sink's
// queue (20,000 readings) is full.
TEST(CollectMqttCursor, BrokerDownForMoreThanTheOldQueueThenBackEveryReadingArrivesMemoryBounded) {
  REQUIRE_MOSQUITTO();
  TempDir dir;
  std::string out = dir.file("data.txt"), list = dir.file("devices.txt"), cursor = out + ".mqtt.cursor";
  const int kBacklog = 100000;
  {
    std::ofstream f(out);
    for (int k = 0; k < kBacklog; ++k)
      f << "Tue Dec  8 00:00:" << fmt::format("{:02}", k % 60) << " 2026: Pre" << k % 100 << ": Temp=" << k << ", Humid=50, lilum=100\n";
  }
  int port = free_port();
  std::string keep = "persistence true\npersistence_location " + dir.path() + "/\nmax_queued_messages 1000000\n";
  std::vector<std::string> session{"-c", "-i", "concur-test-sub"};
  {  // The subscriber's session and subscription, then both go away (the broker saves them).
    MosquittoBroker first(dir, port, keep);
    ASSERT_TRUE(first.ready) << first.proc->read_all_stderr(100ms);
    Sub sub(port, session);
    ASSERT_TRUE(sub.ready) << sub.proc->read_all_stderr(100ms);
    sub.proc->signal(SIGKILL);
    ASSERT_TRUE(sub.proc->wait(2000ms));
    first.proc->signal(SIGTERM);
    ASSERT_TRUE(first.proc->wait(3000ms));
  }
  auto fleet = fleet_of(50, "20ms", list);  // 2,500 readings/s
  ASSERT_TRUE(fleet);
  Process c(concur_args({"collect", "--device-list", list, "--out", out, "--mqtt", loopback(port), "--backfill", "--quiet"}));
  ASSERT_TRUE(c.wait_for_stderr(fmt::format("mqtt://{}: cannot connect (Connection refused)", loopback(port)), 3000ms))
      << c.read_all_stderr(100ms);
  ASSERT_TRUE(wait_for_file_lines(out, kBacklog + 5000, 5000ms)) << "data.txt stalled with the broker down";

  MosquittoBroker again(dir, port, keep);
  ASSERT_TRUE(again.ready) << again.proc->read_all_stderr(100ms);
  ASSERT_TRUE(c.wait_for_stderr(fmt::format("mqtt://{}: connected", loopback(port)), 8000ms)) << c.read_all_stderr(100ms);
  Sub sub(port, session, "received CONNACK");
  ASSERT_TRUE(sub.ready) << sub.proc->read_all_stderr(100ms);
  ASSERT_TRUE(c.wait_for_stderr(": caught up with " + out, 30000ms)) << c.read_all_stderr(100ms);
  long peak = peak_rss_kib(c.pid());
  c.signal(SIGTERM);
  ASSERT_EQ(c.wait(8000ms), 0) << c.read_all_stderr(100ms);
  std::string err = c.read_all_stderr(500ms);

  std::string text = slurp(out);
  auto lines = data_lines(text);
  ASSERT_GT(lines.size(), static_cast<size_t>(kBacklog) + 5000);
  EXPECT_EQ(cursor_offset(cursor), text.size()) << slurp(cursor);
  auto got = counts(sub.messages(lines.size(), 5000ms));
  size_t missing = 0;
  std::string first_missing;
  std::map<std::string, size_t> want;
  for (const auto& l : lines) ++want[l.message];
  for (const auto& [m, n] : want)
    if (got[m] < n) {
      missing += n - got[m];
      if (first_missing.empty()) first_missing = m;
    }
  EXPECT_EQ(missing, 0u) << "of " << lines.size() << " readings; the first: " << first_missing << "\n" << err;
  EXPECT_NE(err.find(fmt::format("readings published to mqtt://{} and acknowledged, 0 dropped", loopback(port))), std::string::npos)
      << err;
  // The old design held the whole outage in memory (100,000 readings, then dropped); here the
  // collector's peak stays far below what that queue alone would take.
  EXPECT_GT(peak, 0);
#ifndef CONCUR_RSS_UNCHECKED
  EXPECT_LT(peak, 64 * 1024) << "peak RSS " << peak << " KiB";
#endif
  RecordProperty("peak_rss_kib", static_cast<int>(peak));
}

// kill -9 while publishing, then a restart: the subscriber (connected throughout) has every line
// of data.txt at least once, and a line it got twice lies after the cursor the restart found.
TEST(CollectMqttCursor, KillNineWhilePublishingThenRestartEveryLineAtLeastOnceRepeatsOnlyAroundTheKill) {
  REQUIRE_MOSQUITTO();
  TempDir dir;
  std::string out = dir.file("data.txt"), list = dir.file("devices.txt"), cursor = out + ".mqtt.cursor";
  MosquittoBroker broker(dir, free_port(), "max_queued_messages 1000000\n");
  ASSERT_TRUE(broker.ready) << broker.proc->read_all_stderr(100ms);
  Sub sub(broker.port, {});
  ASSERT_TRUE(sub.ready);
  auto fleet = fleet_of(50, "20ms", list);  // 2,500 readings/s
  ASSERT_TRUE(fleet);
  std::random_device rd;
  unsigned seed = rd();
  SCOPED_TRACE(fmt::format("seed {}", seed));
  std::mt19937 rng(seed);
  uint64_t cursor_at_kill = 0, size_at_kill = 0;
  {
    Process c(concur_args({"collect", "--device-list", list, "--out", out, "--mqtt", loopback(broker.port), "--quiet"}));
    ASSERT_TRUE(wait_until([&] { return cursor_offset(cursor).has_value(); }, 5000ms)) << c.read_all_stderr(100ms);
    std::this_thread::sleep_for(Ms(std::uniform_int_distribution<int>(200, 1500)(rng)));  // a random moment
    c.signal(SIGKILL);
    ASSERT_EQ(c.wait(2000ms), 128 + SIGKILL);
    cursor_at_kill = cursor_offset(cursor).value_or(0);
    size_at_kill = slurp(out).size();
  }
  ASSERT_GT(cursor_at_kill, 0u);
  ASSERT_LE(cursor_at_kill, size_at_kill);
  Process c(concur_args({"collect", "--device-list", list, "--out", out, "--mqtt", loopback(broker.port), "--quiet", "--count", "2500"}));
  ASSERT_EQ(c.wait(10000ms), 0) << c.read_all_stderr(100ms);
  std::string err = c.read_all_stderr(500ms);
  if (cursor_at_kill < size_at_kill) {
    EXPECT_NE(err.find(fmt::format("catching up from byte {} of {}", cursor_at_kill, out)), std::string::npos) << err;
  }

  std::string text = slurp(out);
  EXPECT_EQ(cursor_offset(cursor), text.size());
  auto lines = data_lines(text);
  auto got = counts(sub.messages(lines.size() + 100000, 3000ms));
  // A device may give the same values twice in one second (the same message): counted as such.
  std::map<std::string, size_t> want;
  std::map<std::string, bool> near_kill;  // one of its lines lies between the cursor and the kill
  for (const auto& l : lines) {
    ++want[l.message];
    if (l.offset >= cursor_at_kill && l.offset < size_at_kill) near_kill[l.message] = true;
  }
  size_t missing = 0, repeats = 0, stray = 0;
  for (const auto& [m, n] : want) {
    size_t g = got.count(m) ? got[m] : 0;
    if (g < n) missing += n - g;
    if (g > n) {
      repeats += g - n;
      // A repeat is of a line the first run had published without the cursor moving past it.
      if (!near_kill[m]) stray += g - n;
    }
  }
  for (const auto& [m, g] : got)
    if (!want.count(m)) ADD_FAILURE() << "a message that is not in data.txt: " << m;
  EXPECT_EQ(missing, 0u) << "of " << lines.size();
  EXPECT_EQ(stray, 0u) << "repeats away from the kill (cursor at " << cursor_at_kill << ", data.txt " << size_at_kill << " bytes)";
  RecordProperty("repeats", static_cast<int>(repeats));
}

// A cursor file that is not one (garbage), or from another data.txt: said, not trusted — the
// sink starts at data.txt's end as if new — and replaced by a good one; one past the end is clamped.
TEST(CollectMqttCursor, GarbageOrForeignCursorFileIsLoggedAndNotTrusted) {
  REQUIRE_MOSQUITTO();
  TempDir dir;
  std::string out = dir.file("data.txt"), cursor = dir.file("my.cursor");
  MosquittoBroker broker(dir, free_port());
  ASSERT_TRUE(broker.ready) << broker.proc->read_all_stderr(100ms);
  Server d1({"device", "--port", "0", "--interval", "0.01", "--quiet"});
  auto collect = [&](int count) {
    Process p(concur_args({"collect", "--device", loopback(d1.port), "--out", out, "--mqtt", loopback(broker.port), "--mqtt-cursor",
                           cursor, "--count", std::to_string(count), "--quiet"}));
    EXPECT_EQ(p.wait(6000ms), 0) << p.read_all_stderr(100ms);
    return p.read_all_stderr(500ms);
  };
  collect(20);
  ASSERT_EQ(cursor_offset(cursor), slurp(out).size()) << slurp(cursor);

  // Garbage (a torn write of something else, a wrong file named): not trusted, logged.
  { std::ofstream(cursor, std::ios::trunc) << "offset 12\x01zz\n"; }
  Sub sub(broker.port, {});
  ASSERT_TRUE(sub.ready);
  size_t before = slurp(out).size();
  std::string err = collect(5);
  std::string name = fmt::format("mqtt://{}", loopback(broker.port));
  EXPECT_NE(err.find(name + ": its cursor file " + cursor + " is not a cursor (its offset is not a number): not trusted"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find(name + ": new to " + out + "; starting at its end (" + std::to_string(before) + " bytes not taken"),
            std::string::npos)
      << err;
  EXPECT_EQ(sub.messages(6, 1500ms).size(), 5u) << "the old readings were published: the garbage was trusted";
  EXPECT_EQ(cursor_offset(cursor), slurp(out).size());

  // A cursor of another data.txt (its first line differs): not trusted either.
  std::string other = dir.write("other.txt", "Fri Mar 18 22:55:13 2021: Other: Temp=1\n");
  {
    Process p(concur_args({"collect", "--device", loopback(d1.port), "--out", other, "--mqtt", loopback(broker.port),
                           "--mqtt-cursor", dir.file("other.cursor"), "--count", "1", "--backfill", "--quiet"}));
    ASSERT_EQ(p.wait(6000ms), 0) << p.read_all_stderr(100ms);
  }
  ASSERT_TRUE(cursor_offset(dir.file("other.cursor")).has_value());
  ASSERT_EQ(std::rename(dir.file("other.cursor").c_str(), cursor.c_str()), 0);
  err = collect(3);
  EXPECT_NE(err.find("is from another file than " + out), std::string::npos) << err;
  EXPECT_EQ(sub.messages(100, 1500ms).size(), 5u + 2 + 3) << "other.txt's two, then only the new three";
  EXPECT_EQ(cursor_offset(cursor), slurp(out).size());

  // Past the end (data.txt restored from an older backup): clamped to the end, said.
  std::string text = slurp(cursor);
  uint64_t past = slurp(out).size() + 1000;
  text.replace(text.find("offset "), std::string::npos, "offset " + std::to_string(past) + "\n");
  dir.write("my.cursor", text);
  err = collect(2);
  EXPECT_NE(err.find(fmt::format("{}: its cursor (byte {}) is past the end of {}", name, past, out)), std::string::npos) << err;
  EXPECT_EQ(sub.messages(100, 1500ms).size(), 5u + 2 + 3 + 2);
  EXPECT_EQ(cursor_offset(cursor), slurp(out).size());
}

// --mqtt-tls: readings reach a subscriber through mosquitto's TLS listener; a client certificate
// for a broker that asks for one; a CA that did not sign the broker's certificate is one clear
// line, retried with back-off.
TEST(CollectMqttCursor, TlsPublishesThroughATlsListenerAndAWrongCaIsOneClearLine) {
  REQUIRE_MOSQUITTO();
  TempDir dir;
  TestCert server = make_test_cert(dir, "server", "localhost");
  TestCert client = make_test_cert(dir, "client", "concur-collector");
  TestCert stranger = make_test_cert(dir, "stranger", "localhost");
  // The broker trusts both its own certificate and the client's (each is its own CA).
  std::string cas = dir.write("cas.pem", slurp(server.cert) + slurp(client.cert));
  MosquittoBroker broker(dir, free_port(),
                         "cafile " + cas + "\ncertfile " + server.cert + "\nkeyfile " + server.key + "\nrequire_certificate true\n");
  ASSERT_TRUE(broker.ready) << broker.proc->read_all_stderr(100ms);
  Sub sub(broker.port, {"--cafile", server.cert, "--cert", client.cert, "--key", client.key});
  ASSERT_TRUE(sub.ready) << sub.proc->read_all_stderr(100ms);
  Server d1({"device", "--port", "0", "--interval", "0.01", "--quiet"});
  std::string out = dir.file("data.txt");
  std::vector<std::string> base{"collect", "--device", loopback(d1.port), "--out", out, "--quiet", "--mqtt", loopback(broker.port), "--mqtt-tls"};
  auto with = [&](std::vector<std::string> extra) {
    auto a = base;
    a.insert(a.end(), extra.begin(), extra.end());
    return concur_args(a);
  };
  {
    Process c(with({"--mqtt-ca", server.cert, "--mqtt-cert", client.cert, "--mqtt-key", client.key, "--count", "10"}));
    ASSERT_EQ(c.wait(6000ms), 0) << c.read_all_stderr(100ms);
    std::string err = c.read_all_stderr(500ms);
    EXPECT_NE(err.find(fmt::format("mqtts://{}: connected over TLS; publishing with QoS 1", loopback(broker.port))), std::string::npos)
        << err;
    EXPECT_NE(err.find("10 readings published to mqtts://"), std::string::npos) << err;
  }
  auto got = sub.messages(11, 1500ms);
  ASSERT_EQ(got.size(), 10u);
  auto lines = data_lines(slurp(out));
  ASSERT_EQ(lines.size(), 10u);
  for (size_t k = 0; k < 10; ++k) EXPECT_EQ(got[k], lines[k].message);

  // A CA that did not sign the broker's certificate: one clear line, and the broker retried.
  Process c(with({"--mqtt-ca", stranger.cert, "--mqtt-cert", client.cert, "--mqtt-key", client.key}));
  EXPECT_TRUE(c.wait_for_stderr("certificate verify failed (is --mqtt-ca the CA that signed the broker's certificate", 5000ms))
      << c.read_all_stderr(100ms);
  EXPECT_TRUE(c.wait_for_stderr("retried in", 1000ms)) << c.read_all_stderr(100ms);
  EXPECT_TRUE(wait_for_file_lines(out, 40, 3000ms)) << "data.txt stalled while the broker's TLS failed";
  c.signal(SIGTERM);
  EXPECT_TRUE(c.wait(5000ms).has_value());
  std::string err = c.read_all_stderr(500ms);
  size_t first = err.find("certificate verify failed");
  EXPECT_EQ(err.find("certificate verify failed", first + 1), std::string::npos) << "said once per outage:\n" << err;
}

// The protocol floor is TLS 1.2: a server that speaks only TLS 1.1 (openssl s_server, security
// level 0 so that it may) is refused by the collector's ClientHello, and said so.
TEST(CollectMqttCursor, TlsBelowOnePointTwoIsRefused) {
  TempDir dir;
  TestCert server = make_test_cert(dir, "server", "localhost");
  int port = free_port();
  Process old({"/usr/bin/openssl", "s_server", "-accept", std::to_string(port), "-cert", server.cert, "-key", server.key,
               "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"});
  ASSERT_TRUE(old.wait_for_line("ACCEPT", 5000ms)) << old.read_all_stderr(100ms);
  Server d1({"device", "--port", "0", "--interval", "0.05", "--quiet"});
  Process c(concur_args({"collect", "--device", loopback(d1.port), "--out", dir.file("data.txt"), "--quiet", "--mqtt",
                         loopback(port), "--mqtt-tls", "--mqtt-ca", server.cert}));
  EXPECT_TRUE(c.wait_for_stderr("cannot connect (TLS: tlsv1 alert protocol version)", 5000ms)) << c.read_all_stderr(100ms);
  c.signal(SIGTERM);
  EXPECT_TRUE(c.wait(5000ms).has_value());
}

TEST(CollectMqttCursor, TlsAndCursorOptionsAreOneLineUsageErrors) {
  TempDir dir;
  std::string pem = dir.write("x.pem", "not a certificate\n");
  struct Case {
    std::vector<std::string> args;
    std::string names;
  };
  for (const auto& k : std::vector<Case>{{{"--mqtt", "127.0.0.1:1883", "--mqtt-ca", pem}, "--mqtt-ca: needs --mqtt-tls"},
                                         {{"--mqtt", "127.0.0.1:1883", "--mqtt-tls", "--mqtt-cert", pem}, "--mqtt-cert: needs --mqtt-key"},
                                         {{"--mqtt", "127.0.0.1:1883", "--mqtt-tls", "--mqtt-ca", dir.file("none.pem")}, "--mqtt-ca: cannot read"},
                                         {{"--mqtt-tls"}, "--mqtt-tls: needs --mqtt"},
                                         {{"--mqtt-cursor", pem}, "--mqtt-cursor: needs --mqtt"}}) {
    auto argv = concur_args({"collect"});
    argv.insert(argv.end(), k.args.begin(), k.args.end());
    argv.insert(argv.end(), {"--device", "127.0.0.1:1", "--out", dir.file("data.txt")});
    Process p(argv);
    EXPECT_TRUE(is_usage_error(p, k.names)) << k.names;
  }
}

}  // namespace
}  // namespace concur::test
