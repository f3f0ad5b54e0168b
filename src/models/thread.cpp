// thread: one thread per client (the seed's threading servers). Threads get a small, deliberate
// stack so that thousands of idle clients stay cheap; the model waits for all of them on stop.
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include <condition_variable>
#include <mutex>

#include "core/thread_annotations.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "conn/blocking_accept.hpp"
#include "conn/conn_driver.hpp"
#include "models/model.hpp"
#include "core/stop.hpp"

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
    accept_until_stop(
        listen_fd, gate, stop,
        [&](FileDesc client, const Endpoint& peer, Admission place) {
          Job* job = nullptr;
          try {
            job = new Job{this, std::make_shared<StreamConn>(std::move(client), peer, cfg.max_queue, std::move(place)),
                          &service, &gate, stop.fd()};
          } catch (const std::bad_alloc&) {
            // `client` (and `place`, given back on return) are intact if the move never happened.
            gate.refuse(client, peer, memory_refusals(), "out of memory");
            return;
          }
          {
            MutexLock lock(mu_);
            ++running_;
          }
          if (!spawn(job)) {
            FileDesc none;
            gate.tell_full(job->conn->fd());
            gate.refuse(none, peer, gate.refusals(), "cannot start a thread (out of resources)");
            delete job;  // with its connection, and the connection's place
            finished();
          }
        });
    // Every connection thread watches the stop fd too; wait until they have all said goodbye.
    wait_all_finished();
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
    try {
      serve_blocking(job->conn, *job->service, job->stop_fd);
    } catch (const std::bad_alloc&) {  // before the connection was set up: on_open never ran
      FileDesc none;
      job->gate->tell_full(job->conn->fd());
      job->gate->refuse(none, job->conn->peer(), memory_refusals(), "out of memory");
    }
    ThreadModel* model = job->model;
    delete job;
    model->finished();
    return nullptr;
  }

  // glibc carves the static TLS of every loaded object (some hold big thread_local buffers) out
  // of the requested stack, and refuses (EINVAL) a stack that cannot hold it. Ask for kStack of
  // usable stack on top of that minimum (__pthread_get_minstack, as Rust's std does), and double
  // the size should pthread_create still say EINVAL.
  //
  // The size is a whole number of pages. glibc maps the stack rounded up to pages but puts the
  // thread descriptor (struct pthread, 2.3 KiB) and the static TLS at the end of the size asked
  // for: with an odd size they straddle a page boundary and an idle thread touches three pages
  // (descriptor, descriptor + TLS, first frames) instead of two (issue 24: 4 KiB per client).
  static size_t initial_stack() {
    size_t min = PTHREAD_STACK_MIN;
    using MinStack = size_t (*)(const pthread_attr_t*);
    if (auto f = reinterpret_cast<MinStack>(::dlsym(RTLD_DEFAULT, "__pthread_get_minstack"))) {
      pthread_attr_t attr;
      pthread_attr_init(&attr);
      min = f(&attr);
      pthread_attr_destroy(&attr);
    }
    long page = ::sysconf(_SC_PAGESIZE);
    size_t align = page > 0 ? static_cast<size_t>(page) : 4096;
    return (kStack + min + align - 1) / align * align;
  }

  bool spawn(Job* job) {
    static std::atomic<size_t> stack{initial_stack()};
    for (;;) {
      size_t size = stack.load(std::memory_order_relaxed);
      pthread_attr_t attr;
      pthread_attr_init(&attr);
      pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
      int rc = pthread_attr_setstacksize(&attr, size);
      pthread_t tid;
      if (rc == 0) {
        StopSignalsBlocked quiet;  // stop signals stay with the accepting thread
        rc = pthread_create(&tid, &attr, &ThreadModel::thread_main, job);
      }
      pthread_attr_destroy(&attr);
      if (rc != EINVAL || size >= (size_t{64} << 20)) return rc == 0;
      stack.compare_exchange_strong(size, size * 2, std::memory_order_relaxed);
    }
  }

  void finished() {
    MutexLock lock(mu_);
    if (--running_ == 0) done_.notify_all();
  }
  // The condition variable waits on the native mutex, which the analysis cannot follow.
  void wait_all_finished() CONCUR_NO_THREAD_SAFETY_ANALYSIS {
    std::unique_lock lock(mu_.native());
    while (running_ != 0) done_.wait(lock);
  }

  Mutex mu_;
  std::condition_variable done_;
  size_t running_ CONCUR_GUARDED_BY(mu_) = 0;
};

}  // namespace

ModelInfo thread_model() {
  return ModelInfo{.name = "thread",
                   .summary = "one thread per client",
                   .concurrent = true,
                   .make = [] { return std::make_unique<ThreadModel>(); },
                   .thread_per_client = true};
}

}  // namespace concur
