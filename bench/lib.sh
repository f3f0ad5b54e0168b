# Shared helpers for the bench/run_*.sh scripts (sourced).
# Servers run pinned to CPU 0 and the load generator to CPU 1, so that the two never compete.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build/release}
CONCUR=$BUILD/concur
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
RESULTS=$ROOT/bench/results
mkdir -p "$RESULTS"

ensure_built() {
  if [ ! -x "$CONCUR" ] || [ ! -x "$BUILD/bench/peer_uv_echo" ]; then
    (cd "$ROOT" && cmake --preset release >/dev/null && cmake --build --preset release -j"$(nproc)" >/dev/null)
  fi
}

# start_server NAME CMD...: starts CMD pinned to the server CPU, waits for its "listening on" line,
# sets SERVER_PID and SERVER_PORT.
start_server() {
  local name=$1; shift
  local out; out=$(mktemp)
  taskset -c "$SERVER_CPU" "$@" >"$out" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 100); do
    if grep -q "listening on" "$out" 2>/dev/null; then break; fi
    sleep 0.05
  done
  SERVER_PORT=$(sed -n 's/^listening on .*:\([0-9]*\) (.*/\1/p' "$out" | head -1)
  rm -f "$out"
  if [ -z "$SERVER_PORT" ]; then echo "bench: $name did not start" >&2; kill "$SERVER_PID" 2>/dev/null || true; return 1; fi
}

stop_server() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
}

load() { taskset -c "$LOAD_CPU" "$CONCUR" bench "$@"; }
