#include "web/web_server.hpp"

#include <exception>

#include "core/log.hpp"
#include "core/socket.hpp"
#include "models/model.hpp"
#include "core/stop.hpp"

namespace concur::web {

namespace {
HttpSettings http_settings(const WebConfig& cfg) {
  HttpSettings s;
  s.allowed_origins = cfg.allowed_origins;
  s.max_message = cfg.max_message;
  s.head_timeout = cfg.head_timeout;
  return s;
}
}  // namespace

WebServer::WebServer(const Endpoint& at, WebConfig cfg) : http_(http_settings(cfg)) {
  listener_ = tcp_listen(at);
  server_.max_queue = cfg.max_queue;
  server_.max_clients = cfg.max_clients;
  server_.counted = cfg.counted;
  server_.max_per_ip = cfg.max_per_ip;
  server_.connect_rate = cfg.connect_rate;
  server_.tls = cfg.tls;
  server_.per_address_message =
      "HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain\r\nContent-Length: 39\r\n"
      "Connection: close\r\n\r\ntoo many connections from your address\n";
  server_.workers = 1;
  server_.full_message =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n"
      "Connection: close\r\n\r\nserver full\n";
  // The web port is one event loop whatever --model serves the main port: pages and WebSockets
  // are many idle connections with small messages, what epoll is for.
  model_ = find_model("epoll")->make();
}

WebServer::~WebServer() { stop(); }

Endpoint WebServer::local() const { return local_endpoint(listener_.get()); }

void WebServer::start() {
  StopSignalsBlocked quiet;  // the command's thread takes SIGINT/SIGTERM; the stop fd reaches here
  thread_ = std::thread([this] {
    try {
      model_->run(listener_.get(), http_, server_, stop_);
    } catch (const std::exception& e) {
      errf("concur: web port {}: {}", local().to_string(), e.what());
    }
  });
}

void WebServer::stop() {
  if (!thread_.joinable()) return;
  stop_.request();
  thread_.join();
}

}  // namespace concur::web
