#pragma once
// `--metrics ADDR:PORT` for every server command (issue 22): the option, and the endpoint's life
// around a server's own: bound before the server listens (a busy port is exit 1 before anything
// is served), announced with "metrics on <ip>:<port>" after the `listening on` line, and ready
// (/readyz "listening") from then until the server stops.
#include <CLI/CLI.hpp>

#include <memory>
#include <optional>
#include <string>

#include "metrics/endpoint.hpp"
#include "metrics/readiness.hpp"

namespace concur {

void add_metrics_option(CLI::App& app, std::string& address);

class MetricsRun {
 public:
  // `address` as given to --metrics; empty: no endpoint and nothing to do. Throws UsageError
  // naming --metrics when malformed, SysError when it cannot bind.
  explicit MetricsRun(const std::string& address);
  ~MetricsRun();
  // After the server's `listening on` line: serve, announce, and be ready.
  void serving();
  // The server stops serving: not ready any more (the endpoint still answers until destroyed).
  void stopping();

 private:
  std::unique_ptr<metrics::MetricsServer> server_;
  std::optional<metrics::ReadyFlag> listening_;
};

}  // namespace concur
