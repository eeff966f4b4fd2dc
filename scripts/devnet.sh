#!/usr/bin/env bash
# The main job on a fresh machine: installs what is missing (the pinned npm toolchain, which
# brings anvil), builds the node in release mode, and runs `causeway devnet`: anvil on :8545,
# the contracts deployed, the node (sequencer, prover, L1 watcher and submitter) with its
# JSON-RPC on :3050, and funded test accounts. Extra arguments go to `causeway devnet`
# (see `causeway devnet --help`). Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ package.json -nt node_modules ] || [ package-lock.json -nt node_modules ]; then
    npm install --no-audit --no-fund
    touch node_modules
fi
PATH="$PWD/node_modules/.bin:$PATH"
exec cargo run --release --locked -p causeway-cli -- devnet "$@"
