// coro: C++20 coroutines on concur's own epoll loop — the counterpart of the lecture's asyncio.
// Each client is one coroutine that reads like the blocking thread-per-client code
// (wait for the socket, read, hand to the service, write), but it suspends instead of blocking,
// so thousands of clients share one thread. The accept loop is a coroutine too.
#include <coroutine>
#include <mutex>
#include <optional>
#include <tuple>
#include <queue>
#include <unordered_map>

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/socket.hpp"
#include "models/accept_gate.hpp"
#include "models/conn_driver.hpp"
#include "models/model.hpp"
#include "loop/poller.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

namespace concur {
namespace {

// A coroutine nobody awaits: it starts at once and frees itself when it returns (asyncio's
// create_task, without the handle).
struct Detached {
  struct promise_type {
    Detached get_return_object() { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() {}
    void unhandled_exception() { std::terminate(); }
  };
};

// Why a waiting coroutine was resumed.
struct Wakeup {
  bool readable = false, writable = false, error = false;
  bool woken = false;     // another thread queued output or asked to close
  bool timed_out = false;
  bool stopping = false;
};

class CoroLoop {
 public:
  using Clock = StreamConn::Clock;

  CoroLoop(int listen_fd, StreamService& service, const ServerConfig& cfg, const StopSource& stop)
      : poller_(make_epoll_poller()), listen_fd_(listen_fd), service_(service), cfg_(cfg), gate_(cfg), stop_(stop),
        mailbox_(std::make_shared<Mailbox>()) {
    mailbox_->efd.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    std::string why;
    if (!mailbox_->efd || !poller_->add(stop_.fd(), true, false, &why) ||
        !poller_->add(mailbox_->efd.get(), true, false, &why))
      throw SysError("cannot start the coro loop: " + why, EINVAL);
  }

  // co_await loop.wait(fd, in, out, deadline): suspends until fd is ready, the deadline passes,
  // another thread wakes the connection, or the server stops.
  struct WaitFor {
    CoroLoop& loop;
    int fd;
    bool in, out;
    std::optional<Clock::time_point> deadline;
    Wakeup result{};
    bool await_ready() const noexcept { return loop.stopping_; }
    void await_suspend(std::coroutine_handle<> h) { loop.park(fd, in, out, deadline, h, &result); }
    Wakeup await_resume() {
      if (loop.stopping_) result.stopping = true;
      return result;
    }
  };
  WaitFor wait(int fd, bool in, bool out, std::optional<Clock::time_point> deadline = {}) {
    return WaitFor{*this, fd, in, out, deadline};
  }

  void run() {
    accept_loop();
    std::vector<Ready> ready;
    while (!stopping_) {
      poller_->wait(next_timeout(), ready);
      for (const Ready& r : ready) {
        if (r.fd == stop_.fd()) stopping_ = true;
        else if (r.fd == mailbox_->efd.get()) drain_mailbox();
        else resume(r.fd, [&](Wakeup& w) { w.readable = r.in, w.writable = r.out, w.error = r.err; });
      }
      fire_timers();
      gate_.tick();  // sums up bursts of refusals
      if (stop_.requested()) stopping_ = true;
    }
    // Every parked coroutine sees `stopping` and returns; each one retires its connection.
    while (!parked_.empty()) resume(parked_.begin()->first, [](Wakeup&) {});
  }

 private:
  struct Parked {
    std::coroutine_handle<> handle;
    Wakeup* result;
    bool in, out;
    uint64_t generation;
  };
  struct Mailbox {
    FileDesc efd;
    std::mutex mu;
    std::vector<std::weak_ptr<StreamConn>> ready;  // guarded by mu
  };

  void park(int fd, bool in, bool out, std::optional<Clock::time_point> deadline, std::coroutine_handle<> h,
            Wakeup* result) {
    auto [it, fresh] = registered_.try_emplace(fd, std::pair{in, out});
    if (fresh) {
      std::string why;
      if (!(fd == listen_fd_ ? poller_->add_listener(fd, &why) : poller_->add(fd, in, out, &why))) {
        registered_.erase(it);
        result->error = true;  // cannot watch it (never for epoll in practice): resume at once
        ready_now_.push_back(h);
        return;
      }
    } else if (it->second != std::pair{in, out}) {
      poller_->update(fd, in, out);
      it->second = {in, out};
    }
    uint64_t gen = ++generation_;
    // The timer first: should parking run out of memory, a timer without its parked coroutine is
    // only a stale item, while a parked coroutine that resumed with the exception would dangle.
    if (deadline) timers_.push({*deadline, fd, gen});
    parked_[fd] = Parked{h, result, in, out, gen};
  }

  template <typename Fill>
  void resume(int fd, Fill fill) {
    auto it = parked_.find(fd);
    if (it == parked_.end()) return;
    Parked p = it->second;
    parked_.erase(it);
    fill(*p.result);
    p.handle.resume();
    while (!ready_now_.empty()) {
      auto h = ready_now_.back();
      ready_now_.pop_back();
      h.resume();
    }
  }

  void forget(int fd) {
    if (registered_.erase(fd)) poller_->remove(fd);
  }

  void drain_mailbox() {
    uint64_t v;
    [[maybe_unused]] ssize_t n = ::read(mailbox_->efd.get(), &v, sizeof v);
    std::vector<std::weak_ptr<StreamConn>> batch;
    {
      std::lock_guard lock(mailbox_->mu);
      batch.swap(mailbox_->ready);
    }
    for (auto& weak : batch)
      if (auto c = weak.lock(); c && c->fd() >= 0) resume(c->fd(), [](Wakeup& w) { w.woken = true; });
  }

  void fire_timers() {
    auto now = Clock::now();
    while (!timers_.empty() && std::get<0>(timers_.top()) <= now) {
      auto [due, fd, gen] = timers_.top();
      timers_.pop();
      auto it = parked_.find(fd);
      if (it == parked_.end() || it->second.generation != gen) continue;  // stale
      resume(fd, [](Wakeup& w) { w.timed_out = true; });
    }
  }

  int next_timeout() {
    int ms = next_timer_ms();
    if (gate_.needs_tick() && (ms < 0 || ms > 1000)) ms = 1000;  // a burst's summary is due
    return ms;
  }

  int next_timer_ms() {
    while (!timers_.empty()) {
      auto [due, fd, gen] = timers_.top();
      auto it = parked_.find(fd);
      if (it != parked_.end() && it->second.generation == gen) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(due - Clock::now()).count();
        return left < 0 ? 0 : static_cast<int>(left) + 1;
      }
      timers_.pop();
    }
    return -1;
  }

  // The accept loop, as `while True: conn = await accept()`.
  Detached accept_loop() {
    Acceptor acceptor(listen_fd_);
    for (;;) {
      Wakeup w = co_await wait(listen_fd_, true, false);
      if (w.stopping) break;
      for (int i = 0; i < 64; ++i) {
        FileDesc fd;
        Endpoint peer;
        auto r = acceptor.accept(fd, peer);
        if (r == Acceptor::Result::again) break;
        if (r != Acceptor::Result::accepted) {
          gate_.report(r);
          break;
        }
        if (!gate_.admit(fd, peer)) continue;
        try {
          serve(std::make_shared<StreamConn>(std::move(fd), peer, cfg_.max_queue));
        } catch (const std::bad_alloc&) {  // no memory for the connection or its coroutine frame
          gate_.refuse(fd, peer, memory_refusals(), "out of memory");  // fd is closed if it moved
          gate_.leave();
        }
      }
    }
    forget(listen_fd_);
  }

  // One client, as `async def handle(reader, writer)`.
  Detached serve(std::shared_ptr<StreamConn> c) {
    int fd = c->fd();
    // Anything on this client's path that runs out of memory (its callbacks, parking it) drops
    // this client only; an exception escaping a coroutine would end the process.
    try {
      std::weak_ptr<StreamConn> weak = c;
      c->attach([mb = mailbox_, weak] {
        {
          std::lock_guard lock(mb->mu);
          mb->ready.push_back(weak);
          if (mb->ready.size() > 1) return;  // the batch's wake-up is already on its way
        }
        uint64_t one = 1;
        [[maybe_unused]] ssize_t n = ::write(mb->efd.get(), &one, sizeof one);
      });
      call_open(*c, service_);
      for (;;) {
        if (c->settle() == StreamConn::State::finished) break;
        std::optional<Clock::time_point> deadline;
        if (c->timer_armed()) deadline = c->timer_due();
        Wakeup w = co_await wait(fd, c->wants_read(), c->wants_write(), deadline);
        if (w.stopping) {
          c->settle();  // last chance to write what is queued
          break;
        }
        if (w.readable || w.error) {
          if (c->wants_read()) pump_input(*c, service_);
          else if (w.error) c->mark_broken();
        }
        if (w.timed_out && c->timer_armed()) call_timeout(*c, service_);
      }
    } catch (const std::bad_alloc&) {
      drop_for_memory(*c);
    }
    forget(fd);
    try {
      retire(*c, service_);
    } catch (const std::bad_alloc&) {
      c->shut();  // on_close could not finish; the descriptor at least goes
    }
    gate_.leave();
  }

  std::unique_ptr<Poller> poller_;
  int listen_fd_;
  StreamService& service_;
  const ServerConfig& cfg_;
  AcceptGate gate_;
  const StopSource& stop_;
  std::shared_ptr<Mailbox> mailbox_;
  bool stopping_ = false;
  uint64_t generation_ = 0;
  std::unordered_map<int, std::pair<bool, bool>> registered_;  // fd -> interest in the poller
  std::unordered_map<int, Parked> parked_;                     // fd -> the coroutine waiting on it
  std::vector<std::coroutine_handle<>> ready_now_;
  using TimerItem = std::tuple<Clock::time_point, int, uint64_t>;
  std::priority_queue<TimerItem, std::vector<TimerItem>, std::greater<>> timers_;
};

class CoroModel final : public Model {
 public:
  void run(int listen_fd, StreamService& service, const ServerConfig& cfg, const StopSource& stop) override {
    CoroLoop loop(listen_fd, service, cfg, stop);
    loop.run();
  }
};

const ModelRegistration reg({"coro", "C++20 coroutines on one epoll loop (the lecture's asyncio)", true,
                             [] { return std::make_unique<CoroModel>(); }},
                            80);

}  // namespace
}  // namespace concur
