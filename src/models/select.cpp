// select: one thread, select(); refuses descriptors >= FD_SETSIZE. The loop is models/reactor/reactor_loop.cpp; this file picks the poller.
#include <sys/select.h>

#include "models/model.hpp"
#include "models/reactor/reactor_loop.hpp"

namespace concur {
namespace {

class SelectModel final : public Model {
 public:
  void run(int listen_fd, StreamService& service, const ServerConfig& cfg, const StopSource& stop) override {
    run_reactor(&make_select_poller, 1, listen_fd, service, cfg, stop);
  }
};

// max_connections: FD_SETSIZE less the few descriptors the server holds itself.

}  // namespace

ModelInfo select_model() {
  return ModelInfo{.name = "select",
          .summary = "one thread, select(); refuses descriptors >= FD_SETSIZE",
          .concurrent = true,
          .make = [] { return std::make_unique<SelectModel>(); },
          .max_connections = FD_SETSIZE - 16,
          .max_descriptor = FD_SETSIZE};
}

}  // namespace concur
