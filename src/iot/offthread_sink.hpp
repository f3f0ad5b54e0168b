#pragma once
// The machinery of a sink that delivers on a thread of its own (the MQTT sink; any sink whose
// store is remote or may block): the collector's loop must never wait for it.
//
// - write_batch (collector's thread) only queues: a bounded queue of at most `max_queue` readings;
//   past that the OLDEST are dropped (fresh readings are worth more downstream), counted, and said
//   once per episode ("N readings wait for <what>: dropping the oldest from now on"). It returns
//   0: the remote side's state never fails the collector's pass.
// - write_at (collector's thread; a sink that follows data.txt, issue 21) queues the batch with
//   its position in data.txt and drops nothing: past `max_queue` it returns EAGAIN and the
//   collector offers those lines again later, read back from data.txt. The thread takes the
//   position with the batch (take) and stores its cursor once the batch is delivered.
// - The sink's thread runs run_thread(): it sets up, runs loop_ (an EventLoop, poll backend) until
//   it decides to quit, tears down. It takes batches with take() when woken (on_wake(), coalesced:
//   one posted task per burst) and counts what it delivered.
// - close(drain) asks the thread to deliver what is queued for up to `drain`, then joins it;
//   what was left is counted as unsent.
//
// To write one: derive, implement run_thread() and on_wake(), call start() at the end of the
// constructor and close() in the destructor (before the derived members go). mqtt_sink.cpp is the
// worked example.
//
// Thread contract: write_batch/write_lines/name/stats/close from the collector's thread; take(),
// closing(), count_*() and finish() from the sink's thread; stats() from any thread (probes).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "core/thread_annotations.hpp"
#include "core/duration.hpp"
#include "iot/reading_sink.hpp"
#include "loop/event_loop.hpp"
#include "loop/wake_handle.hpp"

namespace concur::iot {

class OffThreadSink : public ReadingSink {
 public:
  struct Stats {
    uint64_t queued = 0;     // readings given to the sink
    uint64_t delivered = 0;  // readings the remote side took (MQTT: acknowledged)
    uint64_t dropped = 0;    // oldest readings dropped from a full queue, or refused by the sink
    uint64_t unsent = 0;     // still queued or in flight at close()
  };

  ~OffThreadSink() override;
  OffThreadSink(const OffThreadSink&) = delete;
  OffThreadSink& operator=(const OffThreadSink&) = delete;

  int write_batch(const Batch& batch) final;
  int write_lines(std::string_view whole_lines) final;
  // Queues `batch` (lines of data.txt ending at `at`) whole, or returns EAGAIN when `max_queue`
  // readings (or more) wait already (nothing is dropped: the collector offers them again from
  // data.txt).
  int write_at(const Batch& batch, const LogPosition& at) final;
  // Whether write_at would take more now (the collector asks before reading data.txt).
  bool has_room() const override;
  const std::string& name() const final { return name_; }

  // Gives what is queued up to `drain` to be delivered, then joins the thread. Once.
  void close(Millis drain = Millis(2000));
  Stats stats() const;

 protected:
  // `what` is who the readings wait for, in the drop line ("the broker").
  OffThreadSink(std::string name, size_t max_queue, std::string what);

  // Starts the thread (run_thread). Call last in the derived constructor.
  void start();
  bool running() const { return thread_.joinable(); }
  // The sink's thread: set up, loop_.run() until done, tear down.
  virtual void run_thread() = 0;
  // On the sink's thread, after write_batch queued something or close() was asked for.
  virtual void on_wake() = 0;
  // Any thread: schedules one on_wake() (coalesced).
  void wake();

  // ---- the sink's thread ----
  // The oldest queued batch, whole, with its position in data.txt (nullopt: given by
  // write_batch); false when none waits.
  bool take(Batch& into, std::optional<LogPosition>* at = nullptr);
  struct Closing {
    bool asked = false;  // close() was called
    std::chrono::steady_clock::time_point drain_until{};
    size_t waiting = 0;  // readings still queued
  };
  Closing closing() const;
  void count_delivered(uint64_t n = 1);
  void count_dropped(uint64_t n = 1);  // refused by the sink itself (not the queue's bound)
  uint64_t dropped() const;
  // The remote side is back: the next overflow is said again.
  void overflow_said_again();
  // The thread ends: what is still queued, plus `in_hand` taken but not delivered, is unsent.
  void finish(uint64_t in_hand);

  EventLoop loop_{EventLoop::Backend::poll};  // runs on thread_; other threads only post to it

 private:
  const std::string name_;
  const size_t max_queue_;
  const std::string what_;
  mutable Mutex mu_;
  struct Queued {
    Batch batch;
    std::optional<LogPosition> at;
  };
  std::deque<Queued> queue_ CONCUR_GUARDED_BY(mu_);
  size_t queued_lines_ CONCUR_GUARDED_BY(mu_) = 0;
  Stats stats_ CONCUR_GUARDED_BY(mu_);
  bool closing_ CONCUR_GUARDED_BY(mu_) = false;
  std::chrono::steady_clock::time_point drain_until_ CONCUR_GUARDED_BY(mu_){};
  bool drop_logged_ CONCUR_GUARDED_BY(mu_) = false;  // "dropping the oldest" said once per episode
  WakeHandle waker_;  // wake(): on_wake() once per burst, through the loop's wake handler
  std::thread thread_;
};

}  // namespace concur::iot
