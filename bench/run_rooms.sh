#!/usr/bin/env bash
# Rooms that lose nothing (issue 20): one room over two chat-servers (epoll) sharing one Redis,
# members split evenly, every member but one observer sending 64-byte lines. "lossless" is the
# room with its log in Redis (the default --history 1000: a Lua script per message that appends
# to a stream and publishes), "pubsub" the same room with --history 0 (plain PUBLISH), "redis"
# Redis pub/sub with the load generator's members as direct subscribers. The federated rows' server
# CPU is both chat-servers plus Redis.
# Then the replay rate: an instance cut off from Redis (SIGSTOP) while the other's member sends N
# messages, resumed: how fast it reads them back from the log (messages/s, from its own log lines).
# Usage: bench/run_rooms.sh [RUNS=3] [DURATION=3s] [MEMBERS=1000]
# Writes bench/results/rooms.md and rooms.jsonl.
source "$(dirname "$0")/lib.sh"
RUNS=${1:-3}
DURATION=${2:-3s}
MEMBERS=${3:-1000}
ensure_built
ulimit -n 20000
command -v redis-server >/dev/null || { echo "bench: redis-server is not installed" >&2; exit 1; }
OUT=$RESULTS/rooms.jsonl
: >"$OUT"
for run in $(seq "$RUNS"); do
  for target in redis pubsub lossless; do
    EXTRA=""
    FED_PIDS=""
    case $target in
      redis) start_redis || { echo "redis did not start" >&2; continue; } ;;
      pubsub) start_federated --history 0 || continue ;;
      lossless) start_federated || continue ;;
    esac
    kind=concur; [ "$target" = redis ] && kind=redis
    # shellcheck disable=SC2086  # EXTRA is a list of options
    json=$(load chat --target "$kind" --port "$SERVER_PORT" --connections "$MEMBERS" --size 64 \
           --duration "$DURATION" --warmup 1s --sources 4 --server-pid "$SERVER_PID" $EXTRA --json || true)
    if [ -n "$FED_PIDS" ]; then stop_federated; else stop_server; fi
    echo "{\"server\": \"$target\", \"run\": $run, \"result\": ${json:-null}}" >>"$OUT"
    echo "run $run $MEMBERS members $target: $json"
  done
done
python3 "$(dirname "$0")/summarize.py" chat "$OUT" "$RESULTS/rooms.md" "$RESULTS/rooms.svg" \
  "bench/run_rooms.sh $RUNS $DURATION $MEMBERS"

# The replay rate: b's Redis frozen, N messages from a's member, b resumed via a fresh link.
N=${REPLAY_MESSAGES:-50000}
start_redis
redis_pid=$SERVER_PID redis_port=$SERVER_PORT
relay_out=$(mktemp) a_out=$(mktemp) b_out=$(mktemp)
taskset -c "$SERVER_CPU" "$CONCUR" chat-server --quiet --port 0 --bind 127.0.0.1 --model epoll --rate 0 \
  --history "$N" --max-queue 67108864 --redis "127.0.0.1:$redis_port" >"$a_out" 2>&1 &
a_pid=$!
# b reaches Redis through a socat-free trick: its own port forward is the bench's python relay.
python3 - "$redis_port" >"$relay_out" 2>&1 <<'PY' &
import socket, sys, threading, os, signal
target = int(sys.argv[1])
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); ls.bind(("127.0.0.1", 0)); ls.listen(16)
print(ls.getsockname()[1], flush=True)
frozen = threading.Event()
signal.signal(signal.SIGUSR1, lambda *a: frozen.set())
signal.signal(signal.SIGUSR2, lambda *a: frozen.clear())
def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d: break
            while frozen.is_set(): threading.Event().wait(0.01)
            b.sendall(d)
    except OSError: pass
    for s in (a, b):
        try: s.close()
        except OSError: pass
while True:
    c, _ = ls.accept()
    t = socket.create_connection(("127.0.0.1", target))
    threading.Thread(target=pipe, args=(c, t), daemon=True).start()
    threading.Thread(target=pipe, args=(t, c), daemon=True).start()
PY
relay_pid=$!
for _ in $(seq 100); do [ -s "$relay_out" ] && break; sleep 0.05; done
relay_port=$(head -1 "$relay_out")
taskset -c "$SERVER_CPU" "$CONCUR" chat-server --quiet --port 0 --bind 127.0.0.1 --model epoll --rate 0 \
  --history "$N" --redis "127.0.0.1:$relay_port" >"$b_out" 2>&1 &
b_pid=$!
for _ in $(seq 100); do grep -q "redis: connected" "$a_out" && grep -q "redis: connected" "$b_out" && break; sleep 0.05; done
a_port=$(sed -n 's/^listening on .*:\([0-9]*\) (.*/\1/p' "$a_out" | head -1)
kill -USR1 "$relay_pid"
for _ in $(seq 100); do grep -q "redis: lost" "$b_out" && break; sleep 0.1; done
python3 - "$a_port" "$N" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
import time
s.sendall(b"[sender]\n")
time.sleep(0.5)  # the join is settled in Redis before the burst (input is held only up to 64 KiB)
s.sendall(b"".join(b"message %06d of the replay benchmark\n" % i for i in range(int(sys.argv[2]))))
s.close()
PY
for _ in $(seq 400); do
  off=$(redis-cli -p "$redis_port" hget concur:lobby:meta offset 2>/dev/null || echo 0)
  [ "${off:-0}" -ge "$N" ] && break
  sleep 0.05
done
kill -USR2 "$relay_pid"
# From the reconnect (back-off excluded) to the end of the read, polled every 10 ms.
for _ in $(seq 1000); do grep -q "redis: reconnected" "$b_out" && break; sleep 0.01; done
t0=$(date +%s.%N)
line=""
for _ in $(seq 3000); do
  line=$(grep -m1 "redis: caught up" "$b_out" || true)
  [ -n "$line" ] && break
  sleep 0.01
done
t1=$(date +%s.%N)
kill "$a_pid" "$b_pid" "$relay_pid" "$redis_pid" 2>/dev/null || true
wait 2>/dev/null || true
caught=$(sed -n 's/.*caught up \([0-9]*\) messages.*/\1/p' <<<"$line")
rate=$(python3 -c "print(f'{int(${caught:-0}) / max($t1 - $t0, 1e-9):,.0f}')")
{
  echo
  echo "## Replay rate of a recovering instance"
  echo
  echo "An instance whose link to Redis was frozen while the other instance's member sent $N messages,"
  echo "then healed: it read back ${caught:-0} messages from the room's log in $(python3 -c "print(f'{$t1 - $t0:.2f}')") s"
  echo "(from its \`redis: reconnected\` line to its \`redis: caught up\` line, polled every 10 ms): **$rate messages/s**."
} >>"$RESULTS/rooms.md"
rm -f "$relay_out" "$a_out" "$b_out"
tail -6 "$RESULTS/rooms.md"
