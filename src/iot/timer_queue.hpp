#pragma once
// A min-heap of (due time, key, generation) for one event loop. Entries are never removed:
// the owner bumps its generation when state changes and ignores stale entries when they fire
// (lazy cancellation), which keeps every operation O(log n) for thousands of devices.
#include <chrono>
#include <cstdint>
#include <queue>
#include <vector>

namespace concur::iot {

using Clock = std::chrono::steady_clock;

struct TimerEntry {
  Clock::time_point due;
  int key;
  uint64_t gen;
  bool operator>(const TimerEntry& o) const { return due > o.due; }
};

class TimerQueue {
 public:
  void push(Clock::time_point due, int key, uint64_t gen) { heap_.push({due, key, gen}); }
  bool empty() const { return heap_.empty(); }
  // Milliseconds until the earliest entry (rounded up), capped at `cap`; `cap` when empty.
  int timeout_ms(Clock::time_point now, int cap) const {
    if (heap_.empty()) return cap;
    auto left = std::chrono::ceil<std::chrono::milliseconds>(heap_.top().due - now).count();
    if (left < 0) return 0;
    return left < cap ? static_cast<int>(left) : cap;
  }
  // Pops every entry due at `now`, calling fire(key, gen) for each (fire may push new ones).
  template <typename Fire>
  void run_due(Clock::time_point now, Fire&& fire) {
    while (!heap_.empty() && heap_.top().due <= now) {
      TimerEntry e = heap_.top();
      heap_.pop();
      fire(e.key, e.gen);
    }
  }
  size_t size() const { return heap_.size(); }

 private:
  std::priority_queue<TimerEntry, std::vector<TimerEntry>, std::greater<>> heap_;
};

}  // namespace concur::iot
