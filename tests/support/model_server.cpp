#include "support/model_server.hpp"

#include <unistd.h>

#include <csignal>

#include <string>

namespace concur::test {

ModelServer::ModelServer(const std::string& model, StreamService& service, std::vector<std::string> binary_args,
                         ServerConfig cfg) {
  const ModelInfo* info = find_model(model);
  if (info && info->forks) {
    binary_args.insert(binary_args.end(), {"--model", model, "--port", "0", "--bind", "127.0.0.1"});
    if (cfg.workers) binary_args.insert(binary_args.end(), {"--workers", std::to_string(cfg.workers)});
    if (cfg.max_clients) binary_args.insert(binary_args.end(), {"--max-clients", std::to_string(cfg.max_clients)});
    if (cfg.max_queue != ServerConfig{}.max_queue)
      binary_args.insert(binary_args.end(), {"--max-queue", std::to_string(cfg.max_queue)});
    binary_ = std::make_unique<Server>(binary_args);
    port_ = binary_->port;
  } else {
    in_process_ = std::make_unique<InProcessServer>(model, service, cfg);
    port_ = in_process_->port();
  }
}

std::string ModelServer::error() const {
  if (in_process_) return in_process_->error();
  if (binary_ && !binary_->proc.running()) return "server exited: " + binary_->proc.read_all_stderr(Ms(200));
  return {};
}

std::string ModelServer::describe() const {
  if (in_process_) {
    std::string err = in_process_->error();
    return err.empty() ? "the model runs in-process and reported no error" : "the model threw: " + err;
  }
  std::optional<int> status = binary_->proc.wait(Ms(300));  // one that is dying has its status in a moment
  return (status ? "the server exited with status " + std::to_string(*status) : std::string("the server is running")) +
         "; stderr: " + binary_->proc.read_all_stderr(Ms(200));
}

pid_t ModelServer::pid() const { return binary_ ? binary_->proc.pid() : ::getpid(); }

void ModelServer::stop() {
  if (in_process_) in_process_->stop();
  if (binary_) {
    binary_->proc.signal(SIGTERM);
    binary_->proc.wait(Ms(5000));
  }
}

std::vector<std::string> all_models() {
  std::vector<std::string> names;
  for (const auto& m : model_registry()) names.push_back(m.name);
  return names;
}

std::string random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

}  // namespace concur::test
