#include "loop/timer_queue.hpp"

#include <algorithm>

namespace concur {

TimerQueue::~TimerQueue() { entries_in_process_.fetch_sub(published_, std::memory_order_relaxed); }

TimerQueue::Id TimerQueue::add(Clock::time_point due, std::function<void()> fn) {
  Id id = next_id_++;
  fns_.emplace(id, std::move(fn));
  try {
    push({due, id});
  } catch (...) {  // no memory for the heap entry: the timer was never added
    fns_.erase(id);
    throw;
  }
  publish();
  return id;
}

bool TimerQueue::cancel(Id id) {
  if (fns_.erase(id) == 0) return false;
  ++cancelled_;
  // More dead entries than live ones: drop them all now rather than when each surfaces, which
  // for a timer due late (an idle timeout re-armed on every message) would be never.
  if (cancelled_ > fns_.size()) compact();
  publish();
  return true;
}

std::optional<TimerQueue::Clock::time_point> TimerQueue::next_due() {
  std::optional<Clock::time_point> due;
  while (!heap_.empty()) {
    if (fns_.count(heap_.front().id)) {
      due = heap_.front().due;
      break;
    }
    pop();
    --cancelled_;
  }
  publish();
  return due;
}

int TimerQueue::timeout_ms(Clock::time_point now, int cap) {
  auto due = next_due();
  if (!due) return cap;
  auto left = std::chrono::ceil<std::chrono::milliseconds>(*due - now).count();
  if (left < 0) left = 0;
  if (cap >= 0 && left > cap) return cap;
  return static_cast<int>(std::min<long long>(left, 24LL * 3600 * 1000));
}

size_t TimerQueue::run_due(Clock::time_point now) {
  const Id first_new = next_id_;  // timers added by the callbacks below wait for the next call
  size_t fired = 0;
  while (!heap_.empty() && heap_.front().due <= now) {
    Item top = heap_.front();
    pop();
    auto it = fns_.find(top.id);
    if (it == fns_.end()) {  // cancelled
      --cancelled_;
      continue;
    }
    if (top.id >= first_new) {
      deferred_.push_back(top);
      continue;
    }
    std::function<void()> fn = std::move(it->second);
    fns_.erase(it);
    fn();
    ++fired;
  }
  for (const Item& i : deferred_) {
    if (fns_.count(i.id)) {
      push(i);
    } else {
      --cancelled_;  // cancelled by a later callback of this run
    }
  }
  deferred_.clear();
  // Timers that fired leave fewer live ones: the cancelled entries may now outnumber them.
  if (cancelled_ > fns_.size()) compact();
  publish();
  return fired;
}

void TimerQueue::push(const Item& i) {
  heap_.push_back(i);
  std::push_heap(heap_.begin(), heap_.end(), std::greater<>{});
}

void TimerQueue::pop() {
  std::pop_heap(heap_.begin(), heap_.end(), std::greater<>{});
  heap_.pop_back();
}

void TimerQueue::compact() {
  auto dead = [this](const Item& i) { return fns_.count(i.id) == 0; };
  std::erase_if(heap_, dead);
  std::erase_if(deferred_, dead);
  std::make_heap(heap_.begin(), heap_.end(), std::greater<>{});
  cancelled_ = 0;
  // Give back what a burst of timers left behind (O(size) here, already paid for by the cancels).
  if (heap_.capacity() > 4 * heap_.size() + 64) heap_.shrink_to_fit();
}

void TimerQueue::publish() {
  size_t now = heap_size();
  if (now > published_) entries_in_process_.fetch_add(now - published_, std::memory_order_relaxed);
  else if (now < published_) entries_in_process_.fetch_sub(published_ - now, std::memory_order_relaxed);
  published_ = now;
}

}  // namespace concur
