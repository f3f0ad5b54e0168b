#include "core/stop.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/error.hpp"
#include "core/sd_notify.hpp"

namespace concur {

StopSource::StopSource() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (!fd_) throw_errno("eventfd");
}

void StopSource::request() noexcept {
  flag_.store(true, std::memory_order_release);
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(fd_.get(), &one, sizeof one);  // never read: stays readable
}

namespace {
std::atomic<StopSource*> g_stop{nullptr};
extern "C" void on_stop_signal(int) {
  int saved = errno;
  if (StopSource* s = g_stop.load()) {
    sd::notify_stopping();  // tell a service manager the drain has begun (no-op without one)
    s->request();
  }
  errno = saved;
}
}  // namespace

bool wait_ready_or_stop(int fd, short events, int stop_fd) {
  for (;;) {
    pollfd p[2] = {{fd, events, 0}, {stop_fd, POLLIN, 0}};
    int rc = ::poll(p, 2, -1);
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) throw_errno("poll");
    if (p[1].revents) return false;
    if (p[0].revents) return true;
  }
}

StopSignalsBlocked::StopSignalsBlocked() {
  sigset_t stops;
  sigemptyset(&stops);
  sigaddset(&stops, SIGINT);
  sigaddset(&stops, SIGTERM);
  sigaddset(&stops, SIGHUP);
  ::pthread_sigmask(SIG_BLOCK, &stops, &old_);
}

StopSignalsBlocked::~StopSignalsBlocked() { ::pthread_sigmask(SIG_SETMASK, &old_, nullptr); }

void ignore_sigpipe() { ::signal(SIGPIPE, SIG_IGN); }

StopSource* install_stop_signals(StopSource* stop) {
  ignore_sigpipe();
  StopSource* previous = g_stop.exchange(stop);
  struct sigaction sa {};
  sa.sa_handler = stop ? on_stop_signal : SIG_DFL;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  return previous;
}

}  // namespace concur
