#pragma once
// Redis high availability for a test: one master, one replica and three sentinels (quorum 2,
// down after 1 s), all on free loopback ports, stopped by PID. The constructor returns once every
// sentinel knows the master, its replica and the two other sentinels, so a failover can happen.
// With a certificate, every one of them also listens for TLS and they speak TLS among themselves
// (tls-replication): the sentinels then name the master by its TLS port.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/process.hpp"
#include "support/redis_server.hpp"
#include "support/temp_dir.hpp"

namespace concur::test {

struct SentinelTls {
  std::string cert, key;  // a certificate for 127.0.0.1 (tls_peer.hpp), also the CA
};

class SentinelGroup {
 public:
  explicit SentinelGroup(std::string master_name = "mymaster", std::optional<SentinelTls> tls = std::nullopt);
  ~SentinelGroup();

  RedisServer& master() { return *master_; }
  RedisServer& replica() { return *replica_; }
  // "127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3", for --redis-sentinel; tls_sentinels() their TLS
  // ports (with a certificate).
  std::string sentinels() const;
  std::string tls_sentinels() const;
  // With a certificate: the replica's TLS port (what the sentinels name after a failover).
  int replica_tls_port() const { return replica_tls_port_; }
  // The master's port as the first sentinel that answers names it.
  std::optional<int> master_port() const;
  bool ready() const { return ready_; }

 private:
  std::string name_;
  std::unique_ptr<RedisServer> master_, replica_;
  TempDir dir_;
  std::vector<int> ports_, tls_ports_;
  int replica_tls_port_ = 0;
  std::vector<std::unique_ptr<Process>> sentinels_;
  bool ready_ = false;
};

}  // namespace concur::test
