#include "conn/blocking_accept.hpp"

#include <poll.h>

#include <cerrno>
#include <thread>

namespace concur {

void accept_until_stop(int listen_fd, AcceptGate& gate, const StopSource& stop,
                       const ServeAdmitted& serve,
                       const std::function<void()>& tick) {
  Acceptor acceptor(listen_fd);
  while (!stop.requested()) {
    pollfd fds[2] = {{listen_fd, POLLIN, 0}, {stop.fd(), POLLIN, 0}};
    // Bursts of refusals are summed up once they are over, so wake up for that too.
    int rc = ::poll(fds, 2, tick ? 200 : gate.needs_tick() ? 1000 : -1);
    if (tick) tick();
    gate.tick();
    if (rc < 0 && errno != EINTR) break;
    if (fds[1].revents) break;
    if (!(fds[0].revents & POLLIN)) continue;
    FileDesc client;
    Endpoint peer;
    auto r = acceptor.accept(client, peer);
    if (r == Acceptor::Result::accepted) {
      if (Admission place = gate.admit(client, peer)) serve(std::move(client), peer, std::move(place));
    } else if (r != Acceptor::Result::again) {
      gate.report(r);
      if (r == Acceptor::Result::error) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
}

}  // namespace concur
