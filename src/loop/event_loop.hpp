#pragma once
// The event loop of concur (muduo's EventLoop, redis's ae.c): one backend (a select, poll or
// epoll poller, or io_uring: loop/backend.hpp), one timer queue and one mailbox for tasks and
// wake-ups from other threads, run by one thread until stopped. Every model and program that
// waits on descriptors or completions is this loop with its own callbacks.
//
// One iteration: the backend waits (no longer than the earliest timer) -> the backend dispatches
// what it found (callbacks of ready descriptors; under uring also the completions of the uring
// model's own submissions) -> due timers fire -> the tasks and wake-up keys queued meanwhile run
// (from other threads and from the callbacks just run). So a task queued by a callback runs
// before the loop waits again.
//
// Thread contract, as in muduo: the loop thread is the one that constructed the loop, until
// run() is called, and then the one running run(). Methods say which thread may call them;
// "loop thread" methods are not locked and must not be called from anywhere else.
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/stop.hpp"
#include "loop/backend.hpp"
#include "loop/mailbox.hpp"
#include "loop/loop_metrics.hpp"
#include "loop/poller.hpp"
#include "loop/timer_queue.hpp"

namespace concur {

class EventLoop {
 public:
  using Clock = std::chrono::steady_clock;
  using Task = std::function<void()>;
  using TimerId = TimerQueue::Id;
  using IoCallback = std::function<void(const Ready&)>;
  // The allocation-free form for hot paths (one watch per connection): fn(ctx, ready).
  using IoFn = void (*)(void* ctx, const Ready&);
  enum class Backend { select, poll, epoll, uring };

  // Any thread; that thread is the loop thread until run(). Backend::uring throws SysError where
  // the kernel refuses io_uring or concur was built without liburing; its loop must keep to the
  // thread that first runs it (a single-issuer ring, see uring_backend.hpp).
  explicit EventLoop(Backend backend = Backend::epoll);
  // Any thread; the same, over a poller made elsewhere (make_select_poller() ...).
  explicit EventLoop(std::unique_ptr<Poller> poller);
  // The same over any backend (the uring model keeps a reference to its UringBackend).
  explicit EventLoop(std::unique_ptr<LoopBackend> backend);
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // ---- running ----
  // The calling thread becomes the loop thread and iterates until quit() or, in the second form,
  // until `stop` is requested. Tasks still queued when it returns are left unrun. May be called
  // again after it returns.
  void run();
  void run(const StopSource& stop);
  // Any thread. run() returns after the current iteration.
  void quit();
  // Any thread.
  bool is_in_loop_thread() const { return mailbox_->in_owner_thread(); }
  // Any thread: aborts with a message when called from another thread than the loop's.
  void assert_in_loop_thread(const char* what) const;

  // ---- tasks ----
  // Any thread. In the loop thread runs `task` at once; elsewhere queue_in_loop().
  void run_in_loop(Task task);
  // Any thread. Runs `task` on the loop thread after the current dispatch (never inside the
  // caller). Wake-ups are coalesced: a burst of calls from other threads costs one eventfd write;
  // calls from the loop's own callbacks cost none.
  void queue_in_loop(Task task) { mailbox_->post(std::move(task)); }
  // Any thread. A handle that posts into this loop and stays safe to use after the loop is gone
  // (its tasks are then dropped unrun): for objects that may outlive the loop, such as connections.
  std::shared_ptr<Mailbox> mailbox() const { return mailbox_; }

  // ---- wake-ups by key ----
  // Any thread. The target for WakeHandles of this loop (its mailbox): handle.wake() queues the
  // handle's key, no std::function, and a burst of keys from other threads costs one eventfd
  // write, none from the loop's own dispatch. Safe to use after the loop is gone.
  std::shared_ptr<WakeTarget> waker() const { return mailbox_; }
  // Loop thread, before any key is queued: the keys reach fn(ctx, key) after the queued tasks,
  // in the order woken. One handler per loop (the model's, or the object owning the loop).
  void set_wake_handler(void (*fn)(void* ctx, uint64_t key), void* ctx) { mailbox_->set_key_handler(fn, ctx); }

  // ---- descriptors (level-triggered) ----
  // Loop thread. Calls cb with the readiness of fd while `in` / `out` interest is set. False, with
  // `why`, when the backend cannot watch fd (select: fd >= FD_SETSIZE) or fd is already watched.
  // A callback may watch, modify and unwatch any descriptor, itself included; a descriptor
  // watched during a dispatch is not reported until the next wait. Readiness may be spurious
  // (the fd must be non-blocking).
  bool watch(int fd, bool in, bool out, IoCallback cb, std::string* why = nullptr);
  // Loop thread. The same with a plain function and context: nothing is allocated per watch (a
  // model holding 18,000 idle connections pays 16 bytes each). ctx must outlive the watch.
  bool watch(int fd, bool in, bool out, IoFn fn, void* ctx, std::string* why = nullptr);
  // Loop thread. A listening socket: with epoll, only one of several loops sharing it is woken
  // per connection (EPOLLEXCLUSIVE). Interest is `in`; modify() may pause it.
  bool watch_listener(int fd, IoCallback cb, std::string* why = nullptr);
  // Loop thread. Changes the interest of a watched fd (both false: keep it, report nothing).
  // Not for a listener under epoll (EPOLLEXCLUSIVE cannot be modified): unwatch it to pause.
  void modify(int fd, bool in, bool out);
  // Loop thread. Stops watching fd (call before closing it). No-op when not watched.
  void unwatch(int fd);
  // Loop thread.
  bool watching(int fd) const;

  // ---- timers ----
  // Loop thread. Calls fn once at `due` / after `delay`; returns an id for cancel_timer().
  TimerId run_at(Clock::time_point due, Task fn) { return timers_.add(due, std::move(fn)); }
  TimerId run_after(Clock::duration delay, Task fn) { return timers_.add(Clock::now() + delay, std::move(fn)); }
  // Loop thread. False when the timer already fired or was cancelled.
  bool cancel_timer(TimerId id) { return timers_.cancel(id); }
  // Loop thread. Live timers.
  size_t timer_count() const { return timers_.size(); }

  // ---- batching ----
  // Loop thread. With gap > 0: after an iteration that handled readiness, the next wait starts no
  // earlier than `gap` after the previous one returned (nor later than the earliest timer), so
  // what becomes ready meanwhile is handled in one iteration: one wait and one wake-up instead of
  // one each, at the price of up to `gap` of latency. An idle loop still wakes at once. For loops
  // with many small independent inputs whose cost is per wake-up (the collector: thousands of
  // devices, one write per pass), not for request/response servers. Off (0) by default.
  void set_batching(Clock::duration gap) { batch_gap_ = gap; }

  // Any thread. eventfd wake-ups so far (diagnostics, tests).
  uint64_t wakeups() const { return mailbox_->wakeups(); }

 private:
  struct Watch {
    IoFn fn = nullptr;  // nullptr: not watched
    void* ctx = nullptr;
  };
  bool add_watch(int fd, bool listener, IoFn fn, void* ctx, std::string* why);
  static void call_function(void* ctx, const Ready& r);  // the IoFn of a std::function watch
  static void on_ready(void* self, const Ready& r);       // the backend's report of readiness
  void iterate();

  std::unique_ptr<LoopBackend> backend_;
  loop_metrics::Series& metrics_;  // wake-ups and busy time, under the backend's name
  std::shared_ptr<Mailbox> mailbox_;
  TimerQueue timers_;
  // Indexed by descriptor; plain values, copied out before a call, so a callback may unwatch
  // itself or grow the table. A std::function watch owns its callback through ctx; one unwatched
  // during a dispatch (perhaps the one running) is freed after it, from retired_.
  std::vector<Watch> watches_;
  std::vector<std::unique_ptr<IoCallback>> retired_;
  std::vector<int> fresh_;  // watched during this dispatch: their readiness is from before
  size_t found_ = 0;        // what the last dispatch handled (batching)
  bool dispatching_ = false;
  std::atomic<bool> quit_{false};
  Clock::duration batch_gap_{0};
  Clock::time_point last_wait_{};  // when the previous wait returned (batching only)
};

// "select" / "poll" / "epoll" / "uring".
const char* backend_name(EventLoop::Backend b);

}  // namespace concur
