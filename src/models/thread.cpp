// thread: one thread per client (the seed's threading servers). Threads get a small, deliberate
// stack so that thousands of idle clients stay cheap; the model waits for all of them on stop.
#include <pthread.h>

#include <condition_variable>
#include <mutex>

#include "core/error.hpp"
#include "core/log.hpp"
#include "models/blocking_accept.hpp"
#include "models/conn_driver.hpp"
#include "models/model.hpp"

namespace concur {
namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr size_t kStack = 1 << 20;  // sanitizers need room for their own frames
#else
constexpr size_t kStack = 128 * 1024;  // touched pages only count towards RSS
#endif

class ThreadModel final : public Model {
 public:
  void run(int listen_fd, StreamService& service, const ServerConfig& cfg, const StopSource& stop) override {
    AcceptGate gate(cfg);
    accept_until_stop(listen_fd, gate, stop, [&](FileDesc client, const Endpoint& peer) {
      auto job = new Job{this, std::make_shared<StreamConn>(std::move(client), peer, cfg.max_queue), &service,
                         &gate, stop.fd()};
      {
        std::lock_guard lock(mu_);
        ++running_;
      }
      if (!spawn(job)) {
        errf("concur: cannot start a thread for {}: out of resources", peer.seed_format());
        delete job;
        gate.leave();
        finished();
      }
    });
    // Every connection thread watches the stop fd too; wait until they have all said goodbye.
    std::unique_lock lock(mu_);
    done_.wait(lock, [&] { return running_ == 0; });
  }

 private:
  struct Job {
    ThreadModel* model;
    std::shared_ptr<StreamConn> conn;
    StreamService* service;
    AcceptGate* gate;
    int stop_fd;
  };

  static void* thread_main(void* arg) {
    auto* job = static_cast<Job*>(arg);
    serve_blocking(job->conn, *job->service, job->stop_fd);
    job->gate->leave();
    ThreadModel* model = job->model;
    delete job;
    model->finished();
    return nullptr;
  }

  bool spawn(Job* job) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, kStack);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t tid;
    int rc = pthread_create(&tid, &attr, &ThreadModel::thread_main, job);
    pthread_attr_destroy(&attr);
    return rc == 0;
  }

  void finished() {
    std::lock_guard lock(mu_);
    if (--running_ == 0) done_.notify_all();
  }

  std::mutex mu_;
  std::condition_variable done_;
  size_t running_ = 0;  // guarded by mu_
};

const ModelRegistration reg({"thread", "one thread per client", true, [] { return std::make_unique<ThreadModel>(); }},
                            20);

}  // namespace
}  // namespace concur
