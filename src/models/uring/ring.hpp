#pragma once
// The uring model's io_uring instance, set up with the best flags the kernel has; a member
// declared before everything registered with it, so that it is torn down last.
#ifdef CONCUR_HAVE_URING
#include <liburing.h>

#include <chrono>
#include <optional>

namespace concur {

class Ring {
 public:
  // `entries` submission slots. Throws SysError when the kernel refuses io_uring.
  explicit Ring(unsigned entries);
  ~Ring();
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  io_uring& get() { return ring_; }

  // Submits every prepared SQE and waits for one completion, in one io_uring_enter, for at most
  // `timeout` (nullopt: no limit). Returns what io_uring_enter returns (-ETIME, -EINTR, ...).
  //
  // Measured and rejected (issue 14): waiting for a batch with the 6.12 minimum wait
  // (min_wait_usec 50-200 µs, 32 completions) cost 1.5-2.5x the CPU per round trip at 1,000
  // connections and 10,000 round trips/s — the minimum-wait timer wakes the thread between bursts.
  int submit_and_wait(std::optional<std::chrono::milliseconds> timeout);

 private:
  io_uring ring_{};
};

}  // namespace concur
#endif
