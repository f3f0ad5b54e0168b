#include "web/dashboard_web.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstdlib>

#include "core/log.hpp"
#include "iot/reading.hpp"
#include "web/assets.hpp"

namespace concur::web {

namespace {
double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::optional<StoredReading> to_stored(std::string_view reading, double time, std::string& device) {
  auto parsed = iot::parse_reading(reading);
  if (!parsed) return std::nullopt;
  StoredReading r;
  r.time = time;
  for (const auto& f : parsed->fields) r.fields.emplace_back(std::string(f.key), static_cast<double>(f.value));
  device = std::string(parsed->name);
  return r;
}
}  // namespace

void Dashboard::publish(std::string_view device, StoredReading r) {
  std::string msg = "{\"type\":\"reading\",\"reading\":" + reading_json(device, r) + "}";
  MutexLock lock(mu_);
  if (!hub_.add(device, std::move(r))) return;
  for (const auto& p : pages_) p->send(msg);  // a page past its queue bound is dropped by the server
}

void Dashboard::on_open(Conn& c) {
  MutexLock lock(mu_);
  c.send(fmt::format("{{\"type\":\"hello\",\"offline_after\":{},\"now\":{:.3f}}}", offline_after_s_, unix_now()));
  for (const auto& m : hub_.history_messages(kHistoryPerDevice)) c.send(m);
  pages_.push_back(c.shared());
}

void Dashboard::on_close(Conn& c) {
  MutexLock lock(mu_);
  std::erase_if(pages_, [&](const auto& p) { return p.get() == &c; });
}

int WebSink::write_batch(const iot::Batch& batch) {
  batch.for_each([&](std::string_view reading, double t) {
    std::string device;
    if (auto r = to_stored(reading, t, device)) dashboard_.publish(device, std::move(*r));
  });
  return 0;
}

int WebSink::write_lines(std::string_view whole_lines) {
  double now = unix_now();
  while (!whole_lines.empty()) {
    size_t nl = whole_lines.find('\n');
    std::string_view line = whole_lines.substr(0, nl);
    if (size_t sep = line.find(": "); sep != std::string_view::npos) {
      std::string device;
      if (auto r = to_stored(line.substr(sep + 2), now, device)) dashboard_.publish(device, std::move(*r));
    }
    if (nl == std::string_view::npos) break;
    whole_lines.remove_prefix(nl + 1);
  }
  return 0;
}

Response readings_response(const ReadingsHub& hub, const Request& req) {
  auto device = query_param(req.query, "device");
  if (!device || device->empty()) return error_response(400, "say which device: /readings.json?device=NAME&since=UNIX_S");
  double since = 0;
  if (auto s = query_param(req.query, "since"); s && !s->empty()) {
    char* end = nullptr;
    since = std::strtod(s->c_str(), &end);
    if (end != s->c_str() + s->size() || !std::isfinite(since)) return error_response(400, "since: not a number of seconds");
  }
  Response r;
  r.content_type = "application/json";
  r.body = hub.readings_json(*device, since);
  return r;
}

CollectWeb::CollectWeb(const Endpoint& at, WebConfig cfg, double offline_after_s)
    : dashboard_(offline_after_s), server_(at, std::move(cfg)) {
  server_.page("/", [](const Request&) { return asset_response("/dashboard.html"); });
  for (const char* p : {"/dashboard.js", "/style.css", "/uplot.js", "/uplot.css"})
    server_.page(p, [p](const Request&) { return asset_response(p); });
  server_.page("/readings.json", [this](const Request& req) { return readings_response(dashboard_.hub(), req); });
  server_.websocket("/ws", dashboard_);
}

void CollectWeb::start() {
  outf("listening on {} ({}, web)", server_.local().to_string(), server_.scheme());
  server_.start();
}

}  // namespace concur::web
