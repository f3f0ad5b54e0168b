#include "services/chat_relay.hpp"

#include <fmt/format.h>

#include "core/log.hpp"
#include "services/chat_metrics.hpp"
#include "services/chat_protocol.hpp"

namespace concur::chat {

void log_new_client(std::string_view who) { outf("new client {}", who); }

void log_message(std::string_view who, std::string_view m) {
  out_line(asctime_now() + std::string(who) + ":" + escape_for_terminal(m));
}

void log_exited(std::string_view who, std::string_view why) {
  if (why.empty()) outf("{} exited", who);
  else outf("{} exited ({})", who, why);
}

void log_refused(std::string_view who, std::string_view why) { outf("{} refused: {}", who, why); }

Outcome relay_message(ChatRoom& room, const ChatMember& self, std::string_view id, std::string_view who,
                      std::string_view message, FloodGuard& flood, const ChatSettings& settings,
                      FloodGuard::Clock::time_point now) {
  using Kind = Classified::Kind;
  Classified c = classify(message, id);
  if (c.kind == Kind::quit) return {Outcome::Kind::quit, {}};
  if (c.kind == Kind::empty) return {Outcome::Kind::ignored, {}};
  chat_metrics::Series& m = chat_metrics::series();
  m.received.add();
  switch (flood.on_message(now)) {
    case FloodGuard::Verdict::pass: break;
    case FloodGuard::Verdict::warn: m.flood_warned.add(); return {Outcome::Kind::refused, std::string(kErrSlowDown)};
    case FloodGuard::Verdict::drop: m.flood_dropped.add(); return {Outcome::Kind::ignored, {}};
    case FloodGuard::Verdict::disconnect:
      m.flood_disconnected.add();
      log_refused(who, "flooding: disconnected");
      return {Outcome::Kind::disconnect, std::string(kErrFlood)};
  }
  switch (c.kind) {
    case Kind::impersonation:
      log_refused(who, fmt::format("message as '{}' from '{}' (impersonation)", escape_for_terminal(c.claimed),
                                   escape_for_terminal(id)));
      return {Outcome::Kind::refused, impersonation_error_text(id, c.claimed)};
    case Kind::bad_text: return {Outcome::Kind::refused, text_error_text(c.text_error)};
    default: break;
  }
  if (!settings.quiet) log_message(who, c.text);
  m.relayed.add();
  room.broadcast(&self, ChatMessage(c.text));
  return {Outcome::Kind::relayed, {}};
}

void announce_join(ChatRoom& room, const ChatMember& self, std::string_view id, std::string_view who,
                   const ChatSettings& settings) {
  std::string join = "[" + std::string(id) + "]";
  if (!settings.quiet) log_message(who, join);
  chat_metrics::series().joins.add();
  room.broadcast(&self, ChatMessage(join));
}

}  // namespace concur::chat
