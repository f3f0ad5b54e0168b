#!/usr/bin/env bash
# Issue 19 (idle timers pile up): server RSS over DURATION of `bench echo --connections N` (closed
# loop, 64-byte messages) with --idle-timeout 600s and without, per model. RSS is sampled every
# 2 s from /proc/PID/status; flat means the last sample within +-10 % of the first one taken after
# the warm-up. Round-trips/s with the timeout should be within a few % of without.
#
# Usage: bench/run_idle_timers.sh [DURATION=60s] [CONNECTIONS=100]
#        bench/run_idle_timers.sh --summary FILE.jsonl...   (the table of earlier runs)
#   MODELS="epoll poll select uring coro thread"   models to run
#   SERVERS="before:/tmp/concur-old after:build/release/concur"
#                      label:binary pairs to compare, interleaved per model so that the machine's
#                      drift hits both alike (default: this build, labelled "this")
#   SILENT=1           one more client, connected first and silent throughout (`bench hold`):
#                      its timer, due first, is what kept a cancel-and-re-add per message (coro,
#                      uring) from ever being dropped; the 100 talkers alone do not show that
# Writes bench/results/idle_timers.jsonl (idle_timers_silent.jsonl with SILENT=1) and prints a Markdown table (bench/results/idle_timers.md
# records a run with its command).
source "$(dirname "$0")/lib.sh"
# summarize FILE...: the Markdown table of one or more .jsonl files of this script.
summarize() {
  python3 - "$@" <<'EOF'
import json, sys
rows = [json.loads(l) for f in sys.argv[1:] for l in open(f) if l.strip()]
print("| server | model | --idle-timeout | silent clients | round-trips/s | vs off | server CPU µs/round-trip | vs off "
      "| RSS after warm-up (KiB) | RSS at end (KiB) | change | max (KiB) |")
print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
base = {}
for r in rows:
    if r["idle_timeout"] == "off":
        base[(r["server"], r["model"], r.get("silent", 0))] = r["result"] or {}
for r in rows:
    res = r["result"] or {}
    s = [kib for t, kib in r["rss_samples"] if t >= 4 and kib > 0] or [kib for _, kib in r["rss_samples"]]
    first, last, most = s[0], s[-1], max(s)
    rt = res.get("per_second", 0)
    cpu = res.get("server_cpu_ms_per_million", 0) / 1000
    off = base.get((r["server"], r["model"], r.get("silent", 0)), {})
    vs = vs_cpu = ""
    if r["idle_timeout"] != "off" and off.get("per_second"):
        vs = f"{100 * (rt / off['per_second'] - 1):+.1f} %"
        vs_cpu = f"{100 * (cpu * 1000 / off['server_cpu_ms_per_million'] - 1):+.1f} %"
    print(f"| {r['server']} | {r['model']} | {r['idle_timeout']} | {r.get('silent', 0)} | {rt:,.0f} | {vs} | {cpu:.2f} | {vs_cpu} "
          f"| {first:,} | {last:,} | {100 * (last / first - 1):+.1f} % | {most:,} |")
EOF
}
if [ "${1:-}" = --summary ]; then
  shift
  summarize "$@"
  exit 0
fi
DURATION=${1:-60s}
CONNS=${2:-100}
MODELS=${MODELS:-epoll poll select uring coro thread}
SERVERS=${SERVERS:-this:$CONCUR}
SILENT=${SILENT:-0}
SECONDS_TOTAL=${DURATION%s}
[ -x "$CONCUR" ] || (cd "$ROOT" && cmake --preset release >/dev/null && cmake --build --preset release -j2 >/dev/null)
OUT=$RESULTS/idle_timers.jsonl
[ "$SILENT" != 1 ] || OUT=$RESULTS/idle_timers_silent.jsonl
: >"$OUT"
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for model in $MODELS; do
  for pair in $SERVERS; do
    label=${pair%%:*}
    binary=${pair#*:}
    for idle in off 600s; do
      extra=()
      [ "$idle" = off ] || extra=(--idle-timeout "$idle")
      start_server "$model" "$binary" echo-server --quiet --port 0 --bind 127.0.0.1 --model "$model" "${extra[@]}" || continue
      samples=$(mktemp)
      hold_pid=
      if [ "$SILENT" = 1 ]; then
        load hold --port "$SERVER_PORT" --connections 1 --duration "$((SECONDS_TOTAL + 10))s" >/dev/null 2>&1 &
        hold_pid=$!
        sleep 0.5
      fi
      load echo --port "$SERVER_PORT" --connections "$CONNS" --duration "$DURATION" --warmup 2s \
        --server-pid "$SERVER_PID" --json >"$samples.json" 2>/dev/null &
      load_pid=$!
      t=0
      while kill -0 "$load_pid" 2>/dev/null; do
        echo "$t $(rss_kib "$SERVER_PID")" >>"$samples"
        sleep 2
        t=$((t + 2))
      done
      wait "$load_pid" || true
      if [ -n "$hold_pid" ]; then kill "$hold_pid" 2>/dev/null || true; wait "$hold_pid" 2>/dev/null || true; fi
      stop_server
      json=$(cat "$samples.json")
      rows=$(awk '{printf "%s[%d,%d]", (NR > 1 ? "," : ""), $1, $2}' "$samples")
      echo "{\"server\": \"$label\", \"model\": \"$model\", \"idle_timeout\": \"$idle\", \"silent\": $SILENT, \"loadavg_1min\": $(cut -d" " -f1 /proc/loadavg), \"rss_samples\": [$rows], \"result\": ${json:-null}}" >>"$OUT"
      echo "$label $model idle=$idle: $(tr '\n' ' ' <"$samples" | cut -c1-120)..." >&2
      rm -f "$samples" "$samples.json"
    done
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
summarize "$OUT"
