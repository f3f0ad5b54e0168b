// The uring backend of EventLoop (loop/uring_backend.hpp): the uring model's own submissions
// complete into its handler inside the loop's pass, at most UringBackend::kBatch per pass, with
// the batch-end hook after each batch; the loop's timers, posts and stop run on it as on the
// pollers (event_loop_test.cpp runs the whole EventLoop suite on it); and a loop that changes
// thread between runs fails with a clear error instead of a bare one from the kernel.
#include <gtest/gtest.h>

#include "support/model_available.hpp"

#ifdef CONCUR_HAVE_URING
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "loop/event_loop.hpp"
#include "loop/uring_backend.hpp"

namespace concur {
namespace {

constexpr uint64_t kNopOp = 1;  // an operation of "the model": any low byte the backend does not keep

struct Recorder {
  EventLoop* loop = nullptr;
  size_t want = 0;
  std::vector<uint64_t> ids;      // payloads of the completions, in order
  std::vector<size_t> batches;    // completions seen at each batch end
  size_t in_batch = 0;
  static void on_cqe(void* self, const io_uring_cqe& cqe) {
    auto& r = *static_cast<Recorder*>(self);
    EXPECT_EQ(io_uring_cqe_get_data64(&cqe) & 0xff, kNopOp);
    r.ids.push_back(io_uring_cqe_get_data64(&cqe) >> 8);
    ++r.in_batch;
  }
  static void on_batch_end(void* self) {
    auto& r = *static_cast<Recorder*>(self);
    if (r.in_batch) r.batches.push_back(r.in_batch);
    r.in_batch = 0;
    if (r.ids.size() == r.want) r.loop->quit();
  }
};

TEST(UringBackend, OwnSubmissionsCompleteIntoTheHandlerInBoundedBatches) {
  SKIP_IF_MODEL_UNAVAILABLE("uring");
  auto owned = std::make_unique<UringBackend>();
  UringBackend& uring = *owned;
  EventLoop loop(std::move(owned));
  constexpr size_t kNops = 2 * UringBackend::kBatch + 88;
  Recorder rec;
  rec.loop = &loop;
  rec.want = kNops;
  uring.set_completion_handler(&Recorder::on_cqe, &rec);
  uring.set_batch_end(&Recorder::on_batch_end, &rec);
  for (uint64_t i = 0; i < kNops; ++i) {
    io_uring_sqe* s = uring.sqe();
    io_uring_prep_nop(s);
    io_uring_sqe_set_data64(s, (i << 8) | kNopOp);
  }
  bool timer_ran = false;
  loop.run_after(std::chrono::milliseconds(0), [&] { timer_ran = true; });
  loop.run();
  ASSERT_EQ(rec.ids.size(), kNops);
  for (uint64_t i = 0; i < kNops; ++i) ASSERT_EQ(rec.ids[i], i);
  EXPECT_TRUE(timer_ran);
  ASSERT_FALSE(rec.batches.empty());
  for (size_t b : rec.batches) EXPECT_LE(b, UringBackend::kBatch) << "a pass took more than one batch";
  EXPECT_GE(rec.batches.size(), 3u);
}

TEST(UringBackend, NameIsTheMetricLabelUring) {
  SKIP_IF_MODEL_UNAVAILABLE("uring");
  UringBackend backend;
  EXPECT_STREQ(backend.name(), "uring");
}

// Made on one thread and run on another is fine (the ring starts on the runner); a second run
// on yet another thread is refused with a clear error, not a bare EINVAL from the kernel.
TEST(UringBackend, LoopKeepsToTheThreadThatFirstRanItAndSaysSoOtherwise) {
  SKIP_IF_MODEL_UNAVAILABLE("uring");
  EventLoop loop(EventLoop::Backend::uring);
  auto run_once = [&loop]() -> std::string {
    try {
      loop.run_after(std::chrono::milliseconds(1), [&loop] { loop.quit(); });
      loop.run();
    } catch (const SysError& e) {
      return e.what();
    }
    return "ran";
  };
  std::string first, second;
  std::promise<void> ran, b_done;
  // `a` stays alive while `b` runs: a finished thread's id may be handed to the next one.
  std::thread a([&] {
    first = run_once();
    ran.set_value();
    b_done.get_future().wait();
  });
  ran.get_future().wait();
  EXPECT_EQ(first, "ran");
  std::thread b([&] { second = run_once(); });
  b.join();
  b_done.set_value();
  a.join();
  EXPECT_NE(second.find("thread that first ran it"), std::string::npos) << second;
}

}  // namespace
}  // namespace concur

#else

TEST(UringBackend, NotBuiltInSaysHowToGetIt) {
  SKIP_IF_MODEL_UNAVAILABLE("uring");
  FAIL() << "built without liburing, yet the registry says uring runs here";
}

#endif
