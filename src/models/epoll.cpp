// epoll: epoll event loops; --workers N for N cores. The loop is models/reactor/reactor_loop.cpp; this file picks the poller.
#include "models/model.hpp"
#include "models/reactor/reactor_loop.hpp"

namespace concur {
namespace {

class EpollModel final : public Model {
 public:
  void run(int listen_fd, StreamService& service, const ServerConfig& cfg, const StopSource& stop) override {
    run_reactor(&make_epoll_poller, cfg.workers, listen_fd, service, cfg, stop);
  }
};

}  // namespace

ModelInfo epoll_model() {
  return ModelInfo{.name = "epoll",
          .summary = "epoll event loops; --workers N for N cores",
          .concurrent = true,
          .make = [] { return std::make_unique<EpollModel>(); },
          .has_workers = true,
          .workers_are = "event loops",
          .default_workers = 1,
          .max_workers = 256};
}

}  // namespace concur
