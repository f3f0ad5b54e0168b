#!/usr/bin/env bash
# Clang's thread-safety analysis over the source files of concur that can see an annotation
# (-fsyntax-only: nothing is built): each member declared CONCUR_GUARDED_BY(mu) (core/thread_annotations.hpp) must only be
# touched with mu held. GCC builds ignore the annotations; this is where they are checked.
# Prints one line per finding and ends with "thread-safety: N files, M findings"; exit 1 on any.
# Usage: scripts/check-thread-safety.sh [jobs]   (CXX=clang++ by default)
set -uo pipefail
cd "$(dirname "$0")/.."
jobs=${1:-$(nproc)}
cxx=${CXX_TSA:-clang++}
if ! command -v "$cxx" >/dev/null; then
  echo "thread-safety: $cxx not found (apt-get install clang)"
  exit 1
fi
flags=(-std=c++20 -fsyntax-only -Isrc -isystem /usr/include/hiredis -isystem /usr/include/editline
       -DCONCUR_VERSION='"0"' -D_FILE_OFFSET_BITS=64 -Wno-everything -Wthread-safety -Werror=thread-safety)
[ -e /usr/include/liburing.h ] && flags+=(-DCONCUR_HAVE_URING=1)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# The files that can touch an annotated member: those that include thread_annotations.hpp, or a
# header that does (a guarded member is reached through its class's header).
headers=$(grep -rl --include='*.hpp' 'core/thread_annotations.hpp' src | sed 's|^src/||')
files=$(grep -rlF --include='*.cpp' -f <(printf '%s\n' core/thread_annotations.hpp $headers | sed 's|^|#include "|; s|$|"|') src | sort)
n=$(echo "$files" | wc -l)
echo "$files" | xargs -P "$jobs" -I{} sh -c '"$0" "$@" {} 2>&1 || true' "$cxx" "${flags[@]}" >"$log"
found=$(grep -c 'warning:\|error:' "$log" || true)
grep -E 'warning:|error:' "$log" | sort -u
echo "thread-safety: $n files, $found findings"
[ "$found" -eq 0 ]
