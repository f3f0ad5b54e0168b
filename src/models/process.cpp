// process: one forked child per client. The child closes the listening socket, the parent closes
// the client's; children are reaped as they exit (no zombies) and stopped with the parent.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <thread>

#include "core/log.hpp"
#include "conn/blocking_accept.hpp"
#include "conn/conn_driver.hpp"
#include "models/model.hpp"

namespace concur {
namespace {

class ProcessModel final : public Model {
 public:
  void run(int listen_fd, StreamService& service, const ServerConfig& cfg, const StopSource& stop) override {
    AcceptGate gate(cfg);
    std::map<pid_t, Admission> children;  // each child holds its client's place until reaped
    auto reap = [&] {
      // Only our own children: waitpid(-1) would steal the exit status of unrelated ones.
      for (auto it = children.begin(); it != children.end();) {
        if (::waitpid(it->first, nullptr, WNOHANG) == it->first) {
          it = children.erase(it);
        } else {
          ++it;
        }
      }
    };
    accept_until_stop(
        listen_fd, gate, stop,
        [&](FileDesc client, const Endpoint& peer, Admission place) {
          reap();
          pid_t pid = ::fork();
          if (pid < 0) {
            gate.refuse(client, peer, gate.refusals(), "fork failed (out of resources)");
            return;
          }
          if (pid == 0) {
            // Child: the listening socket belongs to the parent. The stop eventfd is shared, so a
            // stop in the parent reaches every child too.
            ::close(listen_fd);
            ::signal(SIGINT, SIG_IGN);  // a terminal ^C goes to the parent, which stops us
            try {
              // The place comes along (a copy of the parent's): it carries --tls-cert's context.
              auto conn = std::make_shared<StreamConn>(std::move(client), peer, cfg.max_queue, std::move(place));
              serve_blocking(conn, service, stop.fd());
            } catch (const std::bad_alloc&) {  // the child must never fall back into the accept loop
              gate.refuse(client, peer, memory_refusals(), "out of memory");
              std::fflush(nullptr);
              ::_exit(1);
            }
            std::fflush(nullptr);
            ::_exit(0);
          }
          children.emplace(pid, std::move(place));  // the parent's copy of the client socket closes here
        },
        reap);
    // Children saw the stop fd; give them a moment to finish, then insist.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (!children.empty() && std::chrono::steady_clock::now() < deadline) {
      reap();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    for (const auto& [pid, place] : children) ::kill(pid, SIGKILL);
    for (const auto& [pid, place] : children) ::waitpid(pid, nullptr, 0);
  }
};

}  // namespace

ModelInfo process_model() {
  return ModelInfo{.name = "process",
          .summary = "one forked child per client",
          .concurrent = true,
          .make = [] { return std::make_unique<ProcessModel>(); },
          .shares_memory = false,
          .forks = true};
}

}  // namespace concur
