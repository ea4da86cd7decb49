#!/usr/bin/env bash
# Runs every fuzz target of the module, one after the other, each for
# FUZZTIME (default 3m). New failing inputs land in the package's
# testdata/fuzz/<FuzzName>/ and make the normal `go test` fail until fixed.
# See RELIABILITY.md.
#
#   scripts/fuzz.sh                    # every target, 3 minutes each
#   FUZZTIME=30s scripts/fuzz.sh       # a quick pass
#   scripts/fuzz.sh FuzzParseRetryAfter  # only the targets named
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-3m}"

# package → targets, found by looking for "func FuzzX(" in *_test.go files.
mapfile -t lines < <(grep -rlE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]+\(' . |
  grep -v '^./benchmarks/' | sort | while read -r f; do
    grep -oE '^func Fuzz[A-Za-z0-9_]+' "$f" | sed "s#^func #$(dirname "$f") #"
  done)

status=0
for line in "${lines[@]}"; do
  pkg="${line% *}" name="${line#* }"
  if [ "$#" -gt 0 ] && ! printf '%s\n' "$@" | grep -qx "$name"; then
    continue
  fi
  echo "== $name ($pkg) for $fuzztime"
  if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime 10s "$pkg" 2>&1 | tail -n 4; then
    status=1
  fi
done
exit "$status"
