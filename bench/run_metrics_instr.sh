#!/usr/bin/env bash
# Issue 22, the load-independent half of the --metrics cost: user-space instructions per echo
# round-trip of echo-server (callgrind's Ir, counted over the measured window only: zeroed after
# the warm-up, dumped when the generator ends), without --metrics and with it scraped once a second.
# Instruction counts do not move with the machine's load the way CPU time does (the two other
# engineers' builds move server CPU per round-trip by ±10 % between runs, run_metrics_cost.sh);
# kernel time (the syscalls, most of a round-trip) is not in Ir and is the same in both arms.
#
# Usage: bench/run_metrics_instr.sh [RUNS=3] [DURATION=5s] [CONNECTIONS=1000] [RATE=2000] [MODEL=epoll]
source "$(dirname "$0")/lib.sh"
RUNS=${1:-3}
DURATION=${2:-5s}
CONNS=${3:-1000}
RATE=${4:-2000}
MODEL=${5:-epoll}
ulimit -n 20000
command -v valgrind >/dev/null || { echo "bench: valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
OUT=$RESULTS/metrics_instr.jsonl
: >"$OUT"
dir=$(mktemp -d)
for run in $(seq "$RUNS"); do
  order="off on"
  [ $((run % 2)) -eq 0 ] && order="on off"
  for metrics in $order; do
    extra=()
    [ "$metrics" = on ] && extra=(--metrics 127.0.0.1:0)
    rm -f "$dir"/cg.*
    taskset -c "$SERVER_CPU" valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" "$CONCUR" echo-server --quiet \
      --port 0 --bind 127.0.0.1 --model "$MODEL" "${extra[@]}" >"$dir/log" 2>&1 &
    vpid=$!
    for _ in $(seq 200); do
      if grep -q "listening on" "$dir/log" && { [ "$metrics" = off ] || grep -q "metrics on" "$dir/log"; }; then break; fi
      sleep 0.1
    done
    port=$(sed -n 's/^listening on .*:\([0-9]*\) (.*/\1/p' "$dir/log" | head -1)
    mport=$(sed -n 's/^metrics on .*:\([0-9]*\)$/\1/p' "$dir/log" | head -1)
    scraper=
    if [ -n "$mport" ]; then
      (while curl -s -o /dev/null "http://127.0.0.1:$mport/metrics"; do sleep 1; done) &
      scraper=$!
    fi
    (sleep 2; callgrind_control -z "$vpid" >/dev/null) &
    zero=$!
    json=$(load echo --port "$port" --connections "$CONNS" --size 64 --duration "$DURATION" --warmup 2s --rate "$RATE" \
           --sources 4 --json 2>/dev/null || true)
    wait "$zero" || true
    callgrind_control -d "$vpid" >/dev/null
    [ -n "$scraper" ] && { kill "$scraper" 2>/dev/null || true; wait "$scraper" 2>/dev/null || true; }
    kill "$vpid" 2>/dev/null || true
    wait "$vpid" 2>/dev/null || true
    ir=$(grep -h '^summary:' "$dir"/cg.out.1* 2>/dev/null | head -1 | awk '{print $2}')
    rt=$(echo "$json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["roundtrips"])' 2>/dev/null || echo 0)
    echo "{\"run\": $run, \"model\": \"$MODEL\", \"metrics\": \"$metrics\", \"ir\": ${ir:-0}, \"roundtrips\": $rt}" >>"$OUT"
    echo "run $run metrics=$metrics: Ir ${ir:-?} over $rt round-trips" >&2
  done
done
rm -rf "$dir"
python3 - "$OUT" "bench/run_metrics_instr.sh $*" <<'PY'
import json, statistics, sys
from collections import defaultdict
per = defaultdict(list)
for line in open(sys.argv[1]):
    d = json.loads(line)
    if d["ir"] and d["roundtrips"]:
        per[d["metrics"]].append(d["ir"] / d["roundtrips"])
print(f"Command: `{sys.argv[2].strip()}`; user-space instructions (callgrind Ir) per round-trip, median (min–max).\n")
print("| --metrics | Ir per round-trip | on − off | on/off |")
print("|---|---:|---:|---:|")
off, on = per["off"], per["on"]
f = lambda v: f"{statistics.median(v):,.0f} ({min(v):,.0f}–{max(v):,.0f})"
if off: print(f"| off | {f(off)} | | |")
if on and off:
    print(f"| on, scraped 1/s | {f(on)} | {statistics.median(on) - statistics.median(off):+,.0f} | {statistics.median(on) / statistics.median(off):.3f} |")
PY
