#include "conn/stream_conn.hpp"
#include "conn/stream_conn_tls.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <new>

#include "conn/conn_metrics.hpp"
#include "core/log.hpp"
#include "core/sys.hpp"

namespace concur {

namespace {
std::atomic<uint64_t> g_next_id{1};
// The connection whose callbacks the current thread is running (CallbackScope), if known.
thread_local const StreamConn* t_in_callbacks = nullptr;
}  // namespace

StreamConn::CallbackScope::CallbackScope(const StreamConn& c) : saved_(t_in_callbacks) { t_in_callbacks = &c; }
StreamConn::CallbackScope::~CallbackScope() { t_in_callbacks = saved_; }

// The owner must be told unless the caller is inside this connection's own callback (on the
// owner thread, by construction), after which the owner flushes anyway. Everything else — another
// connection's callback on the same loop, an on_open, a timer, a task from a bridge thread —
// wakes it: cheap inside a loop's dispatch (a queued task, no syscall), and never a stall.
bool StreamConn::needs_notify() const { return t_in_callbacks != this; }

StreamConn::StreamConn(FileDesc fd, Endpoint peer, size_t max_queue, Admission place)
    : id_(g_next_id.fetch_add(1, std::memory_order_relaxed)),
      fd_(std::move(fd)),
      peer_(peer),
      max_queue_(max_queue),
      place_(std::move(place)) {
  if (tls::ServerContext* ctx = place_.tls()) start_tls(*ctx);
}

void StreamConn::attach(std::shared_ptr<WakeTarget> owner, uint64_t key) { wake_.bind(std::move(owner), key); }

bool StreamConn::send(std::string_view bytes) {
  {
    MutexLock lock(mu_);
    if (closed_ || overflowed_.load(std::memory_order_relaxed)) return false;
    if (out_.size() + bytes.size() > max_queue_) {
      overflowed_.store(true, std::memory_order_release);
      out_.clear();
      conn_metrics::slow_consumer();
    } else {
      out_.append(bytes);
    }
  }
  if (needs_notify()) notify_owner();
  return !overflowed_.load(std::memory_order_acquire);
}

void StreamConn::close() {
  close_requested_.store(true, std::memory_order_release);
  if (needs_notify()) notify_owner();
}

void StreamConn::notify_owner() {
  // One wake-up per settle: later senders find it pending and rely on it.
  wake_.wake();
}

size_t StreamConn::pending_output() const {
  MutexLock lock(mu_);
  return out_.size();
}

void StreamConn::set_timer(Millis after) {
  timer_armed_ = after.count() > 0;
  timer_due_ = Clock::now() + after;
}

StreamConn::Wants StreamConn::wants(size_t in_flight) const {
  size_t mark = high_water();
  size_t queued = pending_output();
  Wants w{};
  w.input = input_open();
  w.backlogged = mark > 0 && queued + in_flight >= mark;
  w.read = w.input && !w.backlogged;
  w.write = queued > 0;
  if (timer_armed_) w.timer = timer_due_;
  if (tls_) adjust_for_tls(w);
  return w;
}

void StreamConn::post(std::function<void(Conn&)> task) {
  {
    MutexLock lock(mu_);
    if (closed_) return;  // ended: the task is destroyed, never run
    if (!posted_) posted_ = std::make_unique<std::vector<std::function<void(Conn&)>>>();
    posted_->push_back(std::move(task));
    has_posted_.store(true, std::memory_order_release);
  }
  if (needs_notify()) notify_owner();
}

void StreamConn::run_posted() {
  // A task may post again (to this connection, from its own callback: no wake-up): a few rounds
  // here, then a wake-up to come back, so a task that keeps posting cannot hold the owner.
  for (int round = 0; round < 8 && has_posted_.load(std::memory_order_acquire); ++round) {
    std::vector<std::function<void(Conn&)>> tasks;
    {
      MutexLock lock(mu_);
      if (posted_) tasks.swap(*posted_);
      has_posted_.store(false, std::memory_order_relaxed);
    }
    for (auto& task : tasks) {
      // Ended or ending (broken, or close() asked: no more callbacks): the rest are destroyed unrun.
      if (broken_ || close_requested_.load(std::memory_order_acquire)) break;
      CallbackScope scope(*this);
      try {
        task(*this);
      } catch (const std::bad_alloc&) {
        drop_for_memory();
      }
    }
  }
  if (has_posted_.load(std::memory_order_acquire)) notify_owner();
}

void StreamConn::drop_for_memory() {
  static constexpr std::string_view kFull = "error: server full\n";
  if (tls_) {
    tls_send_best_effort(kFull);
  } else {
    [[maybe_unused]] ssize_t n = ::send(fd_.get(), kFull.data(), kFull.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  broken_ = true;
  conn_metrics::refused(conn_metrics::Refusal::memory);
  memory_refusals().hit([&] { return fmt::format("dropped {}: out of memory", peer_.seed_format()); });
}

StreamConn::State StreamConn::settle(std::string* handoff, bool send_in_flight) {
  wake_.clear();
  if (has_posted_.load(std::memory_order_acquire)) run_posted();
  if (broken_ || overflowed_.load(std::memory_order_acquire)) return State::finished;
  bool drained;
  {
    MutexLock lock(mu_);
    if (!handoff) {
      long n = flush_out();
      if (n < 0) {
        broken_ = true;
        return State::finished;
      }
      if (place_.counted()) conn_metrics::sent(static_cast<size_t>(n));
      drained = out_.empty();
    } else {
      if (!send_in_flight && !out_.empty()) {
        if (place_.counted()) conn_metrics::sent(out_.size());  // the completion model sends all of it (a short send is resubmitted)
        handoff->append(out_.view());
        out_.clear();
      }
      drained = !send_in_flight && handoff->empty() && out_.empty();
    }
  }
  if (drained && close_requested_.load(std::memory_order_acquire)) return State::finished;
  return State::open;
}

void StreamConn::retire() {
  std::unique_ptr<std::vector<std::function<void(Conn&)>>> unrun;  // destroyed outside the lock: they
  {                                                                 // may hold this connection
    MutexLock lock(mu_);
    closed_ = true;
    out_.clear();
    unrun.swap(posted_);
    has_posted_.store(false, std::memory_order_relaxed);
  }
  if (fd_ && !broken_) {
    if (tls_) tls_close_notify();
    // Closing with unread input makes the kernel send RST, which can destroy the last bytes we
    // sent (an error line, the final echo) before the peer reads them. Send FIN first and
    // discard what is already queued.
    ::shutdown(fd_.get(), SHUT_WR);
    char sink[4096];
    for (int i = 0; i < 16 && ::recv(fd_.get(), sink, sizeof sink, MSG_DONTWAIT) > 0; ++i) {
    }
  }
  fd_.reset();
  place_.release();  // the socket is gone: its place under --max-clients is free
}

long StreamConn::flush_out() { return tls_ ? flush_tls() : out_.flush_to(fd_.get()); }

ssize_t StreamConn::read_some(char* buf, size_t cap) {
  return tls_ ? read_tls(buf, cap) : sys::recv(fd_.get(), buf, cap, MSG_DONTWAIT);
}

bool StreamConn::peer_gone() const {
  if (peer_eof_ || broken_) return true;
  if (!fd_) return true;
  pollfd p{fd_.get(), POLLRDHUP, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

}  // namespace concur
