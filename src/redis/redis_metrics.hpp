#pragma once
// What the Redis bridge counts for --metrics (issue 22), as far as the bridge has the concepts:
// publications confirmed, messages from other servers delivered, re-sent duplicates dropped
// (publications sent again after a reconnect, the "recovery"), garbage, publications dropped from
// the full buffer, outages and reconnects, and the link's state.
#include "metrics/registry.hpp"

namespace concur::redis {

struct RedisSeries {
  metrics::Counter& published;
  metrics::Counter& received;
  metrics::Counter& duplicates;
  metrics::Counter& garbage;
  metrics::Counter& publish_dropped;
  metrics::Counter& outages;
  metrics::Counter& reconnects;
  metrics::Gauge& link_up;
  metrics::Counter& recovered;  // read from the room's log after a cut-off (issue 20)
  metrics::Counter& lost;       // told to members as a history gap
};
RedisSeries& redis_series();

}  // namespace concur::redis
