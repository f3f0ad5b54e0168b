#pragma once
// chat-server --web: the WebSocket endpoint /ws as a member transport of the same ChatRoom as
// TCP and UDP (SPEC §4 "Web"). It is the TCP chat service itself (services/chat_tcp.hpp) over
// the WebSocket codec (web/ws_conn.hpp): each text message is one chat message in the TCP wire
// format without the newline — "[ID]" joins, "[ID]text" or "text" speaks, "[ID]quit" leaves; the
// member receives "[ID]text" and "error: …" — with the same rules as a TCP member because it is the
// same code: unique IDs, never echoed, --rate/--burst, 4096-byte messages, --join-timeout, the
// seed's log lines. A refused page is closed with status 4000 (do not reconnect).
#include "core/endpoint.hpp"
#include "services/chat_room.hpp"
#include "services/chat_tcp.hpp"
#include "web/web_server.hpp"

namespace concur::web {

// Registers the chat page (/ and its files) and /ws on `server`.
void add_chat_routes(WebServer& server, StreamService& chat);

// chat-server --web: the web server and the chat endpoint together. Binds in the constructor
// (a busy port fails the command before it serves anything); start() prints
// "listening on <ip>:<port> (http, web)" and serves on its own thread; the destructor stops it,
// so every browser member leaves the room before the room goes away.
class ChatWeb {
 public:
  ChatWeb(const Endpoint& at, WebConfig cfg, chat::ChatRoom& room, const chat::ChatSettings& settings);
  void start();

 private:
  chat::ChatStreamService service_;
  WebServer server_;  // declared last: stopped first
};

}  // namespace concur::web
