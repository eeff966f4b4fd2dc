//! What the node's end-to-end tests share: signing L2 ops as a wallet does, registering an
//! L2 key, and waiting on the node.

#![allow(dead_code)] // each test binary uses a different part

use alloy::primitives::Address;
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use causeway_crypto::eddsa::PrivateKey;
use causeway_crypto::l2key::{L2_KEY_MESSAGE, derive_from_eth_signature};
use causeway_crypto::poseidon::hash4;
use causeway_primitives::{
    AccountId, ChangePubKey, ChangePubKeyAuth, Domain, Fr, Op, PackedPoint, TokenId, Transfer,
    TxSignature, change_pubkey_eth_message, eth_signed_message_hash,
};
use causeway_rpc::api::{AccountInfo, OpRequest};
use causeway_rpc::client::Client;
use std::time::{Duration, Instant};

pub const ETHER: u128 = 1_000_000_000_000_000_000;
/// The default fee floors (`causeway_node::config::FeeSchedule::default`).
pub const TRANSFER_FEE: u128 = 1_000_000_000_000;
pub const WITHDRAW_FEE: u128 = 10_000_000_000_000;

pub fn unsigned() -> TxSignature {
    TxSignature {
        pubkey: PackedPoint([0; 32]),
        r8_x: [0; 32],
        r8_y: [0; 32],
        s: [0; 32],
    }
}

pub fn sign(key: &PrivateKey, fields: [Fr; 4]) -> TxSignature {
    key.sign(hash4(&fields)).to_tx_signature(&key.public_key())
}

pub fn request(op: &Op) -> OpRequest {
    OpRequest::from_op(op).expect("an L2 op")
}

pub async fn account(client: &Client, address: Address) -> Option<AccountInfo> {
    client.get_account(address).await.expect("getAccount")
}

/// The account's ETH balance on L2.
pub fn eth(info: &AccountInfo) -> u128 {
    info.balances
        .iter()
        .find(|b| b.token == 0)
        .map_or(0, |b| b.amount.to::<u128>())
}

/// Polls `f` every 200 ms until it returns `Some`, for at most `limit`.
pub async fn until<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    limit: Duration,
    mut f: impl FnMut() -> F,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The L2 key a wallet derives for `owner`, and the ChangePubKey (authorized by `owner`'s
/// ECDSA signature, fee in ETH) that registers it for `account` at `nonce`.
pub fn activate(
    owner: &PrivateKeySigner,
    account: AccountId,
    nonce: u32,
    fee: u128,
    domain: &Domain,
) -> (PrivateKey, Op) {
    let eth_sig = owner
        .sign_message_sync(L2_KEY_MESSAGE.as_bytes())
        .expect("signing");
    let key = derive_from_eth_signature(&eth_sig.as_bytes());
    let mut cpk = ChangePubKey {
        account,
        new_pubkey: key.public_key().to_packed(),
        fee_token: TokenId::ETH,
        fee,
        nonce,
        auth: ChangePubKeyAuth::Onchain,
    };
    let digest = eth_signed_message_hash(&change_pubkey_eth_message(domain, &cpk));
    cpk.auth =
        ChangePubKeyAuth::EthSignature(owner.sign_hash_sync(&digest).expect("signing").as_bytes());
    (key, Op::ChangePubKey(cpk))
}

/// A signed ETH transfer.
pub fn transfer(
    key: &PrivateKey,
    from: AccountId,
    to: Address,
    amount: u128,
    nonce: u32,
    domain: &Domain,
) -> Transfer {
    let mut t = Transfer {
        from,
        to,
        token: TokenId::ETH,
        amount,
        fee: TRANSFER_FEE,
        nonce,
        signature: unsigned(),
    };
    t.signature = sign(key, t.signing_fields(domain));
    t
}

/// Test logs, filtered by `RUST_LOG` (default `info`). arkworks' gadgets make an `r1cs` span
/// per call and format their arguments: left on, a proof takes many times longer.
pub fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info".into())
        .add_directive("r1cs=off".parse().expect("a valid directive"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

/// The workspace root (where node_modules is).
pub fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("bin/causeway sits two levels below the workspace root")
        .to_path_buf()
}

/// What viem reads from the Ethereum methods of the L2 RPC at `url`
/// (`crates/rpc/tests/js/eth_reads.mjs`): chain id, balance and nonce of `address`, and the
/// sealed op `sealed` as a transaction. Fails if Node.js or viem is missing.
pub async fn viem_reads(
    url: &str,
    address: Address,
    sealed: alloy::primitives::B256,
) -> serde_json::Value {
    let root = workspace_root();
    let args = serde_json::json!({
        "address": address,
        "sealedTx": sealed,
        "pendingTx": sealed,
    });
    let output = tokio::process::Command::new("node")
        .arg(root.join("crates/rpc/tests/js/eth_reads.mjs"))
        .arg(url)
        .arg(args.to_string())
        .current_dir(&root)
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run `node` (is Node.js on the PATH?): {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "viem failed ({}): {}\n{stdout}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.trim()).expect("the script prints JSON")
}

/// Runs the built `causeway` binary with `args` and the environment variables `envs`, and
/// returns its output (stdout, stderr, status).
pub async fn causeway(args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_causeway"))
        .args(args)
        .envs(envs.iter().copied())
        .output()
        .await
        .expect("the causeway binary runs")
}

/// The text of a command's stdout and stderr, for assertions and failure messages.
pub fn texts(output: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The password of the test keystores, as `causeway` reads it from the environment.
pub const PASSWORD: (&str, &str) = ("CAUSEWAY_PASSWORD", "exodus test password");

/// Imports the L1 key `key` into the keystore `dir/<name>.json` with `causeway wallet import`,
/// as a user would (the key file is removed afterwards), and returns the keystore's path.
pub async fn import_keystore(dir: &std::path::Path, name: &str, key: &str) -> std::path::PathBuf {
    let key_file = dir.join(format!("{name}.key"));
    std::fs::write(&key_file, key).unwrap();
    let path = dir.join(format!("{name}.json"));
    let out = causeway(
        &[
            "wallet",
            "--keystore",
            path.to_str().unwrap(),
            "import",
            "--from-file",
            key_file.to_str().unwrap(),
        ],
        &[PASSWORD],
    )
    .await;
    succeeded(&out, "import");
    std::fs::remove_file(key_file).unwrap();
    path
}

/// `causeway exit` against `rollup` on `l1_url` with the key in `keystore`, plus `extra`
/// arguments. Logs are read from block 0 in ranges of 16 blocks: many bounded `eth_getLogs`
/// requests, as against a provider that caps them.
pub async fn exit(
    l1_url: &str,
    rollup: Address,
    keystore: &std::path::Path,
    extra: &[&str],
) -> std::process::Output {
    let rollup = rollup.to_string();
    let mut args = vec![
        "exit",
        "--l1-rpc",
        l1_url,
        "--rollup",
        &rollup,
        "--from-block",
        "0",
        "--log-range",
        "16",
        "--keystore",
        keystore.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    causeway(&args, &[PASSWORD]).await
}

/// Moves anvil's clock to a minute past `deadline` (a unix time) and mines a block there.
pub async fn pass_deadline(l1: &impl alloy::providers::Provider, deadline: u64) {
    let now = l1
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .unwrap()
        .unwrap()
        .header
        .timestamp;
    let _: serde_json::Value = l1
        .raw_request(
            "evm_increaseTime".into(),
            (deadline.saturating_sub(now) + 60,),
        )
        .await
        .unwrap();
    let _: serde_json::Value = l1.raw_request("evm_mine".into(), ()).await.unwrap();
}

/// The rollup's custom error in a failed call or transaction; panics on any other failure.
pub fn revert(e: alloy::contract::Error) -> causeway_bindings::ZkRollup::ZkRollupErrors {
    e.as_decoded_interface_error::<causeway_bindings::ZkRollup::ZkRollupErrors>()
        .unwrap_or_else(|| panic!("not a rollup error: {e}"))
}

/// Sends a contract call as a transaction and waits for its receipt (which may show a revert).
pub async fn mined<P: alloy::providers::Provider, D: alloy::contract::CallDecoder>(
    call: alloy::contract::CallBuilder<P, D>,
) -> alloy::rpc::types::TransactionReceipt {
    call.send()
        .await
        .expect("sent")
        .get_receipt()
        .await
        .expect("mined")
}

/// The one deposit reclaimed on `rollup` from L1 block `from` on: (op id, owner, amount).
pub async fn only_reclaim<P: alloy::providers::Provider>(
    rollup: &causeway_bindings::ZkRollup::ZkRollupInstance<P>,
    from: u64,
) -> (u64, Address, u128) {
    let reclaimed = rollup
        .DepositReclaimed_filter()
        .from_block(from)
        .query()
        .await
        .unwrap();
    assert_eq!(reclaimed.len(), 1, "one reclaim");
    let e = &reclaimed[0].0;
    (e.opId, e.owner, e.amount)
}

/// The stdout of a command that had to fail with exit code 1, saying each of `says` on stderr.
pub fn refused(output: &std::process::Output, says: &[&str]) -> String {
    let (stdout, stderr) = texts(output);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    for s in says {
        assert!(stderr.contains(s), "{s:?} not in:\n{stderr}");
    }
    stdout
}

/// The stdout of a command that had to succeed (`what` names it if it did not).
pub fn succeeded(output: &std::process::Output, what: &str) -> String {
    let (stdout, stderr) = texts(output);
    assert!(output.status.success(), "{what}:\n{stdout}\n{stderr}");
    stdout
}
