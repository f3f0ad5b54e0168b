#pragma once
// What the shared connection layer counts for --metrics (issue 22): admissions, refusals, bytes,
// slow consumers. Counted here, once, for every model — no model and no service counts these.
// Each hook is one call at one event, so that src/conn keeps few and small metric lines.
//
// Thread contract: every function is safe from any thread; the byte hooks are on the hot path and
// cost one relaxed add on a per-thread stripe (metrics/registry.hpp), nothing without --metrics.
#include <cstddef>

#include "metrics/registry.hpp"

namespace concur::conn_metrics {

enum class Refusal { max_clients, fd_limit, memory, resources, per_address };

struct Series {
  metrics::Gauge& open;
  metrics::Counter& accepted;
  metrics::Counter& closed;
  metrics::Counter* refused[5];  // by Refusal
  metrics::Counter& received_bytes;
  metrics::Counter& sent_bytes;
  metrics::Counter& slow_consumers;
  metrics::Counter& datagrams_received;
  metrics::Counter& datagrams_sent;
};
// Registered on first use; a server calls it before serving so that every series shows from the
// first scrape (at 0), as Prometheus advises. Inline: on the hot path a hook is then a guard load,
// the enabled() load and, with --metrics, one relaxed add (no call).
Series& make_series();
inline Series& series() {
  static Series& s = make_series();
  return s;
}

inline void accepted() {
  Series& s = series();
  s.accepted.add();
  s.open.add();
}
inline void closed() {
  Series& s = series();
  s.closed.add();
  s.open.sub();
}
inline void refused(Refusal why) { series().refused[static_cast<int>(why)]->add(); }
inline void received(size_t n) { series().received_bytes.add(n); }
inline void sent(size_t n) { series().sent_bytes.add(n); }
inline void slow_consumer() { series().slow_consumers.add(); }
// UDP: the bytes count in received/sent too.
inline void datagram_received(size_t n) {
  Series& s = series();
  s.datagrams_received.add();
  s.received_bytes.add(n);
}
inline void datagram_sent(size_t n) {
  Series& s = series();
  s.datagrams_sent.add();
  s.sent_bytes.add(n);
}

}  // namespace concur::conn_metrics
