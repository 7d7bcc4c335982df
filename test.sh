#!/usr/bin/env bash
# Runs every check and test: formatting, clippy, the standalone build, the debug plugin bundle
# (with assert_process_allocs) hosted through a real CLAP host, and the whole workspace's tests.
set -euo pipefail
cd "$(dirname "$0")"

bash scripts/install-onnxruntime.sh >/dev/null

echo "== cargo fmt --check" >&2
cargo fmt --all -- --check
echo "== cargo clippy" >&2
cargo clippy --workspace --all-targets -- -D warnings
echo "== standalone build" >&2
cargo build -p counterpart --features standalone
echo "== debug plugin bundle" >&2
cargo xtask bundle counterpart
echo "== cargo test" >&2
cargo test --workspace
