#pragma once
// The io_uring instance of the uring backend, set up with the best flags the kernel has; a member
// declared before everything registered with it, so that it is torn down last.
#ifdef CONCUR_HAVE_URING
#include <liburing.h>

#include <chrono>
#include <optional>
#include <thread>

namespace concur {

class Ring {
 public:
  // `entries` submission slots. Throws SysError when the kernel refuses io_uring.
  explicit Ring(unsigned entries);
  ~Ring();
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  io_uring& get() { return ring_; }

  // The thread that will enter the ring (the loop's) starts it: until then it is set up
  // disabled, so SQEs can be prepared and buffers registered from the thread that made it, but
  // the single-issuer owner and the registered ring descriptor (both per thread) are the
  // runner's. Once, before the first submit_and_wait().
  void start();

  // Submits every prepared SQE and waits for one completion, in one io_uring_enter, for at most
  // `timeout` (nullopt: no limit). Returns what io_uring_enter returns (-ETIME, -EINTR, ...).
  //
  // Measured and rejected (issue 14): waiting for a batch with the 6.12 minimum wait
  // (min_wait_usec 50-200 µs, 32 completions) cost 1.5-2.5x the CPU per round trip at 1,000
  // connections and 10,000 round trips/s — the minimum-wait timer wakes the thread between bursts.
  int submit_and_wait(std::optional<std::chrono::milliseconds> timeout);

 private:
  io_uring ring_{};
  bool disabled_ = false;  // set up with IORING_SETUP_R_DISABLED: start() enables it
};

}  // namespace concur
#endif
