#!/usr/bin/env bash
# cmake --install into a temporary DESTDIR: the binary runs, the man page renders without warnings
# and names every command of `concur --help`, the units name the installed binary and pass
# `systemd-analyze verify`, the licence is there. Usage: install_test.sh BUILD_DIR
set -euo pipefail
build=$1
. "$(dirname "$0")/common.sh"
need cmake
need man
need systemd-analyze
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

DESTDIR=$tmp/root cmake --install "$build" --prefix /usr >"$tmp/install.log" || { cat "$tmp/install.log"; fail "cmake --install"; }
root=$tmp/root/usr
bin=$root/bin/concur
page=$root/share/man/man1/concur.1
[ -x "$bin" ] || fail "no executable $bin"
"$bin" --version | grep -x 'concur [0-9.]*' >/dev/null || fail "installed binary: --version"
[ -f "$page" ] || fail "no man page $page"
grep -q 'MIT License' "$root/share/doc/concur/copyright" || fail "no share/doc/concur/copyright"

# The page renders with no groff warnings, and documents every command and the common options.
MANWIDTH=100 man --warnings -l "$page" >"$tmp/page.txt" 2>"$tmp/warnings.txt" || fail "man -l $page"
[ ! -s "$tmp/warnings.txt" ] || { cat "$tmp/warnings.txt"; fail "man page warnings"; }
commands=$("$bin" --help | awk '/^Subcommands:/ {on=1; next} on && /^  [a-z]/ {print $1}')
[ "$(wc -w <<<"$commands")" -ge 10 ] || fail "found too few commands in concur --help: $commands"
for c in $commands; do
  grep -q "^   $c\$" "$tmp/page.txt" || fail "man page has no section for '$c'"
done
# Every option that a command's --help lists is in the page (pair-chat: both of its sides).
for c in $commands "pair-chat server" "pair-chat client"; do
  # shellcheck disable=SC2086  # $c is "command [side]"
  for o in $("$bin" $c --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
    grep -q -- "$o\b" "$tmp/page.txt" || fail "man page does not mention $o of '$c'"
  done
done

for u in "${units[@]}"; do
  f=$root/lib/systemd/system/$u.service
  [ -f "$f" ] || fail "no unit $f"
  grep -q '^ExecStart=/usr/bin/concur ' "$f" || fail "$u: ExecStart does not run /usr/bin/concur"
  grep -qE '@[A-Z_]+@' "$f" && fail "$u: an unconfigured @VARIABLE@ is left"
  grep -q '^Type=notify$' "$f" || fail "$u: not Type=notify"
  grep -q '^WatchdogSec=' "$f" || fail "$u: no WatchdogSec"
done
# systemd-analyze verify checks the units against this machine's systemd (its sysinit.target and
# so on; --root would need a whole system in the tree), so copies run the staged binary, and man
# finds the staged page for Documentation=man:concur(1). It exits 0 even for an unknown key, so
# any output is a failure too.
mkdir "$tmp/verify"
for u in "${units[@]}"; do
  sed "s|^ExecStart=/usr/bin/concur |ExecStart=$bin |" "$root/lib/systemd/system/$u.service" >"$tmp/verify/$u.service"
done
MANPATH=$root/share/man systemd-analyze verify "$tmp"/verify/*.service >"$tmp/verify.txt" 2>&1 \
  || { cat "$tmp/verify.txt"; fail "systemd-analyze verify"; }
[ ! -s "$tmp/verify.txt" ] || { cat "$tmp/verify.txt"; fail "systemd-analyze verify warnings"; }

# Another prefix: the units follow it.
DESTDIR=$tmp/opt cmake --install "$build" --prefix /opt/concur >/dev/null
grep -q '^ExecStart=/opt/concur/bin/concur ' "$tmp/opt/opt/concur/lib/systemd/system/concur-chat.service" \
  || fail "--prefix /opt/concur: ExecStart does not follow the prefix"
echo "install: binary, man page, ${#units[@]} units, copyright: ok"
