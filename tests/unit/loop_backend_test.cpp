// The EventLoop over a backend of its own (LoopBackend): what a new backend can count on. The
// loop asks it to wait no longer than the earliest timer, then to dispatch, and after the
// dispatch runs due timers and then the tasks queued meanwhile; readiness it reports reaches the
// watch of that descriptor only.
#include "loop/backend.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "loop/event_loop.hpp"

namespace concur {
namespace {

using namespace std::chrono_literals;

// A descriptor number nothing in the test process holds: the loop only passes it to the backend.
constexpr int kFd = 900;

// Reports kFd readable on every dispatch and records what the loop asked of it. The loop's own
// descriptors (the mailbox's eventfd) are accepted and never reported.
struct ScriptedBackend final : LoopBackend {
  std::vector<std::string>* log;
  std::vector<int> timeouts;
  bool watching_fd = false;
  explicit ScriptedBackend(std::vector<std::string>* l) : log(l) {}
  const char* name() const override { return "epoll"; }  // a metric label the loop knows
  bool add(int fd, bool, bool, std::string*) override {
    if (fd == kFd) watching_fd = true;
    return true;
  }
  void update(int, bool, bool) override {}
  void remove(int fd) override {
    if (fd == kFd) watching_fd = false;
  }
  void wait(int timeout_ms) override {
    timeouts.push_back(timeout_ms);
    log->push_back("wait");
  }
  size_t dispatch(ReadyFn ready, void* ctx) override {
    log->push_back("dispatch");
    if (!watching_fd) return 0;
    ready(ctx, Ready{kFd, true, false, false});
    ready(ctx, Ready{kFd + 1, true, false, false});  // not watched by the loop: ignored
    return 2;
  }
};

TEST(LoopBackend, LoopWaitsUpToTheEarliestTimerThenDispatchesThenTimersThenTasks) {
  std::vector<std::string> log;
  auto owned = std::make_unique<ScriptedBackend>(&log);
  ScriptedBackend& backend = *owned;
  EventLoop loop(std::move(owned));
  int reports = 0;
  ASSERT_TRUE(loop.watch(kFd, true, false, [&](const Ready& r) {
    EXPECT_EQ(r.fd, kFd);
    log.push_back("ready");
    if (++reports == 1) loop.queue_in_loop([&] { log.push_back("task"); });
  }));
  loop.run_after(200ms, [&] { log.push_back("late timer"); });
  loop.run_at(EventLoop::Clock::now(), [&] {
    log.push_back("timer");
    loop.quit();
  });
  loop.run();
  EXPECT_EQ(log, (std::vector<std::string>{"wait", "dispatch", "ready", "timer", "task"}));
  ASSERT_EQ(backend.timeouts.size(), 1u);
  EXPECT_EQ(backend.timeouts[0], 0) << "a timer was due: the wait must not block";
  loop.unwatch(kFd);
  EXPECT_FALSE(backend.watching_fd);
}

}  // namespace
}  // namespace concur
