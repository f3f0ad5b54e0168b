// uring: the completion-based model, on an EventLoop whose backend is io_uring (liburing,
// loop/uring_backend.hpp). One multishot accept, one multishot recv per connection into a shared
// ring of provided buffers (so an idle connection owns no read buffer), at most one send in
// flight per connection, and every submission of a loop pass sent to the kernel with the loop's
// one io_uring_enter. Timers, the mailbox (wake-ups from other threads), the stop request and the
// loop metrics are the EventLoop's, as under every other event model. Where the kernel refuses
// io_uring, run() throws a clear error; where concur was built without liburing, the model says
// how to get it.
#include "core/error.hpp"
#include "models/model.hpp"

#ifdef CONCUR_HAVE_URING
#include <liburing.h>
#include <poll.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>
#include <unordered_map>

#include "core/log.hpp"
#include "core/socket.hpp"
#include "conn/accept_gate.hpp"
#include "conn/conn_driver.hpp"
#include "conn/gate_ticker.hpp"
#include "conn/listener.hpp"
#include "conn/stream_conn.hpp"
#include "loop/event_loop.hpp"
#include "loop/uring_backend.hpp"
#include "models/uring/buffer_ring.hpp"
#include "models/uring/held_input.hpp"
#endif

namespace concur {
namespace {

#ifdef CONCUR_HAVE_URING

constexpr unsigned kEntries = UringBackend::kEntries;
constexpr unsigned kBufCount = 2048;  // power of two (buffer ring)
constexpr unsigned kBufSize = 4096;
constexpr unsigned short kBufGroup = 1;

// The provided-buffer ring's shape. CONCUR_URING_BUFFERS=COUNTxSIZE (COUNT a power of two; with
// a trailing "whole": never incremental) makes it tiny so that a test can run it dry (ENOBUFS)
// with a few clients; not a user option.
struct BufferShape {
  unsigned count = kBufCount;
  unsigned size = kBufSize;
  bool whole = false;
};
BufferShape buffer_shape() {
  const char* env = std::getenv("CONCUR_URING_BUFFERS");
  unsigned count = 0, size = 0;
  if (env && std::sscanf(env, "%ux%u", &count, &size) == 2 && count > 0 && count <= 32768 &&
      (count & (count - 1)) == 0 && size >= 16 && size <= (1u << 20))
    return {count, size, std::strstr(env, "whole") != nullptr};
  return {};
}

// The model's operations, in the low byte of user_data (the backend keeps 0xfe and 0xff).
enum Op : uint64_t { kAccept = 1, kRecv, kSend, kListen, kCancel };

uint64_t tag(Op op, uint64_t id) { return (id << 8) | op; }
Op op_of(uint64_t data) { return static_cast<Op>(data & 0xff); }
uint64_t id_of(uint64_t data) { return data >> 8; }

class UringLoop {
 public:
  UringLoop(int listen_fd, StreamService& service, const ServerConfig& cfg, const StopSource& stop)
      : listen_fd_(listen_fd), service_(service), cfg_(cfg), gate_(cfg), stop_(stop) {}

  void run() {
    uring_.set_completion_handler([](void* self, const io_uring_cqe& cqe) { static_cast<UringLoop*>(self)->handle_guarded(cqe); },
                                  this);
    uring_.set_batch_end([](void* self) { static_cast<UringLoop*>(self)->batch_end(); }, this);
    loop_.set_wake_handler([](void* self, uint64_t id) { static_cast<UringLoop*>(self)->flush(id); }, this);
    arm_accept();
    loop_.run(stop_);
    shutdown_all();
    gate_.tick();
  }

 private:
  struct Entry {
    std::shared_ptr<StreamConn> conn;
    int fd;
    bool recv_armed = false;
    bool recv_cancelling = false;  // input paused: the multishot recv is being cancelled
    bool starved = false;          // the recv ended with ENOBUFS: waits in starved_ for buffers
    HeldInput held;
    bool send_inflight = false;
    bool retiring = false;
    std::string out;   // bytes of the send in flight (must stay put until it completes)
    size_t out_off = 0;
    EventLoop::TimerId timer = TimerQueue::kNoTimer;  // at most one per connection (sync_timer)
    StreamConn::Clock::time_point timer_due{};     // when that timer fires
  };

  io_uring_sqe* sqe() { return uring_.sqe(); }

  // After each batch of completions (the backend calls it, before the loop's timers): every
  // buffer is back in the ring once the completion queue is drained, so it is time to re-arm the
  // recvs that ran out of buffers (earlier, most would run out again at once). Under a flood that
  // never lets the queue drain, every 8th batch anyway, so that none waits for long.
  void batch_end() {
    if (!starved_.empty() && (io_uring_cq_ready(&ring_) == 0 || ++starved_passes_ >= 8)) rearm_starved();
  }

  void arm_accept() {
    io_uring_sqe* s = sqe();
    io_uring_prep_multishot_accept(s, listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(s, tag(kAccept, 0));
  }

  void arm_poll(int fd, Op op) {
    io_uring_sqe* s = sqe();
    io_uring_prep_poll_add(s, fd, POLLIN);
    io_uring_sqe_set_data64(s, tag(op, 0));
  }

  void arm_recv(Entry& e) {
    io_uring_sqe* s = sqe();
    io_uring_prep_recv_multishot(s, e.fd, nullptr, 0, 0);
    s->flags |= IOSQE_BUFFER_SELECT;
    s->buf_group = bufs_.group();
    io_uring_sqe_set_data64(s, tag(kRecv, e.conn->id()));
    e.recv_armed = true;
  }

  void submit_send(Entry& e) {
    io_uring_sqe* s = sqe();
    io_uring_prep_send(s, e.fd, e.out.data() + e.out_off, e.out.size() - e.out_off, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(s, tag(kSend, e.conn->id()));
    e.send_inflight = true;
  }

  // A std::bad_alloc on one connection's path drops that connection, never the server.
  void handle_guarded(const io_uring_cqe& cqe) {
    uint64_t data = io_uring_cqe_get_data64(&cqe);
    try {
      handle(cqe);
    } catch (const std::bad_alloc&) {
      if (op_of(data) == kRecv || op_of(data) == kSend) drop(id_of(data));
    }
    if (op_of(data) == kAccept || op_of(data) == kListen) ticker_.arm();  // a refusal may have been counted
  }

  void drop(uint64_t id) {
    auto it = conns_.find(id);
    if (it == conns_.end()) return;
    drop_for_memory(*it->second.conn);  // broken: after() shuts it down and retires it
    try {
      after(id);
    } catch (const std::bad_alloc&) {
    }
    ticker_.arm();  // counted in memory_refusals()
  }

  void handle(const io_uring_cqe& cqe) {
    uint64_t data = io_uring_cqe_get_data64(&cqe);
    switch (op_of(data)) {
      case kAccept: on_accept(cqe); break;
      case kRecv: on_recv(id_of(data), cqe); break;
      case kSend: on_send(id_of(data), cqe.res); break;
      case kListen: on_listen_ready(); break;
      case kCancel: break;  // the cancelled recv reports itself (-ECANCELED)
    }
  }

  void on_accept(const io_uring_cqe& cqe) {
    if (cqe.res == -EMFILE || cqe.res == -ENFILE) {
      // Out of descriptors. io_uring's accept fails with EMFILE before it even looks for a
      // pending client, so re-arming it at once would spin. Refuse what is pending with the
      // reserve descriptor and wait for the next client with a poll on the listening socket.
      if (cqe.flags & IORING_CQE_F_MORE) return;  // still armed; the next completion decides
      on_listen_ready();
      return;
    }
    if (!(cqe.flags & IORING_CQE_F_MORE)) arm_accept();  // multishot ended: re-arm
    if (cqe.res < 0) return;
    FileDesc fd(cqe.res);
    Endpoint peer = peer_endpoint(fd.get());
    set_nodelay(fd.get());
    // The multishot accept did the accept(); admission is the same gate as every listener's.
    if (Admission place = gate_.admit(fd, peer)) open_conn(std::move(fd), peer, std::move(place));
  }

  // The listening socket is readable (or accept just said EMFILE): accept synchronously through
  // the Acceptor, whose reserve descriptor turns away a client it has no descriptor for. Back to
  // the multishot accept once a pass ends without EMFILE.
  void on_listen_ready() {
    Listener::Pass pass = listener_.accept_pending(
        [this](FileDesc fd, const Endpoint& peer, Admission place) { open_conn(std::move(fd), peer, std::move(place)); });
    if (pass == Listener::Pass::out_of_descriptors || pass == Listener::Pass::failed) arm_poll(listen_fd_, kListen);
    else arm_accept();
  }

  void open_conn(FileDesc fd, const Endpoint& peer, Admission place) {
    int raw = fd.get();
    std::shared_ptr<StreamConn> conn;
    uint64_t id = 0;
    try {
      conn = std::make_shared<StreamConn>(std::move(fd), peer, cfg_.max_queue, std::move(place));
      id = conn->id();
      // A wake-up queues only the id: neither the connection nor a wake-up allocates.
      conn->attach(loop_.waker(), id);
      Entry& e = conns_[id];
      e.conn = conn;
      e.fd = raw;
    } catch (const std::bad_alloc&) {
      if (conn) gate_.tell_full(raw);  // the descriptor moved into it and closes with it
      gate_.refuse(fd, peer, memory_refusals(), "out of memory");
      return;
    }
    try {
      Entry& e = conns_[id];
      call_open(*e.conn, service_);
      if (e.conn->wants().read) arm_recv(e);
      after(id);
    } catch (const std::bad_alloc&) {
      drop(id);
    }
  }

  void on_recv(uint64_t id, const io_uring_cqe& cqe) {
    bool more = cqe.flags & IORING_CQE_F_MORE;
    if (cqe.flags & IORING_CQE_F_BUFFER) {
      auto it = conns_.find(id);
      // Data the kernel already took is never dropped: straight to the service, or held (in
      // order) while the connection's output is backlogged.
      if (it != conns_.end() && cqe.res > 0 && !it->second.retiring && it->second.conn->wants().input) {
        Entry& e = it->second;
        try {
          e.held.receive(*e.conn, service_, bufs_.received(cqe), in_flight(e));
        } catch (const std::bad_alloc&) {
          drop_for_memory(*e.conn);  // the provided buffer must still go back to the ring below
        }
      }
      bufs_.release(cqe);
    }
    auto it = conns_.find(id);
    if (it == conns_.end()) return;
    Entry& e = it->second;
    if (!more) e.recv_armed = e.recv_cancelling = false;
    if (cqe.res == -ENOBUFS && !more && !e.retiring && !e.starved) {
      count_uring_buffer_shortage();
      e.starved = true;
      starved_.push_back(id);
    }
    if (!e.retiring) {
      if (cqe.res == 0) {
        e.held.receive_eof(*e.conn, service_);
      } else if (cqe.res < 0 && cqe.res != -ENOBUFS && cqe.res != -ECANCELED) {
        mark_broken(*e.conn);
      }
      // A multishot recv that was cancelled or ended by the kernel is armed again by
      // flow_control() in after() once input may flow; one out of buffers by rearm_starved().
    }
    after(id);
  }

  void on_send(uint64_t id, int res) {
    auto it = conns_.find(id);
    if (it == conns_.end()) return;
    Entry& e = it->second;
    e.send_inflight = false;
    if (res < 0) {
      mark_broken(*e.conn);
    } else {
      e.out_off += static_cast<size_t>(res);
      if (e.out_off >= e.out.size()) {
        e.out.clear();
        e.out_off = 0;
      }
    }
    after(id);
  }

  // A send, close or post from elsewhere: the connection's wake-up (its id, through the loop's
  // mailbox).
  void flush(uint64_t id) {
    try {
      after(id);
    } catch (const std::bad_alloc&) {
      drop(id);
    }
  }

  // After callbacks and completions: start the next send, or finish the connection. A retiring
  // socket is shut down so that its pending operations complete; it is retired when none is left.
  void after(uint64_t id) {
    auto it = conns_.find(id);
    if (it == conns_.end()) return;
    Entry& e = it->second;
    StreamConn& c = *e.conn;
    if (!e.retiring) {
      e.held.deliver(c, service_, in_flight(e));
      // The queued output moves to e.out unless a send is in flight (one at a time).
      bool done = c.settle(&e.out, e.send_inflight) == StreamConn::State::finished;
      if (!done && !e.send_inflight && !e.out.empty()) submit_send(e);
      if (done) {
        e.retiring = true;
        ::shutdown(e.fd, SHUT_RDWR);  // completes the pending multishot recv
      } else {
        flow_control(id, e);
        sync_timer(id, e, c.wants().timer);
      }
    }
    if (e.retiring && e.timer) {
      loop_.cancel_timer(e.timer);
      e.timer = TimerQueue::kNoTimer;
    }
    if (e.retiring && !e.recv_armed && !e.send_inflight) {
      retire_entry(e);
      conns_.erase(it);
    }
  }

  // Bytes of the send in flight, which count towards the output backlog.
  static size_t in_flight(const Entry& e) { return e.out.size() - e.out_off; }

  // Paused: cancel the multishot recv. Flowing again: arm it again (HeldInput::recv_step).
  void flow_control(uint64_t id, Entry& e) {
    switch (e.held.recv_step(*e.conn, in_flight(e), e.recv_armed, e.recv_cancelling)) {
      case HeldInput::Recv::keep: break;
      case HeldInput::Recv::arm:
        if (!e.starved) arm_recv(e);  // a starved one waits for rearm_starved()
        break;
      case HeldInput::Recv::cancel: {
        io_uring_sqe* s = sqe();
        io_uring_prep_cancel64(s, tag(kRecv, id), 0);
        io_uring_sqe_set_data64(s, tag(kCancel, id));
        e.recv_cancelling = true;
        break;
      }
    }
  }

  // Re-arms every recv that ran out of buffers; those that find the ring dry again come back.
  // All of them, not a ring's worth: one whose socket has nothing to read takes no buffer, and
  // one left waiting here with data in its socket would get no completion to wake us.
  void rearm_starved() {
    starved_passes_ = 0;
    std::vector<uint64_t> ids;
    ids.swap(starved_);
    for (uint64_t id : ids) {
      auto it = conns_.find(id);
      if (it == conns_.end()) continue;
      it->second.starved = false;
      try {
        after(id);  // arms the recv if input may flow (flow_control)
      } catch (const std::bad_alloc&) {
        drop(id);
      }
    }
  }

  void retire_entry(Entry& e) { retire(*e.conn, service_); }

  // Keeps at most one queued timer per connection, never later than its due time (set_timer in
  // a callback), by lazy extension as ReactorLoop::sync_timer(): a due time pushed back on every
  // message changes nothing here (the timer fires early and on_timer() queues it again); only
  // one that moves earlier replaces it. A disarmed connection's timer does nothing when it fires.
  void sync_timer(uint64_t id, Entry& e, std::optional<StreamConn::Clock::time_point> due) {
    if (!due) return;
    if (e.timer) {
      if (e.timer_due <= *due) return;
      loop_.cancel_timer(e.timer);
    }
    e.timer_due = *due;
    e.timer = loop_.run_at(e.timer_due, [this, id] { on_timer(id); });
  }

  void on_timer(uint64_t id) {
    auto it = conns_.find(id);
    if (it == conns_.end() || it->second.retiring) return;
    Entry& e = it->second;
    e.timer = TimerQueue::kNoTimer;
    auto due = e.conn->wants().timer;
    if (!due) return;
    try {
      if (*due > StreamConn::Clock::now()) {
        sync_timer(id, e, due);  // pushed back since it was queued
        return;
      }
      call_timeout(*e.conn, service_);
      after(id);
    } catch (const std::bad_alloc&) {
      drop(id);
    }
  }

  void shutdown_all() {
    for (auto& [id, e] : conns_) {
      if (!e.retiring) ::shutdown(e.fd, SHUT_RDWR);
      e.retiring = true;
    }
    // Let the kernel complete what is in flight (it references our buffers), briefly.
    auto deadline = StreamConn::Clock::now() + std::chrono::milliseconds(500);
    while (StreamConn::Clock::now() < deadline) {
      bool busy = false;
      for (auto& [id, e] : conns_) busy = busy || e.recv_armed || e.send_inflight;
      if (!busy) break;
      io_uring_cqe* cqe = nullptr;
      __kernel_timespec ts{0, 20 * 1000000};
      io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
      unsigned head, seen = 0;
      io_uring_for_each_cqe(&ring_, head, cqe) {
        ++seen;
        uint64_t data = io_uring_cqe_get_data64(cqe);
        if (op_of(data) != kRecv && op_of(data) != kSend) continue;  // the loop's polls, accepts
        auto it = conns_.find(id_of(data));
        if (it == conns_.end()) continue;
        if (op_of(data) == kRecv && !(cqe->flags & IORING_CQE_F_MORE)) it->second.recv_armed = false;
        if (op_of(data) == kSend) it->second.send_inflight = false;
        bufs_.release(*cqe);
      }
      io_uring_cq_advance(&ring_, seen);
    }
    for (auto& [id, e] : conns_) retire_entry(e);
    conns_.clear();
  }

  // The loop owns the backend (and so the ring, torn down last, after the buffers below).
  static std::unique_ptr<LoopBackend> make_backend(UringBackend*& keep) {
    auto b = std::make_unique<UringBackend>(kEntries);
    keep = b.get();
    return b;
  }
  UringBackend* uring_ptr_ = nullptr;
  EventLoop loop_{make_backend(uring_ptr_)};
  UringBackend& uring_ = *uring_ptr_;
  io_uring& ring_ = uring_.ring();
  BufferShape shape_ = buffer_shape();
  BufferRing bufs_{ring_, shape_.count, shape_.size, kBufGroup, shape_.whole};
  std::vector<uint64_t> starved_;  // connections whose recv ended with ENOBUFS, oldest first
  unsigned starved_passes_ = 0;
  int listen_fd_;
  StreamService& service_;
  const ServerConfig& cfg_;
  AcceptGate gate_;
  Listener listener_{listen_fd_, gate_};  // accepts itself only when short of descriptors
  const StopSource& stop_;
  std::unordered_map<uint64_t, Entry> conns_;
  GateTicker ticker_{gate_, loop_};
};

class UringModel final : public Model {
 public:
  void run(int listen_fd, StreamService& service, const ServerConfig& cfg, const StopSource& stop) override {
    UringLoop loop(listen_fd, service, cfg, stop);
    loop.run();
  }
};

// What UringLoop sets up before it serves anyone, set up and torn down again: the ring and its
// provided buffers. Their error says why the kernel cannot run the model ("" when it can).
std::string probe_uring() {
  try {
    UringBackend ring(kEntries);
    BufferRing bufs(ring.ring(), kBufCount, kBufSize, kBufGroup);
  } catch (const std::exception& e) {
    return e.what();
  }
  return {};
}

#else

std::string probe_uring() { return "concur was built without liburing (install liburing-dev and rebuild concur)"; }

class UringModel final : public Model {
 public:
  void run(int, StreamService&, const ServerConfig&, const StopSource&) override {
    throw SysError("the uring model is not built in (install liburing-dev and rebuild concur)", ENOSYS);
  }
};

#endif

}  // namespace

ModelInfo uring_model() {
  return ModelInfo{.name = "uring",
          .summary = "io_uring completions: multishot accept/recv, provided buffers",
          .concurrent = true,
          .make = [] { return std::make_unique<UringModel>(); },
          .completion_io = true,
          .unavailable = [] {
            static const std::string why = probe_uring();  // the kernel does not change while we run
            return why;
          }};
}

}  // namespace concur
