#pragma once
// What the TCP and the UDP chat share once a member's message has been framed: the settings, the
// seed's log lines, and the decision about one message (quit, refuse, drop, relay to the room).
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "core/duration.hpp"
#include "services/chat_flood.hpp"
#include "services/chat_room.hpp"

namespace concur::chat {

struct ChatSettings {
  bool quiet = false;              // no per-message log lines
  double rate = 100;               // messages per second per member (<= 0: no limit)
  size_t burst = 500;              // messages a member may send at once
  size_t max_members = 0;          // UDP: members (TCP: --max-clients is enforced by the model)
  size_t max_queue = 1 << 20;      // TCP: the model's bound, for the log line of a dropped reader
  Millis join_timeout{30'000};     // TCP: a connection that has not joined by then is closed
  Millis raw_decision{200};        // TCP: "[ID]" followed by this much silence is a raw join
  Millis idle_timeout{600'000};    // UDP: a member silent this long is dropped
};

// The seed's log lines (udp_multi_chat_server.py), flushed at once.
void log_new_client(std::string_view who);                   // "new client ('ip', port)"
void log_message(std::string_view who, std::string_view m);  // "<asctime>('ip', port):<m>" (escaped)
void log_exited(std::string_view who, std::string_view why = {});  // "('ip', port) exited[ (why)]"
void log_refused(std::string_view who, std::string_view why);      // "('ip', port) refused: why"

struct Outcome {
  enum class Kind {
    relayed,     // sent to the room
    ignored,     // empty, or dropped by the rate limit after the warning
    quit,        // "[ID]quit": the caller removes the member
    refused,     // answer "error: <error>" to the sender; nothing relayed
    disconnect,  // answer "error: <error>" and remove the member
  };
  Kind kind;
  std::string error;
};

// Decides about one message of the joined member `self` (ID `id`, logged as `who`) and, when it is
// to be relayed, logs it and delivers it to every other member.
Outcome relay_message(ChatRoom& room, const ChatMember& self, std::string_view id, std::string_view who,
                      std::string_view message, FloodGuard& flood, const ChatSettings& settings,
                      FloodGuard::Clock::time_point now);

// A join: logs "[ID]" and relays it to the others, as the seed does.
void announce_join(ChatRoom& room, const ChatMember& self, std::string_view id, std::string_view who,
                   const ChatSettings& settings);

}  // namespace concur::chat
