// The floor of a readiness-based collector, for bench/iot/fleet_bench.sh (COLLECTORS="floor"):
// what `concur collect` cannot avoid doing per reading. It connects to every device, sends
// "Register", and then only waits (epoll, passes at most every --gap-ms like the collector's
// batching), makes ONE recv per ready device, and appends the whole lines it got, stamped with
// the pass's asctime, with one write per pass. No parsing or validation, no backoff, reconnects,
// offline timers, logging or event-loop machinery: a device that fails is dropped.
//
// usage: recv_floor --device-list FILE --out FILE [--quiet] [--gap-ms 10]
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

struct Device {
  int fd = -1;
  bool connected = false;
  std::string pending;  // an unfinished line
};

int usage(const char* why) {
  std::fprintf(stderr, "recv_floor: %s\nusage: recv_floor --device-list FILE --out FILE [--quiet] [--gap-ms N]\n", why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string list, out;
  int gap_ms = 10;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--device-list" && i + 1 < argc) list = argv[++i];
    else if (a == "--out" && i + 1 < argc) out = argv[++i];
    else if (a == "--gap-ms" && i + 1 < argc) gap_ms = std::atoi(argv[++i]);
    else if (a == "--quiet") continue;
    else return usage(("unknown argument " + a).c_str());
  }
  if (list.empty() || out.empty()) return usage("--device-list and --out are required");
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  std::signal(SIGPIPE, SIG_IGN);

  int file = ::open(out.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (file < 0) return std::perror(out.c_str()), 1;
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  std::vector<Device> devices;
  std::ifstream in(list);
  for (std::string line; std::getline(in, line);) {
    line = line.substr(0, line.find('#'));
    size_t colon = line.rfind(':');
    if (colon == std::string::npos) continue;
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(std::stoi(line.substr(colon + 1))));
    if (::inet_pton(AF_INET, line.substr(0, colon).c_str(), &sa.sin_addr) != 1) continue;
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return std::perror("socket"), 1;
    ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    if (static_cast<size_t>(fd) >= devices.size()) devices.resize(static_cast<size_t>(fd) + 1024);
    devices[static_cast<size_t>(fd)].fd = fd;
    epoll_event ev{};
    ev.events = EPOLLOUT;
    ev.data.fd = fd;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }

  std::vector<epoll_event> events(8192);
  std::string batch;
  char buf[65536];
  auto last_wait = std::chrono::steady_clock::now();
  bool had_events = false;
  while (!g_stop) {
    if (had_events) std::this_thread::sleep_until(last_wait + std::chrono::milliseconds(gap_ms));
    int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 1000);
    last_wait = std::chrono::steady_clock::now();
    had_events = n > 0;
    if (n <= 0) continue;
    std::time_t now = std::time(nullptr);
    char stamp[64];
    std::strftime(stamp, sizeof stamp, "%a %b %e %H:%M:%S %Y: ", std::localtime(&now));
    for (int k = 0; k < n; ++k) {
      Device& d = devices[static_cast<size_t>(events[k].data.fd)];
      if (!d.connected) {
        d.connected = true;
        ::send(d.fd, "Register", 8, MSG_NOSIGNAL);
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.fd = d.fd;
        ::epoll_ctl(ep, EPOLL_CTL_MOD, d.fd, &ev);
        continue;
      }
      ssize_t got = ::recv(d.fd, buf, sizeof buf, 0);  // one per ready device, per pass
      if (got <= 0) {
        if (got < 0 && errno == EAGAIN) continue;
        ::epoll_ctl(ep, EPOLL_CTL_DEL, d.fd, nullptr);
        ::close(d.fd);
        d.connected = false;
        continue;
      }
      d.pending.append(buf, static_cast<size_t>(got));
      size_t start = 0;
      for (size_t nl; (nl = d.pending.find('\n', start)) != std::string::npos; start = nl + 1) {
        batch += stamp;
        batch.append(d.pending, start, nl + 1 - start);
      }
      d.pending.erase(0, start);
    }
    if (!batch.empty()) {
      [[maybe_unused]] ssize_t w = ::write(file, batch.data(), batch.size());
      batch.clear();
    }
  }
  return 0;
}
