#pragma once
// What every model does with a freshly accepted socket before a service sees it: enforce
// --max-clients (answering with the service's "server full" line) and account for live clients.
#include <atomic>
#include <cstddef>

#include "core/endpoint.hpp"
#include "core/fd.hpp"
#include "core/socket.hpp"
#include "models/model.hpp"

namespace concur {

class AcceptGate {
 public:
  explicit AcceptGate(const ServerConfig& cfg) : cfg_(cfg) {}
  // True: the client may be served (call leave() when it is gone). False: it was told and closed.
  bool admit(FileDesc& client, const Endpoint& peer);
  void leave() { live_.fetch_sub(1, std::memory_order_acq_rel); }
  size_t live() const { return live_.load(std::memory_order_acquire); }

  // Reports an accept that failed (EMFILE refusal, unexpected errno), rate-limited to one line
  // a second so that a storm cannot flood the log.
  void report(Acceptor::Result r);

 private:
  const ServerConfig& cfg_;
  std::atomic<size_t> live_{0};
  std::atomic<long long> last_report_ms_{0};
};

}  // namespace concur
