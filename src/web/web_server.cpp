#include "web/web_server.hpp"

#include <sys/socket.h>
#include <unistd.h>
#include <wslay/wslay.h>

#include <cerrno>
#include <cstring>

#include "conn/conn_metrics.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/socket.hpp"
#include "conn/accept_gate.hpp"
#include "conn/listener.hpp"
#include "conn/server_config.hpp"
#include "web/ws_handshake.hpp"

namespace concur::web {

namespace {
using Clock = std::chrono::steady_clock;
constexpr size_t kReadChunk = 16 * 1024;
constexpr size_t kReadBudget = 256 * 1024;  // per connection per loop pass: no one starves the rest
constexpr Millis kLinger{2000};             // how long a closing connection may take to say goodbye
}  // namespace

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

// ---- WsConn ----------------------------------------------------------------------------------

bool WsConn::send_text(std::string_view text) {
  std::lock_guard lock(mu_);
  if (closed_ || close_req_) return false;
  if (outbox_.size() + unsent_.load(std::memory_order_relaxed) + text.size() + 10 > max_queue_) {
    overflowed_ = true;
    close_req_ = true;
    conn_metrics::slow_consumer();  // a browser that stopped reading, as a TCP member would be
  } else {
    append_text_frame(outbox_, text);
  }
  if (!dirty_) {
    dirty_ = true;
    server_->notify(id_);
  }
  return !overflowed_;
}

void WsConn::close(uint16_t code) {
  std::lock_guard lock(mu_);
  if (closed_ || close_req_) return;
  close_req_ = true;
  close_code_ = code;
  if (!dirty_) {
    dirty_ = true;
    server_->notify(id_);
  }
}

void WsConn::set_timer(Millis after) {
  deadline_ = after.count() <= 0 ? Clock::time_point{} : Clock::now() + after;
}

bool WsConn::overflowed() const {
  std::lock_guard lock(mu_);
  return overflowed_;
}

// ---- the server's view of one connection ------------------------------------------------------

struct WebServer::Conn {
  enum class Phase { head, ws, draining };
  WebServer* server = nullptr;
  uint64_t id = 0;
  Admission place;  // under WebConfig::max_clients, until the connection goes (after fd closes)
  FileDesc fd;
  Endpoint peer;
  Phase phase = Phase::head;
  std::string in;  // head: bytes so far; ws: bytes after the head that wslay has not taken yet
  std::string out;
  size_t out_off = 0;
  Clock::time_point deadline{};  // head timeout, or the linger of a closing connection
  bool want_out = false;
  bool shut_wr = false;
  bool dead = false;
  size_t read_this_pass = 0;
  wslay_event_context_ptr ctx = nullptr;
  WsHandler* handler = nullptr;
  std::shared_ptr<WsConn> ws;

  ~Conn() {
    if (ctx) wslay_event_context_free(ctx);
  }
  size_t unsent() const { return out.size() - out_off; }
};

// wslay's callbacks: they only touch the Conn passed as user_data, on the server thread.
struct WsGlue {
  static ssize_t recv(wslay_event_context_ptr ctx, uint8_t* buf, size_t len, int, void* user) {
    auto* c = static_cast<WebServer::Conn*>(user);
    if (!c->in.empty()) {  // bytes that came with the handshake
      size_t n = std::min(len, c->in.size());
      std::memcpy(buf, c->in.data(), n);
      c->in.erase(0, n);
      return static_cast<ssize_t>(n);
    }
    if (c->read_this_pass >= kReadBudget) {
      wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
      return -1;
    }
    ssize_t r;
    do r = ::read(c->fd.get(), buf, len);
    while (r < 0 && errno == EINTR);
    if (r > 0) {
      c->read_this_pass += static_cast<size_t>(r);
      return r;
    }
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
      return -1;
    }
    c->dead = true;  // end of stream or a reset: the peer is gone
    wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
  }
  static ssize_t send(wslay_event_context_ptr, const uint8_t* data, size_t len, int, void* user) {
    // Everything is taken into the connection's output, which the loop writes: wslay's frames
    // (pong, close) therefore stay whole between the data frames framed by WsConn::send_text.
    static_cast<WebServer::Conn*>(user)->out.append(reinterpret_cast<const char*>(data), len);
    return static_cast<ssize_t>(len);
  }
  static void on_msg(wslay_event_context_ptr ctx, const wslay_event_on_msg_recv_arg* arg, void* user) {
    auto* c = static_cast<WebServer::Conn*>(user);
    if (arg->opcode == WSLAY_TEXT_FRAME) {
      c->handler->on_text(*c->ws, std::string_view(reinterpret_cast<const char*>(arg->msg), arg->msg_length));
    } else if (arg->opcode == WSLAY_BINARY_FRAME) {
      static constexpr char kWhy[] = "text messages only";
      wslay_event_queue_close(ctx, WSLAY_CODE_UNSUPPORTED_DATA, reinterpret_cast<const uint8_t*>(kWhy),
                              sizeof(kWhy) - 1);
    }
  }
};

// ---- the server ------------------------------------------------------------------------------

WebServer::WebServer(const Endpoint& at, WebConfig cfg) : cfg_(std::move(cfg)) {
  listener_ = tcp_listen(at);
  gate_cfg_ = std::make_unique<ServerConfig>();
  gate_cfg_->max_clients = cfg_.max_clients;
  gate_cfg_->counted = cfg_.counted;
  gate_cfg_->full_message =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n"
      "Connection: close\r\n\r\nserver full\n";
  gate_ = std::make_unique<AcceptGate>(*gate_cfg_);
  acceptor_ = std::make_unique<Listener>(listener_.get(), *gate_);
  // Constructed here, so this thread is the loop's until start() hands it to the server thread.
  loop_ = std::make_unique<EventLoop>();
  std::string why;
  if (!loop_->watch(listener_.get(), true, false, [this](const Ready&) { on_accept(); }, &why))
    throw SysError("web: cannot watch the listening socket: " + why, EINVAL);
  arm_sweep();
}

WebServer::~WebServer() { stop(); }

Endpoint WebServer::local() const { return local_endpoint(listener_.get()); }

void WebServer::page(std::string path, PageHandler h) { pages_[std::move(path)] = std::move(h); }
void WebServer::websocket(std::string path, WsHandler& h) { sockets_[std::move(path)] = &h; }

void WebServer::start() {
  thread_ = std::thread([this] {
    loop_->run(stop_);
    while (!conns_.empty()) drop(conns_.begin()->first);  // each WebSocket gets on_close
  });
}

void WebServer::stop() {
  if (!thread_.joinable()) return;
  stop_.request();
  thread_.join();
}

void WebServer::notify(uint64_t id) {
  // The WsConn's dirty flag makes this one task per connection per burst; the loop's mailbox
  // coalesces the wake-ups of a burst over many connections into one eventfd write.
  loop_->queue_in_loop([this, id] {
    auto it = conns_.find(id);
    if (it == conns_.end()) return;
    take_outbox(*it->second);
    if (it->second->dead) drop(id);
  });
}

void WebServer::arm_sweep() {
  loop_->run_after(Millis(200), [this] {
    sweep();
    arm_sweep();
  });
}

void WebServer::on_event(uint64_t id, const Ready& r) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Conn& c = *it->second;
  if (r.in || r.err) on_readable(c);
  if (!c.dead && r.out) flush(c);
  if (c.dead) drop(id);
}

void WebServer::on_accept() {
  // Over --max-clients (slow or stuck clients hold every place) the gate answers 503 and closes at
  // once, so they cost neither memory nor sweep time; places free up as the head timeout cuts
  // the holders off.
  acceptor_->accept_pending([this](FileDesc fd, const Endpoint& peer, Admission place) {
    auto c = std::make_unique<Conn>();
    c->server = this;
    c->id = next_id_++;
    c->fd = std::move(fd);
    c->peer = peer;
    c->place = std::move(place);
    c->deadline = Clock::now() + cfg_.head_timeout;
    uint64_t id = c->id;
    if (!loop_->watch(c->fd.get(), true, false, [this, id](const Ready& ready) { on_event(id, ready); })) return;
    conns_.emplace(id, std::move(c));
  });
  gate_->tick();
}

void WebServer::on_readable(Conn& c) {
  c.read_this_pass = 0;
  if (c.phase == Conn::Phase::ws) {
    wslay_event_recv(c.ctx);  // a protocol error queues its close frame; end of stream sets dead
    if (c.dead) return;
    wslay_event_send(c.ctx);  // pongs, the answer to a close, that close frame
    flush(c);
    return;
  }
  char buf[kReadChunk];
  while (c.read_this_pass < kReadBudget) {
    ssize_t r = ::read(c.fd.get(), buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (r <= 0) {
      c.dead = true;
      return;
    }
    c.read_this_pass += static_cast<size_t>(r);
    if (c.phase == Conn::Phase::head) {
      c.in.append(buf, static_cast<size_t>(r));
      on_head(c);
      if (c.dead || c.phase != Conn::Phase::head) return;
    }
    // draining: what a closing peer still sends is read and dropped, so that our close is clean
  }
}

void WebServer::on_head(Conn& c) {
  ParseResult p = parse_request(c.in);
  if (p.kind == ParseResult::Kind::incomplete) return;
  Response resp;
  if (p.kind == ParseResult::Kind::error) {
    resp = error_response(p.status, p.reason);
  } else if (auto ws = sockets_.find(p.request.path); ws != sockets_.end()) {
    resp = answer_upgrade(p.request, cfg_.allowed_origins);
    if (resp.status == 101) {
      upgrade(c, p.request, *ws->second, p.consumed);
      return;
    }
  } else if (auto page = pages_.find(p.request.path); page != pages_.end()) {
    resp = page->second(p.request);
  } else {
    resp = error_response(404, "no such page");
  }
  c.in.clear();
  c.out += serialize(resp);
  c.phase = Conn::Phase::draining;
  c.deadline = Clock::now() + kLinger;
  flush(c);
}

void WebServer::upgrade(Conn& c, const Request& req, WsHandler& h, size_t consumed) {
  Response ok = answer_upgrade(req, cfg_.allowed_origins);
  c.out += serialize(ok);
  c.in.erase(0, consumed);
  static const wslay_event_callbacks callbacks = {WsGlue::recv, WsGlue::send, nullptr, nullptr, nullptr, nullptr,
                                                  WsGlue::on_msg};
  if (wslay_event_context_server_init(&c.ctx, &callbacks, &c) != 0) {
    c.dead = true;
    return;
  }
  wslay_event_config_set_max_recv_msg_length(c.ctx, cfg_.max_message);
  c.phase = Conn::Phase::ws;
  c.deadline = {};
  c.handler = &h;
  c.ws = std::make_shared<WsConn>(this, c.id, c.peer, req, cfg_.max_queue);
  flush(c);
  if (c.dead) return;
  h.on_open(c.ws);
  if (!c.in.empty()) on_readable(c);  // frames that arrived with the handshake
}

void WebServer::take_outbox(Conn& c) {
  if (!c.ws || c.phase != Conn::Phase::ws) return;
  std::string taken;
  bool close_req, overflowed;
  uint16_t code;
  {
    std::lock_guard lock(c.ws->mu_);
    taken.swap(c.ws->outbox_);
    c.ws->dirty_ = false;
    close_req = c.ws->close_req_;
    overflowed = c.ws->overflowed_;
    code = c.ws->close_code_;
  }
  if (overflowed) {  // not reading: flushing to it would only wait; drop it now
    c.dead = true;
    return;
  }
  if (!wslay_event_get_close_sent(c.ctx)) {
    if (c.out.empty()) c.out.swap(taken);
    else c.out += taken;
    if (close_req) {
      wslay_event_queue_close(c.ctx, code, nullptr, 0);
      wslay_event_send(c.ctx);
    }
  }
  flush(c);
}

void WebServer::flush(Conn& c) {
  while (c.out_off < c.out.size()) {
    ssize_t n = ::send(c.fd.get(), c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n <= 0) {
      c.dead = true;
      return;
    }
    c.out_off += static_cast<size_t>(n);
  }
  if (c.out_off == c.out.size()) {
    c.out.clear();
    c.out_off = 0;
  } else if (c.out_off > (64u << 10) && c.out_off * 2 > c.out.size()) {
    c.out.erase(0, c.out_off);
    c.out_off = 0;
  }
  if (c.ws) c.ws->unsent_.store(c.unsent(), std::memory_order_relaxed);
  if (c.phase == Conn::Phase::ws && wslay_event_get_close_sent(c.ctx)) {
    if (c.deadline == Clock::time_point{}) c.deadline = Clock::now() + kLinger;  // wait for the peer's close
    if (wslay_event_get_close_received(c.ctx)) {
      c.phase = Conn::Phase::draining;
      end_ws(c);  // the WebSocket is over; only the TCP goodbye is left
    }
  }
  if (c.phase == Conn::Phase::draining && c.out.empty() && !c.shut_wr) {
    ::shutdown(c.fd.get(), SHUT_WR);  // the peer reads to the end, then closes; we close after it
    c.shut_wr = true;
  }
  update_interest(c);
}

void WebServer::update_interest(Conn& c) {
  bool want = !c.out.empty();
  if (want == c.want_out) return;
  c.want_out = want;
  loop_->modify(c.fd.get(), true, want);
}

void WebServer::sweep() {
  auto now = Clock::now();
  std::vector<uint64_t> expired;
  for (auto& [id, c] : conns_) {
    if (c->deadline != Clock::time_point{} && now >= c->deadline) {
      expired.push_back(id);
      continue;
    }
    if (c->ws && c->phase == Conn::Phase::ws && c->ws->deadline_ != Clock::time_point{} && now >= c->ws->deadline_) {
      c->ws->deadline_ = {};
      c->handler->on_timeout(*c->ws);
    }
  }
  for (uint64_t id : expired) drop(id);
}

void WebServer::drop(uint64_t id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  std::unique_ptr<Conn> c = std::move(it->second);
  conns_.erase(it);
  loop_->unwatch(c->fd.get());
  end_ws(*c);
}

void WebServer::end_ws(Conn& c) {
  if (!c.ws) return;
  {
    std::lock_guard lock(c.ws->mu_);
    c.ws->closed_ = true;
  }
  c.handler->on_close(*c.ws);
  c.ws.reset();
}

}  // namespace concur::web
