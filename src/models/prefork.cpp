// prefork: N child processes forked up front (--workers N), each blocking in accept() on the
// shared listening socket and serving one client at a time (Apache's prefork MPM, Stevens'
// "preforked" server). The parent only supervises: a child that dies is replaced (with a log
// line); at stop every child finishes its client and exits, and the parent reaps them all.
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <new>
#include <thread>
#include <vector>

#include "core/log_limiter.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "conn/accept_gate.hpp"
#include "conn/conn_driver.hpp"
#include "models/model.hpp"
#include "conn/worker_accept.hpp"

namespace concur {
namespace {

constexpr int kPreforkDefaultWorkers = 32;
constexpr int kPreforkMaxWorkers = 1024;

// What the children share with the parent, in MAP_SHARED memory and as plain atomics only (no
// mutex or heap object is ever shared between processes): the number of admitted clients across
// all children (--max-clients), and per worker slot whether it holds an admitted client, so that
// the parent can count out a client whose child was killed mid-service.
class SharedState {
 public:
  explicit SharedState(int slots) {
    bytes_ = sizeof(std::atomic<long>) * (1 + static_cast<size_t>(slots));
    void* p = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw_errno("cannot map memory shared with the prefork children");
    cells_ = static_cast<std::atomic<long>*>(p);
    for (int i = 0; i <= slots; ++i) new (&cells_[i]) std::atomic<long>(0);
  }
  ~SharedState() { ::munmap(cells_, bytes_); }
  SharedState(const SharedState&) = delete;
  SharedState& operator=(const SharedState&) = delete;

  std::atomic<long>& live() { return cells_[0]; }
  std::atomic<long>& busy(int slot) { return cells_[1 + slot]; }

 private:
  static_assert(std::atomic<long>::is_always_lock_free, "a shared counter must not hide a lock");
  size_t bytes_;
  std::atomic<long>* cells_;
};

std::string describe_exit(int status) {
  if (WIFSIGNALED(status)) return fmt::format("was killed by signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
  return fmt::format("exited with status {}", WEXITSTATUS(status));
}

class PreforkModel final : public Model {
 public:
  void run(int listen_fd, StreamService& service, const ServerConfig& cfg, const StopSource& stop) override {
    int n = cfg.workers > 0 ? cfg.workers : kPreforkDefaultWorkers;
    SharedState shared(n);
    SharedListener listener(listen_fd);
    pid_t parent = ::getpid();
    std::vector<pid_t> slots(static_cast<size_t>(n), -1);

    auto start = [&](int slot) -> pid_t {
      std::fflush(nullptr);  // nothing buffered may be written twice
      pid_t pid = ::fork();
      if (pid != 0) return pid;
      // Child. Die with the parent (never a leftover holding the port); a stray SIGTERM ends only
      // this child (the parent replaces it); ^C reaches the parent, which stops us properly.
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) ::_exit(0);
      ::signal(SIGTERM, SIG_DFL);
      ::signal(SIGINT, SIG_IGN);
      LogLimiter full_log = LogLimiter::per_burst("clients refused: server full");
      // The child's own gate admits every client; --max-clients is counted across the children.
      ServerConfig own = cfg;
      own.max_clients = 0;
      AcceptGate gate(own);
      serve_accepted_until_stop(listen_fd, gate, stop.fd(), [&](FileDesc client, const Endpoint& peer, Admission place) {
        long before = shared.live().fetch_add(1);
        if (cfg.max_clients && static_cast<size_t>(before) >= cfg.max_clients) {
          shared.live().fetch_sub(1);
          gate.refuse(client, peer, full_log,
                      fmt::format("server full ({} clients)", cfg.max_clients));
          return;
        }
        shared.busy(slot).store(1);
        serve_accepted_blocking(std::move(client), peer, std::move(place), service, cfg.max_queue, gate, stop.fd());
        if (shared.busy(slot).exchange(0)) shared.live().fetch_sub(1);
      });
      full_log.flush(true);
      std::fflush(nullptr);
      ::_exit(0);
    };
    auto fill = [&](bool replacing) {
      for (int i = 0; i < n; ++i) {
        if (slots[i] > 0) continue;
        pid_t pid = start(i);
        if (pid < 0) {
          errf("concur: prefork: cannot fork worker {}: {} (retrying)", i, std::strerror(errno));
          continue;
        }
        if (replacing) errf("concur: prefork: started worker {} (pid {})", i, pid);
        slots[i] = pid;
      }
    };
    // Reaps our children only (waitpid(-1) would take other children's statuses); returns how
    // many are still alive.
    auto reap = [&](bool stopping) {
      int alive = 0;
      for (int i = 0; i < n; ++i) {
        if (slots[i] <= 0) continue;
        int status = 0;
        if (::waitpid(slots[i], &status, WNOHANG) != slots[i]) {
          ++alive;
          continue;
        }
        if (shared.busy(i).exchange(0) != 0) shared.live().fetch_sub(1);  // killed while serving
        if (!stopping) errf("concur: prefork: worker {} (pid {}) {}; replacing it", i, slots[i], describe_exit(status));
        slots[i] = -1;
      }
      return alive;
    };

    fill(false);
    while (!stop.requested()) {
      pollfd p{stop.fd(), POLLIN, 0};
      ::poll(&p, 1, 100);  // a dead child is noticed (and replaced) within 100 ms
      if (stop.requested()) break;
      if (reap(false) < n) fill(true);
    }
    // Idle children wake from accept(); busy ones see the stop eventfd and close their client.
    listener.stop_workers();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (reap(true) > 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    for (pid_t pid : slots)
      if (pid > 0) ::kill(pid, SIGKILL);
    for (pid_t pid : slots)
      if (pid > 0) ::waitpid(pid, nullptr, 0);
  }
};

}  // namespace

ModelInfo prefork_model() {
  return ModelInfo{.name = "prefork",
          .summary = "N child processes forked up front, each blocking in accept(); a dead one is replaced",
          .concurrent = true,
          .make = [] { return std::make_unique<PreforkModel>(); },
          .shares_memory = false,
          .forks = true,
          .workers_are = "child processes",
          .default_workers = kPreforkDefaultWorkers,
          .max_workers = kPreforkMaxWorkers,
          .one_client_per_worker = true,
          .max_connections = kPreforkMaxWorkers};
}

}  // namespace concur
