// chat-client (SPEC §3 chat-client; RELIABILITY #6): the real binary with stdin/stdout pipes.
// TCP: the test plays the chat server on a loopback port (line or raw, as the seed's homework
// servers). UDP: the lecture's own udp_multi_chat_server.py, only its port taken from argv.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/endpoint.hpp"
#include "core/socket.hpp"
#include "support/installed.hpp"
#include "support/process.hpp"
#include "support/seed_peer.hpp"
#include "support/usage_error.hpp"

namespace concur::test {
namespace {

using Lines = std::vector<std::string>;

Process chat_client(int port, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"chat-client", "--port", std::to_string(port)};
  args.insert(args.end(), extra.begin(), extra.end());
  return Process(concur_args(args));
}

// The test as a TCP chat server: accepts the client and checks its join line.
struct TcpRoom {
  PeerListener listener;
  PeerConn conn;
  void accept_join(const std::string& id) {
    conn = listener.accept();
    ASSERT_TRUE(conn.valid());
    EXPECT_EQ(conn.recv_line(), "[" + id + "]");
  }
};

TEST(ChatClient, JoinsPrefixesLinesAndQuits) {
  TcpRoom room;
  Process c = chat_client(room.listener.port(), {"--id", "alice"});
  room.accept_join("alice");
  c.write_stdin("hello everyone\n");
  EXPECT_EQ(room.conn.recv_line(), "[alice]hello everyone");
  c.write_stdin("a line that mentions quit is just a line\n");
  EXPECT_EQ(room.conn.recv_line(), "[alice]a line that mentions quit is just a line");
  c.write_stdin("\n");  // nothing to say: nothing sent (it would read as a second join)
  c.write_stdin("quit\n");
  EXPECT_EQ(room.conn.recv_line(), "[alice]quit");
  EXPECT_TRUE(room.conn.wait_eof());
  EXPECT_EQ(c.wait(3000ms), 0);
  EXPECT_EQ(c.read_all_stderr(100ms), "");
}

TEST(ChatClient, PrintsRelayedMessagesWhileTheUserIsSilent) {
  TcpRoom room;
  Process c = chat_client(room.listener.port(), {"--id", "alice"});
  room.accept_join("alice");
  room.conn.send_all("[bob]\n[bob]hi alice\n");
  room.conn.send_all("[carol]hello\r\n");
  EXPECT_EQ(c.read_line(), "[bob]");
  EXPECT_EQ(c.read_line(), "[bob]hi alice");
  EXPECT_EQ(c.read_line(), "[carol]hello");
  // Typing still works after printing, and printing after typing.
  c.write_stdin("hi bob\n");
  EXPECT_EQ(room.conn.recv_line(), "[alice]hi bob");
  room.conn.send_all("error: slow down\n");
  EXPECT_EQ(c.read_line(), "error: slow down");
  c.close_stdin();  // end of input behaves like quit
  EXPECT_EQ(room.conn.recv_line(), "[alice]quit");
  room.conn.close();  // as the server does on [ID]quit
  EXPECT_EQ(c.wait(3000ms), 0);
}

// The homework's Python servers relay each chunk as it came, without a newline.
TEST(ChatClient, RawChunksFromASeedStyleServerArePrinted) {
  TcpRoom room;
  Process c = chat_client(room.listener.port(), {"--id", "alice"});
  room.accept_join("alice");
  room.conn.send_all("[bob]");
  EXPECT_EQ(c.read_line(2000ms), "[bob]");
  std::this_thread::sleep_for(150ms);
  room.conn.send_all("[bob]lunch?");
  EXPECT_EQ(c.read_line(2000ms), "[bob]lunch?");
}

// RELIABILITY #6.
TEST(ChatClient, EscapeSequencesArePrintedEscaped) {
  TcpRoom room;
  Process c = chat_client(room.listener.port(), {"--id", "alice"});
  room.accept_join("alice");
  room.conn.send_all("[eve]\x1b[2J\x1b[H\n");
  room.conn.send_all("[eve]\x1b]52;c;ZXZpbA==\x07\n");
  room.conn.send_all("[eve]\x9b" "31m \xc2\x9b" "0m\n");
  room.conn.send_all("[eve]fake\r[bob]real\n");
  room.conn.send_all("[eve]\xed\x95\x9c\xea\xb8\x80 ok\n");  // UTF-8 text passes unchanged
  EXPECT_EQ(c.read_line(), "[eve]\\x1b[2J\\x1b[H");
  EXPECT_EQ(c.read_line(), "[eve]\\x1b]52;c;ZXZpbA==\\x07");
  EXPECT_EQ(c.read_line(), "[eve]\\x9b31m \\xc2\\x9b0m");
  EXPECT_EQ(c.read_line(), "[eve]fake\\r[bob]real");
  EXPECT_EQ(c.read_line(), "[eve]\xed\x95\x9c\xea\xb8\x80 ok");
  room.conn.close();
  std::string all = c.read_all_stdout(3000ms);
  EXPECT_EQ(c.wait(3000ms), 0);
  for (char bad : {'\x1b', '\x07', '\x9b', '\r'}) EXPECT_EQ(all.find(bad), std::string::npos) << int(bad);
}

// Issue 13 item 4: text that would reorder or hide the rest of the line is shown escaped.
TEST(ChatClient, BidiAndInvisibleCharactersArePrintedEscaped) {
  TcpRoom room;
  Process c = chat_client(room.listener.port(), {"--id", "alice"});
  room.accept_join("alice");
  room.conn.send_all("[eve]pay \u202E01$\u202C now\n");
  room.conn.send_all("[eve]b\u200Bob\u2060\uFEFF\n");
  room.conn.send_all("[eve]\u2067isolate\u2069 a\u2028b\n");
  EXPECT_EQ(c.read_line(), "[eve]pay \\u202e01$\\u202c now");
  EXPECT_EQ(c.read_line(), "[eve]b\\u200bob\\u2060\\ufeff");
  EXPECT_EQ(c.read_line(), "[eve]\\u2067isolate\\u2069 a\\u2028b");
  room.conn.close();
  EXPECT_EQ(c.wait(3000ms), 0);
}

// Started with stdin closed (`<&-`): the input has ended, so the client joins and quits at
// once instead of reading its own socket or eventfd as input (which hung it before).
TEST(ChatClient, ClosedStdinLeavesLikeEndOfInput) {
  TcpRoom room;
  Process c(concur_args({"chat-client", "--port", std::to_string(room.listener.port()), "--id", "alice"}), {},
            [] { ::close(0); });
  room.accept_join("alice");
  EXPECT_EQ(room.conn.recv_line(), "[alice]quit");
  room.conn.close();
  EXPECT_EQ(c.wait(3000ms), 0);
}

TEST(ChatClient, ServerClosingIsReportedAndExitsZero) {
  TcpRoom room;
  Process c = chat_client(room.listener.port(), {"--id", "alice"});
  room.accept_join("alice");
  room.conn.send_all("error: ID 'alice' is taken\n");
  room.conn.close();
  EXPECT_EQ(c.read_line(), "error: ID 'alice' is taken");
  EXPECT_EQ(c.read_line(), "server closed the connection");
  EXPECT_EQ(c.wait(3000ms), 0);
}

TEST(ChatClient, IdFromTheFirstInputLine) {
  TcpRoom room;
  Process c = chat_client(room.listener.port());
  c.write_stdin("carol\nhello\n");
  room.accept_join("carol");
  EXPECT_EQ(room.conn.recv_line(), "[carol]hello");
  c.signal(SIGINT);
  EXPECT_EQ(room.conn.recv_line(), "[carol]quit");  // a stop still says goodbye
  EXPECT_EQ(c.wait(3000ms), 0);
}

TEST(ChatClient, OverlongLineIsRefusedNotTruncated) {
  TcpRoom room;
  Process c = chat_client(room.listener.port(), {"--id", "alice"});
  room.accept_join("alice");
  c.write_stdin(std::string(5000, 'x') + "\nshort\n");
  EXPECT_EQ(room.conn.recv_line(), "[alice]short");
  c.close_stdin();
  EXPECT_EQ(room.conn.recv_line(), "[alice]quit");
  room.conn.close();
  EXPECT_EQ(c.wait(3000ms), 0);
  std::string err = c.read_all_stderr(500ms);
  EXPECT_NE(err.find("too long"), std::string::npos) << err;
}

TEST(ChatClient, ConnectRefusedExitsOneWithOneLine) {
  int port = free_port();
  Process c = chat_client(port, {"--id", "alice"});
  EXPECT_EQ(c.wait(3000ms), 1);
  EXPECT_EQ(c.read_all_stderr(500ms),
            "concur: cannot connect to 127.0.0.1:" + std::to_string(port) + ": Connection refused\n");
}

TEST(ChatClient, UdpToNoServerExitsOneWithOneLine) {
  int port = free_port(true);
  Process c = chat_client(port, {"--id", "alice", "--transport", "udp"});
  EXPECT_EQ(c.wait(3000ms), 1);
  EXPECT_EQ(c.read_all_stderr(500ms),
            "concur: cannot connect to 127.0.0.1:" + std::to_string(port) + ": Connection refused\n");
}

TEST(ChatClient, BadUsageExitsTwoWithOneLine) {
  const std::vector<std::vector<std::string>> cases = {
      {"chat-client", "--transport", "sctp", "--id", "a"},
      {"chat-client", "--id", "a[b]"},
      {"chat-client", "--id", ""},
      {"chat-client", "--id", std::string(33, 'n')},
      {"chat-client", "--id", "bell\x07"},
      {"chat-client", "--id", "a", "--port", "0"},
      {"chat-client", "--id", "a", "--host", "nowhere"},
      {"chat-client", "--id", "a", "--bogus"},
  };
  std::vector<std::unique_ptr<Process>> procs;  // all at once: a sanitized start-up is slow
  for (const auto& args : cases) procs.push_back(std::make_unique<Process>(concur_args(args)));
  for (size_t i = 0; i < cases.size(); ++i) EXPECT_TRUE(is_usage_error(*procs[i], "")) << cases[i].at(2);
}

TEST(ChatClient, InvalidOrMissingIdOnInputExitsTwo) {
  for (std::string input : {"[x]\n", ""}) {
    Process p(concur_args({"chat-client", "--port", std::to_string(free_port())}));
    p.write_stdin(input);
    p.close_stdin();
    EXPECT_TRUE(is_usage_error(p, "")) << input;
  }
}

// --- UDP against the lecture's udp_multi_chat_server.py (port from argv, nothing else changed). ---

constexpr const char* kSeedUdpServer = R"PY(import socket
import time
import sys

clients = []    # client list

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('', int(sys.argv[1])))

print('Server Started')

while True:
    data, addr = s.recvfrom(1024)
    if 'quit' in data.decode():
        if addr in clients:
            print(addr, 'exited')
            clients.remove(addr)
            continue

    if addr not in clients:
        print('new client', addr)
        clients.append(addr)

    print(time.asctime() + str(addr) + ':' + data.decode())

    for client in clients:
        if client != addr:
            s.sendto(data, client)
)PY";

TEST(ChatClientSeed, UdpGroupChatWithSeedServer) {
  auto py = python3();
  ASSERT_TRUE(py) << not_installed("python3");
  TempDir dir;
  int port = free_port(true);
  Process server({*py, "-u", dir.write("udp_multi_chat_server.py", kSeedUdpServer), std::to_string(port)});
  ASSERT_TRUE(server.wait_for_line("Server Started")) << server.read_all_stderr(100ms);
  ASSERT_TRUE(wait_udp_bound(port));

  Process alice = chat_client(port, {"--transport", "udp", "--id", "alice"});
  ASSERT_TRUE(server.wait_for_line(":[alice]"));
  Process bob = chat_client(port, {"--transport", "udp", "--id", "bob"});
  ASSERT_TRUE(server.wait_for_line(":[bob]"));
  EXPECT_EQ(alice.read_line(), "[bob]");  // the join is relayed, as the seed does

  bob.write_stdin("lunch?\n");
  EXPECT_EQ(alice.read_line(), "[bob]lunch?");
  alice.write_stdin("\xec\xa2\x8b\xec\x8a\xb5\xeb\x8b\x88\xeb\x8b\xa4\n");  // Korean text, as in the lecture
  EXPECT_EQ(bob.read_line(), "[alice]\xec\xa2\x8b\xec\x8a\xb5\xeb\x8b\x88\xeb\x8b\xa4");

  alice.write_stdin("quit\n");
  EXPECT_EQ(alice.wait(3000ms), 0);
  EXPECT_TRUE(server.wait_for_line("exited"));
  bob.close_stdin();
  EXPECT_EQ(bob.wait(3000ms), 0);
  EXPECT_EQ(alice.read_all_stderr(100ms), "");
  if (HasFailure()) ADD_FAILURE() << describe(alice, "alice") << describe(bob, "bob") << describe(server, "seed");
}

TEST(ChatClientSeed, UdpEscapesWhatTheSeedServerRelays) {
  auto py = python3();
  ASSERT_TRUE(py) << not_installed("python3");
  TempDir dir;
  int port = free_port(true);
  Process server({*py, "-u", dir.write("udp_multi_chat_server.py", kSeedUdpServer), std::to_string(port)});
  ASSERT_TRUE(server.wait_for_line("Server Started"));
  ASSERT_TRUE(wait_udp_bound(port));
  Process alice = chat_client(port, {"--transport", "udp", "--id", "alice"});
  ASSERT_TRUE(server.wait_for_line(":[alice]"));
  // A raw UDP "member" sends an escape sequence; the seed relays it untouched.
  FileDesc eve = udp_connect(Endpoint::parse("127.0.0.1", static_cast<uint16_t>(port)));
  std::string evil = "[eve]\x1b[2J\x1b]0;pwned\x07";
  ASSERT_EQ(::send(eve.get(), evil.data(), evil.size(), 0), static_cast<ssize_t>(evil.size()));
  EXPECT_EQ(alice.read_line(), "[eve]\\x1b[2J\\x1b]0;pwned\\x07");
  alice.close_stdin();
  EXPECT_EQ(alice.wait(3000ms), 0);
  if (HasFailure()) ADD_FAILURE() << describe(alice, "alice") << describe(server, "seed");
}

}  // namespace
}  // namespace concur::test
