#!/usr/bin/env bash
# Group-chat fan-out: concur chat-server (epoll) against Redis pub/sub (Debian's redis-server,
# started here on a free loopback port and stopped by PID), the same load generator, members,
# 64-byte lines, every member but one observer sending. The "federated" row is one room over two
# chat-servers (epoll) sharing that Redis (chat-server --redis), members split evenly; its server
# CPU is both chat-servers plus Redis.
# Usage: bench/run_chat.sh [RUNS=5] [DURATION=3s] [PIPELINE=1]
# Writes bench/results/chat.md, chat.jsonl and chat.svg.
source "$(dirname "$0")/lib.sh"
RUNS=${1:-5}
DURATION=${2:-3s}
PIPELINE=${3:-1}
ensure_built
ulimit -n 20000
command -v redis-server >/dev/null || { echo "bench: redis-server is not installed (apt-get install redis-server)" >&2; exit 1; }
OUT=$RESULTS/chat.jsonl
: >"$OUT"
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
# start_federated: Redis plus two chat-servers of one room; sets SERVER_PID (the first chat-server),
# SERVER_PORT, EXTRA (the bench options for the second server and the other PIDs) and FED_PIDS.
start_federated() {
  start_redis || return 1
  local redis_pid=$SERVER_PID redis_port=$SERVER_PORT ports=() pids=() out
  for _ in 1 2; do
    out=$(mktemp)
    taskset -c "$SERVER_CPU" "$CONCUR" chat-server --quiet --port 0 --bind 127.0.0.1 --model epoll \
      --max-clients 0 --max-per-ip 0 --rate 0 --redis "127.0.0.1:$redis_port" >"$out" 2>&1 &
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
for run in $(seq "$RUNS"); do
  for members in 100 1000; do
    for target in concur redis federated; do
      EXTRA=""
      FED_PIDS=""
      if [ "$target" = redis ]; then
        start_redis || { echo "redis did not start" >&2; continue; }
      elif [ "$target" = federated ]; then
        start_federated || { echo "federated servers did not start" >&2; continue; }
      else
        start_server concur "$CONCUR" chat-server --quiet --port 0 --bind 127.0.0.1 --model epoll \
          --max-clients 0 --max-per-ip 0 --rate 0 || continue
      fi
      kind=$target; [ "$target" = federated ] && kind=concur
      # shellcheck disable=SC2086  # EXTRA is a list of options
      json=$(load chat --target "$kind" --port "$SERVER_PORT" --connections "$members" --size 64 \
             --pipeline "$PIPELINE" --duration "$DURATION" --warmup 1s --sources 4 --server-pid "$SERVER_PID" \
             $EXTRA --json || true)
      if [ -n "$FED_PIDS" ]; then
        # shellcheck disable=SC2086
        kill $FED_PIDS 2>/dev/null || true
        for p in $FED_PIDS; do wait "$p" 2>/dev/null || true; done
      else
        stop_server
      fi
      echo "{\"server\": \"$target\", \"run\": $run, \"result\": ${json:-null}}" >>"$OUT"
      echo "run $run $members members $target: $json"
    done
  done
done
python3 "$(dirname "$0")/summarize.py" chat "$OUT" "$RESULTS/chat.md" "$RESULTS/chat.svg" "bench/run_chat.sh $RUNS $DURATION $PIPELINE"
