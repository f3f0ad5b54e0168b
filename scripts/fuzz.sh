#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan) and runs each for a bounded time, starting from
# fuzz/corpus/<target> plus fuzz/regressions/<target> (inputs that once crashed; replayed first).
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET=20]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
# A build failure must say so (and count as a failed target in test-all.sh), not end silently.
if ! cmake --preset fuzz >/dev/null || ! build_log=$(cmake --build --preset fuzz -j "$(nproc)" 2>&1); then
  echo "fuzz: build FAILED"
  grep -E 'error|Error' <<<"${build_log:-}" | head -20
  exit 1
fi
status=0
for t in line_framer chat_protocol reading endpoint http_request envelope; do
  bin=build/fuzz/fuzz/fuzz_$t
  work=build/fuzz/corpus-$t
  mkdir -p "$work" "fuzz/regressions/$t"
  cp -n fuzz/corpus/$t/* "$work"/ 2>/dev/null || true
  # Regressions first: each must pass as a plain run.
  if ls fuzz/regressions/$t/* >/dev/null 2>&1; then
    "$bin" fuzz/regressions/$t/* >/dev/null 2>&1 || { echo "fuzz $t: a regression input fails again"; status=1; }
  fi
  if "$bin" -max_total_time="$secs" -timeout=5 -rss_limit_mb=1024 -artifact_prefix="fuzz/regressions/$t/" \
       "$work" >"build/fuzz/$t.log" 2>&1; then
    echo "fuzz $t: ran ${secs}s clean ($(grep -o 'stat::number_of_executed_units: [0-9]*' "build/fuzz/$t.log" || tail -1 "build/fuzz/$t.log" | cut -c1-80))"
  else
    echo "fuzz $t: FAILED — crash input kept in fuzz/regressions/$t/; log: build/fuzz/$t.log"
    tail -30 "build/fuzz/$t.log"
    status=1
  fi
done
exit $status
