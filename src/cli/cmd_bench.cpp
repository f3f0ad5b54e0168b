// bench: the load generator (echo, chat fan-out, idle connections) behind the performance report,
// and `bench models`, which runs the same echo load against every concurrency model.
#include <unistd.h>

#include "bench/echo_load.hpp"
#include "bench/models_bench.hpp"
#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "core/error.hpp"
#include "core/log.hpp"

namespace concur {

Command bench_command() {
  return {"bench",
          "load generator: echo round-trips, chat fan-out, idle connections held; 'bench models' compares every "
          "concurrency model",
          [](CLI::App& app) {
            auto mode = std::make_shared<std::string>();
            auto o = std::make_shared<LoadOptions>();
            auto models = std::make_shared<std::vector<std::string>>();
            auto svg = std::make_shared<std::string>();
            app.add_option("mode", *mode,
                           "echo | chat | hold | models (models: starts echo-server under every model itself and "
                           "prints one row per model)")
                ->required()
                ->check(CLI::IsMember({"echo", "chat", "hold", "models"}));
            app.add_option("--host", o->host, "server address")->capture_default_str();
            app.add_option("--port", o->port, "server port")->check(CLI::Range(1, 65535))->capture_default_str();
            app.add_option("--connections", o->connections,
                           "connections (chat: members); at most what the descriptor limit allows")
                ->check(CLI::Range(1, 1 << 20))
                ->capture_default_str();
            app.add_option("--size", o->size, "message size in bytes")->check(CLI::Range(size_t{1}, size_t{1} << 20))->capture_default_str();
            app.add_option("--pipeline", o->pipeline, "messages in flight per connection (chat: per sender)")
                ->check(CLI::Range(1, 1024))
                ->capture_default_str();
            add_duration_option(app, "--duration", o->duration, "measured time (default 5s)");
            add_duration_option(app, "--warmup", o->warmup, "warm-up before measuring (default 1s)");
            auto rate = app.add_option("--rate", o->rate,
                                       "echo, models: offer this many round-trips/s in all (one message in flight per "
                                       "connection), so that server CPU per round-trip compares like with like; 0: "
                                       "closed loop (each echo starts the next message). Default: echo 0, models "
                                       + fmt::format("{:.0f}", kModelsDefaultRate))
                            ->check(CLI::NonNegativeNumber);
            auto threads = app.add_option("--threads", o->threads,
                                          "echo, models: split the connections over N event loops on N threads "
                                          "(at most one per connection). Default: 1 with at most 2 usable CPUs (or "
                                          "when pinned to one, e.g. taskset -c 1), else half the CPUs, at most 4")
                               ->check(CLI::Range(1, 256));
            app.add_option("--sources", o->sources, "spread connections over 127.0.0.1..127.0.0.N")
                ->check(CLI::Range(1, 254))
                ->capture_default_str();
            app.add_option("--server-pid", o->server_pid, "server process for CPU and RSS figures");
            app.add_flag("--server-children", o->server_children,
                         "count the server's child processes in its CPU and memory (process, prefork)");
            app.add_option("--target", o->target,
                           "chat: concur (chat-server), web (chat-server --web: WebSocket members; --port is the web port) "
                           "or redis (pub/sub)")
                ->check(CLI::IsMember({"concur", "web", "redis"}))
                ->capture_default_str();
            app.add_option("--senders", o->senders, "chat: members that send (0 = all but the observer)")
                ->capture_default_str();
            app.add_option("--models", *models, "models: only these models (comma-separated; default all)")
                ->delimiter(',');
            app.add_option("--svg", *svg, "models: also draw the table as an SVG chart into this file");
            app.add_option("--extra-port", o->extra_ports,
                           "chat: more servers of one federated room (chat-server --redis); members are split "
                           "evenly over --port and these")
                ->check(CLI::Range(1, 65535));
            app.add_option("--extra-pid", o->extra_pids, "more server processes whose CPU is added (e.g. Redis)");
            app.add_flag("--tls", o->tls.on,
                         "echo, chat (--target concur or web), hold: every connection speaks TLS, checking the server's "
                         "certificate against --tls-ca (default: the system's CAs) and --host");
            auto tls_ca = app.add_option("--tls-ca", o->tls.ca, "with --tls: PEM file of the CAs to trust")
                              ->type_name("FILE");
            auto insecure = std::make_shared<bool>(false);
            auto insecure_opt = app.add_flag("--tls-insecure", *insecure,
                                             "with --tls, for measuring only: do not check the server's certificate "
                                             "or name (encrypted, not authenticated)");
            app.add_flag("--json", o->json, "print one JSON object instead of text");
            return CommandRun([mode, o, models, svg, rate, threads, tls_ca, insecure, insecure_opt] {
              o->progress = ::isatty(STDERR_FILENO) && !o->json;
              if (threads->count() && *mode != "echo" && *mode != "models")
                throw UsageError("--threads: only echo and models run several generator threads");
              if (rate->count() && o->rate > 0 && *mode != "echo" && *mode != "models")
                throw UsageError("--rate: only echo and models offer a fixed rate");
              if (!o->tls.on && (tls_ca->count() || insecure_opt->count()))
                throw UsageError(std::string(tls_ca->count() ? "--tls-ca" : "--tls-insecure") + ": needs --tls");
              if (o->tls.on && *mode == "models")
                throw UsageError("--tls: bench models runs plain echo servers (echo, chat and hold speak TLS)");
              if (o->tls.on && o->target == "redis")
                throw UsageError("--tls: chat --target redis is plain TCP (concur's Redis link has no TLS)");
              if (*insecure && !o->tls.ca.empty())
                throw UsageError("--tls-insecure: checks no certificate, so --tls-ca would not be used");
              o->tls.verify = !*insecure;
              require_descriptors_for(o->connections);
              if (*mode == "models") {
                ModelsBenchOptions mo;
                mo.load = *o;
                if (!rate->count()) mo.load.rate = kModelsDefaultRate;
                mo.models = *models;
                mo.svg = *svg;
                mo.json = o->json;
                ModelsBenchResult r = run_models_bench(mo);
                print_models_table(r, mo);
                if (!svg->empty()) write_models_svg(r, mo, *svg);
                uint64_t errors = 0;
                for (const auto& row : r.rows) errors += row.report.errors;
                for (const auto& row : r.alone) errors += row.report.errors;
                return errors == 0 ? 0 : 1;
              }
              BenchReport r = *mode == "echo" ? run_echo_load(*o) : *mode == "hold" ? run_hold_load(*o) : run_chat_load(*o);
              print_report(r, o->json);
              return r.errors == 0 ? 0 : 1;
            });
          }};
}

}  // namespace concur
