// --log-format json end to end: every line a server writes (stdout and stderr) is one JSON object
// with time, stream and message, and the `listening on` readiness line still tells tools the port.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <regex>

#include "core/json_log.hpp"
#include "support/installed.hpp"
#include "support/net.hpp"
#include "support/process.hpp"
#include "support/seed_peer.hpp"
#include "support/temp_dir.hpp"

namespace concur::test {
namespace {

constexpr Ms kWait = 15000ms;

// Python's own JSON parser, not ours, judges every line: one object each, the three fields, a
// stream that matches the pipe it came from, an RFC 3339 time.
const char* kValidator = R"PY(
import json, re, sys
stream = sys.argv[2]
n = 0
for no, line in enumerate(open(sys.argv[1], encoding='utf-8'), 1):
    line = line.rstrip('\n')
    try:
        obj = json.loads(line)
    except ValueError as e:
        sys.exit('line %d is not JSON (%s): %r' % (no, e, line))
    if not isinstance(obj, dict):
        sys.exit('line %d is not an object: %r' % (no, line))
    for key in ('time', 'stream', 'message'):
        if not isinstance(obj.get(key), str):
            sys.exit('line %d has no string %s: %r' % (no, key, line))
    if obj['stream'] != stream:
        sys.exit('line %d says stream %r, came on %s' % (no, obj['stream'], stream))
    if not re.fullmatch(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d', obj['time']):
        sys.exit('line %d: time %r is not RFC 3339' % (no, obj['time']))
    n += 1
print(n)
)PY";

// Runs the validator on `text` (the lines of one stream); returns how many lines it accepted.
int validated_lines(const std::string& text, const std::string& stream) {
  auto py = python3();
  if (!py) {
    ADD_FAILURE() << not_installed("python3");
    return -1;
  }
  TempDir dir;
  Process v({*py, dir.write("check.py", kValidator), dir.write("lines.txt", text), stream});
  std::string out = v.read_all_stdout(kWait);
  std::string err = v.read_all_stderr(1000ms);
  if (v.wait(kWait) != 0) {
    ADD_FAILURE() << stream << ": " << err;
    return -1;
  }
  return std::stoi(out);
}

size_t count_lines(const std::string& text) { return static_cast<size_t>(std::count(text.begin(), text.end(), '\n')); }

TEST(LogJson, EchoServerLogsOnlyJsonAndTheWaiterFindsThePort) {
  // Server reads the first line the way every test does: it unwraps the JSON message.
  Server s({"echo-server", "--bind", "127.0.0.1", "--port", "0", "--log-format", "json"});
  ASSERT_EQ(s.listening_line.front(), '{') << s.listening_line;
  EXPECT_NE(s.listening_line.find(R"("event":"listening")"), std::string::npos) << s.listening_line;
  EXPECT_NE(s.listening_line.find(R"("model":"thread")"), std::string::npos) << s.listening_line;
  {
    TestClient c(s.port);
    // A quote, a backslash, a control byte and a byte that is not UTF-8 in the logged text.
    std::string msg = "say \"hi\" \\ \x01 \xff\n";
    c.send_all(msg);
    EXPECT_EQ(c.recv_exact(msg.size()), msg);
  }
  ASSERT_TRUE(s.proc.wait_for_line("Received message: ", kWait));
  s.proc.signal(SIGTERM);
  ASSERT_EQ(s.proc.wait(kWait), 0);
  std::string out = s.proc.read_all_stdout(1000ms);  // every line, the listening line too
  std::string err = s.proc.read_all_stderr(1000ms);
  EXPECT_GE(count_lines(out), 3u) << out;  // listening, connected by, Received message
  EXPECT_EQ(validated_lines(out, "stdout"), static_cast<int>(count_lines(out))) << out;
  EXPECT_EQ(validated_lines(err, "stderr"), static_cast<int>(count_lines(err))) << err;
  EXPECT_NE(out.find(R"("message":"connected by 127.0.0.1 )"), std::string::npos) << out;
}

// chat-server --web prints two listening lines; both are JSON, the first one is the chat's.
TEST(LogJson, ChatServerWithWebBothListeningLinesAreJson) {
  Server s({"chat-server", "--bind", "127.0.0.1", "--port", "0", "--web", "0", "--log-format", "json"});
  auto web = s.proc.read_line(kWait);
  ASSERT_TRUE(web);
  EXPECT_EQ(log_message_of(*web).rfind("listening on 127.0.0.1:", 0), 0u) << *web;
  EXPECT_NE(web->find(R"("role":"web")"), std::string::npos) << *web;
  {
    TestClient a(s.port);
    a.send_all("[alice]\n");
    ASSERT_TRUE(s.proc.wait_for_line("new client", kWait));
  }
  ASSERT_TRUE(s.proc.wait_for_line("exited", kWait));
  s.proc.signal(SIGTERM);
  ASSERT_EQ(s.proc.wait(kWait), 0);
  std::string out = s.proc.read_all_stdout(1000ms);
  EXPECT_EQ(validated_lines(out, "stdout"), static_cast<int>(count_lines(out))) << out;
}

// device and collect take the option too; collect's status lines are on stderr.
TEST(LogJson, DeviceAndCollectLogJson) {
  Server device({"device", "--bind", "127.0.0.1", "--port", "0", "--interval", "0.05", "--log-format", "json"});
  TempDir dir;
  Process collect(concur_args({"collect", "--device", "127.0.0.1:" + std::to_string(device.port), "--out",
                               dir.file("data.txt"), "--count", "3", "--log-format", "json"}));
  ASSERT_EQ(collect.wait(kWait), 0) << collect.read_all_stderr(100ms);
  std::string cout_text = collect.read_all_stdout(1000ms), cerr_text = collect.read_all_stderr(1000ms);
  EXPECT_EQ(count_lines(cout_text), 3u) << cout_text;  // the three readings, shown
  EXPECT_EQ(validated_lines(cout_text, "stdout"), 3);
  EXPECT_GE(count_lines(cerr_text), 2u) << cerr_text;  // collecting from ..., N readings stored ...
  EXPECT_EQ(validated_lines(cerr_text, "stderr"), static_cast<int>(count_lines(cerr_text)));
  // data.txt is data, not a log: its lines stay exactly as SPEC says.
  std::ifstream in(dir.file("data.txt"));
  std::string line;
  static const std::regex reading(R"(^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}: Device1: Temp=\d+, Humid=\d+, lilum=\d+$)");
  int n = 0;
  while (std::getline(in, line)) {
    EXPECT_TRUE(std::regex_match(line, reading)) << line;
    ++n;
  }
  EXPECT_EQ(n, 3);
  device.proc.signal(SIGTERM);
  ASSERT_EQ(device.proc.wait(kWait), 0);
  std::string dout = device.proc.read_all_stdout(1000ms);
  EXPECT_EQ(validated_lines(dout, "stdout"), static_cast<int>(count_lines(dout))) << dout;
}

TEST(LogJson, TextIsTheDefaultAndABadFormatIsAUsageError) {
  Server s({"echo-server", "--bind", "127.0.0.1", "--port", "0"});
  EXPECT_EQ(s.listening_line.rfind("listening on 127.0.0.1:", 0), 0u) << s.listening_line;
  s.proc.signal(SIGTERM);
  EXPECT_EQ(s.proc.wait(kWait), 0);

  Process bad(concur_args({"echo-server", "--log-format", "xml"}));
  EXPECT_EQ(bad.wait(kWait), 2);
  std::string err = bad.read_all_stderr(1000ms);
  EXPECT_EQ(count_lines(err), 1u) << err;
  EXPECT_NE(err.find("--log-format"), std::string::npos) << err;
}

}  // namespace
}  // namespace concur::test
