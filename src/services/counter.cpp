#include "services/counter.hpp"

#include <algorithm>

#include "core/log.hpp"

namespace concur {

bool parse_sync_mode(std::string_view text, SyncMode& out) {
  if (text == "none") out = SyncMode::none;
  else if (text == "mutex") out = SyncMode::mutex;
  else if (text == "atomic") out = SyncMode::atomic;
  else return false;
  return true;
}

uint64_t SharedCounter::add_times(uint64_t n) { return *add_times(n, [] { return true; }); }

std::optional<uint64_t> SharedCounter::add_times(uint64_t n, const std::function<bool()>& keep_going) {
  uint64_t done = 0;
  // The next chunk of adds, at most kCheckEvery; 0 once n are done or keep_going() says no.
  auto next_chunk = [&]() -> uint64_t {
    if (done == n || (done > 0 && !keep_going())) return 0;
    uint64_t k = std::min(kCheckEvery, n - done);
    done += k;
    return k;
  };
  switch (mode_) {
    case SyncMode::none: {
      // Read-modify-write in two steps: another thread's store can land in between and be lost.
      while (uint64_t k = next_chunk())
        for (uint64_t i = 0; i < k; ++i) value_.store(value_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      break;
    }
    case SyncMode::mutex: {
      // The seed's fix: the whole loop is the critical section. keep_going() only polls flags
      // and a socket without waiting, so no lock is held across a blocking call.
      std::lock_guard lock(mu_);
      if (!keep_going()) return std::nullopt;  // stopped or left while waiting for the lock
      while (uint64_t k = next_chunk())
        for (uint64_t i = 0; i < k; ++i) value_.store(value_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      if (done < n) return std::nullopt;
      return value_.load(std::memory_order_relaxed);
    }
    case SyncMode::atomic: {
      uint64_t last = 0;  // one indivisible add per increment, as the lecture's loop
      while (uint64_t k = next_chunk())
        for (uint64_t i = 0; i < k; ++i) last = value_.fetch_add(1, std::memory_order_relaxed) + 1;
      if (done < n) return std::nullopt;
      return last;
    }
  }
  if (done < n) return std::nullopt;
  return value_.load(std::memory_order_relaxed);
}

void CounterService::on_open(Conn& c) {
  if (!quiet_) outf("connected by {}", c.peer().seed_format());
  auto v = counter_.add_times(increments_, [&] { return !(stop_ && stop_->requested()) && !c.peer_gone(); });
  if (!v) {
    abandoned_.fetch_add(1);
    if (!quiet_) outf("{} left or the server is stopping: counting given up", c.peer().seed_format());
    c.close();
    return;
  }
  if (!quiet_) outf("{}", *v);
  c.send(std::to_string(*v));
  c.close();
}

}  // namespace concur
