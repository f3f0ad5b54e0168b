// poll(): a dense pollfd array plus an index from descriptor to slot; removal swaps the last
// slot into the hole (muduo's PollPoller does the same).
#include <poll.h>

#include <cerrno>
#include <unordered_map>

#include "core/error.hpp"
#include "loop/poller.hpp"

namespace concur {
namespace {

short poll_mask(bool in, bool out) { return static_cast<short>((in ? POLLIN : 0) | (out ? POLLOUT : 0)); }

class PollPoller final : public Poller {
 public:
  const char* name() const override { return "poll"; }
  bool add(int fd, bool in, bool out, std::string*) override {
    // Strong guarantee: a bad_alloc leaves neither the array nor the index changed.
    fds_.push_back({fd, poll_mask(in, out), 0});
    try {
      slot_[fd] = fds_.size() - 1;
    } catch (...) {
      fds_.pop_back();
      throw;
    }
    return true;
  }
  void update(int fd, bool in, bool out) override { fds_[slot_.at(fd)].events = poll_mask(in, out); }
  void remove(int fd) override {
    auto it = slot_.find(fd);
    if (it == slot_.end()) return;
    size_t i = it->second;
    slot_.erase(it);
    if (i != fds_.size() - 1) {
      fds_[i] = fds_.back();
      slot_[fds_[i].fd] = i;
    }
    fds_.pop_back();
  }
  void wait(int timeout_ms, std::vector<Ready>& ready) override {
    ready.clear();
    int n = ::poll(fds_.data(), fds_.size(), timeout_ms);
    if (n < 0) {
      if (errno == EINTR) return;
      throw_errno("poll");
    }
    for (const pollfd& p : fds_) {
      if (n == 0) break;
      if (!p.revents) continue;
      --n;
      ready.push_back({p.fd, (p.revents & POLLIN) != 0, (p.revents & POLLOUT) != 0,
                       (p.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0});
    }
  }

 private:
  std::vector<pollfd> fds_;
  std::unordered_map<int, size_t> slot_;
};

}  // namespace

std::unique_ptr<Poller> make_poll_poller() { return std::make_unique<PollPoller>(); }

}  // namespace concur
