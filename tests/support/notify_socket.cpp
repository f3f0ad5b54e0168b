#include "support/notify_socket.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace concur::test {

NotifySocket::NotifySocket(Kind kind) : fd_(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
  if (!fd_) throw std::runtime_error("socket(AF_UNIX): " + std::string(std::strerror(errno)));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  socklen_t len;
  if (kind == Kind::path) {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/concur-notify-XXXXXX";
    if (!::mkdtemp(templ.data())) throw std::runtime_error("mkdtemp: " + std::string(std::strerror(errno)));
    dir_ = templ;
    name_ = dir_ + "/notify";
    if (name_.size() >= sizeof addr.sun_path) throw std::runtime_error("socket path too long: " + name_);
    std::memcpy(addr.sun_path, name_.data(), name_.size());
    len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name_.size() + 1);
  } else {
    static std::atomic<int> serial{0};
    name_ = "@concur-notify-" + std::to_string(::getpid()) + "-" + std::to_string(serial++);
    std::memcpy(addr.sun_path, name_.data(), name_.size());
    addr.sun_path[0] = '\0';  // abstract: no file, the length ends the name
    len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name_.size());
  }
  if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0)
    throw std::runtime_error("bind " + name_ + ": " + std::strerror(errno));
}

NotifySocket::~NotifySocket() {
  if (dir_.empty()) return;
  ::unlink(name_.c_str());
  ::rmdir(dir_.c_str());
}

std::optional<std::string> NotifySocket::recv(std::chrono::milliseconds timeout) {
  pollfd p{fd_.get(), POLLIN, 0};
  int rc;
  do rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
  while (rc < 0 && errno == EINTR);
  if (rc <= 0) return std::nullopt;
  char buf[4096];
  ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
  if (n < 0) return std::nullopt;
  return std::string(buf, static_cast<size_t>(n));
}

bool NotifySocket::wait_for(const std::string& state, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    auto got = recv(left);
    if (!got) return false;
    if (*got == state) return true;
  }
}

}  // namespace concur::test
