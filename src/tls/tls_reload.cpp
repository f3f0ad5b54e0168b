#include "tls/tls_reload.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <pthread.h>

#include <atomic>
#include <cerrno>

#include "core/error.hpp"
#include "core/log.hpp"

namespace concur::tls {

namespace {
std::atomic<int> g_hangup_fd{-1};

extern "C" void on_hangup(int) {
  int saved = errno;
  int fd = g_hangup_fd.load();
  uint64_t one = 1;
  if (fd >= 0) {
    [[maybe_unused]] ssize_t n = ::write(fd, &one, sizeof one);
  }
  errno = saved;
}

void route_hangup(bool to_us) {
  struct sigaction sa {};
  sa.sa_handler = to_us ? on_hangup : SIG_DFL;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  ::sigaction(SIGHUP, &sa, nullptr);
}
}  // namespace

ReloadOnHangup::ReloadOnHangup(std::shared_ptr<ServerContext> ctx) : ctx_(std::move(ctx)) {
  if (!ctx_) return;
  quit_ = FileDesc(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  FileDesc hup(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!quit_ || !hup) throw_errno("eventfd");
  g_hangup_fd.store(hup.release());
  route_hangup(true);
  // The thread takes no signals: SIGINT/SIGTERM and the models' wake-ups go where they did.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  thread_ = std::thread([this] { run(); });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

ReloadOnHangup::~ReloadOnHangup() {
  if (!ctx_) return;
  route_hangup(false);
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(quit_.get(), &one, sizeof one);
  thread_.join();
  int fd = g_hangup_fd.exchange(-1);
  if (fd >= 0) ::close(fd);
}

void ReloadOnHangup::run() {
  int hup = g_hangup_fd.load();
  for (;;) {
    pollfd p[2] = {{quit_.get(), POLLIN, 0}, {hup, POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (p[0].revents) return;
    uint64_t count;
    [[maybe_unused]] ssize_t n = ::read(hup, &count, sizeof count);
    std::string why = ctx_->reload();
    const ServerSettings& s = ctx_->settings();
    if (why.empty()) outf("tls: reloaded certificate {} and key {}", s.cert, s.key);
    else errf("tls: cannot reload: {}; the certificate in use stays", why);
  }
}

}  // namespace concur::tls
