// bench: not yet built (see the open issues).
#include "cli/commands.hpp"
#include "core/error.hpp"

namespace concur {

Command bench_command() {
  return {"bench", "load generator (echo | chat | hold)", [](CLI::App& app) {
            app.allow_extras();
            return CommandRun([]() -> int { throw UsageError("bench: not yet available"); });
          }};
}

}  // namespace concur
