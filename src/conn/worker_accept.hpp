#pragma once
// The accept loop of one worker of the pool and prefork models (Stevens' "prethreaded" and
// "preforked" servers): block in accept() on the shared listening socket, serve that client to
// the end, accept the next. Linux queues blocked accept() callers exclusively, so each new
// connection wakes exactly one idle worker (no thundering herd); with every worker busy, the next
// client waits in the listen backlog.
#include <functional>

#include "core/endpoint.hpp"
#include "core/fd.hpp"
#include "conn/accept_gate.hpp"

namespace concur {

// Makes the listening socket blocking for the life of the object (accept() must sleep in the
// kernel, not return EAGAIN), and wakes every blocked accept() at stop_workers().
class SharedListener {
 public:
  explicit SharedListener(int listen_fd);
  ~SharedListener();  // restores O_NONBLOCK
  SharedListener(const SharedListener&) = delete;
  SharedListener& operator=(const SharedListener&) = delete;
  int fd() const { return fd_; }
  // shutdown() of a listening socket makes every accept() blocked on it (in any thread or
  // process sharing it) fail at once with EINVAL; pending clients in the backlog are reset.
  void stop_workers();

 private:
  int fd_;
  int saved_flags_;
};

// Accepts and serves one client at a time until `stop_fd` is readable (checked after every
// accept() returns) or the listening socket is shut down (SharedListener::stop_workers(), which
// also ends the loop when no stop was requested: a model that could not start every worker). `serve` runs on the
// calling thread and returns when the client is done.
void serve_accepted_until_stop(int listen_fd, AcceptGate& gate, int stop_fd,
                               const ServeAdmitted& serve);

// True when the stop eventfd is readable (a child process cannot see the parent's flag).
bool stop_fd_readable(int stop_fd);

}  // namespace concur
