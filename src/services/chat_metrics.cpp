#include "services/chat_metrics.hpp"

namespace concur::chat::chat_metrics {

Series& series() {
  static Series& s = []() -> Series& {
    auto& r = metrics::registry();
    auto flood = [&](const char* action) -> metrics::Counter& {
      return r.counter("concur_chat_flood_refusals_total",
                       "Messages refused by the per-member rate limit (--rate, --burst), by what the member got: "
                       "warned (error: slow down), dropped (silently), disconnected.",
                       {{"action", action}});
    };
    return *new Series{
        r.counter("concur_chat_messages_received_total", "Chat messages received from members (joins and quits excluded)."),
        r.counter("concur_chat_messages_relayed_total", "Chat messages relayed to the room (passed every check)."),
        r.counter("concur_chat_messages_delivered_total",
                  "Copies of chat messages and joins handed to members (one per receiving member)."),
        r.counter("concur_chat_joins_total", "Members that joined the room."),
        flood("warned"),
        flood("dropped"),
        flood("disconnected"),
    };
  }();
  return s;
}

}  // namespace concur::chat::chat_metrics
