#!/usr/bin/env bash
# Two load generators against the same server, in one run: the servers come from ONE build (the
# first binary's echo-server, a fixed target) and each scenario is driven by both builds'
# `concur bench echo` (and `bench chat` against one chat-server), interleaved (the order flips
# every run). Reports medians of operations/s (closed loop: the generator is the limit, so this is
# its speed, when it has its core to itself) and of the generator's own CPU per operation (user+sys
# of the bench process / round-trips or deliveries counted; includes connecting and warm-up), with
# after/before ratios.
# Usage: bench/compare_generators.sh BEFORE_CONCUR AFTER_CONCUR [RUNS=5] [DURATION=2s]
# ONLY=REGEX runs only the scenarios whose name matches (e.g. ONLY=chat).
source "$(dirname "$0")/lib.sh"
BEFORE=${1:?usage: compare_generators.sh BEFORE_CONCUR AFTER_CONCUR [RUNS] [DURATION]}
AFTER=${2:?usage: compare_generators.sh BEFORE_CONCUR AFTER_CONCUR [RUNS] [DURATION]}
RUNS=${3:-5}
DURATION=${4:-2s}
ulimit -n 20000
OUT=$(mktemp)

# scenario NAME KIND(echo|chat) CONNS [bench options...]
scenario() {
  local name=$1 kind=$2 conns=$3 build bin json cpu
  shift 3
  if [ -n "${ONLY:-}" ] && ! [[ $name =~ $ONLY ]]; then return; fi
  local order="before after"
  [ $((run % 2)) -eq 0 ] && order="after before"
  for build in $order; do
    bin=$BEFORE; [ "$build" = after ] && bin=$AFTER
    if [ "$kind" = chat ]; then
      start_server "$name" "$BEFORE" chat-server --quiet --port 0 --bind 127.0.0.1 --model epoll \
        --max-clients 0 --max-per-ip 0 --rate 0 || continue
    else
      start_server "$name" "$BEFORE" echo-server --quiet --port 0 --bind 127.0.0.1 --max-queue 16777216 --model epoll || continue
    fi
    cpu=$(mktemp)
    json=$( { TIMEFORMAT='%U %S'; time taskset -c "$LOAD_CPU" "$bin" bench "$kind" --port "$SERVER_PORT" \
              --connections "$conns" --size 64 --duration "$DURATION" --warmup 1s --sources 4 \
              --server-pid "$SERVER_PID" --json "$@" 2>/dev/null; } 2>"$cpu" || true)
    stop_server
    echo "{\"scenario\": \"$name\", \"build\": \"$build\", \"cpu\": \"$(tr -d '\n' <"$cpu")\", \"result\": ${json:-null}}" >>"$OUT"
    rm -f "$cpu"
    echo "run $run $name $build: $(echo "${json:-null}" | head -c 160)" >&2
  done
}

for run in $(seq "$RUNS"); do
  scenario "echo, closed loop, 100 connections" echo 100
  scenario "echo, closed loop, 1000 connections" echo 1000
  scenario "echo, 10000 rt/s offered, 1000 connections" echo 1000 --rate 10000
  scenario "chat fan-out, 100 members" chat 100 --pipeline 1
done

python3 - "$OUT" "bench/compare_generators.sh $* " <<'PY'
import json, statistics, sys
from collections import defaultdict
rate, cpu = defaultdict(list), defaultdict(list)
for line in open(sys.argv[1]):
    d = json.loads(line)
    r = d["result"]
    ops = r.get("roundtrips") or r.get("deliveries") if r else None
    if not r or r.get("errors") or not ops:
        continue
    key = (d["scenario"], d["build"])
    rate[key].append(r["per_second"])
    u, s = (float(x) for x in d["cpu"].split())
    # Everything the generator did (connecting, warm-up, measuring) over the round-trips it counted.
    cpu[key].append((u + s) * 1e6 / ops)
print(f"Command: `{sys.argv[2].strip()}`; medians (min–max); server: epoll of the BEFORE build, pinned.\n")
print("| scenario | ops/s before | ops/s after | after/before | generator CPU µs/op before | after | after/before |")
print("|---|---|---|---|---|---|---|")
seen = []
for (s, _b) in rate:
    if s not in seen:
        seen.append(s)
num = lambda x: f"{x:,.0f}" if x >= 100 else f"{x:.3g}"
f = lambda v: f"{num(statistics.median(v))} ({num(min(v))}–{num(max(v))})" if v else "n/a"
ratio = lambda a, b: f"{statistics.median(a) / statistics.median(b):.3f}" if a and b else "n/a"
for s in seen:
    rb, ra = rate.get((s, "before"), []), rate.get((s, "after"), [])
    cb, ca = cpu.get((s, "before"), []), cpu.get((s, "after"), [])
    print(f"| {s} | {f(rb)} | {f(ra)} | {ratio(ra, rb)} | {f(cb)} | {f(ca)} | {ratio(ca, cb)} |")
PY
rm -f "$OUT"
