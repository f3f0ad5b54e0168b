# Shared by the package tests: failing loudly, and tools that scripts/setup.sh installs (a missing
# one is a failure, never a skip: the machine is not set up).
fail() { echo "FAIL: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || fail "$1 is not installed; scripts/setup.sh installs it"; }
units=(concur-chat concur-collect concur-device)
