// `concur collect` end to end: real devices and fake ones (a listener the test controls).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include "core/endpoint.hpp"
#include "core/socket.hpp"
#include "support/process.hpp"

namespace concur::test {
namespace {

const char* kStamp = R"((Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 123]\d \d\d:\d\d:\d\d \d{4})";
const std::regex kDataLine(std::string("^") + kStamp +
                           R"(: (Device1(-\d+)?: Temp=(\d+), Humid=(\d+), lilum=(\d+)|Device2(-\d+)?: Heartbeat=(\d+), Steps=(\d+), Cal=(\d+))$)");

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/concur-collect-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp");
    path = tmpl;
  }
  ~TempDir() { [[maybe_unused]] int rc = std::system(("rm -rf '" + path + "'").c_str()); }
  std::string file(const std::string& name) const { return path + "/" + name; }
  std::string path;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

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

std::vector<std::string> collect_args(std::vector<std::string> extra) {
  std::vector<std::string> argv{concur_binary(), "collect"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

std::string dev(int port) { return "127.0.0.1:" + std::to_string(port); }

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
  Process c(collect_args({"--device", dev(d1.port), "--device", dev(d2.port), "--per-device", "5", "--out",
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
  Process c({concur_binary(), "collect", "--device", dev(d1.port), "--count", "3", "--quiet"}, dir.path);
  ASSERT_EQ(c.wait(5000ms), 0) << c.read_all_stderr(100ms);
  auto counts = check_data_file(slurp(dir.file("data.txt")));
  EXPECT_EQ(counts["Device1"], 3);
  EXPECT_EQ(c.read_all_stdout(200ms), "");  // --quiet
}

TEST(CollectBasic, ReadingSentOneByteAtATimeIsRecordedWhole) {
  TempDir dir;
  FakeDevice fake;
  Process c(collect_args({"--device", dev(fake.port), "--count", "2", "--out", dir.file("data.txt"), "--quiet"}));
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
  Process c(collect_args({"--device", dev(fake.port), "--count", "3", "--out", dir.file("data.txt"), "--quiet"}));
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
  Process c(collect_args({"--device", dev(fake.port), "--count", "2", "--out", dir.file("data.txt"), "--quiet"}));
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

TEST(CollectBasic, DeviceListFileWithComments) {
  TempDir dir;
  Server d1({"device", "--port", "0", "--interval", "0.03", "--quiet"});
  Server d2({"device", "--kind", "health", "--port", "0", "--interval", "0.03", "--quiet"});
  {
    std::ofstream list(dir.file("devices.txt"));
    list << "# the two devices of homework 10\n" << dev(d1.port) << "   # env\n\n  " << dev(d2.port) << "\n";
  }
  Process c(collect_args({"--device-list", dir.file("devices.txt"), "--per-device", "3", "--out",
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
  Process c(collect_args({"--device", dev(port), "--duration", "300ms", "--out", dir.file("data.txt")}));
  ASSERT_EQ(c.wait(3000ms), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  std::string err = c.read_all_stderr(500ms);
  EXPECT_NE(err.find(dev(port) + ": Connection refused; retrying in"), std::string::npos) << err;
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
                                         {{"--device-list", dir.file("missing.txt")}, "--device-list"}}) {
    auto argv = collect_args(k.args);
    argv.insert(argv.end(), {"--out", dir.file("data.txt")});
    Process p(argv);
    EXPECT_EQ(p.wait(3000ms), 2) << k.names;
    std::string err = p.read_all_stderr(1000ms);
    EXPECT_NE(err.find(k.names), std::string::npos) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  }
}

TEST(CollectOptions, UnopenableOutIsExitOneWithAClearMessage) {
  TempDir dir;
  std::string out = dir.file("no-such-dir/data.txt");
  Process p(collect_args({"--device", "127.0.0.1:1", "--out", out}));
  EXPECT_EQ(p.wait(3000ms), 1);
  std::string err = p.read_all_stderr(1000ms);
  EXPECT_EQ(err, "concur: cannot open " + out + ": No such file or directory\n");
}

}  // namespace
}  // namespace concur::test
