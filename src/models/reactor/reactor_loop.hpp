#pragma once
// The readiness model serving a StreamService on an EventLoop: accepts, reads, writes and
// connection timers. select, poll and epoll are this class over a different poller; epoll runs
// several of them (--workers) on one shared listening socket.
//
// Thread contract: run() owns the loop thread; everything else in this class is loop-thread only.
// Other threads reach a connection only through Conn::send()/close()/post(), which wake the loop
// for that connection's id (its WakeHandle on the loop's waker(), coalesced per connection).
#include <memory>
#include <new>
#include <optional>
#include <unordered_map>
#include <vector>

#include "core/socket.hpp"
#include "loop/event_loop.hpp"
#include "conn/accept_gate.hpp"
#include "conn/gate_ticker.hpp"
#include "conn/listener.hpp"
#include "models/model.hpp"
#include "conn/stream_conn.hpp"

namespace concur {

class ReactorLoop {
 public:
  ReactorLoop(std::unique_ptr<Poller> poller, int listen_fd, StreamService& service, const ServerConfig& cfg,
              AcceptGate& gate, const StopSource& stop);
  // One listening socket and the service for its clients.
  struct Port {
    int listen_fd;
    StreamService* service;
  };
  // Several listeners on one loop, each with its own service, one gate for all (a device fleet:
  // thousands of ports on one thread). They share one reserve descriptor for the EMFILE refusal.
  ReactorLoop(std::unique_ptr<Poller> poller, const std::vector<Port>& ports, const ServerConfig& cfg,
              AcceptGate& gate, const StopSource& stop);
  // Serves on the calling thread until stop, then closes every connection.
  void run();

 private:
  using Clock = StreamConn::Clock;
  struct Entry {
    std::shared_ptr<StreamConn> conn;
    ReactorLoop* loop;  // for the watch's plain-function callback (no allocation per watch)
    StreamService* service;  // its listener's
    bool in = true, out = false;                    // interest last given to the loop
    // The one loop timer kept for conn's due time (lazy extension, see sync_timer()).
    EventLoop::TimerId timer = TimerQueue::kNoTimer;
    Clock::time_point timer_queued{};               // when that timer fires
  };

  struct Listening {
    int fd;
    std::unique_ptr<Listener> listener;
    StreamService* service;
  };
  void watch_listener(size_t port);
  void accept_ready(size_t port);
  void open_conn(FileDesc fd, const Endpoint& peer, Admission place, StreamService& service);
  static void ready_thunk(void* entry, const Ready& r);
  void on_ready(Entry& e, const Ready& r);
  void flush(uint64_t id);      // a send/close from elsewhere: the queued task
  void on_timer(uint64_t id);
  // Keeps at most one loop timer per connection, queued no later than its due time (`due`:
  // the connection's, from wants()).
  void sync_timer(Entry& e, std::optional<Clock::time_point> due);
  void cancel_timer(Entry& e);  // before the entry goes
  // Runs f; a std::bad_alloc on connection id's path drops that connection (told `server full`),
  // never the server.
  template <typename F>
  void guarded(uint64_t id, F&& f) {
    try {
      f();
    } catch (const std::bad_alloc&) {
      drop(id);
    }
  }
  void drop(uint64_t id);
  // After callbacks: retire a finished connection or refresh its interest and timer.
  void after(Entry& e);
  void close_all();

  EventLoop loop_;
  FileDesc reserve_;  // shared by several listeners (Acceptor); before them: outlives them
  std::vector<Listening> ports_;
  const ServerConfig& cfg_;
  AcceptGate& gate_;
  const StopSource& stop_;
  std::unordered_map<uint64_t, Entry> conns_;  // by connection id (never reused)
  GateTicker ticker_{gate_, loop_};
};

// Runs `workers` loops (one per thread, the first on the calling thread) until stop.
void run_reactor(std::unique_ptr<Poller> (*make)(), int workers, int listen_fd, StreamService& service,
                 const ServerConfig& cfg, const StopSource& stop);

}  // namespace concur
