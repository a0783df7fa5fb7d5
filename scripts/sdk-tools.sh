#!/usr/bin/env bash
# Installs what the SDK builds and tests need, idempotently, and prints nothing else but progress:
#   - the npm tools in tools/ (wasm-opt, tsc, kotlinc, zod) at the versions in tools/package-lock.json;
#   - wasm-bindgen-cli at exactly the version of the wasm-bindgen crate in Cargo.lock;
#   - a wasm32 Rust target: `rustup target add`, else Debian's rustc-web + rust-web-src (build-std);
#   - a JDK, JNA and Gson for the Kotlin tests (Debian packages), when missing.
# Source it: it exports WASM_CARGO (the cargo command line prefix for wasm32 builds).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

apt_install() {
  command -v apt-get >/dev/null || { echo "sdk-tools: need Debian packages $* (no apt-get here)" >&2; return 1; }
  [ -n "${HEARTH_APT_UPDATED:-}" ] || { apt-get update -qq >/dev/null; export HEARTH_APT_UPDATED=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# npm tools
if [ ! -x "$root/tools/node_modules/.bin/wasm-opt" ] || [ ! -x "$root/tools/node_modules/.bin/tsc" ] \
  || [ ! -x "$root/tools/node_modules/kotlin-compiler/bin/kotlinc" ] || [ ! -f "$root/tools/node_modules/zod/package.json" ]; then
  echo "== sdk-tools: npm ci (binaryen, typescript, kotlin-compiler, zod)"
  (cd "$root/tools" && npm ci --no-audit --no-fund --loglevel=error)
fi

# wasm-bindgen-cli at the locked version
wb_version=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' "$root/Cargo.lock")
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wb_version" ]; then
  echo "== sdk-tools: cargo install wasm-bindgen-cli $wb_version"
  cargo install --quiet wasm-bindgen-cli --version "$wb_version"
fi

# A wasm32 target: rustup's when it can be had, else Debian's rustc-web with the std built from source.
if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown \
  || rustup target add wasm32-unknown-unknown >/dev/null 2>&1; then
  export WASM_CARGO="cargo"
  export WASM_BUILD_STD=""
else
  if ! /usr/bin/rustc --print target-list 2>/dev/null | grep -qx wasm32-unknown-unknown \
    || [ ! -d /usr/lib/rustlib/src/rust ] || [ ! -x /usr/bin/wasm-ld ]; then
    echo "== sdk-tools: Debian rustc-web, rust-web-src, lld (wasm32 std from source)"
    apt_install rustc-web cargo-web rust-web-src lld
  fi
  export RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
  export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=/usr/bin/wasm-ld
  export WASM_CARGO="/usr/bin/cargo"
  export WASM_BUILD_STD="-Zbuild-std=std,panic_abort"
fi

# JVM side of the Kotlin tests.
command -v java >/dev/null || apt_install default-jdk-headless
[ -f /usr/share/java/jna.jar ] || apt_install libjna-java
[ -f /usr/share/java/gson.jar ] || apt_install libgoogle-gson-java
