#pragma once
// Options shared by several commands (SPEC §1 "Common options") and the server start-up that
// every server command goes through: bind, print the `listening on` line, run the model, stop
// cleanly on SIGINT/SIGTERM.
#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/duration.hpp"
#include "core/endpoint.hpp"
#include "models/model.hpp"
#include "clients/tls_client.hpp"
#include "tls/tls_context.hpp"

namespace concur {

struct ServerOptions {
  int port = 0;
  std::string bind = "0.0.0.0";
  std::string model;
  bool quiet = false;
  int workers = 0;            // as given by --workers (checked against the model in serve_stream)
  bool workers_given = false;
  size_t max_queue = 1 << 20;
  size_t max_clients = 0;
  std::optional<size_t> max_per_ip;   // --max-per-ip; unset: 16 for every address but loopback
  std::optional<double> connect_rate; // --connect-rate; unset: 2/s after 5, but loopback
  std::string metrics;        // --metrics ADDR:PORT; empty: no endpoint
  std::string tls_cert;       // --tls-cert PEM; empty: plain TCP
  std::string tls_key;        // --tls-key PEM; empty: the key is in --tls-cert's file
  Millis tls_handshake_timeout{10'000};
  // The context made from them, once (server_tls()): the chat port and --web share it.
  mutable std::shared_ptr<tls::ServerContext> tls_context;
};

// The TLS context of --tls-cert/--tls-key (made on first use; nullptr without --tls-cert). A file
// that cannot be used is exit 1 with one line naming it; --tls-key alone is a usage error.
std::shared_ptr<tls::ServerContext> server_tls(const ServerOptions& o);

// --port, --bind, --model (checked against `models`), --quiet, --workers (checked against the
// model), --max-queue, --max-clients, --max-per-ip, --connect-rate, --tls-cert, --tls-key,
// --tls-handshake-timeout, --metrics, --log-format.
void add_server_options(CLI::App& app, ServerOptions& o, int default_port, const std::string& default_model,
                        const std::vector<std::string>& models, const std::string& command);
// --log-format text|json for every server command (set as soon as it is parsed, so that even a
// usage error after it comes out as JSON). Part of add_server_options; device and collect call it.
void add_log_format_option(CLI::App& app);
// --tls, --tls-ca, --tls-cert, --tls-key for clients.
void add_client_tls_options(CLI::App& app, ClientTlsOptions& o);
// --host and --port for clients.
void add_client_options(CLI::App& app, std::string& host, int& port, int default_port);
// A duration option ("0.5", "500ms", "3s", "2m"); a bad value names the option.
CLI::Option* add_duration_option(CLI::App& app, const std::string& name, Millis& target, const std::string& help);

// Throws UsageError naming --model when the model is unknown or not supported by the command.
const ModelInfo& pick_model(const std::string& name, const std::vector<std::string>& supported,
                            const std::string& command);
std::vector<std::string> all_model_names();

// Binds, prints "listening on <ip>:<port> (tcp, model=<m>)", serves until SIGINT/SIGTERM. Returns 0.
// `on_listening` runs right after that line (a second listener, e.g. --web, announces itself there).
// `stop`, when given, is the stop source the signals fire (for a service that watches it too).
// With --metrics, the endpoint is bound before and announced after those (cli/metrics_option.hpp).
int serve_stream(const ServerOptions& o, StreamService& service, const std::vector<std::string>& supported,
                 const std::string& command, ServerConfig cfg = {}, const std::function<void()>& on_listening = {},
                 StopSource* stop = nullptr);

// Resolves --host (numeric, or "localhost") for a client, naming the option when it is bad.
Endpoint client_endpoint(const std::string& host, int port);

}  // namespace concur
