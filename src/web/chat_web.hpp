#pragma once
// chat-server --web: the WebSocket endpoint /ws as a member transport of the same ChatRoom as
// TCP and UDP (SPEC §4 "Web"). Each WebSocket text message is one chat message in the TCP wire
// format without the newline: "[ID]" joins, "[ID]text" or "text" speaks, "[ID]quit" leaves; the
// member receives "[ID]text" and "error: …". Same rules as a TCP member: unique IDs, never echoed,
// --rate/--burst, 4096-byte messages, --join-timeout, the seed's log lines.
//
// Thread contract: the WsHandler callbacks run on the web server's thread; the room is shared with
// the model's threads and is thread-safe; WsMember::deliver runs on any thread.
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "services/chat_relay.hpp"
#include "services/chat_room.hpp"
#include "web/web_server.hpp"

namespace concur::web {

// A WebSocket as a room member: one text message per chat message.
class WsMember final : public chat::ChatMember {
 public:
  explicit WsMember(std::shared_ptr<WsConn> conn) : conn_(std::move(conn)) {}
  // As the TCP member: until activate(), the member holds its ID while the other servers of a
  // federated room are asked about it; what the room says meanwhile is held (up to kMaxHeld bytes)
  // and sent on activate(), or dropped with the member if it loses the ID. Any thread.
  bool deliver(const chat::ChatMessage& m) override;
  void activate();
  // Its ID went to another server during a Redis outage: tell the page and close. Any thread.
  void evict(std::string_view error_text) override;
  bool evicted() const { return evicted_.load(std::memory_order_acquire); }

 private:
  const std::shared_ptr<WsConn> conn_;
  static constexpr size_t kMaxHeld = 64 * 1024;
  std::atomic<bool> active_{false};
  std::atomic<bool> evicted_{false};
  std::mutex held_mu_;
  std::vector<std::string> held_;  // guarded by held_mu_
  size_t held_bytes_ = 0;          // guarded by held_mu_
};

class ChatWebService final : public WsHandler {
 public:
  ChatWebService(chat::ChatRoom& room, chat::ChatSettings settings) : room_(room), settings_(settings) {}

  void on_open(const std::shared_ptr<WsConn>& c) override;
  void on_text(WsConn& c, std::string_view text) override;
  void on_close(WsConn& c) override;
  void on_timeout(WsConn& c) override;

  struct Session;

 private:
  void join(WsConn& c, Session& s, std::string_view text);
  void on_claimed(WsConn& c, Session& s, const chat::RemoteIds::Claim& claim);
  void on_message(WsConn& c, Session& s, std::string_view text);
  void refuse(WsConn& c, Session& s, std::string_view error, std::string_view log_why);

  chat::ChatRoom& room_;
  const chat::ChatSettings settings_;
};

// Registers the chat page (/ and its files) and /ws on `server`.
void add_chat_routes(WebServer& server, ChatWebService& chat);

}  // namespace concur::web

namespace concur::web {

// chat-server --web: the web server and the chat endpoint together. Binds in the constructor
// (a busy port fails the command before it serves anything); start() prints
// "listening on <ip>:<port> (http, web)" and serves on its own thread; the destructor stops it,
// so every browser member leaves the room before the room goes away.
class ChatWeb {
 public:
  ChatWeb(const Endpoint& at, WebConfig cfg, chat::ChatRoom& room, const chat::ChatSettings& settings);
  void start();

 private:
  ChatWebService service_;
  WebServer server_;  // declared last: stopped first
};

}  // namespace concur::web
