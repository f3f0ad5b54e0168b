// A readiness poller (select, poll, epoll) as an EventLoop backend: wait fills the list of ready
// descriptors, dispatch hands each to the loop.
#include <vector>

#include "loop/backend.hpp"

namespace concur {
namespace {

class PollerBackend final : public LoopBackend {
 public:
  explicit PollerBackend(std::unique_ptr<Poller> poller) : poller_(std::move(poller)) {}
  const char* name() const override { return poller_->name(); }
  bool add(int fd, bool in, bool out, std::string* why) override { return poller_->add(fd, in, out, why); }
  bool add_listener(int fd, std::string* why) override { return poller_->add_listener(fd, why); }
  void update(int fd, bool in, bool out) override { poller_->update(fd, in, out); }
  void remove(int fd) override { poller_->remove(fd); }
  void wait(int timeout_ms) override { poller_->wait(timeout_ms, ready_); }
  size_t dispatch(ReadyFn fn, void* ctx) override {
    for (const Ready& r : ready_) fn(ctx, r);
    return ready_.size();
  }

 private:
  std::unique_ptr<Poller> poller_;
  std::vector<Ready> ready_;
};

}  // namespace

std::unique_ptr<LoopBackend> make_poller_backend(std::unique_ptr<Poller> poller) {
  return std::make_unique<PollerBackend>(std::move(poller));
}

}  // namespace concur
