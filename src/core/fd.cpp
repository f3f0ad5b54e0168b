#include "core/fd.hpp"

#include <fcntl.h>
#include <unistd.h>

#include "core/error.hpp"

namespace concur {

void FileDesc::reset(int fd) noexcept {
  if (fd_ >= 0) ::close(fd_);  // Don't retry close on EINTR: the fd is released regardless.
  fd_ = fd;
}

void set_nonblocking(int fd, bool on) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) throw_errno("fcntl(F_GETFL)");
  flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (::fcntl(fd, F_SETFL, flags) < 0) throw_errno("fcntl(F_SETFL,O_NONBLOCK)");
}

}  // namespace concur
