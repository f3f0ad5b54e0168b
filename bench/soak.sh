#!/bin/sh
# Soak test (issue 13): chat-server + collector under mixed load for DURATION seconds; prints a
# line per interval and ends with `soak: PASS` or `soak: FAIL <reason>` (exit 0 / 1).
#   bench/soak.sh 600                 # from the repository root, after a Release build
#   CONCUR_BIN=build/asan/concur SOAK_MODEL=thread bench/soak.sh 60
set -eu
here=$(cd "$(dirname "$0")" && pwd)
duration=${1:-600}
bin=${CONCUR_BIN:-$here/../build/release/concur}
exec python3 "$here/soak.py" "$duration" --binary "$bin" --model "${SOAK_MODEL:-epoll}"
