#pragma once
// The command table: one row per SPEC §1 command. Each row adds its options to a CLI11
// subcommand and returns what to run once the command line is parsed; dispatch, --help and
// the docs all come from this table.
#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace concur {

using CommandRun = std::function<int()>;

struct Command {
  std::string name;
  std::string summary;
  std::function<CommandRun(CLI::App& sub)> setup;
};

const std::vector<Command>& command_table();

// Rows, each defined in its cmd_*.cpp file.
Command hello_server_command();
Command echo_server_command();
Command echo_client_command();
Command counter_server_command();
Command counter_client_command();
Command race_demo_command();
Command pair_chat_command();
Command chat_server_command();
Command chat_client_command();
Command device_command();
Command collect_command();
Command bench_command();
Command demo_command();

// Runs the CLI (used by main and by the demo/e2e helpers). Returns the exit code.
int run_cli(int argc, char** argv);

}  // namespace concur
