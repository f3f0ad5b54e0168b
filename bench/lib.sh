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

# start_redis: Debian's redis-server on a free loopback port, pinned to the server CPU; sets
# SERVER_PID and SERVER_PORT.
start_redis() {
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  taskset -c "$SERVER_CPU" redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
    --protected-mode no --maxclients 19000 --client-output-buffer-limit "pubsub 256mb 64mb 60" \
    --loglevel warning >/dev/null 2>&1 &
  SERVER_PID=$!
  SERVER_PORT=$port
  for _ in $(seq 100); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  return 1
}
# start_federated [CHAT-SERVER OPTIONS...]: Redis plus two chat-servers of one room (with those
# options); sets SERVER_PID (the first chat-server), SERVER_PORT, EXTRA (the bench options for the
# second server and the other PIDs) and FED_PIDS.
start_federated() {
  start_redis || return 1
  local redis_pid=$SERVER_PID redis_port=$SERVER_PORT ports=() pids=() out
  for _ in 1 2; do
    out=$(mktemp)
    taskset -c "$SERVER_CPU" "$CONCUR" chat-server --quiet --port 0 --bind 127.0.0.1 --model epoll \
      --max-clients 0 --max-per-ip 0 --rate 0 --redis "127.0.0.1:$redis_port" "$@" >"$out" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do grep -q "redis: connected" "$out" && break; sleep 0.05; done
    ports+=("$(sed -n 's/^listening on .*:\([0-9]*\) (.*/\1/p' "$out" | head -1)")
    rm -f "$out"
  done
  SERVER_PID=${pids[0]}
  SERVER_PORT=${ports[0]}
  EXTRA="--extra-port ${ports[1]} --extra-pid ${pids[1]} --extra-pid $redis_pid"
  FED_PIDS="${pids[*]} $redis_pid"
}

# stop_federated: the servers start_federated started.
stop_federated() {
  # shellcheck disable=SC2086
  kill $FED_PIDS 2>/dev/null || true
  for p in $FED_PIDS; do wait "$p" 2>/dev/null || true; done
}
