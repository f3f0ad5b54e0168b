// pair-chat: not yet built (see the open issues).
#include "cli/commands.hpp"
#include "core/error.hpp"

namespace concur {

Command pair_chat_command() {
  return {"pair-chat", "1:1 full-duplex chat (server | client)", [](CLI::App& app) {
            app.allow_extras();
            return CommandRun([]() -> int { throw UsageError("pair-chat: not yet available"); });
          }};
}

}  // namespace concur
