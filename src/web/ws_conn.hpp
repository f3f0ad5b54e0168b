#pragma once
// A WebSocket as a codec over a stream connection (RFC 6455, server side): a Conn whose send()
// is one text message and whose on_data is one received text message (Conn::Framing::message).
// A service written against Conn — the chat service, the dashboard — runs over it unchanged,
// under the same connection lifecycle as a TCP client (admission, --max-queue, post(), timers,
// out of memory), because underneath it is the web port's StreamConn.
//
// Incoming frames are parsed by wslay, fed from the stream's on_data; wslay answers ping and
// close itself. Outgoing text frames are framed here, straight into the stream's output (a server
// frame is 2-10 bytes of header, unmasked), so fan-out to a thousand pages costs one copy per
// member, as it does for TCP members; wslay's control frames go the same way, whole, between them.
//
// Closing: close() / close_refused() (any thread) refuse further sends at once and post the close
// frame to the stream's owner; once the peer's close has come back too, the stream closes. A peer
// that never answers is cut off kLinger later.
//
// Thread contract: send(), close(), close_refused(), post() and the queries are safe from any
// thread; the codec side (start, feed, on_timer, end) runs on the stream's owner thread, inside
// its callbacks (web/http_service.cpp).
#include <wslay/wslay.h>

#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <string_view>

#include "core/duration.hpp"
#include "services/service.hpp"
#include "web/http_request.hpp"

namespace concur::web {

// The close status that tells the chat page "refused: do not reconnect" (web/chat.js REFUSED).
inline constexpr uint16_t kCloseRefused = 4000;

class WsConn final : public Conn, public std::enable_shared_from_this<WsConn> {
 public:
  static constexpr Millis kLinger{2000};  // how long a closing peer may take to answer our close

  WsConn(std::shared_ptr<Conn> stream, Request upgrade, size_t max_message);
  ~WsConn() override;
  WsConn(const WsConn&) = delete;
  WsConn& operator=(const WsConn&) = delete;

  // Conn
  uint64_t id() const override { return stream_->id(); }
  const Endpoint& peer() const override { return stream_->peer(); }
  bool send(std::string_view text) override;  // one text message
  void close() override { close_with(1000); }
  void close_refused() override { close_with(kCloseRefused); }
  size_t pending_output() const override { return stream_->pending_output(); }
  bool overflowed() const override { return stream_->overflowed(); }
  bool peer_gone() const override { return stream_->peer_gone(); }
  void post(std::function<void(Conn&)> task) override;
  void set_timer(Millis after) override { stream_->set_timer(after); }
  Framing framing() const override { return Framing::message; }
  std::string_view query() const override { return request_.query; }
  std::shared_ptr<Conn> shared() override { return shared_from_this(); }

  // The upgrade request: its path and query (what a page asked for when it connected).
  const Request& request() const { return request_; }

  // ---- the codec side: the stream's owner thread ----
  // False when wslay cannot be set up (out of memory).
  bool start();
  // Bytes from the stream: frames in, each text message to messages.on_data, wslay's answers out.
  // A std::bad_alloc in the service comes out of here (past wslay's C frames), for the stream's
  // dispatch to drop the client.
  void feed(std::string_view bytes, StreamService& messages);
  // Our close frame is out and we wait for the peer's: the stream's timer is the linger.
  bool closing() const { return close_queued_; }
  // The stream's timer fired while closing: the peer did not answer in time.
  void linger_expired() { stream_->close(); }
  // The stream is gone: no more sends.
  void end() { ended_.store(true, std::memory_order_release); }

 private:
  struct Glue;  // wslay's callbacks
  void close_with(uint16_t code);
  void queue_close(uint16_t code);  // owner thread
  // After wslay ran: writes its frames, and closes the stream once both closes have passed.
  void after_wslay();

  const std::shared_ptr<Conn> stream_;
  const Request request_;
  const size_t max_message_;
  wslay_event_context_ptr ctx_ = nullptr;  // owner thread
  std::string_view pending_;               // owner thread: input that wslay has not taken yet
  StreamService* messages_ = nullptr;      // owner thread, during feed()
  std::exception_ptr failure_;             // owner thread: thrown by the service inside wslay
  bool close_queued_ = false;              // owner thread
  std::atomic<bool> closing_{false};       // close asked for: sends are refused
  std::atomic<bool> ended_{false};
};

// A text frame as the server sends it (FIN, opcode 1, no mask), appended to `out`.
void append_text_frame(std::string& out, std::string_view payload);

}  // namespace concur::web
