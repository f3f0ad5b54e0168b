#include "conn/worker_accept.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <thread>

namespace concur {

SharedListener::SharedListener(int listen_fd) : fd_(listen_fd), saved_flags_(::fcntl(listen_fd, F_GETFL)) {
  if (saved_flags_ >= 0) ::fcntl(fd_, F_SETFL, saved_flags_ & ~O_NONBLOCK);
}

SharedListener::~SharedListener() {
  if (saved_flags_ >= 0) ::fcntl(fd_, F_SETFL, saved_flags_);
}

void SharedListener::stop_workers() { ::shutdown(fd_, SHUT_RDWR); }

bool stop_fd_readable(int stop_fd) {
  pollfd p{stop_fd, POLLIN, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

void serve_accepted_until_stop(int listen_fd, AcceptGate& gate, int stop_fd,
                               const ServeAdmitted& serve) {
  Acceptor acceptor(listen_fd);
  while (!stop_fd_readable(stop_fd)) {
    FileDesc client;
    Endpoint peer;
    auto r = acceptor.accept(client, peer);  // blocks: the listening socket is blocking here
    if (r == Acceptor::Result::accepted) {
      if (Admission place = gate.admit(client, peer)) serve(std::move(client), peer, std::move(place));
    } else if (r == Acceptor::Result::error && errno == EINVAL) {
      // Not listening (any more): stop_workers() shut it down — at stop, or because the model
      // could not start all its workers — and no accept() on it can succeed again.
      return;
    } else if (int saved = errno; !stop_fd_readable(stop_fd)) {
      errno = saved;  // report() names it
      // EAGAIN cannot happen on a blocking socket unless someone cleared the flag under us;
      // anything else is reported (rate-limited) and retried after a pause, never spun on.
      if (r != Acceptor::Result::again) gate.report(r);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
}

}  // namespace concur
