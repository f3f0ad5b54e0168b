#!/usr/bin/env bash
# uring against epoll and the libuv peer: server CPU µs per round-trip at a fixed offered load
# (issue 14: uring's CPU per round-trip at 1,000 and 10,000 connections vs libuv's), 64-byte
# echo, one server core, interleaved runs, medians with min-max and the ratio to libuv of the
# same run. Usage: bench/run_uring.sh [RUNS=3] [DURATION=3s] [RATE=10000] [CONNS="1000 10000"]
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
for run in $(seq "$RUNS"); do
  for conns in $CONNS; do
    for name in $SERVERS_TO_RUN; do
      start_server "$name" ${SERVERS[$name]} || continue
      json=$(load echo --port "$SERVER_PORT" --connections "$conns" --size 64 --duration "$DURATION" --warmup 1s \
             --sources 4 --rate "$RATE" --server-pid "$SERVER_PID" --json || true)
      stop_server
      echo "{\"server\": \"$name\", \"conns\": $conns, \"run\": $run, \"result\": ${json:-null}}" >>"$OUT"
      printf 'run %s  %5s conns  %-6s ' "$run" "$conns" "$name"
      python3 - "$json" <<'PY' || echo failed
import json, sys
d = json.loads(sys.argv[1])
flat = dict(d)
flat.update(d.get("extra", {}) if isinstance(d.get("extra"), dict) else {})
print(f"{flat.get('per_second', 0):.0f} rt/s  cpu {flat.get('server_cpu_ms_per_million', 0) / 1000:.2f} us/rt  missed {flat.get('offers_missed', 0):.0f}  errors {flat.get('errors', 0)}")
PY
    done
  done
done
python3 - "$OUT" "$RATE" "$RUNS" "$DURATION" "$CONNS" >"$RESULTS/uring.md" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
rate, runs, duration, conns = sys.argv[2:6]
def flat(d):
    f = dict(d); x = d.get("extra")
    if isinstance(x, dict): f.update(x)
    return f
print(f"# uring vs epoll vs libuv: server CPU per round-trip at a fixed offered load\n")
print(f"Command: `bench/run_uring.sh {runs} {duration} {rate} \"{conns}\"` — 64-byte echo, {rate} round-trips/s offered, "
      "server pinned to CPU 0, generator to CPU 1, interleaved runs; medians (min–max).\n")
print("| connections | server | server CPU µs/rt | ratio to libuv | rt/s | p99 µs | offers missed |")
print("|---|---|---|---|---|---|---|")
for c in sorted({r["conns"] for r in rows}):
    med = {}
    for s in ["uring", "epoll", "libuv"]:
        rs = [flat(r["result"]) for r in rows if r["conns"] == c and r["server"] == s and r["result"]]
        if not rs: continue
        cpu = [x["server_cpu_ms_per_million"] / 1000 for x in rs]
        med[s] = statistics.median(cpu)
    for s in med:
        rs = [flat(r["result"]) for r in rows if r["conns"] == c and r["server"] == s and r["result"]]
        cpu = [x["server_cpu_ms_per_million"] / 1000 for x in rs]
        ratio = f"{med[s] / med['libuv']:.2f}×" if "libuv" in med else "—"
        print(f"| {c:,} | {s} | {med[s]:.2f} ({min(cpu):.2f}–{max(cpu):.2f}) | {ratio} | "
              f"{statistics.median(x['per_second'] for x in rs):,.0f} | {statistics.median(x['p99_us'] for x in rs):,.0f} | "
              f"{statistics.median(x.get('offers_missed', 0) for x in rs):,.0f} |")
PY
cat "$RESULTS/uring.md"
rm -f "$OUT"
