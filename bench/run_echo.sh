#!/usr/bin/env bash
# Echo, 64-byte messages: every concur model and the libuv and Asio peers, one server core each,
# interleaved runs, medians with min-max and ratios to libuv. The headline is server CPU per
# round-trip at a fixed offered load (RATE round-trips/s in all, the same for every server): in a
# closed loop the load generator, not the server, is the limit at 1,000+ connections, so rt/s
# would measure the client. RATE=0 runs the closed loop instead (throughput).
# Usage: bench/run_echo.sh [RUNS=5] [DURATION=3s] [RATE=10000]
# Writes bench/results/echo.md, echo.jsonl and echo.svg. LOAD_CPU=1-4 gives the generator four
# CPUs (and four threads: `concur bench echo --threads` defaults to half its CPUs, at most 4).
# CONNS="1000 10000" and ONLY="uring libuv" narrow the runs (e.g. while tuning one model); a
# narrowed run writes ${TMPDIR:-/tmp}/concur-echo-partial.{jsonl,md,svg}, not the committed report.
source "$(dirname "$0")/lib.sh"
RUNS=${1:-5}
DURATION=${2:-3s}
RATE=${3:-10000}
RATE_ARGS=()
[ "$RATE" != 0 ] && RATE_ARGS=(--rate "$RATE")
ensure_built
ulimit -n 20000
REPORT=$RESULTS/echo
[ -n "${CONNS:-}${ONLY:-}" ] && REPORT=${TMPDIR:-/tmp}/concur-echo-partial
OUT=$REPORT.jsonl
: >"$OUT"
declare -A SERVERS=(
  [epoll]="$CONCUR echo-server --quiet --port 0 --bind 127.0.0.1 --max-queue 16777216 --model epoll"
  [uring]="$CONCUR echo-server --quiet --port 0 --bind 127.0.0.1 --max-queue 16777216 --model uring"
  [coro]="$CONCUR echo-server --quiet --port 0 --bind 127.0.0.1 --max-queue 16777216 --model coro"
  [thread]="$CONCUR echo-server --quiet --port 0 --bind 127.0.0.1 --model thread"
  [process]="$CONCUR echo-server --quiet --port 0 --bind 127.0.0.1 --model process"
  [select]="$CONCUR echo-server --quiet --port 0 --bind 127.0.0.1 --model select"
  [poll]="$CONCUR echo-server --quiet --port 0 --bind 127.0.0.1 --model poll"
  [libuv]="$BUILD/bench/peer_uv_echo 0"
  [asio]="$BUILD/bench/peer_asio_echo 0"
)
# Which servers at which connection counts: select stops at FD_SETSIZE; a thread or a process per
# client is pointless at 10,000.
declare -A AT=(
  [100]="epoll uring coro libuv asio thread process select poll"
  [1000]="epoll uring coro libuv asio thread poll"
  [10000]="epoll uring coro libuv asio"
)
for run in $(seq "$RUNS"); do
  for conns in ${CONNS:-100 1000 10000}; do
    for name in ${AT[$conns]}; do
      if [ -n "${ONLY:-}" ] && ! [[ " $ONLY " == *" $name "* ]]; then continue; fi
      start_server "$name" ${SERVERS[$name]} || continue
      # process forks a child per client: its CPU is the children's.
      children=(); [ "$name" = process ] && children=(--server-children)
      json=$(load echo --port "$SERVER_PORT" --connections "$conns" --size 64 --duration "$DURATION" --warmup 1s \
             --sources 4 --server-pid "$SERVER_PID" "${children[@]}" "${RATE_ARGS[@]}" --json || true)
      stop_server
      echo "{\"server\": \"$name\", \"run\": $run, \"result\": ${json:-null}}" >>"$OUT"
      echo "run $run  $conns conns  $name: $(echo "$json" | python3 -c 'import json, sys
d = json.load(sys.stdin)
cpu = d.get("server_cpu_ms_per_million", float("nan")) / 1000
print("%.1f us server CPU/rt  %.0f rt/s  p99 %.0f us  errors %d" % (cpu, d["per_second"], d["p99_us"], d["errors"]))' \
        2>/dev/null || echo failed)"
    done
  done
done
python3 "$(dirname "$0")/summarize.py" echo "$OUT" "$REPORT.md" "$REPORT.svg" \
  "${CONNS:+CONNS=\"$CONNS\" }${ONLY:+ONLY=\"$ONLY\" }bench/run_echo.sh $RUNS $DURATION $RATE"
