// EventLoop and its parts: the timer queue (order, cancel, rounding, no spin on re-arm), the
// mailbox (posts and wake-up keys from other threads all run, in order per thread, with coalesced
// wake-ups), descriptor readiness and interest changes on every backend (uring included), and
// stopping.
#include "loop/event_loop.hpp"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "core/fd.hpp"

namespace concur {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(TimerQueue, FiresEarliestFirstAndEqualDueInOrderAdded) {
  TimerQueue q;
  std::string order;
  auto t0 = Clock::now();
  q.add(t0 + 30ms, [&] { order += 'c'; });
  q.add(t0 + 10ms, [&] { order += 'a'; });
  q.add(t0 + 20ms, [&] { order += 'b'; });
  q.add(t0 + 20ms, [&] { order += 'B'; });
  EXPECT_EQ(q.run_due(t0 + 15ms), 1u);
  EXPECT_EQ(q.run_due(t0 + 60ms), 3u);
  EXPECT_EQ(order, "abBc");
  EXPECT_TRUE(q.empty());
}

TEST(TimerQueue, CancelledTimerNeverFiresAndCancelReportsWhetherItWasLive) {
  TimerQueue q;
  int fired = 0;
  auto t0 = Clock::now();
  auto a = q.add(t0 + 1ms, [&] { ++fired; });
  auto b = q.add(t0 + 2ms, [&] { fired += 10; });
  EXPECT_TRUE(q.cancel(a));
  EXPECT_FALSE(q.cancel(a));
  EXPECT_EQ(q.size(), 1u);
  q.run_due(t0 + 5ms);
  EXPECT_EQ(fired, 10);
  EXPECT_FALSE(q.cancel(b));  // already fired
  EXPECT_EQ(q.timeout_ms(t0, 123), 123);  // nothing live: the cap
}

TEST(TimerQueue, TimeoutRoundsUpAndSkipsCancelledEntries) {
  TimerQueue q;
  auto t0 = Clock::now();
  auto early = q.add(t0 + 1ms, [] {});
  q.add(t0 + 2500us, [] {});
  q.cancel(early);
  EXPECT_EQ(q.timeout_ms(t0), 3);   // 2.5 ms waits 3, not 2 (no early wake-up and spin)
  EXPECT_EQ(q.timeout_ms(t0 + 10ms), 0);
  EXPECT_EQ(q.timeout_ms(t0, 1), 1);
}

TEST(TimerQueue, TimerAddedByACallbackWaitsForTheNextRunEvenWhenDue) {
  TimerQueue q;
  int runs = 0;
  std::function<void()> rearm = [&] {
    ++runs;
    q.add(Clock::now() - 1ms, rearm);  // already due
  };
  q.add(Clock::now(), rearm);
  EXPECT_EQ(q.run_due(Clock::now()), 1u);
  EXPECT_EQ(q.run_due(Clock::now()), 1u);
  EXPECT_EQ(runs, 2);
}

// Issue 19: a connection that cancels its timer and adds a later one per message (coro, uring)
// while other timers stay live, due earlier, left every cancelled entry in the heap: lazy
// deletion only drops what surfaces on top. The heap must stay within about twice the live
// timers however long the churn goes on, and the live timers must still fire, in order.
TEST(TimerQueue, AddCancelChurnBehindLiveTimersKeepsTheHeapBounded) {
  TimerQueue q;
  auto t0 = Clock::now();
  std::string order;
  for (int i = 0; i < 10; ++i) q.add(t0 + 1s + i * 1ms, [&order, i] { order += static_cast<char>('a' + i); });
  size_t most = 0;
  TimerQueue::Id churn = TimerQueue::kNoTimer;
  for (int i = 0; i < 100'000; ++i) {
    if (churn) q.cancel(churn);
    churn = q.add(t0 + 600s + i * 1us, [] {});  // re-armed later each time, as an idle timeout
    q.timeout_ms(t0);                          // what the loop asks every iteration
    most = std::max(most, q.heap_size());
  }
  EXPECT_EQ(q.size(), 11u);
  EXPECT_LE(most, 2 * q.size() + 1) << "the heap grew with the churn";
  EXPECT_EQ(q.run_due(t0 + 2s), 10u);
  EXPECT_EQ(order, "abcdefghij");
  EXPECT_EQ(q.timeout_ms(t0 + 2s), 598'100);  // the surviving churn timer, 600.1 s after t0
  EXPECT_TRUE(q.cancel(churn));
  EXPECT_EQ(q.heap_size(), 0u);
}

// Timers that fire leave fewer live ones: cancelled entries buried under them (due later) must
// not then outnumber the live ones for good.
TEST(TimerQueue, CancelledEntriesAreDroppedWhenFiredTimersLeaveThemTheMajority) {
  TimerQueue q;
  auto t0 = Clock::now();
  for (int i = 0; i < 100; ++i) q.add(t0 + 1ms, [] {});
  std::vector<TimerQueue::Id> late;
  for (int i = 0; i < 100; ++i) late.push_back(q.add(t0 + 1h, [] {}));
  for (int i = 0; i < 60; ++i) q.cancel(late[static_cast<size_t>(i)]);
  EXPECT_EQ(q.run_due(t0 + 10ms), 100u);
  EXPECT_EQ(q.size(), 40u);
  EXPECT_LE(q.heap_size(), 2 * q.size() + 1);
}

// Compaction inside run_due (a callback cancelling most timers), with a timer the same run added
// and then cancelled: nothing cancelled fires, the rest fire in order, the accounting holds.
TEST(TimerQueue, CallbacksThatCancelMostTimersMidRunKeepOrderAndAccounting) {
  TimerQueue q;
  auto t0 = Clock::now();
  std::string order;
  std::vector<TimerQueue::Id> victims;
  TimerQueue::Id added = TimerQueue::kNoTimer;
  q.add(t0, [&] { added = q.add(t0, [&] { order += '!'; }); });  // due, so held for the next run
  q.add(t0 + 1ms, [&] {
    order += 'a';
    q.cancel(added);
    for (auto v : victims) q.cancel(v);  // 50 of 52 live: compacts mid-run
  });
  for (int i = 0; i < 50; ++i) victims.push_back(q.add(t0 + 2ms, [&] { order += 'x'; }));
  q.add(t0 + 3ms, [&] { order += 'b'; });
  q.add(t0 + 1h, [&] { order += 'c'; });
  EXPECT_EQ(q.run_due(t0 + 5ms), 3u);
  EXPECT_EQ(order, "ab");
  EXPECT_EQ(q.size(), 1u);
  EXPECT_LE(q.heap_size(), 3u);
  EXPECT_EQ(q.run_due(t0 + 2h), 1u);
  EXPECT_EQ(order, "abc");
  EXPECT_EQ(q.heap_size(), 0u);
}

// The process-wide count of heap entries (the observable of tests/models/idle_timer_test.cpp).
TEST(TimerQueue, EntriesInProcessFollowEveryQueue) {
  const size_t base = TimerQueue::entries_in_process();
  {
    TimerQueue a, b;
    auto t0 = Clock::now();
    a.add(t0 + 1s, [] {});
    auto x = b.add(t0 + 1s, [] {});
    b.add(t0 + 2s, [] {});
    EXPECT_EQ(TimerQueue::entries_in_process(), base + 3);
    b.cancel(x);  // lazily: still held
    EXPECT_EQ(TimerQueue::entries_in_process(), base + b.heap_size() + a.heap_size());
    a.run_due(t0 + 1s);
    EXPECT_EQ(TimerQueue::entries_in_process(), base + b.heap_size());
  }
  EXPECT_EQ(TimerQueue::entries_in_process(), base);
}

class EventLoopTest : public ::testing::TestWithParam<EventLoop::Backend> {};

std::string backend_label(const ::testing::TestParamInfo<EventLoop::Backend>& info) {
  return backend_name(info.param);
}

TEST_P(EventLoopTest, TimersFireInOrderOnTheLoopAndCancelledOnesDoNot) {
  EventLoop loop(GetParam());
  std::vector<int> order;
  auto t0 = Clock::now();
  loop.run_at(t0 + 30ms, [&] { order.push_back(3); });
  loop.run_at(t0 + 10ms, [&] { order.push_back(1); });
  auto dropped = loop.run_at(t0 + 20ms, [&] { order.push_back(99); });
  loop.run_at(t0 + 20ms, [&] { order.push_back(2); });
  loop.run_at(t0 + 40ms, [&] { loop.quit(); });
  EXPECT_TRUE(loop.cancel_timer(dropped));
  loop.run();
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
  EXPECT_GE(Clock::now() - t0, 40ms);  // no timer fires early
  EXPECT_EQ(loop.timer_count(), 0u);
}

TEST_P(EventLoopTest, PostsFromOtherThreadsAllRunInOrderWithCoalescedWakeups) {
  EventLoop loop(GetParam());
  constexpr int kThreads = 4, kPosts = 2000;
  std::vector<std::vector<int>> seen(kThreads);
  std::promise<void> blocked, release;
  auto release_f = release.get_future().share();
  // The loop thread is held inside a task while the other threads post, so all their posts
  // pile up behind one wake-up.
  loop.queue_in_loop([&] {
    blocked.set_value();
    release_f.wait();
  });
  std::thread runner([&] { loop.run(); });
  blocked.get_future().wait();
  uint64_t before = loop.wakeups();
  std::vector<std::thread> posters;
  for (int t = 0; t < kThreads; ++t)
    posters.emplace_back([&, t] {
      for (int i = 0; i < kPosts; ++i) loop.queue_in_loop([&, t, i] { seen[t].push_back(i); });
    });
  for (auto& p : posters) p.join();
  EXPECT_LE(loop.wakeups() - before, 1u);  // 8000 posts, one eventfd write
  std::atomic<bool> last{false};
  loop.queue_in_loop([&] {
    last = true;
    loop.quit();
  });
  release.set_value();
  runner.join();
  EXPECT_TRUE(last);
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(seen[t].size(), static_cast<size_t>(kPosts));
    for (int i = 0; i < kPosts; ++i) ASSERT_EQ(seen[t][i], i);  // per-thread order kept
  }
}

// A loop built on one thread and run on another (MqttSink, the device server): the builder posts
// while the runner takes the loop over. Every post runs, and under TSan no access races (the
// builder used to read the runner's "dispatching" flag while it still took itself for the owner).
TEST_P(EventLoopTest, PostsFromTheBuilderWhileAnotherThreadStartsRunningTheLoopAllRun) {
  for (int round = 0; round < 50; ++round) {
    EventLoop loop(GetParam());
    std::atomic<int> ran{0};
    std::thread runner([&] { loop.run(); });
    constexpr int kPosts = 200;
    for (int i = 0; i < kPosts; ++i) loop.queue_in_loop([&] { ran.fetch_add(1, std::memory_order_relaxed); });
    std::promise<void> drained;
    loop.queue_in_loop([&] {
      drained.set_value();
      loop.quit();
    });
    ASSERT_EQ(drained.get_future().wait_for(5s), std::future_status::ready) << "a post's wake-up was lost";
    runner.join();
    ASSERT_EQ(ran.load(), kPosts);
  }
}

TEST_P(EventLoopTest, WakeKeysPostedFromAnotherThreadReachTheHandlerInOrderWithOneWakeup) {
  EventLoop loop(GetParam());
  std::vector<uint64_t> keys;
  loop.set_wake_handler([](void* v, uint64_t k) { static_cast<std::vector<uint64_t>*>(v)->push_back(k); }, &keys);
  std::promise<void> blocked, release;
  auto release_f = release.get_future().share();
  loop.queue_in_loop([&] {
    blocked.set_value();
    release_f.wait();
  });
  std::thread runner([&] { loop.run(); });
  blocked.get_future().wait();
  uint64_t before = loop.wakeups();
  std::thread poster([&] {
    auto target = loop.waker();
    for (uint64_t k = 1; k <= 500; ++k) target->wake(k);
  });
  poster.join();
  EXPECT_LE(loop.wakeups() - before, 1u);
  loop.queue_in_loop([&] { loop.quit(); });
  release.set_value();
  runner.join();
  ASSERT_EQ(keys.size(), 500u);
  for (uint64_t k = 1; k <= 500; ++k) ASSERT_EQ(keys[k - 1], k);
}

TEST_P(EventLoopTest, RunInLoopIsImmediateOnTheLoopThreadAndQueuedElsewhere) {
  EventLoop loop(GetParam());
  std::thread::id ran_on;
  std::thread runner([&] { loop.run(); });
  std::promise<void> done;
  std::thread other([&] {
    EXPECT_FALSE(loop.is_in_loop_thread());
    loop.run_in_loop([&] {
      ran_on = std::this_thread::get_id();
      bool inline_ran = false;
      loop.run_in_loop([&] { inline_ran = true; });
      EXPECT_TRUE(inline_ran);  // already on the loop thread: ran at once
      EXPECT_TRUE(loop.is_in_loop_thread());
      done.set_value();
    });
  });
  done.get_future().wait();
  auto runner_id = runner.get_id();
  loop.quit();
  other.join();
  runner.join();
  EXPECT_EQ(ran_on, runner_id);
}

TEST_P(EventLoopTest, TaskQueuedByACallbackRunsBeforeTheNextWaitWithoutAWakeup) {
  EventLoop loop(GetParam());
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  FileDesc a(fds[0]), b(fds[1]);
  uint64_t wakeups_in_callback = 0;
  bool task_ran = false;
  ASSERT_TRUE(loop.watch(a.get(), true, false, [&](const Ready&) {
    char c;
    [[maybe_unused]] ssize_t n = ::read(a.get(), &c, 1);
    wakeups_in_callback = loop.wakeups();
    loop.queue_in_loop([&] {
      task_ran = true;
      loop.quit();
    });
  }));
  ASSERT_EQ(::write(b.get(), "x", 1), 1);
  loop.run();
  EXPECT_TRUE(task_ran);
  EXPECT_EQ(loop.wakeups(), wakeups_in_callback);  // queued from the dispatch: no eventfd write
}

TEST_P(EventLoopTest, ReportsReadinessFollowsInterestAndStopsAfterUnwatch) {
  EventLoop loop(GetParam());
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  FileDesc a(fds[0]), b(fds[1]);
  std::string got;
  int writable = 0, calls_after_unwatch = 0;
  bool unwatched = false;
  ASSERT_TRUE(loop.watch(a.get(), true, false, [&](const Ready& r) {
    if (unwatched) ++calls_after_unwatch;
    if (r.in) {
      char buf[16];
      ssize_t n = ::read(a.get(), buf, sizeof buf);
      if (n > 0) got.append(buf, static_cast<size_t>(n));
      if (got == "hello") loop.modify(a.get(), false, true);  // now only writability
    }
    if (r.out && ++writable == 3) {
      loop.unwatch(a.get());  // from its own callback
      unwatched = true;
      loop.run_after(30ms, [&] { loop.quit(); });
    }
  }));
  std::string why;
  EXPECT_FALSE(loop.watch(a.get(), true, false, [](const Ready&) {}, &why));
  EXPECT_NE(why.find("already watched"), std::string::npos);
  ASSERT_EQ(::write(b.get(), "hello", 5), 5);
  loop.run();
  EXPECT_EQ(got, "hello");
  EXPECT_EQ(writable, 3);
  EXPECT_EQ(calls_after_unwatch, 0);
  EXPECT_FALSE(loop.watching(a.get()));
}

struct Counter {
  int calls = 0;
  EventLoop* loop = nullptr;
  static void on_ready(void* self, const Ready& r) {
    auto* c = static_cast<Counter*>(self);
    char buf[8];
    [[maybe_unused]] ssize_t n = ::read(r.fd, buf, sizeof buf);
    if (++c->calls == 1) c->loop->quit();
  }
};

TEST_P(EventLoopTest, PlainFunctionWatchAndNoStaleReadinessForADescriptorWatchedMidDispatch) {
  EventLoop loop(GetParam());
  int p[2], q[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, p), 0);
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, q), 0);
  FileDesc a(p[0]), a_peer(p[1]), b(q[0]), b_peer(q[1]);
  std::string log;
  Counter second{0, &loop};
  // Both are readable in the same wait. A's callback replaces B's watch: the new one must not get
  // the readiness reported before it existed, only what the next wait reports.
  ASSERT_TRUE(loop.watch(b.get(), true, false, [&](const Ready&) { log += "B1 "; }));
  ASSERT_TRUE(loop.watch(a.get(), true, false, [&](const Ready&) {
    char c;
    [[maybe_unused]] ssize_t n = ::read(a.get(), &c, 1);
    log += "A ";
    loop.unwatch(b.get());
    ASSERT_TRUE(loop.watch(b.get(), true, false, &Counter::on_ready, &second));
    loop.queue_in_loop([&] { log += "| " + std::to_string(second.calls) + " "; });
  }));
  ASSERT_EQ(::write(a_peer.get(), "x", 1), 1);
  ASSERT_EQ(::write(b_peer.get(), "y", 1), 1);
  loop.run();
  EXPECT_EQ(second.calls, 1);
  EXPECT_NE(log.find("A | 0 "), std::string::npos) << log;  // not called in A's dispatch
}

TEST_P(EventLoopTest, RunWithAStopSourceReturnsWhenAnotherThreadRequestsStop) {
  EventLoop loop(GetParam());
  StopSource stop;
  std::thread requester([&] {
    std::this_thread::sleep_for(20ms);
    stop.request();
  });
  auto t0 = Clock::now();
  loop.run(stop);
  requester.join();
  EXPECT_LT(Clock::now() - t0, 5s);
  EXPECT_FALSE(loop.watching(stop.fd()));
  // quit() from another thread ends a loop blocked with nothing to do.
  std::thread quitter([&] {
    std::this_thread::sleep_for(20ms);
    loop.quit();
  });
  loop.run();
  quitter.join();
}

// Every backend, uring where this kernel and build have it (tests/unit/uring_backend_test.cpp
// says why when not).
std::vector<EventLoop::Backend> loop_backends() {
  std::vector<EventLoop::Backend> all{EventLoop::Backend::select, EventLoop::Backend::poll, EventLoop::Backend::epoll};
  try {
    EventLoop probe(EventLoop::Backend::uring);
    all.push_back(EventLoop::Backend::uring);
  } catch (const std::exception&) {
  }
  return all;
}

INSTANTIATE_TEST_SUITE_P(Backends, EventLoopTest, ::testing::ValuesIn(loop_backends()), backend_label);


TEST(EventLoop, SelectRefusesADescriptorBeyondFdSetSize) {
  EventLoop loop(EventLoop::Backend::select);
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  FileDesc a(fds[0]), b(fds[1]);
  FileDesc high(::fcntl(a.get(), F_DUPFD_CLOEXEC, FD_SETSIZE + 10));
  ASSERT_TRUE(high);
  std::string why;
  EXPECT_FALSE(loop.watch(high.get(), true, false, [](const Ready&) {}, &why));
  EXPECT_NE(why.find("FD_SETSIZE"), std::string::npos);
  EventLoop epoll_loop(EventLoop::Backend::epoll);
  EXPECT_TRUE(epoll_loop.watch(high.get(), true, false, [](const Ready&) {}, &why));
  epoll_loop.unwatch(high.get());
}

// Batching (the collector's): input trickling in is handled in a few iterations, not one each.
TEST(EventLoop, BatchingGathersReadinessThatArrivesWithinTheGap) {
  EventLoop loop(EventLoop::Backend::epoll);
  loop.set_batching(100ms);
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  FileDesc a(fds[0]), b(fds[1]);
  constexpr int kBytes = 20;
  int calls = 0, got = 0;
  ASSERT_TRUE(loop.watch(a.get(), true, false, [&](const Ready&) {
    ++calls;
    char buf[64];
    for (ssize_t n; (n = ::read(a.get(), buf, sizeof buf)) > 0;) got += static_cast<int>(n);
    if (got == kBytes) loop.quit();
  }));
  std::thread writer([&] {
    for (int i = 0; i < kBytes; ++i) {
      ASSERT_EQ(::write(b.get(), "x", 1), 1);
      std::this_thread::sleep_for(2ms);  // a trickle, ~40 ms in all
    }
  });
  loop.run();
  writer.join();
  EXPECT_EQ(got, kBytes);
  EXPECT_LT(calls, 10) << "without batching every byte is its own iteration";
  loop.unwatch(a.get());
}

}  // namespace
}  // namespace concur
