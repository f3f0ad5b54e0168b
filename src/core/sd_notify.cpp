#include "core/sd_notify.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace concur::sd {

namespace {

// Filled once by init_from_environment (before threads and signal handlers can read it), then
// read-only: the signal handler may use it without locks.
struct State {
  int fd = -1;
  sockaddr_un addr{};
  socklen_t addr_len = 0;
  pid_t pid = 0;  // the process that may notify (forked workers may not)
  std::chrono::microseconds watchdog{0};
};
State g_state;
std::atomic<bool> g_initialised{false};
std::atomic<bool> g_ready_sent{false};
std::atomic<bool> g_stopping_sent{false};

// "/run/systemd/notify" or "@abstract": the sockaddr for it; false when it does not fit or is no
// socket name at all.
bool make_address(const char* name, sockaddr_un& addr, socklen_t& len) {
  size_t n = std::strlen(name);
  if (n == 0 || n >= sizeof addr.sun_path) return false;
  if (name[0] != '/' && name[0] != '@') return false;
  addr = {};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, name, n);
  if (name[0] == '@') {
    addr.sun_path[0] = '\0';  // abstract namespace: the length, not a NUL, ends the name
    len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + n);
  } else {
    len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + n + 1);
  }
  return true;
}

std::chrono::microseconds parse_watchdog(const char* usec, const char* pid) {
  if (!usec || !*usec) return std::chrono::microseconds(0);
  if (pid && *pid) {  // the manager names the process it watches; it may be another one
    char* end = nullptr;
    long p = std::strtol(pid, &end, 10);
    if (*end != '\0' || p != static_cast<long>(::getpid())) return std::chrono::microseconds(0);
  }
  char* end = nullptr;
  unsigned long long us = std::strtoull(usec, &end, 10);
  if (*end != '\0' || us == 0) return std::chrono::microseconds(0);
  return std::chrono::microseconds(static_cast<long long>(us));
}

// WATCHDOG=1 every half of the timeout, from a thread of its own. It proves that the process is
// alive and scheduled, not that every model's loop is turning (the models have no common loop to
// hook); docs/design.md says so. Detached and never stopped: it only sleeps and sends, and ends
// with the process (a forked child has no copy of it).
void start_watchdog(std::chrono::microseconds timeout) {
  // The thread takes no signals (it inherits the mask in effect when it starts): SIGINT/SIGTERM
  // and the models' wake-up signals keep going to the threads that expect them.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  std::thread([half = timeout / 2] {
    timespec ts{static_cast<time_t>(half.count() / 1000000), static_cast<long>(half.count() % 1000000) * 1000};
    for (;;) {
      timespec left = ts;
      while (::nanosleep(&left, &left) != 0 && errno == EINTR) {
      }
      notify("WATCHDOG=1");
    }
  }).detach();
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

}  // namespace

void init_from_environment() {
  if (g_initialised.exchange(true)) return;
  const char* socket_name = std::getenv("NOTIFY_SOCKET");
  if (socket_name && make_address(socket_name, g_state.addr, g_state.addr_len)) {
    g_state.fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    g_state.pid = ::getpid();
    g_state.watchdog = parse_watchdog(std::getenv("WATCHDOG_USEC"), std::getenv("WATCHDOG_PID"));
  }
  // Only when set: an in-process caller of run_cli (tests) may have threads reading the environment.
  for (const char* name : {"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"})
    if (std::getenv(name)) ::unsetenv(name);
}

bool enabled() noexcept { return g_state.fd >= 0; }

bool notify(std::string_view state) noexcept {
  if (g_state.fd < 0 || ::getpid() != g_state.pid) return false;
  int saved = errno;  // callable from a signal handler
  // MSG_DONTWAIT (libsystemd's send blocks): a manager that does not read, its queue full, must
  // never block a signal handler or the watchdog thread. The state is then lost, and false says so.
  ssize_t n = ::sendto(g_state.fd, state.data(), state.size(), MSG_NOSIGNAL | MSG_DONTWAIT,
                       reinterpret_cast<const sockaddr*>(&g_state.addr), g_state.addr_len);
  errno = saved;
  return n == static_cast<ssize_t>(state.size());
}

void notify_ready() {
  if (g_state.fd < 0 || g_ready_sent.exchange(true)) return;
  notify("READY=1");
  if (g_state.watchdog.count() > 0) start_watchdog(g_state.watchdog);
}

void notify_stopping() noexcept {
  if (g_state.fd < 0 || g_stopping_sent.exchange(true)) return;
  notify("STOPPING=1");
}

std::chrono::microseconds watchdog_timeout() noexcept { return g_state.watchdog; }

}  // namespace concur::sd
