#include "services/counter.hpp"

#include "core/log.hpp"

namespace concur {

bool parse_sync_mode(std::string_view text, SyncMode& out) {
  if (text == "none") out = SyncMode::none;
  else if (text == "mutex") out = SyncMode::mutex;
  else if (text == "atomic") out = SyncMode::atomic;
  else return false;
  return true;
}

uint64_t SharedCounter::add_times(uint64_t n) {
  switch (mode_) {
    case SyncMode::none: {
      // Read-modify-write in two steps: another thread's store can land in between and be lost.
      uint64_t v = 0;
      for (uint64_t i = 0; i < n; ++i) {
        v = value_.load(std::memory_order_relaxed) + 1;
        value_.store(v, std::memory_order_relaxed);
      }
      return value_.load(std::memory_order_relaxed);
    }
    case SyncMode::mutex: {
      std::lock_guard lock(mu_);  // the seed's fix: the whole loop is the critical section
      for (uint64_t i = 0; i < n; ++i) value_.store(value_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      return value_.load(std::memory_order_relaxed);
    }
    case SyncMode::atomic: {
      uint64_t last = 0;  // one indivisible add per increment, as the lecture's loop
      for (uint64_t i = 0; i < n; ++i) last = value_.fetch_add(1, std::memory_order_relaxed) + 1;
      return last;
    }
  }
  return 0;
}

void CounterService::on_open(Conn& c) {
  if (!quiet_) outf("connected by {}", c.peer().seed_format());
  uint64_t v = counter_.add_times(increments_);
  if (!quiet_) outf("{}", v);
  c.send(std::to_string(v));
  c.close();
}

}  // namespace concur
