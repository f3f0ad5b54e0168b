// select(): fd_sets are copied before each call because select() overwrites them (as redis's
// ae_select.c). A descriptor >= FD_SETSIZE is refused: FD_SET past the end smashes memory.
#include <sys/select.h>

#include <cerrno>
#include <string>

#include "core/error.hpp"
#include "loop/poller.hpp"

namespace concur {
namespace {

class SelectPoller final : public Poller {
 public:
  const char* name() const override { return "select"; }
  SelectPoller() {
    FD_ZERO(&rd_);
    FD_ZERO(&wr_);
  }

  bool add(int fd, bool in, bool out, std::string* why) override {
    if (fd < 0 || fd >= FD_SETSIZE) {
      if (why) *why = "descriptor " + std::to_string(fd) + " is beyond select()'s FD_SETSIZE (" +
                      std::to_string(FD_SETSIZE) + ")";
      return false;
    }
    update(fd, in, out);
    return true;
  }

  void update(int fd, bool in, bool out) override {
    if (in) FD_SET(fd, &rd_); else FD_CLR(fd, &rd_);
    if (out) FD_SET(fd, &wr_); else FD_CLR(fd, &wr_);
    if (in || out) {
      if (fd > max_fd_) max_fd_ = fd;
    }
  }

  void remove(int fd) override {
    FD_CLR(fd, &rd_);
    FD_CLR(fd, &wr_);
    while (max_fd_ >= 0 && !FD_ISSET(max_fd_, &rd_) && !FD_ISSET(max_fd_, &wr_)) --max_fd_;
  }

  void wait(int timeout_ms, std::vector<Ready>& ready) override {
    ready.clear();
    fd_set r = rd_, w = wr_;
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    int n = ::select(max_fd_ + 1, &r, &w, nullptr, timeout_ms < 0 ? nullptr : &tv);
    if (n < 0) {
      if (errno == EINTR) return;
      throw_errno("select");
    }
    for (int fd = 0; fd <= max_fd_ && n > 0; ++fd) {
      bool in = FD_ISSET(fd, &r), out = FD_ISSET(fd, &w);
      if (in || out) {
        ready.push_back({fd, in, out, false});
        --n;
      }
    }
  }

 private:
  fd_set rd_, wr_;
  int max_fd_ = -1;
};

}  // namespace

std::unique_ptr<Poller> make_select_poller() { return std::make_unique<SelectPoller>(); }

}  // namespace concur
