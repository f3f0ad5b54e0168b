#pragma once
// Loopback ports for peers that cannot be told to use port 0 (the seed's Python programs,
// redis-server, mosquitto, a device fleet on consecutive ports), and whether [::1] exists.
#include <string>

namespace concur::test {

// A loopback port that was free a moment ago (bind to 0, read, close).
int free_port(bool udp = false);
// A first port P such that P … P+n-1 are all free (TCP, every address) right now.
int free_port_range(int n);
// "127.0.0.1:<port>", the way commands take and print a loopback address.
std::string loopback(int port);
// How the seed's servers print a loopback peer: "('127.0.0.1', <port>)".
std::string seed_address(int port);
// The local port of socket `fd` (a test client's, to find it in a server's log).
int local_port(int fd);
// Why this machine has no IPv6 loopback (a listener on [::1] is refused), or "" when it has one.
// A test skips on this answer, asked before any server starts, never on a server that failed.
std::string why_no_ipv6_loopback();

}  // namespace concur::test
