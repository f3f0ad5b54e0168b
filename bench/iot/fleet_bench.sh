#!/usr/bin/env bash
# One collector against a fleet of simulated devices (SPEC §3: "thousands of devices in one
# process"). Checks that every reading a device sent was written exactly once, and measures the
# collector's CPU time per 10,000 lines (utime+stime from /proc/PID/stat) and its peak RSS
# (VmHWM), for `concur collect` and for the lecture-style Python selectors collector; and with the
# sinks of SPEC §4: `concur-db` (--db, SQLite) and `concur-mqtt` (--mqtt to a mosquitto broker the
# script starts on MQTT_PORT, with mosquitto_sub counting what arrives). For those, every reading
# must also be exactly once in the database / at the subscriber.
#
# usage: bench/iot/fleet_bench.sh [concur-binary]
#   env: DEVICES=8000 PER_PROCESS=4000 INTERVAL=1 DURATION=60 BASE_PORT=12000 OUT=bench/results/iot_fleet.md
#        COLLECTORS="concur python" APPEND=1 (add a scenario to OUT)
#        COLLECTORS="concur concur-db concur-mqtt" ROUNDS=3 MQTT_PORT=18883  (rows: medians over ROUNDS,
#        the collectors interleaved round by round)
#        COLLECTORS="concur concur-base floor python" BASE_BIN=/path/to/older/concur: `concur-base` is
#        another build's collector (before/after in one run; `concur-mqtt-base`: that build's --mqtt,
#        checked like concur-mqtt); `floor` is bench/iot/recv_floor.cpp
#        (built next to BIN, in bench/): epoll + one recv per reading + one stamped write per 10 ms
#        pass, nothing else — what a readiness-based collector cannot avoid.
#        `concur-db-base` is BASE_BIN's collector with --db (the SQLite sink before/after in one run).
#        `concur-both`: --db and --mqtt at once (both must be exact).
# Devices are split over several `concur device --fleet` processes (PER_PROCESS each: a device
# costs two descriptors, listener + registrant, and a process may hold 20,000).
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/../.."
BIN=${1:-build/h-iot-rel/concur}
DEVICES=${DEVICES:-8000}
PER_PROCESS=${PER_PROCESS:-4000}
INTERVAL=${INTERVAL:-1}
DURATION=${DURATION:-60}
BASE_PORT=${BASE_PORT:-12000}
OUT=${OUT:-bench/results/iot_fleet.md}
COLLECTORS=${COLLECTORS:-"concur python"}
APPEND=${APPEND:-}   # non-empty: append this scenario to OUT instead of replacing it
ROUNDS=${ROUNDS:-1}
MQTT_PORT=${MQTT_PORT:-18883}
BASE_BIN=${BASE_BIN:-}
FLOOR_BIN=${FLOOR_BIN:-$(dirname "$BIN")/bench/recv_floor}
WORK=$(mktemp -d /tmp/iot-fleet-XXXXXX)
TICK=$(getconf CLK_TCK)
declare -a FLEET_PIDS=()

cleanup() {
  for p in "${FLEET_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [[ -n "${COLLECTOR_PID:-}" ]] && kill "$COLLECTOR_PID" 2>/dev/null || true
  [[ -n "${SUB_PID:-}" ]] && kill "$SUB_PID" 2>/dev/null || true
  [[ -n "${BROKER_PID:-}" ]] && kill "$BROKER_PID" 2>/dev/null || true
}

# A mosquitto broker on loopback for --mqtt, and a QoS 1 subscriber writing what it gets.
start_mqtt() {
  printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\nlog_dest stderr\nuser %s\n' \
    "$MQTT_PORT" "$(id -un)" > "$WORK/mosquitto.conf"
  mosquitto -c "$WORK/mosquitto.conf" 2> "$WORK/mosquitto.err" &
  BROKER_PID=$!
  for (( t = 0; t < 50; t++ )); do grep -q ' running' "$WORK/mosquitto.err" && break; sleep 0.1; done
  : > "$WORK/sub.txt"
  stdbuf -oL mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -t 'concur/#' -q 1 -d > "$WORK/sub.txt" &
  SUB_PID=$!
  for (( t = 0; t < 50; t++ )); do grep -q 'received SUBACK' "$WORK/sub.txt" && break; sleep 0.1; done
}

stop_mqtt() {
  kill "$SUB_PID" "$BROKER_PID" 2>/dev/null || true
  wait "$SUB_PID" "$BROKER_PID" 2>/dev/null || true
  SUB_PID= BROKER_PID=
}
trap cleanup EXIT

start_fleets() {
  FLEET_PIDS=()
  : > "$WORK/devices.txt"
  local started=0 i=0
  while (( started < DEVICES )); do
    local n=$(( DEVICES - started < PER_PROCESS ? DEVICES - started : PER_PROCESS ))
    local port=$(( BASE_PORT + started ))
    "$BIN" device --fleet "$n" --port "$port" --interval "$INTERVAL" --quiet --stats --name "Dev$i" \
      > "$WORK/fleet$i.out" 2> "$WORK/fleet$i.err" &
    FLEET_PIDS+=($!)
    for (( k = 0; k < n; k++ )); do echo "127.0.0.1:$(( port + k ))" >> "$WORK/devices.txt"; done
    started=$(( started + n )); i=$(( i + 1 ))
  done
  for (( j = 0; j < i; j++ )); do
    for (( t = 0; t < 300; t++ )); do
      [[ $(wc -l < "$WORK/fleet$j.out") -ge $(( j == i - 1 ? DEVICES - j * PER_PROCESS : PER_PROCESS )) ]] && break
      sleep 0.1
    done
  done
}

stop_fleets() {
  for p in "${FLEET_PIDS[@]}"; do kill -TERM "$p"; done
  for p in "${FLEET_PIDS[@]}"; do wait "$p" || true; done
}

# run_one NAME COMMAND...: the collector runs DURATION seconds against a fresh fleet.
run_one() {
  local name=$1; shift
  local data="$WORK/data-$name.txt"
  rm -f "$data" "$WORK/readings.db"*
  [[ $name == concur-mqtt* || $name == concur-both ]] && start_mqtt
  start_fleets
  local t0=$(date +%s.%N)
  "$@" --device-list "$WORK/devices.txt" --out "$data" --quiet 2> "$WORK/collector-$name.err" &
  COLLECTOR_PID=$!
  sleep "$DURATION"
  # Measure in steady state, before the devices stop (afterwards both collectors spend CPU
  # reconnecting to 8,000 closed ports).
  local stat; stat=$(cat /proc/$COLLECTOR_PID/stat)
  local rest=${stat##*) }
  local fields=($rest)
  local cpu_ticks=$(( fields[11] + fields[12] ))   # utime + stime (fields 14, 15)
  local user_ms=$(( fields[11] * 1000 / TICK )) sys_ms=$(( fields[12] * 1000 / TICK ))
  local lines_at_sample; lines_at_sample=$(wc -l < "$data")
  stop_fleets              # devices stop first: everything they sent is in flight or delivered
  # Let the collector drain: wait until the file stops growing (3 s at least, 60 s at most).
  sleep 3
  local prev=-1 cur; cur=$(wc -l < "$data")
  for (( t = 0; t < 60 && cur != prev; t++ )); do prev=$cur; sleep 1; cur=$(wc -l < "$data"); done
  if [[ $name == concur-mqtt* || $name == concur-both ]]; then  # and until the subscriber has it all
    prev=-1; cur=$(grep -c '^{' "$WORK/sub.txt" || true)
    for (( t = 0; t < 60 && cur != prev; t++ )); do prev=$cur; sleep 1; cur=$(grep -c '^{' "$WORK/sub.txt" || true); done
  fi
  local hwm_kb; hwm_kb=$(awk '/VmHWM/ {print $2}' /proc/$COLLECTOR_PID/status)
  kill -TERM "$COLLECTOR_PID"; wait "$COLLECTOR_PID" || true; COLLECTOR_PID=
  local elapsed; elapsed=$(echo "$(date +%s.%N) - $t0" | bc)

  # Exactly once: per device, lines in the file == readings the device says it sent.
  cat "$WORK"/fleet*.err | awk '$2 == "sent" && $1 != "total" {print $1, $3}' | sort > "$WORK/sent-$name.txt"
  awk '{sub(/:$/, "", $6); print $6}' "$data" | sort | uniq -c | awk '{print $2, $1}' | sort > "$WORK/got-$name.txt"
  local sent_total got_total mismatched bad_lines
  sent_total=$(awk '{s += $2} END {print s + 0}' "$WORK/sent-$name.txt")
  got_total=$(wc -l < "$data")
  mismatched=$(join -a1 -a2 -e 0 -o 0,1.2,2.2 "$WORK/sent-$name.txt" "$WORK/got-$name.txt" | awk '$2 != $3' | wc -l)
  bad_lines=$(grep -cvE '^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 123][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} [0-9]{4}: Dev[0-9]+-[0-9]+: Temp=[0-9]+, Humid=[0-9]+, lilum=[0-9]+$' "$data" || true)
  # The other sink must hold exactly the same: every reading once, none twice, none torn.
  local sink_mism=-
  case $name in
    concur-db|concur-db-base)
      sqlite3 "$WORK/readings.db" "SELECT device, count(*) / 3 FROM readings GROUP BY device HAVING count(*) % 3 = 0" \
        | tr '|' ' ' | sort > "$WORK/sink-$name.txt"
      sink_mism=$(join -a1 -a2 -e 0 -o 0,1.2,2.2 "$WORK/sent-$name.txt" "$WORK/sink-$name.txt" | awk '$2 != $3' | wc -l) ;;
    concur-mqtt*)
      grep -o '"device": "[^"]*"' "$WORK/sub.txt" | cut -d'"' -f4 | sort | uniq -c | awk '{print $2, $1}' | sort > "$WORK/sink-$name.txt"
      sink_mism=$(join -a1 -a2 -e 0 -o 0,1.2,2.2 "$WORK/sent-$name.txt" "$WORK/sink-$name.txt" | awk '$2 != $3' | wc -l)
      stop_mqtt ;;
    concur-both)  # both sinks must be exact: the devices wrong in either
      sqlite3 "$WORK/readings.db" "SELECT device, count(*) / 3 FROM readings GROUP BY device HAVING count(*) % 3 = 0" \
        | tr '|' ' ' | sort > "$WORK/sink-$name.txt"
      grep -o '"device": "[^"]*"' "$WORK/sub.txt" | cut -d'"' -f4 | sort | uniq -c | awk '{print $2, $1}' | sort > "$WORK/sink2-$name.txt"
      sink_mism=$( { join -a1 -a2 -e 0 -o 0,1.2,2.2 "$WORK/sent-$name.txt" "$WORK/sink-$name.txt" | awk '$2 != $3 {print $1}'
                     join -a1 -a2 -e 0 -o 0,1.2,2.2 "$WORK/sent-$name.txt" "$WORK/sink2-$name.txt" | awk '$2 != $3 {print $1}'; } | sort -u | wc -l)
      stop_mqtt ;;
  esac
  local cpu_ms=$(( cpu_ticks * 1000 / TICK ))
  local per10k; per10k=$(echo "scale=1; $cpu_ms * 10000 / ($lines_at_sample + ($lines_at_sample == 0))" | bc)
  echo "$name $got_total $sent_total $mismatched $bad_lines $cpu_ms $per10k $hwm_kb $user_ms $sys_ms $sink_mism" >> "$WORK/results.txt"
  echo "$name ${round:-1} $per10k $user_ms $sys_ms $hwm_kb" >> "$WORK/rounds.txt"
  echo "[$name] lines=$got_total sent=$sent_total devices_mismatched=$mismatched sink_devices_mismatched=$sink_mism bad_lines=$bad_lines cpu_ms=$cpu_ms (user $user_ms, sys $sys_ms) cpu_ms_per_10k=$per10k VmHWM_kB=$hwm_kb"
}

: > "$WORK/results.txt"
: > "$WORK/rounds.txt"
for (( round = 1; round <= ROUNDS; round++ )); do
  for c in $COLLECTORS; do
    case $c in
      concur) run_one concur "$BIN" collect ;;
      concur-db) run_one concur-db "$BIN" collect --db "$WORK/readings.db" ;;
      concur-mqtt) run_one concur-mqtt "$BIN" collect --mqtt "127.0.0.1:$MQTT_PORT" ;;
      concur-base) run_one concur-base "$BASE_BIN" collect ;;
      concur-mqtt-base) run_one concur-mqtt-base "$BASE_BIN" collect --mqtt "127.0.0.1:$MQTT_PORT" ;;
      concur-db-base) run_one concur-db-base "$BASE_BIN" collect --db "$WORK/readings.db" ;;
      concur-both) run_one concur-both "$BIN" collect --db "$WORK/readings.db" --mqtt "127.0.0.1:$MQTT_PORT" ;;
      floor) run_one floor "$FLOOR_BIN" ;;
      python) run_one python python3 bench/iot/py_collector.py ;;
    esac
  done
done
# One row per collector: the run with the median CPU per 10k lines (all rounds must be exact).
sort -k1,1 -k7,7n "$WORK/results.txt" | awk -v r="$ROUNDS" '
  { rows[$1] = rows[$1] "\n" $0; n[$1]++; if ($4 != 0 || $5 != 0 || ($11 != "-" && $11 != 0)) bad[$1] = 1 }
  END { for (c in n) { split(substr(rows[c], 2), a, "\n"); m = a[int((n[c] + 1) / 2)]; if (bad[c]) sub(/ [^ ]+$/, " FAIL", m); print m } }' \
  > "$WORK/medians.txt"

{
  [[ -n "$APPEND" ]] || echo "# IoT fleet benchmark: one collector against many simulated devices"
  echo
  echo "## $DEVICES devices, one reading every $INTERVAL s each"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(uname -r)."
  echo "Command: \`DEVICES=$DEVICES PER_PROCESS=$PER_PROCESS INTERVAL=$INTERVAL DURATION=$DURATION COLLECTORS=\"$COLLECTORS\" ROUNDS=$ROUNDS${BASE_BIN:+ BASE_BIN=$BASE_BIN} bench/iot/fleet_bench.sh $BIN\`"
  echo
  echo "$DEVICES simulated env devices (\`concur device --fleet $PER_PROCESS\` processes, one reading every ${INTERVAL} s each)"
  echo "for ${DURATION} s; the devices are stopped first (each reports on stderr how many readings it sent),"
  echo "then the collector drains until the file stops growing. CPU = utime+stime of the collector process from its start"
  echo "(connect + register + collect) to the end of the ${DURATION} s, divided by the lines in the file at"
  echo "that moment; peak RSS = VmHWM at the end. Rounds: $ROUNDS (collectors interleaved; each row is the"
  echo "median round by CPU). \"sink\": devices whose count in the database (rows/3) or at the MQTT subscriber"
  echo "differs from what they sent (- : no second sink; FAIL: some round was not exact)."
  echo
  echo "| collector | lines written | readings sent | devices with lines != sent | sink: devices != sent | malformed lines | CPU ms (user + sys) | CPU ms / 10k lines | peak RSS (MiB) |"
  echo "|---|---|---|---|---|---|---|---|---|"
  while read -r name got sent mism bad cpu per10k hwm user sys sink; do
    echo "| $name | $got | $sent | $mism | $sink | $bad | $cpu ($user + $sys) | $per10k | $(echo "scale=1; $hwm / 1024" | bc) |"
  done < "$WORK/medians.txt"
  if (( ROUNDS > 1 )); then
    echo
    echo "Every round (in the order run), CPU ms / 10k lines (user + sys ms), peak RSS MiB:"
    echo
    echo "| collector | $(for (( r = 1; r <= ROUNDS; r++ )); do printf 'round %d | ' "$r"; done)median |"
    echo "|---|$(for (( r = 1; r <= ROUNDS; r++ )); do printf -- '---|'; done)---|"
    for c in $COLLECTORS; do
      grep -q "^$c " "$WORK/rounds.txt" || continue
      printf '| %s | ' "$c"
      awk -v c="$c" '$1 == c {printf "%s (%s + %s), %.1f | ", $3, $4, $5, $6 / 1024}' "$WORK/rounds.txt"
      awk -v c="$c" '$1 == c {print $7}' "$WORK/medians.txt" | sed 's/$/ |/'
    done
  fi
  if grep -q '^concur ' "$WORK/medians.txt"; then
    read -r _ _ _ _ _ _ f10k _ < <(grep '^concur ' "$WORK/medians.txt")
    for c in concur-db concur-db-base concur-mqtt concur-mqtt-base concur-both; do
      grep -q "^$c " "$WORK/medians.txt" || continue
      read -r _ _ _ _ _ _ s10k _ < <(grep "^$c " "$WORK/medians.txt")
      echo
      echo "$c / concur (file only): CPU per reading $(echo "scale=2; $s10k / $f10k" | bc)x."
    done
  fi
  if grep -q '^floor ' "$WORK/medians.txt"; then
    read -r _ _ _ _ _ _ fl10k _ < <(grep '^floor ' "$WORK/medians.txt")
    echo
    for c in concur concur-base python; do
      grep -q "^$c " "$WORK/medians.txt" || continue
      read -r _ _ _ _ _ _ x10k _ < <(grep "^$c " "$WORK/medians.txt")
      echo "$c / floor: CPU per line $(echo "scale=2; $x10k / $fl10k" | bc)x."
    done
  fi
  if grep -q '^concur ' "$WORK/medians.txt" && grep -q '^concur-base ' "$WORK/medians.txt"; then
    read -r _ _ _ _ _ _ a10k ahwm _ < <(grep '^concur ' "$WORK/medians.txt")
    read -r _ _ _ _ _ _ b10k bhwm _ < <(grep '^concur-base ' "$WORK/medians.txt")
    echo
    echo "concur / concur-base ($BASE_BIN): CPU per line $(echo "scale=2; $a10k / $b10k" | bc)x, peak RSS $(echo "scale=2; $ahwm / $bhwm" | bc)x."
  fi
  if grep -q '^concur-mqtt ' "$WORK/medians.txt" && grep -q '^concur-mqtt-base ' "$WORK/medians.txt"; then
    read -r _ _ _ _ _ _ a10k _ < <(grep '^concur-mqtt ' "$WORK/medians.txt")
    read -r _ _ _ _ _ _ b10k _ < <(grep '^concur-mqtt-base ' "$WORK/medians.txt")
    echo
    echo "concur-mqtt / concur-mqtt-base ($BASE_BIN): CPU per line $(echo "scale=2; $a10k / $b10k" | bc)x."
  fi
  if grep -q '^concur-db ' "$WORK/medians.txt" && grep -q '^concur-db-base ' "$WORK/medians.txt"; then
    read -r _ _ _ _ _ _ a10k ahwm _ < <(grep '^concur-db ' "$WORK/medians.txt")
    read -r _ _ _ _ _ _ b10k bhwm _ < <(grep '^concur-db-base ' "$WORK/medians.txt")
    echo
    echo "concur-db / concur-db-base ($BASE_BIN): CPU per line $(echo "scale=2; $a10k / $b10k" | bc)x, peak RSS $(echo "scale=2; $ahwm / $bhwm" | bc)x."
  fi
  if grep -q '^concur ' "$WORK/medians.txt" && grep -q '^python ' "$WORK/medians.txt"; then
    read -r _ _ _ _ _ _ c10k chwm _ _ < <(grep '^concur ' "$WORK/medians.txt")
    read -r _ _ _ _ _ _ p10k phwm _ _ < <(grep '^python ' "$WORK/medians.txt")
    echo
    echo "Python / concur: CPU per line $(echo "scale=1; $p10k / $c10k" | bc)x, peak RSS $(echo "scale=1; $phwm / $chwm" | bc)x."
  fi
} > "$WORK/report.md"
if [[ -n "$APPEND" ]]; then cat "$WORK/report.md" >> "$OUT"; else cp "$WORK/report.md" "$OUT"; fi
cat "$WORK/report.md"
rm -rf "$WORK"
