#include "core/socket.hpp"

#include <fcntl.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>

#include "core/error.hpp"

namespace concur {

namespace {

FileDesc make_socket(int family, int type) {
  FileDesc fd(::socket(family, type | SOCK_CLOEXEC, 0));
  if (!fd) throw_errno("socket");
  return fd;
}

void reuse_addr(int fd) {
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
}

void bind_or_throw(int fd, const Endpoint& at) {
  if (at.family() == AF_INET6) {
    int off = 0;  // "::" accepts IPv4 too, as users expect from a dual-stack bind.
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  }
  if (::bind(fd, at.sa(), at.len()) < 0) throw_errno("cannot bind " + at.to_string());
}

}  // namespace

FileDesc tcp_listen(const Endpoint& at, int backlog) {
  FileDesc fd = make_socket(at.family(), SOCK_STREAM | SOCK_NONBLOCK);
  reuse_addr(fd.get());
  bind_or_throw(fd.get(), at);
  if (::listen(fd.get(), backlog) < 0) throw_errno("cannot listen on " + at.to_string());
  return fd;
}

FileDesc udp_bind(const Endpoint& at) {
  FileDesc fd = make_socket(at.family(), SOCK_DGRAM | SOCK_NONBLOCK);
  reuse_addr(fd.get());
  bind_or_throw(fd.get(), at);
  return fd;
}

FileDesc tcp_connect(const Endpoint& to) {
  FileDesc fd = make_socket(to.family(), SOCK_STREAM);
  int rc;
  do rc = ::connect(fd.get(), to.sa(), to.len());
  while (rc < 0 && errno == EINTR);
  if (rc < 0) throw_errno("cannot connect to " + to.to_string());
  set_nodelay(fd.get());
  return fd;
}

FileDesc tcp_connect_start(const Endpoint& to) {
  FileDesc fd = make_socket(to.family(), SOCK_STREAM | SOCK_NONBLOCK);
  if (::connect(fd.get(), to.sa(), to.len()) < 0 && errno != EINPROGRESS)
    throw_errno("cannot connect to " + to.to_string());
  set_nodelay(fd.get());
  return fd;
}

FileDesc udp_connect(const Endpoint& to) {
  FileDesc fd = make_socket(to.family(), SOCK_DGRAM);
  if (::connect(fd.get(), to.sa(), to.len()) < 0) throw_errno("cannot connect to " + to.to_string());
  return fd;
}

Endpoint local_endpoint(int fd) {
  Endpoint e;
  socklen_t len = e.capacity();
  if (::getsockname(fd, e.sa(), &len) < 0) throw_errno("getsockname");
  e.set_len(len);
  return e;
}

Endpoint peer_endpoint(int fd) {
  Endpoint e;
  socklen_t len = e.capacity();
  if (::getpeername(fd, e.sa(), &len) < 0) throw_errno("getpeername");
  e.set_len(len);
  return e;
}

void set_nodelay(int fd) {
  int one = 1;  // no 40 ms Nagle/delayed-ACK stall on write-write-read (RELIABILITY #25)
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int socket_error(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return errno;
  return err;
}

Acceptor::Acceptor(int listen_fd) : fd_(listen_fd), own_reserve_(::open("/dev/null", O_RDONLY | O_CLOEXEC)) {}

Acceptor::Result Acceptor::accept(FileDesc& out, Endpoint& peer) {
  for (;;) {
    socklen_t len = peer.capacity();
    int fd = ::accept4(fd_, peer.sa(), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      peer.set_len(len);
      set_nodelay(fd);
      out.reset(fd);
      return Result::accepted;
    }
    switch (errno) {
      case EINTR:
      case ECONNABORTED:  // the peer left the backlog already: expected, try the next one
        continue;
      case EAGAIN:
        return Result::again;
      case EMFILE:
      case ENFILE:
        if (!*reserve_) return Result::error;
        reserve_->reset();
        {
          int victim = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
          if (victim >= 0) ::close(victim);
        }
        reserve_->reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
        return Result::refused_emfile;
      default:
        return Result::error;
    }
  }
}

}  // namespace concur
