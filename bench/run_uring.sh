#!/usr/bin/env bash
# uring against epoll and the libuv peer: server CPU µs per round-trip at a fixed offered load
# (issue 14: uring's CPU per round-trip at 1,000 and 10,000 connections vs libuv's), 64-byte
# echo, one server core, interleaved runs, medians with min-max and the ratio to libuv of the
# same run; the order of the servers rotates from run to run. The generator offers RATE round
# trips/s in all (one message in flight per connection), so every server does the same work and
# the generator (which saturates its core in a closed loop at 1,000+ connections) is not the limit.
# Usage: bench/run_uring.sh [RUNS=3] [DURATION=3s] [RATE=10000] [CONNS="1000 10000"]
# Prints a markdown table (also to bench/results/uring.md).
source "$(dirname "$0")/lib.sh"
RUNS=${1:-3}
DURATION=${2:-3s}
RATE=${3:-10000}
CONNS=${4:-1000 10000}
SERVERS_TO_RUN=${SERVERS_TO_RUN:-uring epoll libuv}
ensure_built
ulimit -n 20000
OUT=$(mktemp)
declare -A SERVERS=(
  [epoll]="$CONCUR echo-server --quiet --port 0 --bind 127.0.0.1 --max-queue 16777216 --model epoll"
  [uring]="$CONCUR echo-server --quiet --port 0 --bind 127.0.0.1 --max-queue 16777216 --model uring"
  [libuv]="$BUILD/bench/peer_uv_echo 0"
)
read -r -a ORDER <<<"$SERVERS_TO_RUN"
for run in $(seq "$RUNS"); do
  for conns in $CONNS; do
    for name in "${ORDER[@]}"; do
      start_server "$name" ${SERVERS[$name]} || continue
      json=$(load echo --port "$SERVER_PORT" --connections "$conns" --size 64 --duration "$DURATION" --warmup 1s \
             --sources 4 --rate "$RATE" --server-pid "$SERVER_PID" --json || true)
      stop_server
      echo "{\"server\": \"$name\", \"conns\": $conns, \"run\": $run, \"result\": ${json:-null}}" >>"$OUT"
      printf 'run %s  %5s conns  %-6s ' "$run" "$conns" "$name"
      python3 -c 'import json, sys; d = json.loads(sys.argv[1]); print("%.0f rt/s  cpu %.2f us/rt  missed %.0f  errors %d" % (d["per_second"], d["server_cpu_ms_per_million"] / 1000, d.get("offers_missed", 0), d["errors"]))' "$json" || echo failed
    done
  done
  ORDER=("${ORDER[@]:1}" "${ORDER[0]}")
done
python3 - "$OUT" "$RATE" "$RUNS" "$DURATION" "$CONNS" >"$RESULTS/uring.md" <<'PY'
import json, statistics, sys
rows = [r for r in (json.loads(l) for l in open(sys.argv[1])) if r["result"]]
rate, runs, duration, conns = sys.argv[2:6]
cpu = lambda r: r["result"]["server_cpu_ms_per_million"] / 1000
print("# uring vs epoll vs libuv: server CPU per round-trip at a fixed offered load\n")
print(f"Command: `bench/run_uring.sh {runs} {duration} {rate} \"{conns}\"` — 64-byte echo, {rate} round-trips/s offered, "
      "server pinned to CPU 0, generator to CPU 1, interleaved runs (order rotating); medians (min–max). "
      "*Paired ratio*: the median over runs of this server's CPU divided by libuv's in the same run.\n")
print("| connections | server | server CPU µs/rt | ratio of medians | paired ratio | rt/s | p99 µs | offers missed |")
print("|---|---|---|---|---|---|---|---|")
for c in sorted({r["conns"] for r in rows}):
    of = lambda s: [r for r in rows if r["conns"] == c and r["server"] == s]
    libuv = {r["run"]: cpu(r) for r in of("libuv")}
    for s in ["uring", "epoll", "libuv"]:
        rs = of(s)
        if not rs: continue
        xs = [cpu(r) for r in rs]
        med = statistics.median(xs)
        ratio = f"{med / statistics.median(libuv.values()):.2f}×" if libuv else "—"
        paired = [cpu(r) / libuv[r["run"]] for r in rs if r["run"] in libuv]
        pr = f"{statistics.median(paired):.2f}× ({min(paired):.2f}–{max(paired):.2f})" if paired else "—"
        print(f"| {c:,} | {s} | {med:.2f} ({min(xs):.2f}–{max(xs):.2f}) | {ratio} | {pr} | "
              f"{statistics.median(r['result']['per_second'] for r in rs):,.0f} | "
              f"{statistics.median(r['result']['p99_us'] for r in rs):,.0f} | "
              f"{statistics.median(r['result'].get('offers_missed', 0) for r in rs):,.0f} |")
PY
cat "$RESULTS/uring.md"
rm -f "$OUT"
