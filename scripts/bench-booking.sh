#!/usr/bin/env bash
# Booking benchmark: hearth on SQLite and Postgres next to the seed's optimistic SQL by pgbench, in one run.
#   scripts/bench-booking.sh [seconds per scenario] [clients]
# Uses its own database on the Postgres that pg-ensure.sh finds or starts, and drops it afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
base_url=$(bash scripts/pg-ensure.sh)
db="hearth_booking_bench_$(date +%s)_$$"
admin_url="${base_url%/*}/postgres"
psql "$admin_url" -qAtc "CREATE DATABASE $db" >/dev/null
trap 'psql "$admin_url" -qAtc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
cargo build --release --quiet -p hearth-examples --bin booking-bench
./target/release/booking-bench "${base_url%/*}/$db" "${1:-5}" "${2:-8}"
