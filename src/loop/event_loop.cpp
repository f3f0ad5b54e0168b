#include "loop/event_loop.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "core/error.hpp"
#ifdef CONCUR_HAVE_URING
#include "loop/uring_backend.hpp"
#endif

namespace concur {

namespace {
std::unique_ptr<LoopBackend> make_loop_backend(EventLoop::Backend b) {
  switch (b) {
    case EventLoop::Backend::select: return make_poller_backend(make_select_poller());
    case EventLoop::Backend::poll: return make_poller_backend(make_poll_poller());
    case EventLoop::Backend::uring:
#ifdef CONCUR_HAVE_URING
      return std::make_unique<UringBackend>();
#else
      throw SysError("the uring backend is not built in (install liburing-dev and rebuild concur)", ENOSYS);
#endif
    case EventLoop::Backend::epoll: break;
  }
  return make_poller_backend(make_epoll_poller());
}
}  // namespace

const char* backend_name(EventLoop::Backend b) {
  switch (b) {
    case EventLoop::Backend::select: return "select";
    case EventLoop::Backend::poll: return "poll";
    case EventLoop::Backend::uring: return "uring";
    case EventLoop::Backend::epoll: break;
  }
  return "epoll";
}

EventLoop::EventLoop(Backend backend) : EventLoop(make_loop_backend(backend)) {}

EventLoop::EventLoop(std::unique_ptr<Poller> poller) : EventLoop(make_poller_backend(std::move(poller))) {}

EventLoop::EventLoop(std::unique_ptr<LoopBackend> backend)
    : backend_(std::move(backend)),
      metrics_(loop_metrics::for_backend(backend_->name())),
      mailbox_(std::make_shared<Mailbox>()) {
  mailbox_->set_owner(std::this_thread::get_id());
  std::string why;
  if (!watch(mailbox_->fd(), true, false, [mb = mailbox_.get()](const Ready&) { mb->clear_wake(); }, &why))
    throw SysError("cannot start event loop: " + why, EINVAL);
}

EventLoop::~EventLoop() {
  mailbox_->set_owner(std::thread::id{});
  for (Watch& w : watches_)
    if (w.fn == &call_function) delete static_cast<IoCallback*>(w.ctx);
}

void EventLoop::call_function(void* ctx, const Ready& r) { (*static_cast<IoCallback*>(ctx))(r); }

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
  if (!is_in_loop_thread()) mailbox_->ring_bell();
}

void EventLoop::iterate() {
  if (batch_gap_.count() > 0 && found_ > 0) {  // the previous wait found work: gather more
    Clock::time_point until = last_wait_ + batch_gap_;
    if (auto due = timers_.next_due(); due && *due < until) until = *due;
    if (!quit_.load(std::memory_order_relaxed) && Clock::now() < until) std::this_thread::sleep_until(until);
  }
  int timeout = timers_.timeout_ms(Clock::now());
  backend_->wait(timeout);
  loop_metrics::Pass pass(metrics_);  // from here to the end of the pass: busy
  if (batch_gap_.count() > 0) last_wait_ = Clock::now();
  dispatching_ = true;
  mailbox_->set_dispatching(true);
  found_ = backend_->dispatch(&EventLoop::on_ready, this);
  timers_.run_due(Clock::now());
  dispatching_ = false;
  mailbox_->set_dispatching(false);
  fresh_.clear();
  retired_.clear();
  mailbox_->run_pending();
}

void EventLoop::on_ready(void* self, const Ready& r) {
  EventLoop& loop = *static_cast<EventLoop*>(self);
  if (r.fd < 0 || static_cast<size_t>(r.fd) >= loop.watches_.size()) return;
  Watch w = loop.watches_[static_cast<size_t>(r.fd)];  // a copy: the callback may change the table
  if (!w.fn) return;
  if (!loop.fresh_.empty() && std::find(loop.fresh_.begin(), loop.fresh_.end(), r.fd) != loop.fresh_.end()) return;
  w.fn(w.ctx, r);
}

void EventLoop::run_in_loop(Task task) {
  if (is_in_loop_thread()) task();
  else mailbox_->post(std::move(task));
}

bool EventLoop::add_watch(int fd, bool listener, IoFn fn, void* ctx, std::string* why) {
  if (fd < 0) {
    if (why) *why = "negative descriptor";
    return false;
  }
  if (watching(fd)) {
    if (why) *why = "descriptor " + std::to_string(fd) + " is already watched";
    return false;
  }
  // Everything that can run out of memory comes before the backend learns the descriptor: a
  // bad_alloc after backend_->add() would leave it in the backend but unknown here, so unwatch()
  // could not remove it, and select() fails with EBADF once its owner closes it.
  if (static_cast<size_t>(fd) >= watches_.size()) watches_.resize(static_cast<size_t>(fd) + 1 + watches_.size() / 2);
  if (dispatching_ && fresh_.size() == fresh_.capacity()) fresh_.reserve(2 * fresh_.size() + 8);
  if (!(listener ? backend_->add_listener(fd, why) : backend_->add(fd, true, false, why))) return false;
  watches_[static_cast<size_t>(fd)] = Watch{fn, ctx};
  if (dispatching_) fresh_.push_back(fd);
  return true;
}

bool EventLoop::watch(int fd, bool in, bool out, IoFn fn, void* ctx, std::string* why) {
  if (!add_watch(fd, false, fn, ctx, why)) return false;
  if (!in || out) backend_->update(fd, in, out);
  return true;
}

bool EventLoop::watch(int fd, bool in, bool out, IoCallback cb, std::string* why) {
  auto owned = std::make_unique<IoCallback>(std::move(cb));
  if (!watch(fd, in, out, &call_function, owned.get(), why)) return false;
  owned.release();  // owned by the watch now; freed by unwatch() or the destructor
  return true;
}

bool EventLoop::watch_listener(int fd, IoCallback cb, std::string* why) {
  auto owned = std::make_unique<IoCallback>(std::move(cb));
  if (!add_watch(fd, true, &call_function, owned.get(), why)) return false;
  owned.release();
  return true;
}

void EventLoop::modify(int fd, bool in, bool out) {
  if (watching(fd)) backend_->update(fd, in, out);
}

void EventLoop::unwatch(int fd) {
  if (!watching(fd)) return;
  backend_->remove(fd);
  Watch& w = watches_[static_cast<size_t>(fd)];
  if (w.fn == &call_function) {
    std::unique_ptr<IoCallback> cb(static_cast<IoCallback*>(w.ctx));
    // It may be the callback running right now: keep it alive until the dispatch ends.
    if (dispatching_) retired_.push_back(std::move(cb));
  }
  w = Watch{};
}

bool EventLoop::watching(int fd) const {
  return fd >= 0 && static_cast<size_t>(fd) < watches_.size() && watches_[static_cast<size_t>(fd)].fn != nullptr;
}

}  // namespace concur
