#include "support/tls_peer.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <stdexcept>

#include "clients/tls_client.hpp"
#include "tls/tls_context.hpp"

namespace concur::test {

TestCert make_test_cert(const TempDir& dir, const std::string& name, const std::string& cn) {
  TestCert c{dir.file(name + ".crt"), dir.file(name + ".key")};
  std::string cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -days 2 -nodes -subj /CN=" +
                    cn + " -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " + c.key + " -out " + c.cert +
                    " 2>/dev/null";
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("openssl req failed: " + cmd);
  return c;
}

TlsTestClient::TlsTestClient(int port, const std::string& ca) {
  TestClient plain(port);  // connects (blocking); we take its descriptor
  fd_ = concur::FileDesc(::dup(plain.fd()));
  plain.close();
  tls::ClientSettings s;
  s.ca = ca;
  tls::ClientContext ctx(s);
  tls_ = start_client_tls(ctx, fd_.get(), "127.0.0.1", "127.0.0.1:" + std::to_string(port), std::chrono::seconds(5));
  ::fcntl(fd_.get(), F_SETFL, ::fcntl(fd_.get(), F_GETFL) | O_NONBLOCK);
}

TlsTestClient::~TlsTestClient() = default;

void TlsTestClient::send_all(std::string_view bytes) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!bytes.empty()) {
    long n = tls_->write(bytes);
    if (n < 0) throw std::runtime_error("tls write failed: " + tls_->failure());
    if (n > 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("tls write timed out");
    pollfd p{fd_.get(), static_cast<short>(tls_->write_waits_for_input() ? POLLIN : POLLOUT), 0};
    ::poll(&p, 1, 100);
  }
}

bool TlsTestClient::read_more(Ms timeout, bool* eof) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[65536];
  for (;;) {
    ssize_t n = tls_->read(buf, sizeof buf);
    if (n > 0) {
      pending_.append(buf, static_cast<size_t>(n));
      return true;
    }
    if (n == 0 || errno != EAGAIN) {
      if (eof) *eof = true;
      return false;
    }
    auto left = std::chrono::duration_cast<Ms>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_.get(), static_cast<short>(tls_->read_waits_for_output() ? POLLOUT : POLLIN), 0};
    ::poll(&p, 1, static_cast<int>(left.count()));
  }
}

std::optional<std::string> TlsTestClient::recv_line(Ms timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    size_t nl = pending_.find('\n');
    if (nl != std::string::npos) {
      std::string line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      return line;
    }
    auto left = std::chrono::duration_cast<Ms>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !read_more(left)) return std::nullopt;
  }
}

std::optional<std::string> TlsTestClient::recv_until_eof(Ms timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    bool eof = false;
    auto left = std::chrono::duration_cast<Ms>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    if (!read_more(left, &eof)) {
      if (!eof) return std::nullopt;
      std::string all;
      all.swap(pending_);
      return all;
    }
  }
}

std::string TlsTestClient::recv_exact(size_t n, Ms timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (pending_.size() < n) {
    auto left = std::chrono::duration_cast<Ms>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !read_more(left)) break;
  }
  std::string out = pending_.substr(0, std::min(n, pending_.size()));
  pending_.erase(0, out.size());
  return out;
}

}  // namespace concur::test
