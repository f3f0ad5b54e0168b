#!/usr/bin/env bash
# Builds and runs the whole suite three times: Release, ASan+UBSan, TSan (CMakePresets.json),
# then runs clang's thread-safety analysis (scripts/check-thread-safety.sh) and every libFuzzer
# target for a bounded time. Ends with one line
# "N passed, M failed, K skipped" that adds up every ctest run, the soak and every fuzz target
# (a skipped test is counted as skipped, never as passed). A test that fails is run once more,
# alone: passing then, it counts as passed and is named under "flaky" before that line; failing
# again, it is a failure, named under "failed".
#
# Pipelined, because the tests mostly wait on sockets (Release: ~95 s of wall time for ~27 s of
# CPU) while a build keeps both cores busy: while one preset's tests run, the next preset is
# built beside them at the lowest CPU priority (nice 19), so the tests get the CPU whenever they
# want it and the build takes what they leave. The fuzz targets build and run beside the last
# preset's tests the same way.
#
# Environment: CONCUR_PRESETS (default "release asan tsan"), CONCUR_FUZZ_SECONDS (default 16 per
# target, six targets; 0 skips), CONCUR_SOAK_SECONDS (default 60, Release only; 0 skips),
# CONCUR_TEST_JOBS (ctest -j, default nproc).
set -uo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
test_jobs=${CONCUR_TEST_JOBS:-$jobs}
read -r -a presets <<<"${CONCUR_PRESETS:-release asan tsan}"
fuzz_secs=${CONCUR_FUZZ_SECONDS:-16}
soak_secs=${CONCUR_SOAK_SECONDS:-60}
status=0 passed=0 failed=0 skipped=0
failures=()  # "preset: test name" for every failure, repeated before the summary line
flaky=()     # tests that failed and then passed when run again alone, named there too
start_all=$SECONDS
mkdir -p build
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1

stamp() { printf '[%4ds] ' $((SECONDS - start_all)); }

# build PRESET: configure and build; its output goes to build/PRESET.build.log.
build() {
  local preset=$1
  { cmake --preset "$preset" && cmake --build --preset "$preset" -j "$jobs"; } >"build/$preset.build.log" 2>&1
}

# The job beside the tests: the next preset's build, or the fuzz run after the last preset.
side_pid="" side_what=""
start_side() {
  side_what=$1
  (
    renice -n 19 -p "$BASHPID" >/dev/null  # inherited by everything the job starts
    if [ "$side_what" = fuzz ]; then
      # clang's -Wthread-safety over the annotated sources first (about a minute), then the fuzzers.
      scripts/check-thread-safety.sh 1 >build/thread-safety.log 2>&1
      scripts/fuzz.sh "$fuzz_secs" >build/fuzz.log 2>&1
    else build "$side_what"; fi
  ) &
  side_pid=$!
  echo "$(stamp)=== $side_what: started beside the tests (nice 19) ==="
}
# finish_side: waits for the side job; returns its exit status.
finish_side() {
  local rc=0
  [ -n "$side_pid" ] || return 0
  wait "$side_pid" || rc=$?
  side_pid=""
  return $rc
}

build_failed() {
  echo "$(stamp)=== $1: BUILD FAILED (build/$1.build.log) ==="
  grep -E 'error|Error' "build/$1.build.log" | head -30
  status=1
  failed=$((failed + 1))
  failures+=("$1: build failed")
}

# failed_names LOG: ctest's "The following tests FAILED:" list, e.g. "12 - Suite.Name (Failed)".
failed_names() {
  sed -n '/^The following tests FAILED:/,/^[^[:space:]]/p' "$1" | grep -E '^[[:space:]]+[0-9]+ - ' | sed -E 's/^[[:space:]]+//'
}

# run_tests PRESET: the preset's whole suite; a test that fails is run once more, alone (-j1). One
# that passes then is counted as passed and named as flaky at the end — the shared 2-core machine
# runs the next preset's build beside the tests — and one that fails again is a failure.
run_tests() {
  local preset=$1 log rerun
  log=$(mktemp) rerun=$(mktemp)
  echo "$(stamp)=== $preset: test ==="
  ctest --preset "$preset" -j "$test_jobs" 2>&1 | tee "$log"
  local summary total bad skip name
  summary=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -1)
  if [ -z "$summary" ]; then
    status=1
    failed=$((failed + 1))
    failures+=("$preset: ctest printed no summary")
    rm -f "$log" "$rerun"
    echo "$(stamp)=== $preset: tests done ==="
    return
  fi
  total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$summary")
  bad=$(sed -E 's/.* ([0-9]+) tests failed.*/\1/' <<<"$summary")
  # ctest lists every skipped test under "The following tests did not run:" as "(Skipped)".
  skip=$(grep -cE '^[[:space:]]*[0-9]+ - .*\(Skipped\)$' "$log")
  skipped=$((skipped + skip))
  passed=$((passed + total - bad - skip))
  if ((bad > 0)); then
    echo "$(stamp)=== $preset: $bad failed; each is run once more, alone ==="
    ctest --preset "$preset" --rerun-failed -j 1 2>&1 | tee "$rerun"
    local again
    again=$(failed_names "$rerun")
    while IFS= read -r name; do
      [ -n "$name" ] || continue
      # The rerun numbers tests as the first run did: a name not failing again passed.
      if grep -qxF -- "$name" <<<"$again"; then
        failures+=("$preset: $name")
        failed=$((failed + 1))
        status=1
      else
        flaky+=("$preset: $name")
        passed=$((passed + 1))
      fi
    done < <(failed_names "$log")
  fi
  rm -f "$log" "$rerun"
  echo "$(stamp)=== $preset: tests done ==="
}

run_soak() {
  echo "$(stamp)=== soak: ${soak_secs}s ==="
  if CONCUR_BIN=build/release/concur bench/soak.sh "$soak_secs"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    status=1
    failures+=("soak: bench/soak.sh ${soak_secs}s failed")
  fi
}

echo "$(stamp)=== ${presets[0]}: configure and build ==="
built=0
build "${presets[0]}" && built=1
for ((i = 0; i < ${#presets[@]}; i++)); do
  preset=${presets[i]}
  if ((i + 1 < ${#presets[@]})); then
    start_side "${presets[i + 1]}"
  elif [ "$fuzz_secs" != 0 ]; then
    start_side fuzz
  fi
  if ((built)); then
    run_tests "$preset"
    if [ "$preset" = release ] && [ "$soak_secs" != 0 ]; then run_soak; fi
  else
    build_failed "$preset"
  fi
  # The side job was the next preset's build: its result decides whether its tests run.
  if [ -n "$side_pid" ] && [ "$side_what" != fuzz ]; then
    built=0
    finish_side && built=1
    echo "$(stamp)=== $side_what: build finished ==="
  fi
done

if [ "$fuzz_secs" != 0 ]; then
  if [ -z "$side_pid" ]; then start_side fuzz; fi
  finish_side
  fuzz_rc=$?
  echo "$(stamp)=== fuzz: ${fuzz_secs}s per target ==="
  cat build/fuzz.log
  [ "$fuzz_rc" -eq 0 ] || status=1
  echo "$(stamp)=== thread-safety (clang -Wthread-safety) ==="
  cat build/thread-safety.log
  if grep -q ' 0 findings$' build/thread-safety.log; then passed=$((passed + 1)); else failed=$((failed + 1)) status=1; fi
  passed=$((passed + $(grep -c 'clean' build/fuzz.log)))
  failed=$((failed + $(grep -c 'FAILED\|fails again' build/fuzz.log)))
  while IFS= read -r line; do failures+=("fuzz: $line"); done < <(grep 'FAILED\|fails again' build/fuzz.log)
  grep -q ' 0 findings$' build/thread-safety.log || failures+=("thread-safety: findings (build/thread-safety.log)")
fi
echo "$(stamp)=== done ==="
# The failures again, at the end, where a reader of only the log's tail will see them.
if ((${#flaky[@]})); then
  echo "flaky (failed, then passed when run again alone; counted as passed):"
  printf '  %s\n' "${flaky[@]}"
fi
if ((${#failures[@]})); then
  echo "failed:"
  printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed, $skipped skipped"
exit $status
