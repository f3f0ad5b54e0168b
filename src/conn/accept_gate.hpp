#pragma once
// What every model does with a freshly accepted socket before a service sees it: enforce
// --max-clients (answering with the service's "server full" line) and account for live clients.
#include <atomic>
#include <cstddef>
#include <string_view>

#include "core/endpoint.hpp"
#include "core/fd.hpp"
#include "core/log_limiter.hpp"
#include "core/socket.hpp"
#include "conn/conn_metrics.hpp"
#include "conn/server_config.hpp"

namespace concur {

// Clients dropped because an allocation failed on their behalf (std::bad_alloc in their own
// callbacks, their thread, their buffers): one process-wide count, one log line per burst.
LogLimiter& memory_refusals();

class AcceptGate {
 public:
  explicit AcceptGate(const ServerConfig& cfg) : cfg_(cfg) {}
  // True: the client may be served (call leave() when it is gone). False: it was told and closed.
  bool admit(FileDesc& client, const Endpoint& peer);
  void leave() {
    live_.fetch_sub(1, std::memory_order_acq_rel);
    conn_metrics::closed();
  }
  size_t live() const { return live_.load(std::memory_order_acquire); }

  // Reports an accept that failed (EMFILE refusal, unexpected errno), rate-limited to one line
  // a second so that a storm cannot flood the log.
  void report(Acceptor::Result r);

  // Turns away a client that cannot be served after all (no thread, no memory, a descriptor the
  // poller cannot watch): tells it `server full` if a line can still be sent, closes it, and
  // counts it in `log` (one line per burst). `why` is the reason, for the first line.
  void refuse(FileDesc& client, const Endpoint& peer, LogLimiter& log, std::string_view why);
  // The same for a connection a model already serves: only the line; the model closes it.
  void tell_full(int fd) const;
  // Sums up bursts of refusals that are over; models call it at least every second while
  // needs_tick(), and their accept loops wait no longer than that.
  void tick();
  bool needs_tick() const;
  // This server's refusals for model-specific reasons (no thread, descriptor beyond FD_SETSIZE).
  LogLimiter& refusals() { return refusals_; }

 private:
  const ServerConfig& cfg_;
  std::atomic<size_t> live_{0};
  std::atomic<long long> last_report_ms_{0};
  LogLimiter refusals_ = LogLimiter::per_burst("clients refused for the same reason");
};

}  // namespace concur
