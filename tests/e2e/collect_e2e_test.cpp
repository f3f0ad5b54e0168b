// `concur collect` end to end: real devices and fake ones (a listener the test controls).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

#include "core/endpoint.hpp"
#include "core/socket.hpp"
#include "support/ports.hpp"
#include "support/process.hpp"
#include "support/sqlite_db.hpp"
#include "support/temp_dir.hpp"
#include "support/text_file.hpp"
#include "support/usage_error.hpp"

namespace concur::test {
namespace {

const char* kStamp = R"((Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 123]\d \d\d:\d\d:\d\d \d{4})";
const std::regex kDataLine(std::string("^") + kStamp +
                           R"(: (Device1(-\d+)?: Temp=(\d+), Humid=(\d+), lilum=(\d+)|Device2(-\d+)?: Heartbeat=(\d+), Steps=(\d+), Cal=(\d+))$)");

// Every line of the file is a whole, well-formed record with values in range; returns the count per device.
std::map<std::string, int> check_data_file(const std::string& text) {
  std::map<std::string, int> per_device;
  EXPECT_TRUE(text.empty() || text.back() == '\n') << "torn last line";
  for (const auto& line : split_lines(text)) {
    std::smatch m;
    EXPECT_TRUE(std::regex_match(line, m, kDataLine)) << "bad line: " << line;
    if (m.empty()) continue;
    if (m[5].matched) {
      EXPECT_LE(std::stoi(m[5]), 40);
      EXPECT_LE(std::stoi(m[6]), 100);
      EXPECT_TRUE(std::stoi(m[7]) >= 70 && std::stoi(m[7]) <= 150) << line;
      ++per_device["Device1" + m[4].str()];
    } else {
      EXPECT_TRUE(std::stoi(m[9]) >= 40 && std::stoi(m[9]) <= 140) << line;
      EXPECT_TRUE(std::stoi(m[10]) >= 2000 && std::stoi(m[10]) <= 6000) << line;
      EXPECT_TRUE(std::stoi(m[11]) >= 1000 && std::stoi(m[11]) <= 4000) << line;
      ++per_device["Device2" + m[8].str()];
    }
  }
  return per_device;
}

// A device played by the test: a loopback listener; each accepted connection is blocking.
struct FakeDevice {
  FakeDevice() : listener(tcp_listen(Endpoint::parse("127.0.0.1", 0))), port(local_endpoint(listener.get()).port()) {}
  FileDesc accept(Ms timeout = 3000ms) {
    pollfd p{listener.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return {};
    FileDesc fd(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    return fd;
  }
  FileDesc listener;
  int port;
};

std::string recv_for(int fd, size_t n, Ms timeout = 3000ms) {
  std::string got;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (got.size() < n) {
    auto left = std::chrono::duration_cast<Ms>(deadline - std::chrono::steady_clock::now()).count();
    pollfd p{fd, POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) break;
    char buf[256];
    ssize_t r = ::recv(fd, buf, std::min(sizeof buf, n - got.size()), 0);
    if (r <= 0) break;
    got.append(buf, static_cast<size_t>(r));
  }
  return got;
}

void send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    ASSERT_GT(n, 0);
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

TEST(CollectBasic, TwoRealDevicesFivePerDeviceExactFormat) {
  TempDir dir;
  Server d1({"device", "--port", "0", "--interval", "0.05", "--quiet"});
  Server d2({"device", "--kind", "health", "--port", "0", "--interval", "0.05", "--quiet"});
  Process c(concur_args({"collect", "--device", loopback(d1.port), "--device", loopback(d2.port), "--per-device", "5", "--out",
                          dir.file("data.txt")}));
  ASSERT_EQ(c.wait(5000ms), 0) << c.read_all_stderr(100ms);
  std::string text = slurp(dir.file("data.txt"));
  auto counts = check_data_file(text);
  EXPECT_GE(counts["Device1"], 5) << text;
  EXPECT_GE(counts["Device2"], 5) << text;
  // The same lines are shown on stdout.
  EXPECT_EQ(c.read_all_stdout(1000ms), text);
}

TEST(CollectBasic, DefaultOutIsDataTxtInTheWorkingDirectory) {
  TempDir dir;
  Server d1({"device", "--port", "0", "--interval", "0.02", "--quiet"});
  Process c(concur_args({"collect", "--device", loopback(d1.port), "--count", "3", "--quiet"}), dir.path());
  ASSERT_EQ(c.wait(5000ms), 0) << c.read_all_stderr(100ms);
  auto counts = check_data_file(slurp(dir.file("data.txt")));
  EXPECT_EQ(counts["Device1"], 3);
  EXPECT_EQ(c.read_all_stdout(200ms), "");  // --quiet
}

TEST(CollectBasic, ReadingSentOneByteAtATimeIsRecordedWhole) {
  TempDir dir;
  FakeDevice fake;
  Process c(concur_args({"collect", "--device", loopback(fake.port), "--count", "2", "--out", dir.file("data.txt"), "--quiet"}));
  FileDesc conn = fake.accept();
  ASSERT_TRUE(conn);
  EXPECT_EQ(recv_for(conn.get(), 8), "Register");
  std::string readings = "Device1: Temp=21, Humid=50, lilum=100\nDevice1: Temp=0, Humid=0, lilum=70\r\n";
  for (char ch : readings) {
    send_all(conn.get(), std::string_view(&ch, 1));
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_EQ(c.wait(5000ms), 0) << c.read_all_stderr(100ms);
  auto lines = split_lines(slurp(dir.file("data.txt")));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_TRUE(std::regex_match(lines[0], std::regex(std::string("^") + kStamp + ": Device1: Temp=21, Humid=50, lilum=100$")))
      << lines[0];
  EXPECT_TRUE(std::regex_match(lines[1], std::regex(std::string("^") + kStamp + ": Device1: Temp=0, Humid=0, lilum=70$")))
      << lines[1];
}

TEST(CollectBasic, ThreeReadingsInOneWriteAreThreeLines) {
  TempDir dir;
  FakeDevice fake;
  Process c(concur_args({"collect", "--device", loopback(fake.port), "--count", "3", "--out", dir.file("data.txt"), "--quiet"}));
  FileDesc conn = fake.accept();
  ASSERT_TRUE(conn);
  EXPECT_EQ(recv_for(conn.get(), 8), "Register");
  send_all(conn.get(), "Device2: Heartbeat=80, Steps=2500, Cal=2100\nDevice2: Heartbeat=81, Steps=2501, Cal=2101\n"
                       "Device2: Heartbeat=82, Steps=2502, Cal=2102\n");
  ASSERT_EQ(c.wait(5000ms), 0) << c.read_all_stderr(100ms);
  auto lines = split_lines(slurp(dir.file("data.txt")));
  ASSERT_EQ(lines.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    std::string want = fmt::format(": Device2: Heartbeat={}, Steps={}, Cal={}", 80 + i, 2500 + i, 2100 + i);
    EXPECT_TRUE(std::regex_match(lines[static_cast<size_t>(i)], std::regex(std::string("^") + kStamp + want + "$")))
        << lines[static_cast<size_t>(i)];
  }
}

TEST(CollectBasic, MalformedAndOverLongReadingsGoToStderrNotTheFile) {
  TempDir dir;
  FakeDevice fake;
  Process c(concur_args({"collect", "--device", loopback(fake.port), "--count", "2", "--out", dir.file("data.txt"), "--quiet"}));
  FileDesc conn = fake.accept();
  ASSERT_TRUE(conn);
  recv_for(conn.get(), 8);
  send_all(conn.get(), "garbage without grammar\nDevice9: X=1\nDevice9: Temp=1.5\x1b[2J\n");
  send_all(conn.get(), std::string(3000, 'A'));  // over-long, its newline comes later
  send_all(conn.get(), "\nDevice9: X=2\n");
  ASSERT_EQ(c.wait(5000ms), 0) << c.read_all_stderr(100ms);
  std::string text = slurp(dir.file("data.txt"));
  auto lines = split_lines(text);
  ASSERT_EQ(lines.size(), 2u) << text;
  EXPECT_NE(lines[0].find(": Device9: X=1"), std::string::npos);
  EXPECT_NE(lines[1].find(": Device9: X=2"), std::string::npos);
  std::string err = c.read_all_stderr(1000ms);
  EXPECT_NE(err.find("malformed reading not stored"), std::string::npos) << err;
  EXPECT_NE(err.find("garbage without grammar"), std::string::npos) << err;
  EXPECT_NE(err.find("\\x1b[2J"), std::string::npos) << "escape not neutralised: " << err;
  EXPECT_NE(err.find("longer than 1024 bytes"), std::string::npos) << err;
  EXPECT_EQ(err.find("AAAAAAAA"), std::string::npos) << "over-long reading echoed";
}

// Issue 13 item 3: a device sending garbage cannot flood stderr. One device sends 3,000 malformed
// lines of 1,500 bytes (4.5 MB): stderr shows a few of them, cut short, and one summary line.
TEST(CollectBasic, MalformedFloodIsRateLimitedWithASummaryAndShortLines) {
  TempDir dir;
  FakeDevice fake;
  Process c(concur_args({"collect", "--device", loopback(fake.port), "--count", "1", "--out", dir.file("data.txt"), "--quiet"}));
  FileDesc conn = fake.accept();
  ASSERT_TRUE(conn);
  recv_for(conn.get(), 8);
  std::string garbage;
  std::mt19937 rng(7);
  for (int i = 0; i < 3000; ++i) {
    std::string line(1000, ' ');
    for (char& ch : line) ch = static_cast<char>(std::uniform_int_distribution<int>(1, 255)(rng));
    for (char& ch : line)
      if (ch == '\n') ch = 'x';
    garbage += line + "\n";
  }
  send_all(conn.get(), garbage);
  send_all(conn.get(), "Device1: Temp=1, Humid=2, lilum=70\n");
  ASSERT_EQ(c.wait(10000ms), 0) << c.read_all_stderr(100ms);
  EXPECT_EQ(split_lines(slurp(dir.file("data.txt"))).size(), 1u);
  std::string err = c.read_all_stderr(1000ms);
  auto lines = split_lines(err);
  EXPECT_LE(lines.size(), 15u) << err.substr(0, 2000);
  size_t shown = 0;
  for (const auto& l : lines) {
    EXPECT_LE(l.size(), 400u) << l;
    shown += l.find("malformed reading not stored") != std::string::npos;
  }
  EXPECT_EQ(shown, 5u) << "the first 5 of a window are shown";
  EXPECT_NE(err.find(loopback(fake.port) + ": 2,995 malformed lines suppressed in the last "), std::string::npos) << err;
  EXPECT_NE(err.find("3000 malformed not stored"), std::string::npos) << err;
}

// Issue 13 item 5: a connection's device name is the one of its first reading; a reading under
// another name on it is reported and not written.
TEST(CollectBasic, ReadingUnderAnotherDevicesNameIsNotStored) {
  TempDir dir;
  FakeDevice fake;
  Process c(concur_args({"collect", "--device", loopback(fake.port), "--count", "2", "--out", dir.file("data.txt"), "--quiet"}));
  FileDesc conn = fake.accept();
  ASSERT_TRUE(conn);
  recv_for(conn.get(), 8);
  send_all(conn.get(), "Device1: Temp=1, Humid=2, lilum=70\nDevice2: Heartbeat=99, Steps=2000, Cal=1000\n"
                       "Device1: Temp=3, Humid=4, lilum=71\n");
  ASSERT_EQ(c.wait(5000ms), 0) << c.read_all_stderr(100ms);
  auto lines = split_lines(slurp(dir.file("data.txt")));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("Device1: Temp=1"), std::string::npos);
  EXPECT_NE(lines[1].find("Device1: Temp=3"), std::string::npos);
  std::string err = c.read_all_stderr(1000ms);
  EXPECT_NE(err.find(loopback(fake.port) + ": reading under another device's name not stored (this connection is Device1): "
                                      "Device2: Heartbeat=99"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("1 under another device's name not stored"), std::string::npos) << err;
}

TEST(CollectBasic, DeviceListFileWithComments) {
  TempDir dir;
  Server d1({"device", "--port", "0", "--interval", "0.03", "--quiet"});
  Server d2({"device", "--kind", "health", "--port", "0", "--interval", "0.03", "--quiet"});
  {
    std::ofstream list(dir.file("devices.txt"));
    list << "# the two devices of homework 10\n" << loopback(d1.port) << "   # env\n\n  " << loopback(d2.port) << "\n";
  }
  Process c(concur_args({"collect", "--device-list", dir.file("devices.txt"), "--per-device", "3", "--out",
                          dir.file("data.txt"), "--quiet"}));
  ASSERT_EQ(c.wait(5000ms), 0) << c.read_all_stderr(100ms);
  auto counts = check_data_file(slurp(dir.file("data.txt")));
  EXPECT_GE(counts["Device1"], 3);
  EXPECT_GE(counts["Device2"], 3);
}

TEST(CollectBasic, DurationStopsEvenWithNoDeviceUp) {
  TempDir dir;
  FakeDevice unused;  // a port that accepts nothing after we close it
  int port = unused.port;
  unused.listener.reset();
  auto t0 = std::chrono::steady_clock::now();
  Process c(concur_args({"collect", "--device", loopback(port), "--duration", "300ms", "--out", dir.file("data.txt")}));
  ASSERT_EQ(c.wait(3000ms), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  std::string err = c.read_all_stderr(500ms);
  EXPECT_NE(err.find(loopback(port) + ": Connection refused; retrying in"), std::string::npos) << err;
}

TEST(CollectOptions, BadOptionsExitTwoWithOneLineNamingTheOption) {
  TempDir dir;
  struct Case {
    std::vector<std::string> args;
    std::string names;
  };
  for (const Case& k : std::vector<Case>{{{"--device", "nonsense"}, "--device"},
                                         {{"--device", "127.0.0.1:0"}, "--device"},
                                         {{"--device", "127.0.0.1:99999"}, "--device"},
                                         {{"--count", "0"}, "--count"},
                                         {{"--per-device", "-1"}, "--per-device"},
                                         {{"--duration", "soon"}, "--duration"},
                                         {{"--offline-after", "0"}, "--offline-after"},
                                         {{"--shard", "4/3"}, "--shard"},
                                         {{"--shard", "0/3"}, "--shard"},
                                         {{"--shard", "1/0"}, "--shard"},
                                         {{"--shard", "half"}, "--shard"},
                                         {{"--device-list", dir.file("missing.txt")}, "--device-list"}}) {
    auto argv = concur_args({"collect"});
    argv.insert(argv.end(), k.args.begin(), k.args.end());
    argv.insert(argv.end(), {"--out", dir.file("data.txt")});
    Process p(argv);
    EXPECT_TRUE(is_usage_error(p, k.names));
  }
}

TEST(CollectOptions, UnopenableOutIsExitOneWithAClearMessage) {
  TempDir dir;
  std::string out = dir.file("no-such-dir/data.txt");
  Process p(concur_args({"collect", "--device", "127.0.0.1:1", "--out", out}));
  EXPECT_EQ(p.wait(3000ms), 1);
  std::string err = p.read_all_stderr(1000ms);
  EXPECT_EQ(err, "concur: cannot open " + out + ": No such file or directory\n");
}


// ---- faults (RELIABILITY §2, cases 28-30) ----

int closed_port() {
  FakeDevice gone;
  return gone.port;  // the listener closes with `gone`: connects are refused
}

TEST(CollectFaults, DeviceKilledAndRestartedIsRegisteredAgain) {
  TempDir dir;
  std::string out = dir.file("data.txt");
  auto d1 = std::make_unique<Server>(std::vector<std::string>{"device", "--port", "0", "--interval", "0.03", "--quiet"});
  int port = d1->port;
  Process c(concur_args({"collect", "--device", loopback(port), "--out", out, "--quiet"}));
  ASSERT_TRUE(wait_for_file_lines(out, 3, 3000ms));
  d1->proc.signal(SIGKILL);
  ASSERT_TRUE(d1->proc.wait(2000ms));
  d1.reset();
  std::this_thread::sleep_for(200ms);
  size_t before = line_count(out);
  d1 = std::make_unique<Server>(std::vector<std::string>{"device", "--port", std::to_string(port), "--interval", "0.03", "--quiet"});
  EXPECT_TRUE(wait_for_file_lines(out, before + 3, 4000ms)) << "collection did not resume";
  c.signal(SIGTERM);
  ASSERT_EQ(c.wait(3000ms), 0);
  check_data_file(slurp(out));
  std::string err = c.read_all_stderr(500ms);
  EXPECT_NE(err.find(loopback(port) + ": closed the connection; retrying in"), std::string::npos) << err;
  EXPECT_NE(err.find("registered with " + loopback(port) + " again"), std::string::npos) << err;
  EXPECT_NE(err.find(loopback(port) + ": collecting again (no reading for "), std::string::npos) << "gap not logged: " << err;
}

TEST(CollectFaults, DeviceNotUpAtStartIsCollectedOnceItComesUp) {
  TempDir dir;
  int port = closed_port();
  Process c(concur_args({"collect", "--device", loopback(port), "--count", "3", "--out", dir.file("data.txt"), "--quiet"}));
  std::this_thread::sleep_for(700ms);
  Server d1({"device", "--port", std::to_string(port), "--interval", "0.02", "--quiet"});
  ASSERT_EQ(c.wait(6000ms), 0) << c.read_all_stderr(100ms);
  EXPECT_EQ(check_data_file(slurp(dir.file("data.txt")))["Device1"], 3);
}

TEST(CollectFaults, OtherDevicesKeepFlowingWhileOneIsDown) {
  TempDir dir;
  Server d2({"device", "--kind", "health", "--port", "0", "--interval", "0.02", "--quiet"});
  Process c(concur_args({"collect", "--device", loopback(closed_port()), "--device", loopback(d2.port), "--count", "10", "--out",
                          dir.file("data.txt"), "--quiet"}));
  ASSERT_EQ(c.wait(4000ms), 0) << c.read_all_stderr(100ms);
  EXPECT_EQ(check_data_file(slurp(dir.file("data.txt")))["Device2"], 10);
}

TEST(CollectFaults, SilentDeviceIsReportedOfflineAndReplaced) {
  TempDir dir;
  FakeDevice fake;
  Process c(concur_args({"collect", "--device", loopback(fake.port), "--offline-after", "300ms", "--count", "2", "--out",
                          dir.file("data.txt"), "--quiet"}));
  FileDesc first = fake.accept();
  ASSERT_TRUE(first);
  EXPECT_EQ(recv_for(first.get(), 8), "Register");
  send_all(first.get(), "Device1: Temp=1, Humid=1, lilum=71\n");
  // ... then silence: the collector must give up on this connection and come back.
  FileDesc second = fake.accept(3000ms);
  ASSERT_TRUE(second) << "no reconnect after the device went silent";
  EXPECT_EQ(recv_for(second.get(), 8), "Register");
  send_all(second.get(), "Device1: Temp=2, Humid=2, lilum=72\n");
  ASSERT_EQ(c.wait(3000ms), 0);
  auto lines = split_lines(slurp(dir.file("data.txt")));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[1].find("Temp=2"), std::string::npos);
  std::string err = c.read_all_stderr(500ms);
  EXPECT_NE(err.find(loopback(fake.port) + ": offline (no reading for"), std::string::npos) << err;
}

TEST(CollectFaults, SigtermExitsZeroWithEverythingFlushed) {
  TempDir dir;
  Server d1({"device", "--port", "0", "--interval", "5ms", "--quiet"});
  Server d2({"device", "--kind", "health", "--port", "0", "--interval", "5ms", "--quiet"});
  Process c(concur_args({"collect", "--device", loopback(d1.port), "--device", loopback(d2.port), "--out", dir.file("data.txt")}));
  ASSERT_TRUE(c.wait_for_line("Device2:", 3000ms));
  std::this_thread::sleep_for(300ms);
  c.signal(SIGTERM);
  ASSERT_EQ(c.wait(3000ms), 0);
  std::string text = slurp(dir.file("data.txt"));
  auto counts = check_data_file(text);
  EXPECT_GT(counts["Device1"] + counts["Device2"], 20);
  EXPECT_EQ(c.read_all_stdout(1000ms), text) << "what was shown was not all stored";
  EXPECT_NE(c.read_all_stderr(500ms).find(std::to_string(split_lines(text).size()) + " readings stored"),
            std::string::npos);
}

// A fleet of `n` devices on consecutive ports, each with its `listening on` line read.
std::unique_ptr<Process> start_fleet(int n, int& base, const std::string& interval) {
  for (int attempt = 0; attempt < 4; ++attempt) {
    base = free_port_range(n);
    auto fleet = std::make_unique<Process>(std::vector<std::string>{
        concur_binary(), "device", "--fleet", std::to_string(n), "--port", std::to_string(base), "--interval", interval, "--quiet"});
    bool up = true;
    for (int i = 0; i < n && up; ++i) up = fleet->read_line(3000ms).has_value();
    if (up) return fleet;  // else: lost a race for a port, try another range
  }
  return nullptr;
}

// SPEC §4: N collectors given the same list and --shard 1/N .. N/N collect every device, none twice.
TEST(CollectShard, ThreeCollectorsSplitAFleetWithNoDeviceTwiceAndNoneLeftOut) {
  TempDir dir;
  const int n = 24;
  int base = 0;
  auto fleet = start_fleet(n, base, "5ms");
  ASSERT_TRUE(fleet);
  {
    std::ofstream list(dir.file("devices.txt"));
    for (int i = 0; i < n; ++i) list << loopback(base + i) << "\n";
  }
  std::vector<std::unique_ptr<Process>> collectors;
  for (int s = 1; s <= 3; ++s)
    collectors.push_back(std::make_unique<Process>(concur_args({"collect", "--device-list", dir.file("devices.txt"), "--shard",
                                                                 fmt::format("{}/3", s), "--per-device", "3", "--out",
                                                                 dir.file(fmt::format("data{}.txt", s)), "--quiet"})));
  std::map<std::string, int> owner;
  size_t taken = 0;
  for (int s = 1; s <= 3; ++s) {
    Process& c = *collectors[static_cast<size_t>(s - 1)];
    ASSERT_EQ(c.wait(8000ms), 0) << c.read_all_stderr(100ms);
    std::string err = c.read_all_stderr(500ms);
    std::smatch m;
    ASSERT_TRUE(std::regex_search(err, m, std::regex(fmt::format("shard {}/3: (\\d+) of the {} listed devices", s, n)))) << err;
    taken += std::stoul(m[1]);
    auto counts = check_data_file(slurp(dir.file(fmt::format("data{}.txt", s))));
    EXPECT_EQ(counts.size(), std::stoul(m[1]));
    for (const auto& [device, k] : counts) {
      EXPECT_TRUE(owner.emplace(device, s).second) << device << " collected by shards " << owner[device] << " and " << s;
    }
  }
  EXPECT_EQ(taken, static_cast<size_t>(n));
  EXPECT_EQ(owner.size(), static_cast<size_t>(n)) << "a device left out";
}

TEST(CollectFaults, KillNineDuringHeavyWritingLeavesOnlyWholeLinesAndRestartAppends) {
  TempDir dir;
  std::string out = dir.file("data.txt");
  const int n = 40;
  int base = 0;
  auto fleet = start_fleet(n, base, "2ms");
  ASSERT_TRUE(fleet);
  {
    std::ofstream list(dir.file("devices.txt"));
    for (int i = 0; i < n; ++i) list << loopback(base + i) << "\n";
  }
  {
    Process c(concur_args({"collect", "--device-list", dir.file("devices.txt"), "--out", out, "--quiet"}));
    ASSERT_TRUE(wait_for_file_lines(out, 2000, 4000ms));
    std::this_thread::sleep_for(100ms);
    c.signal(SIGKILL);
    ASSERT_EQ(c.wait(2000ms), 128 + SIGKILL);
  }
  std::string text = slurp(out);
  auto counts = check_data_file(text);
  EXPECT_EQ(counts.size(), static_cast<size_t>(n));
  size_t lines_before = split_lines(text).size();
  Process again(concur_args({"collect", "--device-list", dir.file("devices.txt"), "--out", out, "--quiet", "--count", "100"}));
  ASSERT_EQ(again.wait(4000ms), 0);
  std::string after = slurp(out);
  check_data_file(after);
  EXPECT_EQ(after.substr(0, text.size()), text);
  EXPECT_EQ(split_lines(after).size(), lines_before + 100);
}

TEST(CollectFaults, TornTailIsCutOffBeforeAppending) {
  TempDir dir;
  std::string out = dir.file("data.txt");
  const std::string whole = "Fri Mar 18 22:55:13 2021: Device1: Temp=20, Humid=50, lilum=100\n";
  const std::string torn = "Fri Mar 18 22:55:16 2021: Device1: Temp=2";
  {
    std::ofstream f(out, std::ios::binary);
    f << whole << torn;
  }
  Server d1({"device", "--port", "0", "--interval", "0.02", "--quiet"});
  Process c(concur_args({"collect", "--device", loopback(d1.port), "--count", "2", "--out", out, "--quiet"}));
  ASSERT_EQ(c.wait(4000ms), 0);
  std::string text = slurp(out);
  ASSERT_EQ(text.substr(0, whole.size()), whole);
  check_data_file(text);  // every line well-formed: the torn one is gone
  EXPECT_EQ(split_lines(text).size(), 3u);
  EXPECT_NE(c.read_all_stderr(500ms).find(fmt::format("ended with a torn line: dropped its last {} bytes", torn.size())),
            std::string::npos);
}

TEST(CollectFaults, FullDiskIsAClearErrorNotACrash) {
  if (::access("/dev/full", W_OK) != 0) GTEST_SKIP() << "no /dev/full";
  Server d1({"device", "--port", "0", "--interval", "0.02", "--quiet"});
  Process c(concur_args({"collect", "--device", loopback(d1.port), "--out", "/dev/full", "--quiet"}));
  std::this_thread::sleep_for(500ms);
  ASSERT_TRUE(c.running()) << c.read_all_stderr(100ms);
  c.signal(SIGTERM);
  EXPECT_EQ(c.wait(3000ms), 1);
  std::string err = c.read_all_stderr(500ms);
  EXPECT_NE(err.find("concur: cannot write /dev/full: No space left on device"), std::string::npos) << err;
  EXPECT_NE(err.find("readings could not be written to /dev/full"), std::string::npos) << err;
  EXPECT_EQ(err.find("cannot write /dev/full", err.find("cannot write /dev/full") + 1), std::string::npos)
      << "the same error logged on every retry";
}

TEST(CollectFaults, FileSizeLimitLeavesOnlyWholeLines) {
  TempDir dir;
  std::string out = dir.file("data.txt");
  Server d1({"device", "--port", "0", "--interval", "3ms", "--quiet"});
  Process c(concur_args({"collect", "--device", loopback(d1.port), "--out", out, "--quiet"}), "", [] {
    rlimit rl{1500, 1500};
    ::setrlimit(RLIMIT_FSIZE, &rl);
  });
  std::this_thread::sleep_for(800ms);
  ASSERT_TRUE(c.running()) << c.read_all_stderr(100ms);
  c.signal(SIGTERM);
  EXPECT_EQ(c.wait(3000ms), 1);
  std::string text = slurp(out);
  EXPECT_LE(text.size(), 1500u);
  EXPECT_GT(text.size(), 1000u);
  check_data_file(text);
  EXPECT_NE(c.read_all_stderr(500ms).find("File too large"), std::string::npos);
}

// ---- --db (SPEC §4) ----

// Rows of the readings table (0 while it cannot be read).
size_t count_rows(const std::string& db, const std::string& where = "1") {
  auto r = sqlite_rows(db, "SELECT count(*) FROM readings WHERE " + where);
  return r.size() == 1 && r[0].find_first_not_of("0123456789") == std::string::npos && !r[0].empty() ? std::stoul(r[0]) : 0;
}

TEST(CollectDb, EveryReadingOfDataTxtIsInTheDatabaseOneRowPerField) {
  TempDir dir;
  std::string db = dir.file("readings.db");
  Server d1({"device", "--port", "0", "--interval", "0.02", "--quiet"});
  Server d2({"device", "--kind", "health", "--port", "0", "--interval", "0.02", "--quiet"});
  double t0 = static_cast<double>(std::time(nullptr));
  for (int run = 1; run <= 2; ++run) {  // the second run appends
    Process c(concur_args({"collect", "--device", loopback(d1.port), "--device", loopback(d2.port), "--per-device", "5", "--out",
                            dir.file("data.txt"), "--db", db, "--quiet"}));
    ASSERT_EQ(c.wait(5000ms), 0) << c.read_all_stderr(100ms);
  }
  double t1 = static_cast<double>(std::time(nullptr)) + 1;
  auto counts = check_data_file(slurp(dir.file("data.txt")));
  EXPECT_EQ(sqlite_rows(db, "PRAGMA integrity_check"), std::vector<std::string>{"ok"});
  for (const auto& [device, n] : counts) {
    EXPECT_EQ(count_rows(db, "device = '" + device + "'"), static_cast<size_t>(3 * n)) << device;
    // Every reading is whole: three metrics per (device, time).
    EXPECT_EQ(sqlite_rows(db, "SELECT count(*) FROM (SELECT time FROM readings WHERE device = '" + device +
                            "' GROUP BY time HAVING count(*) % 3 != 0)"),
              std::vector<std::string>{"0"});
  }
  EXPECT_EQ(sqlite_rows(db, "SELECT DISTINCT metric FROM readings WHERE device = 'Device2' ORDER BY metric"),
            (std::vector<std::string>{"Cal", "Heartbeat", "Steps"}));
  auto range = sqlite_rows(db, "SELECT min(time) >= " + std::to_string(t0) + " AND max(time) <= " + std::to_string(t1) +
                             " FROM readings");
  EXPECT_EQ(range, std::vector<std::string>{"1"}) << "time is not the Unix time of receipt";
}

TEST(CollectDb, KillNineNeverCorruptsTheDatabaseAndARestartAppends) {
  TempDir dir;
  std::string db = dir.file("readings.db");
  const int n = 40;
  int base = 0;
  auto fleet = start_fleet(n, base, "2ms");
  ASSERT_TRUE(fleet);
  {
    std::ofstream list(dir.file("devices.txt"));
    for (int i = 0; i < n; ++i) list << loopback(base + i) << "\n";
  }
  size_t committed = 0;
  {
    Process c(concur_args({"collect", "--device-list", dir.file("devices.txt"), "--out", dir.file("data.txt"), "--db", db, "--quiet"}));
    ASSERT_TRUE(wait_for_file_lines(dir.file("data.txt"), 3000, 5000ms));
    // Wait for a commit after the first one (group commits, one a second), then kill mid-run.
    size_t first = count_rows(db);
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (count_rows(db) <= first && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
    committed = count_rows(db);
    ASSERT_GT(committed, first) << "no second commit";
    c.signal(SIGKILL);
    ASSERT_EQ(c.wait(2000ms), 128 + SIGKILL);
  }
  EXPECT_EQ(sqlite_rows(db, "PRAGMA integrity_check"), std::vector<std::string>{"ok"});
  size_t rows = count_rows(db);
  EXPECT_GE(rows, committed) << "a committed reading was lost";
  EXPECT_EQ(rows % 3, 0u) << "a reading stored in part";
  EXPECT_EQ(sqlite_rows(db, "SELECT count(*) FROM (SELECT 1 FROM readings GROUP BY device, time HAVING count(*) % 3 != 0)"),
            std::vector<std::string>{"0"});
  EXPECT_LE(rows, line_count(dir.file("data.txt")) * 3);
  Process again(concur_args({"collect", "--device-list", dir.file("devices.txt"), "--out", dir.file("data.txt"), "--db", db,
                              "--quiet", "--count", "100"}));
  ASSERT_EQ(again.wait(5000ms), 0) << again.read_all_stderr(100ms);
  // The restart resumes from the database's cursor into data.txt (issue 21): the readings the
  // kill cut off from the database are taken from data.txt, so it has every line of it.
  EXPECT_EQ(count_rows(db), 3 * line_count(dir.file("data.txt")));
  EXPECT_EQ(sqlite_rows(db, "PRAGMA integrity_check"), std::vector<std::string>{"ok"});
}

// A database another writer keeps locked fails its passes; data.txt goes on meanwhile, and once
// the lock is gone the database gets every reading it missed.
TEST(CollectDb, ALockedDatabaseNeverStopsDataTxtAndCatchesUp) {
  TempDir dir;
  std::string db = dir.file("readings.db");
  std::string out = dir.file("data.txt");
  Server d1({"device", "--port", "0", "--interval", "0.01", "--quiet"});
  Process c(concur_args({"collect", "--device", loopback(d1.port), "--out", out, "--db", db, "--quiet"}));
  ASSERT_TRUE(wait_for_file_lines(out, 3, 3000ms));
  auto other = std::make_unique<SqliteDb>(db);
  other->exec("BEGIN EXCLUSIVE");
  size_t before = line_count(out);
  EXPECT_TRUE(c.wait_for_stderr("cannot write " + db + ": database is locked", 4000ms)) << c.read_all_stderr(100ms);
  EXPECT_TRUE(wait_for_file_lines(out, before + 30, 3000ms)) << "data.txt stalled while the database was locked";
  other->exec("COMMIT");
  other.reset();
  // The next retry (once a second) writes the backlog.
  EXPECT_TRUE(c.wait_for_stderr("writing to " + db + " works again", 4000ms)) << c.read_all_stderr(100ms);
  c.signal(SIGTERM);
  ASSERT_EQ(c.wait(3000ms), 0) << c.read_all_stderr(100ms);
  EXPECT_EQ(count_rows(db), 3 * line_count(out));
}

TEST(CollectDb, ADatabaseThatCannotBeOpenedIsExitOneWithTheReason) {
  TempDir dir;
  {
    std::ofstream f(dir.file("not.db"));
    f << "plain text, certainly not an SQLite database header at all, long enough";
  }
  Process p(concur_args({"collect", "--device", "127.0.0.1:1", "--out", dir.file("data.txt"), "--db", dir.file("not.db")}));
  EXPECT_EQ(p.wait(3000ms), 1);
  EXPECT_EQ(p.read_all_stderr(1000ms), "concur: cannot open database " + dir.file("not.db") + ": file is not a database\n");
}

}  // namespace
}  // namespace concur::test
