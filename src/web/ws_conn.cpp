#include "web/ws_conn.hpp"

#include <cstring>
#include <new>
#include <string>

namespace concur::web {

void append_text_frame(std::string& out, std::string_view payload) {
  const size_t n = payload.size();
  out.push_back(static_cast<char>(0x81));  // FIN + text
  if (n < 126) {
    out.push_back(static_cast<char>(n));
  } else if (n <= 0xffff) {
    out.push_back(static_cast<char>(126));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n & 0xff));
  } else {
    out.push_back(static_cast<char>(127));
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((static_cast<uint64_t>(n) >> (i * 8)) & 0xff));
  }
  out.append(payload);
}

// wslay's callbacks: they run inside wslay_event_recv/send, on the stream's owner thread, and must
// not let an exception through wslay's C frames.
struct WsConn::Glue {
  static ssize_t recv(wslay_event_context_ptr ctx, uint8_t* buf, size_t len, int, void* user) {
    auto* ws = static_cast<WsConn*>(user);
    if (ws->pending_.empty()) {
      wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
      return -1;
    }
    size_t n = std::min(len, ws->pending_.size());
    std::memcpy(buf, ws->pending_.data(), n);
    ws->pending_.remove_prefix(n);
    return static_cast<ssize_t>(n);
  }
  static ssize_t send(wslay_event_context_ptr, const uint8_t* data, size_t len, int, void* user) {
    // Pong and close frames go into the stream's output whole, between the data frames. Past
    // --max-queue the stream is being dropped for not reading anyway: nothing to do here.
    auto* ws = static_cast<WsConn*>(user);
    try {
      ws->stream_->send(std::string_view(reinterpret_cast<const char*>(data), len));
    } catch (...) {
      if (!ws->failure_) ws->failure_ = std::current_exception();
    }
    return static_cast<ssize_t>(len);
  }
  static void on_msg(wslay_event_context_ptr ctx, const wslay_event_on_msg_recv_arg* arg, void* user) {
    auto* ws = static_cast<WsConn*>(user);
    if (ws->failure_ || ws->closing_.load(std::memory_order_acquire)) return;
    if (arg->opcode == WSLAY_TEXT_FRAME) {
      try {
        ws->messages_->on_data(*ws, std::string_view(reinterpret_cast<const char*>(arg->msg), arg->msg_length));
      } catch (...) {
        ws->failure_ = std::current_exception();
      }
    } else if (arg->opcode == WSLAY_BINARY_FRAME) {
      static constexpr char kWhy[] = "text messages only";
      wslay_event_queue_close(ctx, WSLAY_CODE_UNSUPPORTED_DATA, reinterpret_cast<const uint8_t*>(kWhy),
                              sizeof(kWhy) - 1);
      ws->closing_.store(true, std::memory_order_release);
    }
  }
};

WsConn::WsConn(std::shared_ptr<Conn> stream, Request upgrade, size_t max_message)
    : stream_(std::move(stream)), request_(std::move(upgrade)), max_message_(max_message) {}

WsConn::~WsConn() {
  if (ctx_) wslay_event_context_free(ctx_);
}

bool WsConn::start() {
  static const wslay_event_callbacks callbacks = {Glue::recv, Glue::send, nullptr, nullptr, nullptr, nullptr,
                                                  Glue::on_msg};
  if (wslay_event_context_server_init(&ctx_, &callbacks, this) != 0) {
    ctx_ = nullptr;
    return false;
  }
  wslay_event_config_set_max_recv_msg_length(ctx_, max_message_);
  return true;
}

bool WsConn::send(std::string_view text) {
  if (closing_.load(std::memory_order_acquire) || ended_.load(std::memory_order_acquire)) return false;
  // Framed into this thread's scratch, then one copy into the stream's output: no allocation per
  // message once the scratch has grown.
  thread_local std::string frame;
  frame.clear();
  append_text_frame(frame, text);
  bool ok = stream_->send(frame);
  if (frame.capacity() > (1u << 20)) std::string().swap(frame);
  return ok;
}

void WsConn::post(std::function<void(Conn&)> task) {
  stream_->post([self = shared_from_this(), task = std::move(task)](Conn&) { task(*self); });
}

void WsConn::close_with(uint16_t code) {
  if (closing_.exchange(true, std::memory_order_acq_rel)) return;
  // The close frame is wslay's, which only the owner may touch; a close from the owner's own
  // callback runs right after it, behind what that callback sent.
  stream_->post([self = shared_from_this(), code](Conn&) { self->queue_close(code); });
}

void WsConn::queue_close(uint16_t code) {
  if (!ctx_ || close_queued_) return;
  if (!wslay_event_get_close_sent(ctx_)) wslay_event_queue_close(ctx_, code, nullptr, 0);
  after_wslay();
}

void WsConn::feed(std::string_view bytes, StreamService& messages) {
  if (!ctx_) return;
  pending_ = bytes;
  messages_ = &messages;
  // A protocol error queues wslay's close frame (1002, 1007, 1009 ...); a fatal one ends the stream.
  int rc = wslay_event_recv(ctx_);
  pending_ = {};
  if (failure_) {
    std::exception_ptr e = failure_;
    failure_ = nullptr;
    std::rethrow_exception(e);
  }
  if (rc != 0) {
    stream_->close();
    return;
  }
  after_wslay();
}

void WsConn::after_wslay() {
  wslay_event_send(ctx_);  // into the stream's output (Glue::send), never blocks
  if (failure_) {
    std::exception_ptr e = failure_;
    failure_ = nullptr;
    std::rethrow_exception(e);
  }
  if (!wslay_event_get_close_sent(ctx_)) return;
  closing_.store(true, std::memory_order_release);
  if (wslay_event_get_close_received(ctx_)) {
    stream_->close();  // both closes have passed: only the TCP goodbye is left
  } else if (!close_queued_) {
    close_queued_ = true;
    stream_->set_timer(kLinger);  // wait for the peer's close, not forever
  }
}

}  // namespace concur::web
