#pragma once
// The Conn that every stream model hands to services: a socket plus a bounded output queue.
//
// Any thread may send(); only the owner thread (the one running the connection's callbacks)
// touches the socket. A send from another thread queues the bytes and wakes the owner through
// its WakeHandle, at most once until the owner has settled, so a burst of fan-out sends costs one
// wake-up and one write (the coalescing that makes group chat fast).
#include <sys/types.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/buffer.hpp"
#include "core/fd.hpp"
#include "conn/accept_gate.hpp"
#include "loop/wake_handle.hpp"
#include "services/service.hpp"

namespace concur {

class StreamConn final : public Conn, public std::enable_shared_from_this<StreamConn> {
 public:
  using Clock = std::chrono::steady_clock;

  // `place` is the client's admission under --max-clients: given back when the socket closes
  // (retire()) or with the connection, whichever comes first.
  StreamConn(FileDesc fd, Endpoint peer, size_t max_queue, Admission place = {});

  // Conn
  uint64_t id() const override { return id_; }
  const Endpoint& peer() const override { return peer_; }
  bool send(std::string_view bytes) override;
  void close() override;
  size_t pending_output() const override;
  bool peer_gone() const override;
  void set_timer(Millis after) override;
  void post(std::function<void(Conn&)> task) override;
  std::shared_ptr<Conn> shared() override { return shared_from_this(); }

  // ---- model side; owner thread only unless stated ----
  // Must be called before any callback: the calling thread becomes the owner, and a send(),
  // close() or post() that needs the owner's attention wakes `owner` with `key` (an event loop's
  // waker() and the connection's id; a blocking model's thread). The connection keeps `owner`
  // alive, so a wake-up after the owner is gone is harmless; nothing is allocated per connection.
  void attach(std::shared_ptr<WakeTarget> owner, uint64_t key);
  int fd() const { return fd_.get(); }

  // What the owner should do next, after callbacks and wake-ups.
  enum class State { open, finished };
  // Runs posted tasks, writes pending output; decides whether the connection is done (overflow,
  // write error, close requested and drained, peer gone). Call after every callback and on wake-up.
  State settle();
  bool wants_write() const;
  // Read more input? Not after EOF or close(), and not while the peer is behind on its output:
  // once pending output reaches high_water() input pauses, so TCP flow control slows a client
  // that sends faster than it reads (an echo to a slow reader, RELIABILITY 11) instead of its
  // queue overflowing --max-queue. Other senders (chat fan-out) are still bounded by max_queue.
  bool wants_read() const { return input_open() && !output_backlogged(); }
  // Input may still arrive and must be handed to the service (no EOF, not broken — a write
  // error, or dropped for memory inside a callback — and no close requested).
  bool input_open() const {
    return !peer_eof_ && !broken_ && !close_requested_.load(std::memory_order_acquire);
  }
  bool output_backlogged() const;
  size_t high_water() const { return std::min(max_queue_ / 2, kMaxHighWater); }
  static constexpr size_t kMaxHighWater = 256 * 1024;
  void mark_peer_eof() { peer_eof_ = true; }
  void mark_broken() { broken_ = true; }
  // The socket half of retiring (conn_driver's retire() adds on_close): marks the connection
  // closed (later sends fail) and closes the socket, FIN first.
  void retire();
  bool overflowed() const { return overflowed_.load(std::memory_order_acquire); }
  bool broken() const { return broken_; }
  bool close_requested() const { return close_requested_.load(std::memory_order_acquire); }

  // settle() for completion models (uring), which write asynchronously: clears the wake flag, runs
  // posted tasks and says whether the connection can go on (not broken, not overflowed); writes
  // nothing.
  bool settle_without_write();
  // The client cannot be served for lack of memory (std::bad_alloc on its path): told `server
  // full` while a line can still be sent, marked broken (the model retires it), counted in
  // memory_refusals(). Owner thread.
  void drop_for_memory();
  // Moves all queued output to `into` (appending). Returns false when nothing was queued.
  bool take_output(std::string& into);
  size_t max_queue() const { return max_queue_; }

  // While alive, the calling thread is running this connection's callbacks (conn_driver's call_*
  // set it around every service callback). A send() to this connection then needs no wake-up (the
  // owner flushes after the callback); a send() anywhere else — another connection's callback on
  // the same thread, outside any callback — wakes the owner, or the output would wait for the
  // connection's next event.
  class CallbackScope {
   public:
    explicit CallbackScope(const StreamConn& c);
    ~CallbackScope();
    CallbackScope(const CallbackScope&) = delete;
    CallbackScope& operator=(const CallbackScope&) = delete;

   private:
    const StreamConn* saved_;
  };

  // Timer
  bool timer_armed() const { return timer_armed_; }
  Clock::time_point timer_due() const { return timer_due_; }
  void disarm_timer() { timer_armed_ = false; }

 private:
  void notify_owner();
  bool needs_notify() const;
  void run_posted();

  const uint64_t id_;
  FileDesc fd_;
  const Endpoint peer_;
  const size_t max_queue_;
  Admission place_;  // owner only
  WakeHandle wake_;  // cleared by settle(): one wake-up per settle, however many senders

  mutable std::mutex mu_;
  Buffer out_;            // guarded by mu_
  // Posted tasks, made on the first post (most connections never get one: 8 bytes, not a
  // vector's 24, in every idle connection). Guarded by mu_.
  std::unique_ptr<std::vector<std::function<void(Conn&)>>> posted_;
  bool closed_ = false;   // guarded by mu_
  std::atomic<bool> has_posted_{false};  // posted_ is not empty (settle's quick look)
  std::atomic<bool> close_requested_{false};
  std::atomic<bool> overflowed_{false};

  bool peer_eof_ = false;  // owner only
  bool broken_ = false;    // owner only
  bool timer_armed_ = false;
  Clock::time_point timer_due_{};
};

}  // namespace concur
