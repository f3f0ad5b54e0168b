#include "iot/offthread_sink.hpp"

#include <cerrno>

#include "core/log.hpp"
#include "core/log_limiter.hpp"
#include "core/stop.hpp"

namespace concur::iot {

OffThreadSink::OffThreadSink(std::string name, size_t max_queue, std::string what)
    : name_(std::move(name)), max_queue_(max_queue), what_(std::move(what)) {
  loop_.set_wake_handler(
      [](void* self, uint64_t) {
        auto& sink = *static_cast<OffThreadSink*>(self);
        sink.waker_.clear();  // before looking at the queue: a later batch wakes again
        sink.on_wake();
      },
      this);
  waker_.bind(loop_.waker(), 0);
}

OffThreadSink::~OffThreadSink() {
  // The derived class should have closed already (its members are gone by now); this only keeps
  // a thread from outliving the object when it did not.
  if (thread_.joinable()) close(Millis(0));
}

void OffThreadSink::start() {
  StopSignalsBlocked quiet;  // the sink's thread never takes the command's stop signals
  thread_ = std::thread([this] { run_thread(); });
}

void OffThreadSink::wake() { waker_.wake(); }  // one wake-up until the loop has run it

int OffThreadSink::write_batch(const Batch& batch) {
  if (batch.empty()) return 0;
  size_t dropped = 0;
  bool say = false;
  {
    MutexLock lock(mu_);
    stats_.queued += batch.lines();
    queue_.push_back(Queued{batch, std::nullopt});
    queued_lines_ += batch.lines();
    while (queued_lines_ > max_queue_ && !queue_.empty()) {
      Batch& oldest = queue_.front().batch;
      size_t excess = queued_lines_ - max_queue_;
      if (excess >= oldest.lines()) {
        dropped += oldest.lines();
        queued_lines_ -= oldest.lines();
        queue_.pop_front();
      } else {  // drop part of the oldest batch: its first `excess` lines
        size_t before = oldest.lines();
        size_t cut = 0;
        for (size_t k = 0; k < excess; ++k) cut = oldest.text.find('\n', cut) + 1;
        oldest.drop_oldest(oldest.text.size() - cut);
        dropped += before - oldest.lines();
        queued_lines_ -= before - oldest.lines();
      }
    }
    stats_.dropped += dropped;
    if (dropped && !drop_logged_) say = drop_logged_ = true;
  }
  if (say) errf("concur: {}: {} readings wait for {}: dropping the oldest from now on", name_, thousands(max_queue_), what_);
  wake();
  return 0;
}

int OffThreadSink::write_at(const Batch& batch, const LogPosition& at) {
  {
    MutexLock lock(mu_);
    // Whole batches only (the position is the end of the batch): taken while fewer than
    // max_queue wait, so the bound is max_queue plus one batch (a catch-up chunk is 256 KiB), and
    // has_room() says exactly what this does.
    if (queued_lines_ >= max_queue_) return EAGAIN;
    stats_.queued += batch.lines();
    queue_.push_back(Queued{batch, at});
    queued_lines_ += batch.lines();
  }
  wake();
  return 0;
}

bool OffThreadSink::has_room() const {
  MutexLock lock(mu_);
  return queued_lines_ < max_queue_;
}

int OffThreadSink::write_lines(std::string_view whole_lines) { return write_batch(Batch::stamped_now(whole_lines)); }

void OffThreadSink::close(Millis drain) {
  {
    MutexLock lock(mu_);
    closing_ = true;
    drain_until_ = std::chrono::steady_clock::now() + drain;
  }
  loop_.queue_in_loop([this] { on_wake(); });  // not coalesced with a pending wake(): this one must run
  if (thread_.joinable()) thread_.join();
}

OffThreadSink::Stats OffThreadSink::stats() const {
  MutexLock lock(mu_);
  return stats_;
}

bool OffThreadSink::take(Batch& into, std::optional<LogPosition>* at) {
  MutexLock lock(mu_);
  if (queue_.empty()) return false;
  into = std::move(queue_.front().batch);
  if (at) *at = std::move(queue_.front().at);
  queue_.pop_front();
  queued_lines_ -= into.lines();
  return true;
}

OffThreadSink::Closing OffThreadSink::closing() const {
  MutexLock lock(mu_);
  return Closing{closing_, drain_until_, queued_lines_};
}

void OffThreadSink::count_delivered(uint64_t n) {
  MutexLock lock(mu_);
  stats_.delivered += n;
}

void OffThreadSink::count_dropped(uint64_t n) {
  MutexLock lock(mu_);
  stats_.dropped += n;
}

uint64_t OffThreadSink::dropped() const {
  MutexLock lock(mu_);
  return stats_.dropped;
}

void OffThreadSink::overflow_said_again() {
  MutexLock lock(mu_);
  drop_logged_ = false;
}

void OffThreadSink::finish(uint64_t in_hand) {
  MutexLock lock(mu_);
  stats_.unsent = queued_lines_ + in_hand;
}

}  // namespace concur::iot
