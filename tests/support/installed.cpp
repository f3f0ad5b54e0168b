#include "support/installed.hpp"

namespace concur::test {

std::string not_installed(const std::string& tool) { return tool + " is not installed; scripts/setup.sh installs it"; }

}  // namespace concur::test
