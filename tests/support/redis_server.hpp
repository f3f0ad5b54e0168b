#pragma once
// A real redis-server for a test: started on a free loopback port with no persistence, stopped by
// its PID (never by name). It can be stalled (SIGSTOP), resumed, killed and started again on the
// same port, and read or written directly (hiredis, blocking, short timeouts).
#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/ports.hpp"
#include "support/process.hpp"

namespace concur::test {

class RedisServer {
 public:
  // `extra`: more redis-server arguments, e.g. {"--requirepass", "secret"}.
  explicit RedisServer(std::vector<std::string> extra = {});
  ~RedisServer();

  int port() const { return port_; }
  std::string address() const { return loopback(port_); }
  pid_t pid() const { return proc_ ? proc_->pid() : -1; }

  void stall();    // SIGSTOP
  void resume();   // SIGCONT
  void kill();     // SIGKILL, and reaped
  void restart();  // a fresh redis-server on the same port (after kill())

  // One command; the reply as text (status, string, integer, error), nullopt for nil or no reply.
  std::optional<std::string> command(const std::vector<std::string>& args, const std::string& password = {});

 private:
  void launch();
  int port_ = 0;
  std::vector<std::string> extra_;
  std::unique_ptr<Process> proc_;
};

// True when redis-server is installed (scripts/setup.sh installs it; a test fails without it).
bool have_redis_server();

}  // namespace concur::test
