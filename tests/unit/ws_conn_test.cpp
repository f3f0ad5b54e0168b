// The WebSocket codec (web/ws_conn.hpp) over a fake stream: frames in become whole messages for
// the service, sends become text frames, and the close handshake runs on the owner's posts in
// order — no sockets, so each step is checked on its own.
#include <gtest/gtest.h>

#include <functional>
#include <new>
#include <string>
#include <vector>

#include "web/ws_conn.hpp"

namespace concur::web {
namespace {

// The stream under the codec: output captured, posts held until the test runs them (the owner
// runs them after the current callback), close and timer recorded.
class FakeStream final : public Conn, public std::enable_shared_from_this<FakeStream> {
 public:
  uint64_t id() const override { return 7; }
  const Endpoint& peer() const override { return peer_; }
  bool send(std::string_view bytes) override {
    out.append(bytes);
    return true;
  }
  void close() override { closed = true; }
  size_t pending_output() const override { return out.size(); }
  void post(std::function<void(Conn&)> task) override { posted.push_back(std::move(task)); }
  void set_timer(Millis after) override { timer = after; }
  std::shared_ptr<Conn> shared() override { return shared_from_this(); }

  void run_posted() {
    auto tasks = std::move(posted);
    posted.clear();
    for (auto& t : tasks) t(*this);
  }

  std::string out;
  bool closed = false;
  Millis timer{-1};
  std::vector<std::function<void(Conn&)>> posted;

 private:
  Endpoint peer_ = Endpoint::parse("127.0.0.1", 5000);
};

// Messages as the service sees them, and what it does with them.
class Recorder final : public StreamService {
 public:
  void on_data(Conn& c, std::string_view bytes) override {
    got.emplace_back(bytes);
    if (bytes == "oom") throw std::bad_alloc();
    if (bytes == "bye") {
      c.send("farewell");
      c.close();
    }
  }
  std::vector<std::string> got;
};

// A client frame: masked, as RFC 6455 requires of clients.
std::string client_frame(uint8_t opcode, std::string_view payload, bool fin = true) {
  std::string f;
  f.push_back(static_cast<char>((fin ? 0x80 : 0) | opcode));
  const uint8_t mask[4] = {0x11, 0x22, 0x33, 0x44};
  if (payload.size() < 126) {
    f.push_back(static_cast<char>(0x80 | payload.size()));
  } else {
    f.push_back(static_cast<char>(0x80 | 126));
    f.push_back(static_cast<char>(payload.size() >> 8));
    f.push_back(static_cast<char>(payload.size() & 0xff));
  }
  f.append(reinterpret_cast<const char*>(mask), 4);
  for (size_t i = 0; i < payload.size(); ++i) f.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
  return f;
}

std::string close_payload(uint16_t code) {
  return std::string{static_cast<char>(code >> 8), static_cast<char>(code & 0xff)};
}

struct Codec {
  Codec() : stream(std::make_shared<FakeStream>()), ws(std::make_shared<WsConn>(stream, Request{}, 64 * 1024)) {
    EXPECT_TRUE(ws->start());
  }
  std::shared_ptr<FakeStream> stream;
  std::shared_ptr<WsConn> ws;
  Recorder service;
};

TEST(WsConn, IsAMessageTransportWhoseSendIsOneTextFrame) {
  Codec c;
  EXPECT_EQ(c.ws->framing(), Conn::Framing::message);
  EXPECT_TRUE(c.ws->send("hi"));
  EXPECT_EQ(c.stream->out, std::string("\x81\x02hi", 4));
  EXPECT_EQ(c.ws->id(), 7u);
}

TEST(WsConn, AFrameSplitAcrossReadsAndAFragmentedMessageArriveWhole) {
  Codec c;
  std::string frame = client_frame(1, "hello there");
  c.ws->feed(frame.substr(0, 5), c.service);
  EXPECT_TRUE(c.service.got.empty());
  c.ws->feed(frame.substr(5), c.service);
  std::string parts = client_frame(1, "one ", false) + client_frame(0, "two ", false) + client_frame(0, "three");
  c.ws->feed(parts, c.service);
  EXPECT_EQ(c.service.got, (std::vector<std::string>{"hello there", "one two three"}));
}

TEST(WsConn, PingIsAnsweredWithPong) {
  Codec c;
  c.ws->feed(client_frame(9, "are you there"), c.service);
  EXPECT_EQ(c.stream->out, std::string("\x8a\x0d", 2) + "are you there");
}

TEST(WsConn, CloseRefusesSendsAtOnceAndItsFrameFollowsWhatWasSentBefore) {
  Codec c;
  c.ws->feed(client_frame(1, "bye"), c.service);  // the service sends "farewell", then closes
  EXPECT_FALSE(c.ws->send("too late"));
  EXPECT_EQ(c.stream->out, std::string("\x81\x08", 2) + "farewell");  // the close frame waits for the post
  c.stream->run_posted();
  EXPECT_EQ(c.stream->out, std::string("\x81\x08", 2) + "farewell" + std::string("\x88\x02", 2) + close_payload(1000));
  EXPECT_TRUE(c.ws->closing());
  EXPECT_EQ(c.stream->timer, WsConn::kLinger);  // waiting for the peer's close, not forever
  EXPECT_FALSE(c.stream->closed);
  c.ws->feed(client_frame(8, close_payload(1000)), c.service);
  EXPECT_TRUE(c.stream->closed);  // both closes passed: the stream may go
}

TEST(WsConn, ARefusalClosesWith4000AndAPeerThatNeverAnswersIsCutOff) {
  Codec c;
  c.ws->close_refused();
  c.stream->run_posted();
  EXPECT_EQ(c.stream->out, std::string("\x88\x02", 2) + close_payload(kCloseRefused));
  c.ws->linger_expired();
  EXPECT_TRUE(c.stream->closed);
}

TEST(WsConn, BinaryFramesAreRefusedWith1003AndNothingReachesTheService) {
  Codec c;
  c.ws->feed(client_frame(2, "bin") + client_frame(1, "after"), c.service);
  EXPECT_TRUE(c.service.got.empty());
  ASSERT_GE(c.stream->out.size(), 4u);
  EXPECT_EQ(c.stream->out.substr(0, 4), std::string("\x88", 1) + std::string(1, static_cast<char>(2 + 18)) +
                                            close_payload(1003));
}

TEST(WsConn, OutOfMemoryInTheServiceComesOutOfFeedForTheDispatchToDropTheClient) {
  Codec c;
  EXPECT_THROW(c.ws->feed(client_frame(1, "oom"), c.service), std::bad_alloc);
  EXPECT_EQ(c.service.got, std::vector<std::string>{"oom"});
}

TEST(WsConn, AfterTheStreamEndedNothingIsSent) {
  Codec c;
  c.ws->end();
  EXPECT_FALSE(c.ws->send("x"));
  EXPECT_TRUE(c.stream->out.empty());
}

}  // namespace
}  // namespace concur::web
