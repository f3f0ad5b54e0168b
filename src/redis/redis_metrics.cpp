#include "redis/redis_metrics.hpp"

namespace concur::redis {

RedisSeries& redis_series() {
  static RedisSeries& s = []() -> RedisSeries& {
    auto& r = metrics::registry();
    return *new RedisSeries{
        r.counter("concur_redis_published_total", "Chat messages published to Redis and confirmed by it."),
        r.counter("concur_redis_received_total", "Chat messages from other servers of the room delivered to local members."),
        r.counter("concur_redis_duplicates_total",
                  "Messages from other servers dropped as already delivered (sent again after their reconnect)."),
        r.counter("concur_redis_garbage_total", "Messages on the room's channel or in its log that are not concur's (dropped)."),
        r.counter("concur_redis_publish_dropped_total",
                  "Chat messages not published because the publish buffer (--max-queue) was full during an outage."),
        r.counter("concur_redis_outages_total", "Times the link to Redis was lost or could not be made."),
        r.counter("concur_redis_reconnects_total", "Times the link to Redis came back after an outage."),
        r.gauge("concur_redis_link_up", "1 while the link to Redis is subscribed and answering, else 0."),
        r.counter("concur_redis_recovered_total",
                  "Messages of other servers read from the room's log after they were missed live (a cut-off, a wedged link)."),
        r.counter("concur_redis_lost_total",
                  "Messages the room's log no longer had when this server caught up (told to members as a history gap)."),
    };
  }();
  return s;
}

}  // namespace concur::redis
