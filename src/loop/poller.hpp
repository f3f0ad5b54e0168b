#pragma once
// The readiness interface shared by select, poll and epoll (muduo's Poller, redis's aeApi*).
// Level-triggered: a descriptor is reported for as long as it is ready. Not thread-safe: one
// poller belongs to one loop thread.
#include <memory>
#include <string>
#include <vector>

namespace concur {

struct Ready {
  int fd;
  bool in;
  bool out;
  bool err;  // error or hang-up
};

class Poller {
 public:
  virtual ~Poller() = default;
  // False when this backend cannot watch fd (select: fd >= FD_SETSIZE); `why` says so.
  virtual bool add(int fd, bool in, bool out, std::string* why) = 0;
  // The listening socket; epoll wakes only one of several loops for it (EPOLLEXCLUSIVE).
  virtual bool add_listener(int fd, std::string* why) { return add(fd, true, false, why); }
  virtual void update(int fd, bool in, bool out) = 0;
  virtual void remove(int fd) = 0;
  // Waits up to timeout_ms (-1: forever) and fills `ready`. EINTR returns with nothing ready.
  virtual void wait(int timeout_ms, std::vector<Ready>& ready) = 0;
  // "select", "poll" or "epoll" (the loop's metric label).
  virtual const char* name() const = 0;
};

std::unique_ptr<Poller> make_select_poller();
std::unique_ptr<Poller> make_poll_poller();
std::unique_ptr<Poller> make_epoll_poller();

}  // namespace concur
