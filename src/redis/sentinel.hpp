#pragma once
// Finding the Redis master through Sentinel (`chat-server --redis-sentinel … --redis-master NAME`),
// as Redis's client guidelines describe: ask the sentinels in turn for the master's address
// (SENTINEL get-master-addr-by-name), connect, and check that it calls itself master (ROLE),
// since a failover may be under way. Asked again before every connection attempt, so a failover
// is followed by the bridge's ordinary reconnect.
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/duration.hpp"

namespace concur::redis {

using HostPort = std::pair<std::string, int>;

// With --redis-tls: the Unix socket (tls_tunnel.hpp) through which a sentinel is reached.
using SentinelPath = std::function<std::string(const HostPort&)>;

// The first answer of the sentinels, each given `timeout` to connect and reply. nullopt when none
// knows the master; `why` then says what each said, briefly. Blocking. With `via`, each sentinel
// is reached through the socket it gives (TLS), else over TCP.
std::optional<HostPort> ask_sentinels(const std::vector<HostPort>& sentinels, const std::string& master,
                                      Millis timeout, std::string& why, const SentinelPath& via = {});

// "HOST:PORT[,HOST:PORT…]" → the list; nullopt if any part is malformed.
std::optional<std::vector<HostPort>> parse_sentinels(std::string_view text);

}  // namespace concur::redis
