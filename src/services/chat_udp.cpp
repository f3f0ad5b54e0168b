#include "services/chat_udp.hpp"

#include <fmt/format.h>

#include "core/log.hpp"
#include "services/chat_protocol.hpp"

namespace concur::chat {

ChatDatagramService::ChatDatagramService(ChatSettings settings)
    : settings_(settings), room_(settings.max_members) {}

void ChatDatagramService::answer_member(DatagramSink& sink, const Endpoint& to, std::string_view text) {
  sink.send_to(to, fmt::format("error: {}", text));
}

void ChatDatagramService::answer_stranger(DatagramSink& sink, const Endpoint& to, size_t size, std::string_view text,
                                          std::string_view short_text) {
  const size_t budget = kMaxAmplification * size;
  std::string reply = fmt::format("error: {}", text);
  if (reply.size() > budget) reply = fmt::format("error: {}", short_text);
  if (reply.size() <= budget) sink.send_to(to, reply);
}

void ChatDatagramService::handle(DatagramSink& sink, const Endpoint& from, std::string_view bytes, bool truncated,
                                 Clock::time_point now) {
  if (from.port() == 0) return;  // cannot be answered, and no peer sends from port 0
  size_t size = bytes.size();
  std::string_view message = bytes;
  if (message.ends_with('\n')) message.remove_suffix(1);  // tolerated, as a line client might add it
  if (message.ends_with('\r')) message.remove_suffix(1);
  auto it = members_.find(from);
  if (it != members_.end() && it->second.target->evicted()) {
    apply_evictions(sink);
    it = members_.find(from);
  }
  if (truncated || message.size() > kMaxMessage) {
    std::string text = fmt::format("message too long (max {} bytes; not relayed)", kMaxMessage);
    if (it != members_.end()) {
      it->second.last_seen = now;
      log_refused(it->second.who, fmt::format("datagram longer than {} bytes", kMaxMessage));
      answer_member(sink, from, text);
    } else {
      answer_stranger(sink, from, size, text, "too long");
    }
    return;
  }
  if (it == members_.end()) from_stranger(sink, from, message, size, now);
  else from_member(sink, it, message, now);
}

void ChatDatagramService::from_stranger(DatagramSink& sink, const Endpoint& from, std::string_view message,
                                        size_t size, Clock::time_point now) {
  // An unknown address joins with "[ID]" (or "[ID]text", as a seed client whose membership
  // expired sends: it joins and its message is relayed).
  auto p = split_prefix(message);
  if (!p) {
    answer_stranger(sink, from, size, kErrNotJoined, "join first");
    return;
  }
  if (IdError e = check_id(p->id); e != IdError::none) {
    answer_stranger(sink, from, size, id_error_text(e, p->id), "bad ID");
    return;
  }
  if (p->rest == "quit") return;
  std::string who = from.seed_format();
  // An eviction (the ID is held on another server) comes from the bridge's thread: the removal is
  // posted to this loop.
  auto target = std::make_shared<UdpMember>(sink, from, [this, post = sink.poster()] {
    post([this](DatagramSink& s) { apply_evictions(s); });
  });
  auto r = room_.join(p->id, target);
  if (r.status == ChatRoom::JoinStatus::taken) {
    log_refused(who, fmt::format("ID '{}' is taken", escape_for_terminal(p->id)));
    answer_stranger(sink, from, size, taken_error_text(p->id, r.holder), "ID taken");
    return;
  }
  if (r.status == ChatRoom::JoinStatus::full) {
    log_refused(who, "server full");
    answer_stranger(sink, from, size, kErrServerFull, "full");
    return;
  }
  auto [it, fresh] = members_.emplace(
      from, Member{target, std::string(p->id), who, FloodGuard(settings_.rate, settings_.burst), now, true, size, {}});
  Member& m = it->second;
  if (!p->rest.empty()) m.held.emplace_back(message);
  // A federated room asks the other servers; a later answer is posted to this loop.
  auto answer = room_.claim(m.id, [this, from, target, post = sink.poster()](RemoteIds::Claim claim) {
    post([this, from, target, claim = std::move(claim)](DatagramSink& s) {
      apply_answer(s, from, target, claim, Clock::now());
    });
  });
  if (answer) on_claimed(sink, it, *answer, now);
}

void ChatDatagramService::on_claimed(DatagramSink& sink, Table::iterator it, const RemoteIds::Claim& claim,
                                     Clock::time_point now) {
  Member& m = it->second;
  if (!claim.ok) {
    log_refused(m.who, fmt::format("ID '{}' is taken on another server", escape_for_terminal(m.id)));
    answer_stranger(sink, it->first, m.join_size, taken_error_text(m.id, claim.holder), "ID taken");
    room_.leave(*m.target);
    members_.erase(it);
    return;
  }
  m.claiming = false;
  m.target->activate();
  log_new_client(m.who);
  std::vector<std::string> held = std::move(m.held);
  if (held.empty()) {
    announce_join(room_, *m.target, m.id, m.who, settings_);
    return;
  }
  Endpoint from = it->first;
  for (const std::string& message : held) {
    auto cur = members_.find(from);
    if (cur == members_.end()) return;  // quit or flooded meanwhile
    from_member(sink, cur, message, now);
  }
}

void ChatDatagramService::apply_answer(DatagramSink& sink, const Endpoint& from,
                                       const std::shared_ptr<UdpMember>& target, const RemoteIds::Claim& claim,
                                       Clock::time_point now) {
  auto it = members_.find(from);
  // The address may have left (idle expiry) and joined again with a new claim meanwhile.
  if (it == members_.end() || it->second.target != target || !it->second.claiming) return;
  on_claimed(sink, it, claim, now);
}

void ChatDatagramService::apply_evictions(DatagramSink& sink) {
  for (auto it = members_.begin(); it != members_.end();) {
    auto next = std::next(it);
    if (it->second.target->evicted()) {
      // Already out of the room; its ID belongs to a member of another server.
      answer_member(sink, it->first, it->second.target->evict_text());
      log_exited(it->second.who, "its ID is held on another server");
      members_.erase(it);
    }
    it = next;
  }
}

void ChatDatagramService::tick(DatagramSink&, Clock::time_point now) {
  if (now < next_expiry_) return;
  next_expiry_ = now + std::chrono::seconds(1);
  expire(now);
}

void ChatDatagramService::from_member(DatagramSink& sink, Table::iterator it, std::string_view message,
                                      Clock::time_point now) {
  Member& m = it->second;
  m.last_seen = now;
  if (m.claiming) {
    if (m.held.size() < 64) m.held.emplace_back(message);
    return;
  }
  Outcome o = relay_message(room_, *m.target, m.id, m.who, message, m.flood, settings_, now);
  switch (o.kind) {
    case Outcome::Kind::relayed:
    case Outcome::Kind::ignored: return;
    case Outcome::Kind::quit: remove(it, {}); return;
    case Outcome::Kind::refused: answer_member(sink, it->first, o.error); return;
    case Outcome::Kind::disconnect:
      answer_member(sink, it->first, o.error);
      remove(it, "flooding");
      return;
  }
}

void ChatDatagramService::remove(Table::iterator it, std::string_view why) {
  room_.leave(*it->second.target);
  log_exited(it->second.who, why);
  members_.erase(it);
}

void ChatDatagramService::expire(Clock::time_point now) {
  if (settings_.idle_timeout.count() <= 0) return;
  for (auto it = members_.begin(); it != members_.end();) {
    auto next = std::next(it);
    if (now - it->second.last_seen >= settings_.idle_timeout)
      remove(it, fmt::format("idle for {:g} s", static_cast<double>(settings_.idle_timeout.count()) / 1000.0));
    it = next;
  }
}

}  // namespace concur::chat
