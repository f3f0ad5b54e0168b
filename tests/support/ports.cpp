#include "support/ports.hpp"

#include <random>
#include <stdexcept>
#include <vector>

#include "core/endpoint.hpp"
#include "core/fd.hpp"
#include "core/socket.hpp"

namespace concur::test {

int free_port(bool udp) {
  FileDesc fd = udp ? udp_bind(Endpoint::parse("127.0.0.1", 0)) : tcp_listen(Endpoint::parse("127.0.0.1", 0));
  return local_endpoint(fd.get()).port();
}

int free_port_range(int n) {
  std::mt19937 rng(std::random_device{}());
  for (int attempt = 0; attempt < 50; ++attempt) {
    int base = std::uniform_int_distribution<int>(20000, 60000 - n)(rng);
    std::vector<FileDesc> held;
    try {
      for (int i = 0; i < n; ++i) held.push_back(tcp_listen(Endpoint::parse("0.0.0.0", static_cast<uint16_t>(base + i))));
      return base;
    } catch (const std::exception&) {
    }
  }
  throw std::runtime_error("no free port range");
}

std::string loopback(int port) { return "127.0.0.1:" + std::to_string(port); }

std::string seed_address(int port) { return "('127.0.0.1', " + std::to_string(port) + ")"; }

int local_port(int fd) { return local_endpoint(fd).port(); }

std::string why_no_ipv6_loopback() {
  try {
    FileDesc probe = tcp_listen(Endpoint::parse("::1", 0));
  } catch (const std::exception& e) {
    return std::string("no IPv6 loopback here: ") + e.what();
  }
  return {};
}

}  // namespace concur::test
