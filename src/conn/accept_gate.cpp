#include "conn/accept_gate.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "core/fd_limit.hpp"
#include "core/log.hpp"

namespace concur {

void Admission::release() {
  if (gate_) std::exchange(gate_, nullptr)->leave(std::exchange(slot_, AddressLimits::kNoSlot));
}

Admission AcceptGate::admit(FileDesc& client, const Endpoint& peer) {
  size_t now = live_.fetch_add(1, std::memory_order_acq_rel);
  if (cfg_.max_clients == 0 || now < cfg_.max_clients) {
    uint32_t slot = AddressLimits::kNoSlot;
    AddressLimits::Verdict v = addresses_.enter(peer, slot);
    if (v != AddressLimits::Verdict::admitted) {
      live_.fetch_sub(1, std::memory_order_acq_rel);
      refuse_address(client, peer, v);
      return {};
    }
    if (cfg_.counted) conn_metrics::accepted();
    if (cfg_.send_buffer > 0)
      ::setsockopt(client.get(), SOL_SOCKET, SO_SNDBUF, &cfg_.send_buffer, sizeof cfg_.send_buffer);
    return Admission(this, slot);
  }
  live_.fetch_sub(1, std::memory_order_acq_rel);
  if (cfg_.counted) conn_metrics::refused(conn_metrics::Refusal::max_clients);
  const std::string& msg = cfg_.full_message;
  [[maybe_unused]] ssize_t n = ::send(client.get(), msg.data(), msg.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  ::shutdown(client.get(), SHUT_WR);
  client.reset();
  // A flood past the limit (slow scrapers holding a --metrics port, a reconnect storm) costs a few
  // lines and a count, not a line per refused client.
  full_log_.hit([&] { return fmt::format("refused {}: server full ({} clients)", peer.seed_format(), cfg_.max_clients); });
  return {};
}

void AcceptGate::refuse_address(FileDesc& client, const Endpoint& peer, AddressLimits::Verdict why) {
  if (cfg_.counted) conn_metrics::refused(conn_metrics::Refusal::per_address);
  const std::string& msg = cfg_.per_address_message;
  [[maybe_unused]] ssize_t n = ::send(client.get(), msg.data(), msg.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  ::shutdown(client.get(), SHUT_WR);
  client.reset();
  const AddressLimitSettings& s = addresses_.settings();
  address_log_.hit([&] {
    return why == AddressLimits::Verdict::too_many
               ? fmt::format("refused {}: more than {} connections from {}", peer.seed_format(), s.max_per_ip, peer.ip())
               : fmt::format("refused {}: more than {:g} new connections a second from {}", peer.seed_format(), s.rate,
                             peer.ip());
  });
}

LogLimiter& memory_refusals() {
  static LogLimiter& log = *new LogLimiter(LogLimiter::per_burst("clients dropped for lack of memory"));  // outlives every thread
  return log;
}

void AcceptGate::tell_full(int fd) const {
  const std::string& msg = cfg_.full_message;  // built at start: sending it allocates nothing
  [[maybe_unused]] ssize_t n = ::send(fd, msg.data(), msg.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

void AcceptGate::refuse(FileDesc& client, const Endpoint& peer, LogLimiter& log, std::string_view why) {
  if (client) {
    tell_full(client.get());
    ::shutdown(client.get(), SHUT_WR);
    client.reset();
  }
  if (cfg_.counted)
    conn_metrics::refused(&log == &memory_refusals() ? conn_metrics::Refusal::memory : conn_metrics::Refusal::resources);
  log.hit([&] { return fmt::format("refused {}: {}", peer.seed_format(), why); });
}

void AcceptGate::tick() {
  memory_refusals().flush();
  refusals_.flush();
  full_log_.flush();
}

bool AcceptGate::needs_tick() const {
  return memory_refusals().active() || refusals_.active() || full_log_.active();
}

void AcceptGate::report(Acceptor::Result r) {
  if (r == Acceptor::Result::refused_emfile && cfg_.counted) conn_metrics::refused(conn_metrics::Refusal::fd_limit);
  using namespace std::chrono;
  long long now = duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
  long long last = last_report_ms_.load();
  if (now - last < 1000 || !last_report_ms_.compare_exchange_strong(last, now)) return;
  if (r == Acceptor::Result::refused_emfile)
    errf("concur: out of descriptors: refused a pending connection (serving existing clients): {}",
         errno_text(EMFILE));
  else
    errf("concur: accept failed: {}", errno_text(errno));
}

}  // namespace concur
