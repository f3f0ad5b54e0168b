#pragma once
// The one cross-thread way into a loop: a queue of tasks and of wake-up keys, plus an eventfd the
// loop's backend watches. Wake-ups are coalesced: only the post that finds the queue empty writes
// the eventfd, so a burst of posts (chat fan-out from another thread) costs one write and one
// wake-up; the loop swaps the whole batch out under the lock and runs it.
//
// Shared (std::shared_ptr) so that a handle kept by a connection can still post after its loop
// is gone: the task is then never run, only destroyed with the mailbox.
//
// Public face: post a task, or be the WakeTarget of a WakeHandle (wake(key) queues only the key,
// no std::function, for the loop's wake handler). Running the queue, the eventfd and the
// "who owns it" bookkeeping are the EventLoop's business (a friend), nobody else's.
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "core/thread_annotations.hpp"
#include "core/fd.hpp"
#include "loop/wake_handle.hpp"

namespace concur {

class Mailbox final : public WakeTarget {
 public:
  using Task = std::function<void()>;

  Mailbox();  // throws SysError when no eventfd can be made

  // Any thread. Queues `task` for the loop thread and wakes it if needed. No wake-up is written
  // when the queue already held tasks or keys (one is on its way or the loop drains them next),
  // nor when the caller is the loop thread in the middle of a dispatch (the loop drains right
  // after).
  void post(Task task);
  // Any thread (WakeTarget). Queues `key` for the loop's wake handler, with the same coalescing.
  void wake(uint64_t key) override;

  // Any thread. eventfd writes so far (tests check the coalescing with it).
  uint64_t wakeups() const { return wakeups_.load(std::memory_order_relaxed); }

 private:
  friend class EventLoop;
  using KeyFn = void (*)(void* ctx, uint64_t key);

  // Readable while a wake-up is pending; the loop watches it.
  int fd() const { return efd_.get(); }
  // Any thread. Makes fd() readable (one write).
  void ring_bell();
  // Loop thread, when fd() was reported readable: clears the wake-up.
  void clear_wake();
  // Loop thread. Runs the tasks queued so far, in order, then hands the keys to the handler;
  // what they post runs on the next call. Returns how many ran.
  size_t run_pending();
  // Loop thread, before any key is queued: where keys go (fn(ctx, key)).
  void set_key_handler(KeyFn fn, void* ctx) {
    key_fn_ = fn;
    key_ctx_ = ctx;
  }
  // The thread that owns the loop, and whether it is inside a dispatch.
  void set_owner(std::thread::id id) { owner_.store(id, std::memory_order_release); }
  bool in_owner_thread() const { return owner_.load(std::memory_order_acquire) == std::this_thread::get_id(); }
  // Loop thread: around a dispatch, whose posts need no wake-up (the loop drains right after).
  void set_dispatching(bool on) {
    dispatcher_.store(on ? std::this_thread::get_id() : std::thread::id{}, std::memory_order_relaxed);
  }
  // The first post into an empty queue wakes the loop (see post()).
  void queued(bool was_empty);

  FileDesc efd_;
  std::atomic<std::thread::id> owner_{};
  // The thread inside a dispatch of this loop, or none. One atomic and not "owner && flag": a loop
  // built on one thread and run on another (MqttSink, the device server) changes owner in run(),
  // and a post from the builder that still saw itself as owner read a flag the runner wrote (a
  // data race, and a wake-up skipped for a dispatch that was not its own). A thread reads its own
  // last store here, so only the dispatching thread itself ever finds its id.
  std::atomic<std::thread::id> dispatcher_{};
  Mutex mu_;
  std::vector<Task> queued_ CONCUR_GUARDED_BY(mu_);
  std::vector<uint64_t> keys_ CONCUR_GUARDED_BY(mu_);
  std::vector<Task> running_;  // loop thread only; these keep their capacity between drains
  std::vector<uint64_t> waking_;
  KeyFn key_fn_ = nullptr;
  void* key_ctx_ = nullptr;
  std::atomic<uint64_t> wakeups_{0};
};

}  // namespace concur
