#!/usr/bin/env bash
# The project's test command: formatting, lints, every test of the workspace, and the L1
# contracts' forge tests.
# Needs a Rust toolchain (cargo, rustfmt, clippy) and Node.js with npm (for the L1 contracts);
# dependencies come from crates.io and the npm registry.
set -euo pipefail
cd "$(dirname "$0")/.."

# The pinned L1 toolchain (package.json: solc, forge, anvil, cast, snarkjs) installs into
# node_modules/ on first use or when package.json or package-lock.json changed. `npm install`,
# not `npm ci`: the lock is generated on one platform and lists only its native binaries.
echo "== npm install (when needed)"
if [ ! -d node_modules ] || [ package.json -nt node_modules ] || [ package-lock.json -nt node_modules ]; then
    npm install --no-audit --no-fund
    touch node_modules
fi
PATH="$PWD/node_modules/.bin:$PATH"

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
# cargo-nextest (on the build machines) runs the tests of all binaries in one pool of
# processes, which on 2 cores finishes several minutes sooner than `cargo test` running the
# binaries one after another; it does not run doctests, so those run separately.
if cargo nextest --version >/dev/null 2>&1; then
    echo "== cargo nextest run"
    cargo nextest run --workspace --locked
    echo "== cargo test --doc"
    cargo test --workspace --doc --locked
else
    echo "== cargo test (cargo-nextest not installed)"
    cargo test --workspace --locked
fi

# The committed contracts/artifacts (ABI and bytecode, which crates/bindings compiles into Rust
# bindings, so cargo itself needs no Node) must be what the contracts compile to now.
echo "== forge build, scripts/artifacts --check, forge test (contracts/)"
(cd contracts && forge build && ../scripts/artifacts --check && forge test)
