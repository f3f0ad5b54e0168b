#include "support/net.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <stdexcept>

#include "core/endpoint.hpp"
#include "core/socket.hpp"

namespace concur::test {

TestClient::TestClient(int port, const std::string& host)
    : fd_(concur::tcp_connect(concur::Endpoint::parse(host, static_cast<uint16_t>(port)))) {}

void TestClient::send_all(std::string_view bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd_.get(), bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error("send failed");
    off += static_cast<size_t>(n);
  }
}

void TestClient::send_in_pieces(std::string_view bytes, size_t piece) {
  for (size_t off = 0; off < bytes.size(); off += piece) send_all(bytes.substr(off, piece));
}

void TestClient::shutdown_write() { ::shutdown(fd_.get(), SHUT_WR); }

bool TestClient::wait_readable(Ms timeout) {
  pollfd p{fd_.get(), POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) > 0;
}

std::string TestClient::recv_exact(size_t n, Ms timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string out = std::move(pending_);
  pending_.clear();
  char buf[65536];
  while (out.size() < n) {
    auto left = std::chrono::duration_cast<Ms>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !wait_readable(left)) break;
    ssize_t r = ::recv(fd_.get(), buf, sizeof buf, 0);
    if (r <= 0) break;
    out.append(buf, static_cast<size_t>(r));
  }
  if (out.size() > n) {
    pending_ = out.substr(n);
    out.resize(n);
  }
  return out;
}

std::optional<std::string> TestClient::recv_line(Ms timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[65536];
  for (;;) {
    auto nl = pending_.find('\n');
    if (nl != std::string::npos) {
      std::string line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      return line;
    }
    auto left = std::chrono::duration_cast<Ms>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !wait_readable(left)) return std::nullopt;
    ssize_t r = ::recv(fd_.get(), buf, sizeof buf, 0);
    if (r <= 0) return std::nullopt;
    pending_.append(buf, static_cast<size_t>(r));
  }
}

std::string TestClient::recv_some(Ms timeout) {
  if (!pending_.empty()) return std::exchange(pending_, {});
  char buf[65536];
  if (!wait_readable(timeout)) return {};
  ssize_t r = ::recv(fd_.get(), buf, sizeof buf, 0);
  return r > 0 ? std::string(buf, static_cast<size_t>(r)) : std::string();
}

std::optional<std::string> TestClient::recv_until_eof(Ms timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string out = std::exchange(pending_, {});
  char buf[65536];
  for (;;) {
    auto left = std::chrono::duration_cast<Ms>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !wait_readable(left)) return std::nullopt;
    ssize_t r = ::recv(fd_.get(), buf, sizeof buf, 0);
    if (r == 0) return out;
    if (r < 0) return errno == ECONNRESET ? std::optional<std::string>(out) : std::nullopt;
    out.append(buf, static_cast<size_t>(r));
  }
}

bool TestClient::wait_eof(Ms timeout) {
  pending_.clear();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[65536];
  for (;;) {
    auto left = std::chrono::duration_cast<Ms>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !wait_readable(left)) return false;
    if (::recv(fd_.get(), buf, sizeof buf, 0) <= 0) return true;
  }
}

bool TestClient::silent_for(Ms quiet) {
  if (!pending_.empty()) return false;
  return !wait_readable(quiet);
}

UdpPeer::UdpPeer(int port)
    : fd_(concur::udp_connect(concur::Endpoint::parse("127.0.0.1", static_cast<uint16_t>(port)))) {}

void UdpPeer::send(std::string_view bytes) {
  if (::send(fd_.get(), bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size()))
    throw std::runtime_error("udp send failed");
}

std::optional<std::string> UdpPeer::recv(Ms timeout) {
  pollfd p{fd_.get(), POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
  char buf[65536];
  ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
  if (n < 0) return std::nullopt;
  return std::string(buf, static_cast<size_t>(n));
}

int UdpPeer::port() const { return concur::local_endpoint(fd_.get()).port(); }

}  // namespace concur::test
