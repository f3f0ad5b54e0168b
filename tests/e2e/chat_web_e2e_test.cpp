// chat-server --web as users run it: WebSocket members in the same room as TCP and UDP members,
// under the same rules (unique IDs, no echo, --rate, 4096 bytes, --join-timeout, --max-queue), the
// seed's log lines, and the strict HTTP side (400/404/405/431, Origin, CSP). The client is the
// test's own (support/ws_client), not the server's wslay, so each checks the other.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <memory>
#include <regex>
#include <thread>
#include <string>
#include <vector>

#include "core/endpoint.hpp"
#include "core/socket.hpp"
#include "models/model.hpp"
#include "support/model_available.hpp"
#include "support/net.hpp"
#include "support/ports.hpp"
#include "support/process.hpp"
#include "support/ws_client.hpp"

namespace concur::test {
namespace {

struct WebChat {
  explicit WebChat(std::vector<std::string> extra = {}) : s(args(std::move(extra))) {
    auto line = s.proc.wait_for_line("(http, web)");
    EXPECT_TRUE(line) << "no web listening line";
    std::smatch m;
    if (line && std::regex_search(*line, m, std::regex(R"(^listening on [0-9.]+:(\d+) \(http, web\)$)")))
      web = std::stoi(m[1]);
  }
  static std::vector<std::string> args(std::vector<std::string> extra) {
    std::vector<std::string> a = {"chat-server", "--port", "0", "--bind", "127.0.0.1", "--web", "0"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  Server s;
  int web = 0;
};

// Under every model chat-server takes (the registry's can_share_a_room).
class ChatWebModels : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { SKIP_IF_MODEL_UNAVAILABLE(GetParam()); }
};

TEST_P(ChatWebModels, BrowserAndTcpMembersShareOneRoom) {
  WebChat w({"--model", GetParam()});
  ASSERT_NE(w.web, 0);
  WsClient ws(w.web);
  ASSERT_TRUE(ws.ok()) << ws.answer();
  ASSERT_TRUE(w.s.proc.wait_for_line("new client " + seed_address(local_port(ws.fd()))));
  ws.send_text("[web]");
  ASSERT_TRUE(ws.sync());
  TestClient tcp(w.s.port);
  tcp.send_all("[tcp]\n");
  EXPECT_EQ(ws.recv_text(), "[tcp]");
  ws.send_text("[web]hello tcp");
  EXPECT_EQ(tcp.recv_line(), "[web]hello tcp");
  ASSERT_TRUE(w.s.proc.wait_for_line(seed_address(local_port(ws.fd())) + ":[web]hello tcp"));
  ws.send_text("no prefix");
  EXPECT_EQ(tcp.recv_line(), "[web]no prefix");
  tcp.send_all("[tcp]hello web\n");
  EXPECT_EQ(ws.recv_text(), "[tcp]hello web");  // and nothing of its own came back before it
  ws.send_text("[web]quit");
  EXPECT_EQ(ws.recv_text(), std::nullopt);
  EXPECT_EQ(ws.close_code(), 1000);
  ASSERT_TRUE(w.s.proc.wait_for_line(seed_address(local_port(ws.fd())) + " exited"));
}

INSTANTIATE_TEST_SUITE_P(EveryModel, ChatWebModels, ::testing::ValuesIn(model_names(can_share_a_room)),
                         [](const auto& info) { return info.param; });

TEST(ChatWebE2E, TwoBrowsersAndRulesOfEveryMember) {
  WebChat w({"--rate", "1", "--burst", "3"});
  WsClient a(w.web), b(w.web);
  ASSERT_TRUE(a.ok() && b.ok());
  a.send_text("[alice]");
  ASSERT_TRUE(a.sync());
  b.send_text("[bob]");
  EXPECT_EQ(a.recv_text(), "[bob]");
  b.send_text("[alice]I am alice");  // impersonation: refused to its sender, not relayed
  auto err = b.recv_text();
  ASSERT_TRUE(err);
  EXPECT_EQ(err->rfind("error: ", 0), 0u) << *err;
  b.send_text("[bob]bad\ncontrol");
  EXPECT_EQ(b.recv_text()->rfind("error: ", 0), 0u);
  for (int i = 0; i < 5; ++i) b.send_text("[bob]m" + std::to_string(i));
  std::vector<std::string> got;
  bool slowed = false;
  while (auto t = b.recv_text(Ms(1500))) {
    if (*t == "error: slow down") slowed = true;
  }
  EXPECT_TRUE(slowed);
  while (auto t = a.recv_text(Ms(300))) got.push_back(*t);
  EXPECT_LE(got.size(), 3u);  // the burst, never the impersonation or the control character
  for (const auto& g : got) EXPECT_EQ(g.rfind("[bob]m", 0), 0u) << g;
}

TEST(ChatWebE2E, IdsAreUniqueAcrossTransports) {
  WebChat w;
  TestClient tcp(w.s.port);
  tcp.send_all("[Bob]\n");
  ASSERT_TRUE(w.s.proc.wait_for_line(":[Bob]"));
  WsClient ws(w.web);
  ws.send_text("[bob]");
  auto err = ws.recv_text();
  ASSERT_TRUE(err);
  EXPECT_NE(err->find("taken"), std::string::npos) << *err;
  EXPECT_EQ(ws.recv_text(), std::nullopt);
  EXPECT_EQ(ws.close_code(), 4000);
  WsClient bad(w.web);
  bad.send_text("[a[b]");
  EXPECT_EQ(bad.recv_text()->rfind("error: ", 0), 0u);
}

TEST(ChatWebE2E, MessagesOver4096BytesAreRefused) {
  WebChat w;
  WsClient ws(w.web);
  ws.send_text("[big]");
  ws.send_text("[big]" + std::string(4091, 'a'));  // exactly 4096: fine
  TestClient tcp(w.s.port);
  ws.send_text("[big]" + std::string(4092, 'a'));
  EXPECT_EQ(ws.recv_text(), "error: line too long");
  EXPECT_EQ(ws.recv_text(), std::nullopt);
}

TEST(ChatWebE2E, JoinTimeoutAndPing) {
  WebChat w({"--join-timeout", "0.3"});
  WsClient ws(w.web);
  ws.send_frame(9, "are you there");
  auto pong = ws.recv_frame();
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->first, 10);
  EXPECT_EQ(pong->second, "are you there");
  auto err = ws.recv_text(Ms(3000));
  ASSERT_TRUE(err);
  EXPECT_NE(err->find("join timeout"), std::string::npos) << *err;
}

TEST(ChatWebE2E, AMemberThatStopsReadingIsDroppedOthersGoOn) {
  WebChat w({"--max-queue", "65536", "--rate", "0", "--quiet"});  // --quiet: 4 KB log lines would fill our pipe
  WsClient stalled(w.web), reader(w.web);
  reader.send_text("[reader]");
  ASSERT_TRUE(reader.sync());
  stalled.send_text("[stalled]");
  ASSERT_EQ(reader.recv_text(), "[stalled]");  // both are members now
  int rcv = 4096;  // a small receive buffer, so the server's queue fills soon
  ::setsockopt(stalled.fd(), SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
  TestClient tcp(w.s.port);
  tcp.send_all("[flood]\n");
  ASSERT_EQ(reader.recv_text(), "[flood]");
  const std::string chunk(4000, 'x');
  bool dropped = false;
  for (int i = 0; i < 4000 && !dropped; ++i) {
    tcp.send_all("[flood]" + chunk + "\n");
    auto m = reader.recv_text();  // the reader keeps up, message by message
    ASSERT_TRUE(m) << "the reader stopped receiving at message " << i;
    if (i % 50 == 49)
      for (const auto& l : w.s.proc.lines())
        if (l.find("not reading") != std::string::npos) dropped = true;
    if (i % 50 == 49 && !dropped) dropped = w.s.proc.wait_for_line("not reading", Ms(1)).has_value();
  }
  if (!dropped) dropped = w.s.proc.wait_for_line(seed_address(local_port(stalled.fd())) + " exited (disconnected: not reading", Ms(5000)).has_value();
  EXPECT_TRUE(dropped);
  tcp.send_all("[flood]after\n");
  std::optional<std::string> m;
  while ((m = reader.recv_text()) && *m != "[flood]after") {
  }
  EXPECT_EQ(m, "[flood]after");
}

TEST(ChatWebE2E, UdpMembersMeetBrowsersToo) {
  WebChat w({"--transport", "udp"});
  FileDesc udp = udp_connect(Endpoint::parse("127.0.0.1", static_cast<uint16_t>(w.s.port)));
  auto udp_recv = [&]() -> std::string {
    pollfd p{udp.get(), POLLIN, 0};
    if (::poll(&p, 1, 3000) != 1) return "(nothing)";
    char buf[256];
    ssize_t n = ::recv(udp.get(), buf, sizeof buf, 0);
    return std::string(buf, static_cast<size_t>(std::max<ssize_t>(n, 0)));
  };
  WsClient ws(w.web);
  ws.send_text("[web]");
  ASSERT_TRUE(ws.sync());  // joined: it will see the UDP member's join
  ASSERT_EQ(::send(udp.get(), "[udp]", 5, 0), 5);
  EXPECT_EQ(ws.recv_text(), "[udp]");
  ws.send_text("[web]hi udp");
  EXPECT_EQ(udp_recv(), "[web]hi udp");
  ASSERT_EQ(::send(udp.get(), "[udp]hi web", 11, 0), 11);
  EXPECT_EQ(ws.recv_text(), "[udp]hi web");
}

TEST(ChatWebE2E, StrictHttp) {
  WebChat w;
  std::string page = http_get(w.web, "/");
  EXPECT_EQ(page.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_NE(page.find("Content-Security-Policy: default-src 'none'; script-src 'self'"), std::string::npos);
  EXPECT_NE(page.find("<script src=\"/chat.js\">"), std::string::npos);
  EXPECT_EQ(http_get(w.web, "/chat.js").rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_EQ(http_get(w.web, "/nope").rfind("HTTP/1.1 404 ", 0), 0u);
  EXPECT_EQ(http_exchange(w.web, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").rfind("HTTP/1.1 405 ", 0), 0u);
  EXPECT_EQ(http_exchange(w.web, "GET / HTTP/1.1\r\nHost: x\r\nX: " + std::string(9000, 'a') + "\r\n\r\n")
                .rfind("HTTP/1.1 431 ", 0), 0u);
  EXPECT_EQ(http_exchange(w.web, "GET / HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 400 ", 0), 0u);
  EXPECT_EQ(http_get(w.web, "/ws").rfind("HTTP/1.1 426 ", 0), 0u);
  WsClient evil(w.web, "/ws", "http://evil.example");
  EXPECT_FALSE(evil.ok());
  EXPECT_EQ(evil.answer().rfind("HTTP/1.1 403 ", 0), 0u) << evil.answer();
  WsClient same(w.web, "/ws", "http://127.0.0.1:" + std::to_string(w.web));
  EXPECT_TRUE(same.ok()) << same.answer();
}

TEST(ChatWebE2E, WebOriginAllowsOthers) {
  WebChat w({"--web-origin", "http://chat.example"});
  WsClient ok(w.web, "/ws", "http://chat.example");
  EXPECT_TRUE(ok.ok()) << ok.answer();
  WsClient other(w.web, "/ws", "http://evil.example");
  EXPECT_FALSE(other.ok());
}

// The web port is a listener like the chat port (one admission gate): --max-clients bounds its
// open connections, an extra one gets 503 and is closed, and a place that frees up is reused.
TEST(ChatWebE2E, MaxClientsBoundsTheWebPortToo) {
  WebChat w({"--max-clients", "2"});
  ASSERT_NE(w.web, 0);
  WsClient a(w.web);
  auto b = std::make_unique<WsClient>(w.web);
  ASSERT_TRUE(a.ok() && b->ok()) << a.answer() << b->answer();
  a.send_text("[alice]");
  ASSERT_TRUE(a.sync());
  b->send_text("[bob]");
  EXPECT_EQ(a.recv_text(), "[bob]");
  std::string full = http_get(w.web, "/");
  EXPECT_EQ(full.rfind("HTTP/1.1 503 ", 0), 0u) << full;
  EXPECT_NE(full.find("server full"), std::string::npos) << full;
  EXPECT_TRUE(w.s.proc.wait_for_stderr("server full (2 clients)"));
  WsClient c(w.web);
  EXPECT_FALSE(c.ok());
  b->send_text("[bob]quit");
  EXPECT_EQ(b->recv_text(), std::nullopt);  // the server's close frame
  b.reset();                                // and our side closes: the place frees once it is gone
  // Nothing says when the server has closed its side; ask again for a bounded time.
  std::string page;
  for (auto until = std::chrono::steady_clock::now() + 3s; std::chrono::steady_clock::now() < until;) {
    page = http_get(w.web, "/");
    if (page.rfind("HTTP/1.1 200 OK\r\n", 0) == 0) break;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(page.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << "the freed place is not reused: " << page;
  WsClient d(w.web);
  ASSERT_TRUE(d.ok()) << d.answer();
  d.send_text("[dave]");
  EXPECT_EQ(a.recv_text(), "[dave]");
}

// The web port is admitted by the one gate too: past --max-per-ip a page gets an HTTP 429 before
// any upgrade. The close codes are the chat service's: a refusal closes with 4000 ("do not
// reconnect"), a quit with 1000.
TEST(ChatWebE2E, MaxPerIpAndCloseCodesAreTheChatServicesOwn) {
  WebChat w({"--max-per-ip", "1"});
  ASSERT_NE(w.web, 0);
  WsClient a(w.web);
  ASSERT_TRUE(a.ok()) << a.answer();
  a.send_text("[alice]");
  ASSERT_TRUE(a.sync());
  WsClient b(w.web);
  EXPECT_FALSE(b.ok());
  EXPECT_EQ(b.answer().rfind("HTTP/1.1 429 ", 0), 0u) << b.answer();
  EXPECT_TRUE(w.s.proc.wait_for_stderr("more than 1 connections from 127.0.0.1"));
  a.send_text("[alice]quit");
  EXPECT_EQ(a.recv_text(), std::nullopt);
  EXPECT_EQ(a.close_code(), std::optional<uint16_t>(1000));
  WebChat v;
  WsClient refused(v.web);
  ASSERT_TRUE(refused.ok()) << refused.answer();
  refused.send_text("no join");
  EXPECT_EQ(refused.recv_text(), "error: join first: send [ID]");
  EXPECT_EQ(refused.recv_text(), std::nullopt);
  EXPECT_EQ(refused.close_code(), std::optional<uint16_t>(4000));
}

// A message split over several frames (a continuation) and frames split over TCP segments reach
// the service as one message: the codec, not the transport, decides where a message ends.
TEST(ChatWebE2E, FragmentedMessagesArriveWhole) {
  WebChat w;
  ASSERT_NE(w.web, 0);
  WsClient a(w.web), b(w.web);
  ASSERT_TRUE(a.ok() && b.ok());
  a.send_text("[alice]");
  ASSERT_TRUE(a.sync());
  b.send_text("[bob]");
  EXPECT_EQ(a.recv_text(), "[bob]");
  b.send_frame(1, "[bob]hel", false);
  b.send_frame(0, "lo ", false);
  b.send_frame(0, "there", true);
  EXPECT_EQ(a.recv_text(), "[bob]hello there");
  b.send_frame(2, "binary");  // text messages only: closed with 1003, the room goes on
  EXPECT_EQ(b.recv_text(), std::nullopt);
  EXPECT_EQ(b.close_code(), std::optional<uint16_t>(1003));
  WsClient c(w.web);
  ASSERT_TRUE(c.ok());
  c.send_text("[carol]hi");
  EXPECT_EQ(a.recv_text(), "[carol]");
  EXPECT_EQ(a.recv_text(), "[carol]hi");
}

TEST(ChatWebE2E, BusyWebPortFailsAtStart) {
  WebChat w;
  Process p({concur_binary(), "chat-server", "--port", "0", "--web", std::to_string(w.web)});
  EXPECT_EQ(p.wait(), 1);
  EXPECT_NE(p.read_all_stderr().find("cannot bind"), std::string::npos);
}

}  // namespace
}  // namespace concur::test
