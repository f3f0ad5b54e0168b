// iterative: one client at a time, on the calling thread; the next one waits in the listen
// backlog (the lecture's first server).
#include "models/blocking_accept.hpp"
#include "models/conn_driver.hpp"
#include "models/model.hpp"

namespace concur {
namespace {

class IterativeModel final : public Model {
 public:
  void run(int listen_fd, StreamService& service, const ServerConfig& cfg, const StopSource& stop) override {
    AcceptGate gate(cfg);
    accept_until_stop(listen_fd, gate, stop, [&](FileDesc client, const Endpoint& peer) {
      auto conn = std::make_shared<StreamConn>(std::move(client), peer, cfg.max_queue);
      serve_blocking(conn, service, stop.fd());
      gate.leave();
    });
  }
};

const ModelRegistration reg({"iterative", "one client at a time; the next waits in the backlog", false,
                             [] { return std::make_unique<IterativeModel>(); }},
                            10);

}  // namespace
}  // namespace concur
