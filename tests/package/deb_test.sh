#!/usr/bin/env bash
# cpack -G DEB: one .deb for Debian 12 that holds the binary, the man page and the units under
# /usr, and declares its run-time dependencies (dpkg-shlibdeps). It does not install the package.
# Usage: deb_test.sh BUILD_DIR
set -euo pipefail
build=$1
. "$(dirname "$0")/common.sh"
need cpack
need dpkg-deb
need dpkg-shlibdeps
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

(cd "$build" && cpack -G DEB -B "$tmp" >"$tmp/cpack.log" 2>&1) || { cat "$tmp/cpack.log"; fail "cpack -G DEB"; }
debs=("$tmp"/*.deb)
[ ${#debs[@]} -eq 1 ] && [ -f "${debs[0]}" ] || fail "expected one .deb in $tmp: ${debs[*]}"
deb=${debs[0]}
dpkg-deb -c "$deb" >"$tmp/contents.txt"
for f in ./usr/bin/concur ./usr/share/man/man1/concur.1 ./usr/share/doc/concur/copyright \
         "${units[@]/#/./usr/lib/systemd/system/}"; do
  case $f in */systemd/system/*) f=$f.service ;; esac
  grep -q " $f\$" "$tmp/contents.txt" || { cat "$tmp/contents.txt"; fail "the .deb does not hold $f"; }
done
dpkg-deb -I "$deb" >"$tmp/info.txt"
grep -q '^ Package: concur$' "$tmp/info.txt" || fail "no Package: concur"
grep -q '^ Architecture: ' "$tmp/info.txt" || fail "no Architecture"
depends=$(sed -n 's/^ Depends: //p' "$tmp/info.txt")
for lib in libc6 libstdc++6 libfmt libsqlite3 libmosquitto libhiredis libedit; do
  grep -q "$lib" <<<"$depends" || { cat "$tmp/info.txt"; fail "Depends lacks $lib"; }
done
# The packaged unit runs the packaged binary.
dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/lib/systemd/system/concur-chat.service | grep '^ExecStart=/usr/bin/concur ' >/dev/null \
  || fail "the packaged concur-chat.service does not run /usr/bin/concur"
echo "deb: $(basename "$deb"): Depends: $depends"
