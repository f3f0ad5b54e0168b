#pragma once
// The service manager's end of sd_notify(3), played by a test: an AF_UNIX datagram socket bound
// to a fresh name, whose name goes into the server's NOTIFY_SOCKET. Every receive is bounded.
#include <chrono>
#include <optional>
#include <string>

#include "core/fd.hpp"

namespace concur::test {

class NotifySocket {
 public:
  enum class Kind { path, abstract };
  explicit NotifySocket(Kind kind = Kind::path);
  ~NotifySocket();
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  // What NOTIFY_SOCKET must say: "/tmp/.../notify" or "@concur-notify-...".
  const std::string& name() const { return name_; }
  // The next datagram within timeout (e.g. "READY=1"), or nullopt.
  std::optional<std::string> recv(std::chrono::milliseconds timeout);
  // Datagrams until one equals `state` (true) or timeout (false); the others are skipped.
  bool wait_for(const std::string& state, std::chrono::milliseconds timeout);

 private:
  concur::FileDesc fd_;
  std::string name_;
  std::string dir_;  // Kind::path: the directory holding the socket, removed at the end
};

}  // namespace concur::test
