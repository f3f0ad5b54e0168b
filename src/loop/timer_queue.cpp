#include "loop/timer_queue.hpp"

#include <algorithm>

namespace concur {

TimerQueue::~TimerQueue() { entries_in_process_.fetch_sub(published_, std::memory_order_relaxed); }

TimerQueue::Id TimerQueue::add(Clock::time_point due, std::function<void()> fn) {
  Id id = next_id_++;
  fns_.emplace(id, std::move(fn));
  heap_.push_back({due, id});
  std::push_heap(heap_.begin(), heap_.end(), std::greater<>{});
  publish();
  return id;
}

bool TimerQueue::cancel(Id id) {
  if (fns_.erase(id) == 0) return false;
  if (fns_.empty()) heap_.clear();  // nothing live: drop the stale entries at once
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
    std::pop_heap(heap_.begin(), heap_.end(), std::greater<>{});
    heap_.pop_back();
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
  std::vector<Item> later;
  while (!heap_.empty() && heap_.front().due <= now) {
    Item top = heap_.front();
    std::pop_heap(heap_.begin(), heap_.end(), std::greater<>{});
    heap_.pop_back();
    if (top.id >= first_new) {
      later.push_back(top);
      continue;
    }
    auto it = fns_.find(top.id);
    if (it == fns_.end()) continue;  // cancelled
    std::function<void()> fn = std::move(it->second);
    fns_.erase(it);
    fn();
    ++fired;
  }
  for (const Item& i : later) {
    heap_.push_back(i);
    std::push_heap(heap_.begin(), heap_.end(), std::greater<>{});
  }
  publish();
  return fired;
}

void TimerQueue::publish() {
  size_t now = heap_size();
  if (now > published_) entries_in_process_.fetch_add(now - published_, std::memory_order_relaxed);
  else if (now < published_) entries_in_process_.fetch_sub(published_ - now, std::memory_order_relaxed);
  published_ = now;
}

}  // namespace concur
