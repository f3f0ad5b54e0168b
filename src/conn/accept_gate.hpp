#pragma once
// What every model does with a freshly accepted socket before a service sees it: enforce
// --max-clients (answering with the service's "server full" line) and account for live clients.
#include <atomic>
#include <cstddef>
#include <functional>
#include <string_view>
#include <utility>

#include "core/endpoint.hpp"
#include "core/fd.hpp"
#include "core/log_limiter.hpp"
#include "core/socket.hpp"
#include "conn/address_limits.hpp"
#include "conn/conn_metrics.hpp"
#include "conn/server_config.hpp"

namespace concur {

// Clients dropped because an allocation failed on their behalf (std::bad_alloc in their own
// callbacks, their thread, their buffers): one process-wide count, one log line per burst.
LogLimiter& memory_refusals();

class AcceptGate;

// A client's place under --max-clients, owned by whatever serves it: the StreamConn (which gives
// it back when its socket closes), a forked child's record in its parent. Leaving is RAII, so no
// path — a refusal after admission, an exception, a thread that cannot start — can forget it or
// give it back twice. Move-only; an empty one holds no place.
class Admission {
 public:
  Admission() = default;
  Admission(Admission&& o) noexcept
      : gate_(std::exchange(o.gate_, nullptr)), slot_(std::exchange(o.slot_, AddressLimits::kNoSlot)) {}
  Admission& operator=(Admission&& o) noexcept {
    if (this != &o) {
      release();
      gate_ = std::exchange(o.gate_, nullptr);
      slot_ = std::exchange(o.slot_, AddressLimits::kNoSlot);
    }
    return *this;
  }
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;
  ~Admission() { release(); }

  explicit operator bool() const { return gate_ != nullptr; }
  // Gives the place back now (idempotent).
  void release();
  // The client counts in the connection metrics (its bytes too): not a --metrics scrape. True
  // for an empty Admission.
  bool counted() const;
  // The TLS context the client must be served with (the gate's --tls-cert), or nullptr: plain.
  tls::ServerContext* tls() const;

 private:
  friend class AcceptGate;
  Admission(AcceptGate* gate, uint32_t slot) : gate_(gate), slot_(slot) {}
  AcceptGate* gate_ = nullptr;
  uint32_t slot_ = AddressLimits::kNoSlot;  // the client's address in the gate's AddressLimits
};

// What an accept loop hands an admitted client to: its socket, its address and its place.
using ServeAdmitted = std::function<void(FileDesc client, const Endpoint& peer, Admission place)>;

class AcceptGate {
 public:
  explicit AcceptGate(const ServerConfig& cfg) : cfg_(cfg), addresses_(address_limits_of(cfg)) {}
  // A place for the client (its holder serves it; the place is given back when the holder goes),
  // or an empty Admission: the client was told `server full` (past --max-clients) or `too many
  // connections from your address` (past --max-per-ip or --connect-rate) and closed.
  Admission admit(FileDesc& client, const Endpoint& peer);
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
  friend class Admission;
  void leave(uint32_t slot) {
    addresses_.leave(slot);
    live_.fetch_sub(1, std::memory_order_acq_rel);
    if (cfg_.counted) conn_metrics::closed();
  }
  // Past the per-address limits: told so, closed, counted, logged once per burst.
  void refuse_address(FileDesc& client, const Endpoint& peer, AddressLimits::Verdict why);

  const ServerConfig& cfg_;
  AddressLimits addresses_;
  std::atomic<size_t> live_{0};
  std::atomic<long long> last_report_ms_{0};
  LogLimiter refusals_ = LogLimiter::per_burst("clients refused for the same reason");
  // Refused for --max-clients: 5 lines in full per 10 s, then a count.
  LogLimiter full_log_{"clients refused: server full", 5, std::chrono::seconds(10), std::chrono::seconds(1)};
  LogLimiter address_log_ = LogLimiter::per_burst("clients refused for their address's limits");
};

inline bool Admission::counted() const { return gate_ == nullptr || gate_->cfg_.counted; }
inline tls::ServerContext* Admission::tls() const { return gate_ ? gate_->cfg_.tls.get() : nullptr; }

}  // namespace concur
