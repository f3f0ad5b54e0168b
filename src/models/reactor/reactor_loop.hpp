#pragma once
// One readiness event loop serving a StreamService: accepts, reads, writes, timers and wake-ups
// from other threads. select, poll and epoll are this loop with a different Poller; epoll runs
// several of them (--workers) on one shared listening socket.
//
// Thread contract: run() owns the loop thread; everything else in this class is loop-thread only.
// Other threads reach a connection only through Conn::send()/close(), which post to the mailbox.
#include <chrono>
#include <memory>
#include <mutex>
#include <queue>
#include <unordered_map>
#include <vector>

#include "core/fd.hpp"
#include "core/socket.hpp"
#include "models/accept_gate.hpp"
#include "models/model.hpp"
#include "loop/poller.hpp"
#include "models/stream_conn.hpp"

namespace concur {

class ReactorLoop {
 public:
  ReactorLoop(std::unique_ptr<Poller> poller, int listen_fd, StreamService& service, const ServerConfig& cfg,
              AcceptGate& gate, const StopSource& stop);
  void run();

 private:
  using Clock = StreamConn::Clock;
  struct Entry {
    std::shared_ptr<StreamConn> conn;
    bool in = true, out = false;
    Clock::time_point timer{};  // the due time last queued in timers_
  };
  // Cross-thread wake-ups land here; shared so that a late wake after the loop ended is harmless.
  struct Mailbox {
    FileDesc efd;
    std::mutex mu;
    std::vector<std::weak_ptr<StreamConn>> ready;  // guarded by mu
  };

  void accept_ready();
  void open_conn(FileDesc fd, const Endpoint& peer);
  void on_event(const Ready& r);
  // A std::bad_alloc on this connection's path: drop it (told `server full`), keep serving.
  void drop(int fd);
  void drain_mailbox();
  // After callbacks: retire a finished connection or refresh its interest and timer.
  void after(Entry& e);
  void fire_timers();
  int next_timeout() const;
  void close_all();

  std::unique_ptr<Poller> poller_;
  int listen_fd_;
  Acceptor acceptor_;
  StreamService& service_;
  const ServerConfig& cfg_;
  AcceptGate& gate_;
  const StopSource& stop_;
  std::shared_ptr<Mailbox> mailbox_;
  std::unordered_map<int, Entry> conns_;
  using TimerItem = std::pair<Clock::time_point, int>;  // (due, fd); checked against the entry
  std::priority_queue<TimerItem, std::vector<TimerItem>, std::greater<>> timers_;
  Clock::time_point accept_paused_until_{};
  bool listening_ = true;
};

// Runs `workers` loops (one per thread, the first on the calling thread) until stop.
void run_reactor(std::unique_ptr<Poller> (*make)(), int workers, int listen_fd, StreamService& service,
                 const ServerConfig& cfg, const StopSource& stop);

}  // namespace concur
