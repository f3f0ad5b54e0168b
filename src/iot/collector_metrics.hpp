#pragma once
// What the collector counts for --metrics (issue 22): readings, devices online, and per sink
// (label sink="file"|"sqlite"|"mqtt"|"web", the sink's kind(): bounded, never the device) the
// readings written, failed writes, readings lost, how long a write (a commit) takes, and for a
// sink that follows data.txt its lag (readings, bytes). A sink
// that can fail (data.txt, SQLite) is also a readiness check: ready while its last write worked.
//
// Thread contract: the collector's loop thread updates these; the endpoint thread reads them.
#include <memory>

#include "iot/reading_sink.hpp"
#include "metrics/readiness.hpp"
#include "metrics/registry.hpp"

namespace concur::iot {

struct CollectorSeries {
  metrics::Counter& readings;
  metrics::Counter& malformed;
  metrics::Counter& misnamed;
  metrics::Counter& reconnects;
  metrics::Gauge& online;
  metrics::Gauge& devices;
  metrics::Counter& rotations;
};
CollectorSeries& collector_series();

struct SinkSeries {
  metrics::Counter& written;
  metrics::Counter& errors;
  metrics::Counter& lost;
  metrics::Histogram& write_seconds;
  // A sink that follows data.txt (issue 21): how far behind data.txt it is (0 for the others).
  metrics::Gauge& lag_readings;
  metrics::Gauge& lag_bytes;
  std::unique_ptr<metrics::ReadyFlag> ready;  // null for sinks that never fail a write (mqtt, web)
};
SinkSeries sink_series(const ReadingSink& sink);

}  // namespace concur::iot
