#include "clients/connect.hpp"

#include <poll.h>

#include <cerrno>

#include "core/error.hpp"
#include "core/socket.hpp"

namespace concur {

FileDesc tcp_connect_until(const Endpoint& to, const StopSource& stop) {
  FileDesc fd = tcp_connect_start(to);
  for (;;) {
    pollfd p[2] = {{fd.get(), POLLOUT, 0}, {stop.fd(), POLLIN, 0}};
    int rc = ::poll(p, 2, -1);
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) throw_errno("poll");
    if (p[1].revents || stop.requested()) return FileDesc();
    if (p[0].revents) break;
  }
  if (int err = socket_error(fd.get())) throw SysError("cannot connect to " + to.to_string(), err);
  return fd;
}

}  // namespace concur
