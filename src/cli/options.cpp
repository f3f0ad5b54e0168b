#include "cli/options.hpp"

#include <fmt/format.h>

#include "cli/metrics_option.hpp"
#include "conn/conn_metrics.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/sd_notify.hpp"
#include "core/socket.hpp"
#include "core/stop.hpp"
#include "tls/tls_reload.hpp"

namespace concur {

std::vector<std::string> all_model_names() {
  std::vector<std::string> names;
  for (const auto& m : model_registry()) names.push_back(m.name);
  return names;
}

const ModelInfo& pick_model(const std::string& name, const std::vector<std::string>& supported,
                            const std::string& command) {
  bool ok = false;
  for (const auto& s : supported) ok = ok || s == name;
  const ModelInfo* m = find_model(name);
  if (!ok || !m)
    throw UsageError(fmt::format("--model: '{}' is not supported by {} (supported: {})", name, command,
                                 fmt::join(supported, ", ")));
  return *m;
}

namespace {

// "--workers" help from the registry rows of the models this command offers.
std::string workers_help(const std::vector<std::string>& models) {
  std::vector<std::string> parts;
  bool one_client_each = false;
  for (const auto& name : models) {
    const ModelInfo* m = find_model(name);
    if (!m || m->workers_are.empty()) continue;
    parts.push_back(fmt::format("{}: {} (default {}, at most {})", m->name, m->workers_are, m->default_workers,
                                m->max_workers));
    one_client_each = one_client_each || m->one_client_per_worker;
  }
  if (parts.empty()) return "not used by the models of this command";
  std::string help = fmt::format("workers for {}", fmt::join(parts, "; "));
  if (one_client_each)
    help += ". A prefork or pool worker serves one client at a time: with N workers busy, client N+1 "
            "waits in the listen backlog until one is free";
  return help;
}

std::vector<std::string> models_with_workers() {
  std::vector<std::string> out;
  for (const auto& m : model_registry())
    if (!m.workers_are.empty()) out.push_back(m.name);
  return out;
}

// --workers against the chosen model: one line that says what is wrong (exit 2).
int checked_workers(const ServerOptions& o, const ModelInfo& info) {
  if (!o.workers_given) return 0;  // the model's default
  if (o.workers < 1)
    throw UsageError(fmt::format("--workers: {} is not a worker count (a server needs at least 1 worker)", o.workers));
  if (info.workers_are.empty())
    throw UsageError(fmt::format("--workers: model '{}' has no workers (--workers applies to {})", info.name,
                                 fmt::join(models_with_workers(), ", ")));
  if (o.workers > info.max_workers)
    throw UsageError(fmt::format("--workers: {} is more than model '{}' allows ({} {} at most)", o.workers, info.name,
                                 info.max_workers, info.workers_are));
  return o.workers;
}

}  // namespace

void add_server_options(CLI::App& app, ServerOptions& o, int default_port, const std::string& default_model,
                        const std::vector<std::string>& models, const std::string& command) {
  o.port = default_port;
  o.model = default_model;
  app.add_option("--port", o.port, "TCP/UDP port to listen on (0 = any free port)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  app.add_option("--bind", o.bind, "address to bind (IPv4 or IPv6)")->capture_default_str();
  app.add_option("--model", o.model, fmt::format("concurrency model: {}", fmt::join(models, ", ")))
      ->capture_default_str();
  app.add_flag("--quiet", o.quiet, "no per-message log lines");
  app.add_option_function<int>(
         "--workers",
         [&o](int n) {
           o.workers = n;
           o.workers_given = true;
         },
         workers_help(models))
      ->type_name("N");
  app.add_option("--max-queue", o.max_queue, "bytes of pending output per client before it is disconnected")
      ->check(CLI::Range(size_t{1}, size_t{1} << 40))
      ->capture_default_str();
  app.add_option("--max-clients", o.max_clients, "refuse clients beyond this many (0 = as descriptors allow)")
      ->capture_default_str();
  app.add_option_function<size_t>(
         "--max-per-ip", [&o](size_t n) { o.max_per_ip = n; },
         "connections at once from one address (an IPv6 /64) (0 = no limit; default 16 for every address "
         "but loopback)")
      ->type_name("N");
  app.add_option_function<double>(
         "--connect-rate", [&o](double r) { o.connect_rate = r; },
         "new connections a second from one address, after a burst of max(5, R) (0 = no limit; default 2 for "
         "every address but loopback)")
      ->check(CLI::Range(0.0, 1e9))
      ->type_name("R");
  app.add_option("--tls-cert", o.tls_cert,
                 fmt::format("serve TLS (1.2 or later) with this PEM certificate chain; re-read with --tls-key on "
                             "SIGHUP (models: {})",
                             fmt::join(model_names([](const ModelInfo& m) { return !m.completion_io; }), ", ")))
      ->type_name("FILE");
  app.add_option("--tls-key", o.tls_key, "the PEM private key of --tls-cert (default: in --tls-cert's file)")
      ->type_name("FILE");
  add_duration_option(app, "--tls-handshake-timeout", o.tls_handshake_timeout,
                      "cut off a client whose TLS handshake is not over by then (default 10 s)");
  add_metrics_option(app, o.metrics);
  add_log_format_option(app);
}

std::shared_ptr<tls::ServerContext> server_tls(const ServerOptions& o) {
  if (o.tls_cert.empty()) {
    if (!o.tls_key.empty()) throw UsageError("--tls-key: needs --tls-cert");
    return nullptr;
  }
  if (o.tls_handshake_timeout.count() <= 0) throw UsageError("--tls-handshake-timeout: must be more than 0");
  if (!o.tls_context) {
    tls::ServerSettings s;
    s.cert = o.tls_cert;
    s.key = o.tls_key.empty() ? o.tls_cert : o.tls_key;
    s.handshake_timeout = o.tls_handshake_timeout;
    o.tls_context = std::make_shared<tls::ServerContext>(s);
  }
  return o.tls_context;
}

void add_log_format_option(CLI::App& app) {
  app.add_option_function<std::string>(
         "--log-format", [](const std::string& f) { set_log_format(f == "json" ? LogFormat::json : LogFormat::text); },
         "text (the default: the lines of SPEC) or json (one object a line: time, stream, message, and the "
         "parts of a listening line as fields)")
      ->check(CLI::IsMember({"text", "json"}))
      ->type_name("FORMAT")
      ->default_str("text");
}

void add_client_tls_options(CLI::App& app, ClientTlsOptions& o) {
  app.add_flag("--tls", o.on, "speak TLS to the server, checking its certificate and --host's name or address");
  app.add_option("--tls-ca", o.ca, "PEM file of the CAs to trust (default: the system's)")->type_name("FILE");
  app.add_option("--tls-cert", o.cert, "a client certificate (PEM), for a server that asks for one")->type_name("FILE");
  app.add_option("--tls-key", o.key, "the key of --tls-cert (default: in its file)")->type_name("FILE");
}

void add_client_options(CLI::App& app, std::string& host, int& port, int default_port) {
  port = default_port;
  app.add_option("--host", host, "server address")->capture_default_str();
  app.add_option("--port", port, "server port")->check(CLI::Range(1, 65535))->capture_default_str();
}

CLI::Option* add_duration_option(CLI::App& app, const std::string& name, Millis& target, const std::string& help) {
  return app
      .add_option_function<std::string>(
          name,
          [name, &target](const std::string& text) {
            auto d = parse_duration(text);
            if (!d) throw CLI::ValidationError(name, "'" + text + "' is not a duration (e.g. 0.5, 500ms, 3s, 2m)");
            target = *d;
          },
          help)
      ->type_name("DURATION");
}

Endpoint client_endpoint(const std::string& host, int port) {
  try {
    return Endpoint::parse(host, static_cast<uint16_t>(port));
  } catch (const UsageError& e) {
    throw UsageError(std::string("--host: ") + e.what());
  }
}

int serve_stream(const ServerOptions& o, StreamService& service, const std::vector<std::string>& supported,
                 const std::string& command, ServerConfig cfg, const std::function<void()>& on_listening,
                 StopSource* stop_in) {
  const ModelInfo& info = pick_model(o.model, supported, command);
  Endpoint at;
  try {
    at = Endpoint::parse(o.bind, static_cast<uint16_t>(o.port));
  } catch (const UsageError& e) {
    throw UsageError(std::string("--bind: ") + e.what());
  }
  cfg.max_queue = o.max_queue;
  cfg.max_clients = o.max_clients;
  cfg.max_per_ip = o.max_per_ip;
  cfg.connect_rate = o.connect_rate;
  cfg.workers = checked_workers(o, info);
  cfg.tls = server_tls(o);
  if (cfg.tls && info.completion_io)
    throw UsageError(fmt::format("--tls-cert: model '{}' cannot serve TLS (its reads and writes complete in the "
                                 "kernel's ring, and OpenSSL must make them); use epoll",
                                 info.name));
  tls::ReloadOnHangup reload(cfg.tls);
  auto model = info.make();
  StopSource own_stop;
  StopSource& stop = stop_in ? *stop_in : own_stop;
  StopSignalGuard signals(stop);
  MetricsRun metrics(o.metrics);
  conn_metrics::series();  // every connection series shows from the first scrape
  FileDesc listener = tcp_listen(at);
  Endpoint bound = local_endpoint(listener.get());
  outf("listening on {} (tcp, model={})", bound.to_string(), info.name);  // SPEC §1: exact, TLS or not
  if (cfg.tls) outf("tls: {} speaks TLS 1.2 or later, certificate {}", bound.to_string(), cfg.tls->settings().cert);
  if (on_listening) on_listening();
  metrics.serving();
  sd::notify_ready();  // every listening line is out (--web's too)
  model->run(listener.get(), service, cfg, stop);
  metrics.stopping();
  return 0;
}

}  // namespace concur
