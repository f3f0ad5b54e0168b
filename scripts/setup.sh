#!/usr/bin/env bash
# Installs what concur needs on Debian 12 (only what is missing), as root or through sudo.
set -euo pipefail
pkgs=(cmake ninja-build g++ clang libclang-rt-14-dev pkg-config python3 curl
      libcli11-dev libfmt-dev liburing-dev libgtest-dev libgmock-dev libbenchmark-dev
      redis-server libuv1-dev libasio-dev libhiredis-dev gnuplot-nox procps
      libsqlite3-dev sqlite3 libmosquitto-dev mosquitto mosquitto-clients
      libedit-dev tmux libssl-dev openssl
      libwslay-dev chromium prometheus
      systemd man-db dpkg-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and npm may come from elsewhere than Debian (NodeSource); only ask apt when they are absent.
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# uPlot (compiled into the binary by the build) and playwright-core (the browser tests drive
# Debian's Chromium with it; it never downloads a browser), pinned by web/package-lock.json.
root=$(cd "$(dirname "$0")/.." && pwd)
if ! cmp -s "$root/web/package-lock.json" "$root/web/node_modules/.concur-installed-lock"; then
  echo "setup: npm ci in web/"
  (cd "$root/web" && npm ci --no-audit --no-fund --loglevel=error && cp package-lock.json node_modules/.concur-installed-lock)
fi
echo "setup: all dependencies present"
