#pragma once
// Helpers for client tests: the test plays the server (a loopback listener and the accepted
// connection, every wait bounded), and runs the lecture's Python programs as peers (python3
// lookup, and waiting until a script's socket is bound; support/temp_dir.hpp holds the script and
// support/ports.hpp gives it a port).
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "core/fd.hpp"
#include "support/net.hpp"
#include "support/ports.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace concur::test {

using Ms = std::chrono::milliseconds;

// One accepted TCP connection, read line by line with timeouts: the same client the server tests
// use, made from the accepted descriptor.
using PeerConn = TestClient;

// A TCP listener on 127.0.0.1, port chosen by the kernel.
class PeerListener {
 public:
  PeerListener();
  int port() const { return port_; }
  // The next connection, or an invalid PeerConn on timeout.
  PeerConn accept(Ms timeout = Ms(3000));
  void close() { fd_.reset(); }

 private:
  concur::FileDesc fd_;
  int port_ = 0;
};

// The python3 interpreter's path, or nullopt when there is none.
std::optional<std::string> python3();

// Waits until some socket listens on TCP `port` (or is bound to UDP `port`), reading
// /proc/net/{tcp,tcp6,udp,udp6}. Needs no connection, so a one-shot server is not disturbed.
bool wait_tcp_listening(int port, Ms timeout = Ms(5000));
bool wait_udp_bound(int port, Ms timeout = Ms(5000));

// Reads p's stdout until every line in `exact` has been seen (in any order, other lines
// allowed between). Returns the ones still missing at the timeout (empty = all seen).
std::vector<std::string> wait_for_lines(Process& p, std::vector<std::string> exact, Ms timeout = Ms(3000));

// For failure messages: the stdout lines read so far and the stderr that is there now.
std::string describe(Process& p, const std::string& name);

}  // namespace concur::test
