// chat-server: not yet built (see the open issues).
#include "cli/commands.hpp"
#include "core/error.hpp"

namespace concur {

Command chat_server_command() {
  return {"chat-server", "group chat over TCP or UDP", [](CLI::App& app) {
            app.allow_extras();
            return CommandRun([]() -> int { throw UsageError("chat-server: not yet available"); });
          }};
}

}  // namespace concur
