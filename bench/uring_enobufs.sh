#!/usr/bin/env bash
# How often the uring model's provided-buffer ring runs dry under a closed-loop echo load: counts
# the recv completions that end with -ENOBUFS (io_uring:io_uring_complete tracepoint, needs
# `perf` and perf_event_paranoid <= 1 or root) during one second of the run, next to rt/s and p99.
# Usage: bench/uring_enobufs.sh [CONNS=10000] [BINARY=build/release/concur]
# e.g. an older build against this one: bench/uring_enobufs.sh 10000 /tmp/concur-old; bench/uring_enobufs.sh 10000
# CONCUR_URING_BUFFERS=COUNTxSIZE[whole] in the environment shapes the ring (whole: no incremental use).
source "$(dirname "$0")/lib.sh"
CONNS=${1:-10000}
BIN=${2:-$CONCUR}
ensure_built
ulimit -n 20000
TRACE=$(mktemp)
start_server uring "$BIN" echo-server --quiet --port 0 --bind 127.0.0.1 --max-queue 16777216 --model uring
LOAD_OUT=$(mktemp)
load echo --port "$SERVER_PORT" --connections "$CONNS" --size 64 --duration 3s --warmup 1s --sources 4 \
  --server-pid "$SERVER_PID" --json >"$LOAD_OUT" &
LOAD_PID=$!
sleep 1.5
# System-wide, then the completions of this server's ring (found by its PID). Not every multishot
# completion passes the tracepoint on every kernel set-up, but the final ENOBUFS one does.
perf record -a -e io_uring:io_uring_complete -o "$TRACE" -- sleep 1 2>&1 | grep -i -E "error|fail" >&2 || true
wait "$LOAD_PID" || true
stop_server
perf script -i "$TRACE" >"$TRACE.txt" 2>/dev/null || true
RING=$(awk -v pid="$SERVER_PID" '$2 == pid {print $7; exit}' "$TRACE.txt")
total=$(grep -c -F "ring ${RING:-none}" "$TRACE.txt" || true)
dry=$(grep -F "ring ${RING:-none}" "$TRACE.txt" | grep -c 'result -105' || true)
python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print("%s: %s connections: ENOBUFS %s of %s traced completions in 1 s; %.0f rt/s, p99 %.0f ms, errors %d" % (sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], d["per_second"], d["p99_us"] / 1000, d["errors"]))' \
  "$LOAD_OUT" "$BIN" "$CONNS" "$dry" "$total"
rm -f "$TRACE" "$TRACE.txt" "$LOAD_OUT"
