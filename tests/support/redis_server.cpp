#include "support/redis_server.hpp"

#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

#include "support/ports.hpp"

namespace concur::test {

bool have_redis_server() { return ::access("/usr/bin/redis-server", X_OK) == 0; }

RedisServer::RedisServer(std::vector<std::string> extra) : extra_(std::move(extra)) {
  for (int tries = 0; tries < 5 && !proc_; ++tries) {
    port_ = free_port();
    try {
      launch();
    } catch (const std::exception&) {
      proc_.reset();  // the port was taken meanwhile: another one
    }
  }
  if (!proc_) throw std::runtime_error("redis-server did not start");
}

RedisServer::~RedisServer() {
  if (!proc_) return;
  proc_->signal(SIGCONT);
  proc_->signal(SIGKILL);
  proc_->wait(Ms(3000));
}

void RedisServer::launch() {
  std::vector<std::string> argv = {"redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1",
                                   "--save", "", "--appendonly", "no", "--protected-mode", "no"};
  argv.insert(argv.end(), extra_.begin(), extra_.end());
  proc_ = std::make_unique<Process>(argv);
  if (!proc_->wait_for_line("Ready to accept connections", Ms(5000))) {
    proc_->signal(SIGKILL);
    proc_->wait(Ms(3000));
    throw std::runtime_error("redis-server on port " + std::to_string(port_) + " not ready");
  }
}

void RedisServer::stall() { proc_->signal(SIGSTOP); }
void RedisServer::resume() { proc_->signal(SIGCONT); }

void RedisServer::kill() {
  proc_->signal(SIGKILL);
  proc_->wait(Ms(3000));
  proc_.reset();
}

void RedisServer::restart() {
  // The old process is gone, and Redis binds with SO_REUSEADDR: the same port is free again.
  for (int tries = 0; tries < 20 && !proc_; ++tries) {
    try {
      launch();
    } catch (const std::exception&) {
      proc_.reset();
      ::usleep(100 * 1000);
    }
  }
  if (!proc_) throw std::runtime_error("redis-server did not restart on port " + std::to_string(port_));
}

std::optional<std::string> RedisServer::command(const std::vector<std::string>& args, const std::string& password) {
  timeval tv{2, 0};
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, tv);
  if (!c) return std::nullopt;
  std::unique_ptr<redisContext, void (*)(redisContext*)> guard(c, redisFree);
  if (c->err) return std::nullopt;
  redisSetTimeout(c, tv);
  if (!password.empty()) freeReplyObject(redisCommand(c, "AUTH %b", password.data(), password.size()));
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* r = static_cast<redisReply*>(redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()));
  if (!r) return std::nullopt;
  std::unique_ptr<redisReply, void (*)(void*)> rg(r, freeReplyObject);
  switch (r->type) {
    case REDIS_REPLY_INTEGER: return std::to_string(r->integer);
    case REDIS_REPLY_NIL: return std::nullopt;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR: return std::string(r->str, r->len);
    default: return std::string("(array)");
  }
}

}  // namespace concur::test
