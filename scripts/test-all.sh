#!/usr/bin/env bash
# Builds and runs the whole suite three times: Release, ASan+UBSan, TSan (CMakePresets.json).
# Each ctest run ends with ctest's own summary line; the script fails if any run fails.
set -uo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
status=0
presets=${CONCUR_PRESETS:-"release asan tsan"}
for preset in $presets; do
  echo "=== $preset: configure and build ==="
  cmake --preset "$preset" >/dev/null || { status=1; continue; }
  cmake --build --preset "$preset" -j "$jobs" || { status=1; continue; }
  echo "=== $preset: test ==="
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
  ctest --preset "$preset" -j "$jobs" || status=1
done
exit $status
