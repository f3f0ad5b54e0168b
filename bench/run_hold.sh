#!/usr/bin/env bash
# Idle connections: each model holds N connections (spread over 127.0.0.1..8), then every one is
# checked to still echo; the server's RSS growth per connection is reported.
# Usage: bench/run_hold.sh [CONNECTIONS=18000] [RUNS=3] [HOLD=5s]
# Writes bench/results/hold.md, hold.jsonl and hold.svg.
source "$(dirname "$0")/lib.sh"
CONNS=${1:-18000}
RUNS=${2:-3}
HOLD=${3:-5s}
ensure_built
ulimit -n 20000
OUT=$RESULTS/hold.jsonl
: >"$OUT"
for run in $(seq "$RUNS"); do
  for model in epoll uring coro thread; do
    start_server "$model" "$CONCUR" echo-server --quiet --port 0 --bind 127.0.0.1 --model "$model" || continue
    json=$(load hold --port "$SERVER_PORT" --connections "$CONNS" --duration "$HOLD" --sources 8 \
           --server-pid "$SERVER_PID" --json || true)
    stop_server
    echo "{\"server\": \"$model\", \"run\": $run, \"result\": ${json:-null}}" >>"$OUT"
    echo "run $run $model: $json"
  done
done
python3 "$(dirname "$0")/summarize.py" hold "$OUT" "$RESULTS/hold.md" "$RESULTS/hold.svg" "bench/run_hold.sh $CONNS $RUNS $HOLD"
