// poll: one thread, poll(). The loop is models/reactor/reactor_loop.cpp; this file picks the poller.
#include "models/model.hpp"
#include "models/reactor/reactor_loop.hpp"

namespace concur {
namespace {

class PollModel final : public Model {
 public:
  void run(int listen_fd, StreamService& service, const ServerConfig& cfg, const StopSource& stop) override {
    run_reactor(&make_poll_poller, 1, listen_fd, service, cfg, stop);
  }
};

}  // namespace

ModelInfo poll_model() {
  return ModelInfo{"poll", "one thread, poll()", true, [] { return std::make_unique<PollModel>(); }};
}

}  // namespace concur
