#include "core/thread_annotations.hpp"
#include "conn/conn_driver.hpp"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <mutex>

#include "core/log.hpp"
#include "core/sys.hpp"
#include "conn/accept_gate.hpp"

namespace concur {

// The model side's one door into a connection (StreamConn's friend): what the free functions of
// conn_driver.hpp need and models never touch directly.
struct StreamConnAccess {
  using Scope = StreamConn::CallbackScope;
  static void mark_peer_eof(StreamConn& c) { c.peer_eof_ = true; }
  static void mark_broken(StreamConn& c) { c.broken_ = true; }
  static bool broken(const StreamConn& c) { return c.broken_; }
  static void disarm_timer(StreamConn& c) { c.timer_armed_ = false; }
  static void retire_socket(StreamConn& c) { c.retire(); }
  static void drop_for_memory(StreamConn& c) { c.drop_for_memory(); }
  static bool counted(const StreamConn& c) { return c.place_.counted(); }  // not a --metrics scrape
  static ssize_t read_some(StreamConn& c, char* buf, size_t cap) { return c.read_some(buf, cap); }
  static bool short_read_drains(const StreamConn& c) { return c.short_read_drains(); }
  static bool read_waits_for_output(const StreamConn& c) { return c.read_waits_for_output(); }
  static bool cut_if_handshake_expired(StreamConn& c, StreamConn::Clock::time_point now) {
    return c.cut_if_handshake_expired(now);
  }
  // TLS shares the one timer with the service (wants().timer is the earlier of the two): only a
  // due service timer reaches on_timeout.
  static bool service_timer_due(const StreamConn& c, StreamConn::Clock::time_point now) {
    return c.timer_armed_ && (!c.tls_ || now >= c.timer_due_);
  }
};

namespace {

// Every service callback runs here: inside the connection's callback scope, and with the one
// answer to a std::bad_alloc on this client's path (its buffers, its room entry): this client is
// dropped, told `server full`, and the server serves on. Models only settle() afterwards.
template <typename F>
void dispatch(StreamConn& c, F&& callback) {
  StreamConnAccess::Scope scope(c);
  try {
    callback();
  } catch (const std::bad_alloc&) {
    drop_for_memory(c);
  }
}

}  // namespace

void call_open(StreamConn& c, StreamService& service) {
  dispatch(c, [&] { service.on_open(c); });
}

void call_data(StreamConn& c, StreamService& service, std::string_view bytes) {
  if (StreamConnAccess::counted(c)) conn_metrics::received(bytes.size());
  dispatch(c, [&] { service.on_data(c, bytes); });
}

void call_peer_closed(StreamConn& c, StreamService& service) {
  StreamConnAccess::mark_peer_eof(c);
  dispatch(c, [&] { service.on_peer_closed(c); });
}

void call_timeout(StreamConn& c, StreamService& service) {
  auto now = StreamConn::Clock::now();
  if (StreamConnAccess::cut_if_handshake_expired(c, now)) return;
  if (!StreamConnAccess::service_timer_due(c, now)) return;
  StreamConnAccess::disarm_timer(c);
  dispatch(c, [&] { service.on_timeout(c); });
}

void call_close(StreamConn& c, StreamService& service) {
  StreamConnAccess::Scope scope(c);
  try {
    service.on_close(c);
  } catch (const std::bad_alloc&) {  // the socket is closed already; the service did what it could
  }
}

void drop_for_memory(StreamConn& c) { StreamConnAccess::drop_for_memory(c); }

void mark_broken(StreamConn& c) { StreamConnAccess::mark_broken(c); }

void retire_socket(StreamConn& c) { StreamConnAccess::retire_socket(c); }

namespace {
ReadOutcome pump_input_unguarded(StreamConn& c, StreamService& service, size_t budget);

}  // namespace

ReadOutcome pump_input(StreamConn& c, StreamService& service, size_t budget) {
  try {
    return pump_input_unguarded(c, service, budget);
  } catch (const std::bad_alloc&) {
    drop_for_memory(c);
    return ReadOutcome::error;
  }
}

namespace {

constexpr size_t kChunk = 64 * 1024;

extern "C" void free_read_buffer(void* p) { delete[] static_cast<char*>(p); }

// One read buffer per thread, allocated on first use. Not a thread_local array: that would be
// part of every thread's static TLS, zeroed (so resident) when any thread starts — 64 KiB per
// client in the thread model, read or not. Only the pages recv() writes become resident here.
// Not a thread_local unique_ptr either: registering its destructor mallocs, and glibc aborts the
// whole process when that fails ("failed to register TLS destructor"). A pthread key among the
// first 32 lives inside the thread descriptor: setting it allocates nothing.
char* read_buffer() {
  static const pthread_key_t key = [] {
    pthread_key_t k;
    if (::pthread_key_create(&k, free_read_buffer) != 0) throw std::bad_alloc();
    return k;
  }();
  void* p = ::pthread_getspecific(key);
  if (!p) {
    p = new char[kChunk];
    if (::pthread_setspecific(key, p) != 0) {
      delete[] static_cast<char*>(p);
      throw std::bad_alloc();
    }
  }
  return static_cast<char*>(p);
}

ReadOutcome pump_input_unguarded(StreamConn& c, StreamService& service, size_t budget) {
  char* chunk = read_buffer();
  size_t taken = 0;
  while (c.wants().read) {
    ssize_t n = StreamConnAccess::read_some(c, chunk, kChunk);
    if (n > 0) {
      call_data(c, service, std::string_view(chunk, static_cast<size_t>(n)));
      if (StreamConnAccess::broken(c)) return ReadOutcome::error;  // dropped for memory in the callback
      taken += static_cast<size_t>(n);
      if (taken >= budget) return ReadOutcome::budget_spent;
      // A short read means the socket is drained: every model waits level-triggered, so skip
      // the recv() that would only say EAGAIN (one syscall less per echo round-trip).
      if (static_cast<size_t>(n) < kChunk && StreamConnAccess::short_read_drains(c)) return ReadOutcome::again;
      continue;
    }
    if (n == 0) {
      call_peer_closed(c, service);
      return ReadOutcome::eof;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return ReadOutcome::again;
    mark_broken(c);  // ECONNRESET and friends: traffic, not a bug
    return ReadOutcome::error;
  }
  return ReadOutcome::again;
}

}  // namespace

bool input_ready(const StreamConn& c, bool readable, bool writable) {
  return readable || (writable && StreamConnAccess::read_waits_for_output(c));
}

void retire(StreamConn& c, StreamService& service) {
  retire_socket(c);
  call_close(c, service);
}

bool settle(StreamConn& c, StreamService& service) {
  if (c.settle() != StreamConn::State::finished) return false;
  retire(c, service);
  return true;
}

namespace {

// Waking a connection thread costs no descriptor: the thread keeps kWakeSignal blocked and waits
// in ppoll(), which unblocks it for the duration of the wait only. A wake-up is pthread_kill();
// one sent while the thread is busy stays pending and ends its next ppoll() at once, so none is
// lost. (An eventfd per client would double the descriptors of the thread model: 18,000 held
// clients would need 36,000 under a 20,000 limit.)
const int kWakeSignal = SIGRTMIN + 1;

extern "C" void on_wake_signal(int) {}

void install_wake_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_handler = on_wake_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: the wait must return
    ::sigaction(kWakeSignal, &sa, nullptr);
  });
}

// Who to signal, for as long as the thread serves the connection; guarded so that no signal is
// sent to a thread that has finished (its id may belong to another thread by then).
struct ThreadWaker final : WakeTarget {
  Mutex mu;
  pthread_t thread;
  bool serving CONCUR_GUARDED_BY(mu) = true;
  void wake(uint64_t) override {
    MutexLock lock(mu);
    if (serving) ::pthread_kill(thread, kWakeSignal);
  }
};

}  // namespace

namespace {

// serve_blocking's wait loop; `retired` says whether it already called on_close.
void serve_loop(const std::shared_ptr<StreamConn>& c, StreamService& service, int stop_fd,
                const sigset_t& during_wait, bool& retired) {
  call_open(*c, service);
  for (;;) {
    if (settle(*c, service)) {
      retired = true;
      break;
    }
    StreamConn::Wants w = c->wants();
    pollfd fds[2] = {{c->fd(), static_cast<short>((w.read ? POLLIN : 0) | (w.write ? POLLOUT : 0)), 0},
                     {stop_fd, POLLIN, 0}};
    timespec ts{}, *timeout = nullptr;
    if (w.timer) {
      auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(*w.timer - StreamConn::Clock::now());
      long long ns = left.count() < 0 ? 0 : left.count() + 1000000;
      ts.tv_sec = static_cast<time_t>(ns / 1000000000);
      ts.tv_nsec = static_cast<long>(ns % 1000000000);
      timeout = &ts;
    }
    int rc = ::ppoll(fds, 2, timeout, &during_wait);
    if (rc < 0) {
      if (errno == EINTR) continue;  // woken: settle() at the top writes what was queued
      break;
    }
    if (fds[1].revents) break;
    short ev = fds[0].revents;
    if (input_ready(*c, ev & (POLLIN | POLLHUP | POLLERR), ev & POLLOUT)) {
      if (c->wants().read) pump_input(*c, service);
      else if (ev & (POLLHUP | POLLERR)) mark_broken(*c);
    }
    if (auto due = c->wants().timer; due && StreamConn::Clock::now() >= *due) call_timeout(*c, service);
  }
}

}  // namespace

void serve_blocking(const std::shared_ptr<StreamConn>& c, StreamService& service, int stop_fd) {
  install_wake_handler();
  sigset_t wake_only, during_wait;
  sigemptyset(&wake_only);
  sigaddset(&wake_only, kWakeSignal);
  ::pthread_sigmask(SIG_BLOCK, &wake_only, &during_wait);  // blocked except inside ppoll()
  sigdelset(&during_wait, kWakeSignal);
  auto target = std::make_shared<ThreadWaker>();
  target->thread = ::pthread_self();
  c->attach(target, c->id());  // the connection keeps `target` alive
  bool retired = false;
  try {
    serve_loop(c, service, stop_fd, during_wait, retired);
  } catch (const std::bad_alloc&) {  // the loop's own steps (callbacks handle their own): drop
    drop_for_memory(*c);             // this client, not the server
  }
  if (!retired) retire(*c, service);
  {
    MutexLock lock(target->mu);
    target->serving = false;
  }
  // A wake-up sent just before `serving` went false may still be pending: take it, so that the
  // thread (reused by the iterative model for the next client) starts clean.
  timespec zero{};
  siginfo_t info;
  while (::sigtimedwait(&wake_only, &info, &zero) > 0) {
  }
  ::pthread_sigmask(SIG_UNBLOCK, &wake_only, nullptr);
}

void serve_accepted_blocking(FileDesc client, const Endpoint& peer, Admission place, StreamService& service,
                             size_t max_queue, AcceptGate& gate, int stop_fd) {
  std::shared_ptr<StreamConn> conn;
  try {
    conn = std::make_shared<StreamConn>(std::move(client), peer, max_queue, std::move(place));
    serve_blocking(conn, service, stop_fd);  // its own bad_alloc after set-up drops the client itself
  } catch (const std::bad_alloc&) {          // before the client was set up: turn it away, serve on
    if (conn) gate.tell_full(conn->fd());    // the descriptor moved into conn; it closes with conn
    gate.refuse(client, peer, memory_refusals(), "out of memory");
  }
}

}  // namespace concur
