#!/usr/bin/env bash
# Issue 22: what --metrics costs the server. The same binary's echo-server under `bench echo
# --connections N` (closed loop, 64-byte messages), without --metrics and with `--metrics :0`
# scraped once a second (as Prometheus would, by curl), interleaved (the order flips every run)
# so that the shared machine's drift hits both alike. The figure that counts is server CPU per
# round-trip (its CPU time, every thread — the endpoint's too — over the measured round-trips);
# round-trips/s are printed as well. Medians over RUNS and the on/off ratio.
#
# Usage: bench/run_metrics_cost.sh [RUNS=5] [DURATION=10s] [CONNECTIONS=1000] [RATE=20000]
#   RATE: offered round-trips/s in all (`bench echo --rate`; 0 = closed loop). A fixed offered load
#   keeps the server's batching alike in both arms, so CPU per round-trip compares like with like
#   (closed loop on a shared machine moves it by ±25 % between runs of one arm).
#   MODELS="epoll thread"   models to run
source "$(dirname "$0")/lib.sh"
RUNS=${1:-5}
DURATION=${2:-10s}
CONNS=${3:-1000}
RATE=${4:-20000}
MODELS=${MODELS:-epoll thread}
ulimit -n 20000
[ -x "$CONCUR" ] || (cd "$ROOT" && cmake --preset release >/dev/null && cmake --build --preset release -j2 >/dev/null)
OUT=$RESULTS/metrics_cost.jsonl
: >"$OUT"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for run in $(seq "$RUNS"); do
  for model in $MODELS; do
    order="off on"
    [ $((run % 2)) -eq 0 ] && order="on off"
    for metrics in $order; do
      extra=()
      [ "$metrics" = on ] && extra=(--metrics 127.0.0.1:0)
      log=$(mktemp)
      taskset -c "$SERVER_CPU" "$CONCUR" echo-server --quiet --port 0 --bind 127.0.0.1 --max-queue 16777216 \
        --model "$model" "${extra[@]}" >"$log" 2>&1 &
      SERVER_PID=$!
      for _ in $(seq 100); do
        if grep -q "listening on" "$log" && { [ "$metrics" = off ] || grep -q "metrics on" "$log"; }; then break; fi
        sleep 0.05
      done
      SERVER_PORT=$(sed -n 's/^listening on .*:\([0-9]*\) (.*/\1/p' "$log" | head -1)
      MPORT=$(sed -n 's/^metrics on .*:\([0-9]*\)$/\1/p' "$log" | head -1)
      scraper=
      if [ -n "$MPORT" ]; then
        (while curl -s -o /dev/null "http://127.0.0.1:$MPORT/metrics"; do sleep 1; done) &
        scraper=$!
      fi
      json=$(load echo --port "$SERVER_PORT" --connections "$CONNS" --size 64 --duration "$DURATION" --warmup 2s \
             --rate "$RATE" --sources 4 --server-pid "$SERVER_PID" --json 2>/dev/null || true)
      scrape=
      [ -n "$MPORT" ] && scrape=$(curl -s "http://127.0.0.1:$MPORT/metrics" | grep -E '^concur_(connections_accepted|received_bytes)_total ' | tr '\n' ' ')
      [ -n "$scraper" ] && { kill "$scraper" 2>/dev/null || true; wait "$scraper" 2>/dev/null || true; }
      kill "$SERVER_PID" 2>/dev/null || true
      wait "$SERVER_PID" 2>/dev/null || true
      rm -f "$log"
      echo "{\"run\": $run, \"model\": \"$model\", \"metrics\": \"$metrics\", \"loadavg_1min\": $(cut -d' ' -f1 /proc/loadavg), \"result\": ${json:-null}}" >>"$OUT"
      echo "run $run $model metrics=$metrics: $(echo "${json:-null}" | head -c 160) $scrape" >&2
    done
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
python3 - "$OUT" "bench/run_metrics_cost.sh $*" <<'PY'
import json, statistics, sys
from collections import defaultdict
cpu, rt = defaultdict(list), defaultdict(list)
for line in open(sys.argv[1]):
    d = json.loads(line)
    r = d["result"]
    if not r or r.get("errors"):
        continue
    cpu[(d["model"], d["metrics"])].append(r["server_cpu_ms_per_million"] / 1000)
    rt[(d["model"], d["metrics"])].append(r["per_second"])
print(f"Command: `{sys.argv[2].strip()}`; medians (min–max) over the runs.\n")
print("| model | server CPU µs/round-trip, off | on (scraped 1/s) | on/off | round-trips/s, off | on | on/off |")
print("|---|---:|---:|---:|---:|---:|---:|")
f = lambda v, p: f"{statistics.median(v):,.{p}f} ({min(v):,.{p}f}–{max(v):,.{p}f})" if v else "n/a"
r = lambda a, b: f"{statistics.median(a) / statistics.median(b):.3f}" if a and b else "n/a"
for m in dict.fromkeys(k[0] for k in cpu):
    off, on = cpu[(m, "off")], cpu[(m, "on")]
    print(f"| {m} | {f(off, 2)} | {f(on, 2)} | {r(on, off)} | {f(rt[(m, 'off')], 0)} | {f(rt[(m, 'on')], 0)} | {r(rt[(m, 'on')], rt[(m, 'off')])} |")
PY
