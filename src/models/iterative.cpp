// iterative: one client at a time, on the calling thread; the next one waits in the listen
// backlog (the lecture's first server).
#include "conn/blocking_accept.hpp"
#include "conn/conn_driver.hpp"
#include "models/model.hpp"

namespace concur {
namespace {

class IterativeModel final : public Model {
 public:
  void run(int listen_fd, StreamService& service, const ServerConfig& cfg, const StopSource& stop) override {
    AcceptGate gate(cfg);
    accept_until_stop(listen_fd, gate, stop, [&](FileDesc client, const Endpoint& peer, Admission place) {
      serve_accepted_blocking(std::move(client), peer, std::move(place), service, cfg.max_queue, gate, stop.fd());
    });
  }
};

}  // namespace

ModelInfo iterative_model() {
  return ModelInfo{.name = "iterative",
          .summary = "one client at a time; the next waits in the backlog",
          .concurrent = false,
          .make = [] { return std::make_unique<IterativeModel>(); },
          .max_connections = 1};
}

}  // namespace concur
