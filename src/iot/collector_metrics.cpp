#include "iot/collector_metrics.hpp"

#include <string>

namespace concur::iot {

CollectorSeries& collector_series() {
  static CollectorSeries& s = []() -> CollectorSeries& {
    auto& r = metrics::registry();
    return *new CollectorSeries{
        r.counter("concur_collect_readings_total", "Valid readings received from devices."),
        r.counter("concur_collect_malformed_total", "Lines from devices that are not readings (not stored)."),
        r.counter("concur_collect_misnamed_total", "Readings under another device's name than the connection's first (not stored)."),
        r.counter("concur_collect_reconnects_total", "Device connections that failed or went offline and are retried."),
        r.gauge("concur_collect_devices_online", "Devices connected and registered now."),
        r.gauge("concur_collect_devices", "Devices this collector collects from."),
        r.counter("concur_collect_rotations_total", "Times --out was rotated (--out-max-size)."),
    };
  }();
  return s;
}

SinkSeries sink_series(const ReadingSink& sink) {
  auto& r = metrics::registry();
  metrics::Labels l{{"sink", sink.kind()}};
  SinkSeries s{
      r.counter("concur_collect_sink_readings_written_total", "Readings the sink stored (acknowledged by a broker for mqtt: queued).", l),
      r.counter("concur_collect_sink_write_errors_total", "Writes (batches) the sink refused; the readings are kept and retried.", l),
      r.counter("concur_collect_sink_readings_lost_total", "Readings dropped from a sink's full backlog.", l),
      r.histogram("concur_collect_sink_write_seconds", "Time one write (a batch: a commit for sqlite) took.",
                  metrics::latency_buckets(), l),
      r.gauge("concur_collect_sink_lag_readings", "Readings of data.txt a sink that follows it has not taken yet.", l),
      r.gauge("concur_collect_sink_lag_bytes", "Bytes of data.txt a sink that follows it has not taken yet.", l),
      nullptr,
  };
  std::string kind = sink.kind();
  if (kind == "file" || kind == "sqlite") {
    s.ready = std::make_unique<metrics::ReadyFlag>(kind + " " + sink.name(), "");
    s.ready->ready();
  }
  return s;
}

}  // namespace concur::iot
