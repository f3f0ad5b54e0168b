#pragma once
// What the chat service counts for --metrics (issue 22), whatever transport or model carries it:
// messages in from members, messages relayed, copies delivered to members, joins, and the flood
// guard's verdicts. Members per room is a probe on ChatRoom::size(), registered by the command
// that knows the room's name.
#include "metrics/registry.hpp"

namespace concur::chat::chat_metrics {

struct Series {
  metrics::Counter& received;
  metrics::Counter& relayed;
  metrics::Counter& delivered;
  metrics::Counter& joins;
  metrics::Counter& flood_warned;
  metrics::Counter& flood_dropped;
  metrics::Counter& flood_disconnected;
};
Series& series();

}  // namespace concur::chat::chat_metrics
