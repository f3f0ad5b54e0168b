#!/usr/bin/env bash
# Before/after in one run: the same scenarios against the servers of two builds, interleaved
# (the order flips every run), driven by ONE load generator (the first build's `concur bench`),
# so a change to the server is measured with a fixed instrument. Medians and after/before ratios.
# Usage: bench/compare_builds.sh BEFORE_CONCUR AFTER_CONCUR [RUNS=3] [DURATION=2s] [HOLD_CONNS=2000]
# Scenarios: echo (100 clients: epoll uring coro select poll; 1000: epoll), chat fan-out (epoll,
# 100 members), idle memory per held connection (epoll uring coro thread pool: server RSS;
# process prefork: the children's private memory, USS — at most 1,000 clients, pool and prefork
# with one worker per client). ONLY=REGEX narrows to matching names. GEN=PATH drives the load with
# another build's `concur bench` (e.g. the after build's, when the before build's generator lacks
# --server-children); the instrument is still one binary for both.
source "$(dirname "$0")/lib.sh"
BEFORE=${1:?usage: compare_builds.sh BEFORE_CONCUR AFTER_CONCUR [RUNS] [DURATION] [HOLD_CONNS]}
AFTER=${2:?usage: compare_builds.sh BEFORE_CONCUR AFTER_CONCUR [RUNS] [DURATION] [HOLD_CONNS]}
RUNS=${3:-3}
DURATION=${4:-2s}
HOLD=${5:-2000}
ulimit -n 20000
OUT=$(mktemp)
GEN=${GEN:-$BEFORE}
gen() { taskset -c "$LOAD_CPU" "$GEN" bench "$@"; }

# scenario NAME KIND(echo|chat|hold|hold-children) MODEL CONNS [SERVER OPTIONS...]
scenario() {
  local name=$1 kind=$2 model=$3 conns=$4 build bin json
  shift 4
  [[ $name =~ ${ONLY:-.} ]] || return 0  # ONLY=REGEX runs the scenarios whose name matches
  local order="before after"
  [ $((run % 2)) -eq 0 ] && order="after before"
  for build in $order; do
    bin=$BEFORE; [ "$build" = after ] && bin=$AFTER
    case $kind in
      echo)
        start_server "$name" "$bin" echo-server --quiet --port 0 --bind 127.0.0.1 --max-queue 16777216 --model "$model" || continue
        json=$(gen echo --port "$SERVER_PORT" --connections "$conns" --size 64 --duration "$DURATION" --warmup 1s \
               --sources 4 --server-pid "$SERVER_PID" --json || true) ;;
      chat)
        start_server "$name" "$bin" chat-server --quiet --port 0 --bind 127.0.0.1 --model "$model" \
          --max-clients 0 --max-per-ip 0 --rate 0 || continue
        json=$(gen chat --target concur --port "$SERVER_PORT" --connections "$conns" --size 64 --pipeline 1 \
               --duration "$DURATION" --warmup 1s --sources 4 --server-pid "$SERVER_PID" --json || true) ;;
      hold|hold-children)
        start_server "$name" "$bin" echo-server --quiet --port 0 --bind 127.0.0.1 --model "$model" "$@" || continue
        local children=()
        [ "$kind" = hold-children ] && children=(--server-children)
        json=$(gen hold --port "$SERVER_PORT" --connections "$conns" --duration 2s --sources 8 \
               --server-pid "$SERVER_PID" "${children[@]}" --json || true) ;;
    esac
    stop_server
    echo "{\"scenario\": \"$name\", \"kind\": \"$kind\", \"build\": \"$build\", \"result\": ${json:-null}}" >>"$OUT"
    echo "run $run $name $build: $(echo "${json:-null}" | head -c 200)" >&2
  done
}

for run in $(seq "$RUNS"); do
  for m in epoll uring coro select poll; do scenario "echo $m 100" echo "$m" 100; done
  scenario "echo epoll 1000" echo epoll 1000
  scenario "chat epoll 100" chat epoll 100
  for m in epoll uring coro thread; do scenario "hold $m $HOLD" hold "$m" "$HOLD"; done
  forked=$((HOLD < 1000 ? HOLD : 1000))
  scenario "hold process $forked" hold-children process "$forked"
  scenario "hold prefork $forked" hold-children prefork "$forked" --workers "$forked"
  pooled=$((HOLD < 4096 ? HOLD : 4096))
  scenario "hold pool $pooled" hold pool "$pooled" --workers "$pooled"
done

CMD="bench/compare_builds.sh $*"
[ "$GEN" != "$BEFORE" ] && CMD="GEN=$GEN $CMD"
[ -n "${ONLY:-}" ] && CMD="ONLY='$ONLY' $CMD"
python3 - "$OUT" "$CMD" <<'PY'
import json, statistics, sys
from collections import defaultdict
vals = defaultdict(list)
for line in open(sys.argv[1]):
    d = json.loads(line)
    r = d["result"]
    if not r or r.get("errors"):
        continue
    key = {"hold": "server_rss_kib_per_connection",
           "hold-children": "server_children_uss_kib_per_connection"}.get(d["kind"], "per_second")
    if key in r:
        vals[(d["scenario"], d["build"])].append(r[key])
print(f"Command: `{sys.argv[2].strip()}`; medians (min–max); hold is KiB per idle connection: server RSS, "
      "or for process and prefork the children's private memory (USS).\n")
print("| scenario | before | after | after/before |")
print("|---|---|---|---|")
seen = []
for (s, _b) in vals:
    if s not in seen:
        seen.append(s)
for s in seen:
    b, a = vals.get((s, "before"), []), vals.get((s, "after"), [])
    f = lambda v: f"{statistics.median(v):,.2f} ({min(v):,.2f}–{max(v):,.2f})" if v else "n/a"
    ratio = f"{statistics.median(a) / statistics.median(b):.3f}" if a and b else "n/a"
    print(f"| {s} | {f(b)} | {f(a)} | {ratio} |")
PY
rm -f "$OUT"
