#pragma once
// concur's web port (SPEC §4 "Web"): an HttpService (pages, and WebSocket paths upgraded to a
// service of their own, web/ws_conn.hpp) served by the epoll model on a thread of its own, beside
// whatever model serves the command's main protocol, so a page works under every --model. It is
// a listener like any other: --max-clients admission, --max-queue, the connection metrics, out
// of memory and post() are the StreamConn lifecycle of every TCP client (docs/design.md "How to
// add a listener").
//
// Thread contract: routes are set before start(). Page handlers and the WebSocket services'
// callbacks run on the web thread; a WebSocket's Conn is safe from any thread as every Conn is.
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/duration.hpp"
#include "core/endpoint.hpp"
#include "core/fd.hpp"
#include "core/stop.hpp"
#include "conn/server_config.hpp"
#include "web/http_service.hpp"

namespace concur {
class Model;
}

namespace concur::web {

struct WebConfig {
  std::vector<std::string> allowed_origins;  // --web-origin; same origin is always allowed
  size_t max_queue = 1 << 20;                // bytes pending to one connection before it is dropped
  size_t max_message = 64 * 1024;            // largest incoming WebSocket message (close 1009 above)
  Millis head_timeout{10'000};               // a request head must be complete by then
  size_t max_clients = 0;                    // open connections at once (0: as descriptors allow);
                                             // extras get 503 and are closed, as --max-clients
  std::optional<size_t> max_per_ip;          // as ServerConfig (--max-per-ip, --connect-rate)
  std::optional<double> connect_rate;
  bool counted = true;                       // in concur_connections_* (not the --metrics port's own)
  std::shared_ptr<tls::ServerContext> tls;   // https and wss (--tls-cert); null: http and ws
};

class WebServer {
 public:
  // Binds and listens now (throws SysError "cannot bind …"), serves after start().
  WebServer(const Endpoint& at, WebConfig cfg);
  ~WebServer();
  WebServer(const WebServer&) = delete;
  WebServer& operator=(const WebServer&) = delete;

  Endpoint local() const;
  // "https" with TLS, else "http": what the listening line says.
  const char* scheme() const { return server_.tls ? "https" : "http"; }
  // Routes, before start(): an exact path.
  void page(std::string path, PageHandler h) { http_.page(std::move(path), std::move(h)); }
  // Each text message is one on_data of `messages`, each of its sends one text message; it must
  // outlive the server.
  void websocket(std::string path, StreamService& messages) { http_.websocket(std::move(path), messages); }

  void start();
  // Closes every connection (each WebSocket's service gets on_close) and joins the thread.
  // Idempotent.
  void stop();

 private:
  FileDesc listener_;
  ServerConfig server_;
  HttpService http_;
  std::unique_ptr<Model> model_;
  StopSource stop_;
  std::thread thread_;
};

}  // namespace concur::web
