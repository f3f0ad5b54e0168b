#include "support/redis_sentinel.hpp"

#include <hiredis/hiredis.h>
#include <signal.h>

#include <fstream>
#include <memory>
#include <stdexcept>

#include "support/ports.hpp"

namespace concur::test {

namespace {

// One command to 127.0.0.1:port; the reply's text, or for an array of two strings "a b".
std::optional<std::string> ask(int port, const std::vector<std::string>& args) {
  timeval tv{1, 0};
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port, tv);
  std::unique_ptr<redisContext, void (*)(redisContext*)> guard(c, redisFree);
  if (!c || c->err) return std::nullopt;
  redisSetTimeout(c, tv);
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* r = static_cast<redisReply*>(redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()));
  if (!r) return std::nullopt;
  std::unique_ptr<redisReply, void (*)(void*)> rg(r, freeReplyObject);
  if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)
    return std::string(r->str, r->len);
  if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->str && r->element[1]->str)
    return std::string(r->element[0]->str, r->element[0]->len) + " " + std::string(r->element[1]->str, r->element[1]->len);
  return std::nullopt;
}

}  // namespace

SentinelGroup::SentinelGroup(std::string master_name, std::optional<SentinelTls> tls) : name_(std::move(master_name)) {
  // TLS: each server also listens for TLS on a port of its own, and replicates over it.
  auto tls_args = [&](int port) -> std::vector<std::string> {
    return {"--tls-port", std::to_string(port), "--tls-cert-file", tls->cert, "--tls-key-file", tls->key,
            "--tls-ca-cert-file", tls->cert, "--tls-auth-clients", "no", "--tls-replication", "yes"};
  };
  int master_tls = tls ? free_port() : 0;
  master_ = std::make_unique<RedisServer>(tls ? tls_args(master_tls) : std::vector<std::string>{});
  std::vector<std::string> replica_args{"--replicaof", "127.0.0.1", std::to_string(tls ? master_tls : master_->port())};
  if (tls) {
    replica_tls_port_ = free_port();
    for (auto& a : tls_args(replica_tls_port_)) replica_args.push_back(a);
  }
  replica_ = std::make_unique<RedisServer>(replica_args);
  // The replica in sync before the sentinels look, so their first INFO of the master finds it.
  if (!wait_until([&] {
        auto info = ask(replica_->port(), {"INFO", "replication"});
        return info && info->find("master_link_status:up") != std::string::npos;
      }, Ms(10000)))
    return;
  for (int i = 0; i < 3; ++i) {
    std::unique_ptr<Process> p;
    for (int tries = 0; tries < 5 && !p; ++tries) {
      int port = free_port(), tls_port = tls ? free_port() : 0;
      std::string conf = dir_.file("sentinel" + std::to_string(i) + ".conf");
      std::ofstream f(conf);
      f << "port " << port << "\nbind 127.0.0.1\nprotected-mode no\n";
      if (tls)
        f << "tls-port " << tls_port << "\ntls-cert-file " << tls->cert << "\ntls-key-file " << tls->key
          << "\ntls-ca-cert-file " << tls->cert << "\ntls-auth-clients no\ntls-replication yes\n";
      f << "sentinel monitor " << name_ << " 127.0.0.1 " << (tls ? master_tls : master_->port()) << " 2\n"
                          << "sentinel down-after-milliseconds " << name_ << " 1000\n"
        << "sentinel failover-timeout " << name_ << " 10000\n";
      f.close();
      p = std::make_unique<Process>(std::vector<std::string>{"redis-server", conf, "--sentinel"});
      if (!p->wait_for_line("+monitor master", Ms(5000))) {
        p->signal(SIGKILL);
        p->wait(Ms(3000));
        p.reset();
        continue;
      }
      ports_.push_back(port);
      tls_ports_.push_back(tls_port);
    }
    if (!p) return;
    sentinels_.push_back(std::move(p));
  }
  // Sentinels find each other through the master's hello channel (every 2 s).
  ready_ = wait_until([&] {
    for (int port : ports_) {
      auto info = ask(port, {"INFO", "sentinel"});
      if (!info || info->find("slaves=1,sentinels=3") == std::string::npos) return false;
    }
    return true;
  }, Ms(20000));
}

SentinelGroup::~SentinelGroup() {
  for (auto& p : sentinels_) {
    p->signal(SIGKILL);
    p->wait(Ms(3000));
  }
}

std::string SentinelGroup::sentinels() const {
  std::string out;
  for (int port : ports_) out += (out.empty() ? "" : ",") + std::string("127.0.0.1:") + std::to_string(port);
  return out;
}

std::string SentinelGroup::tls_sentinels() const {
  std::string out;
  for (int port : tls_ports_) out += (out.empty() ? "" : ",") + std::string("127.0.0.1:") + std::to_string(port);
  return out;
}

std::optional<int> SentinelGroup::master_port() const {
  for (int port : ports_) {
    auto a = ask(port, {"SENTINEL", "get-master-addr-by-name", name_});
    if (a) return std::stoi(a->substr(a->find(' ') + 1));
  }
  return std::nullopt;
}

}  // namespace concur::test
