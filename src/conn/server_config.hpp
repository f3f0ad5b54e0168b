#pragma once
// The limits a server command gives whatever serves its connections (a model, the datagram loop).
// It lives beside the connection machinery, which enforces it, so that conn/ never reaches up
// into models/.
#include <cstddef>
#include <string>

namespace concur {

struct ServerConfig {
  size_t max_queue = 1 << 20;      // per-connection pending output bound (bytes)
  size_t max_clients = 0;          // 0: as many as descriptors allow
  int workers = 0;                 // --workers (epoll loops, prefork children, pool threads); 0: the model's default
  std::string full_message = "error: server full\n";  // sent to a client refused by max_clients
  // SO_SNDBUF of every admitted client (0: the kernel's autotuning). A server whose clients may
  // stall (the device simulator's registrants) bounds what the kernel parks for each of them too.
  int send_buffer = 0;
  bool counted = true;  // in the concur_connections_* metrics (not the --metrics port's own scrapes)
};

}  // namespace concur
