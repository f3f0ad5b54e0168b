#include "redis/tls_tunnel.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "core/endpoint.hpp"
#include "core/log.hpp"
#include "core/socket.hpp"
#include "core/stop.hpp"
#include "tls/tls_stream.hpp"

namespace concur::redis {

namespace {

constexpr size_t kChunk = 16384;        // at least one TLS record (tls_stream.hpp)
constexpr size_t kMaxPending = 1 << 20;  // per direction: a side that stops reading pauses the other

// A TCP connection to host:port (a name is resolved; each address tried in turn) within
// `timeout_ms` each, or an invalid descriptor and `why`. The connect is core's tcp_connect_start.
FileDesc tcp_connect(const std::string& host, int port, int timeout_ms, std::string& why) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res); rc != 0) {
    why = gai_strerror(rc);
    return FileDesc();
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> guard(res, ::freeaddrinfo);
  for (addrinfo* a = res; a; a = a->ai_next) {
    try {
      FileDesc fd = tcp_connect_start(Endpoint::from_sockaddr(a->ai_addr, a->ai_addrlen));
      pollfd p{fd.get(), POLLOUT, 0};
      int ready = ::poll(&p, 1, timeout_ms);
      int err = ready == 1 ? socket_error(fd.get()) : ETIMEDOUT;
      if (err == 0) return fd;
      why = std::strerror(err);
    } catch (const std::exception& e) {
      why = e.what();
    }
  }
  return FileDesc();
}

// One hiredis connection and its TLS connection to Redis.
struct Pipe {
  FileDesc plain, tcp;
  std::unique_ptr<tls::Stream> tls;
  std::string to_tls, to_plain;

  // Moves what can move; false when either side is finished.
  bool pump() {
    char buf[kChunk];
    while (to_tls.size() < kMaxPending) {
      ssize_t n = ::recv(plain.get(), buf, sizeof buf, 0);
      if (n == 0) return false;
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) break;
        return false;
      }
      to_tls.append(buf, static_cast<size_t>(n));
    }
    while (!to_tls.empty()) {
      long w = tls->write(to_tls);
      if (w < 0) return errno == EAGAIN;
      if (w == 0) break;
      to_tls.erase(0, static_cast<size_t>(w));
    }
    while (to_plain.size() < kMaxPending) {
      ssize_t n = tls->read(buf, sizeof buf);
      if (n == 0) return false;
      if (n < 0) {
        if (errno == EAGAIN) break;
        return false;
      }
      to_plain.append(buf, static_cast<size_t>(n));
    }
    while (!to_plain.empty()) {
      ssize_t w = ::send(plain.get(), to_plain.data(), to_plain.size(), MSG_NOSIGNAL);
      if (w < 0) return errno == EAGAIN || errno == EINTR;
      to_plain.erase(0, static_cast<size_t>(w));
    }
    return true;
  }
};

}  // namespace

TlsTunnel::TlsTunnel(const ClientTlsOptions& tls) : ctx_(client_tls_context(tls)) {
  char tmpl[] = "/tmp/concur-redis-tls-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error(std::string("--redis-tls: no private directory: ") + std::strerror(errno));
  dir_ = tmpl;
  wake_ = FileDesc(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  StopSignalsBlocked quiet;  // the tunnel never takes the command's stop signals
  thread_ = std::thread([this] { run(); });
}

TlsTunnel::~TlsTunnel() {
  stop_.store(true);
  wake();
  thread_.join();
  std::lock_guard lock(mu_);
  for (auto& t : targets_) {
    t->listener.reset();
    ::unlink(t->path.c_str());
  }
  ::rmdir(dir_.c_str());
}

void TlsTunnel::wake() {
  uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
}

std::string TlsTunnel::path_for(const std::string& host, int port) {
  std::lock_guard lock(mu_);
  for (auto& t : targets_)
    if (t->host == host && t->port == port) return t->path;
  auto t = std::make_unique<Target>(Target{host, port, dir_ + "/" + std::to_string(targets_.size()) + ".sock", {}});
  t->listener = FileDesc(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, t->path.c_str(), sizeof a.sun_path - 1);
  if (!t->listener || ::bind(t->listener.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(t->listener.get(), 16) != 0)
    throw std::runtime_error(std::string("--redis-tls: cannot listen on ") + t->path + ": " + std::strerror(errno));
  std::string path = t->path;
  targets_.push_back(std::move(t));
  wake();  // the tunnel's poll takes the new socket in; a connect meanwhile waits in its backlog
  return path;
}

std::string TlsTunnel::failure() const {
  std::lock_guard lock(mu_);
  return failure_;
}

void TlsTunnel::run() {
  std::vector<std::unique_ptr<Pipe>> pipes;
  std::string last_failure;
  FileDesc reserve(::open("/dev/null", O_RDONLY | O_CLOEXEC));  // the EMFILE trick's, for every socket
  while (!stop_.load()) {
    // The servers' sockets as they are now (a Target is never removed before the thread ends).
    std::vector<Target*> targets;
    {
      std::lock_guard lock(mu_);
      for (auto& t : targets_) targets.push_back(t.get());
    }
    std::vector<pollfd> fds = {{wake_.get(), POLLIN, 0}};
    for (Target* t : targets) fds.push_back({t->listener.get(), POLLIN, 0});
    const size_t first_pipe = fds.size();
    for (auto& p : pipes) {
      short plain = static_cast<short>((p->to_tls.size() < kMaxPending ? POLLIN : 0) | (p->to_plain.empty() ? 0 : POLLOUT));
      short tcp = p->to_plain.size() < kMaxPending ? POLLIN : 0;
      if (!p->to_tls.empty() || p->tls->read_waits_for_output()) tcp |= POLLOUT;
      if (p->tls->write_waits_for_input()) tcp |= POLLIN;
      fds.push_back({p->plain.get(), plain, 0});
      fds.push_back({p->tcp.get(), tcp, 0});
    }
    if (::poll(fds.data(), fds.size(), 1000) < 0 && errno != EINTR) return;
    if (fds[0].revents) {  // stop_, or a new server's socket
      uint64_t n;
      (void)!::read(wake_.get(), &n, sizeof n);
      continue;
    }
    std::vector<std::unique_ptr<Pipe>> kept;
    for (size_t i = 0; i < pipes.size(); ++i) {
      short r = fds[first_pipe + 2 * i].revents | fds[first_pipe + 1 + 2 * i].revents;
      if (r == 0 || pipes[i]->pump()) kept.push_back(std::move(pipes[i]));
    }
    pipes = std::move(kept);
    for (size_t k = 0; k < targets.size(); ++k) {
      if (!(fds[1 + k].revents & POLLIN)) continue;
      const Target& t = *targets[k];
      const std::string where = t.host.find(':') != std::string::npos ? "[" + t.host + "]:" + std::to_string(t.port)
                                                                      : t.host + ":" + std::to_string(t.port);
      Acceptor acceptor(t.listener.get(), reserve);  // the one accept step of the project (core/socket.hpp)
      while (true) {
        FileDesc plain;
        Endpoint peer;
        if (acceptor.accept(plain, peer) != Acceptor::Result::accepted) break;
        // The connect and the handshake block this thread briefly (a second at most each): the
        // only connections here are the bridge's, made a few at a time.
        std::string why;
        FileDesc tcp = tcp_connect(t.host, t.port, 1000, why);
        std::unique_ptr<tls::Stream> tls;
        if (tcp) {
          try {
            tls = start_client_tls(*ctx_, tcp.get(), t.host, where, std::chrono::milliseconds(1000));
          } catch (const std::exception& e) {
            why = e.what();
          }
        } else {
          why = "cannot connect to " + where + ": " + why;  // start_client_tls's form
        }
        if (!tls) {
          if (why != last_failure && speak_.load()) outf("redis: {}", why);
          last_failure = why;
          std::lock_guard lock(mu_);
          failure_ = why;
          continue;  // closing `plain` tells hiredis
        }
        last_failure.clear();
        {
          std::lock_guard lock(mu_);
          failure_.clear();
        }
        pipes.push_back(std::make_unique<Pipe>(Pipe{std::move(plain), std::move(tcp), std::move(tls), {}, {}}));
      }
    }
  }
}

}  // namespace concur::redis
