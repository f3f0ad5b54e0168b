// WakeHandle: "wake the owner for key K at most once until it has run". Many wakers, one call to
// the target until the owner clears; nothing lost across a clear; and through an event loop's
// waker(), many handles woken from another thread cost one eventfd write per drain, each key
// reaching the handler once.
#include "loop/wake_handle.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <map>
#include <thread>
#include <vector>

#include "loop/event_loop.hpp"

namespace concur {
namespace {

struct CountingTarget final : WakeTarget {
  std::atomic<int> calls{0};
  std::atomic<uint64_t> last_key{0};
  void wake(uint64_t key) override {
    last_key = key;
    calls.fetch_add(1);
  }
};

TEST(WakeHandle, ManyWakersCallTheTargetOnceUntilTheOwnerClears) {
  auto target = std::make_shared<CountingTarget>();
  WakeHandle h;
  h.bind(target, 42);
  std::vector<std::thread> wakers;
  std::atomic<int> woke{0};
  for (int t = 0; t < 4; ++t)
    wakers.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) woke += h.wake() ? 1 : 0;
    });
  for (auto& w : wakers) w.join();
  EXPECT_EQ(target->calls.load(), 1);
  EXPECT_EQ(woke.load(), 1);  // exactly one caller was told it woke the owner
  EXPECT_EQ(target->last_key.load(), 42u);
  h.clear();
  EXPECT_TRUE(h.wake());  // after the owner ran, the next wake-up goes out again
  EXPECT_EQ(target->calls.load(), 2);
}

TEST(WakeHandle, UnboundHandleStillCoalescesAndCallsNothing) {
  WakeHandle h;
  EXPECT_TRUE(h.wake());
  EXPECT_FALSE(h.wake());
  h.clear();
  EXPECT_TRUE(h.wake());
}

// K handles bound to one loop, woken N times each from another thread while the loop is busy:
// one eventfd write for the whole burst, each key handled once, and a wake-up after the handler
// cleared is delivered again (not lost to the coalescing).
class WakeThroughLoopTest : public ::testing::TestWithParam<EventLoop::Backend> {};

struct Owner {
  std::vector<WakeHandle> handles;
  std::map<uint64_t, int> seen;
  explicit Owner(size_t k) : handles(k) {}
  static void on_key(void* self, uint64_t key) {
    auto& o = *static_cast<Owner*>(self);
    o.handles[key].clear();  // as StreamConn::settle does before looking
    ++o.seen[key];
  }
};

TEST_P(WakeThroughLoopTest, KeysFromAnotherThreadCoalesceIntoOneEventfdWritePerDrain) {
  EventLoop loop(GetParam());
  constexpr size_t kKeys = 64;
  constexpr int kRounds = 50;
  Owner owner(kKeys);
  loop.set_wake_handler(&Owner::on_key, &owner);
  for (size_t k = 0; k < kKeys; ++k) owner.handles[k].bind(loop.waker(), k);
  std::promise<void> blocked, release;
  auto release_f = release.get_future().share();
  loop.queue_in_loop([&] {
    blocked.set_value();
    release_f.wait();
  });
  std::thread runner([&] { loop.run(); });
  blocked.get_future().wait();
  uint64_t before = loop.wakeups();
  std::thread waker([&] {
    for (int r = 0; r < kRounds; ++r)
      for (size_t k = 0; k < kKeys; ++k) owner.handles[k].wake();
  });
  waker.join();
  EXPECT_LE(loop.wakeups() - before, 1u) << kRounds * kKeys << " wakes while the loop was busy";
  // Once the burst's keys have run (a drain runs its tasks, then its keys: the inner task runs
  // in the drain after them), wake key 7 again from another thread.
  std::promise<void> first_drained, second_seen;
  loop.queue_in_loop([&] { loop.queue_in_loop([&] { first_drained.set_value(); }); });
  release.set_value();
  first_drained.get_future().wait();
  std::thread again([&] {
    owner.handles[7].wake();
    loop.queue_in_loop([&] {
      second_seen.set_value();
      loop.quit();
    });
  });
  again.join();
  ASSERT_EQ(second_seen.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);
  runner.join();
  ASSERT_EQ(owner.seen.size(), kKeys);
  for (size_t k = 0; k < kKeys; ++k) EXPECT_EQ(owner.seen[k], k == 7 ? 2 : 1) << "key " << k;
}

std::vector<EventLoop::Backend> wake_backends() {
  std::vector<EventLoop::Backend> all{EventLoop::Backend::poll, EventLoop::Backend::epoll};
  try {
    EventLoop probe(EventLoop::Backend::uring);
    all.push_back(EventLoop::Backend::uring);
  } catch (const std::exception&) {
  }
  return all;
}

INSTANTIATE_TEST_SUITE_P(Backends, WakeThroughLoopTest, ::testing::ValuesIn(wake_backends()),
                         [](const auto& info) { return std::string(backend_name(info.param)); });

}  // namespace
}  // namespace concur
