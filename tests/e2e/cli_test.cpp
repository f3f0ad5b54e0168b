// The command line as users and scripts meet it (SPEC §1): --version/--help, exit codes 0/1/2
// with exactly one stderr line for bad usage, the "listening on" first line, log lines flushed
// into a pipe, clean stops on SIGINT/SIGTERM under every model, and the hello/echo/counter/race
// clients' output.
#include <gtest/gtest.h>
#include <signal.h>

#include <regex>

#include "cli/commands.hpp"
#include "core/socket.hpp"
#include "support/model_available.hpp"
#include "support/model_server.hpp"
#include "support/net.hpp"
#include "support/ports.hpp"
#include "support/process.hpp"
#include "support/usage_error.hpp"

namespace concur::test {
namespace {

using namespace std::chrono_literals;

struct RunResult {
  int code = -1;
  std::string out, err;
};

// Runs the binary to completion with `input` on stdin.
RunResult run(std::vector<std::string> args, const std::string& input = "", Ms timeout = 10000ms) {
  Process p(concur_args(std::move(args)));
  if (!input.empty()) p.write_stdin(input);
  p.close_stdin();
  RunResult r;
  r.out = p.read_all_stdout(timeout);
  r.err = p.read_all_stderr(1000ms);
  r.code = p.wait(timeout).value_or(-1);
  return r;
}

// SPEC: bad usage is exit 2 with exactly one line on stderr, naming the bad option or command.
void expect_usage_error(const std::vector<std::string>& args, const std::string& must_name) {
  std::string cmd;
  for (const auto& a : args) cmd += a + " ";
  Process p(concur_args(args));
  p.close_stdin();
  EXPECT_TRUE(is_usage_error(p, must_name, 10000ms)) << cmd;
  EXPECT_EQ(p.read_all_stdout(100ms), "") << cmd;
}

TEST(Cli, VersionPrintsNameAndVersion) {
  RunResult r = run({"--version"});
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(std::regex_match(r.out, std::regex(R"(concur \d+\.\d+\.\d+\n)"))) << r.out;
  EXPECT_EQ(r.err, "");
}

TEST(Cli, HelpForTheToolAndEveryCommandExitsZero) {
  RunResult top = run({"--help"});
  EXPECT_EQ(top.code, 0);
  EXPECT_EQ(top.err, "");
  for (const auto& cmd : command_table()) {
    EXPECT_NE(top.out.find(cmd.name), std::string::npos) << "concur --help does not list " << cmd.name;
    RunResult r = run({cmd.name, "--help"});
    EXPECT_EQ(r.code, 0) << cmd.name << " --help; stderr: " << r.err;
    EXPECT_NE(r.out.find("--help"), std::string::npos) << cmd.name << " --help printed: " << r.out;
    EXPECT_EQ(r.err, "") << cmd.name;
  }
}

TEST(Cli, BadOptionExitsTwoWithOneLineNamingIt) {
  expect_usage_error({"echo-server", "--bogus"}, "--bogus");
  expect_usage_error({"echo-server", "--port", "abc"}, "--port");
  expect_usage_error({"hello-server", "--port", "70000"}, "--port");
  expect_usage_error({"echo-server", "--bind", "1.2.3"}, "--bind");
  expect_usage_error({"echo-client", "--host", "nowhere.invalid", "--port", "1"}, "--host");
  expect_usage_error({"counter-server", "--sync", "sometimes"}, "--sync");
  expect_usage_error({"race-demo", "--threads", "0"}, "--threads");
  expect_usage_error({"counter-client", "--frobnicate"}, "--frobnicate");
}

TEST(Cli, UnknownOrMissingCommandExitsTwoWithOneLine) {
  expect_usage_error({"frobnicate"}, "frobnicate");
  expect_usage_error({}, "concur");
}

TEST(Cli, UnsupportedModelExitsTwoListingSupportedOnes) {
  expect_usage_error({"echo-server", "--model", "nope"}, "--model");
  RunResult r = run({"echo-server", "--model", "nope"});
  for (const auto& m : all_models()) EXPECT_NE(r.err.find(m), std::string::npos) << "echo-server does not list " << m;
  RunResult c = run({"counter-server", "--model", "select"});
  EXPECT_EQ(c.code, 2);
  EXPECT_NE(c.err.find("select"), std::string::npos);
  EXPECT_NE(c.err.find("supported: thread"), std::string::npos) << c.err;
}

TEST(Cli, BadWorkersExitTwoSayingWhy) {
  expect_usage_error({"echo-server", "--model", "pool", "--workers", "0"}, "--workers");
  expect_usage_error({"echo-server", "--model", "prefork", "--workers", "-3"}, "--workers");
  expect_usage_error({"echo-server", "--model", "prefork", "--workers", "many"}, "--workers");
  expect_usage_error({"echo-server", "--model", "pool", "--workers", "100000"}, "--workers");
  // A model without workers: the line says so and names the models that have them.
  expect_usage_error({"echo-server", "--model", "thread", "--workers", "4"}, "--workers");
  RunResult r = run({"echo-server", "--model", "thread", "--workers", "4"});
  EXPECT_NE(r.err.find("has no workers"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("pool"), std::string::npos) << r.err;
  RunResult h = run({"echo-server", "--help"});
  EXPECT_NE(h.out.find("waits in the listen backlog"), std::string::npos) << "--help does not explain the pool's limit";
}

TEST(Cli, BusyPortExitsOneWithCannotBindMessage) {
  FileDesc taken = tcp_listen(Endpoint::parse("0.0.0.0", 0));
  int port = local_endpoint(taken.get()).port();
  for (std::string cmd : {"echo-server", "hello-server", "counter-server"}) {
    RunResult r = run({cmd, "--port", std::to_string(port)});
    EXPECT_EQ(r.code, 1) << cmd;
    EXPECT_EQ(r.err, "concur: cannot bind 0.0.0.0:" + std::to_string(port) + ": Address already in use\n") << cmd;
    EXPECT_EQ(r.out, "") << cmd;
  }
}

TEST(Cli, ClientToClosedPortExitsOneWithCannotConnect) {
  int port;
  {
    FileDesc gone = tcp_listen(Endpoint::parse("127.0.0.1", 0));
    port = local_endpoint(gone.get()).port();
  }
  for (std::string cmd : {"echo-client", "counter-client"}) {
    RunResult r = run({cmd, "--port", std::to_string(port)}, "x\n");
    EXPECT_EQ(r.code, 1) << cmd;
    EXPECT_EQ(r.err, "concur: cannot connect to 127.0.0.1:" + std::to_string(port) + ": Connection refused\n") << cmd;
  }
}

TEST(Cli, FirstStdoutLineIsTheListeningLine) {
  struct Case {
    std::vector<std::string> args;
    std::string re;
  };
  std::vector<Case> cases = {
      {{"echo-server", "--port", "0"}, R"(listening on 0\.0\.0\.0:(\d+) \(tcp, model=thread\))"},
      {{"hello-server", "--port", "0"}, R"(listening on 0\.0\.0\.0:(\d+) \(tcp, model=iterative\))"},
      {{"counter-server", "--port", "0"}, R"(listening on 0\.0\.0\.0:(\d+) \(tcp, model=thread\))"},
      {{"echo-server", "--port", "0", "--bind", "127.0.0.1", "--model", "epoll"},
       R"(listening on 127\.0\.0\.1:(\d+) \(tcp, model=epoll\))"},
  };
  if (why_no_ipv6_loopback().empty()) cases.push_back({{"echo-server", "--port", "0", "--bind", "::1"}, R"(listening on \[::1\]:(\d+) \(tcp, model=thread\))"});
  for (const auto& c : cases) {
    Server s(c.args);
    std::smatch m;
    ASSERT_TRUE(std::regex_match(s.listening_line, m, std::regex(c.re))) << s.listening_line;
    EXPECT_GT(std::stoi(m[1]), 0) << "port 0 must be replaced by the bound port";
    std::string host = std::find(c.args.begin(), c.args.end(), "::1") != c.args.end() ? "::1" : "127.0.0.1";
    EXPECT_NO_THROW(TestClient(s.port, host)) << s.listening_line;
  }
}

TEST(Cli, LogLinesArriveAtOnceThroughAPipe) {
  // Stdout is a pipe here: a block-buffered logger would hold these lines until exit.
  Server s({"echo-server", "--port", "0"});
  TestClient c(s.port);
  Endpoint me = local_endpoint(c.fd());
  auto connected = s.proc.read_line(3s);
  ASSERT_TRUE(connected.has_value()) << "no 'connected by' line while the server runs";
  EXPECT_EQ(*connected, "connected by 127.0.0.1 " + std::to_string(me.port()));
  c.send_all("hello\n");
  EXPECT_EQ(c.recv_exact(6, 3s), "hello\n");
  EXPECT_EQ(s.proc.read_line(3s).value_or("<none>"), "Received message: hello");
  // Received text never drives the server's terminal.
  c.send_all("\x1b[2J\n");
  EXPECT_EQ(c.recv_exact(5, 3s), "\x1b[2J\n");
  EXPECT_EQ(s.proc.read_line(3s).value_or("<none>"), "Received message: \\x1b[2J");
}

TEST(Cli, QuietServerLogsNothingPerMessage) {
  Server s({"echo-server", "--port", "0", "--quiet"});
  TestClient c(s.port);
  c.send_all("x");
  EXPECT_EQ(c.recv_exact(1, 3s), "x");
  EXPECT_FALSE(s.proc.read_line(300ms).has_value());
}

class CliStop : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { SKIP_IF_MODEL_UNAVAILABLE(GetParam()); }
};

TEST_P(CliStop, SigintAndSigtermStopWithClientsConnectedExitZero) {
  for (int sig : {SIGINT, SIGTERM}) {
    Server s({"echo-server", "--port", "0", "--bind", "127.0.0.1", "--quiet", "--model", GetParam()});
    TestClient c(s.port);
    c.send_all("x");
    ASSERT_EQ(c.recv_exact(1, 3s), "x") << GetParam() << " did not echo; server "
                                        << (s.proc.running() ? "still running" : "exited")
                                        << ", stderr: " << s.proc.read_all_stderr(200ms);
    s.proc.signal(sig);
    auto code = s.proc.wait(5s);
    EXPECT_EQ(code, 0) << GetParam() << " on signal " << sig << "; stderr: " << s.proc.read_all_stderr(200ms);
    EXPECT_TRUE(c.recv_until_eof(3s).has_value()) << "client not closed when the server stopped";
    EXPECT_EQ(s.proc.read_all_stderr(100ms), "") << "a clean stop prints no error";
  }
}

INSTANTIATE_TEST_SUITE_P(AllModels, CliStop, ::testing::ValuesIn(all_models()),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });

TEST(Cli, ImmediateRestartOnTheSamePortBinds) {
  // RELIABILITY 24: the stopped server closed its connections first (TIME_WAIT on its side);
  // SO_REUSEADDR lets the next one bind the same port at once.
  int port;
  {
    Server first({"echo-server", "--port", "0", "--quiet"});
    port = first.port;
    TestClient c(port);
    c.send_all("x");
    ASSERT_EQ(c.recv_exact(1, 3s), "x");
    first.proc.signal(SIGTERM);
    ASSERT_EQ(first.proc.wait(5s), 0);
    EXPECT_TRUE(c.recv_until_eof(3s).has_value());
  }
  Server second({"echo-server", "--port", std::to_string(port), "--quiet"});
  EXPECT_EQ(second.port, port);
  TestClient c(port);
  c.send_all("y");
  EXPECT_EQ(c.recv_exact(1, 3s), "y");
}

TEST(Cli, HelloAndCounterServersStopCleanlyOnSigterm) {
  for (std::string cmd : {"hello-server", "counter-server"}) {
    Server s({cmd, "--port", "0"});
    s.proc.signal(SIGTERM);
    EXPECT_EQ(s.proc.wait(5s), 0) << cmd;
  }
}

TEST(Cli, ServerOutlivesAClosedStdout) {
  // No command ever dies of SIGPIPE: log lines into a closed pipe fail quietly.
  Server s({"echo-server", "--port", "0"});
  s.proc.close_stdout();
  for (int i = 0; i < 3; ++i) {
    TestClient c(s.port);
    c.send_all("line\n");
    EXPECT_EQ(c.recv_exact(5, 3s), "line\n");
  }
  EXPECT_TRUE(s.proc.running()) << "the server died writing to a closed stdout";
  s.proc.signal(SIGTERM);
  EXPECT_EQ(s.proc.wait(5s), 0);
}

TEST(EchoClientCli, PipedStdinPrintsEachEchoAndExitsZero) {
  Server s({"echo-server", "--port", "0", "--quiet"});
  RunResult r = run({"echo-client", "--port", std::to_string(s.port)}, "Hi~\nBye!\n숙제가 너무 많아\n\nlast line without newline");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "Received message: Hi~\n"
            "Received message: Bye!\n"
            "Received message: 숙제가 너무 많아\n"
            "Received message: \n"
            "Received message: last line without newline\n");
  EXPECT_EQ(r.err, "");
}

TEST(EchoClientCli, CrLfInputIsSentWithoutTheCr) {
  Server s({"echo-server", "--port", "0"});
  RunResult r = run({"echo-client", "--port", std::to_string(s.port)}, "dos line\r\n");
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "Received message: dos line\n");
  s.proc.read_line(3s);  // connected by
  EXPECT_EQ(s.proc.read_line(3s).value_or("<none>"), "Received message: dos line");
}

TEST(CounterClientCli, PrintsTheNumberTheServerSent) {
  Server s({"counter-server", "--port", "0", "--increments", "1000", "--sync", "mutex", "--quiet"});
  for (int k = 1; k <= 3; ++k) {
    RunResult r = run({"counter-client", "--port", std::to_string(s.port)});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, std::to_string(k * 1000) + "\n");
  }
}

std::vector<long> race_values(const std::string& out) {
  std::vector<long> v;
  std::regex line(R"(Iteration (\d+): x = (\d+))");
  std::istringstream in(out);
  std::string l;
  size_t i = 0;
  while (std::getline(in, l)) {
    std::smatch m;
    if (!std::regex_match(l, m, line)) {
      ADD_FAILURE() << "not an iteration line: " << l;
      continue;
    }
    EXPECT_EQ(std::stoul(m[1]), i++) << "iterations are numbered from 0 as race_cond.py";
    v.push_back(std::stol(m[2]));
  }
  return v;
}

TEST(RaceDemoCli, PrintsOneIterationLinePerRound) {
  RunResult r = run({"race-demo", "--threads", "2", "--iterations", "20000", "--rounds", "4", "--sync", "none"});
  EXPECT_EQ(r.code, 0);
  auto v = race_values(r.out);
  ASSERT_EQ(v.size(), 4u);
  for (long x : v) {
    EXPECT_GT(x, 0);
    EXPECT_LE(x, 40000);
  }
}

TEST(RaceDemoCli, MutexAndAtomicGiveThreadsTimesIterationsEveryRound) {
  for (std::string sync : {"mutex", "atomic"}) {
    RunResult r = run({"race-demo", "--threads", "4", "--iterations", "100000", "--rounds", "5", "--sync", sync});
    EXPECT_EQ(r.code, 0) << sync;
    auto v = race_values(r.out);
    EXPECT_EQ(v, std::vector<long>(5, 400000)) << sync;
  }
}

TEST(RaceDemoCli, DefaultsMatchTheSeed) {
  // race_cond.py: 2 threads x 300,000 increments, 10 rounds; with the lock every round is 600000.
  RunResult r = run({"race-demo", "--sync", "mutex"}, "", 30000ms);
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(race_values(r.out), std::vector<long>(10, 600000));
}

}  // namespace
}  // namespace concur::test
