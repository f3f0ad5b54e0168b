#include "web/chat_web.hpp"

#include "core/log.hpp"
#include "web/assets.hpp"

namespace concur::web {

void add_chat_routes(WebServer& server, StreamService& chat) {
  server.page("/", [](const Request&) { return asset_response("/chat.html"); });
  for (const char* p : {"/chat.js", "/style.css"})
    server.page(p, [p](const Request&) { return asset_response(p); });
  server.websocket("/ws", chat);
}

ChatWeb::ChatWeb(const Endpoint& at, WebConfig cfg, chat::ChatRoom& room, const chat::ChatSettings& settings)
    : service_(settings, room), server_(at, std::move(cfg)) {
  add_chat_routes(server_, service_);
}

void ChatWeb::start() {
  outf("listening on {} ({}, web)", server_.local().to_string(), server_.scheme());
  server_.start();
}

}  // namespace concur::web
