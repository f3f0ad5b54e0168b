// demo: not yet built (see the open issues).
#include "cli/commands.hpp"
#include "core/error.hpp"

namespace concur {

Command demo_command() {
  return {"demo", "guided tour of everything on loopback", [](CLI::App& app) {
            app.allow_extras();
            return CommandRun([]() -> int { throw UsageError("demo: not yet available"); });
          }};
}

}  // namespace concur
