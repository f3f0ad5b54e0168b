// chat-client: not yet built (see the open issues).
#include "cli/commands.hpp"
#include "core/error.hpp"

namespace concur {

Command chat_client_command() {
  return {"chat-client", "join a group chat", [](CLI::App& app) {
            app.allow_extras();
            return CommandRun([]() -> int { throw UsageError("chat-client: not yet available"); });
          }};
}

}  // namespace concur
