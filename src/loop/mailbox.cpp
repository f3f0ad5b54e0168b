#include "loop/mailbox.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include "core/error.hpp"

namespace concur {

Mailbox::Mailbox() : efd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (!efd_) throw_errno("eventfd (event loop wake-up)");
}

void Mailbox::post(Task task) {
  bool was_empty;
  {
    MutexLock lock(mu_);
    was_empty = queued_.empty() && keys_.empty();
    queued_.push_back(std::move(task));
  }
  queued(was_empty);
}

void Mailbox::wake(uint64_t key) {
  bool was_empty;
  {
    MutexLock lock(mu_);
    was_empty = queued_.empty() && keys_.empty();
    keys_.push_back(key);
  }
  queued(was_empty);
}

void Mailbox::queued(bool was_empty) {
  if (was_empty && dispatcher_.load(std::memory_order_relaxed) != std::this_thread::get_id()) ring_bell();
}

void Mailbox::ring_bell() {
  wakeups_.fetch_add(1, std::memory_order_relaxed);
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(efd_.get(), &one, sizeof one);  // EAGAIN: already readable
}

void Mailbox::clear_wake() {
  uint64_t v;
  [[maybe_unused]] ssize_t n = ::read(efd_.get(), &v, sizeof v);
}

size_t Mailbox::run_pending() {
  {
    MutexLock lock(mu_);
    if (queued_.empty() && keys_.empty()) return 0;
    running_.swap(queued_);
    waking_.swap(keys_);
  }
  size_t n = running_.size() + waking_.size();
  for (Task& t : running_) t();
  running_.clear();
  for (uint64_t key : waking_)
    if (key_fn_) key_fn_(key_ctx_, key);
  waking_.clear();
  return n;
}

}  // namespace concur
