#!/usr/bin/env bash
# The reliability soak: 200,000 events through a server that fails 20% of
# requests with a 5xx, 10% with 429 and Retry-After, and drops 10% of
# connections. Nothing may be lost. See RELIABILITY.md.
#
#   scripts/soak.sh              # 200,000 events
#   scripts/soak.sh -race        # the same under the race detector
#   EVENTS=1000000 scripts/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
events="${EVENTS:-200000}"
exec go test -count=1 -run '^TestSoak$' -v -timeout 60m "$@" . -args -soak.events="$events"
