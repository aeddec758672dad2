#!/usr/bin/env bash
# Builds the conformance Worker into build/ (worker-build: cargo to wasm32,
# wasm-bindgen, wasm-opt, the JavaScript shim) with the tools installed by
# .ci/run, never downloading any: worker-build 0.8.7 on PATH, wasm-bindgen at
# the lockfile's version, and wasm-opt / esbuild from `npm ci` here.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
root="$(cd ../../.. && pwd)"

# Up to date when the wasm is newer than every source it is built from (the
# same list tests/workerd.rs checks). --force rebuilds anyway.
sources=(
    "$root/Cargo.lock"
    "$root/crates/storage-traits/src" "$root/crates/storage-traits/Cargo.toml"
    "$root/crates/storage-workers/src" "$root/crates/storage-workers/Cargo.toml"
    src Cargo.toml
)
if [[ "${1:-}" != "--force" && -f build/index_bg.wasm && -f build/index.js ]] &&
    [[ -z "$(find "${sources[@]}" -newer build/index_bg.wasm -print -quit)" ]]; then
    echo "conformance Worker up to date ($(wc -c < build/index_bg.wasm) bytes of wasm)"
    exit 0
fi

want=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/"/, "", $3); print $3; exit}' "$root/Cargo.lock")
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [[ "$have" != "$want" ]]; then
    echo "wasm-bindgen $want is needed (found '${have:-none}'): run .ci/run, or cargo install wasm-bindgen-cli --version $want" >&2
    exit 1
fi
command -v worker-build >/dev/null || { echo "worker-build missing: run .ci/run" >&2; exit 1; }
[[ -x node_modules/.bin/wasm-opt ]] || { echo "node_modules missing: run npm ci in $PWD (or .ci/run)" >&2; exit 1; }

export WASM_BINDGEN_BIN="$(command -v wasm-bindgen)"
export WASM_OPT_BIN="$PWD/node_modules/.bin/wasm-opt"
export ESBUILD_BIN="$PWD/node_modules/.bin/esbuild"
export WRANGLER_SEND_METRICS=false
export XDG_CONFIG_HOME="$PWD/.cache/config" XDG_CACHE_HOME="$PWD/.cache"
# A size-optimized release without debug info (the workspace's release
# profile keeps line tables for native profiling).
export CARGO_PROFILE_RELEASE_DEBUG=0
export CARGO_PROFILE_RELEASE_OPT_LEVEL=s
export CARGO_PROFILE_RELEASE_LTO=true
export CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1
worker-build --release
