#!/usr/bin/env bash
# The scale curve (issue 11): the same benchmarks at 1, 2, 4, 8, 16 and 32 clients, and at 10³, 10⁵
# and 10⁶ rows already in the tables a command writes. Long: run it by hand, not in CI.
#   scripts/bench-scale.sh [seconds per scenario]      (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-3}
echo "== SQLite: commits/s by clients (0 rows pre-filled)"
for c in 1 2 4 8 16 32; do bash scripts/bench.sh sqlite "$secs" "$c" 0 | grep '^| [a-z]' | sed "s/^/$c clients /"; done
echo "== SQLite: commits/s by rows pre-filled (8 clients)"
for r in 1000 100000 1000000; do bash scripts/bench.sh sqlite "$secs" 8 "$r" | grep '^| [a-z]' | sed "s/^/$r rows /"; done
echo "== Postgres booking: bookings/s by clients"
for c in 1 2 4 8 16 32; do bash scripts/bench.sh booking "$secs" "$c" | grep '^| [a-z]' | sed "s/^/$c clients /"; done
echo "== Postgres booking: bookings/s by rows pre-filled (8 clients)"
for r in 1000 100000 1000000; do BENCH_ROWS=$r bash scripts/bench.sh booking "$secs" 8 | grep '^| [a-z]' | sed "s/^/$r rows /"; done
