#!/usr/bin/env bash
# Builds the npm package (sdk-wasm/pkg; `wasm-opt -Oz --converge`: the passes rerun while they still
# shrink the module, ~1.8 KB gzipped) and runs its three kinds of tests:
#   1. #[wasm_bindgen_test] tests, compiled to wasm32 and run under Node by wasm-bindgen-test-runner;
#   2. the built package under Node's test runner (the golden vectors and the queue, through the JS API);
#   3. `tsc --noEmit` over a TypeScript file that uses the declarations.
# `scripts/wasm.sh build` only builds. Sizes go to stdout (BENCHMARKS.md records them).
# `scripts/wasm.sh bench [rounds batches calls]` builds, then times validate("service_request") against
# a Zod schema of the same rules in one Node process (sdk-wasm/bench/validate.mjs; BENCHMARKS.md, issue 11).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/sdk-tools.sh
root=$(pwd)
target_dir="$root/target/wasm"
pkg="$root/sdk-wasm/pkg"

echo "== wasm: build hearth-wasm (profile wasm-release)"
# shellcheck disable=SC2086
$WASM_CARGO build --quiet --profile wasm-release -p hearth-wasm --target wasm32-unknown-unknown \
  --target-dir "$target_dir" $WASM_BUILD_STD
wasm="$target_dir/wasm32-unknown-unknown/wasm-release/hearth_wasm.wasm"

rm -rf "$pkg"
mkdir -p "$pkg"
for t in nodejs bundler; do
  out="$pkg/$([ "$t" = nodejs ] && echo node || echo bundler)"
  wasm-bindgen --target "$t" --out-dir "$out" --out-name hearth_wasm "$wasm"
  tools/node_modules/.bin/wasm-opt -Oz --converge --enable-bulk-memory --enable-nontrapping-float-to-int \
    --enable-sign-ext --enable-mutable-globals "$out/hearth_wasm_bg.wasm" -o "$out/hearth_wasm_bg.wasm"
done
cp sdk-wasm/npm/package.json sdk-wasm/npm/README.md "$pkg/"
cp sdk-wasm/npm/hearth.cjs sdk-wasm/npm/hearth.node.mjs "$pkg/node/"
mv "$pkg/node/hearth.node.mjs" "$pkg/node/hearth.mjs"
cp sdk-wasm/npm/hearth.bundler.mjs "$pkg/bundler/hearth.mjs"
echo 'export * from "./bundler/hearth_wasm.js";' > "$pkg/hearth.d.ts"

raw=$(wc -c < "$pkg/node/hearth_wasm_bg.wasm")
gz=$(gzip -9 -c "$pkg/node/hearth_wasm_bg.wasm" | wc -c)
tarball=$(cd "$pkg" && npm pack --silent --pack-destination "$target_dir" 2>/dev/null | tail -1)
echo "wasm size: ${raw} bytes raw, ${gz} bytes gzip -9; npm tarball $(wc -c < "$target_dir/$tarball") bytes"

[ "${1:-}" = build ] && exit 0
if [ "${1:-}" = bench ]; then
  uptime
  node sdk-wasm/bench/validate.mjs "${@:2}"
  exit 0
fi

echo "== wasm: #[wasm_bindgen_test] under Node"
# shellcheck disable=SC2086
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  $WASM_CARGO test -p hearth-wasm --target wasm32-unknown-unknown --target-dir "$target_dir" $WASM_BUILD_STD

echo "== wasm: the built package under node --test"
node --test sdk-wasm/tests/
# The benchmark's smoke: both validators load and agree on its inputs (no timing).
node sdk-wasm/bench/validate.mjs --smoke

echo "== wasm: tsc --noEmit over the declarations"
tools/node_modules/.bin/tsc --noEmit -p sdk-wasm/tests/tsconfig.json
echo "tsc: 1 passed, 0 failed"
