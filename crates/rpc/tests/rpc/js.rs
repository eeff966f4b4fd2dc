//! (e) viem under Node.js reads the Ethereum methods: the JavaScript wallets' view.
//!
//! Needs `node` on the PATH and `viem` in the workspace's node_modules (`npm ci` at the
//! workspace root). Either missing fails the test with what to do: a skipped test would
//! prove nothing.

use crate::Running;
use crate::mem_node::{
    self, ALICE, ALICE_ETH, ALICE_ETH_SEALED, ALICE_NONCE, BOB, FEE_RECIPIENT, L1_DEPOSITOR,
    L2_CHAIN_ID,
};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/rpc sits two levels below the workspace root")
        .to_path_buf()
}

#[tokio::test(flavor = "multi_thread")]
async fn viem_reads_the_ethereum_methods() {
    let root = workspace_root();
    assert!(
        root.join("node_modules/viem/package.json").is_file(),
        "viem is not installed in {}: run `npm ci` at the workspace root",
        root.join("node_modules").display()
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js/eth_reads.mjs");
    let rpc = Running::start().await;
    let args = json!({
        "address": ALICE,
        "sealedTx": mem_node::transfer_eth(),
        "pendingTx": mem_node::pending(),
    });
    let output = tokio::process::Command::new("node")
        .arg(&script)
        .arg(rpc.http_url())
        .arg(args.to_string())
        .current_dir(&root)
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run `node` (is Node.js on the PATH?): {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "viem failed ({}):\n{stderr}\n{stdout}",
        output.status
    );
    let got: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("the script printed no JSON ({e}):\n{stdout}\n{stderr}"));

    let hex = |v: &dyn std::fmt::Display| v.to_string();
    let block1 = mem_node::block_hash(1);
    assert_eq!(got["chainId"], L2_CHAIN_ID);
    assert_eq!(got["blockNumber"], "2");
    assert_eq!(got["balance"], ALICE_ETH.to_string());
    assert_eq!(got["balanceAtBlock1"], ALICE_ETH_SEALED.to_string());
    assert_eq!(got["transactionCount"], ALICE_NONCE);
    assert_eq!(got["gasPrice"], "0");
    assert_eq!(
        got["block"],
        json!({
            "number": "2",
            "hash": hex(&mem_node::block_hash(2)),
            "parentHash": hex(&block1),
            "miner": hex(&FEE_RECIPIENT).to_lowercase(),
            "baseFeePerGas": "0",
            "transactions": [hex(&mem_node::transfer_erc20())],
        })
    );
    assert_eq!(
        got["sealedBlock"]["transactions"],
        json!([
            { "hash": hex(&mem_node::transfer_eth()), "from": hex(&ALICE).to_lowercase(), "blockHash": hex(&block1) },
            { "hash": hex(&mem_node::deposit()), "from": hex(&L1_DEPOSITOR).to_lowercase(), "blockHash": hex(&block1) },
        ])
    );
    assert_eq!(
        got["sealed"],
        json!({
            "hash": hex(&mem_node::transfer_eth()),
            "from": hex(&ALICE).to_lowercase(),
            "to": hex(&BOB).to_lowercase(),
            "value": "1000000000000000000",
            "nonce": 0,
            "type": "legacy",
            "blockNumber": "1",
            "blockHash": hex(&block1),
            "transactionIndex": 0,
        })
    );
    assert_eq!(
        got["receipt"],
        json!({
            "status": "success",
            "transactionHash": hex(&mem_node::transfer_eth()),
            "blockNumber": "1",
            "blockHash": hex(&block1),
            "from": hex(&ALICE).to_lowercase(),
            "to": hex(&BOB).to_lowercase(),
            "gasUsed": "0",
            "logs": [],
        })
    );
    assert_eq!(
        got["pending"],
        json!({ "hash": hex(&mem_node::pending()), "blockNumber": null, "blockHash": null })
    );
    assert_eq!(got["pendingReceipt"], "TransactionReceiptNotFoundError");
    assert_eq!(got["estimatedFees"]["maxFeePerGas"], "0");
}
