// epoll, level-triggered. The listening socket is added with EPOLLEXCLUSIVE so that with
// several loops (--workers) a new connection wakes one of them, not all (thundering herd).
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.hpp"
#include "core/fd.hpp"
#include "loop/poller.hpp"

namespace concur {
namespace {

uint32_t epoll_mask(bool in, bool out) { return (in ? EPOLLIN : 0u) | (out ? EPOLLOUT : 0u); }

class EpollPoller final : public Poller {
 public:
  const char* name() const override { return "epoll"; }
  EpollPoller() : ep_(::epoll_create1(EPOLL_CLOEXEC)) {
    if (!ep_) throw_errno("epoll_create1");
    events_.resize(256);
  }
  bool add(int fd, bool in, bool out, std::string* why) override { return ctl(EPOLL_CTL_ADD, fd, epoll_mask(in, out), why); }
  bool add_listener(int fd, std::string* why) override { return ctl(EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLEXCLUSIVE, why); }
  void update(int fd, bool in, bool out) override { ctl(EPOLL_CTL_MOD, fd, epoll_mask(in, out), nullptr); }
  void remove(int fd) override { ::epoll_ctl(ep_.get(), EPOLL_CTL_DEL, fd, nullptr); }
  void wait(int timeout_ms, std::vector<Ready>& ready) override {
    ready.clear();
    int n = ::epoll_wait(ep_.get(), events_.data(), static_cast<int>(events_.size()), timeout_ms);
    if (n < 0) {
      if (errno == EINTR) return;
      throw_errno("epoll_wait");
    }
    for (int i = 0; i < n; ++i) {
      uint32_t e = events_[i].events;
      ready.push_back({events_[i].data.fd, (e & EPOLLIN) != 0, (e & EPOLLOUT) != 0, (e & (EPOLLERR | EPOLLHUP)) != 0});
    }
    if (n == static_cast<int>(events_.size())) events_.resize(events_.size() * 2);
  }

 private:
  bool ctl(int op, int fd, uint32_t events, std::string* why) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    if (::epoll_ctl(ep_.get(), op, fd, &ev) == 0) return true;
    if (why) *why = std::string("epoll_ctl: ") + std::strerror(errno);
    return false;
  }

  FileDesc ep_;
  std::vector<epoll_event> events_;
};

}  // namespace

std::unique_ptr<Poller> make_epoll_poller() { return std::make_unique<EpollPoller>(); }

}  // namespace concur
