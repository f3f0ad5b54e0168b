#pragma once
// io_uring as an EventLoop backend. It owns the ring; the loop's own descriptors (the mailbox's
// eventfd, the stop request, any watch()) are one-shot IORING_OP_POLL_ADDs armed again after
// each report, which makes them level-triggered like the pollers' watches. The uring model
// submits its own operations (multishot accept and recv, send, cancel) through sqe() and gets
// their completions back through the completion handler, in the same bounded batch as the
// readiness reports, so one loop pass is one io_uring_enter (submit everything prepared, wait
// for a completion, up to the earliest timer) and at most kBatch completions.
//
// Thread contract: the loop thread only. The ring is set up single-issuer where the kernel can,
// so the thread that first runs the loop must run it every time (any thread may make it: the
// ring starts when that thread first waits); another one gets a SysError saying so.
#ifdef CONCUR_HAVE_URING
#include <liburing.h>

#include <cstdint>
#include <thread>
#include <vector>

#include "loop/backend.hpp"
#include "loop/uring_ring.hpp"

namespace concur {

class UringBackend final : public LoopBackend {
 public:
  using CompletionFn = void (*)(void* ctx, const io_uring_cqe& cqe);
  using BatchEndFn = void (*)(void* ctx);
  // The low byte of user_data is the owner's operation; these two are the backend's own.
  static constexpr uint64_t kPollOp = 0xff, kPollRemoveOp = 0xfe;
  static constexpr unsigned kBatch = 256;
  static constexpr unsigned kEntries = 4096;

  // `entries` submission slots. Throws SysError when the kernel refuses io_uring.
  explicit UringBackend(unsigned entries = kEntries);

  io_uring& ring() { return ring_.get(); }
  // A free submission slot; when the queue is full, what is prepared goes to the kernel first.
  io_uring_sqe* sqe();
  // Before the loop runs: who gets every completion whose user_data's low byte is not one of
  // the backend's (it must not throw), and what to call after each batch of completions
  // (before the loop's timers).
  void set_completion_handler(CompletionFn fn, void* ctx) {
    completion_fn_ = fn;
    completion_ctx_ = ctx;
  }
  void set_batch_end(BatchEndFn fn, void* ctx) {
    batch_end_fn_ = fn;
    batch_end_ctx_ = ctx;
  }

  // LoopBackend
  const char* name() const override { return "uring"; }
  bool add(int fd, bool in, bool out, std::string* why) override;
  void update(int fd, bool in, bool out) override;
  void remove(int fd) override;
  void wait(int timeout_ms) override;
  size_t dispatch(ReadyFn ready, void* ctx) override;

 private:
  struct Watch {
    bool watched = false;
    bool in = false, out = false;  // interest
    bool armed = false;            // a poll for this generation is in the kernel
    unsigned armed_mask = 0;
    uint32_t gen = 0;  // bumped whenever the armed poll is withdrawn: its late report is stale
  };
  static uint64_t poll_tag(int fd, uint32_t gen);
  void arm(int fd, Watch& w);
  void withdraw(int fd, Watch& w);
  void on_poll(const io_uring_cqe& cqe, ReadyFn ready, void* ctx);

  Ring ring_;
  std::thread::id runner_{};    // the thread that started the ring (first wait)
  std::vector<Watch> watches_;  // by descriptor
  io_uring_cqe* batch_[kBatch];
  CompletionFn completion_fn_ = nullptr;
  void* completion_ctx_ = nullptr;
  BatchEndFn batch_end_fn_ = nullptr;
  void* batch_end_ctx_ = nullptr;
};

}  // namespace concur
#endif
