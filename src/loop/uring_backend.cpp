#include "loop/uring_backend.hpp"

#ifdef CONCUR_HAVE_URING
#include <poll.h>

#include <cerrno>
#include <optional>
#include <thread>

#include "core/error.hpp"

namespace concur {

namespace {
constexpr uint64_t kGenMask = (uint64_t{1} << 24) - 1;  // 8 bits op, 32 fd, 24 generation
}

UringBackend::UringBackend(unsigned entries) : ring_(entries) {}

io_uring_sqe* UringBackend::sqe() {
  io_uring_sqe* s = io_uring_get_sqe(&ring_.get());
  while (!s) {  // submission queue full: hand what we have to the kernel and retry
    io_uring_submit(&ring_.get());
    s = io_uring_get_sqe(&ring_.get());
  }
  return s;
}

uint64_t UringBackend::poll_tag(int fd, uint32_t gen) {
  return ((uint64_t{gen} & kGenMask) << 40) | (uint64_t{static_cast<uint32_t>(fd)} << 8) | kPollOp;
}

bool UringBackend::add(int fd, bool in, bool out, std::string* why) {
  if (fd < 0) {
    if (why) *why = "negative descriptor";
    return false;
  }
  if (static_cast<size_t>(fd) >= watches_.size()) watches_.resize(static_cast<size_t>(fd) + 1 + watches_.size() / 2);
  Watch& w = watches_[static_cast<size_t>(fd)];
  w.watched = true;
  w.in = in;
  w.out = out;
  arm(fd, w);
  return true;
}

void UringBackend::update(int fd, bool in, bool out) {
  if (fd < 0 || static_cast<size_t>(fd) >= watches_.size() || !watches_[static_cast<size_t>(fd)].watched) return;
  Watch& w = watches_[static_cast<size_t>(fd)];
  w.in = in;
  w.out = out;
  unsigned mask = (in ? POLLIN : 0u) | (out ? POLLOUT : 0u);
  if (w.armed && w.armed_mask == mask) return;
  withdraw(fd, w);
  arm(fd, w);
}

void UringBackend::remove(int fd) {
  if (fd < 0 || static_cast<size_t>(fd) >= watches_.size()) return;
  Watch& w = watches_[static_cast<size_t>(fd)];
  withdraw(fd, w);
  w.watched = w.in = w.out = false;
}

void UringBackend::arm(int fd, Watch& w) {
  unsigned mask = (w.in ? POLLIN : 0u) | (w.out ? POLLOUT : 0u);
  if (w.armed || mask == 0) return;  // no interest: no poll (errors wait for interest, as epoll's)
  io_uring_sqe* s = sqe();
  io_uring_prep_poll_add(s, fd, mask);
  io_uring_sqe_set_data64(s, poll_tag(fd, w.gen));
  w.armed = true;
  w.armed_mask = mask;
}

// The armed poll leaves: removed in the kernel, and its report (if it raced) is stale.
void UringBackend::withdraw(int fd, Watch& w) {
  if (!w.armed) return;
  io_uring_sqe* s = sqe();
  io_uring_prep_poll_remove(s, poll_tag(fd, w.gen));
  io_uring_sqe_set_data64(s, kPollRemoveOp);
  w.armed = false;
  ++w.gen;
}

void UringBackend::wait(int timeout_ms) {
  std::optional<std::chrono::milliseconds> t;
  if (timeout_ms >= 0) t = std::chrono::milliseconds(timeout_ms);
  if (runner_ != std::this_thread::get_id()) {
    if (runner_ != std::thread::id{})  // a single-issuer ring would refuse it (EEXIST, EINVAL)
      throw SysError("io_uring: the loop must keep running on the thread that first ran it", EEXIST);
    ring_.start();
    runner_ = std::this_thread::get_id();
  }
  int rc = ring_.submit_and_wait(t);
  if (rc < 0 && rc != -ETIME && rc != -EINTR) throw SysError("io_uring_submit_and_wait", -rc);
}

size_t UringBackend::dispatch(ReadyFn ready, void* ctx) {
  // One batch of what is ready now, then back to the loop (and its submit): io_uring_for_each_cqe
  // would also take completions that arrive while we handle these, and a peer flooding a
  // multishot recv would keep us here forever, with our sends (and recv cancels) never submitted.
  unsigned n = io_uring_peek_batch_cqe(&ring_.get(), batch_, kBatch);
  struct Advance {  // even when a callback throws: seen completions must not come back
    io_uring& ring;
    unsigned done = 0;
    ~Advance() { io_uring_cq_advance(&ring, done); }
  } advance{ring_.get()};
  for (unsigned i = 0; i < n; ++i) {
    const io_uring_cqe& cqe = *batch_[i];
    uint64_t op = io_uring_cqe_get_data64(&cqe) & 0xff;
    ++advance.done;
    if (op == kPollOp) on_poll(cqe, ready, ctx);
    else if (op != kPollRemoveOp && completion_fn_) completion_fn_(completion_ctx_, cqe);
  }
  io_uring_cq_advance(&ring_.get(), advance.done);  // before batch_end: it asks what is left
  advance.done = 0;
  if (batch_end_fn_) batch_end_fn_(batch_end_ctx_);
  return n;
}

void UringBackend::on_poll(const io_uring_cqe& cqe, ReadyFn ready, void* ctx) {
  uint64_t data = io_uring_cqe_get_data64(&cqe);
  int fd = static_cast<int>(static_cast<uint32_t>(data >> 8));
  uint32_t gen = static_cast<uint32_t>(data >> 40);
  if (fd < 0 || static_cast<size_t>(fd) >= watches_.size()) return;
  Watch& w = watches_[static_cast<size_t>(fd)];
  if (!w.watched || !w.armed || (w.gen & kGenMask) != gen) return;  // withdrawn since: stale
  w.armed = false;
  ++w.gen;
  int res = cqe.res;
  Ready r{fd, res > 0 && (res & POLLIN) != 0, res > 0 && (res & POLLOUT) != 0,
          res < 0 || (res & (POLLERR | POLLHUP | POLLNVAL)) != 0};
  ready(ctx, r);
  // Level-triggered: ask again; a descriptor still ready completes in the next enter. The
  // callback may have unwatched it (or watched it anew, armed already).
  Watch& now = watches_[static_cast<size_t>(fd)];  // the table may have grown
  if (now.watched) arm(fd, now);
}

}  // namespace concur
#endif
