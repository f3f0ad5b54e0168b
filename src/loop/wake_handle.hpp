#pragma once
// "Wake the owner for key K, at most once until it has run": the one cross-thread wake-up that
// connections (StreamConn) and loop-owned objects (MqttSink) keep, instead of each building its
// own pending flag on top of a mailbox.
//
// A WakeTarget is the owner's side: an event loop's mailbox (keys queue up and reach the loop's
// wake handler; many keys cost one eventfd write, see Mailbox) or a blocking connection's thread
// (a signal). A WakeHandle is the waker's side, one per object: a pending flag, the key and a
// share of the target, so it stays safe to use after the owner is gone.
//
// Thread contract: wake() from any thread; bind() before the handle is shared with other threads;
// clear() by the owner thread when it starts the work the wake-up asked for.
#include <atomic>
#include <cstdint>
#include <memory>

namespace concur {

class WakeTarget {
 public:
  virtual ~WakeTarget() = default;
  // Any thread: get the owner to look at `key` (on its own thread, soon). May be called after
  // the owner has stopped: then nothing happens.
  virtual void wake(uint64_t key) = 0;
};

class WakeHandle {
 public:
  WakeHandle() = default;
  WakeHandle(const WakeHandle&) = delete;
  WakeHandle& operator=(const WakeHandle&) = delete;

  // Before any wake(): wake `target` with `key` from now on.
  void bind(std::shared_ptr<WakeTarget> target, uint64_t key) {
    target_ = std::move(target);
    key_ = key;
  }
  // Any thread. Wakes the owner unless a wake-up is already pending (set and not yet cleared):
  // a burst of calls costs one. True when this call woke it.
  bool wake() {
    if (pending_.exchange(true, std::memory_order_acq_rel)) return false;
    if (target_) target_->wake(key_);
    return true;
  }
  // Owner thread, before looking at what the wakers left: a wake() from here on wakes again, so
  // nothing queued after the look is missed.
  void clear() { pending_.store(false, std::memory_order_release); }

 private:
  std::shared_ptr<WakeTarget> target_;
  uint64_t key_ = 0;
  std::atomic<bool> pending_{false};
};

}  // namespace concur
