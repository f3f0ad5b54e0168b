#pragma once
// The instance's outgoing publications, bounded (SPEC §4: a Redis that stops reading cannot grow
// the instance without limit). Pure: the caller passes the time and does the sending.
//
// An entry stays queued until Redis confirms its PUBLISH. Entries are in order; the first
// `in_flight()` of them have been handed to the Redis connection. When the connection is lost,
// requeue() makes them unsent again: after the reconnect they are sent once more, and receivers
// drop the copies they already delivered (envelope sequence numbers), so nothing arrives twice.
// Entries older than `max_age` when they would be (re)sent are dropped: after a long outage, the
// other instances get the conversation from now on, not a replay of stale lines.
#include <chrono>
#include <cstddef>
#include <deque>
#include <string>

#include "core/duration.hpp"

namespace concur::redis {

class PublishQueue {
 public:
  using Clock = std::chrono::steady_clock;
  PublishQueue(size_t max_bytes, Millis max_age) : max_bytes_(max_bytes), max_age_(max_age) {}

  // False (and the payload is dropped, counted in dropped()) when it would pass the byte bound.
  bool push(std::string payload, Clock::time_point now);
  // The next entry to send, or nullptr; marks it in flight. Drops stale unsent entries first.
  const std::string* next_to_send(Clock::time_point now);
  // Redis confirmed the oldest entry in flight.
  void confirm();
  // The connection is gone: every entry in flight will be sent again.
  void requeue() { in_flight_ = 0; }

  size_t bytes() const { return bytes_; }
  size_t size() const { return q_.size(); }
  size_t in_flight() const { return in_flight_; }
  size_t max_bytes() const { return max_bytes_; }
  // Totals since start: refused by the bound, and dropped for age.
  size_t dropped() const { return dropped_; }
  size_t expired() const { return expired_; }

 private:
  struct Entry {
    std::string payload;
    Clock::time_point queued;
  };
  const size_t max_bytes_;
  const Millis max_age_;
  std::deque<Entry> q_;
  size_t in_flight_ = 0;
  size_t bytes_ = 0;
  size_t dropped_ = 0;
  size_t expired_ = 0;
};

}  // namespace concur::redis
