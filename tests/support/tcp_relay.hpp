#pragma once
// A TCP relay the test owns, between a server and what it connects to (e.g. chat-server → Redis):
// the test cuts the link (every connection closed, new ones closed at once), freezes it (nothing
// forwarded either way, connections left open: a silent wedge) and heals it. One thread, poll(),
// loopback only; stopped by its destructor.
#include <atomic>
#include <mutex>
#include <thread>

#include "core/fd.hpp"

namespace concur::test {

class TcpRelay {
 public:
  explicit TcpRelay(int target_port);
  ~TcpRelay();
  TcpRelay(const TcpRelay&) = delete;
  TcpRelay& operator=(const TcpRelay&) = delete;

  int port() const { return port_; }
  void cut();     // closes every relayed connection and refuses new ones until heal()
  void freeze();  // forwards nothing until heal(); connections stay open
  void heal();    // forwards again (new connections are accepted and relayed)
  // Forwards nothing more on the `index`-th connection open now (in the order they were accepted),
  // the others go on: e.g. a subscription that wedges while its commands connection answers.
  void freeze_one(int index);
  int connections() const { return connections_.load(); }  // relayed pairs open now

 private:
  enum class Mode { forward, cut, frozen };
  void set(Mode m);
  void run();

  const int target_port_;
  int port_ = 0;
  FileDesc listener_;
  FileDesc wake_;  // eventfd: a mode change or stop
  std::atomic<Mode> mode_{Mode::forward};
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> freeze_index_{-1};
  std::thread thread_;
};

}  // namespace concur::test
