#pragma once
// What an EventLoop waits with. One iteration of the loop asks its backend to wait (no longer
// than the earliest timer), then to dispatch what the wait found; the loop runs its timers and
// posted tasks around that. Two kinds exist:
//   - readiness pollers (select, poll, epoll: loop/poller.hpp), wrapped by make_poller_backend();
//   - io_uring (loop/uring_backend.hpp), which reports readiness of watched descriptors too (the
//     mailbox, the stop request) and hands the completions of its owner's own submissions (the
//     uring model's accepts, recvs and sends) to that owner, in the same bounded batch.
//
// Readiness is level-triggered: a descriptor is reported for as long as it is ready, and may be
// reported spuriously. Not thread-safe: a backend belongs to its loop's thread.
#include <cstddef>
#include <memory>
#include <string>

#include "loop/poller.hpp"

namespace concur {

class LoopBackend {
 public:
  using ReadyFn = void (*)(void* ctx, const Ready& r);

  virtual ~LoopBackend() = default;
  // The loop's metric label: "select", "poll", "epoll" or "uring".
  virtual const char* name() const = 0;

  // Readiness interest in descriptors (the loop's watch table). False, with `why`, when this
  // backend cannot watch fd (select: fd >= FD_SETSIZE).
  virtual bool add(int fd, bool in, bool out, std::string* why) = 0;
  // The listening socket; epoll wakes only one of several loops for it (EPOLLEXCLUSIVE).
  virtual bool add_listener(int fd, std::string* why) { return add(fd, true, false, why); }
  // Both false: keep the descriptor, report nothing.
  virtual void update(int fd, bool in, bool out) = 0;
  virtual void remove(int fd) = 0;

  // Waits up to timeout_ms (-1: forever) for readiness or completions. EINTR returns early.
  virtual void wait(int timeout_ms) = 0;
  // Dispatches what the last wait found, at most a bounded batch: readiness through
  // ready(ctx, r), completions to whoever submitted them. Returns how many it handled (0: the
  // wait found nothing; the loop's batching looks at it).
  virtual size_t dispatch(ReadyFn ready, void* ctx) = 0;
};

// A readiness poller as a backend.
std::unique_ptr<LoopBackend> make_poller_backend(std::unique_ptr<Poller> poller);

}  // namespace concur
