#pragma once
// The model side of concur's two interfaces (docs/design.md). A model drives any StreamService
// over a listening socket until the stop source fires, and never knows which service it runs.
// Every model has a row in the registry table (registry.cpp); the CLI and the tests both read it.
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "conn/server_config.hpp"
#include "core/stop.hpp"
#include "services/service.hpp"

namespace concur {

class Model {
 public:
  virtual ~Model() = default;
  // Serves until stop.requested(); then closes every connection (on_close for each) and returns.
  // Throws SysError when the model cannot run at all (e.g. the kernel refuses io_uring).
  virtual void run(int listen_fd, StreamService& service, const ServerConfig& config,
                   const StopSource& stop) = 0;
};

// What a model can do, so that commands and tests ask the registry instead of keeping name lists.
struct ModelInfo {
  std::string name;
  std::string summary;
  bool concurrent;  // serves several clients at once
  std::function<std::unique_ptr<Model>()> make;
  bool shares_memory = true;  // every client's callbacks run in this process (a chat room can span them)
  // Clients are served in child processes: their CPU and memory count as the server's, and tests
  // run the model as the binary (fork() from a threaded test process is unsafe).
  bool forks = false;
  bool has_workers = false;   // honours ServerConfig::workers as several event loops
  // --workers: what the workers are ("event loops", "child processes", "threads"; empty: the
  // model takes no --workers), how many by default and at most.
  std::string workers_are = {};
  int default_workers = 0;
  int max_workers = 0;
  // Each worker serves one client at a time (prefork, pool): N workers hold N clients.
  bool one_client_per_worker = false;
  // Each client is served on a thread of its own while it is served (thread, pool): a callback may
  // run long (counter-server's CPU-bound count) without holding up the other clients.
  bool thread_per_client = false;
  // Writes complete asynchronously (io_uring): output does not go through send(2) (sys::send).
  bool completion_io = false;
  // Clients it serves at once by design when that is fewer than descriptors allow (0: none).
  size_t max_connections = 0;
  // Serves only descriptor numbers below this (select: FD_SETSIZE); a client whose descriptor is
  // at or above it is refused. 0: any descriptor.
  int max_descriptor = 0;
  // Why this machine cannot run the model, or "" when it can (uring: the build or the kernel has
  // no io_uring). Unset: it runs everywhere. Ask through model_unavailable().
  std::function<std::string()> unavailable = {};
};

// All models, in presentation order.
const std::vector<ModelInfo>& model_registry();
const ModelInfo* find_model(std::string_view name);
// Why `info` cannot run on this machine, or "" when it can. The one reason a test may skip a
// model: a model that is available here and still fails is a failure.
std::string model_unavailable(const ModelInfo& info);
// Names of the models with a capability, in presentation order (what a command accepts).
std::vector<std::string> model_names(const std::function<bool(const ModelInfo&)>& has);
// A room shared by all clients needs them served at once, in one address space.
// (A pool serves only N clients at once: member N+1 would wait silently, so it hosts no room.)
inline bool can_share_a_room(const ModelInfo& m) {
  return m.concurrent && m.shares_memory && !m.one_client_per_worker;
}
// Callbacks that run long (a count of ten million, under one shared counter) need a thread per
// client, all in one address space.
inline bool can_run_long_callbacks(const ModelInfo& m) { return m.thread_per_client && m.shares_memory; }

}  // namespace concur
