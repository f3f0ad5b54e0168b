#include "cli/metrics_option.hpp"

#include "conn/conn_metrics.hpp"
#include "core/error.hpp"

namespace concur {

void add_metrics_option(CLI::App& app, std::string& address) {
  app.add_option("--metrics", address,
                 "serve Prometheus metrics at http://ADDR:PORT/metrics, and /healthz, /readyz "
                 "(ADDR defaults to 127.0.0.1; port 0 = any free port, printed as 'metrics on ADDR:PORT')")
      ->type_name("ADDR:PORT");
}

MetricsRun::MetricsRun(const std::string& address) {
  if (address.empty()) return;
  auto at = metrics::parse_metrics_address(address);
  if (!at) throw UsageError("--metrics: '" + address + "' is not ADDR:PORT, :PORT or PORT (e.g. 127.0.0.1:9100)");
  server_ = std::make_unique<metrics::MetricsServer>(*at);
  listening_.emplace("listening", "not listening yet");
}

MetricsRun::~MetricsRun() {
  if (server_) server_->stop();  // before the readiness flag and whatever the probes read go
}

void MetricsRun::serving() {
  if (!server_) return;
  listening_->ready();  // first: a scraper that read "metrics on" must find the server ready
  server_->start();
}

void MetricsRun::stopping() {
  if (listening_) listening_->not_ready("stopping");
}

}  // namespace concur
