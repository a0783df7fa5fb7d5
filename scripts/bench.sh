#!/usr/bin/env bash
# Benchmarks: hearth on SQLite and Postgres next to raw SQL (pgbench, or a hand-written loop for jobs), in one run.
#   scripts/bench.sh ledger|booking|jobs|feed [seconds per scenario] [clients or workers]
#   scripts/bench.sh sqlite [seconds per scenario] [clients] [rows pre-filled]   (no server needed)
# (feed: clients are producers; FEED_SUBSCRIBERS sets the subscribers, default 1,000)
# Uses its own database on the Postgres that pg-ensure.sh finds or starts, and drops it afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
which_bench=${1:?usage: scripts/bench.sh ledger|booking|jobs|feed|sqlite [seconds] [clients]}
case "$which_bench" in ledger|booking|jobs|feed|sqlite) ;; *) echo "unknown benchmark: $which_bench" >&2; exit 2 ;; esac
if [ "$which_bench" = sqlite ]; then
  cargo build --release --quiet -p hearth-examples --bin sqlite-bench
  exec ./target/release/sqlite-bench "${2:-5}" "${3:-8}" "${4:-0}"
fi
base_url=$(bash scripts/pg-ensure.sh)
db="hearth_${which_bench}_bench_$(date +%s)_$$"
admin_url="${base_url%/*}/postgres"
psql "$admin_url" -qAtc "CREATE DATABASE $db" >/dev/null
trap 'psql "$admin_url" -qAtc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
cargo build --release --quiet -p hearth-examples --bin "$which_bench-bench"
if [ "$which_bench" = feed ]; then
  "./target/release/feed-bench" "${base_url%/*}/$db" "${2:-5}" "${3:-4}" "${FEED_SUBSCRIBERS:-1000}"
else
  "./target/release/$which_bench-bench" "${base_url%/*}/$db" "${2:-5}" "${3:-8}"
fi
