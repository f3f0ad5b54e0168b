// pair-chat server|client (SPEC §3 pair-chat; RELIABILITY #6, #19, #22): the real binary, with
// stdin/stdout pipes, against itself, against a raw loopback peer played by the test, and
// against the lecture's own Python programs.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/stop.hpp"
#include "support/installed.hpp"
#include "support/net.hpp"
#include "support/process.hpp"
#include "support/seed_peer.hpp"
#include "support/usage_error.hpp"

namespace concur::test {
namespace {

using Lines = std::vector<std::string>;

// A pair-chat server on a free loopback port.
struct PairServer : Server {
  PairServer() : Server({"pair-chat", "server", "--port", "0", "--bind", "127.0.0.1"}) {}
};

Process pair_client(int port) {
  return Process(concur_args({"pair-chat", "client", "--port", std::to_string(port)}));
}

TEST(PairChat, ListeningLineComesFirst) {
  PairServer s;
  EXPECT_NE(s.listening_line.find("(tcp, model=thread)"), std::string::npos) << s.listening_line;
  EXPECT_NE(s.listening_line.find("127.0.0.1:"), std::string::npos) << s.listening_line;
  s.proc.signal(SIGTERM);
  EXPECT_EQ(s.proc.wait(3000ms), 0);  // a clean stop while still waiting for the peer
}

TEST(PairChat, BothSidesSendAtOnceAndBothReceive) {
  PairServer s;
  Process c = pair_client(s.port);
  ASSERT_TRUE(s.proc.wait_for_line("peer connected from 127.0.0.1:"));
  ASSERT_TRUE(c.wait_for_line("connected to 127.0.0.1:" + std::to_string(s.port)));

  // Both type before anyone reads: neither side waits for its turn.
  s.proc.write_stdin("from server 1\nfrom server 2\n");
  c.write_stdin("from client 1\nfrom client 2\nfrom client 3\n");

  EXPECT_EQ(wait_for_lines(s.proc, {"-> from server 1", "-> from server 2", "<- from client 1", "<- from client 2",
                                    "<- from client 3"}),
            Lines{});
  EXPECT_EQ(wait_for_lines(c, {"-> from client 1", "-> from client 2", "-> from client 3", "<- from server 1",
                               "<- from server 2"}),
            Lines{});

  // One side alone keeps talking: the other prints without typing anything.
  s.proc.write_stdin("only the server talks\n");
  EXPECT_TRUE(c.wait_for_line("<- only the server talks"));

  // End of input on both sides: both exit 0.
  c.close_stdin();
  s.proc.close_stdin();
  EXPECT_EQ(c.wait(3000ms), 0);
  EXPECT_EQ(s.proc.wait(3000ms), 0);
}

TEST(PairChat, ReceivedOrderIsSentOrder) {
  PairServer s;
  Process c = pair_client(s.port);
  ASSERT_TRUE(s.proc.wait_for_line("peer connected"));
  std::string burst;
  for (int i = 0; i < 200; ++i) burst += "line " + std::to_string(i) + "\n";
  c.write_stdin(burst);
  for (int i = 0; i < 200; ++i) {
    auto line = s.proc.wait_for_line("<- ");
    ASSERT_TRUE(line) << i;
    EXPECT_EQ(*line, "<- line " + std::to_string(i));
  }
  s.proc.signal(SIGINT);
  EXPECT_EQ(s.proc.wait(3000ms), 0);
  EXPECT_TRUE(c.wait_for_line("peer left"));
  EXPECT_EQ(c.wait(3000ms), 0);
}

TEST(PairChat, PeerLeavingEndsTheOtherSideCleanly) {
  PairServer s;
  {
    Process c = pair_client(s.port);
    ASSERT_TRUE(s.proc.wait_for_line("peer connected"));
    c.write_stdin("bye\n");
    ASSERT_TRUE(s.proc.wait_for_line("<- bye"));
    c.signal(SIGKILL);  // not even a goodbye: the kernel closes the socket
    c.wait(3000ms);
  }
  EXPECT_TRUE(s.proc.wait_for_line("peer left"));
  EXPECT_EQ(s.proc.wait(3000ms), 0);
}

TEST(PairChat, SignalDuringChatExitsZeroAndThePeerSeesIt) {
  PairServer s;
  Process c = pair_client(s.port);
  ASSERT_TRUE(s.proc.wait_for_line("peer connected"));
  c.signal(SIGTERM);
  EXPECT_EQ(c.wait(3000ms), 0);
  EXPECT_TRUE(s.proc.wait_for_line("peer left"));
  EXPECT_EQ(s.proc.wait(3000ms), 0);
  EXPECT_EQ(s.proc.read_all_stderr(100ms), "");
}

// RELIABILITY #19: the peer vanishes (reset) while we still have lots to send: no SIGPIPE death.
TEST(PairChat, PeerResetWhileSendingIsNoCrash) {
  ignore_sigpipe();
  PeerListener l;
  Process c = pair_client(l.port());
  PeerConn peer = l.accept();
  ASSERT_TRUE(peer.valid());
  std::string line(1000, 'z');
  line += "\n";
  std::string bulk;
  for (int i = 0; i < 256; ++i) bulk += line;
  // 256 KB, more than the socket buffers hold while the peer does not read. From a thread: the
  // client echoes every line ("-> …") and this thread must keep reading its stdout meanwhile.
  std::thread writer([&] { c.write_stdin(bulk); });
  auto first = peer.recv_line();
  EXPECT_TRUE(first && first->size() == 1000u);
  peer.close();  // unread data: the kernel answers with a reset
  EXPECT_TRUE(c.wait_for_line("peer left"));
  EXPECT_EQ(c.wait(3000ms), 0);
  if (c.running()) c.signal(SIGKILL);  // never leave the writer blocked
  writer.join();
}

// RELIABILITY #22, client side: end of input half-closes; what the peer sends afterwards is still
// printed until the peer closes too.
TEST(PairChat, ClientHalfCloseKeepsReceiving) {
  PeerListener l;
  Process c = pair_client(l.port());
  PeerConn peer = l.accept();
  ASSERT_TRUE(peer.valid());
  c.write_stdin("last words\n");
  c.close_stdin();
  EXPECT_EQ(peer.recv_line(), "last words");
  EXPECT_TRUE(peer.wait_eof()) << "end of input should half-close (FIN)";
  peer.send_all("reply 1\n");
  EXPECT_TRUE(c.wait_for_line("<- reply 1"));
  std::this_thread::sleep_for(100ms);
  peer.send_all("reply 2\n");
  EXPECT_TRUE(c.wait_for_line("<- reply 2"));
  EXPECT_TRUE(c.running());
  peer.close();
  EXPECT_TRUE(c.wait_for_line("peer left"));
  EXPECT_EQ(c.wait(3000ms), 0);
}

// RELIABILITY #22, server side.
TEST(PairChat, ServerHalfCloseKeepsReceiving) {
  PairServer s;
  TestClient peer(s.port);
  ASSERT_TRUE(s.proc.wait_for_line("peer connected"));
  s.proc.write_stdin("server done\n");
  s.proc.close_stdin();
  EXPECT_EQ(peer.recv_line(3000ms), "server done");
  EXPECT_TRUE(peer.recv_until_eof(3000ms).has_value());
  peer.send_all("still here\n");
  EXPECT_TRUE(s.proc.wait_for_line("<- still here"));
  peer.shutdown_write();
  EXPECT_TRUE(s.proc.wait_for_line("peer left"));
  EXPECT_EQ(s.proc.wait(3000ms), 0);
}

TEST(PairChat, OnlyOnePeerIsServed) {
  PairServer s;
  TestClient first(s.port);
  ASSERT_TRUE(s.proc.wait_for_line("peer connected"));
  EXPECT_ANY_THROW(TestClient second(s.port));  // the listener is closed once the peer is in
  first.send_all("hi\n");
  EXPECT_TRUE(s.proc.wait_for_line("<- hi"));
}

// The seed's Python peers send each message as a bare chunk, with no newline.
TEST(PairChat, ChunksWithoutNewlineArePrintedAsTheyArrive) {
  PairServer s;
  TestClient peer(s.port);
  ASSERT_TRUE(s.proc.wait_for_line("peer connected"));
  peer.send_all("Hi");
  EXPECT_EQ(s.proc.read_line(2000ms), "<- Hi");
  std::this_thread::sleep_for(150ms);
  peer.send_all("Nice to meet you.");
  EXPECT_EQ(s.proc.read_line(2000ms), "<- Nice to meet you.");
  // A line split across segments is still one line.
  peer.send_all("split ");
  peer.send_all("line\r\n");
  EXPECT_EQ(s.proc.read_line(2000ms), "<- split line");
}

// RELIABILITY #6: received control characters never reach the terminal.
TEST(PairChat, EscapeSequencesArePrintedEscaped) {
  PairServer s;
  TestClient peer(s.port);
  ASSERT_TRUE(s.proc.wait_for_line("peer connected"));
  peer.send_all("\x1b[2Jclear\n");
  peer.send_all("\x1b]0;title\x07\n");
  peer.send_all("c1 \xc2\x9b" "31m and raw \x9b\n");
  peer.send_all("visible\rhidden\b\n");
  EXPECT_EQ(s.proc.read_line(), "<- \\x1b[2Jclear");
  EXPECT_EQ(s.proc.read_line(), "<- \\x1b]0;title\\x07");
  EXPECT_EQ(s.proc.read_line(), "<- c1 \\xc2\\x9b31m and raw \\x9b");
  EXPECT_EQ(s.proc.read_line(), "<- visible\\rhidden\\x08");
  peer.close();
  std::string all = s.proc.read_all_stdout(3000ms);
  EXPECT_EQ(s.proc.wait(3000ms), 0);
  for (char bad : {'\x1b', '\x07', '\x9b', '\r', '\b'}) EXPECT_EQ(all.find(bad), std::string::npos) << int(bad);
}

// Issue 13 item 4: bidi controls, zero-width characters, U+2028/U+2029 and a BOM are shown escaped.
TEST(PairChat, BidiAndInvisibleCharactersArePrintedEscaped) {
  PairServer s;
  TestClient peer(s.port);
  ASSERT_TRUE(s.proc.wait_for_line("peer connected"));
  peer.send_all("\u202Egnp.exe\u202D\u200B\u2029\uFEFF\n");
  EXPECT_EQ(s.proc.read_line(), "<- \\u202egnp.exe\\u202d\\u200b\\u2029\\ufeff");
  peer.close();
  EXPECT_EQ(s.proc.wait(3000ms), 0);
}

TEST(PairChat, WorksOverIpv6Loopback) {
  if (std::string why = why_no_ipv6_loopback(); !why.empty()) GTEST_SKIP() << why;
  Process s(concur_args({"pair-chat", "server", "--port", "0", "--bind", "::1"}));
  auto first = s.read_line(3000ms);
  ASSERT_TRUE(first) << "no listening line; stderr: " << s.read_all_stderr(200ms);
  ASSERT_EQ(first->rfind("listening on [::1]:", 0), 0u) << *first;
  std::string port = first->substr(first->find("]:") + 2);
  port = port.substr(0, port.find(' '));
  Process c(concur_args({"pair-chat", "client", "--host", "::1", "--port", port}));
  ASSERT_TRUE(s.wait_for_line("peer connected from [::1]:"));
  c.write_stdin("over v6\n");
  EXPECT_TRUE(s.wait_for_line("<- over v6"));
  c.close_stdin();
  s.close_stdin();
  EXPECT_EQ(c.wait(3000ms), 0);
  EXPECT_EQ(s.wait(3000ms), 0);
}

TEST(PairChat, ConnectRefusedExitsOneWithOneLine) {
  int port = free_port();
  Process c = pair_client(port);
  EXPECT_EQ(c.wait(3000ms), 1);
  EXPECT_EQ(c.read_all_stderr(500ms),
            "concur: cannot connect to 127.0.0.1:" + std::to_string(port) + ": Connection refused\n");
}

TEST(PairChat, BadUsageExitsTwoWithOneLine) {
  const std::vector<std::vector<std::string>> cases = {
      {"pair-chat"},
      {"pair-chat", "talk"},
      {"pair-chat", "server", "--port", "70000"},
      {"pair-chat", "server", "--bind", "not-an-address"},
      {"pair-chat", "client", "--host", "not-an-address"},
      {"pair-chat", "client", "--port", "0"},
      {"pair-chat", "client", "--bind", "127.0.0.1"},
  };
  std::vector<std::unique_ptr<Process>> procs;  // all at once: a sanitized start-up is slow
  for (const auto& args : cases) procs.push_back(std::make_unique<Process>(concur_args(args)));
  for (size_t i = 0; i < cases.size(); ++i) EXPECT_TRUE(is_usage_error(*procs[i], "")) << cases[i].back();
}

// --- The lecture's own programs (tcp_thread_chat_server.py / _client.py), port from argv. ---

constexpr const char* kSeedServer = R"PY(from socket import *
import threading
import sys

port = int(sys.argv[1])
BUFSIZE = 1024

def sendTask(sock):
    while True:
        resp = input()
        print('->', resp)
        sock.send(resp.encode())

s = socket(AF_INET, SOCK_STREAM)
s.bind(('', port))
s.listen(1)
conn, addr = s.accept()

th = threading.Thread(target=sendTask, args=(conn,))
th.start()

while True:
    data = conn.recv(BUFSIZE)
    print('<-', data.decode())
)PY";

constexpr const char* kSeedClient = R"PY(from socket import *
import threading
import sys

port = int(sys.argv[1])
BUFSIZE = 1024

def recvTask(sock):
    while True:
        data = sock.recv(BUFSIZE)
        print('<- ', data.decode())

sock = socket(AF_INET, SOCK_STREAM)
sock.connect(('localhost', port))

th = threading.Thread(target=recvTask, args=(sock,))
th.start()

while True:
    msg = input()
    print('-> ', msg)
    sock.send(msg.encode())
)PY";

TEST(PairChatSeed, ConcurClientTalksToSeedServer) {
  auto py = python3();
  ASSERT_TRUE(py) << not_installed("python3");
  TempDir dir;
  int port = free_port();
  Process seed({*py, "-u", dir.write("tcp_thread_chat_server.py", kSeedServer), std::to_string(port)});
  ASSERT_TRUE(wait_tcp_listening(port)) << seed.read_all_stderr(100ms);
  Process c = pair_client(port);
  ASSERT_TRUE(c.wait_for_line("connected to"));
  // One direction at a time here: the seed's two threads print unsynchronized, so its stdout
  // is only readable when they take turns (concur's own full duplex is tested above).
  c.write_stdin("Hello\n");
  EXPECT_TRUE(seed.wait_for_line("<- Hello"));
  seed.write_stdin("Hi\n");
  EXPECT_TRUE(c.wait_for_line("<- Hi"));
  std::this_thread::sleep_for(100ms);
  seed.write_stdin("Nice to meet you.\n");
  EXPECT_TRUE(c.wait_for_line("<- Nice to meet you."));
  // The seed never closes by itself (it spins on recv() == b'' once we leave): kill it.
  seed.signal(SIGKILL);
  seed.wait(3000ms);
  EXPECT_TRUE(c.wait_for_line("peer left"));
  EXPECT_EQ(c.wait(3000ms), 0);
  if (HasFailure()) ADD_FAILURE() << describe(c, "concur") << describe(seed, "seed");
}

TEST(PairChatSeed, SeedClientTalksToConcurServer) {
  auto py = python3();
  ASSERT_TRUE(py) << not_installed("python3");
  TempDir dir;
  Server s({"pair-chat", "server", "--port", "0"});  // binds 0.0.0.0 like the seed; it dials 'localhost'
  Process seed({*py, "-u", dir.write("tcp_thread_chat_client.py", kSeedClient), std::to_string(s.port)});
  ASSERT_TRUE(s.proc.wait_for_line("peer connected from 127.0.0.1:")) << seed.read_all_stderr(100ms);
  seed.write_stdin("What is your concern these days?\n");
  EXPECT_TRUE(s.proc.wait_for_line("<- What is your concern these days?"));
  s.proc.write_stdin("There are a lot of homeworks!\n");  // (one at a time: see above)
  EXPECT_TRUE(seed.wait_for_line("<-  There are a lot of homeworks!"));
  seed.signal(SIGKILL);
  seed.wait(3000ms);
  EXPECT_TRUE(s.proc.wait_for_line("peer left"));
  EXPECT_EQ(s.proc.wait(3000ms), 0);
  if (HasFailure()) ADD_FAILURE() << describe(s.proc, "concur") << describe(seed, "seed");
}

}  // namespace
}  // namespace concur::test
