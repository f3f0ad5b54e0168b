#pragma once
// The one timer queue of concur: a min-heap of (due, id) plus the callbacks by id. Cancelling
// erases the callback and leaves the heap entry to be skipped when it surfaces (lazy deletion),
// so add and cancel stay O(log n) and O(1) for thousands of connection timers. Skipped entries
// are bounded: once the cancelled entries outnumber the live ones the heap is rebuilt from the
// live ones alone (O(n) after at least n/2 cancels: amortised O(1) per cancel), so no pattern of
// add and cancel can grow it past about twice the live timers.
//
// Thread contract: not thread-safe; one queue belongs to one loop thread. EventLoop owns one;
// the uring model owns one next to its ring. entries_in_process() alone may be read anywhere.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <unordered_map>
#include <vector>

namespace concur {

class TimerQueue {
 public:
  using Clock = std::chrono::steady_clock;
  using Id = uint64_t;  // never 0, never reused
  static constexpr Id kNoTimer = 0;

  TimerQueue() = default;
  ~TimerQueue();
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  // Calls fn once at or after `due`. Timers due at the same instant fire in the order added.
  Id add(Clock::time_point due, std::function<void()> fn);
  // Forgets a timer that has not fired. False when it already fired or was cancelled.
  bool cancel(Id id);
  // Timers added and neither fired nor cancelled.
  size_t size() const { return fns_.size(); }
  bool empty() const { return fns_.empty(); }
  // Heap entries held, live and cancelled-but-not-yet-dropped: what the queue costs in memory.
  // At most 2 * size() + 1 between calls (the compaction above), whatever the callers do.
  size_t heap_size() const { return heap_.size() + deferred_.size(); }
  // Any thread. Heap entries of every TimerQueue alive in this process (relaxed: a reading taken
  // while loops run may lag by their current operation). For tests and diagnostics: it shows a
  // model that queues a timer per event instead of one per connection.
  static size_t entries_in_process() { return entries_in_process_.load(std::memory_order_relaxed); }
  // The earliest live due time (drops cancelled entries it meets on top).
  std::optional<Clock::time_point> next_due();
  // Milliseconds to wait in poll()/epoll_wait() for the earliest timer, rounded UP (a wait that
  // ends a fraction early would spin once more for nothing); -1 when none, capped at `cap` (>= 0).
  int timeout_ms(Clock::time_point now, int cap = -1);
  // Fires every timer due at `now`, earliest first. A callback may add or cancel timers; one it
  // adds fires on a later call even when already due, so a re-arming timer cannot spin here.
  // Not re-entrant: a callback must not call run_due().
  size_t run_due(Clock::time_point now);

 private:
  struct Item {
    Clock::time_point due;
    Id id;
    bool operator>(const Item& o) const { return due != o.due ? due > o.due : id > o.id; }
  };
  void push(const Item& i);
  void pop();          // the top entry
  void compact();      // rebuilds the heap from the live entries
  void publish();      // brings entries_in_process_ up to date with heap_size()

  std::vector<Item> heap_;  // std::push_heap/pop_heap with std::greater: earliest on top
  // Inside run_due(): due entries added by its callbacks, held out of heap_ until it returns.
  std::vector<Item> deferred_;
  std::unordered_map<Id, std::function<void()>> fns_;
  size_t cancelled_ = 0;    // entries in heap_ and deferred_ whose timer was cancelled
  size_t published_ = 0;    // heap_size() as last added to entries_in_process_
  Id next_id_ = 1;
  static inline std::atomic<size_t> entries_in_process_{0};
};

}  // namespace concur
