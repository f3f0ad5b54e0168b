#pragma once
// collect --web PORT: a live dashboard of the readings (SPEC §4 "Web"). The collector hands every
// batch to WebSink like to any other sink; the Dashboard keeps the recent readings (ReadingsHub)
// and pushes each new one to every open page over the WebSocket /ws:
//
//   {"type":"hello","offline_after":<s>,"now":<unix s>}            once, on open
//   {"type":"history","device":"D","readings":[<reading>...]}      once per known device
//   {"type":"reading","reading":<reading>}                          for every new reading
//
// where <reading> is {"time":…,"device":"D","Temp":20,…}. GET /readings.json?device=D&since=S
// answers the same readings as a JSON array for scripts (at most ReadingsHub::kMaxAnswer).
//
// The Dashboard is a StreamService over the WebSocket codec (a message-framed Conn, ws_conn.hpp):
// every send is one message.
//
// Thread contract: publish() runs on the collector's thread, the service callbacks on the web
// server's thread; mu_ makes "history, then every later reading" exact for each page.
#include "core/thread_annotations.hpp"
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "iot/reading_sink.hpp"
#include "web/readings_hub.hpp"
#include "web/web_server.hpp"

namespace concur::web {

class Dashboard final : public StreamService {
 public:
  static constexpr size_t kHistoryPerDevice = 600;  // readings per device a new page starts with

  explicit Dashboard(double offline_after_s) : offline_after_s_(offline_after_s) {}
  // Keeps the reading and sends it to every open page. Any thread.
  void publish(std::string_view device, StoredReading r);
  ReadingsHub& hub() { return hub_; }

  void on_open(Conn& c) override;
  void on_data(Conn&, std::string_view) override {}  // pages only listen
  void on_close(Conn& c) override;

 private:
  const double offline_after_s_;
  Mutex mu_;
  ReadingsHub hub_;
  std::vector<std::shared_ptr<Conn>> pages_ CONCUR_GUARDED_BY(mu_);
};

// The collector's view of the dashboard: a sink that never fails.
class WebSink final : public iot::ReadingSink {
 public:
  explicit WebSink(Dashboard& d) : dashboard_(d) {}
  int write_batch(const iot::Batch& batch) override;
  int write_lines(std::string_view whole_lines) override;  // lines without times: stamped now
  const std::string& name() const override { return name_; }
  const char* kind() const override { return "web"; }

 private:
  Dashboard& dashboard_;
  std::string name_ = "the web dashboard";
};

// Everything of collect --web: binds in the constructor, start() prints
// "listening on <ip>:<port> (http, web)" and serves on its own thread.
class CollectWeb {
 public:
  CollectWeb(const Endpoint& at, WebConfig cfg, double offline_after_s);
  void start();
  Dashboard& dashboard() { return dashboard_; }
  iot::ReadingSink& sink() { return sink_; }

 private:
  Dashboard dashboard_;
  WebSink sink_{dashboard_};
  WebServer server_;  // declared last: stopped first
};

// GET /readings.json: 400 without a device or with a bad since, else 200 and the JSON array.
Response readings_response(const ReadingsHub& hub, const Request& req);

}  // namespace concur::web
