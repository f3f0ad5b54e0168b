#pragma once
// Tools that scripts/setup.sh installs (python3, tmux, redis-server, mosquitto, prometheus). A test that needs
// one and does not find it FAILS with this message, never skips: the machine is not set up, and a
// skipped test would look like a passing one.
#include <string>

namespace concur::test {

// "<tool> is not installed; scripts/setup.sh installs it"
std::string not_installed(const std::string& tool);

}  // namespace concur::test
