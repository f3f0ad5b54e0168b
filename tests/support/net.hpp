#pragma once
// Loopback test clients with bounded waits: every receive has a timeout, so a broken server
// fails a test instead of hanging it.
#include <chrono>
#include <optional>
#include <string>

#include "core/fd.hpp"

namespace concur::test {

using Ms = std::chrono::milliseconds;

class TestClient {
 public:
  // Connects to host:port (TCP), blocking, TCP_NODELAY. Throws on failure.
  explicit TestClient(int port, const std::string& host = "127.0.0.1");
  // A connection made elsewhere (accepted by a test playing the server); blocking.
  explicit TestClient(concur::FileDesc fd) : fd_(std::move(fd)) {}
  TestClient() = default;  // no connection (valid() is false)
  bool valid() const { return fd_.valid(); }
  int fd() const { return fd_.get(); }

  void send_all(std::string_view bytes);
  // Sends in pieces of `piece` bytes (exercises partial reads on the server).
  void send_in_pieces(std::string_view bytes, size_t piece);
  void shutdown_write();
  void close() { fd_.reset(); }

  // Exactly n bytes, or what arrived before timeout/EOF.
  std::string recv_exact(size_t n, Ms timeout = Ms(5000));
  // Up to and including the next '\n' (returned without it), or nullopt on timeout/EOF.
  std::optional<std::string> recv_line(Ms timeout = Ms(5000));
  // Whatever arrives within `timeout` (waits for at least one byte).
  std::string recv_some(Ms timeout = Ms(5000));
  // Everything until the server closes; nullopt if it did not close within timeout.
  std::optional<std::string> recv_until_eof(Ms timeout = Ms(5000));
  // True when the peer closes (or half-closes, or resets) within timeout; what arrived before is dropped.
  bool wait_eof(Ms timeout = Ms(5000));
  // True if nothing arrives within `quiet` (and the connection is still open).
  bool silent_for(Ms quiet);

 private:
  bool wait_readable(Ms timeout);
  concur::FileDesc fd_;
  std::string pending_;
};

// A UDP "member" played by a test: connected to 127.0.0.1:port, every wait bounded.
class UdpPeer {
 public:
  explicit UdpPeer(int port);
  // Sends one datagram; throws when the kernel refuses it.
  void send(std::string_view bytes);
  // The next datagram, or nullopt on timeout.
  std::optional<std::string> recv(Ms timeout = Ms(3000));
  int port() const;  // the local port: how the server names this member
  int fd() const { return fd_.get(); }

 private:
  concur::FileDesc fd_;
};

}  // namespace concur::test
