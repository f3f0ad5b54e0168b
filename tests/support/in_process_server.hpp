#pragma once
// Runs a model from the registry over a service inside the test process, on a loopback port,
// so the (service x model) matrix needs no binary and sanitizers see both sides.
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/fd.hpp"
#include "core/stop.hpp"
#include "models/model.hpp"

namespace concur::test {

class InProcessServer {
 public:
  InProcessServer(const std::string& model, StreamService& service, ServerConfig cfg = {});
  ~InProcessServer();  // stops the model and waits for it
  int port() const { return port_; }
  void stop();
  // What Model::run() threw (e.g. "io_uring is not available here"), empty while it runs or
  // when it returned normally. The listening socket is closed then, so clients fail fast.
  std::string error() const;

 private:
  StopSource stop_;
  FileDesc listener_;
  int port_ = 0;
  std::unique_ptr<Model> model_;
  ServerConfig cfg_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::string error_;  // guarded by mu_
};

}  // namespace concur::test
