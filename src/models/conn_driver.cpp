#include "models/conn_driver.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "core/sys.hpp"

namespace concur {

ReadOutcome pump_input(StreamConn& c, StreamService& service, size_t budget) {
  thread_local char chunk[64 * 1024];
  StreamConn::CallbackScope scope(c);
  size_t taken = 0;
  while (c.wants_read()) {
    ssize_t n = sys::recv(c.fd(), chunk, sizeof chunk, MSG_DONTWAIT);
    if (n > 0) {
      service.on_data(c, std::string_view(chunk, static_cast<size_t>(n)));
      taken += static_cast<size_t>(n);
      if (taken >= budget) return ReadOutcome::budget_spent;
      // A short read means the socket is drained: every model waits level-triggered, so skip
      // the recv() that would only say EAGAIN (one syscall less per echo round-trip).
      if (static_cast<size_t>(n) < sizeof chunk) return ReadOutcome::again;
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

void serve_blocking(const std::shared_ptr<StreamConn>& c, StreamService& service, int stop_fd) {
  // The eventfd must outlive this frame: another thread may still hold the connection and wake it.
  auto wake = std::make_shared<FileDesc>(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  c->attach([wake] {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake->get(), &one, sizeof one);
  });
  service.on_open(*c);
  for (;;) {
    if (retire_if_done(*c, service)) return;
    pollfd fds[3] = {
        {c->fd(), static_cast<short>((c->wants_read() ? POLLIN : 0) | (c->wants_write() ? POLLOUT : 0)), 0},
        {wake->get(), POLLIN, 0},
        {stop_fd, POLLIN, 0}};
    int timeout = -1;
    if (c->timer_armed()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(c->timer_due() - StreamConn::Clock::now());
      timeout = left.count() < 0 ? 0 : static_cast<int>(left.count()) + 1;
    }
    int rc = ::poll(fds, 3, timeout);
    if (rc < 0 && errno != EINTR) break;
    if (fds[2].revents) break;
    if (fds[1].revents) {
      uint64_t v;
      [[maybe_unused]] ssize_t n = ::read(wake->get(), &v, sizeof v);
    }
    short ev = fds[0].revents;
    if (ev & (POLLIN | POLLHUP | POLLERR)) {
      if (c->wants_read()) pump_input(*c, service);
      else if (ev & (POLLHUP | POLLERR)) c->mark_broken();
    }
    if (c->timer_armed() && StreamConn::Clock::now() >= c->timer_due()) {
      c->disarm_timer();
      service.on_timeout(*c);
    }
  }
  retire(*c, service);
}

}  // namespace concur
