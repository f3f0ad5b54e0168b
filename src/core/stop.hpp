#pragma once
// A stop request that event loops can wait on: an eventfd that becomes (and stays) readable.
// request() is async-signal-safe, so a SIGINT/SIGTERM handler can call it.
#include <signal.h>

#include <atomic>

#include "core/fd.hpp"

namespace concur {

class StopSource {
 public:
  StopSource();
  void request() noexcept;           // any thread, or a signal handler
  bool requested() const noexcept { return flag_.load(std::memory_order_acquire); }
  int fd() const noexcept { return fd_.get(); }  // poll for POLLIN

 private:
  FileDesc fd_;
  std::atomic<bool> flag_{false};
};

// Routes SIGINT and SIGTERM to `stop` (nullptr: back to the default action) and ignores SIGPIPE.
// Returns the StopSource they were routed to before. Commands use StopSignalGuard, not this.
StopSource* install_stop_signals(StopSource* stop);

// install_stop_signals(&stop) for a scope: the previous routing comes back however the scope ends
// (an exception included), so a later StopSource never sees a signal meant for a dead one, and
// guards nest (a command's guard around a server helper's guard for the same or another stop).
// Every command that stops on SIGINT/SIGTERM holds one.
class StopSignalGuard {
 public:
  explicit StopSignalGuard(StopSource& stop) : previous_(install_stop_signals(&stop)) {}
  ~StopSignalGuard() { install_stop_signals(previous_); }
  StopSignalGuard(const StopSignalGuard&) = delete;
  StopSignalGuard& operator=(const StopSignalGuard&) = delete;

 private:
  StopSource* previous_;
};
// For its scope the calling thread takes no SIGINT, SIGTERM or SIGHUP, and neither does any thread
// it starts meanwhile (a thread inherits the mask). Every helper or worker thread is started
// inside one, so those signals reach only the command's own thread, whose handler writes the stop
// fd. Why it matters: a process-directed signal goes to any thread that does not block it, and a
// thread parked in accept() under TSan (which defers handlers to the next interceptor) would sit on
// it forever — the server never hears the stop. The models' wake-up signal is left alone.
class StopSignalsBlocked {
 public:
  StopSignalsBlocked();
  ~StopSignalsBlocked();
  StopSignalsBlocked(const StopSignalsBlocked&) = delete;
  StopSignalsBlocked& operator=(const StopSignalsBlocked&) = delete;

 private:
  sigset_t old_;
};

// Blocks until `fd` has one of `events` (POLLIN, POLLOUT; or an error/hang-up) — true — or until
// the stop eventfd `stop_fd` fires — false. For blocking code (clients, one-shot accepts) that
// must still end on ^C: a read() or accept() blocked in the kernel would not (SA_RESTART).
// Throws SysError when poll() fails.
bool wait_ready_or_stop(int fd, short events, int stop_fd);

// Ignore SIGPIPE process-wide: a peer that resets mid-write is traffic, not a fatal error.
void ignore_sigpipe();

}  // namespace concur
