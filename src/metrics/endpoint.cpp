#include "metrics/endpoint.hpp"

#include "core/log.hpp"
#include "metrics/exposition.hpp"
#include "metrics/readiness.hpp"
#include "metrics/registry.hpp"
#include "web/web_server.hpp"

namespace concur::metrics {

std::optional<Endpoint> parse_metrics_address(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (text.find_first_not_of("0123456789") == std::string_view::npos)
    return Endpoint::parse_host_port("127.0.0.1:" + std::string(text));
  if (text.front() == ':') return Endpoint::parse_host_port("127.0.0.1" + std::string(text));
  return Endpoint::parse_host_port(text);
}

MetricsServer::MetricsServer(const Endpoint& at, EndpointConfig cfg) {
  web::WebConfig wc;
  wc.head_timeout = cfg.head_timeout;
  wc.max_clients = cfg.max_scrapers;
  wc.counted = false;  // scrapes are not the server's clients
  web_ = std::make_unique<web::WebServer>(at, wc);
  web_->page("/metrics", [](const web::Request&) {
    web::Response r;
    r.content_type = std::string(kContentType);
    r.body = registry().render();
    return r;
  });
  web_->page("/healthz", [](const web::Request&) {
    web::Response r;
    r.body = "ok\n";
    return r;
  });
  web_->page("/readyz", [](const web::Request&) {
    ReadyVerdict v = readiness();
    web::Response r;
    r.status = v.ready ? 200 : 503;
    r.body = readiness_text(v);
    return r;
  });
  enable();
}

MetricsServer::~MetricsServer() { stop(); }

Endpoint MetricsServer::local() const { return web_->local(); }

void MetricsServer::start() {
  web_->start();
  outf("metrics on {}", local().to_string());
}

void MetricsServer::stop() { web_->stop(); }

}  // namespace concur::metrics
