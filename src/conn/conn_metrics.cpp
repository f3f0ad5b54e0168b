#include "conn/conn_metrics.hpp"

namespace concur::conn_metrics {

Series& make_series() {
  return [] () -> Series& {
    auto& r = metrics::registry();
    auto refused = [&](const char* reason) {
      return &r.counter("concur_connections_refused_total",
                        "Connections turned away, by reason (max_clients: --max-clients; fd_limit: out of "
                        "descriptors; memory: an allocation failed for the client; resources: no thread, no "
                        "process, a descriptor the poller cannot watch; per_address: --max-per-ip or --connect-rate).",
                        {{"reason", reason}});
    };
    return *new Series{
        r.gauge("concur_connections_open", "Client connections being served now."),
        r.counter("concur_connections_accepted_total", "Client connections admitted."),
        r.counter("concur_connections_closed_total", "Admitted client connections that ended."),
        {refused("max_clients"), refused("fd_limit"), refused("memory"), refused("resources"), refused("per_address")},
        r.counter("concur_received_bytes_total", "Bytes received from clients (TCP and UDP) and handed to the service."),
        r.counter("concur_sent_bytes_total", "Bytes written to clients (TCP and UDP)."),
        r.counter("concur_slow_consumers_dropped_total",
                  "Connections dropped because their pending output passed --max-queue (a client that does not read)."),
        r.counter("concur_datagrams_received_total", "UDP datagrams received."),
        r.counter("concur_datagrams_sent_total", "UDP datagrams sent (a full socket buffer drops one: not counted)."),
    };
  }();
}

}  // namespace concur::conn_metrics
