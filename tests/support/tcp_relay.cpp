#include "support/tcp_relay.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string>
#include <vector>

namespace concur::test {

namespace {

sockaddr_in loopback_addr(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// A blocking connect to the target (loopback: immediate), then non-blocking.
FileDesc connect_target(int port) {
  FileDesc fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a = loopback_addr(port);
  if (!fd || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return FileDesc();
  ::fcntl(fd.get(), F_SETFL, O_NONBLOCK);
  return fd;
}

struct Pair {
  FileDesc a, b;          // a: the client side, b: the target side
  std::string to_a, to_b;  // bytes read but not yet written
  bool frozen = false;
};

// Moves what `from` has into `pending` and writes `pending` to `to`; false when either side ended.
bool pump(int from, int to, std::string& pending, bool readable) {
  if (readable) {
    char buf[16384];
    ssize_t n = ::read(from, buf, sizeof buf);
    if (n == 0) return false;
    if (n < 0 && errno != EAGAIN && errno != EINTR) return false;
    if (n > 0) pending.append(buf, static_cast<size_t>(n));
  }
  while (!pending.empty()) {
    ssize_t w = ::send(to, pending.data(), pending.size(), MSG_NOSIGNAL);
    if (w < 0) return errno == EAGAIN || errno == EINTR;
    pending.erase(0, static_cast<size_t>(w));
  }
  return true;
}

}  // namespace

TcpRelay::TcpRelay(int target_port) : target_port_(target_port) {
  listener_ = FileDesc(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  sockaddr_in a = loopback_addr(0);
  socklen_t len = sizeof a;
  if (!listener_ || ::bind(listener_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(listener_.get(), 64) != 0 || ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0)
    throw std::runtime_error("tcp relay: cannot listen on loopback");
  port_ = ntohs(a.sin_port);
  wake_ = FileDesc(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  thread_ = std::thread([this] { run(); });
}

TcpRelay::~TcpRelay() {
  stop_.store(true);
  set(mode_.load());
  thread_.join();
}

void TcpRelay::set(Mode m) {
  mode_.store(m);
  uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
}

void TcpRelay::cut() { set(Mode::cut); }
void TcpRelay::freeze() { set(Mode::frozen); }
void TcpRelay::heal() { set(Mode::forward); }
void TcpRelay::freeze_one(int index) {
  freeze_index_.store(index);
  set(mode_.load());
}

void TcpRelay::run() {
  std::vector<Pair> pairs;
  while (!stop_.load()) {
    Mode mode = mode_.load();
    if (mode == Mode::cut) pairs.clear();
    if (int i = freeze_index_.exchange(-1); i >= 0 && static_cast<size_t>(i) < pairs.size()) pairs[i].frozen = true;
    connections_.store(static_cast<int>(pairs.size()));
    std::vector<pollfd> fds;
    fds.push_back({wake_.get(), POLLIN, 0});
    fds.push_back({listener_.get(), POLLIN, 0});
    if (mode == Mode::forward) {
      for (auto& p : pairs) {
        short on = p.frozen ? 0 : POLLIN;  // a frozen pair is polled for nothing (0: errors only)
        fds.push_back({p.a.get(), static_cast<short>(on | (p.frozen || p.to_a.empty() ? 0 : POLLOUT)), 0});
        fds.push_back({p.b.get(), static_cast<short>(on | (p.frozen || p.to_b.empty() ? 0 : POLLOUT)), 0});
      }
    }
    if (::poll(fds.data(), fds.size(), 200) < 0 && errno != EINTR) return;
    if (fds[0].revents) {
      uint64_t v;
      (void)!::read(wake_.get(), &v, sizeof v);
      continue;  // the mode may have changed: rebuild the set
    }
    if (fds[1].revents & POLLIN) {
      while (true) {
        FileDesc c(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
        if (!c) break;
        if (mode == Mode::cut) continue;  // closed at once
        FileDesc t = connect_target(target_port_);
        if (!t) continue;
        pairs.push_back(Pair{std::move(c), std::move(t), {}, {}});
      }
    }
    if (mode != Mode::forward) continue;
    std::vector<Pair> kept;
    for (size_t i = 0; i < pairs.size() && 2 + 2 * i + 1 < fds.size(); ++i) {
      Pair& p = pairs[i];
      short ra = fds[2 + 2 * i].revents, rb = fds[2 + 2 * i + 1].revents;
      bool ok = !((ra | rb) & (POLLERR | POLLNVAL));
      if (p.frozen) {
        kept.push_back(std::move(p));
        continue;
      }
      if (ok) ok = pump(p.a.get(), p.b.get(), p.to_b, ra & (POLLIN | POLLHUP));
      if (ok) ok = pump(p.b.get(), p.a.get(), p.to_a, rb & (POLLIN | POLLHUP));
      if (ok) kept.push_back(std::move(p));
    }
    // Pairs accepted in this round (not in fds yet) are kept as they are.
    size_t polled = (fds.size() - 2) / 2;
    for (size_t i = polled; i < pairs.size(); ++i) kept.push_back(std::move(pairs[i]));
    pairs = std::move(kept);
  }
}

}  // namespace concur::test
