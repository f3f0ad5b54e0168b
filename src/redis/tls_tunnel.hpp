#pragma once
// TLS to Redis (`chat-server --redis-tls`) with the hiredis Debian 12 ships (0.14, built without
// hiredis_ssl): hiredis connects, in the clear, to a Unix socket in a private directory (0700)
// that only this process knows; a thread of the tunnel takes each such connection to Redis over
// TCP and TLS (OpenSSL through tls::Stream, certificate checked against --redis-tls-ca and the
// host) and relays the bytes both ways. When Debian's hiredis has SSL, the bridge can drop this.
//
// One connection made by hiredis is one TLS connection to Redis: closing either side closes the
// other, so the bridge's link life (outage, back-off, reconnect) is unchanged. A handshake that
// fails closes the hiredis connection at once and is logged once per reason
// ("redis: cannot connect to HOST:PORT: tls: certificate verify failed (…)").
//
// Each server it reaches has a socket of its own (path_for): with --redis-sentinel the bridge
// asks the sentinels over TLS, then connects to the master they name — after a failover another
// one — each through its own socket, so which server a connection goes to never depends on timing.
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "clients/tls_client.hpp"
#include "core/fd.hpp"

namespace concur::redis {

class TlsTunnel {
 public:
  // Throws std::runtime_error (a CA, certificate or key that cannot be loaded, no temp dir).
  explicit TlsTunnel(const ClientTlsOptions& tls);
  ~TlsTunnel();
  TlsTunnel(const TlsTunnel&) = delete;
  TlsTunnel& operator=(const TlsTunnel&) = delete;

  // Where hiredis connects (redisConnectUnix) to reach host:port over TLS; the socket is made on
  // the first call for that server and kept. Any thread. Throws std::runtime_error when it cannot
  // listen.
  std::string path_for(const std::string& host, int port);
  // The last failure ("" after a success). Failures are logged only after speak() (the server's
  // first line is its listening line); before, the bridge reports this one itself.
  std::string failure() const;
  void speak() { speak_.store(true); }

 private:
  struct Target {
    std::string host;
    int port;
    std::string path;
    FileDesc listener;
  };
  void run();
  void wake();

  std::shared_ptr<tls::ClientContext> ctx_;
  std::string dir_;
  FileDesc wake_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> speak_{false};
  mutable std::mutex mu_;
  std::string failure_;  // under mu_
  std::vector<std::unique_ptr<Target>> targets_;  // under mu_; only ever added to
  std::thread thread_;
};

}  // namespace concur::redis
