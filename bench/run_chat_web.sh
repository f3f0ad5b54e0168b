#!/usr/bin/env bash
# WebSocket members against TCP members of one chat-server (issue 15's goal: a WebSocket member
# costs at most 1.5x the server CPU per delivery of a TCP member). One server process
# (chat-server --model epoll --web 0) serves both; runs alternate TCP / WebSocket with the same
# load generator, members, 64-byte messages and pacing, so they are measured in one run.
# Usage: bench/run_chat_web.sh [RUNS=5] [DURATION=3s] [MEMBERS=1000] [SENDERS=0 (all but the observer)]
# Writes bench/results/chat_web.md and chat_web.jsonl.
source "$(dirname "$0")/lib.sh"
RUNS=${1:-5}
DURATION=${2:-3s}
MEMBERS=${3:-1000}
SENDERS=${4:-0}
ensure_built
ulimit -n 20000
OUT=$RESULTS/chat_web.jsonl
: >"$OUT"
for run in $(seq "$RUNS"); do
  for target in concur web; do
    log=$(mktemp)
    taskset -c "$SERVER_CPU" "$CONCUR" chat-server --quiet --port 0 --web 0 --bind 127.0.0.1 --model epoll \
      --max-clients 0 --max-per-ip 0 --rate 0 >"$log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do grep -q "(http, web)" "$log" && break; sleep 0.05; done
    if [ "$target" = web ]; then port=$(sed -n 's/^listening on .*:\([0-9]*\) (http, web)$/\1/p' "$log")
    else port=$(sed -n 's/^listening on .*:\([0-9]*\) (tcp, .*/\1/p' "$log"); fi
    json=$(load chat --target "$target" --port "$port" --connections "$MEMBERS" --size 64 --pipeline 1 \
           --senders "$SENDERS" --duration "$DURATION" --warmup 1s --sources 4 --server-pid "$pid" --json || true)
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -f "$log"
    echo "{\"target\": \"$target\", \"run\": $run, \"result\": ${json:-null}}" >>"$OUT"
    echo "run $run $target: $json"
  done
done
python3 - "$OUT" "$RESULTS/chat_web.md" "bench/run_chat_web.sh $RUNS $DURATION $MEMBERS $SENDERS" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = {"concur": [], "web": []}
for r in rows:
    if r["result"]:
        by[r["target"]].append(r["result"])
def med(k, t): return statistics.median(x[k] for x in by[t]) if by[t] else float("nan")
def rng(k, t): return f'{min(x[k] for x in by[t]):.0f}–{max(x[k] for x in by[t]):.0f}' if by[t] else "-"
runs = sorted({r["run"] for r in rows})
ratios = []
for run in runs:
    pair = {r["target"]: r["result"] for r in rows if r["run"] == run and r["result"]}
    if "concur" in pair and "web" in pair and pair["concur"]["server_cpu_ms_per_million"] > 0:
        ratios.append(pair["web"]["server_cpu_ms_per_million"] / pair["concur"]["server_cpu_ms_per_million"])
members = by["web"][0]["connections"] if by["web"] else "?"
with open(sys.argv[2], "w") as f:
    f.write(f"# Chat fan-out: WebSocket members vs TCP members ({members} members, one chat-server)\n\n")
    f.write(f"Command: `{sys.argv[3]}` — chat-server --model epoll --web 0 pinned to CPU 0, the load\n")
    f.write("generator on CPU 1; 64-byte messages, one in flight per sender\n")
    f.write(f"(senders: {int(by['web'][0]['senders']) if by['web'] else '?'}).\n")
    f.write("TCP members go through the epoll model; WebSocket members through the web server's own thread.\n\n")
    f.write("| members over | deliveries/s (median, min–max) | p99 µs | server CPU ms per million deliveries |\n|---|---|---|---|\n")
    for t, name in (("concur", "TCP"), ("web", "WebSocket")):
        f.write(f"| {name} | {med('per_second', t):.0f} ({rng('per_second', t)}) | {med('p99_us', t):.0f} | {med('server_cpu_ms_per_million', t):.1f} |\n")
    if ratios:
        f.write(f"\nServer CPU per delivery, WebSocket / TCP, per run pair: median {statistics.median(ratios):.2f}x "
                f"(min {min(ratios):.2f}, max {max(ratios):.2f}); the goal is at most 1.5x.\n")
print(open(sys.argv[2]).read())
PY
