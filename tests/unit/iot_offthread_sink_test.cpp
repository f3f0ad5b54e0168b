// OffThreadSink: the shared machinery of a sink with a thread of its own (the MQTT sink's queue,
// wake-up and close, now anyone's). The sink here is what a newcomer writes: one small class.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "iot/offthread_sink.hpp"

namespace concur::iot {
namespace {

// Delivers each reading's device name to a list, on its own thread; `open` false holds delivery
// back, as a broker that is down would.
class ListSink final : public OffThreadSink {
 public:
  explicit ListSink(size_t max_queue, bool open = true) : OffThreadSink("list", max_queue, "the list"), open_(open) {
    start();
  }
  ~ListSink() override {
    if (running()) close(Millis(0));
  }
  std::vector<std::string> got() {
    std::lock_guard lock(mu_);
    return got_;
  }
  std::thread::id thread_id;  // written by the thread, read after close()

 private:
  void run_thread() override {
    thread_id = std::this_thread::get_id();
    loop_.run();
    finish(0);
  }
  void on_wake() override {
    if (open_) {
      Batch b;
      while (take(b)) {
        b.for_each_reading([&](const ParsedReading& r, double) {
          std::lock_guard lock(mu_);
          got_.emplace_back(r.name);
        });
        count_delivered(b.lines());
      }
    }
    Closing c = closing();
    if (c.asked && (c.waiting == 0 || !open_ || std::chrono::steady_clock::now() >= c.drain_until)) loop_.quit();
  }
  const bool open_;
  std::mutex mu_;
  std::vector<std::string> got_;
};

Batch one(const std::string& device) {
  Batch b;
  b.add("Thu Dec  3 06:24:37 2026", device + ": X=1", 1.0);
  return b;
}

TEST(IotOffThreadSink, DeliversOnItsOwnThreadAndCloseDrains) {
  ListSink sink(100);
  for (const char* d : {"A", "B", "C"}) EXPECT_EQ(sink.write_batch(one(d)), 0);
  sink.close(Millis(2000));
  EXPECT_EQ(sink.got(), (std::vector<std::string>{"A", "B", "C"}));
  EXPECT_NE(sink.thread_id, std::this_thread::get_id());
  auto st = sink.stats();
  EXPECT_EQ(st.queued, 3u);
  EXPECT_EQ(st.delivered, 3u);
  EXPECT_EQ(st.dropped, 0u);
  EXPECT_EQ(st.unsent, 0u);
}

TEST(IotOffThreadSink, AFullQueueDropsTheOldestAndWhatIsLeftIsUnsent) {
  ListSink sink(5, /*open=*/false);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(sink.write_batch(one("D" + std::to_string(i))), 0) << "never fails the collector";
  auto st = sink.stats();
  EXPECT_EQ(st.queued, 8u);
  EXPECT_EQ(st.dropped, 3u);  // D0..D2: the oldest
  sink.close(Millis(0));
  st = sink.stats();
  EXPECT_EQ(st.delivered, 0u);
  EXPECT_EQ(st.unsent, 5u);
  EXPECT_TRUE(sink.got().empty());
}

TEST(IotOffThreadSink, PartOfTheOldestBatchIsDroppedToKeepTheBound) {
  ListSink sink(3, /*open=*/false);
  Batch b;
  for (const char* d : {"A", "B", "C", "D"}) b.add("Thu Dec  3 06:24:37 2026", std::string(d) + ": X=1", 1.0);
  sink.write_batch(b);
  EXPECT_EQ(sink.stats().dropped, 1u);
  sink.close(Millis(0));
  EXPECT_EQ(sink.stats().unsent, 3u);
}

}  // namespace
}  // namespace concur::iot
