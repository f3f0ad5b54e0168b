#pragma once
// Helpers for client tests: the test plays the server (a loopback listener and the accepted
// connection, every wait bounded), and runs the lecture's Python programs as peers (a temp dir
// for the script, python3 lookup, and waiting until a script's socket is bound).
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/fd.hpp"
#include "support/net.hpp"
#include "support/process.hpp"

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

// A loopback port that was free a moment ago (bind to 0, read, close). For peers that cannot
// be told to use port 0, such as the seed's Python programs.
int free_port(bool udp = false);

// A fresh directory under $TMPDIR, removed with its content by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // Writes `content` to path()/name; returns the full path.
  std::string write(const std::string& name, std::string_view content) const;

 private:
  std::string path_;
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
