//! Foundry's `cast` (the workspace's pinned copy in node_modules) reads the Ethereum methods:
//! the command-line view. Missing `cast` fails the test with what to do.

use crate::Running;
use crate::mem_node::{self, ALICE, ALICE_ETH, ALICE_NONCE, L2_CHAIN_ID};
use serde_json::Value;
use std::path::Path;

/// Runs `cast <args> --rpc-url <rpc>` and returns its trimmed stdout.
async fn cast(rpc: &Running, args: &[&str]) -> String {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../node_modules/.bin/cast");
    assert!(
        bin.exists(),
        "cast is not installed at {}: run `npm ci` at the workspace root",
        bin.display()
    );
    let output = tokio::process::Command::new(&bin)
        .args(args)
        .args(["--rpc-url", &rpc.http_url()])
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    assert!(
        output.status.success(),
        "cast {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn cast_reads_the_ethereum_methods() {
    let rpc = Running::start().await;
    let alice = ALICE.to_string();
    let sealed = mem_node::transfer_eth().to_string();

    assert_eq!(cast(&rpc, &["chain-id"]).await, L2_CHAIN_ID.to_string());
    assert_eq!(cast(&rpc, &["block-number"]).await, "2");
    assert_eq!(
        cast(&rpc, &["balance", &alice]).await,
        ALICE_ETH.to_string()
    );
    assert_eq!(
        cast(&rpc, &["nonce", &alice]).await,
        ALICE_NONCE.to_string()
    );
    assert_eq!(cast(&rpc, &["gas-price"]).await, "0");

    let block = json(&cast(&rpc, &["block", "1", "--json"]).await);
    assert_eq!(block["hash"], mem_node::block_hash(1).to_string());
    let tx = json(&cast(&rpc, &["tx", &sealed, "--json"]).await);
    assert_eq!(tx["hash"], sealed);
    let receipt = json(&cast(&rpc, &["receipt", &sealed, "--json"]).await);
    assert_eq!(receipt["status"], "0x1");
}
