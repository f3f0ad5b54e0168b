// Wire compatibility with the lecture's own Python programs (seed/lecture-concurrent-sockets-1.txt):
// echo_client.py and tcp_threaded_shared_number_client.py run unchanged but for where the port
// comes from, with python3, against concur servers. python3 missing is a failure (scripts/setup.sh
// installs it).
#include <gtest/gtest.h>

#include <algorithm>
#include <regex>
#include <sstream>

#include "support/installed.hpp"
#include "support/model_available.hpp"
#include "support/model_server.hpp"
#include "support/process.hpp"
#include "support/seed_peer.hpp"

namespace concur::test {
namespace {

using namespace std::chrono_literals;

// echo_client.py. The seed shows this client only through its sessions ("Port No: 2500",
// "Message to send: Hi~", "Received message: Hi~"); this is it written the way the seed writes
// its other clients (from socket import *, BUFSIZE = 1024, one recv per message, 'localhost').
// The one addition is leaving the loop at the end of input (EOFError), so a test can finish it.
const char* kEchoClient = R"(from socket import *

port = int(input('Port No: '))
BUFSIZE = 1024

sock = socket(AF_INET, SOCK_STREAM)
sock.connect(('localhost', port))

while True:
    try:
        msg = input('Message to send: ')
    except EOFError:
        break
    sock.send(msg.encode())
    data = sock.recv(BUFSIZE)
    print('Received message:', data.decode())

sock.close()
)";

// tcp_threaded_shared_number_client.py, verbatim but for the port (the seed has port = 2500).
const char* kSharedNumberClient = R"(from socket import *
import sys

port = int(sys.argv[1])
BUFSIZE = 1024

s = socket(AF_INET, SOCK_STREAM)
s.connect(('localhost', port))

print(int(s.recv(BUFSIZE).decode()))

s.close()
)";

// The lecture's first slide has no client (a browser connects); this is the minimal Python one.
const char* kHelloClient = R"(from socket import *
import sys

s = socket(AF_INET, SOCK_STREAM)
s.connect(('localhost', int(sys.argv[1])))
data = b''
while True:
    chunk = s.recv(1024)
    if not chunk:
        break
    data += chunk
print(repr(data))
s.close()
)";

class SeedPython : public ::testing::Test {
 protected:
  void SetUp() override {
    auto py = python3();
    ASSERT_TRUE(py) << not_installed("python3");
    python_ = *py;
    dir_.write("echo_client.py", kEchoClient);
    dir_.write("tcp_threaded_shared_number_client.py", kSharedNumberClient);
    dir_.write("hello_client.py", kHelloClient);
  }
  // Runs a script with python3 (UTF-8 I/O whatever the locale), feeding `input` on stdin.
  struct Result {
    int code;
    std::string out, err;
  };
  Result python(const std::string& script, std::vector<std::string> args, const std::string& input = "") {
    std::vector<std::string> argv = {"/usr/bin/env", "PYTHONIOENCODING=utf-8", python_, dir_.file(script)};
    argv.insert(argv.end(), args.begin(), args.end());
    Process p(argv);
    if (!input.empty()) p.write_stdin(input);
    p.close_stdin();
    Result r;
    r.out = p.read_all_stdout(10s);
    r.err = p.read_all_stderr(500ms);
    r.code = p.wait(10s).value_or(-1);
    return r;
  }

  std::string python_;
  TempDir dir_;
};

// The seed client's prompts go to stdout without newlines; what remains are its echo lines.
std::vector<std::string> received_lines(std::string out) {
  for (const std::string prompt : {"Port No: ", "Message to send: "}) {
    for (size_t at; (at = out.find(prompt)) != std::string::npos;) out.erase(at, prompt.size());
  }
  std::vector<std::string> lines;
  std::istringstream in(out);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) lines.push_back(l);
  return lines;
}

class SeedPythonEcho : public SeedPython, public ::testing::WithParamInterface<std::string> {};

TEST_P(SeedPythonEcho, EchoClientGetsEveryLineBack) {
  SKIP_IF_MODEL_UNAVAILABLE(GetParam());
  Server server({"echo-server", "--port", "0", "--model", GetParam(), "--quiet"});
  auto r = python("echo_client.py", {}, std::to_string(server.port) + "\nHi~\nBye!\n숙제가 너무 많아\nI am Daehee.\n");
  EXPECT_EQ(r.code, 0) << r.err << "\nserver " << (server.proc.running() ? "still running" : "exited")
                       << "; its stderr: " << server.proc.read_all_stderr(200ms);
  EXPECT_EQ(received_lines(r.out),
            (std::vector<std::string>{"Received message: Hi~", "Received message: Bye!",
                                      "Received message: 숙제가 너무 많아", "Received message: I am Daehee."}))
      << "stdout: " << r.out;
}

INSTANTIATE_TEST_SUITE_P(AllModels, SeedPythonEcho, ::testing::ValuesIn(all_models()),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });

TEST_F(SeedPython, EchoServerLogsAsThreadingEchoServerPy) {
  Server server({"echo-server", "--port", "0"});
  auto r = python("echo_client.py", {}, std::to_string(server.port) + "\nHi~\n");
  EXPECT_EQ(r.code, 0) << r.err;
  auto connected = server.proc.read_line(3s);
  ASSERT_TRUE(connected.has_value());
  // print('connected by', remotehost, remoteport) / print('Received message:', data.decode())
  EXPECT_TRUE(std::regex_match(*connected, std::regex(R"(connected by 127\.0\.0\.1 \d+)"))) << *connected;
  EXPECT_EQ(server.proc.read_line(3s).value_or("<none>"), "Received message: Hi~");
}

TEST_F(SeedPython, SharedNumberClientPrintsExactTotalsUnderMutex) {
  Server server({"counter-server", "--port", "0", "--sync", "mutex", "--increments", "100000"});
  std::string port = std::to_string(server.port);
  // Two clients at once, as in the lecture's scenario, then a third.
  std::vector<std::string> outs;
  {
    std::vector<std::unique_ptr<Process>> ps;
    for (int i = 0; i < 2; ++i) {
      ps.push_back(std::make_unique<Process>(std::vector<std::string>{
          python_, dir_.file("tcp_threaded_shared_number_client.py"), port}));
      ps.back()->close_stdin();
    }
    for (auto& p : ps) {
      outs.push_back(p->read_all_stdout(10s));
      EXPECT_EQ(p->wait(10s), 0) << p->read_all_stderr(200ms);
    }
  }
  std::sort(outs.begin(), outs.end());
  EXPECT_EQ(outs, (std::vector<std::string>{"100000\n", "200000\n"}));
  auto third = python("tcp_threaded_shared_number_client.py", {port});
  EXPECT_EQ(third.code, 0) << third.err;
  EXPECT_EQ(third.out, "300000\n");
  // The server prints what the seed's server prints: 'connected by' and the value.
  int values = 0;
  for (int i = 0; i < 6; ++i) {
    auto line = server.proc.read_line(3s);
    ASSERT_TRUE(line.has_value());
    if (std::regex_match(*line, std::regex(R"(\d+)"))) ++values;
    else EXPECT_TRUE(std::regex_match(*line, std::regex(R"(connected by \('127\.0\.0\.1', \d+\))"))) << *line;
  }
  EXPECT_EQ(values, 3);
}

TEST_F(SeedPython, HelloBytesAreWhatTheSlideSends) {
  Server server({"hello-server", "--port", "0", "--quiet"});
  auto r = python("hello_client.py", {std::to_string(server.port)});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "b'Hello 127.0.0.1'\n");  // client.send(b'Hello ' + addr[0].encode())
}

}  // namespace
}  // namespace concur::test
