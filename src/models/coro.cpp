// coro: C++20 coroutines on concur's EventLoop (epoll) — the counterpart of the lecture's asyncio.
// Each client is one coroutine that reads like the blocking thread-per-client code
// (wait for the socket, read, hand to the service, write), but it suspends instead of blocking,
// so thousands of clients share one thread. The accept loop is a coroutine too.
#include <coroutine>
#include <optional>
#include <unordered_map>

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/socket.hpp"
#include "loop/event_loop.hpp"
#include "conn/accept_gate.hpp"
#include "conn/gate_ticker.hpp"
#include "conn/conn_driver.hpp"
#include "conn/listener.hpp"
#include "models/model.hpp"

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
      : listen_fd_(listen_fd), service_(service), cfg_(cfg), gate_(cfg), stop_(stop) {
    loop_.set_wake_handler([](void* self, uint64_t fd) { static_cast<CoroLoop*>(self)->wake(static_cast<int>(fd)); },
                           this);
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
    loop_.run(stop_);
    stopping_ = true;
    // Every parked coroutine sees `stopping` and returns; each one retires its connection.
    while (!parked_.empty()) resume(parked_.begin()->first, [](Wakeup&) {});
    gate_.tick();
  }

 private:
  struct Parked {
    std::coroutine_handle<> handle;
    Wakeup* result;
    std::optional<Clock::time_point> deadline;  // of this wait
  };
  // A descriptor given to the loop, and its one deadline timer (see arm_deadline()).
  struct Watched {
    bool in, out;  // interest given to the loop
    EventLoop::TimerId timer = TimerQueue::kNoTimer;
    Clock::time_point timer_queued{};  // when that timer fires
  };

  void park(int fd, bool in, bool out, std::optional<Clock::time_point> deadline, std::coroutine_handle<> h,
            Wakeup* result) {
    auto [it, fresh] = registered_.try_emplace(fd, Watched{in, out});
    if (fresh) {
      std::string why;
      auto on_ready = [](void* self, const Ready& r) {
        static_cast<CoroLoop*>(self)->resume(r.fd, [&](Wakeup& w) { w.readable = r.in, w.writable = r.out, w.error = r.err; });
      };
      // The listener once, as a std::function; connections as (function, this): no allocation.
      bool ok = fd == listen_fd_ ? loop_.watch_listener(fd, [this, on_ready](const Ready& r) { on_ready(this, r); }, &why)
                                 : loop_.watch(fd, in, out, on_ready, this, &why);
      if (!ok) {
        registered_.erase(it);
        result->error = true;  // cannot watch it (never for epoll in practice): resume at once
        ready_now_.push_back(h);
        return;
      }
    } else if (it->second.in != in || it->second.out != out) {
      loop_.modify(fd, in, out);
      it->second.in = in;
      it->second.out = out;
    }
    if (deadline) arm_deadline(fd, it->second, *deadline);
    parked_[fd] = Parked{h, result, deadline};
  }

  // One timer per descriptor across its waits, by lazy extension (ReactorLoop::sync_timer): a
  // client that talks parks again and again with an idle deadline a little later each time, and a
  // timer added and cancelled per wait would churn the queue. A deadline that moves later changes
  // nothing; the timer fires early and on_deadline() queues it again. Only an earlier one replaces it.
  void arm_deadline(int fd, Watched& w, Clock::time_point due) {
    if (w.timer != TimerQueue::kNoTimer) {
      if (w.timer_queued <= due) return;
      loop_.cancel_timer(w.timer);
    }
    w.timer_queued = due;
    w.timer = loop_.run_at(due, [this, fd] { on_deadline(fd); });
  }

  void on_deadline(int fd) {
    auto w = registered_.find(fd);
    if (w == registered_.end()) return;
    w->second.timer = TimerQueue::kNoTimer;
    auto p = parked_.find(fd);
    if (p == parked_.end() || !p->second.deadline) return;  // this wait has no deadline
    if (*p->second.deadline > Clock::now()) return arm_deadline(fd, w->second, *p->second.deadline);
    resume(fd, [](Wakeup& r) { r.timed_out = true; });
  }

  template <typename Fill>
  void resume(int fd, Fill fill) {
    auto it = parked_.find(fd);
    if (it == parked_.end()) return;
    Parked p = it->second;
    parked_.erase(it);
    fill(*p.result);  // the deadline timer stays queued for the next wait (arm_deadline)
    p.handle.resume();
    while (!ready_now_.empty()) {
      auto h = ready_now_.back();
      ready_now_.pop_back();
      h.resume();
    }
  }

  void forget(int fd) {
    auto it = registered_.find(fd);
    if (it == registered_.end()) return;
    if (it->second.timer != TimerQueue::kNoTimer) loop_.cancel_timer(it->second.timer);
    registered_.erase(it);
    loop_.unwatch(fd);
  }

  // A send or close from elsewhere (the flush StreamConn's wake-up queues): resume the
  // connection's coroutine so that it writes or finishes.
  void wake(int fd) {
    if (fd != listen_fd_) resume(fd, [](Wakeup& w) { w.woken = true; });
  }

  // The accept loop, as `while True: conn = await accept()`.
  Detached accept_loop() {
    Listener listener(listen_fd_, gate_);
    for (;;) {
      Wakeup w = co_await wait(listen_fd_, true, false);
      if (w.stopping) break;
      listener.accept_pending([this](FileDesc fd, const Endpoint& peer, Admission place) {
        try {
          serve(std::make_shared<StreamConn>(std::move(fd), peer, cfg_.max_queue, std::move(place)));
        } catch (const std::bad_alloc&) {  // no memory for the connection or its coroutine frame
          gate_.refuse(fd, peer, memory_refusals(), "out of memory");  // fd is closed if it moved
        }
      });
      ticker_.arm();
    }
    forget(listen_fd_);
  }

  // One client, as `async def handle(reader, writer)`.
  Detached serve(std::shared_ptr<StreamConn> c) {
    int fd = c->fd();
    // Anything on this client's path that runs out of memory (its callbacks, parking it) drops
    // this client only; an exception escaping a coroutine would end the process.
    try {
      // A wake-up queues only the fd: neither the connection nor a wake-up allocates. (One that
      // arrives after the descriptor went to a newer connection only resumes that one
      // spuriously: it settles and parks again.)
      c->attach(loop_.waker(), static_cast<uint64_t>(fd));
      call_open(*c, service_);
      for (;;) {
        if (c->settle() == StreamConn::State::finished) break;
        std::optional<Clock::time_point> deadline;
        StreamConn::Wants wants = c->wants();
        if (wants.timer) deadline = wants.timer;
        Wakeup w = co_await wait(fd, wants.read, wants.write, deadline);
        if (w.stopping) {
          c->settle();  // last chance to write what is queued
          break;
        }
        if (input_ready(*c, w.readable || w.error, w.writable)) {
          if (c->wants().read) pump_input(*c, service_);
          else if (w.error) mark_broken(*c);
        }
        if (w.timed_out && c->wants().timer) call_timeout(*c, service_);
      }
    } catch (const std::bad_alloc&) {
      drop_for_memory(*c);
      ticker_.arm();
    }
    forget(fd);
    retire(*c, service_);
  }

  EventLoop loop_{EventLoop::Backend::epoll};
  int listen_fd_;
  StreamService& service_;
  const ServerConfig& cfg_;
  AcceptGate gate_;
  const StopSource& stop_;
  bool stopping_ = false;
  std::unordered_map<int, Watched> registered_;                // fd -> what the loop has of it
  std::unordered_map<int, Parked> parked_;                     // fd -> the coroutine waiting on it
  GateTicker ticker_{gate_, loop_};
  std::vector<std::coroutine_handle<>> ready_now_;
};

class CoroModel final : public Model {
 public:
  void run(int listen_fd, StreamService& service, const ServerConfig& cfg, const StopSource& stop) override {
    CoroLoop loop(listen_fd, service, cfg, stop);
    loop.run();
  }
};

}  // namespace

ModelInfo coro_model() {
  return ModelInfo{"coro", "C++20 coroutines on one epoll loop (the lecture's asyncio)", true,
          [] { return std::make_unique<CoroModel>(); }};
}

}  // namespace concur
