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
