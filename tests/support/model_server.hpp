#pragma once
// A server for the (service x model) matrix. Every model runs in-process (InProcessServer: the
// sanitizers see both sides) except those that fork (process, prefork), which run the real binary: fork() from a
// multi-threaded test process would copy the test's own client sockets into every child, so a
// client's close() would never reach the server (and TSan dislikes forking with threads).
#include <sys/types.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "models/model.hpp"
#include "support/in_process_server.hpp"
#include "support/process.hpp"

namespace concur::test {

class ModelServer {
 public:
  // `binary_args`: the command line used when the model must run as the binary, without
  // --model/--port/--bind (added here), e.g. {"echo-server", "--quiet"}.
  ModelServer(const std::string& model, StreamService& service, std::vector<std::string> binary_args,
              ServerConfig cfg = {});
  int port() const { return port_; }
  bool in_process() const { return in_process_ != nullptr; }
  // Why the model could not run (e.g. io_uring refused by the kernel); empty if it runs.
  std::string error() const;
  // For failure messages: what the model threw, or whether the binary runs, with its stderr.
  std::string describe() const;
  // The serving process (this test process when in-process).
  pid_t pid() const;
  Process* process() { return binary_ ? &binary_->proc : nullptr; }
  void stop();

 private:
  std::unique_ptr<InProcessServer> in_process_;
  std::unique_ptr<Server> binary_;
  int port_ = 0;
};

// Names of every registered model (the registry drives the matrix: a new model is tested the
// moment it registers).
std::vector<std::string> all_models();

// Deterministic pseudo-random binary bytes (all 256 values occur).
std::string random_bytes(size_t n, uint32_t seed);

}  // namespace concur::test
