// device: the IoT device simulator of homework 10 (SPEC §3), or a fleet of them.
#include <fmt/format.h>

#include <stdexcept>

#include "cli/commands.hpp"
#include "cli/metrics_option.hpp"
#include "cli/options.hpp"
#include "core/error.hpp"
#include "core/fd_limit.hpp"
#include "core/log.hpp"
#include "core/sd_notify.hpp"
#include "core/stop.hpp"
#include "iot/device_server.hpp"

namespace concur {

namespace {

struct DeviceArgs {
  std::string kind = "env";
  std::string name;
  Millis interval{-1};  // -1: the kind's default
  int port = -1;
  std::string bind = "0.0.0.0";
  int fleet = 0;
  bool quiet = false;
  bool stats = false;
  size_t max_pending = 64 * 1024;
  std::string metrics;
};

int run_device(const DeviceArgs& a) {
  auto kind = iot::parse_kind(a.kind);
  if (!kind) throw UsageError("--kind: '" + a.kind + "' is not env or health");
  const iot::KindSpec& spec = iot::kind_spec(*kind);
  iot::DeviceOptions o;
  o.kind = *kind;
  o.name = a.name.empty() ? std::string(spec.default_name) : a.name;
  if (!iot::valid_device_name(o.name))
    throw UsageError("--name: '" + o.name + "' is not a device name (1-64 printable characters, no ':')");
  if (a.interval.count() == 0) throw UsageError("--interval: must be greater than 0");
  o.interval = a.interval.count() > 0 ? a.interval : spec.default_interval;
  int port = a.port >= 0 ? a.port : spec.default_port;
  if (a.fleet > 0) {
    if (a.port <= 0) throw UsageError("--fleet: needs a fixed first port (--port P, not 0)");
    if (port + a.fleet - 1 > 65535)
      throw UsageError(fmt::format("--fleet: ports {} … {} go past 65535", port, port + a.fleet - 1));
  }
  try {
    o.bind = Endpoint::parse(a.bind, static_cast<uint16_t>(port));
  } catch (const UsageError& e) {
    throw UsageError(std::string("--bind: ") + e.what());
  }
  o.fleet = a.fleet;
  o.quiet = a.quiet;
  o.max_pending = a.max_pending;

  // A fleet needs two descriptors per device (its listener and one registrant); the soft limit
  // was already raised to the hard one for every command (commands.cpp).
  long limit = open_files_limit();
  if (limit > 0 && a.fleet > 0) {
    constexpr long kSpare = 16;  // stdio, epoll, eventfd, the reserve descriptor
    if (a.fleet + kSpare > limit)
      throw std::runtime_error(fmt::format("--fleet {} needs {} listening sockets but the descriptor limit is {}; "
                                           "split the fleet over several processes",
                                           a.fleet, a.fleet, limit));
    if (2L * a.fleet + kSpare > limit)
      errf("concur: warning: --fleet {} with one registrant each needs about {} descriptors, the limit is {}: "
           "late registrants will be refused",
           a.fleet, 2L * a.fleet + kSpare, limit);
  }
  StopSource stop;
  StopSignalGuard signals(stop);
  MetricsRun metrics(a.metrics);
  iot::DeviceServer server(o, stop);
  for (const auto& d : server.devices()) outf("listening on {} (tcp, model=epoll)", d.at.to_string());
  metrics.serving();
  sd::notify_ready();  // after the last of a fleet's listening lines
  server.run();
  metrics.stopping();
  if (a.stats) {
    uint64_t total = 0;
    for (const auto& d : server.devices()) {
      errf("{} sent {}", d.name(), d.sent());
      total += d.sent();
    }
    errf("total sent {}", total);
  }
  return 0;
}

}  // namespace

Command device_command() {
  return {"device", "IoT device simulator (env | health): sends readings to every client that sent Register",
          [](CLI::App& app) {
            auto a = std::make_shared<DeviceArgs>();
            app.add_option("--kind", a->kind, "env (Device1: Temp, Humid, lilum; every 3 s) or health (Device2: "
                                              "Heartbeat, Steps, Cal; every 5 s)")
                ->check(CLI::IsMember({"env", "health"}))
                ->type_name("KIND")
                ->capture_default_str();
            app.add_option("--name", a->name, "device name (default Device1 for env, Device2 for health)")->type_name("NAME");
            add_duration_option(app, "--interval", a->interval, "time between readings (default 3 s env, 5 s health)");
            app.add_option("--port", a->port, "TCP port (default 7001 env, 7002 health; 0 = any free port)")
                ->check(CLI::Range(0, 65535))
                ->type_name("PORT");
            app.add_option("--bind", a->bind, "address to bind (IPv4 or IPv6)")->type_name("ADDR")->capture_default_str();
            app.add_option("--fleet", a->fleet, "run N devices on ports P … P+N-1, named <name>-1 … <name>-N")
                ->check(CLI::Range(1, 30000))
                ->type_name("N");
            app.add_flag("--quiet", a->quiet, "no per-client log lines");
            add_log_format_option(app);
            app.add_flag("--stats", a->stats, "on exit, print how many readings each device sent (stderr)");
            app.add_option("--max-pending", a->max_pending,
                           "bytes of unread readings per client before it is dropped")
                ->check(CLI::Range(size_t{256}, size_t{1} << 30))
                ->type_name("BYTES")
                ->capture_default_str();
            add_metrics_option(app, a->metrics);
            return CommandRun([a] { return run_device(*a); });
          }};
}

}  // namespace concur
