#!/usr/bin/env bash
# The project's test command: formatting, lints, and every test of the workspace.
# Needs only a Rust toolchain (cargo, rustfmt, clippy); dependencies come from crates.io.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked
