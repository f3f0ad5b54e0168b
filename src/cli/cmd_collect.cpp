// collect: the user program of homework 10 (SPEC §3): registers with every device and appends
// each reading, time-stamped, to data.txt.
#include <fmt/format.h>

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fstream>
#include <optional>
#include <set>

#include "cli/commands.hpp"
#include "cli/metrics_option.hpp"
#include "cli/options.hpp"
#include "core/byte_size.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/log_limiter.hpp"
#include "core/sd_notify.hpp"
#include "core/stop.hpp"
#include "iot/collector.hpp"
#include "iot/db_sink.hpp"
#include "iot/mqtt_sink.hpp"
#include "iot/reading_sink.hpp"
#include "web/dashboard_web.hpp"
#include "web/history_db.hpp"
#include "iot/shard.hpp"

namespace concur {

namespace {

struct CollectArgs {
  std::vector<std::string> devices;
  std::string device_list;
  std::string out = "data.txt";
  uint64_t count = 0;
  uint64_t per_device = 0;
  Millis duration{0};
  Millis offline_after{15000};
  bool fsync = false;
  bool quiet = false;
  bool backfill = false;  // a sink new to an existing data.txt takes it from the beginning
  std::string out_max_size;  // --out-max-size SIZE, empty: no rotation
  unsigned out_keep = 5;
  std::string shard;  // "I/N", empty: the whole list
  std::string db;     // SQLite file, empty: none
  std::string mqtt;   // broker HOST:PORT, empty: none
  std::string mqtt_topic = "concur";
  std::string mqtt_cursor;  // empty: <out>.mqtt.cursor
  bool mqtt_tls = false;
  std::string mqtt_ca, mqtt_cert, mqtt_key;
  int web_port = -1;  // --web: the live dashboard on this port
  std::vector<std::string> web_origins;
  std::string metrics;  // --metrics ADDR:PORT
};

// --mqtt HOST:PORT: a host name or address (IPv6 in brackets) and a port 1..65535.
iot::MqttOptions parse_mqtt(const CollectArgs& a) {
  auto bad = [&] { return UsageError("--mqtt: '" + a.mqtt + "' is not HOST:PORT (e.g. 127.0.0.1:1883)"); };
  size_t colon = a.mqtt.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == a.mqtt.size()) throw bad();
  iot::MqttOptions m;
  m.host = a.mqtt.substr(0, colon);
  if (m.host.front() == '[' && m.host.back() == ']') m.host = m.host.substr(1, m.host.size() - 2);
  if (m.host.empty() || m.host.find_first_of(" /[]") != std::string::npos) throw bad();
  std::string port = a.mqtt.substr(colon + 1);
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) throw bad();
  m.port = std::stoi(port);
  if (m.port < 1 || m.port > 65535) throw bad();
  if (a.mqtt_topic.empty() || a.mqtt_topic.find_first_of("+#") != std::string::npos || a.mqtt_topic.back() == '/')
    throw UsageError("--mqtt-topic: '" + a.mqtt_topic + "' must be a topic without '+', '#' or a trailing '/'");
  m.topic_prefix = a.mqtt_topic;
  auto readable = [](const std::string& option, const std::string& file) {
    if (file.empty()) return;
    if (::access(file.c_str(), R_OK) != 0)
      throw UsageError(option + ": cannot read '" + file + "': " + std::strerror(errno));
  };
  if (!a.mqtt_tls && (!a.mqtt_ca.empty() || !a.mqtt_cert.empty() || !a.mqtt_key.empty()))
    throw UsageError(std::string(!a.mqtt_ca.empty() ? "--mqtt-ca" : !a.mqtt_cert.empty() ? "--mqtt-cert" : "--mqtt-key") +
                     ": needs --mqtt-tls");
  if (a.mqtt_cert.empty() != a.mqtt_key.empty())
    throw UsageError(a.mqtt_cert.empty() ? "--mqtt-key: needs --mqtt-cert (the client certificate)"
                                         : "--mqtt-cert: needs --mqtt-key (the certificate's private key)");
  readable("--mqtt-ca", a.mqtt_ca);
  readable("--mqtt-cert", a.mqtt_cert);
  readable("--mqtt-key", a.mqtt_key);
  m.tls = a.mqtt_tls;
  m.ca = a.mqtt_ca;
  m.cert = a.mqtt_cert;
  m.key = a.mqtt_key;
  // Credentials only from the environment: a command line is visible to every user in ps.
  if (const char* u = std::getenv("MQTT_USERNAME")) m.username = u;
  if (const char* p = std::getenv("MQTT_PASSWORD")) m.password = p;
  return m;
}

Endpoint parse_device(const std::string& text, const std::string& where) {
  auto ep = Endpoint::parse_host_port(text);
  if (!ep || ep->port() == 0) throw UsageError(where + ": '" + text + "' is not HOST:PORT (e.g. 127.0.0.1:7001)");
  return *ep;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return {};
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

std::vector<Endpoint> resolve_devices(const CollectArgs& a) {
  std::vector<Endpoint> out;
  std::set<std::string> seen;
  auto add = [&](const Endpoint& ep) {
    if (seen.insert(ep.to_string()).second) out.push_back(ep);
  };
  for (const auto& d : a.devices) add(parse_device(d, "--device"));
  if (!a.device_list.empty()) {
    std::ifstream in(a.device_list);
    if (!in) throw UsageError("--device-list: cannot read '" + a.device_list + "'");
    std::string line;
    for (int no = 1; std::getline(in, line); ++no) {
      if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
      line = trim(line);
      if (line.empty()) continue;
      add(parse_device(line, fmt::format("--device-list: {}:{}", a.device_list, no)));
    }
  }
  if (a.devices.empty() && a.device_list.empty()) {
    add(Endpoint::parse("127.0.0.1", 7001));
    add(Endpoint::parse("127.0.0.1", 7002));
  }
  if (out.empty()) throw UsageError("--device-list: '" + a.device_list + "' names no device");
  return out;
}

// This collector's share of the list under --shard I/N (rendezvous hashing on HOST:PORT).
std::vector<Endpoint> take_shard(std::vector<Endpoint> all, const iot::Shard& shard) {
  std::vector<Endpoint> mine;
  for (Endpoint& ep : all)
    if (iot::shard_of(ep.to_string(), shard.count) == shard.index) mine.push_back(std::move(ep));
  return mine;
}

int run_collect(const CollectArgs& a) {
  iot::CollectOptions o;
  std::optional<iot::MqttOptions> mqtt_opts;
  if (!a.mqtt.empty()) mqtt_opts = parse_mqtt(a);
  else if (a.mqtt_topic != "concur") throw UsageError("--mqtt-topic: needs --mqtt HOST:PORT");
  else if (!a.mqtt_cursor.empty()) throw UsageError("--mqtt-cursor: needs --mqtt HOST:PORT");
  else if (a.mqtt_tls) throw UsageError("--mqtt-tls: needs --mqtt HOST:PORT");
  std::optional<iot::Shard> shard;
  if (!a.shard.empty() && !(shard = iot::parse_shard(a.shard)))
    throw UsageError("--shard: '" + a.shard + "' is not I/N with 1 <= I <= N (e.g. 2/3)");
  o.devices = resolve_devices(a);
  if (shard) {
    size_t listed = o.devices.size();
    o.devices = take_shard(std::move(o.devices), *shard);
    errf("concur: shard {}/{}: {} of the {} listed devices", shard->index, shard->count, o.devices.size(), listed);
    if (o.devices.empty()) return 0;  // a small list can leave a shard nothing to do
  }
  o.count = a.count;
  o.per_device = a.per_device;
  o.duration = a.duration;
  if (a.offline_after.count() <= 0) throw UsageError("--offline-after: must be greater than 0");
  o.offline_after = a.offline_after;
  o.quiet = a.quiet;
  o.backfill = a.backfill;
  if (!a.out_max_size.empty()) {
    auto size = parse_byte_size(a.out_max_size);
    if (!size) throw UsageError("--out-max-size: '" + a.out_max_size + "' is not a size (bytes, or with K, M, G: 100M)");
    if (*size < 4096) throw UsageError("--out-max-size: must be at least 4K (a reading line is up to about 1K)");
    o.out_max_size = *size;
  }
  o.out_keep = a.out_keep;

  // One descriptor per device: the soft limit was raised to the hard one for every command
  // (commands.cpp, raise_open_files_limit).
  ::signal(SIGXFSZ, SIG_IGN);  // past a file-size limit, write() fails with EFBIG instead of killing us
  // Before the sinks: they register their series and readiness checks with it counting already;
  // destroyed after them (declared first), so the endpoint stops before what its probes read.
  MetricsRun metrics(a.metrics);

  iot::FileSink sink(a.out, a.fsync);  // "cannot open data.txt: Permission denied" -> exit 1
  std::vector<iot::ReadingSink*> sinks{&sink};
  std::unique_ptr<iot::DbSink> db;
  char* real = ::realpath(a.out.c_str(), nullptr);
  const std::string log = real ? real : a.out;  // data.txt's absolute path
  std::free(real);
  if (!a.db.empty()) {
    // Its cursor into data.txt is kept under data.txt's absolute path (one database may hold the
    // readings of several collectors, each with its own data.txt).
    db = std::make_unique<iot::DbSink>(a.db, a.fsync, log);  // "cannot open database x.db: ..." -> exit 1
    sinks.push_back(db.get());
  }
  std::unique_ptr<iot::MqttSink> mqtt;
  if (mqtt_opts) {
    if (!mqtt_opts->password.empty() && mqtt_opts->username.empty())
      errf("concur: MQTT_PASSWORD is set but MQTT_USERNAME is not: connecting without credentials");
    // Its cursor into data.txt in a file of its own (issue 21); none when --out is not a regular
    // file (a pipe, /dev/stdout): then the readings wait in memory, the oldest dropped past 100,000.
    if (sink.regular()) {
      mqtt_opts->cursor_path = a.mqtt_cursor.empty() ? a.out + ".mqtt.cursor" : a.mqtt_cursor;
      mqtt_opts->log_path = log;
    } else {
      errf("concur: {} is not a regular file: --mqtt has no cursor; up to {} readings wait in memory for the broker{}", a.out,
           thousands(mqtt_opts->max_queue), a.mqtt_cursor.empty() ? "" : " (--mqtt-cursor is not used)");
    }
    mqtt = std::make_unique<iot::MqttSink>(*mqtt_opts);  // a TLS file libmosquitto refuses -> exit 1
    sinks.push_back(mqtt.get());
  }
  std::unique_ptr<web::CollectWeb> dashboard;
  if (a.web_port >= 0) {
    web::WebConfig cfg;
    cfg.allowed_origins = a.web_origins;
    cfg.max_queue = 16u << 20;  // a page starts with every device's history
    Endpoint at = Endpoint::parse("0.0.0.0", static_cast<uint16_t>(a.web_port));
    dashboard = std::make_unique<web::CollectWeb>(at, cfg, static_cast<double>(o.offline_after.count()) / 1000.0);
    sinks.push_back(&dashboard->sink());
    if (!a.db.empty()) {  // the charts start with the stored history of the last hour
      double hour_ago = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count() - 3600;
      size_t n = web::load_history(a.db, dashboard->dashboard().hub(), hour_ago);
      errf("concur: the dashboard starts with {} stored readings from {}", n, a.db);
    }
    dashboard->start();
  }
  if (sink.dropped_on_open())
    errf("concur: {} ended with a torn line: dropped its last {} bytes (cut back to the last newline)", a.out,
         sink.dropped_on_open());
  StopSource stop;
  std::optional<StopSignalGuard> signals(stop);
  std::string into = a.out;
  for (size_t k = 1; k < sinks.size(); ++k) into += " and " + sinks[k]->name();
  errf("concur: collecting from {} device{} into {}", o.devices.size(), o.devices.size() == 1 ? "" : "s", into);
  iot::Collector collector(o, sinks, stop);
  metrics.serving();  // "metrics on …": the collector has no listening line of its own
  sd::notify_ready();  // the sinks are open (and --web is listening); devices are retried until they answer
  int rc = collector.run();
  metrics.stopping();
  signals.reset();  // a ^C during the final flush below ends the process as usual
  const auto& st = collector.stats();
  errf("concur: {} readings stored in {}, {} malformed not stored{}", st.of(&sink).stored, a.out, st.malformed,
       st.misnamed ? fmt::format(", {} under another device's name not stored", st.misnamed) : "");
  if (db) errf("concur: {} readings stored in {} ({} rows)", st.of(db.get()).stored, a.db, db->rows());
  if (mqtt) {
    mqtt->close(Millis(2000));  // what is still queued gets up to 2 s to reach the broker
    auto ms = mqtt->stats();
    if (mqtt->follows_log()) {
      // Nothing unsent is lost: it is in data.txt after the cursor, published at the next start.
      const auto& ss = st.of(mqtt.get());
      uint64_t behind = ss.lag_lines + ms.unsent;
      errf("concur: {} readings published to {} and acknowledged, {} dropped (refused by libmosquitto), {} unsent at "
           "exit{}",
           ms.published, mqtt->name(), ms.dropped, behind,
           behind ? fmt::format(": they stay in {} after the cursor ({}), the next start publishes them", a.out, mqtt->cursor_path())
                  : std::string());
      if (ms.dropped) rc = 1;
    } else {
      errf("concur: {} readings published to {} and acknowledged, {} dropped while it was unreachable, {} unsent at exit",
           ms.published, mqtt->name(), ms.dropped, ms.unsent);
      if (ms.dropped || ms.unsent) rc = 1;
    }
  }
  if (sink.sync_errors()) errf("concur: fsync of {} failed {} times", a.out, sink.sync_errors());
  return rc;
}

}  // namespace

Command collect_command() {
  return {"collect", "collect device readings into data.txt (one thread, one epoll loop)", [](CLI::App& app) {
            auto a = std::make_shared<CollectArgs>();
            app.add_option("--device", a->devices, "a device HOST:PORT (repeatable; default 127.0.0.1:7001 and :7002)")
                ->type_name("HOST:PORT");
            app.add_option("--device-list", a->device_list, "a file with one HOST:PORT a line (# comments)")
                ->type_name("FILE");
            app.add_option("--out", a->out, "file the readings are appended to")->type_name("FILE")->capture_default_str();
            app.add_option("--count", a->count, "stop after N lines")
                ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 62).description(">= 1"))
                ->type_name("N");
            app.add_option("--per-device", a->per_device, "stop once every device gave N lines")
                ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 62).description(">= 1"))
                ->type_name("N");
            add_duration_option(app, "--duration", a->duration, "stop after this long");
            add_duration_option(app, "--offline-after", a->offline_after,
                                "a connected device silent this long is offline: its connection is replaced (default 15 s)");
            app.add_flag("--fsync", a->fsync, "make every batch of lines durable (fsync) before reading on (default: fsync about once a second)");
            app.add_flag("--quiet", a->quiet, "do not show the readings on stdout");
            app.add_option("--out-max-size", a->out_max_size,
                           "rotate --out past this size (bytes, or 100M, 1G): it becomes FILE.1, the older parts move one up "
                           "(FILE.2, ...), a new FILE is begun; a sink that has not taken a part yet reads it from there")
                ->type_name("SIZE");
            app.add_option("--out-keep", a->out_keep,
                           "rotated parts of --out kept (default 5); a part a sink (--db, --mqtt) has not taken yet is kept "
                           "beyond that until it has")
                ->check(CLI::Range(1u, 100000u))
                ->type_name("N");
            app.add_flag("--backfill", a->backfill,
                         "a sink (--db, --mqtt) new to an existing --out file takes the readings already in it "
                         "(default: it starts at the file's end)");
            add_log_format_option(app);
            app.add_option("--web", a->web_port,
                           "also serve a live dashboard (one chart per device) and /readings.json on this port (0 = any free port)")
                ->check(CLI::Range(0, 65535))
                ->type_name("PORT");
            app.add_option("--web-origin", a->web_origins,
                           "an Origin (http://host:port) allowed to open the dashboard's WebSocket besides its own (repeatable; * = any)")
                ->type_name("ORIGIN");
            app.add_option("--db", a->db,
                           "also store every reading in this SQLite database (created if missing, appended to): "
                           "table readings(time, device, metric, value), one row per field, a transaction (group commit) about once a second; "
                           "with its cursor into --out in the same transaction (table concur_cursor), so that every reading "
                           "of --out is in it exactly once, also across a kill -9 and a restart")
                ->type_name("FILE");
            app.add_option("--mqtt", a->mqtt,
                           "also publish every reading of --out to this MQTT broker, QoS 1 (at least once), topic "
                           "<prefix>/<device>, payload {\"time\": <unix s>, \"device\": \"<name>\", \"<field>\": <number>, ...}; "
                           "credentials from MQTT_USERNAME/MQTT_PASSWORD; the broker is retried with backoff while it is down, "
                           "and the readings wait in --out (nothing is dropped), from the cursor file (--mqtt-cursor) on; "
                           "a reading published again after a kill -9 has the same time and device. When --out is not a "
                           "regular file (a pipe), there is no cursor: up to 100,000 readings wait in memory, then the "
                           "oldest are dropped")
                ->type_name("HOST:PORT");
            app.add_option("--mqtt-cursor", a->mqtt_cursor,
                           "the --mqtt cursor file: the end of the last line of --out the broker acknowledged, rewritten "
                           "atomically about once a second (default: <out>.mqtt.cursor; one per broker if several publish "
                           "the same --out)")
                ->type_name("FILE");
            app.add_flag("--mqtt-tls", a->mqtt_tls,
                         "connect to the --mqtt broker over TLS (1.2 or later), verifying its certificate and host name");
            app.add_option("--mqtt-ca", a->mqtt_ca,
                           "with --mqtt-tls: PEM file of the CA(s) the broker's certificate must chain to (default: the "
                           "system's, /etc/ssl/certs)")
                ->type_name("FILE");
            app.add_option("--mqtt-cert", a->mqtt_cert, "with --mqtt-tls: PEM client certificate, for a broker that asks for one")
                ->type_name("FILE");
            app.add_option("--mqtt-key", a->mqtt_key, "with --mqtt-tls: the client certificate's PEM private key (not encrypted)")
                ->type_name("FILE");
            app.add_option("--mqtt-topic", a->mqtt_topic, "topic prefix for --mqtt")
                ->type_name("PREFIX")
                ->capture_default_str();
            app.add_option("--shard", a->shard,
                           "collect only share I of N of the devices (rendezvous hashing on HOST:PORT): N collectors "
                           "given the same list and 1/N .. N/N take every device exactly once; adding a collector "
                           "moves only about 1/N of them")
                ->type_name("I/N");
            add_metrics_option(app, a->metrics);
            return CommandRun([a] { return run_collect(*a); });
          }};
}

}  // namespace concur
