#include "cli/commands.hpp"

#include <cstring>
#include <iostream>

#include "core/error.hpp"
#include "core/fd_limit.hpp"
#include "core/log.hpp"
#include "core/sd_notify.hpp"
#include "core/stop.hpp"

namespace concur {

const std::vector<Command>& command_table() {
  static const std::vector<Command> table = {
      hello_server_command(),   echo_server_command(),   echo_client_command(), pair_chat_command(),
      chat_server_command(),    chat_client_command(),   counter_server_command(),
      counter_client_command(), race_demo_command(),     device_command(),      collect_command(),
      bench_command(),          demo_command(),
  };
  return table;
}

namespace {

std::string usage_line() { return "usage: concur <command> [options]   (concur --help lists the commands)"; }

// CLI11 messages may span lines; SPEC wants exactly one line on stderr for bad usage.
std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n') c = ' ';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

}  // namespace

int run_cli(int argc, char** argv) {
  ignore_sigpipe();  // no command ever dies of SIGPIPE
  sd::init_from_environment();  // before any thread: it unsets NOTIFY_SOCKET for our children
  CLI::App app{"concur — concurrent socket servers and clients, one service under every concurrency model",
               "concur"};
  app.set_version_flag("--version", std::string("concur ") + CONCUR_VERSION);
  app.require_subcommand(0, 1);
  app.footer("Run 'concur <command> --help' for the options of a command. SPEC: docs/ and README.md.");
  std::vector<std::pair<CLI::App*, CommandRun>> runs;
  for (const auto& cmd : command_table()) {
    CLI::App* sub = app.add_subcommand(cmd.name, cmd.summary);
    runs.emplace_back(sub, cmd.setup(*sub));
  }

  if (argc >= 2 && argv[1][0] != '-') {
    bool known = false;
    for (const auto& cmd : command_table()) known = known || cmd.name == argv[1];
    if (!known) {
      err_line(std::string("concur: unknown command '") + argv[1] + "' (concur --help lists the commands)");
      return 2;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help, --version: printed on stdout, exit 0
  } catch (const CLI::ParseError& e) {
    err_line("concur: " + one_line(e.what()));
    return 2;
  }
  for (auto& [sub, run] : runs) {
    if (!sub->parsed()) continue;
    // Servers, devices, the collector and bench hold a descriptor per peer: take what the hard
    // limit allows (the soft default, often 1024, would cap them far below it).
    raise_open_files_limit();
    try {
      return run();
    } catch (const UsageError& e) {
      err_line(std::string("concur: ") + one_line(e.what()));
      return 2;
    } catch (const std::exception& e) {
      err_line(std::string("concur: ") + one_line(e.what()));
      return 1;
    }
  }
  err_line("concur: no command given; " + usage_line());
  return 2;
}

}  // namespace concur
