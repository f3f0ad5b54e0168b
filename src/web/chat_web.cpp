#include "web/chat_web.hpp"

#include <fmt/format.h>

#include "core/log.hpp"
#include "services/chat_protocol.hpp"
#include "web/assets.hpp"

namespace concur::web {

using namespace concur::chat;

// Per-connection state, in WsConn::context; touched only on the web server's thread.
struct ChatWebService::Session {
  Session(const ChatSettings& st, std::string who_) : flood(st.rate, st.burst), who(std::move(who_)) {}
  std::weak_ptr<WsConn> conn;
  std::string id;
  std::shared_ptr<WsMember> member;  // set once joined
  bool done = false;
  FloodGuard flood;
  std::string who;  // "('ip', port)"
};

namespace {
constexpr uint16_t kCloseRefused = 4000;  // the page does not reconnect after this one
ChatWebService::Session* session_of(WsConn& c) {
  auto* p = std::any_cast<std::shared_ptr<ChatWebService::Session>>(&c.context());
  return p ? p->get() : nullptr;
}
}  // namespace

void ChatWebService::on_open(const std::shared_ptr<WsConn>& c) {
  auto s = std::make_shared<Session>(settings_, c->peer().seed_format());
  s->conn = c;
  c->context() = s;
  log_new_client(s->who);
  c->set_timer(settings_.join_timeout);
}

void ChatWebService::on_text(WsConn& c, std::string_view text) {
  Session* s = session_of(c);
  if (!s || s->done) return;
  if (text.size() > kMaxMessage) {
    refuse(c, *s, kErrLineTooLong, fmt::format("message longer than {} bytes", kMaxMessage));
    return;
  }
  if (!s->member) join(c, *s, text);
  else on_message(c, *s, text);
}

void ChatWebService::join(WsConn& c, Session& s, std::string_view text) {
  auto prefix = split_prefix(text);
  if (!prefix) {
    refuse(c, s, kErrNotJoined, "did not join with [ID]");
    return;
  }
  if (IdError e = check_id(prefix->id); e != IdError::none) {
    std::string why = id_error_text(e, prefix->id);
    refuse(c, s, why, why);
    return;
  }
  auto conn = s.conn.lock();
  if (!conn) return;
  auto member = std::make_shared<WsMember>(conn);
  auto r = room_.join(prefix->id, member);
  if (r.status == ChatRoom::JoinStatus::taken) {
    refuse(c, s, taken_error_text(prefix->id, r.holder),
           fmt::format("ID '{}' is taken", escape_for_terminal(prefix->id)));
    return;
  }
  if (r.status == ChatRoom::JoinStatus::full) {
    refuse(c, s, kErrServerFull, "server full");
    return;
  }
  s.id = std::string(prefix->id);
  s.member = std::move(member);
  c.set_timer(Millis(0));
  announce_join(room_, *s.member, s.id, s.who, settings_);
  if (!prefix->rest.empty()) on_message(c, s, prefix->rest);  // "[ID]text" as the very first message
}

void ChatWebService::on_message(WsConn& c, Session& s, std::string_view text) {
  Outcome o = relay_message(room_, *s.member, s.id, s.who, text, s.flood, settings_, FloodGuard::Clock::now());
  switch (o.kind) {
    case Outcome::Kind::relayed:
    case Outcome::Kind::ignored: return;
    case Outcome::Kind::quit:
      s.done = true;
      room_.leave(*s.member);
      c.close();
      return;
    case Outcome::Kind::refused: c.send_text("error: " + o.error); return;
    case Outcome::Kind::disconnect:
      s.done = true;
      room_.leave(*s.member);
      c.send_text("error: " + o.error);
      c.close(kCloseRefused);
      return;
  }
}

void ChatWebService::refuse(WsConn& c, Session& s, std::string_view error, std::string_view log_why) {
  log_refused(s.who, log_why);
  s.done = true;
  if (s.member) room_.leave(*s.member);
  c.send_text(fmt::format("error: {}", error));
  c.close(kCloseRefused);
}

void ChatWebService::on_timeout(WsConn& c) {
  Session* s = session_of(c);
  if (!s || s->member || s->done) return;
  refuse(c, *s, kErrJoinTimeout, "no join in time");
}

void ChatWebService::on_close(WsConn& c) {
  Session* s = session_of(c);
  if (!s) return;
  if (s->member) room_.leave(*s->member);
  if (c.overflowed())
    log_exited(s->who, fmt::format("disconnected: not reading, more than {} bytes pending", settings_.max_queue));
  else
    log_exited(s->who);
  c.context().reset();  // the session holds the member, which holds the connection
}

void add_chat_routes(WebServer& server, ChatWebService& chat) {
  server.page("/", [](const Request&) { return asset_response("/chat.html"); });
  for (const char* p : {"/chat.js", "/style.css"})
    server.page(p, [p](const Request&) { return asset_response(p); });
  server.websocket("/ws", chat);
}

}  // namespace concur::web

namespace concur::web {

ChatWeb::ChatWeb(const Endpoint& at, WebConfig cfg, chat::ChatRoom& room, const chat::ChatSettings& settings)
    : service_(room, settings), server_(at, std::move(cfg)) {
  add_chat_routes(server_, service_);
}

void ChatWeb::start() {
  outf("listening on {} (http, web)", server_.local().to_string());
  server_.start();
}

}  // namespace concur::web
