#pragma once
// `--metrics ADDR:PORT` (issue 22): GET /metrics (Prometheus text, registry()), /healthz (200 "ok"
// while the process answers) and /readyz (200 while every readiness check holds, else 503 with
// the reasons, readiness.hpp).
//
// It is a web::WebServer of its own — one thread, one EventLoop — so a slow scrape never delays
// the service, which runs on other threads; the HTTP parsing is the web pages' (heads of at most
// 8 KiB, GET only). A request head must be complete within `head_timeout`, and at most
// `max_scrapers` connections are open at once: a thousand clients dribbling bytes cost the
// endpoint a handful of descriptors and the service nothing.
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/duration.hpp"
#include "core/endpoint.hpp"

namespace concur::web {
class WebServer;
}

namespace concur::metrics {

struct EndpointConfig {
  Millis head_timeout{5000};
  size_t max_scrapers = 64;
};

// "ADDR:PORT", ":PORT" or "PORT" (ADDR defaults to 127.0.0.1; port 0 = any free port); nullopt
// when malformed.
std::optional<Endpoint> parse_metrics_address(std::string_view text);

class MetricsServer {
 public:
  // Binds now (throws SysError "cannot bind …") and calls enable(): counting starts here.
  explicit MetricsServer(const Endpoint& at, EndpointConfig cfg = {});
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  Endpoint local() const;
  // Starts serving and prints "metrics on <ip>:<port>" on stdout (flushed).
  void start();
  void stop();

 private:
  std::unique_ptr<web::WebServer> web_;
};

}  // namespace concur::metrics
