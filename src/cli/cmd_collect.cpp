// collect: not yet built (see the open issues).
#include "cli/commands.hpp"
#include "core/error.hpp"

namespace concur {

Command collect_command() {
  return {"collect", "collect device readings into data.txt", [](CLI::App& app) {
            app.allow_extras();
            return CommandRun([]() -> int { throw UsageError("collect: not yet available"); });
          }};
}

}  // namespace concur
