#include "support/seed_peer.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "core/endpoint.hpp"
#include "core/socket.hpp"

namespace concur::test {

PeerListener::PeerListener() {
  fd_ = concur::tcp_listen(concur::Endpoint::parse("127.0.0.1", 0));
  port_ = concur::local_endpoint(fd_.get()).port();
}

PeerConn PeerListener::accept(Ms timeout) {
  pollfd p{fd_.get(), POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return {};
  int fd = ::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC);  // blocking, as tests want
  if (fd < 0) return {};
  return PeerConn(concur::FileDesc(fd));
}

std::optional<std::string> python3() {
  // A real interpreter first: a version-manager shim (pyenv) starts several processes per run.
  for (const char* p : {"/usr/bin/python3", "/usr/local/bin/python3"})
    if (::access(p, X_OK) == 0) return std::string(p);
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    std::string p = (dir.empty() ? "." : dir) + "/python3";
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return std::nullopt;
}

namespace {

// True if a /proc/net table has a socket on local port `port` in state `st` ("0A" LISTEN, "07"
// an unconnected UDP socket).
bool proc_net_has(const char* table, int port, const std::string& st) {
  std::ifstream f(table);
  std::string line;
  std::getline(f, line);  // header
  char want[8];
  std::snprintf(want, sizeof want, "%04X", port);
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string slot, local, remote, state;
    in >> slot >> local >> remote >> state;
    auto colon = local.rfind(':');
    if (colon != std::string::npos && local.substr(colon + 1) == want && state == st) return true;
  }
  return false;
}

bool wait_proc(const char* a, const char* b, int port, const std::string& st, Ms timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (proc_net_has(a, port, st) || proc_net_has(b, port, st)) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(Ms(10));
  }
}

}  // namespace

std::vector<std::string> wait_for_lines(Process& p, std::vector<std::string> exact, Ms timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto tick = [&exact](const std::string& line) {
    auto it = std::find(exact.begin(), exact.end(), line);
    if (it != exact.end()) exact.erase(it);
  };
  for (const auto& seen : p.lines()) tick(seen);
  while (!exact.empty()) {
    auto left = std::chrono::duration_cast<Ms>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    auto line = p.read_line(left);
    if (!line) break;
    tick(*line);
  }
  return exact;
}

std::string describe(Process& p, const std::string& name) {
  std::string out = "\n--- " + name + " stdout (read so far):\n";
  for (const auto& l : p.lines()) out += l + "\n";
  out += "--- " + name + " stderr:\n" + p.read_all_stderr(Ms(100));
  return out;
}

bool wait_tcp_listening(int port, Ms timeout) {
  return wait_proc("/proc/net/tcp", "/proc/net/tcp6", port, "0A", timeout);
}

bool wait_udp_bound(int port, Ms timeout) {
  return wait_proc("/proc/net/udp", "/proc/net/udp6", port, "07", timeout);
}

}  // namespace concur::test
