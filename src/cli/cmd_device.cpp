// device: not yet built (see the open issues).
#include "cli/commands.hpp"
#include "core/error.hpp"

namespace concur {

Command device_command() {
  return {"device", "IoT device simulator (env | health)", [](CLI::App& app) {
            app.allow_extras();
            return CommandRun([]() -> int { throw UsageError("device: not yet available"); });
          }};
}

}  // namespace concur
