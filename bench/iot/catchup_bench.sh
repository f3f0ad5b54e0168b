#!/usr/bin/env bash
# Catch-up rate of a sink that follows data.txt (issue 21): a data.txt of N readings (200 devices),
# --backfill, no device answering; the collector's CPU and wall time from start until it logs
# "caught up". usage: bench/iot/catchup_bench.sh BIN db|mqtt [N]  (env MQTT_PORT, default 18999)
set -euo pipefail
BIN=$1 SINK=$2 N=${3:-100000} MQTT_PORT=${MQTT_PORT:-18999}
W=$(mktemp -d /tmp/catchup-XXXXXX)
python3 - "$W/big.txt" "$N" <<'PY'
import sys
n=int(sys.argv[2])
with open(sys.argv[1],'w') as f:
    for k in range(n):
        f.write("Tue Dec  8 00:%02d:%02d 2026: Pre%d: Temp=%d, Humid=50, lilum=100\n" % ((k//60)%60, k%60, k%200, k))
PY
args=(collect --device 127.0.0.1:1 --out "$W/big.txt" --backfill --quiet)
if [[ $SINK == db ]]; then args+=(--db "$W/r.db"); else
  printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\nlog_dest stderr\nuser %s\n' "$MQTT_PORT" "$(id -un)" > "$W/m.conf"
  mosquitto -c "$W/m.conf" 2> "$W/m.err" & BP=$!
  for t in $(seq 50); do grep -q ' running' "$W/m.err" && break; sleep 0.1; done
  stdbuf -oL mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -t 'concur/#' -q 1 > "$W/sub.txt" & SP=$!
  sleep 0.5
  args+=(--mqtt "127.0.0.1:$MQTT_PORT")
fi
t0=$(date +%s.%N)
"$BIN" "${args[@]}" 2> "$W/err.txt" & CP=$!
for t in $(seq 1200); do grep -q "caught up with" "$W/err.txt" && break; sleep 0.05; done
t1=$(date +%s.%N)
stat=$(cat /proc/$CP/stat); rest=${stat##*) }; f=($rest); tick=$(getconf CLK_TCK)
cpu_ms=$(( (f[11] + f[12]) * 1000 / tick ))
kill -TERM $CP; wait $CP || true
got=-
if [[ $SINK == db ]]; then got=$(sqlite3 "$W/r.db" "SELECT count(*)/3 FROM readings"); else
  sleep 1; got=$(grep -c '^{' "$W/sub.txt" || true); kill $SP $BP; wait $SP $BP 2>/dev/null || true; fi
wall=$(echo "$t1 - $t0" | bc)
echo "$SINK readings=$N taken=$got cpu_ms=$cpu_ms wall_s=$wall readings_per_s=$(echo "scale=0; $N / $wall" | bc) readings_per_cpu_s=$(echo "scale=0; $N * 1000 / $cpu_ms" | bc)"
rm -rf "$W"
