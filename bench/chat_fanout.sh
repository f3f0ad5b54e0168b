#!/usr/bin/env bash
# Chat fan-out: `concur chat-server --model epoll` against redis-server pub/sub, driven by the same
# load generator (`concur bench chat`: N members, S of them sending stamped lines with a bounded
# number in flight, every member receiving every other member's lines; latency is send -> delivery
# at one observer member). Writes bench/results/chat_fanout.md.
#
#   bench/chat_fanout.sh [path/to/concur]        (default: build/release/concur)
#   N_LIST="100 1000" SENDERS=4 SIZE=64 PIPELINE=8 DURATION=5 WORKERS=1 bench/chat_fanout.sh
#
# Loopback only. Every server started here is stopped by its PID; nothing else is touched.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-${CONCUR:-build/release/concur}}
N_LIST=${N_LIST:-"100 1000"}
SENDERS=${SENDERS:-4}
SIZE=${SIZE:-64}
PIPELINE=${PIPELINE:-8}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
WORKERS=${WORKERS:-1}
OUT=${OUT:-bench/results/chat_fanout.md}
REDIS=${REDIS:-$(command -v redis-server || true)}
[ -x "$BIN" ] || { echo "chat_fanout.sh: no concur binary at $BIN" >&2; exit 2; }
[ -n "$REDIS" ] || { echo "chat_fanout.sh: redis-server not found" >&2; exit 2; }

TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Starts concur chat-server; sets SERVER_PID and PORT.
start_concur() {
  "$BIN" chat-server --model epoll --workers "$WORKERS" --quiet --rate 0 --port 0 --bind 127.0.0.1 \
    >"$TMP/concur.log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  for _ in $(seq 100); do
    PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$TMP/concur.log" | head -1)
    [ -n "$PORT" ] && return 0
    sleep 0.05
  done
  echo "concur chat-server did not start" >&2; cat "$TMP/concur.log" >&2; exit 1
}

start_redis() {
  PORT=$(free_port)
  "$REDIS" --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --maxclients 10000 \
    --logfile "$TMP/redis.log" --dir "$TMP" &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  for _ in $(seq 100); do
    redis-cli -p "$PORT" ping >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "redis-server did not start" >&2; exit 1
}

stop_server() { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; }

run() {  # target n -> one JSON line
  "$BIN" bench chat --target "$1" --port "$PORT" --connections "$2" --senders "$SENDERS" --size "$SIZE" \
    --pipeline "$PIPELINE" --duration "$DURATION" --warmup "$WARMUP" --server-pid "$SERVER_PID" --json
}

ROWS="$TMP/rows"
: >"$ROWS"
for n in $N_LIST; do
  for target in concur redis; do
    if [ "$target" = concur ]; then start_concur; else start_redis; fi
    json=$(run "$target" "$n")
    stop_server
    echo "$target $n $json" >>"$ROWS"
    echo "$target N=$n: $json" >&2
  done
done

python3 - "$ROWS" "$OUT" "$BIN" <<'PY'
import json, subprocess, sys, platform, os
rows_path, out, binary = sys.argv[1:4]
rows = []
for line in open(rows_path):
    target, n, js = line.split(' ', 2)
    rows.append((target, int(n), json.loads(js)))
def cpu():
    try:
        for l in open('/proc/cpuinfo'):
            if l.startswith('model name'): return l.split(':', 1)[1].strip()
    except OSError: pass
    return platform.processor()
redis_v = subprocess.run(['redis-server', '--version'], capture_output=True, text=True).stdout.strip()
env = os.environ
with open(out, 'w') as f:
    f.write('# Chat fan-out: concur chat-server (epoll) vs redis-server pub/sub\n\n')
    f.write('Command: `bench/chat_fanout.sh %s` with N_LIST="%s" SENDERS=%s SIZE=%s PIPELINE=%s DURATION=%s WORKERS=%s\n\n'
            % (binary, env.get('N_LIST', '100 1000'), env.get('SENDERS', '4'), env.get('SIZE', '64'),
               env.get('PIPELINE', '8'), env.get('DURATION', '5'), env.get('WORKERS', '1')))
    f.write('Load generator: `concur bench chat` (one epoll thread; N members, of which SENDERS send stamped '
            'lines with PIPELINE in flight each; every member receives every other sender\'s lines; latency is '
            'measured from send to delivery). concur: `chat-server --model epoll --quiet --rate 0`. '
            'Redis: `%s`, `--save \'\' --appendonly no`, one channel, members SUBSCRIBE, senders PUBLISH on a '
            'second connection.\n\n' % redis_v)
    f.write('Machine: %s, %d CPUs (shared with other work while measured; load generator and server on the '
            'same cores).\n\n' % (cpu(), os.cpu_count()))
    f.write('| server | N members | deliveries/s | p50 us | p99 us | p99.9 us | errors | server CPU s | server CPU ms per 1M deliveries |\n')
    f.write('|---|---:|---:|---:|---:|---:|---:|---:|---:|\n')
    for target, n, r in rows:
        f.write('| %s | %d | %.0f | %.1f | %.1f | %.1f | %d | %.2f | %.0f |\n'
                % ('concur epoll' if target == 'concur' else 'redis pub/sub', n, r['per_second'], r['p50_us'],
                   r['p99_us'], r['p999_us'], r['errors'], r.get('server_cpu_seconds', float('nan')),
                   r.get('server_cpu_ms_per_million', float('nan'))))
print('wrote', out)
PY
