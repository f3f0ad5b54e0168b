#pragma once
// The limits a server command gives whatever serves its connections (a model, the datagram loop).
// It lives beside the connection machinery, which enforces it, so that conn/ never reaches up
// into models/.
#include <algorithm>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "conn/address_limits.hpp"

namespace concur {

namespace tls {
class ServerContext;
}

struct ServerConfig {
  size_t max_queue = 1 << 20;      // per-connection pending output bound (bytes)
  size_t max_clients = 0;          // 0: as many as descriptors allow
  int workers = 0;                 // --workers (epoll loops, prefork children, pool threads); 0: the model's default
  std::string full_message = "error: server full\n";  // sent to a client refused by max_clients
  // Per-address limits (--max-per-ip, --connect-rate): unset, the defaults for addresses other
  // than loopback (default_address_limits()); set, they apply to every address (0: none).
  std::optional<size_t> max_per_ip;
  std::optional<double> connect_rate;
  // Sent to a client refused by them.
  std::string per_address_message = "error: too many connections from your address\n";
  // SO_SNDBUF of every admitted client (0: the kernel's autotuning). A server whose clients may
  // stall (the device simulator's registrants) bounds what the kernel parks for each of them too.
  int send_buffer = 0;
  // --tls-cert/--tls-key: every admitted client speaks TLS (its handshake bounded by the context's
  // handshake_timeout); null: plain TCP. Shared with the SIGHUP reloader.
  std::shared_ptr<tls::ServerContext> tls;
  bool counted = true;  // in the concur_connections_* metrics (not the --metrics port's own scrapes)
};

// 16 connections from one address, and a burst of 5 new ones then 2 a second, for every address
// but loopback (ergo exempts localhost too: the lecture's local use and the tests are unchanged);
// an explicit value applies to every address.
inline AddressLimitSettings address_limits_of(const ServerConfig& c) {
  AddressLimitSettings s;
  if (!c.counted) return s;  // the --metrics port's scrapes: bounded by their own max_clients
  s.max_per_ip = c.max_per_ip.value_or(16);
  s.loopback_counted = c.max_per_ip.has_value();
  s.rate = c.connect_rate.value_or(2.0);
  s.burst = c.connect_rate ? std::max(5.0, *c.connect_rate) : 5.0;
  s.loopback_rated = c.connect_rate.has_value();
  return s;
}

}  // namespace concur
