// counter-server, counter-client, race-demo: the lecture's race condition and its fixes.
#include <fmt/format.h>

#include <thread>
#include <vector>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/socket.hpp"
#include "models/model.hpp"
#include "services/counter.hpp"

namespace concur {

namespace {

// The models that give each client a thread of its own (the registry's can_run_long_callbacks).
std::vector<std::string> counter_models() { return model_names(can_run_long_callbacks); }
constexpr size_t kDefaultCountingClients = 64;

void add_sync_option(CLI::App& app, std::string& sync) {
  app.add_option("--sync", sync, "none (lost updates), mutex (the seed's lock) or atomic")
      ->check(CLI::IsMember({"none", "mutex", "atomic"}))
      ->capture_default_str();
}

}  // namespace

Command counter_server_command() {
  return {"counter-server", "each client adds to one shared counter; shows the race and its fix", [](CLI::App& app) {
            auto o = std::make_shared<ServerOptions>();
            auto sync = std::make_shared<std::string>("mutex");
            auto increments = std::make_shared<uint64_t>(10'000'000);
            // Counting threads are CPU-bound: past a few per core they only slow each other down,
            // and each costs a thread. Extras are told `error: server full`.
            o->max_clients = kDefaultCountingClients;
            add_server_options(app, *o, 2500, "thread", counter_models(), "counter-server");
            add_sync_option(app, *sync);
            app.add_option("--increments", *increments, "additions per connection")->capture_default_str();
            return CommandRun([o, sync, increments] {
              SyncMode mode{};
              parse_sync_mode(*sync, mode);
              StopSource stop;  // the service watches it too: SIGTERM ends a count in progress
              CounterService service(mode, *increments, o->quiet, &stop);
              return serve_stream(*o, service, counter_models(), "counter-server", {}, {}, &stop);
            });
          }};
}

Command counter_client_command() {
  return {"counter-client", "connect to counter-server and print the number it sends", [](CLI::App& app) {
            auto host = std::make_shared<std::string>("127.0.0.1");
            auto port = std::make_shared<int>(2500);
            add_client_options(app, *host, *port, 2500);
            return CommandRun([host, port] {
              FileDesc sock = tcp_connect(client_endpoint(*host, *port));
              std::string text;
              char buf[256];
              ssize_t n;
              while ((n = ::recv(sock.get(), buf, sizeof buf, 0)) > 0 || (n < 0 && errno == EINTR))
                if (n > 0) text.append(buf, static_cast<size_t>(n));
              if (text.empty()) throw SysError("no number from " + *host + ":" + std::to_string(*port), ECONNRESET);
              out_line(escape_for_terminal(text));
              return 0;
            });
          }};
}

Command race_demo_command() {
  return {"race-demo", "threads increment a shared x; see lost updates and the fixes (race_cond.py)",
          [](CLI::App& app) {
            struct Opts {
              int threads = 2;
              uint64_t iterations = 300000;
              int rounds = 10;
              std::string sync = "none";
            };
            auto o = std::make_shared<Opts>();
            app.add_option("--threads", o->threads, "threads per round")->check(CLI::Range(1, 1024))->capture_default_str();
            app.add_option("--iterations", o->iterations, "increments per thread")->capture_default_str();
            app.add_option("--rounds", o->rounds, "rounds")->check(CLI::Range(1, 1000000))->capture_default_str();
            add_sync_option(app, o->sync);
            return CommandRun([o] {
              SyncMode mode{};
              parse_sync_mode(o->sync, mode);
              for (int round = 0; round < o->rounds; ++round) {
                SharedCounter x(mode);
                std::vector<std::thread> threads;
                for (int t = 0; t < o->threads; ++t)
                  threads.emplace_back([&] { x.add_times(o->iterations); });
                for (auto& t : threads) t.join();
                outf("Iteration {}: x = {}", round, x.value());
              }
              return 0;
            });
          }};
}

}  // namespace concur
