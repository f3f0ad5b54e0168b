#include "loop/event_loop.hpp"

#include <cstdio>
#include <cstdlib>

#include "core/error.hpp"

namespace concur {

namespace {
std::unique_ptr<Poller> make_poller(EventLoop::Backend b) {
  switch (b) {
    case EventLoop::Backend::select: return make_select_poller();
    case EventLoop::Backend::poll: return make_poll_poller();
    case EventLoop::Backend::epoll: break;
  }
  return make_epoll_poller();
}
}  // namespace

const char* backend_name(EventLoop::Backend b) {
  switch (b) {
    case EventLoop::Backend::select: return "select";
    case EventLoop::Backend::poll: return "poll";
    case EventLoop::Backend::epoll: break;
  }
  return "epoll";
}

EventLoop::EventLoop(Backend backend) : EventLoop(make_poller(backend)) {}

EventLoop::EventLoop(std::unique_ptr<Poller> poller)
    : poller_(std::move(poller)), mailbox_(std::make_shared<Mailbox>()) {
  mailbox_->set_owner(std::this_thread::get_id());
  std::string why;
  if (!watch(mailbox_->fd(), true, false, [mb = mailbox_.get()](const Ready&) { mb->clear_wake(); }, &why))
    throw SysError("cannot start event loop: " + why, EINVAL);
}

EventLoop::~EventLoop() { mailbox_->set_owner(std::thread::id{}); }

void EventLoop::assert_in_loop_thread(const char* what) const {
  if (is_in_loop_thread()) return;
  std::fprintf(stderr, "concur: %s called outside its event loop's thread\n", what);
  std::abort();
}

void EventLoop::run() {
  mailbox_->set_owner(std::this_thread::get_id());
  while (!quit_.load(std::memory_order_acquire)) iterate();
  quit_.store(false, std::memory_order_relaxed);
}

void EventLoop::run(const StopSource& stop) {
  mailbox_->set_owner(std::this_thread::get_id());
  if (stop.requested()) return;
  std::string why;
  // The stop eventfd is never read (it stays readable for every loop that shares it).
  if (!watch(stop.fd(), true, false, [this](const Ready&) { quit_.store(true, std::memory_order_relaxed); }, &why))
    throw SysError("cannot watch the stop request: " + why, EINVAL);
  run();
  unwatch(stop.fd());
}

void EventLoop::quit() {
  quit_.store(true, std::memory_order_release);
  if (!is_in_loop_thread()) mailbox_->wake();
}

void EventLoop::iterate() {
  int timeout = timers_.timeout_ms(Clock::now());
  poller_->wait(timeout, ready_);
  ++iteration_;
  dispatching_ = true;
  mailbox_->set_dispatching(true);
  for (const Ready& r : ready_) {
    if (r.fd < 0 || static_cast<size_t>(r.fd) >= watches_.size()) continue;
    Watch* w = watches_[static_cast<size_t>(r.fd)].get();
    if (w && w->since < iteration_) w->cb(r);
  }
  timers_.run_due(Clock::now());
  dispatching_ = false;
  mailbox_->set_dispatching(false);
  retired_.clear();
  mailbox_->run_pending();
}

void EventLoop::run_in_loop(Task task) {
  if (is_in_loop_thread()) task();
  else mailbox_->post(std::move(task));
}

bool EventLoop::add_watch(int fd, bool listener, IoCallback cb, std::string* why) {
  if (fd < 0) {
    if (why) *why = "negative descriptor";
    return false;
  }
  if (watching(fd)) {
    if (why) *why = "descriptor " + std::to_string(fd) + " is already watched";
    return false;
  }
  if (!(listener ? poller_->add_listener(fd, why) : poller_->add(fd, true, false, why))) return false;
  if (static_cast<size_t>(fd) >= watches_.size()) watches_.resize(static_cast<size_t>(fd) + 1 + watches_.size() / 2);
  watches_[static_cast<size_t>(fd)].reset(new Watch{std::move(cb), iteration_});
  return true;
}

bool EventLoop::watch(int fd, bool in, bool out, IoCallback cb, std::string* why) {
  if (!add_watch(fd, false, std::move(cb), why)) return false;
  if (!in || out) poller_->update(fd, in, out);
  return true;
}

bool EventLoop::watch_listener(int fd, IoCallback cb, std::string* why) { return add_watch(fd, true, std::move(cb), why); }

void EventLoop::modify(int fd, bool in, bool out) {
  if (watching(fd)) poller_->update(fd, in, out);
}

void EventLoop::unwatch(int fd) {
  if (!watching(fd)) return;
  poller_->remove(fd);
  auto& slot = watches_[static_cast<size_t>(fd)];
  // The callback may be the one running right now: keep it alive until the dispatch ends.
  if (dispatching_) retired_.push_back(std::move(slot));
  slot.reset();
}

bool EventLoop::watching(int fd) const {
  return fd >= 0 && static_cast<size_t>(fd) < watches_.size() && watches_[static_cast<size_t>(fd)] != nullptr;
}

}  // namespace concur
