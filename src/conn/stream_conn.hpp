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
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/thread_annotations.hpp"
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
  // (retire) or with the connection, whichever comes first.
  // With a TLS place (Admission::tls()), the connection speaks TLS: its handshake runs inside the
  // first reads and writes and must end within the context's handshake_timeout.
  StreamConn(FileDesc fd, Endpoint peer, size_t max_queue, Admission place = {});
  ~StreamConn() override;

  // Conn
  uint64_t id() const override { return id_; }
  const Endpoint& peer() const override { return peer_; }
  bool send(std::string_view bytes) override;
  void close() override;
  size_t pending_output() const override;
  bool overflowed() const override { return overflowed_.load(std::memory_order_acquire); }
  bool peer_gone() const override;
  void set_timer(Millis after) override;
  void post(std::function<void(Conn&)> task) override;
  std::shared_ptr<Conn> shared() override { return shared_from_this(); }

  // ---- model side; owner thread only ----
  // The rest of what a model does to a connection (mark it broken, retire it, call the service)
  // goes through conn_driver.hpp, the one friend (StreamConnAccess).
  //
  // Must be called before any callback: the calling thread becomes the owner, and a send(),
  // close() or post() that needs the owner's attention wakes `owner` with `key` (an event loop's
  // waker() and the connection's id; a blocking model's thread). The connection keeps `owner`
  // alive, so a wake-up after the owner is gone is harmless; nothing is allocated per connection.
  void attach(std::shared_ptr<WakeTarget> owner, uint64_t key);
  int fd() const { return fd_.get(); }

  // The one write path. Clears the wake-up, runs posted tasks, moves the queued output on and
  // decides whether the connection is done (overflow, write error, broken, close requested and
  // drained). Call after every callback and on wake-up. The output goes to the socket here
  // (readiness and blocking models, handoff == nullptr), or, for a completion model that sends
  // it itself (uring), is appended to *handoff unless its one send is still in flight.
  enum class State { open, finished };
  State settle(std::string* handoff = nullptr, bool send_in_flight = false);

  // What the owner should wait for next. `in_flight`: bytes of a completion model's send the
  // kernel has not finished, which count towards the output backlog.
  struct Wants {
    // Read more input? Not after EOF or close(), and not while the peer is behind on its output:
    // once pending output reaches the high-water mark (half of --max-queue, at most 256 KiB)
    // input pauses, so TCP flow control slows a client that sends faster than it reads (an echo
    // to a slow reader, RELIABILITY 11) instead of its queue overflowing --max-queue. Other
    // senders (chat fan-out) are still bounded by max_queue.
    bool read;
    bool write;       // output is queued
    bool input;       // input may still arrive and must reach the service (no EOF, not broken, no close)
    bool backlogged;  // pending output (plus in_flight) reached the high-water mark
    std::optional<Clock::time_point> timer;  // when on_timeout is due (set_timer), if armed
  };
  Wants wants(size_t in_flight = 0) const;

 private:
  friend struct StreamConnAccess;  // conn_driver.cpp: the model side's narrow door
  static constexpr size_t kMaxHighWater = 256 * 1024;

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

  struct Tls;  // tls::Stream and its handshake deadline (stream_conn_tls.cpp); null: plain TCP
  // The socket's read: recv(), or TLS (a failure is logged here, one line, rate-limited).
  ssize_t read_some(char* buf, size_t cap);
  // Plain TCP says a short read drained the socket; a TLS read returns one record at a time.
  bool short_read_drains() const { return !tls_; }
  // The queued output to the socket: bytes written, 0 when it takes none now, < 0 an error.
  long flush_out() CONCUR_REQUIRES(mu_);
  bool read_waits_for_output() const;
  // The handshake is not over and its deadline has passed: logs it, marks the connection broken
  // (the model retires it) and returns true.
  bool cut_if_handshake_expired(Clock::time_point now);
  void adjust_for_tls(Wants& w) const;
  void start_tls(tls::ServerContext& ctx);
  ssize_t read_tls(char* buf, size_t cap);
  long flush_tls() CONCUR_REQUIRES(mu_);
  void tls_close_notify();
  void tls_send_best_effort(std::string_view line);

  bool input_open() const {
    return !peer_eof_ && !broken_ && !close_requested_.load(std::memory_order_acquire);
  }
  size_t high_water() const { return std::min(max_queue_ / 2, kMaxHighWater); }
  // The socket half of retiring (conn_driver's retire() adds on_close): marks the connection
  // closed (later sends fail) and closes the socket, FIN first.
  void retire();
  // The client cannot be served for lack of memory (std::bad_alloc on its path): told `server
  // full` while a line can still be sent, marked broken (the model retires it), counted in
  // memory_refusals().
  void drop_for_memory();
  void notify_owner();
  bool needs_notify() const;
  void run_posted();

  const uint64_t id_;
  FileDesc fd_;
  const Endpoint peer_;
  const size_t max_queue_;
  Admission place_;  // owner only
  WakeHandle wake_;  // cleared by settle(): one wake-up per settle, however many senders

  mutable Mutex mu_;
  Buffer out_ CONCUR_GUARDED_BY(mu_);
  // Posted tasks, made on the first post (most connections never get one: 8 bytes, not a
  // vector's 24, in every idle connection).
  std::unique_ptr<std::vector<std::function<void(Conn&)>>> posted_ CONCUR_GUARDED_BY(mu_);
  bool closed_ CONCUR_GUARDED_BY(mu_) = false;
  std::atomic<bool> has_posted_{false};  // posted_ is not empty (settle's quick look)
  std::atomic<bool> close_requested_{false};
  std::atomic<bool> overflowed_{false};

  // Owner only.
  std::unique_ptr<Tls> tls_;
  bool peer_eof_ = false;
  bool broken_ = false;  // a write error, a reset, or dropped for memory inside a callback
  bool timer_armed_ = false;
  Clock::time_point timer_due_{};
};

}  // namespace concur
