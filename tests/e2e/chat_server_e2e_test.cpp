// chat-server as users run it: the real binary, its "listening on" line, the seed's log formats,
// the lecture's Python clients unchanged (UDP: udp_multi_chat_client.py; TCP: a homework 8/9
// client), concur's own chat-client, UDP limits, usage errors and a clean stop.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "core/endpoint.hpp"
#include "core/socket.hpp"
#include "models/model.hpp"
#include "support/installed.hpp"
#include "support/model_available.hpp"
#include "support/net.hpp"
#include "support/process.hpp"
#include "support/seed_peer.hpp"
#include "support/usage_error.hpp"

namespace concur::test {
namespace {

TEST(ChatServerE2E, ListeningLineAndSeedLogFormats) {
  Server s({"chat-server", "--port", "0", "--bind", "127.0.0.1"});
  EXPECT_TRUE(std::regex_match(s.listening_line, std::regex(R"(listening on 127\.0\.0\.1:\d+ \(tcp, model=thread\))")))
      << s.listening_line;
  TestClient a(s.port);
  const std::string pa = seed_address(local_port(a.fd()));
  a.send_all("[alice]\n");
  ASSERT_TRUE(s.proc.wait_for_line(pa + ":[alice]"));
  TestClient b(s.port);
  const std::string pb = seed_address(local_port(b.fd()));
  b.send_all("[bob]\n");
  EXPECT_EQ(a.recv_line(), "[bob]");
  b.send_all("점심 뭐 드실까요?\n");
  EXPECT_EQ(a.recv_line(), "[bob]점심 뭐 드실까요?");
  b.send_all("[bob]quit\n");
  ASSERT_TRUE(b.recv_until_eof());
  ASSERT_TRUE(s.proc.wait_for_line(pb + " exited"));
  s.proc.signal(SIGTERM);
  EXPECT_EQ(s.proc.wait(), 0);

  const std::string asctime = R"([A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4})";
  auto esc = [](const std::string& t) { return std::regex_replace(t, std::regex(R"([()\[\].])"), R"(\$&)"); };
  std::vector<std::regex> expected = {
      std::regex("new client " + esc(pa)),
      std::regex(asctime + esc(pa + ":[alice]")),
      std::regex("new client " + esc(pb)),
      std::regex(asctime + esc(pb + ":[bob]")),
      std::regex(asctime + esc(pb + ":[bob]") + "점심 뭐 드실까요\\?"),
      std::regex(esc(pb) + " exited"),
      std::regex(esc(pa) + " exited"),
  };
  s.proc.read_all_stdout(1000ms);
  std::vector<std::string> lines(s.proc.lines().begin() + 1, s.proc.lines().end());
  ASSERT_EQ(lines.size(), expected.size()) << ::testing::PrintToString(lines);
  for (size_t i = 0; i < lines.size(); ++i) EXPECT_TRUE(std::regex_match(lines[i], expected[i])) << lines[i];
}

// Issue 13 item 4: the server relays such text (it is valid UTF-8) but its log shows it escaped.
TEST(ChatServerE2E, LogShowsBidiAndInvisibleCharactersEscaped) {
  Server s({"chat-server", "--port", "0", "--bind", "127.0.0.1"});
  TestClient a(s.port);
  const std::string pa = seed_address(local_port(a.fd()));
  a.send_all("[alice]\n");
  ASSERT_TRUE(s.proc.wait_for_line(pa + ":[alice]"));
  a.send_all("x\u202Ey\u2066z\u200D\u2028\uFEFF\n");
  auto line = s.proc.wait_for_line(pa + ":[alice]x");
  ASSERT_TRUE(line);
  EXPECT_NE(line->find(pa + ":[alice]x\\u202ey\\u2066z\\u200d\\u2028\\ufeff"), std::string::npos) << *line;
  s.proc.signal(SIGTERM);
  EXPECT_EQ(s.proc.wait(), 0);
}

// The lecture's UDP client, unchanged but for the port (taken from argv instead of 2500).
constexpr const char* kSeedUdpClient = R"PY(import socket
import threading
import sys

def handler(sock):
    while True:
        msg, addr = sock.recvfrom(1024)
        print(msg.decode())

svr_addr = ('localhost', int(sys.argv[1]))
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

my_id = input('ID를 입력하세요: ')
sock.sendto(('['+my_id+']').encode(), svr_addr)

th = threading.Thread(target=handler, args=(sock,))
th.daemon = True
th.start()

while True:
    msg = '[' + my_id + ']' + input()
    sock.sendto(msg.encode(), svr_addr)
)PY";

TEST(ChatServerE2E, SeedUdpClientsChatUnchanged) {
  auto py = python3();
  ASSERT_TRUE(py) << not_installed("python3");
  TempDir dir;
  std::string script = dir.write("udp_multi_chat_client.py", kSeedUdpClient);
  Server s({"chat-server", "--transport", "udp", "--port", "0", "--bind", "127.0.0.1"});
  EXPECT_NE(s.listening_line.find("(udp, model=thread)"), std::string::npos) << s.listening_line;

  Process kim({*py, "-u", script, std::to_string(s.port)});
  kim.write_stdin("김대희\n");
  ASSERT_TRUE(s.proc.wait_for_line(":[김대희]"));
  Process yoon({*py, "-u", script, std::to_string(s.port)});
  yoon.write_stdin("윤재석\n");
  ASSERT_TRUE(s.proc.wait_for_line(":[윤재석]"));
  EXPECT_TRUE(kim.wait_for_line("[윤재석]"));  // the join is relayed, after kim's prompt

  UdpPeer jeon(s.port);  // a third member, played by the test
  jeon.send("[전창완]");
  ASSERT_TRUE(s.proc.wait_for_line(":[전창완]"));
  EXPECT_TRUE(kim.wait_for_line("[전창완]"));
  EXPECT_TRUE(yoon.wait_for_line("[전창완]"));

  kim.write_stdin(" 점심 뭐 드실까요?\n");
  EXPECT_EQ(jeon.recv(), "[김대희] 점심 뭐 드실까요?");
  EXPECT_TRUE(yoon.wait_for_line("[김대희] 점심 뭐 드실까요?"));
  jeon.send("[전창완] 청와삼대 가시죠");
  EXPECT_TRUE(kim.wait_for_line("[전창완] 청와삼대 가시죠"));
  EXPECT_TRUE(yoon.wait_for_line("[전창완] 청와삼대 가시죠"));
  EXPECT_FALSE(jeon.recv(200ms)) << "relayed back to its sender";

  yoon.write_stdin("quit\n");  // the seed client sends "[윤재석]quit"
  ASSERT_TRUE(s.proc.wait_for_line(" exited"));
  jeon.send("[전창완]bye");
  EXPECT_TRUE(kim.wait_for_line("[전창완]bye"));
  EXPECT_FALSE(yoon.wait_for_line("[전창완]bye", 300ms));
  s.proc.signal(SIGTERM);
  EXPECT_EQ(s.proc.wait(), 0);
}

// A homework 8/9 client (TCP): sends "[ID]" with no newline, then "[ID]text" per input line, and
// prints each chunk it receives.
constexpr const char* kHomeworkTcpClient = R"PY(import socket
import threading
import sys

def handler(sock):
    while True:
        try:
            msg = sock.recv(1024)
        except OSError:
            break
        if not msg:
            break
        print(msg.decode())

sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.connect(('localhost', int(sys.argv[1])))
my_id = input('ID: ')
sock.send(('[' + my_id + ']').encode())
th = threading.Thread(target=handler, args=(sock,))
th.daemon = True
th.start()
while True:
    msg = '[' + my_id + ']' + input()
    sock.send(msg.encode())
    if msg == '[' + my_id + ']quit':
        break
sock.close()
)PY";

TEST(ChatServerE2E, HomeworkTcpPythonClientsChatUnchanged) {
  auto py = python3();
  ASSERT_TRUE(py) << not_installed("python3");
  TempDir dir;
  std::string script = dir.write("hw9_client.py", kHomeworkTcpClient);
  Server s({"chat-server", "--model", "select", "--port", "0", "--bind", "127.0.0.1"});
  TestClient alice(s.port);  // a line client in the same room
  alice.send_all("[alice]\n");
  ASSERT_TRUE(s.proc.wait_for_line(":[alice]"));

  Process kim({*py, "-u", script, std::to_string(s.port)});
  kim.write_stdin("kim\n");
  EXPECT_EQ(alice.recv_line(), "[kim]");
  Process lee({*py, "-u", script, std::to_string(s.port)});
  lee.write_stdin("lee\n");
  EXPECT_EQ(alice.recv_line(), "[lee]");
  EXPECT_TRUE(kim.wait_for_line("[lee]"));

  kim.write_stdin("안녕하세요\n");
  EXPECT_EQ(alice.recv_line(), "[kim]안녕하세요");
  EXPECT_TRUE(lee.wait_for_line("[kim]안녕하세요"));
  alice.send_all("hi both\n");
  EXPECT_TRUE(kim.wait_for_line("[alice]hi both"));
  EXPECT_TRUE(lee.wait_for_line("[alice]hi both"));

  kim.write_stdin("quit\n");
  EXPECT_EQ(kim.wait(3000ms), 0);
  EXPECT_TRUE(s.proc.wait_for_line(" exited"));
  lee.write_stdin("still here\n");
  EXPECT_EQ(alice.recv_line(), "[lee]still here");
  s.proc.signal(SIGTERM);
  EXPECT_EQ(s.proc.wait(), 0);
}

TEST(ChatServerE2E, ConcurChatClientsOverTcpAndUdp) {
  for (std::string transport : {"tcp", "udp"}) {
    SCOPED_TRACE(transport);
    Server s({"chat-server", "--transport", transport, "--port", "0", "--bind", "127.0.0.1"});
    auto client = [&](const std::string& id) {
      return std::make_unique<Process>(concur_args(
          {"chat-client", "--transport", transport, "--port", std::to_string(s.port), "--id", id}));
    };
    auto alice = client("alice");
    ASSERT_TRUE(s.proc.wait_for_line(":[alice]"));
    auto bob = client("bob");
    ASSERT_TRUE(s.proc.wait_for_line(":[bob]"));
    EXPECT_TRUE(alice->wait_for_line("[bob]"));
    bob->write_stdin("hello alice\n");
    EXPECT_TRUE(alice->wait_for_line("[bob]hello alice"));
    alice->write_stdin("hi bob\n");
    EXPECT_TRUE(bob->wait_for_line("[alice]hi bob"));
    bob->write_stdin("quit\n");
    EXPECT_EQ(bob->wait(3000ms), 0);
    EXPECT_TRUE(s.proc.wait_for_line(" exited"));
    alice->write_stdin("quit\n");
    EXPECT_EQ(alice->wait(3000ms), 0);
    s.proc.signal(SIGTERM);
    EXPECT_EQ(s.proc.wait(), 0);
  }
}

TEST(ChatServerE2E, UdpRefusesOverLongDatagramsAndNeverAnswersLarger) {
  Server s({"chat-server", "--transport", "udp", "--port", "0", "--bind", "127.0.0.1"});
  UdpPeer a(s.port), b(s.port), stranger(s.port);
  a.send("[a]");
  ASSERT_TRUE(s.proc.wait_for_line(":[a]"));
  b.send("[b]");
  EXPECT_EQ(a.recv(), "[b]");
  b.send("[b]" + std::string(5000, 'x'));  // over the 4096-byte limit
  auto err = b.recv();
  ASSERT_TRUE(err);
  EXPECT_EQ(err->rfind("error: message too long", 0), 0u) << *err;
  EXPECT_FALSE(a.recv(200ms)) << "an over-long datagram was relayed";
  b.send("[b]" + std::string(4093, 'y'));  // exactly 4096 bytes: fine
  EXPECT_EQ(a.recv()->size(), 4096u);

  stranger.send("?");  // the error would be larger than the datagram: no answer
  EXPECT_FALSE(stranger.recv(200ms));
  stranger.send("[a] pretending to be a, with enough words for an answer");
  auto taken = stranger.recv();
  ASSERT_TRUE(taken);
  EXPECT_EQ(taken->rfind("error: ID 'a' is taken", 0), 0u) << *taken;
  EXPECT_FALSE(a.recv(100ms));
}

// SPEC §3 (issue 13): members always get their error; a stranger's reply is short and at most
// 3x its datagram: `[bob]` taken -> `error: ID taken`.
TEST(ChatServerE2E, UdpMembersGetTheirErrorsStrangersShortOnes) {
  Server s({"chat-server", "--transport", "udp", "--port", "0", "--bind", "127.0.0.1"});
  UdpPeer alice(s.port), bob(s.port), stranger(s.port);
  alice.send("[alice]");
  ASSERT_TRUE(s.proc.wait_for_line(":[alice]"));
  bob.send("[bob]");
  EXPECT_EQ(alice.recv(), "[bob]");
  alice.send("[bob]hi");  // impersonation, 7 bytes: the member still hears why
  auto err = alice.recv();
  ASSERT_TRUE(err);
  EXPECT_EQ(err->rfind("error: you are 'alice'", 0), 0u) << *err;
  EXPECT_FALSE(bob.recv(200ms)) << "an impersonation was relayed";
  stranger.send("[bob]");
  EXPECT_EQ(stranger.recv(), std::optional<std::string>("error: ID taken"));
  stranger.send("?");  // even the short text would be larger than 3 x 1 byte
  EXPECT_FALSE(stranger.recv(200ms));
}

TEST(ChatServerE2E, UdpIdleMembersExpire) {
  Server s({"chat-server", "--transport", "udp", "--idle-timeout", "0.5", "--port", "0", "--bind", "127.0.0.1"});
  UdpPeer a(s.port), b(s.port);
  a.send("[a]");
  b.send("[b]");
  EXPECT_EQ(a.recv(), "[b]");
  // Both fall silent and expire (one tick runs about every second).
  EXPECT_EQ(wait_for_lines(s.proc,
                           {seed_address(a.port()) + " exited (idle for 0.5 s)",
                            seed_address(b.port()) + " exited (idle for 0.5 s)"},
                           4000ms),
            std::vector<std::string>{});
  a.send("[a]");
  ASSERT_TRUE(s.proc.wait_for_line("new client " + seed_address(a.port())));
  b.send("[b]back");  // b rejoins with a message (a seed client just keeps sending)
  EXPECT_EQ(a.recv(), "[b]back");
}

TEST(ChatServerE2E, ReaderThatStopsReadingIsDisconnectedAndLogged) {
  Server s({"chat-server", "--model", "epoll", "--quiet", "--max-queue", "65536", "--rate", "0", "--port", "0", "--bind",
            "127.0.0.1"});
  FileDesc slow(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int small = 4096;
  ::setsockopt(slow.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  Endpoint to = Endpoint::parse("127.0.0.1", static_cast<uint16_t>(s.port));
  ASSERT_EQ(::connect(slow.get(), to.sa(), to.len()), 0);
  // --quiet logs no messages, so members watch the joins: first proves obs is in, obs sees the rest.
  auto first = std::make_unique<TestClient>(s.port);
  first->send_all("[first]\n");
  ASSERT_TRUE(s.proc.wait_for_line("new client"));
  std::this_thread::sleep_for(200ms);  // first's join is processed (nothing to observe it by)
  auto obs = std::make_unique<TestClient>(s.port);
  obs->send_all("[obs]\n");
  ASSERT_EQ(first->recv_line(), "[obs]");
  first.reset();
  ASSERT_EQ(::send(slow.get(), "[slow]\n", 7, MSG_NOSIGNAL), 7);
  EXPECT_EQ(obs->recv_line(), "[slow]");
  TestClient sender(s.port);
  sender.send_all("[sender]\n");
  EXPECT_EQ(obs->recv_line(), "[sender]");
  obs.reset();
  std::string batch;
  for (int i = 0; i < 100; ++i) batch += "[sender]" + std::string(2000, 'z') + "\n";
  std::optional<std::string> line;
  for (int round = 0; round < 40 && !line; ++round) {  // at most 8 MB
    sender.send_all(batch);
    line = s.proc.wait_for_line(seed_address(local_port(slow.get())) + " exited", 50ms);
  }
  ASSERT_TRUE(line) << "the reader that stopped reading was never disconnected";
  EXPECT_NE(line->find("(disconnected: not reading, more than 65536 bytes pending)"), std::string::npos) << *line;
}

TEST(ChatServerE2E, UsageErrorsExitTwoWithOneLine) {
  std::vector<std::vector<std::string>> bad = {
      {"chat-server", "--model", "process"},
      {"chat-server", "--transport", "udp", "--model", "epoll"},
      {"chat-server", "--transport", "sctp"},
      {"chat-server", "--rate", "-1"},
      {"chat-server", "--join-timeout", "soon"},
  };
  for (const auto& args : bad) {
    Process p(concur_args(args));
    EXPECT_TRUE(is_usage_error(p, args[args.size() - 2])) << args[1] << " " << args[2];  // names the option
  }
}

// Under every model chat-server takes (the registry's can_share_a_room).
class ChatServerModels : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { SKIP_IF_MODEL_UNAVAILABLE(GetParam()); }
};

TEST_P(ChatServerModels, SigtermStopsCleanlyWithMembersConnected) {
  Server s({"chat-server", "--model", GetParam(), "--port", "0", "--bind", "127.0.0.1"});
  TestClient a(s.port);
  a.send_all("[a]\n");
  ASSERT_TRUE(s.proc.wait_for_line(":[a]")) << describe(s.proc, "chat-server");
  TestClient b(s.port);
  b.send_all("[b]\n");
  EXPECT_EQ(a.recv_line(), "[b]");
  s.proc.signal(SIGTERM);
  EXPECT_EQ(s.proc.wait(), 0) << s.proc.read_all_stderr(Ms(200));
  EXPECT_TRUE(a.recv_until_eof());
  EXPECT_TRUE(b.recv_until_eof());
}

INSTANTIATE_TEST_SUITE_P(EveryModel, ChatServerModels, ::testing::ValuesIn(model_names(can_share_a_room)),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace concur::test
