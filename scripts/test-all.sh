#!/usr/bin/env bash
# Builds and runs the whole suite three times: Release, ASan+UBSan, TSan (CMakePresets.json),
# then runs every libFuzzer target for a bounded time. Ends with one line "N passed, M failed"
# that adds up every ctest run and every fuzz target.
# Environment: CONCUR_PRESETS (default "release asan tsan"), CONCUR_FUZZ_SECONDS (default 16 per target, six targets; 0 skips).
set -uo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
status=0
passed=0
failed=0
presets=${CONCUR_PRESETS:-"release asan tsan"}
for preset in $presets; do
  echo "=== $preset: configure and build ==="
  if ! { cmake --preset "$preset" >/dev/null && cmake --build --preset "$preset" -j "$jobs"; }; then
    echo "=== $preset: BUILD FAILED ==="
    status=1
    failed=$((failed + 1))
    continue
  fi
  echo "=== $preset: test ==="
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
  log=$(mktemp)
  ctest --preset "$preset" -j "$jobs" 2>&1 | tee "$log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  summary=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -1)
  if [ -n "$summary" ]; then
    total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$summary")
    bad=$(sed -E 's/.* ([0-9]+) tests failed.*/\1/' <<<"$summary")
    passed=$((passed + total - bad))
    failed=$((failed + bad))
  else
    failed=$((failed + 1))
  fi
  rm -f "$log"
  # The soak (issue 13), release only: a 60-second run of bench/soak.sh (CONCUR_SOAK_SECONDS=0 skips).
  soak_secs=${CONCUR_SOAK_SECONDS:-60}
  if [ "$preset" = release ] && [ "$soak_secs" != 0 ]; then
    echo "=== soak: ${soak_secs}s ==="
    if CONCUR_BIN=build/release/concur bench/soak.sh "$soak_secs"; then
      passed=$((passed + 1))
    else
      failed=$((failed + 1))
      status=1
    fi
  fi
done
fuzz_secs=${CONCUR_FUZZ_SECONDS:-16}
if [ "$fuzz_secs" != 0 ]; then
  echo "=== fuzz: ${fuzz_secs}s per target ==="
  fuzz_log=$(mktemp)
  scripts/fuzz.sh "$fuzz_secs" | tee "$fuzz_log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  passed=$((passed + $(grep -c 'clean' "$fuzz_log")))
  failed=$((failed + $(grep -c 'FAILED\|fails again' "$fuzz_log")))
  rm -f "$fuzz_log"
fi
echo "$passed passed, $failed failed"
exit $status
