// The chat services driven through a fake Conn and a fake datagram sink: no sockets, no models,
// so each rule is checked on its own and time is under the test's control.
#include <gtest/gtest.h>

#include <limits>
#include <mutex>

#include "services/chat_tcp.hpp"
#include "services/chat_udp.hpp"

namespace concur::chat {
namespace {

class FakeConn final : public Conn, public std::enable_shared_from_this<FakeConn> {
 public:
  explicit FakeConn(uint16_t port, std::string ip = "127.0.0.1", size_t max_queue = std::numeric_limits<size_t>::max())
      : id_(port), peer_(Endpoint::parse(ip, port)), max_queue_(max_queue) {}
  uint64_t id() const override { return id_; }
  const Endpoint& peer() const override { return peer_; }
  bool send(std::string_view bytes) override {
    std::lock_guard lock(mu_);
    if (closed_ || overflowed_) return false;
    if (out_.size() + bytes.size() > max_queue_) {
      overflowed_ = true;
      return false;
    }
    out_.append(bytes);
    return true;
  }
  void close() override { closed_ = true; }
  size_t pending_output() const override {
    std::lock_guard lock(mu_);
    return out_.size();
  }
  bool overflowed() const override { return overflowed_; }
  void set_timer(Millis after) override { timer = after; }
  // The test's thread is the owner: a posted task runs at once (never once closed).
  void post(std::function<void(Conn&)> task) override {
    if (!closed_) task(*this);
  }
  std::shared_ptr<Conn> shared() override { return shared_from_this(); }

  std::string take() {
    std::lock_guard lock(mu_);
    return std::exchange(out_, {});
  }
  bool closed() const { return closed_; }
  Millis timer{0};

 private:
  uint64_t id_;
  Endpoint peer_;
  size_t max_queue_;
  mutable std::mutex mu_;
  std::string out_;
  bool closed_ = false;
  bool overflowed_ = false;
};

ChatSettings quiet_settings() {
  ChatSettings s;
  s.quiet = true;
  return s;
}

// Plays the model's side of the contract: on_open for every connection, on_close exactly once at
// the end (what breaks the connection -> session -> member -> connection cycle).
struct Harness {
  explicit Harness(ChatStreamService& s) : svc(s) {}
  ~Harness() {
    for (auto& c : opened) svc.on_close(*c);  // a second on_close finds no session: harmless
  }
  std::shared_ptr<FakeConn> open(uint16_t port, std::string ip = "127.0.0.1") {
    auto c = std::make_shared<FakeConn>(port, ip);
    opened.push_back(c);
    svc.on_open(*c);
    return c;
  }
  ChatStreamService& svc;
  std::vector<std::shared_ptr<FakeConn>> opened;
};

struct TcpFixture : ::testing::Test {
  ChatStreamService svc{quiet_settings()};
  Harness harness{svc};
  std::shared_ptr<FakeConn> open(uint16_t port, std::string ip = "127.0.0.1") { return harness.open(port, ip); }
  std::shared_ptr<FakeConn> join_line(uint16_t port, std::string_view id) {
    auto c = open(port);
    svc.on_data(*c, "[" + std::string(id) + "]\n");
    return c;
  }
};

using ChatTcpService = TcpFixture;

TEST_F(ChatTcpService, JoinTimerIsArmedOnOpenAndClosesSilentClients) {
  auto c = open(1000);
  EXPECT_EQ(c->timer, Millis(30'000));
  svc.on_timeout(*c);
  EXPECT_EQ(c->take(), "error: join timeout: send [ID] first\n");
  EXPECT_TRUE(c->closed());
  svc.on_close(*c);
}

TEST_F(ChatTcpService, LineJoinCancelsTheTimerAndIsAnnounced) {
  auto a = join_line(1000, "alice");
  EXPECT_EQ(a->timer, Millis(0));
  auto b = join_line(1001, "bob");
  EXPECT_EQ(a->take(), "[bob]\n");
  EXPECT_EQ(b->take(), "");  // nothing back to the joiner: no banner, no echo
  svc.on_data(*b, "hello\n[bob]again\r\n");
  EXPECT_EQ(a->take(), "[bob]hello\n[bob]again\n");
  EXPECT_EQ(b->take(), "");
}

TEST_F(ChatTcpService, SilenceAfterTheJoinMakesARawClient) {
  auto a = join_line(1000, "alice");
  auto k = open(1001);
  svc.on_data(*k, "[kim]");
  EXPECT_EQ(k->timer, Millis(200));
  EXPECT_EQ(svc.room().size(), 1u);
  svc.on_timeout(*k);
  EXPECT_EQ(svc.room().size(), 2u);
  EXPECT_EQ(a->take(), "[kim]\n");
  svc.on_data(*k, "[kim]hi");
  EXPECT_EQ(a->take(), "[kim]hi\n");
  svc.on_data(*a, "yo\n");
  EXPECT_EQ(k->take(), "[alice]yo");  // no newline for a raw client
  svc.on_data(*k, "[alice]x");
  EXPECT_EQ(k->take().find("error: "), 0u);
  EXPECT_EQ(k->take(), "");
}

TEST_F(ChatTcpService, RawJoinFollowedDirectlyByAMessage) {
  auto a = join_line(1000, "alice");
  auto k = open(1001);
  svc.on_data(*k, "[kim][kim]first");
  EXPECT_EQ(a->take(), "[kim]\n[kim]first\n");
}

TEST_F(ChatTcpService, DuplicateIdRefusedAndClosed) {
  auto a = join_line(1000, "Bob");
  auto b = join_line(1001, "bob");
  EXPECT_EQ(b->take(), "error: ID 'bob' is taken (as 'Bob'; IDs differing only in case are the same)\n");
  EXPECT_TRUE(b->closed());
  EXPECT_EQ(a->take(), "");
  svc.on_close(*b);
  EXPECT_EQ(svc.room().ids(), std::vector<std::string>{"Bob"});
}

TEST_F(ChatTcpService, InvalidIdRefused) {
  auto c = open(1000);
  svc.on_data(*c, "[" + std::string(40, 'x') + "]\n");
  EXPECT_EQ(c->take(), "error: ID too long (max 32 bytes)\n");
  EXPECT_TRUE(c->closed());
}

TEST_F(ChatTcpService, HttpProbeGetsOneLineAndIsClosed) {
  auto c = open(1000);
  svc.on_data(*c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string out = c->take();
  EXPECT_NE(out.find("not an HTTP server"), std::string::npos);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1);
  EXPECT_TRUE(c->closed());
}

TEST_F(ChatTcpService, QuitLeavesAndCloses) {
  auto a = join_line(1000, "alice");
  auto b = join_line(1001, "bob");
  a->take();
  svc.on_data(*b, "[bob]quit\n[bob]after quit\n");
  EXPECT_TRUE(b->closed());
  EXPECT_EQ(a->take(), "");  // neither the quit nor what followed it is relayed
  EXPECT_EQ(svc.room().size(), 1u);
}

TEST_F(ChatTcpService, OverLongLineClosesTheSender) {
  auto a = join_line(1000, "alice");
  auto b = join_line(1001, "bob");
  a->take();
  svc.on_data(*b, "ok\n" + std::string(5000, 'x'));
  EXPECT_EQ(a->take(), "[bob]ok\n");
  EXPECT_EQ(b->take(), "error: line too long\n");
  EXPECT_TRUE(b->closed());
  EXPECT_EQ(svc.room().size(), 1u);
}

TEST_F(ChatTcpService, ExactlyMaxLineIsAccepted) {
  auto a = join_line(1000, "alice");
  auto b = join_line(1001, "bob");
  a->take();
  std::string body(4096 - 5, 'y');  // "[bob]" + body = 4096 bytes
  svc.on_data(*b, "[bob]" + body + "\n");
  EXPECT_EQ(a->take(), "[bob]" + body + "\n");
  EXPECT_FALSE(b->closed());
}

TEST_F(ChatTcpService, ControlCharactersAreRefusedNotRelayed) {
  auto a = join_line(1000, "alice");
  auto b = join_line(1001, "bob");
  a->take();
  svc.on_data(*b, "\x1b[2Jgotcha\n");
  EXPECT_EQ(a->take(), "");
  EXPECT_EQ(b->take(), "error: message contains control characters (not relayed)\n");
  EXPECT_FALSE(b->closed());
}

TEST(ChatTcpServiceLimits, FloodGetsSlowDownThenDisconnect) {
  ChatSettings st = quiet_settings();
  st.rate = 1;
  st.burst = 3;
  ChatStreamService svc(st);
  Harness h(svc);
  auto a = h.open(1000), b = h.open(1001);
  svc.on_data(*a, "[a]\n");
  svc.on_data(*b, "[b]\n");
  a->take();
  std::string burst;
  for (int i = 0; i < 10; ++i) burst += "m" + std::to_string(i) + "\n";
  svc.on_data(*b, burst);
  EXPECT_EQ(a->take(), "[b]m0\n[b]m1\n[b]m2\n");
  EXPECT_EQ(b->take(), "error: slow down\nerror: too many messages, disconnected\n");
  EXPECT_TRUE(b->closed());
}

TEST_F(ChatTcpService, CloseReleasesTheConnection) {
  std::weak_ptr<FakeConn> weak;
  {
    auto a = join_line(1000, "alice");
    weak = a;
    svc.on_close(*a);
    harness.opened.clear();
  }
  EXPECT_TRUE(weak.expired());  // no cycle conn -> session -> member -> conn is left behind
  EXPECT_EQ(svc.room().size(), 0u);
}

TEST_F(ChatTcpService, ReaderPastItsBoundIsRefusedMore) {
  auto slow = std::make_shared<FakeConn>(1000, "127.0.0.1", 64);
  harness.opened.push_back(slow);
  svc.on_open(*slow);
  svc.on_data(*slow, "[slow]\n");
  auto b = join_line(1001, "bob");
  for (int i = 0; i < 20; ++i) svc.on_data(*b, "0123456789\n");
  EXPECT_TRUE(slow->overflowed());  // the model now disconnects it
  svc.on_close(*slow);
  EXPECT_EQ(svc.room().ids(), std::vector<std::string>{"bob"});
}

// ---- UDP ----------------------------------------------------------------------------------------

struct Sent {
  uint16_t to;
  std::string bytes;
};

class FakeSink final : public DatagramSink {
 public:
  void send_to(const Endpoint& to, std::string_view bytes) override { sent.push_back({to.port(), std::string(bytes)}); }
  // The test's thread is the loop's: a posted task runs at once.
  Post poster() override {
    return [this](Task task) { task(*this); };
  }
  std::vector<std::string> to(uint16_t port) {
    std::vector<std::string> out;
    for (auto& s : sent)
      if (s.to == port) out.push_back(s.bytes);
    return out;
  }
  std::vector<Sent> sent;
};

struct UdpFixture : ::testing::Test {
  using Clock = ChatDatagramService::Clock;
  UdpFixture() : svc(settings()) {}
  static ChatSettings settings() {
    ChatSettings s = quiet_settings();
    s.idle_timeout = Millis(1000);
    return s;
  }
  void dgram(uint16_t port, std::string_view bytes, bool truncated = false) {
    svc.handle(sink, Endpoint::parse("127.0.0.1", port), bytes, truncated, now);
  }
  FakeSink sink;
  ChatDatagramService svc;
  Clock::time_point now = Clock::now();
};

using ChatUdpService = UdpFixture;

TEST_F(ChatUdpService, SeedSessionJoinRelayQuit) {
  dgram(5001, "[전창완]");
  dgram(5002, "[윤재석]");
  dgram(5003, "[김대희]");
  dgram(5003, "[김대희] 점심 뭐 드실까요?");
  EXPECT_EQ(sink.to(5001), (std::vector<std::string>{"[윤재석]", "[김대희]", "[김대희] 점심 뭐 드실까요?"}));
  EXPECT_EQ(sink.to(5002), (std::vector<std::string>{"[김대희]", "[김대희] 점심 뭐 드실까요?"}));
  EXPECT_TRUE(sink.to(5003).empty());
  dgram(5002, "[윤재석]quit");
  EXPECT_EQ(svc.room().size(), 2u);
  sink.sent.clear();
  dgram(5001, "[전창완]청와삼대 가시죠");
  EXPECT_TRUE(sink.to(5002).empty());
  EXPECT_EQ(sink.to(5003), std::vector<std::string>{"[전창완]청와삼대 가시죠"});
}

TEST_F(ChatUdpService, MessageMerelyContainingQuitIsRelayed) {
  dgram(5001, "[a]");
  dgram(5002, "[b]");
  dgram(5002, "[b]I will quit tomorrow");
  EXPECT_EQ(sink.to(5001).back(), "[b]I will quit tomorrow");
  EXPECT_EQ(svc.room().size(), 2u);
}

TEST_F(ChatUdpService, UnknownAddressWithPrefixedMessageJoinsAndIsRelayed) {
  dgram(5001, "[a]");
  dgram(5002, "[b]back again");
  EXPECT_EQ(sink.to(5001), std::vector<std::string>{"[b]back again"});
  EXPECT_EQ(svc.room().size(), 2u);
}

// SPEC §3 (issue 13): an address that is not a member gets at most 3x the datagram that caused
// the reply — the full text if it fits, else a short one, else nothing.
TEST_F(ChatUdpService, StrangersGetAtMostThreeTimesTheirDatagram) {
  dgram(5001, "[a]");
  dgram(5010, "[bob]");
  dgram(5002, "x");      // not a join; even "error: join first" is larger than 3 bytes
  dgram(5003, "[a]");    // taken; even "error: ID taken" is larger than 9 bytes
  dgram(5004, "[bob]");  // taken; "error: ID taken" is exactly 3 x 5 bytes
  dgram(5005, "hello!"); // not a join: the short text fits in 18 bytes
  dgram(5006, "this is not a join, and it is long");  // the full text fits
  dgram(5007, "[a]and this join is long enough for an answer");
  EXPECT_TRUE(sink.to(5002).empty());
  EXPECT_TRUE(sink.to(5003).empty());
  EXPECT_EQ(sink.to(5004), std::vector<std::string>{"error: ID taken"});
  EXPECT_EQ(sink.to(5005), std::vector<std::string>{"error: join first"});
  EXPECT_EQ(sink.to(5006), std::vector<std::string>{"error: join first: send [ID]"});
  ASSERT_EQ(sink.to(5007).size(), 1u);
  EXPECT_EQ(sink.to(5007)[0].find("error: ID 'a' is taken"), 0u);
  for (const auto& s : sink.sent) {
    if (s.to == 5001 || s.to == 5010) continue;  // members
    EXPECT_LE(s.bytes.size(), 3 * (s.to == 5004 ? 5u : s.to == 5005 ? 6u : s.to == 5006 ? 34u : 46u)) << s.bytes;
  }
}

// SPEC §3 (issue 13): a member always gets its error reply, however short its datagram: it
// already receives the room's traffic, so the reply amplifies nothing.
TEST_F(ChatUdpService, MemberAlwaysGetsItsErrorReply) {
  dgram(5001, "[a]");
  dgram(5002, "[b]");
  sink.sent.clear();
  dgram(5001, "[b]x");  // impersonation
  ASSERT_EQ(sink.to(5001).size(), 1u);
  EXPECT_EQ(sink.to(5001)[0].find("error: you are 'a'"), 0u) << sink.to(5001)[0];
  EXPECT_TRUE(sink.to(5002).empty()) << "an impersonation was relayed";
  dgram(5002, std::string(65536, 'z'), true);  // truncated
  ASSERT_EQ(sink.to(5002).size(), 1u);
  EXPECT_EQ(sink.to(5002)[0].find("error: message too long"), 0u);
}

TEST(ChatUdpServiceLimits, FloodingMemberHearsWhy) {
  ChatSettings st = quiet_settings();
  st.rate = 1;
  st.burst = 3;
  ChatDatagramService svc(st);
  FakeSink sink;
  auto a = Endpoint::parse("127.0.0.1", 5001);
  auto now = ChatDatagramService::Clock::now();
  svc.handle(sink, a, "[a]", false, now);
  for (int i = 0; i < 20; ++i) svc.handle(sink, a, "m", false, now);  // 1-byte messages, at once
  std::vector<std::string> got = sink.to(5001);
  ASSERT_GE(got.size(), 2u);
  EXPECT_EQ(got.front().rfind("error: slow down", 0), 0u) << got.front();
  EXPECT_EQ(got.back().rfind("error: too many messages", 0), 0u) << got.back();
}

TEST_F(ChatUdpService, TruncatedOrOverLongDatagramIsRefused) {
  dgram(5001, "[a]");
  dgram(5002, "[b]");
  sink.sent.clear();
  dgram(5002, std::string(65536, 'x'), true);
  dgram(5002, "[b]" + std::string(4094, 'y'));
  EXPECT_TRUE(sink.to(5001).empty());
  ASSERT_EQ(sink.to(5002).size(), 2u);
  EXPECT_EQ(sink.to(5002)[0].find("error: message too long"), 0u);
  dgram(5002, "[b]" + std::string(4093, 'y'));  // exactly 4096 bytes
  EXPECT_EQ(sink.to(5001).size(), 1u);
}

TEST_F(ChatUdpService, IdleMembersExpire) {
  dgram(5001, "[a]");
  dgram(5002, "[b]");
  now += Millis(600);
  dgram(5002, "[b]still here");
  svc.expire(now);
  EXPECT_EQ(svc.room().size(), 2u);
  now += Millis(500);  // a: 1.1 s silent, b: 0.5 s
  svc.expire(now);
  EXPECT_EQ(svc.room().ids(), std::vector<std::string>{"b"});
  sink.sent.clear();
  dgram(5002, "[b]anyone?");
  EXPECT_TRUE(sink.to(5001).empty());
  dgram(5001, "[a]");  // it may come back
  EXPECT_EQ(svc.room().size(), 2u);
}

TEST(ChatUdpServiceLimits, MaxMembers) {
  ChatSettings st = quiet_settings();
  st.max_members = 1;
  ChatDatagramService svc(st);
  FakeSink sink;
  svc.on_datagram(sink, Endpoint::parse("127.0.0.1", 5001), "[a]", false);
  svc.on_datagram(sink, Endpoint::parse("127.0.0.1", 5002), "[b] some words to make room for an answer", false);
  EXPECT_EQ(svc.room().size(), 1u);
  ASSERT_EQ(sink.to(5002).size(), 1u);
  EXPECT_EQ(sink.to(5002)[0], "error: server full");
}

TEST(ChatUdpServiceLimits, PortZeroIsIgnored) {
  ChatDatagramService svc(quiet_settings());
  FakeSink sink;
  svc.on_datagram(sink, Endpoint::parse("127.0.0.1", 0), "[a] long enough to be answered if it were", false);
  EXPECT_EQ(svc.room().size(), 0u);
  EXPECT_TRUE(sink.sent.empty());
}

}  // namespace
}  // namespace concur::chat
