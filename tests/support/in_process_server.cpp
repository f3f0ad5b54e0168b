#include "support/in_process_server.hpp"

#include <sys/socket.h>

#include <stdexcept>

#include "core/socket.hpp"

namespace concur::test {

InProcessServer::InProcessServer(const std::string& model, StreamService& service, ServerConfig cfg) : cfg_(cfg) {
  const ModelInfo* info = find_model(model);
  if (!info) throw std::runtime_error("no model " + model);
  ignore_sigpipe();
  model_ = info->make();
  listener_ = tcp_listen(Endpoint::parse("127.0.0.1", 0));
  port_ = local_endpoint(listener_.get()).port();
  thread_ = std::thread([this, &service] {
    try {
      model_->run(listener_.get(), service, cfg_, stop_);
    } catch (const std::exception& e) {
      std::lock_guard lock(mu_);
      error_ = e.what();
      ::shutdown(listener_.get(), SHUT_RDWR);  // pending and new clients fail instead of hanging
    }
  });
}

void InProcessServer::stop() {
  stop_.request();
  if (thread_.joinable()) thread_.join();
}

InProcessServer::~InProcessServer() { stop(); }

std::string InProcessServer::error() const {
  std::lock_guard lock(mu_);
  return error_;
}

}  // namespace concur::test
