#pragma once
// What every event loop counts for --metrics (issue 22): wake-ups (returns from the wait) and
// busy time (from a wake-up to the next wait: callbacks, timers, posted tasks), by backend — the
// select/poll/epoll EventLoop and uring's ring, so `--model` shows in the backend label. A loop
// that is busy most of the time is the server's bottleneck; wake-ups per message say how well
// the loop batches. Registered on first use; nothing measured without --metrics (no clock read).
//
// Thread contract: safe from any thread (the counters are striped per thread).
#include <chrono>

#include "metrics/registry.hpp"

namespace concur::loop_metrics {

struct Series {
  metrics::Counter& wakeups;
  metrics::Counter busy_ns;  // exposed as concur_loop_busy_seconds_total (through busy_probe)
  metrics::Probe busy_probe;
};
// backend: "select", "poll", "epoll" or "uring" (a fixed set: the label stays bounded).
Series& for_backend(const char* backend);

// Times one pass of a loop, from its wake-up to its end, when --metrics is on.
class Pass {
 public:
  explicit Pass(Series& s) : s_(s), on_(metrics::enabled()) {
    if (on_) start_ = std::chrono::steady_clock::now();
  }
  ~Pass() {
    if (!on_) return;
    s_.wakeups.add();
    s_.busy_ns.add(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start_).count()));
  }
  Pass(const Pass&) = delete;
  Pass& operator=(const Pass&) = delete;

 private:
  Series& s_;
  bool on_;
  std::chrono::steady_clock::time_point start_{};
};

}  // namespace concur::loop_metrics
