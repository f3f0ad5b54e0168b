#include "loop/uring_ring.hpp"

#ifdef CONCUR_HAVE_URING
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "core/error.hpp"

namespace concur {

Ring::Ring(unsigned entries) {
  // Newest first. SINGLE_ISSUER + DEFER_TASKRUN (6.1): completions are produced only inside our
  // own io_uring_enter, a bounded batch at a time, instead of by interrupting the loop thread as
  // packets arrive; this loop is the ring's only user and always waits with GETEVENTS, which is
  // what they need. COOP_TASKRUN (5.19): no interrupt to run completion work. SUBMIT_ALL: one bad
  // SQE does not stop the rest of the batch. R_DISABLED (5.10): see start().
  const unsigned tries[] = {
      IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
          IORING_SETUP_R_DISABLED,
      IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_R_DISABLED, IORING_SETUP_R_DISABLED, 0};
  int rc = -EINVAL;
  for (unsigned flags : tries) {
    io_uring_params params{};
    params.flags = flags;
    rc = io_uring_queue_init_params(entries, &ring_, &params);
    disabled_ = (flags & IORING_SETUP_R_DISABLED) != 0;
    if (rc != -EINVAL) break;  // older kernels refuse flags they do not know with EINVAL
  }
  if (rc < 0) throw SysError("io_uring is not available here (the kernel refused io_uring_setup)", -rc);
}

void Ring::start() {
  if (disabled_) {
    // The enabling thread becomes the single issuer. (liburing 2.3 exports no
    // io_uring_enable_rings: the register call itself.)
    if (::syscall(__NR_io_uring_register, ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0) < 0)
      throw_errno("io_uring_register(IORING_REGISTER_ENABLE_RINGS)");
    disabled_ = false;
  }
  // io_uring_enter by a registered index instead of a descriptor: no fget/fput per call (5.18+).
  // Registered per thread, so by the thread that enters.
  io_uring_register_ring_fd(&ring_);  // best effort
}

Ring::~Ring() { io_uring_queue_exit(&ring_); }

int Ring::submit_and_wait(std::optional<std::chrono::milliseconds> timeout) {
  if (!timeout) return io_uring_submit_and_wait(&ring_, 1);
  __kernel_timespec ts{timeout->count() / 1000, (timeout->count() % 1000) * 1000000};
  io_uring_cqe* cqe = nullptr;
  return io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
}

}  // namespace concur
#endif
