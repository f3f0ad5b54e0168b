#pragma once
// Socket set-up helpers (the "anet" of concur). Setup failures throw SysError with context, e.g.
// "cannot bind 0.0.0.0:2500: Address already in use".
#include <cstdint>

#include "core/endpoint.hpp"
#include "core/fd.hpp"

namespace concur {

enum class Transport { tcp, udp };

// socket + SO_REUSEADDR + bind + listen. The returned socket is non-blocking.
FileDesc tcp_listen(const Endpoint& at, int backlog = 511);
// socket + SO_REUSEADDR + bind. Non-blocking.
FileDesc udp_bind(const Endpoint& at);
// Blocking connect; TCP_NODELAY set. Throws "cannot connect to HOST:PORT: …".
FileDesc tcp_connect(const Endpoint& to);
// Non-blocking connect started; returns the socket (EINPROGRESS is success here).
FileDesc tcp_connect_start(const Endpoint& to);
// A UDP socket "connected" to the peer, blocking.
FileDesc udp_connect(const Endpoint& to);

Endpoint local_endpoint(int fd);
Endpoint peer_endpoint(int fd);
void set_nodelay(int fd);
// Pending socket error (SO_ERROR), 0 if none.
int socket_error(int fd);

// Accepts connections with the reserve-descriptor trick (libuv, muduo): when the process is out of
// descriptors, the pending connection is accepted into the reserve slot and closed at once, so a
// level-triggered poller does not spin and the client learns it was refused.
class Acceptor {
 public:
  explicit Acceptor(int listen_fd);
  // Shares `reserve` (one descriptor held for the trick) with other acceptors on the same thread:
  // a fleet of listeners needs one, not one each.
  Acceptor(int listen_fd, FileDesc& reserve) : fd_(listen_fd), reserve_(&reserve) {}
  Acceptor(const Acceptor&) = delete;
  Acceptor& operator=(const Acceptor&) = delete;
  enum class Result { accepted, again, refused_emfile, error };
  // Non-blocking accept. On `accepted`, `out` holds a non-blocking socket with TCP_NODELAY.
  Result accept(FileDesc& out, Endpoint& peer);
  int listen_fd() const { return fd_; }

 private:
  int fd_;
  FileDesc own_reserve_;
  FileDesc* reserve_ = &own_reserve_;
};

}  // namespace concur
