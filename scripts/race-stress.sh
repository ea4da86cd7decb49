#!/usr/bin/env bash
# Runs the concurrency tests (every test whose name contains
# ConcurrentSafe, in every package) many times under the race detector.
# See RELIABILITY.md.
#
#   scripts/race-stress.sh            # -count=100
#   COUNT=1000 scripts/race-stress.sh
set -euo pipefail
cd "$(dirname "$0")/.."
count="${COUNT:-100}"
exec go test -race -count="$count" -run 'ConcurrentSafe' -timeout 60m "$@" ./...
