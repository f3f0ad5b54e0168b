#pragma once
// A small HTTP/1.1 + WebSocket server for concur's web pages (SPEC §4 "Web"): one thread running
// one EventLoop (src/loop: epoll, timers, the mailbox), its own. It runs beside whatever model
// serves a command's main protocol, so a page works under every --model; it only meets the rest
// of the process through thread-safe calls (ChatRoom::broadcast -> WsConn::send_text, which posts
// to the loop's mailbox).
//
// HTTP: GET only, heads of at most 8 KiB, every answer closes the connection (http_request.hpp).
// WebSocket: the handshake checks Origin (ws_handshake.hpp); wslay parses incoming frames and
// answers ping and close, fed from this loop's reads. Outgoing text frames are framed directly
// into the connection's output (a server frame is 2-10 bytes of header, unmasked), so fan-out to
// a thousand sockets costs one copy per member, as it does for TCP members.
//
// Thread contract: page handlers and WsHandler callbacks run on the server thread, one at a time.
// WsConn::send_text and WsConn::close are safe from any thread and never block; past
// `max_queue` pending bytes the connection is dropped (a browser that stops reading must never
// slow the others).
#include <any>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/duration.hpp"
#include "core/endpoint.hpp"
#include "core/fd.hpp"
#include "core/stop.hpp"
#include "loop/event_loop.hpp"
#include "web/http_request.hpp"
#include "web/http_response.hpp"

namespace concur {
class AcceptGate;
class Listener;
struct ServerConfig;
}

namespace concur::web {

struct WebConfig {
  std::vector<std::string> allowed_origins;  // --web-origin; same origin is always allowed
  size_t max_queue = 1 << 20;                // bytes pending to one WebSocket before it is dropped
  size_t max_message = 64 * 1024;            // largest incoming WebSocket message (close 1009 above)
  Millis head_timeout{10'000};               // a request head must be complete by then
  size_t max_clients = 0;                    // open connections at once (0: as descriptors allow);
                                             // extras get 503 and are closed, as --max-clients
  bool counted = true;                       // in concur_connections_* (not the --metrics port's own)
};

class WebServer;

// One accepted WebSocket. Held by shared_ptr: a chat room may hold it after the server dropped it,
// and then every call does nothing.
class WsConn {
 public:
  // Queues one text message. Any thread, never blocks. False when the connection is closed or
  // closing, or when it would exceed max_queue (the connection is then dropped as not reading).
  bool send_text(std::string_view text);
  // Sends a close frame (status `code`: 1000 normal; 4000 "refused, do not reconnect", which the
  // chat page honours) after what is queued, then closes. Any thread.
  void close(uint16_t code = 1000);
  // Server thread only: fires WsHandler::on_timeout after `after` (0 cancels).
  void set_timer(Millis after);

  const Endpoint& peer() const { return peer_; }
  uint64_t id() const { return id_; }
  const Request& request() const { return request_; }  // the upgrade request (its query, for one)
  std::any& context() { return context_; }               // server thread only
  bool overflowed() const;                               // dropped for not reading

  WsConn(WebServer* server, uint64_t id, Endpoint peer, Request req, size_t max_queue)
      : server_(server), id_(id), peer_(std::move(peer)), request_(std::move(req)), max_queue_(max_queue) {}

 private:
  friend class WebServer;
  WebServer* server_;  // valid until closed_ is set (under mu_)
  const uint64_t id_;
  const Endpoint peer_;
  const Request request_;
  const size_t max_queue_;
  std::any context_;
  std::chrono::steady_clock::time_point deadline_{};  // server thread

  mutable std::mutex mu_;
  std::string outbox_;    // framed, not yet taken by the server thread; guarded by mu_
  bool dirty_ = false;    // listed in the server's mailbox; guarded by mu_
  bool closed_ = false;   // the server dropped it; guarded by mu_
  bool close_req_ = false;
  uint16_t close_code_ = 1000;
  bool overflowed_ = false;
  std::atomic<size_t> unsent_{0};  // bytes taken by the server thread and not yet written
};

class WsHandler {
 public:
  virtual ~WsHandler() = default;
  virtual void on_open(const std::shared_ptr<WsConn>& c) = 0;
  virtual void on_text(WsConn& c, std::string_view text) = 0;
  // Once for every opened connection, whatever ended it (peer, close(), overflow, server stop).
  virtual void on_close(WsConn& c) = 0;
  virtual void on_timeout(WsConn& c) {}
};

using PageHandler = std::function<Response(const Request&)>;

class WebServer {
 public:
  // Binds and listens now (throws SysError "cannot bind …"), serves after start().
  WebServer(const Endpoint& at, WebConfig cfg);
  ~WebServer();
  WebServer(const WebServer&) = delete;
  WebServer& operator=(const WebServer&) = delete;

  Endpoint local() const;
  // Routes, before start(): an exact path.
  void page(std::string path, PageHandler h);
  void websocket(std::string path, WsHandler& h);

  void start();
  // Closes every connection (each WebSocket gets on_close) and joins the thread. Idempotent.
  void stop();

 private:
  friend class WsConn;
  friend struct WsGlue;
  struct Conn;
  void notify(uint64_t id);  // a WsConn has output or a close request; called under its mu_
  void arm_sweep();
  void on_event(uint64_t id, const Ready& r);
  void on_accept();
  void on_readable(Conn& c);
  void on_head(Conn& c);
  void upgrade(Conn& c, const Request& req, WsHandler& h, size_t consumed);
  void take_outbox(Conn& c);
  void flush(Conn& c);
  void drop(uint64_t id);
  void end_ws(Conn& c);  // the WebSocket is over: on_close, and sends are refused from now on
  void sweep();
  void update_interest(Conn& c);

  const WebConfig cfg_;
  FileDesc listener_;
  std::unique_ptr<ServerConfig> gate_cfg_;  // what gate_ refers to
  std::unique_ptr<AcceptGate> gate_;
  std::unique_ptr<Listener> acceptor_;
  std::map<std::string, PageHandler> pages_;
  std::map<std::string, WsHandler*> sockets_;
  std::map<uint64_t, std::unique_ptr<Conn>> conns_;  // server thread only
  uint64_t next_id_ = 1;
  std::unique_ptr<EventLoop> loop_;
  StopSource stop_;
  std::thread thread_;
};

// A text frame as the server sends it (FIN, opcode 1, no mask), appended to `out`.
void append_text_frame(std::string& out, std::string_view payload);

}  // namespace concur::web
