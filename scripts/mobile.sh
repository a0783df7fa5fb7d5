#!/usr/bin/env bash
# Builds the UniFFI library (sdk-mobile), generates the Kotlin, Swift and Python bindings in library
# mode with the in-workspace uniffi-bindgen (build output in target/bindings, never committed), and
# runs the Python tests (unittest) and the Kotlin tests (kotlinc + JVM + JNA) against the host cdylib.
# Swift is generated and checked to exist: no Swift compiler here.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/sdk-tools.sh
out=target/bindings
lib=target/debug/libhearth_mobile.so

echo "== mobile: build the cdylib and uniffi-bindgen"
cargo build --quiet -p hearth-mobile --lib --bin uniffi-bindgen
rm -rf "$out"
for lang in python kotlin swift; do
  target/debug/uniffi-bindgen generate --library "$lib" --language "$lang" --out-dir "$out/$lang" >/dev/null
done
for f in "$out/swift/hearth_mobile.swift" "$out/swift/hearth_mobileFFI.h" "$out/swift/hearth_mobileFFI.modulemap"; do
  [ -s "$f" ] || { echo "mobile: missing Swift binding $f" >&2; exit 1; }
done
echo "mobile: swift bindings generated ($(wc -l < "$out/swift/hearth_mobile.swift") lines)"

echo "== mobile: Python (unittest) against the cdylib"
cp "$lib" "$out/python/"
(PYTHONPATH="$out/python" python3 -m unittest discover -v -s sdk-mobile/tests -p 'test_*.py' 2>&1) | tee "$out/python.log" | grep -E "vectors:|^(OK|FAILED)|Error|Traceback" || true
grep -q '^OK' "$out/python.log" || { cat "$out/python.log"; exit 1; }
pyn=$(grep -Eo '^Ran [0-9]+' "$out/python.log" | awk '{print $2}')
echo "python: ${pyn} passed, 0 failed"

echo "== mobile: Kotlin (kotlinc, JVM, JNA) against the cdylib"
kotlinc=tools/node_modules/kotlin-compiler/bin/kotlinc
cp="/usr/share/java/jna.jar:/usr/share/java/gson.jar"
"$kotlinc" -nowarn -cp "$cp" "$out/kotlin" sdk-mobile/tests/VectorsTest.kt -d "$out/kotlin-tests.jar" 2>&1 | grep -v '^warning' || true
[ -f "$out/kotlin-tests.jar" ] || { echo "mobile: Kotlin compilation failed" >&2; exit 1; }
java -Djna.library.path="$(pwd)/target/debug" \
  -cp "$out/kotlin-tests.jar:$cp:tools/node_modules/kotlin-compiler/lib/kotlin-stdlib.jar" VectorsTestKt "$(pwd)/vectors"
