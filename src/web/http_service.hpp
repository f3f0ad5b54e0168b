#pragma once
// The web port's StreamService (SPEC §4 "Web"): HTTP/1.1 GET of pages, and the upgrade of a
// WebSocket path to the service registered for it, which from then on sees the connection as a
// WsConn (a message-framed Conn, web/ws_conn.hpp). Whatever model serves the web port drives it
// like any other service, so a page and a WebSocket have the lifecycle of every TCP client.
//
// HTTP: GET only, heads of at most 8 KiB complete within head_timeout (else the connection is cut
// off silently: a slow-loris holds nothing long), every answer closes the connection
// (http_request.hpp). WebSocket: the handshake checks Origin (ws_handshake.hpp).
//
// Thread contract: routes are set before serving. Page handlers and the WebSocket services'
// callbacks run on the connection's owner thread (the web port's loop).
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/duration.hpp"
#include "services/service.hpp"
#include "web/http_request.hpp"
#include "web/http_response.hpp"

namespace concur::web {

using PageHandler = std::function<Response(const Request&)>;

struct HttpSettings {
  std::vector<std::string> allowed_origins;  // --web-origin; same origin is always allowed
  size_t max_message = 64 * 1024;            // largest incoming WebSocket message (close 1009 above)
  Millis head_timeout{10'000};               // a request head must be complete by then
};

class HttpService final : public StreamService {
 public:
  explicit HttpService(HttpSettings settings) : settings_(std::move(settings)) {}

  // Routes, before serving: an exact path.
  void page(std::string path, PageHandler h) { pages_[std::move(path)] = std::move(h); }
  // Each text message is one on_data of `messages`, each of its sends one text message.
  void websocket(std::string path, StreamService& messages) { sockets_[std::move(path)] = &messages; }

  void on_open(Conn& c) override;
  void on_data(Conn& c, std::string_view bytes) override;
  void on_close(Conn& c) override;
  void on_timeout(Conn& c) override;

  struct Session;

 private:
  void on_head(Conn& c, Session& s);
  // `accepted` is the 101 answer already made for `req`.
  void upgrade(Conn& c, Session& s, const Request& req, const Response& accepted, StreamService& messages,
               size_t consumed);

  const HttpSettings settings_;
  std::map<std::string, PageHandler> pages_;
  std::map<std::string, StreamService*> sockets_;
};

}  // namespace concur::web
