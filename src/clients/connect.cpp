#include "clients/connect.hpp"

#include <poll.h>

#include <cerrno>

#include "core/error.hpp"
#include "core/socket.hpp"

namespace concur {

FileDesc tcp_connect_until(const Endpoint& to, const StopSource& stop) {
  FileDesc fd = tcp_connect_start(to);
  if (!wait_ready_or_stop(fd.get(), POLLOUT, stop.fd())) return FileDesc();
  if (int err = socket_error(fd.get())) throw SysError("cannot connect to " + to.to_string(), err);
  return fd;
}

}  // namespace concur
