#!/usr/bin/env bash
# The whole test suite: lints, every crate's tests (the conformance suite on a real SQLite file AND a
# real Postgres), doc tests, the SDKs (the npm package under Node and tsc, the UniFFI bindings under
# Python and Kotlin/JVM, each replaying the golden vectors), and the quickstart on both stores. Works on
# a fresh machine: it installs the SDK toolchain (scripts/sdk-tools.sh), finds or starts Postgres
# itself, and fails — never skips — when it cannot.
set -euo pipefail

cd "$(dirname "$0")/.."

command -v cargo >/dev/null || { echo "test.sh: cargo is required (https://rustup.rs)" >&2; exit 1; }
for tool in fmt clippy; do
  cargo "$tool" --version >/dev/null 2>&1 || rustup component add "$( [ "$tool" = fmt ] && echo rustfmt || echo clippy )"
done

base_url=$(bash scripts/pg-ensure.sh)
# One database per run, dropped at the end: tests make one schema each inside it.
run_db="hearth_test_$(date +%s)_$$"
admin_url="${base_url%/*}/postgres"
db_url="${base_url%/*}/$run_db"
psql_run() { psql "$admin_url" -v ON_ERROR_STOP=1 -qAtc "$1"; }
if command -v psql >/dev/null; then
  psql_run "CREATE DATABASE $run_db" >/dev/null
  trap 'psql_run "DROP DATABASE IF EXISTS $run_db WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
  export DATABASE_URL="$db_url"
else
  export DATABASE_URL="$base_url"
fi
echo "== Postgres for this run: ${DATABASE_URL%%\?*}"

echo "== formatting and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "== tests (core, SQLite store, Postgres store, examples, doc tests)"
log=$(mktemp)
cargo test --workspace 2>&1 | tee "$log"
echo "== core's decision benches run once each (criterion's test mode: no timing asserted)"
cargo test -p hearth-core --benches --quiet

echo "== SDK: the npm package (wasm32; wasm-bindgen tests, Node tests of the built package, tsc)"
bash scripts/wasm.sh 2>&1 | tee -a "$log"
echo "== SDK: UniFFI bindings (Python unittest, Kotlin on the JVM, Swift generated)"
bash scripts/mobile.sh 2>&1 | tee -a "$log"

# Every runner's count: cargo's `test result:` lines, node's `# pass`/`# fail`, and `x: N passed, N failed`.
# `count RE` sums the last number of every match of RE.
count() { grep -Eo "$1" "$log" | sed -E 's/^.*[^0-9]([0-9]+)[^0-9]*$/\1/' | awk '{s += $1} END {print s + 0}'; }
passed=$(( $(count '^test result: [a-zA-Z]+\. [0-9]+ passed') + $(count '^# pass [0-9]+') + $(count '^[a-z]+: [0-9]+ passed') ))
failed=$(( $(count '^test result: [^;]*; [0-9]+ failed') + $(count '^# fail [0-9]+') + $(count '^[a-z]+: [0-9]+ passed, [0-9]+ failed') ))
echo "== golden vectors, per language"
grep -Eh 'vectors: [a-z]+\.json [0-9]+ passed' "$log" | sed -E 's/^.*(vectors:)/\1/' | sort -u
rm -f "$log"

echo "== docs build without warnings"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet

echo "== quickstart on SQLite"
cargo run --quiet -p hearth-examples --bin quickstart
echo "== maintenance example on SQLite (Viramah: submit, claim race, SLA sweep, signed links, reports)"
cargo run --quiet -p hearth-examples --bin maintenance
echo "== residents example on SQLite (Viramah: roles by super admin, inquiry, onboarding, revision, approval)"
cargo run --quiet -p hearth-examples --bin residents
echo "== quickstart on Postgres"
cargo run --quiet -p hearth-examples --bin quickstart -- "$DATABASE_URL"
echo "== all green"
echo "tests: $passed passed, $failed failed"
