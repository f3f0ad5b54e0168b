// pool: N threads created up front (--workers N), each blocking in accept() on the shared
// listening socket and serving one client at a time (Stevens' "prethreaded" server). The limit is
// the lesson: client N+1 is not refused, it waits in the listen backlog until a worker is free.
#include <poll.h>
#include <pthread.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "conn/conn_driver.hpp"
#include "models/model.hpp"
#include "conn/worker_accept.hpp"
#include "core/stop.hpp"

namespace concur {
namespace {

constexpr int kPoolDefaultWorkers = 32;
constexpr int kPoolMaxWorkers = 4096;
// Each worker runs one client; its stack only costs the pages it touches.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr size_t kPoolStack = 4 << 20;  // sanitizers need room for their own frames
#else
constexpr size_t kPoolStack = 1 << 20;
#endif

class PoolModel final : public Model {
 public:
  void run(int listen_fd, StreamService& service, const ServerConfig& cfg, const StopSource& stop) override {
    int n = cfg.workers > 0 ? cfg.workers : kPoolDefaultWorkers;
    AcceptGate gate(cfg);
    SharedListener listener(listen_fd);
    Shared shared{listen_fd, &service, &cfg, &gate, stop.fd()};
    std::vector<pthread_t> threads;
    threads.reserve(static_cast<size_t>(n));
    int failed = 0;
    for (int i = 0; i < n; ++i) {
      pthread_attr_t attr;
      pthread_attr_init(&attr);
      pthread_attr_setstacksize(&attr, kPoolStack);
      pthread_t tid;
      {
        StopSignalsBlocked quiet;  // SIGTERM goes to this thread, which polls the stop fd
        failed = pthread_create(&tid, &attr, &PoolModel::worker_main, &shared);
      }
      pthread_attr_destroy(&attr);
      if (failed != 0) break;
      threads.push_back(tid);
    }
    if (failed == 0) {
      // The workers do all the work; this thread only waits for the stop request.
      pollfd p{stop.fd(), POLLIN, 0};
      while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
      }
    }
    listener.stop_workers();  // every accept() returns; busy workers see the stop fd themselves
    for (pthread_t t : threads) pthread_join(t, nullptr);
    if (failed != 0)
      throw SysError("cannot start pool worker thread " + std::to_string(threads.size() + 1) + " of " +
                         std::to_string(n),
                     failed);
  }

 private:
  struct Shared {
    int listen_fd;
    StreamService* service;
    const ServerConfig* cfg;
    AcceptGate* gate;
    int stop_fd;
  };

  static void* worker_main(void* arg) {
    auto* s = static_cast<Shared*>(arg);
    serve_accepted_until_stop(s->listen_fd, *s->gate, s->stop_fd, [s](FileDesc client, const Endpoint& peer, Admission place) {
      serve_accepted_blocking(std::move(client), peer, std::move(place), *s->service, s->cfg->max_queue, *s->gate,
                              s->stop_fd);
    });
    return nullptr;
  }
};

}  // namespace

ModelInfo pool_model() {
  return ModelInfo{.name = "pool",
          .summary = "N threads made up front, each blocking in accept(); client N+1 waits in the backlog",
          .concurrent = true,
          .make = [] { return std::make_unique<PoolModel>(); },
          .workers_are = "threads",
          .default_workers = kPoolDefaultWorkers,
          .max_workers = kPoolMaxWorkers,
          .one_client_per_worker = true,
          .thread_per_client = true,
          .max_connections = kPoolMaxWorkers};
}

}  // namespace concur
