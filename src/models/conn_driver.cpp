#include "models/conn_driver.hpp"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <mutex>

#include "core/sys.hpp"

namespace concur {

ReadOutcome pump_input(StreamConn& c, StreamService& service, size_t budget) {
  // One read buffer per thread, allocated on first use. Not a thread_local array: that would be
  // part of every thread's static TLS, zeroed (so resident) when any thread starts — 64 KiB per
  // client in the thread model, read or not. Only the pages recv() writes become resident here.
  constexpr size_t kChunk = 64 * 1024;
  thread_local std::unique_ptr<char[]> buffer;
  if (!buffer) buffer.reset(new char[kChunk]);
  char* chunk = buffer.get();
  StreamConn::CallbackScope scope(c);
  size_t taken = 0;
  while (c.wants_read()) {
    ssize_t n = sys::recv(c.fd(), chunk, kChunk, MSG_DONTWAIT);
    if (n > 0) {
      service.on_data(c, std::string_view(chunk, static_cast<size_t>(n)));
      taken += static_cast<size_t>(n);
      if (taken >= budget) return ReadOutcome::budget_spent;
      // A short read means the socket is drained: every model waits level-triggered, so skip
      // the recv() that would only say EAGAIN (one syscall less per echo round-trip).
      if (static_cast<size_t>(n) < kChunk) return ReadOutcome::again;
      continue;
    }
    if (n == 0) {
      c.mark_peer_eof();
      service.on_peer_closed(c);
      return ReadOutcome::eof;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return ReadOutcome::again;
    c.mark_broken();  // ECONNRESET and friends: traffic, not a bug
    return ReadOutcome::error;
  }
  return ReadOutcome::again;
}

void retire(StreamConn& c, StreamService& service) {
  c.shut();
  service.on_close(c);
}

bool retire_if_done(StreamConn& c, StreamService& service) {
  if (c.settle() != StreamConn::State::finished) return false;
  retire(c, service);
  return true;
}

namespace {

// Waking a connection thread costs no descriptor: the thread keeps kWakeSignal blocked and waits
// in ppoll(), which unblocks it for the duration of the wait only. A wake-up is pthread_kill();
// one sent while the thread is busy stays pending and ends its next ppoll() at once, so none is
// lost. (An eventfd per client would double the descriptors of the thread model: 18,000 held
// clients would need 36,000 under a 20,000 limit.)
const int kWakeSignal = SIGRTMIN + 1;

extern "C" void on_wake_signal(int) {}

void install_wake_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_handler = on_wake_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: the wait must return
    ::sigaction(kWakeSignal, &sa, nullptr);
  });
}

// Who to signal, for as long as the thread serves the connection; guarded so that no signal is
// sent to a thread that has finished (its id may belong to another thread by then).
struct WakeTarget {
  std::mutex mu;
  pthread_t thread;
  bool serving = true;  // guarded by mu
};

}  // namespace

void serve_blocking(const std::shared_ptr<StreamConn>& c, StreamService& service, int stop_fd) {
  install_wake_handler();
  sigset_t wake_only, during_wait;
  sigemptyset(&wake_only);
  sigaddset(&wake_only, kWakeSignal);
  ::pthread_sigmask(SIG_BLOCK, &wake_only, &during_wait);  // blocked except inside ppoll()
  sigdelset(&during_wait, kWakeSignal);
  auto target = std::make_shared<WakeTarget>();
  target->thread = ::pthread_self();
  c->attach([target] {
    std::lock_guard lock(target->mu);
    if (target->serving) ::pthread_kill(target->thread, kWakeSignal);
  });
  service.on_open(*c);
  bool retired = false;
  for (;;) {
    if (retire_if_done(*c, service)) {
      retired = true;
      break;
    }
    pollfd fds[2] = {
        {c->fd(), static_cast<short>((c->wants_read() ? POLLIN : 0) | (c->wants_write() ? POLLOUT : 0)), 0},
        {stop_fd, POLLIN, 0}};
    timespec ts{}, *timeout = nullptr;
    if (c->timer_armed()) {
      auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(c->timer_due() - StreamConn::Clock::now());
      long long ns = left.count() < 0 ? 0 : left.count() + 1000000;
      ts.tv_sec = static_cast<time_t>(ns / 1000000000);
      ts.tv_nsec = static_cast<long>(ns % 1000000000);
      timeout = &ts;
    }
    int rc = ::ppoll(fds, 2, timeout, &during_wait);
    if (rc < 0) {
      if (errno == EINTR) continue;  // woken: settle() at the top writes what was queued
      break;
    }
    if (fds[1].revents) break;
    short ev = fds[0].revents;
    if (ev & (POLLIN | POLLHUP | POLLERR)) {
      if (c->wants_read()) pump_input(*c, service);
      else if (ev & (POLLHUP | POLLERR)) c->mark_broken();
    }
    if (c->timer_armed() && StreamConn::Clock::now() >= c->timer_due()) {
      c->disarm_timer();
      StreamConn::CallbackScope scope(*c);
      service.on_timeout(*c);
    }
  }
  if (!retired) retire(*c, service);
  {
    std::lock_guard lock(target->mu);
    target->serving = false;
  }
  // A wake-up sent just before `serving` went false may still be pending: take it, so that the
  // thread (reused by the iterative model for the next client) starts clean.
  timespec zero{};
  siginfo_t info;
  while (::sigtimedwait(&wake_only, &info, &zero) > 0) {
  }
  ::pthread_sigmask(SIG_UNBLOCK, &wake_only, nullptr);
}

}  // namespace concur
