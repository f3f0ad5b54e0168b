#include "services/chat_tcp.hpp"

#include <fmt/format.h>

#include <any>

#include "core/line_framer.hpp"
#include "core/log.hpp"

namespace concur::chat {

void ConnMember::evict(std::string_view error_text) {
  evicted_.store(true, std::memory_order_release);
  std::string line = "error: " + std::string(error_text);
  if (!raw_) line.push_back('\n');
  conn_->send(line);
  conn_->close_refused();
}

// Per-connection state; lives in Conn::context. Touched only on the connection's owner thread: its
// callbacks, and in a federated room the claim answer, which the bridge's thread posts there
// (Conn::post), so it needs no lock.
struct ChatStreamService::Session {
  // line and raw frame a byte stream (TCP); message is a transport that frames whole messages
  // (Conn::Framing::message: a WebSocket), so every on_data is one message.
  enum class Phase { joining, claiming, line, raw, message, done };
  Session(const ChatSettings& st, const Endpoint& peer)
      : flood(st.rate, st.burst), who(peer.seed_format()) {}

  Phase phase = Phase::joining;
  JoinDecoder decoder;
  LineFramer framer{kMaxMessage};
  bool raw_framing = false;  // what we send carries no newline (a raw client, a message transport)
  bool messages = false;     // the transport frames messages (Conn::Framing::message)
  std::string id;
  std::shared_ptr<ConnMember> member;  // set once joined
  FloodGuard flood;
  std::string who;  // "('ip', port)"
  std::string held;        // claiming: bytes that arrived after the join, framed once it completes
  std::vector<std::string> held_messages;  // the same for a message transport
};

namespace {
// Input held while the other servers are asked about an ID (well under a second): at most this much.
constexpr size_t kMaxHeldWhileClaiming = 64 * 1024;
constexpr size_t kMaxHeldMessagesWhileClaiming = 64;
}  // namespace

namespace {
std::string seconds(Millis d) { return fmt::format("{:g} s", static_cast<double>(d.count()) / 1000.0); }
}  // namespace

ChatStreamService::ChatStreamService(ChatSettings settings)
    : settings_(settings), own_room_(std::make_unique<ChatRoom>()), room_(*own_room_) {}

ChatStreamService::ChatStreamService(ChatSettings settings, ChatRoom& room) : settings_(settings), room_(room) {}

ChatStreamService::Session* ChatStreamService::session_of(Conn& c) {
  auto* p = std::any_cast<std::shared_ptr<Session>>(&c.context());
  return p ? p->get() : nullptr;
}

void ChatStreamService::on_open(Conn& c) {
  auto s = std::make_shared<Session>(settings_, c.peer());
  s->messages = c.framing() == Conn::Framing::message;
  s->raw_framing = s->messages;
  c.context() = s;
  log_new_client(s->who);
  c.set_timer(settings_.join_timeout);
}

void ChatStreamService::on_data(Conn& c, std::string_view bytes) {
  Session* s = session_of(c);
  if (!s) return;
  if (s->messages && bytes.size() > kMaxMessage && s->phase != Session::Phase::done) {
    refuse(c, *s, kErrLineTooLong, fmt::format("message longer than {} bytes", kMaxMessage));
    return;
  }
  switch (s->phase) {
    case Session::Phase::joining:
      if (s->messages) join_message(c, *s, bytes);
      else on_join_state(c, *s, s->decoder.feed(bytes));
      break;
    case Session::Phase::claiming:
      if (s->messages) {
        if (s->held_messages.size() < kMaxHeldMessagesWhileClaiming) s->held_messages.emplace_back(bytes);
        else refuse(c, *s, kErrServerFull, "too much input while its ID was being claimed");
      } else if (s->held.size() + bytes.size() > kMaxHeldWhileClaiming)
        refuse(c, *s, kErrLineTooLong, "more than 64 KiB sent before the join completed");
      else
        s->held.append(bytes);
      break;
    case Session::Phase::line: feed_lines(c, *s, bytes); break;
    case Session::Phase::raw: feed_raw(c, *s, bytes); break;
    case Session::Phase::message: on_message(c, *s, bytes); break;
    case Session::Phase::done: break;
  }
}

void ChatStreamService::on_timeout(Conn& c) {
  Session* s = session_of(c);
  if (!s) return;
  if (s->phase != Session::Phase::joining) return;
  if (!s->messages && s->decoder.state() == JoinDecoder::State::undecided) on_join_state(c, *s, s->decoder.timeout());
  else refuse(c, *s, kErrJoinTimeout, "no join within " + seconds(settings_.join_timeout));
}

void ChatStreamService::on_close(Conn& c) {
  Session* s = session_of(c);
  if (!s) return;
  s->phase = Session::Phase::done;
  if (s->member) room_.leave(*s->member);
  if (c.overflowed())
    log_exited(s->who, fmt::format("disconnected: not reading, more than {} bytes pending", settings_.max_queue));
  else
    log_exited(s->who);
  // The session holds the member, which holds the connection: break the cycle.
  c.context().reset();
}

void ChatStreamService::on_join_state(Conn& c, Session& s, JoinDecoder::State state) {
  using St = JoinDecoder::State;
  switch (state) {
    case St::need_more: return;
    case St::undecided: c.set_timer(settings_.raw_decision); return;
    case St::http:
      log_refused(s.who, "an HTTP request (this is a chat server)");
      c.send(std::string(kHttpAnswer) + "\n");
      finish(c, s);
      return;
    case St::invalid: refuse(c, s, s.decoder.error(), s.decoder.error()); return;
    case St::line: join(c, s, s.decoder.id(), false); return;
    case St::raw: join(c, s, s.decoder.id(), true); return;
  }
}

void ChatStreamService::join_message(Conn& c, Session& s, std::string_view text) {
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
  if (!prefix->rest.empty()) s.held_messages.emplace_back(prefix->rest);  // "[ID]text" as the first message
  join(c, s, std::string(prefix->id), true);
}

// A page's resume request (/ws?since=OFFSET&epoch=EPOCH, or /ws?offsets=1 on its first visit):
// anything malformed is as if absent.
namespace {
ChatRoom::Resume parse_resume(std::string_view query) {
  ChatRoom::Resume r;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = pair.substr(0, eq), value = pair.substr(eq + 1);
    if (key == "offsets" && value == "1") {
      r.offsets = true;
    } else if (key == "since" && !value.empty() && value.size() <= 19 &&
               value.find_first_not_of("0123456789") == std::string_view::npos) {
      r.offsets = true;
      r.since = std::stoull(std::string(value));
    } else if (key == "epoch" && value.size() <= 32) {
      r.epoch = value;
    }
  }
  return r;
}
}  // namespace

void ChatStreamService::join(Conn& c, Session& s, std::string id, bool raw) {
  s.raw_framing = raw;
  s.id = std::move(id);
  ChatRoom::Resume resume;
  if (s.messages) resume = parse_resume(c.query());
  auto member = std::make_shared<ConnMember>(c.shared(), raw, resume.offsets);
  auto r = room_.join(s.id, member, resume);
  if (r.status == ChatRoom::JoinStatus::taken) {
    refuse(c, s, taken_error_text(s.id, r.holder), fmt::format("ID '{}' is taken", escape_for_terminal(s.id)));
    return;
  }
  if (r.status == ChatRoom::JoinStatus::full) {
    refuse(c, s, kErrServerFull, "server full");
    return;
  }
  s.member = std::move(member);
  s.phase = Session::Phase::claiming;
  s.held = s.decoder.take_rest();
  c.set_timer(Millis(0));
  // A federated room asks the other servers; the answer may come later, on the bridge's thread,
  // which posts it to the connection's owner. A connection that ended meanwhile never runs it.
  auto answer = room_.claim(s.id, [this, conn = c.shared()](RemoteIds::Claim claim) {
    conn->post([this, claim = std::move(claim)](Conn& owned) {
      if (Session* session = session_of(owned)) on_claimed(owned, *session, claim);
    });
  });
  if (answer) on_claimed(c, s, *answer);
}

void ChatStreamService::on_claimed(Conn& c, Session& s, const RemoteIds::Claim& claim) {
  if (s.phase != Session::Phase::claiming) return;
  if (!claim.ok) {
    refuse(c, s, taken_error_text(s.id, claim.holder),
           fmt::format("ID '{}' is taken on another server", escape_for_terminal(s.id)));
    return;
  }
  s.phase = s.messages ? Session::Phase::message : s.raw_framing ? Session::Phase::raw : Session::Phase::line;
  s.member->activate();
  announce_join(room_, *s.member, s.id, s.who, settings_);
  if (s.messages) {
    std::vector<std::string> held = std::move(s.held_messages);
    s.held_messages.clear();
    for (const auto& text : held) {
      if (s.phase != Session::Phase::message) return;
      on_message(c, s, text);
    }
    return;
  }
  std::string rest = std::move(s.held);
  if (rest.empty()) return;
  if (s.raw_framing) feed_raw(c, s, rest);
  else feed_lines(c, s, rest);
}

void ChatStreamService::feed_lines(Conn& c, Session& s, std::string_view bytes) {
  auto status = s.framer.feed(bytes, [&](std::string_view line) {
    if (s.phase == Session::Phase::line) on_message(c, s, line);
  });
  if (status == LineFramer::Status::too_long && s.phase == Session::Phase::line)
    refuse(c, s, kErrLineTooLong, fmt::format("line longer than {} bytes", kMaxMessage));
}

void ChatStreamService::feed_raw(Conn& c, Session& s, std::string_view bytes) {
  for (std::string_view piece : split_raw_chunk(bytes, s.id)) {
    if (s.phase != Session::Phase::raw) return;
    if (piece.size() > kMaxMessage) {
      refuse(c, s, kErrLineTooLong, fmt::format("message longer than {} bytes", kMaxMessage));
      return;
    }
    on_message(c, s, piece);
  }
}

void ChatStreamService::on_message(Conn& c, Session& s, std::string_view message) {
  if (s.member->evicted()) {  // its ID went to another server during a Redis outage
    finish(c, s);
    return;
  }
  Outcome o = relay_message(room_, *s.member, s.id, s.who, message, s.flood, settings_, FloodGuard::Clock::now());
  switch (o.kind) {
    case Outcome::Kind::relayed:
    case Outcome::Kind::ignored: return;
    case Outcome::Kind::quit: finish(c, s); return;
    case Outcome::Kind::refused: send_error(c, s, o.error); return;
    case Outcome::Kind::disconnect:
      send_error(c, s, o.error);
      finish(c, s, true);
      return;
  }
}

void ChatStreamService::refuse(Conn& c, Session& s, std::string_view text, std::string_view log_why) {
  log_refused(s.who, log_why);
  send_error(c, s, text);
  finish(c, s, true);
}

void ChatStreamService::send_error(Conn& c, const Session& s, std::string_view text) {
  std::string line = fmt::format("error: {}", text);
  if (!s.raw_framing) line.push_back('\n');
  c.send(line);
}

void ChatStreamService::finish(Conn& c, Session& s, bool refused) {
  s.phase = Session::Phase::done;
  if (s.member) room_.leave(*s.member);
  if (refused) c.close_refused();
  else c.close();
}

}  // namespace concur::chat
