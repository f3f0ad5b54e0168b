#include "web/chat_web.hpp"

#include <fmt/format.h>

#include "core/log.hpp"
#include "services/chat_protocol.hpp"
#include "web/assets.hpp"

namespace concur::web {

using namespace concur::chat;

// Per-connection state, in WsConn::context; touched on the web server's thread, and by a claim
// answer from the Redis bridge's thread (under `mu`).
struct ChatWebService::Session {
  Session(const ChatSettings& st, std::string who_) : flood(st.rate, st.burst), who(std::move(who_)) {}
  std::weak_ptr<WsConn> conn;
  std::string id;
  std::shared_ptr<WsMember> member;  // set once joined
  bool done = false;
  bool claiming = false;              // joined locally, the other servers not yet heard
  std::vector<std::string> held;      // claiming: messages that arrived meanwhile, in order
  // The server thread's callbacks and, in a federated room, the claim answer from the bridge's
  // thread touch the session: `mu` serializes them (without federation it is never contended).
  std::mutex mu;
  FloodGuard flood;
  std::string who;  // "('ip', port)"
};

namespace {
constexpr uint16_t kCloseRefused = 4000;  // the page does not reconnect after this one
ChatWebService::Session* session_of(WsConn& c) {
  auto* p = std::any_cast<std::shared_ptr<ChatWebService::Session>>(&c.context());
  return p ? p->get() : nullptr;
}
constexpr size_t kMaxHeldMessages = 64;  // input held while a federated join is being claimed
}  // namespace

bool WsMember::deliver(const ChatMessage& m) {
  if (!active_.load(std::memory_order_acquire)) {
    std::lock_guard lock(held_mu_);
    if (!active_.load(std::memory_order_relaxed)) {
      if (held_bytes_ + m.text().size() <= kMaxHeld) {
        held_.emplace_back(m.text());
        held_bytes_ += m.text().size();
      }
      return true;
    }
  }
  return conn_->send_text(m.text());
}

void WsMember::activate() {
  std::lock_guard lock(held_mu_);
  for (const auto& text : held_) conn_->send_text(text);
  held_.clear();
  held_bytes_ = 0;
  active_.store(true, std::memory_order_release);
}

void WsMember::evict(std::string_view error_text) {
  evicted_.store(true, std::memory_order_release);
  conn_->send_text("error: " + std::string(error_text));
  conn_->close(kCloseRefused);
}

void ChatWebService::on_open(const std::shared_ptr<WsConn>& c) {
  auto s = std::make_shared<Session>(settings_, c->peer().seed_format());
  s->conn = c;
  c->context() = s;
  log_new_client(s->who);
  c->set_timer(settings_.join_timeout);
}

void ChatWebService::on_text(WsConn& c, std::string_view text) {
  Session* s = session_of(c);
  if (!s) return;
  std::lock_guard lock(s->mu);
  if (s->done) return;
  if (text.size() > kMaxMessage) {
    refuse(c, *s, kErrLineTooLong, fmt::format("message longer than {} bytes", kMaxMessage));
    return;
  }
  if (!s->member) {
    join(c, *s, text);
  } else if (s->claiming) {
    if (s->held.size() < kMaxHeldMessages) s->held.emplace_back(text);
    else refuse(c, *s, kErrServerFull, "too much input while its ID was being claimed");
  } else {
    on_message(c, *s, text);
  }
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
  s.claiming = true;
  c.set_timer(Millis(0));
  if (!prefix->rest.empty()) s.held.emplace_back(prefix->rest);  // "[ID]text" as the very first message
  // A federated room asks the other servers; the answer may come later, on the bridge's thread.
  // The callback keeps the connection and the session alive; a session closed meanwhile is done.
  auto* keep = std::any_cast<std::shared_ptr<Session>>(&c.context());
  auto answer = room_.claim(s.id, [this, conn, keep = *keep](RemoteIds::Claim claim) {
    std::lock_guard lock(keep->mu);
    on_claimed(*conn, *keep, claim);
  });
  if (answer) on_claimed(c, s, *answer);
}

void ChatWebService::on_claimed(WsConn& c, Session& s, const RemoteIds::Claim& claim) {
  if (s.done || !s.claiming) return;
  s.claiming = false;
  if (!claim.ok) {
    refuse(c, s, taken_error_text(s.id, claim.holder),
           fmt::format("ID '{}' is taken on another server", escape_for_terminal(s.id)));
    return;
  }
  s.member->activate();
  announce_join(room_, *s.member, s.id, s.who, settings_);
  std::vector<std::string> held = std::move(s.held);
  s.held.clear();
  for (const auto& text : held) {
    if (s.done) return;
    on_message(c, s, text);
  }
}

void ChatWebService::on_message(WsConn& c, Session& s, std::string_view text) {
  if (s.member->evicted()) {  // its ID went to another server during a Redis outage
    s.done = true;
    room_.leave(*s.member);
    return;
  }
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
  if (!s) return;
  std::lock_guard lock(s->mu);
  if (s->member || s->done) return;
  refuse(c, *s, kErrJoinTimeout, "no join in time");
}

void ChatWebService::on_close(WsConn& c) {
  auto* p = std::any_cast<std::shared_ptr<Session>>(&c.context());
  if (!p) return;
  std::shared_ptr<Session> keep = *p;  // the context is reset below, under the session's lock
  Session* s = keep.get();
  std::lock_guard lock(s->mu);
  s->done = true;
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
