// `collect --mqtt` against a real mosquitto broker started by the test on a free loopback port,
// with mosquitto_sub as the subscriber (SPEC §4, issue 11).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <pwd.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include "support/installed.hpp"
#include "support/ports.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/text_file.hpp"
#include "support/usage_error.hpp"

namespace concur::test {
namespace {

// The broker and its clients (Debian's mosquitto and mosquitto-clients; scripts/setup.sh installs
// both): missing is a failure that says so, not a broker that never comes up.
#define REQUIRE_MOSQUITTO()                                                                  \
  ASSERT_TRUE(::access("/usr/sbin/mosquitto", X_OK) == 0) << not_installed("mosquitto");    \
  ASSERT_TRUE(::access("/usr/bin/mosquitto_sub", X_OK) == 0) << not_installed("mosquitto_sub (mosquitto-clients)")

// A mosquitto broker on 127.0.0.1:port, configured by a file the test writes; ready when it logs
// that it is running (log_dest stdout). Stopped by PID (the Process destructor kills it).
struct Broker {
  Broker(const TempDir& dir, int port, const std::string& extra = "allow_anonymous true\n") : port(port) {
    std::string conf = dir.file(fmt::format("mosquitto-{}.conf", port));
    {
      std::ofstream f(conf);
      // stderr: mosquitto's stdout is block-buffered into a pipe. `user`: run as root, it would
      // otherwise switch to user mosquitto and could not read files in the test's private dir.
      const passwd* pw = ::getpwuid(::getuid());
      f << "listener " << port << " 127.0.0.1\n"
        << extra << "log_dest stderr\npersistence false\nuser " << (pw ? pw->pw_name : "root") << "\n";
    }
    proc = std::make_unique<Process>(std::vector<std::string>{"/usr/sbin/mosquitto", "-c", conf});
    ready = proc->wait_for_stderr(" running", 5000ms);
  }
  int port;
  std::unique_ptr<Process> proc;
  bool ready = false;
};

// mosquitto_sub on `topic`, QoS 1, printing "topic payload" lines; ready once its SUBACK came.
struct Subscriber {
  Subscriber(int port, const std::string& topic, std::vector<std::string> extra = {}) {
    // stdbuf: mosquitto_sub's debug lines (the SUBACK) are block-buffered into a pipe otherwise.
    std::vector<std::string> argv{"/usr/bin/stdbuf", "-oL", "/usr/bin/mosquitto_sub", "-h", "127.0.0.1", "-p", std::to_string(port), "-t", topic,
                                  "-q", "1", "-v", "-d"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    proc = std::make_unique<Process>(argv);
    ready = proc->wait_for_line("received SUBACK", 5000ms).has_value();
  }
  // Messages ("topic payload") received so far, waiting until there are `n` or the time is up.
  std::vector<std::string> messages(size_t n, Ms timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (got.size() < n && std::chrono::steady_clock::now() < deadline) {
      auto line = proc->read_line(100ms);
      // -d also prints "Client ... received PUBLISH", "Subscribed (mid: 1): 1": keep the messages.
      if (line && line->rfind("Client ", 0) != 0 && line->find(R"( {"time": )") != std::string::npos) got.push_back(*line);
    }
    return got;
  }
  std::unique_ptr<Process> proc;
  std::vector<std::string> got;
  bool ready = false;
};

// "Fri Mar 18 22:55:13 2021: Device1: Temp=20, Humid=50, lilum=100" -> the JSON the spec asks for,
// without the time (checked separately).
std::string expected_json_tail(const std::string& data_line) {
  std::smatch m;
  static const std::regex re(R"(^.{24}: ([^:]+): (.*)$)");
  if (!std::regex_match(data_line, m, re)) return "bad line: " + data_line;
  std::string out = fmt::format(R"("device": "{}")", m[1].str());
  static const std::regex field(R"((\w+)=(-?\d+))");
  std::string fields = m[2];
  for (std::sregex_iterator it(fields.begin(), fields.end(), field), end; it != end; ++it)
    out += fmt::format(R"(, "{}": {})", (*it)[1].str(), (*it)[2].str());
  return out + "}";
}

TEST(CollectMqtt, EveryReadingIsPublishedOnceAsJsonUnderThePrefix) {
  REQUIRE_MOSQUITTO();
  TempDir dir;
  Broker broker(dir, free_port());
  ASSERT_TRUE(broker.ready) << broker.proc->read_all_stderr(100ms);
  Subscriber sub(broker.port, "home/sensors/#");
  ASSERT_TRUE(sub.ready);
  Server d1({"device", "--port", "0", "--interval", "0.02", "--quiet"});
  Server d2({"device", "--kind", "health", "--port", "0", "--interval", "0.02", "--quiet"});
  double t0 = static_cast<double>(std::time(nullptr));
  Process c(concur_args({"collect", "--device", loopback(d1.port), "--device", loopback(d2.port), "--per-device", "10", "--out",
                          dir.file("data.txt"), "--mqtt", loopback(broker.port), "--mqtt-topic", "home/sensors", "--quiet"}));
  ASSERT_EQ(c.wait(8000ms), 0) << c.read_all_stderr(100ms);
  auto lines = split_lines(slurp(dir.file("data.txt")));
  ASSERT_GE(lines.size(), 20u);
  auto got = sub.messages(lines.size() + 1, 3000ms);  // +1: wait a little for a duplicate that must not come
  ASSERT_EQ(got.size(), lines.size()) << "every reading exactly once";
  // Per device, in order: the same values as data.txt.
  std::map<std::string, std::vector<std::string>> want, seen;
  for (const auto& l : lines) {
    std::string json = expected_json_tail(l);
    std::string device = json.substr(11, json.find('"', 11) - 11);
    want["home/sensors/" + device].push_back(json);
  }
  static const std::regex msg(R"(^(\S+) \{"time": (\d+\.\d{3}), (.*)$)");
  for (const auto& g : got) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(g, m, msg)) << g;
    double t = std::stod(m[2]);
    EXPECT_GE(t, t0);
    EXPECT_LE(t, t0 + 30);
    seen[m[1]].push_back(m[3]);
  }
  EXPECT_EQ(seen, want);
  std::string err = c.read_all_stderr(500ms);
  EXPECT_NE(err.find(fmt::format("{} readings published to mqtt://{} and acknowledged, 0 dropped", lines.size(),
                                 loopback(broker.port))),
            std::string::npos)
      << err;
}

// The broker is down at start, comes up, is killed, comes back: data.txt and the database never
// stop, the collector reconnects with backoff and publishing resumes each time.
TEST(CollectMqtt, BrokerDownKilledAndRestartedNeverStopsTheOtherSinks) {
  REQUIRE_MOSQUITTO();
  TempDir dir;
  int port = free_port();
  std::string out = dir.file("data.txt"), db = dir.file("r.db");
  Server d1({"device", "--port", "0", "--interval", "0.01", "--quiet"});
  Process c(concur_args({"collect", "--device", loopback(d1.port), "--out", out, "--db", db, "--mqtt", loopback(port), "--quiet"}));
  ASSERT_TRUE(c.wait_for_stderr(fmt::format("mqtt://{}: cannot connect (Connection refused)", loopback(port)), 3000ms))
      << c.read_all_stderr(100ms);
  ASSERT_TRUE(wait_for_file_lines(out, 20, 3000ms)) << "data.txt stalled with the broker down";

  auto broker = std::make_unique<Broker>(dir, port);
  ASSERT_TRUE(broker->ready);
  ASSERT_TRUE(c.wait_for_stderr(fmt::format("mqtt://{}: connected", loopback(port)), 8000ms)) << c.read_all_stderr(100ms);
  {
    Subscriber sub(port, "concur/#");
    ASSERT_TRUE(sub.ready);
    EXPECT_GE(sub.messages(10, 3000ms).size(), 10u) << "nothing published after the broker came up";
  }

  broker->proc->signal(SIGKILL);
  ASSERT_TRUE(broker->proc->wait(2000ms));
  ASSERT_TRUE(c.wait_for_stderr("connection to the broker lost", 3000ms)) << c.read_all_stderr(100ms);
  size_t before = line_count(out);
  EXPECT_TRUE(wait_for_file_lines(out, before + 30, 3000ms)) << "data.txt stalled after the broker was killed";

  broker = std::make_unique<Broker>(dir, port);
  ASSERT_TRUE(broker->ready);
  ASSERT_TRUE(c.wait_for_stderr("connected again; publishing resumes", 8000ms)) << c.read_all_stderr(100ms);
  {
    Subscriber sub(port, "concur/#");
    ASSERT_TRUE(sub.ready);
    EXPECT_GE(sub.messages(10, 3000ms).size(), 10u) << "publishing did not resume";
  }
  c.signal(SIGTERM);
  auto rc = c.wait(5000ms);
  ASSERT_TRUE(rc.has_value());
  std::string err = c.read_all_stderr(500ms);
  EXPECT_EQ(err.find("cannot write " + db), std::string::npos) << err;
  EXPECT_NE(err.find("readings stored in " + db), std::string::npos) << err;
  // The publishes in flight when the broker was killed were acknowledged after the reconnect
  // (libmosquitto sends them again): the cursor file reached the end of data.txt, it did not stall.
  std::string cursor;
  for (const auto& l : split_lines(slurp(out + ".mqtt.cursor")))
    if (l.rfind("offset ", 0) == 0) cursor = l.substr(7);
  EXPECT_EQ(cursor, std::to_string(slurp(out).size())) << err;
}

TEST(CollectMqtt, CredentialsComeFromTheEnvironment) {
  REQUIRE_MOSQUITTO();
  TempDir dir;
  std::string pw = dir.file("passwd");
  ASSERT_EQ(std::system(("/usr/bin/mosquitto_passwd -b -c '" + pw + "' sensor s3cret").c_str()), 0);
  Broker broker(dir, free_port(), "allow_anonymous false\npassword_file " + pw + "\n");
  ASSERT_TRUE(broker.ready) << broker.proc->read_all_stderr(100ms);
  Subscriber sub(broker.port, "concur/#", {"-u", "sensor", "-P", "s3cret"});
  ASSERT_TRUE(sub.ready);
  Server d1({"device", "--port", "0", "--interval", "0.02", "--quiet"});
  struct Env {
    Env(const char* user, const char* pass) {
      ::setenv("MQTT_USERNAME", user, 1);
      ::setenv("MQTT_PASSWORD", pass, 1);
    }
    ~Env() {
      ::unsetenv("MQTT_USERNAME");
      ::unsetenv("MQTT_PASSWORD");
    }
  };
  {
    Env env("sensor", "wrong");
    Process bad(concur_args({"collect", "--device", loopback(d1.port), "--count", "3", "--out", dir.file("bad.txt"), "--mqtt",
                              loopback(broker.port), "--quiet"}));
    EXPECT_TRUE(bad.wait_for_stderr("the broker refused the connection", 5000ms)) << bad.read_all_stderr(100ms);
  }
  Env env("sensor", "s3cret");
  Process c(concur_args({"collect", "--device", loopback(d1.port), "--count", "3", "--out", dir.file("data.txt"), "--mqtt",
                          loopback(broker.port), "--quiet"}));
  ASSERT_EQ(c.wait(5000ms), 0) << c.read_all_stderr(100ms);
  EXPECT_EQ(sub.messages(3, 3000ms).size(), 3u);
}

TEST(CollectMqtt, BadMqttOptionsAreOneLineUsageErrors) {
  TempDir dir;
  for (const auto& args : std::vector<std::vector<std::string>>{{"--mqtt", "nohost"},
                                                                {"--mqtt", "127.0.0.1:0"},
                                                                {"--mqtt", ":1883"},
                                                                {"--mqtt", "host:99999"},
                                                                {"--mqtt", "host:"},
                                                                {"--mqtt", "127.0.0.1:1883", "--mqtt-topic", "a/#"},
                                                                {"--mqtt-topic", "elsewhere"}}) {
    auto argv = concur_args({"collect"});
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--device", "127.0.0.1:1", "--out", dir.file("data.txt")});
    Process p(argv);
    EXPECT_TRUE(is_usage_error(p, args.size() == 2 && args[0] == "--mqtt" ? "--mqtt:" : "--mqtt-topic:")) << args.back();
  }
}

}  // namespace
}  // namespace concur::test
