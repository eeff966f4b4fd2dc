//! The sender on a real L1 (anvil): plain sends and a nonce taken behind its back; fee
//! bumping while blocks are not mined (`--no-mining`, then `anvil_mine`); an L1 node that is
//! down when a send starts, and one that restarts (losing its pool) while a transaction
//! waits, both brought back with `--state` behind a relay that keeps the URL; reverts, in estimation and on
//! chain, decoded as the rollup's errors.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::SolCall;
use causeway_bindings::ZkRollup;
use causeway_bindings::ZkRollup::ZkRollupErrors;
use causeway_bindings::anvil::Anvil;
use causeway_l1::send::{SendConfig, SendError, TxSender};
use common::{ETHER, Relay, connect, deploy, mine, operator_signer};

const RECIPIENT: Address = Address::repeat_byte(0xb0);

/// Quick to bump and to retry, so that the tests take seconds.
fn fast() -> SendConfig {
    SendConfig {
        bump_after: Duration::from_millis(300),
        poll_interval: Duration::from_millis(50),
        retry_initial: Duration::from_millis(100),
        retry_max: Duration::from_millis(400),
        give_up_after: Duration::from_secs(30),
        request_timeout: Duration::from_secs(5),
        ..SendConfig::default()
    }
}

fn transfer(wei: u128) -> TransactionRequest {
    TransactionRequest::default()
        .with_to(RECIPIENT)
        .with_value(U256::from(wei))
}

/// A pooled transaction of anvil: (hash, max fee, tip), if any.
async fn pooled(l1: &DynProvider) -> Option<(B256, u128, u128)> {
    let pool: serde_json::Value = l1.raw_request("txpool_content".into(), ()).await.ok()?;
    let by_sender = pool["pending"].as_object()?;
    let tx = by_sender.values().next()?.as_object()?.values().next()?;
    let quantity =
        |key: &str| u128::from_str_radix(tx[key].as_str()?.trim_start_matches("0x"), 16).ok();
    Some((
        tx["hash"].as_str()?.parse().ok()?,
        quantity("maxFeePerGas")?,
        quantity("maxPriorityFeePerGas")?,
    ))
}

async fn balance(l1: &DynProvider, who: Address) -> U256 {
    l1.get_balance(who).await.unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn sends_and_resyncs_a_nonce_used_elsewhere() {
    let anvil = Anvil::spawn().expect("anvil");
    let l1 = connect(&anvil);
    let mut sender = TxSender::new(anvil.endpoint_url(), operator_signer(), fast())
        .await
        .expect("sender");
    assert_eq!(sender.next_nonce(), 0);
    let receipt = sender.send(transfer(ETHER)).await.expect("sent");
    assert!(receipt.status());
    assert_eq!(balance(&l1, RECIPIENT).await, U256::from(ETHER));
    assert_eq!(sender.next_nonce(), 1);

    // Another client sends with the same key: nonce 1 is taken.
    let other = l1
        .send_transaction(transfer(1))
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(other.status());
    let receipt = sender
        .send(transfer(ETHER))
        .await
        .expect("sent after a re-sync");
    assert!(receipt.status());
    let mined = l1
        .get_transaction_by_hash(receipt.transaction_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(alloy::consensus::Transaction::nonce(&mined), 2);
    assert_eq!(sender.next_nonce(), 3);
    assert_eq!(balance(&l1, RECIPIENT).await, U256::from(2 * ETHER + 1));
}

#[tokio::test(flavor = "current_thread")]
async fn bumps_fees_of_a_stuck_transaction() {
    let anvil = Anvil::spawn_with_args(&["--no-mining"]).expect("anvil");
    let l1 = connect(&anvil);
    let mut sender = TxSender::new(anvil.endpoint_url(), operator_signer(), fast())
        .await
        .expect("sender");

    // Watch the pool: the first version, then a replacement; only then mine.
    let observe = async {
        let first = loop {
            if let Some(tx) = pooled(&l1).await {
                break tx;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        loop {
            if pooled(&l1).await.is_some_and(|tx| tx.0 != first.0) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        mine(&l1, 1).await;
        first
    };
    let (receipt, (first_hash, first_max_fee, first_tip)) =
        tokio::join!(sender.send(transfer(ETHER)), observe);
    let receipt = receipt.expect("mined after a bump");
    assert!(receipt.status());
    assert_ne!(
        receipt.transaction_hash, first_hash,
        "a replacement was mined"
    );

    let mined = l1
        .get_transaction_by_hash(receipt.transaction_hash)
        .await
        .unwrap()
        .unwrap();
    use alloy::consensus::Transaction as _;
    assert_eq!(mined.nonce(), 0, "the replacement reuses the nonce");
    assert!(mined.max_fee_per_gas() >= first_max_fee + first_max_fee / 8);
    let tip = mined.max_priority_fee_per_gas().unwrap();
    assert!(
        tip >= first_tip + first_tip / 8,
        "tip {tip} vs first {first_tip}"
    );
    let block = l1
        .get_block_by_number(receipt.block_number.unwrap().into())
        .await
        .unwrap()
        .unwrap();
    let base = u128::from(block.header.base_fee_per_gas.unwrap());
    let first_effective = first_max_fee.min(base + first_tip);
    assert!(
        receipt.effective_gas_price > first_effective,
        "paid {} per gas, the first version would have paid {first_effective}",
        receipt.effective_gas_price
    );
    assert!(pooled(&l1).await.is_none(), "no version left pending");
    assert_eq!(sender.next_nonce(), 1);
}

fn state_args(state: &Path) -> [&std::ffi::OsStr; 2] {
    ["--state".as_ref(), state.as_os_str()]
}

#[tokio::test(flavor = "current_thread")]
async fn finishes_a_send_started_while_l1_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let anvil = Anvil::spawn_with_args(&state_args(&state)).expect("anvil");
    let relay = Relay::new(&anvil);
    let mut sender = TxSender::new(relay.url(), operator_signer(), fast())
        .await
        .expect("sender");
    relay.point_to(None);
    anvil.shutdown();
    assert!(state.exists(), "anvil wrote its state");

    let start = Instant::now();
    let restart = async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let anvil = Anvil::spawn_with_args(&state_args(&state)).expect("anvil again");
        relay.point_to(Some(&anvil));
        anvil
    };
    let (receipt, anvil) = tokio::join!(sender.send(transfer(ETHER)), restart);
    let receipt = receipt.expect("sent once L1 was back");
    assert!(receipt.status());
    assert!(start.elapsed() >= Duration::from_secs(1));
    assert_eq!(
        balance(&connect(&anvil), RECIPIENT).await,
        U256::from(ETHER)
    );
    assert_eq!(sender.next_nonce(), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn rebroadcasts_after_l1_restarts_without_its_pool() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    // Not mined while pending, so the transaction waits in the pool the restart loses.
    let no_mining = [
        "--no-mining".as_ref(),
        "--state".as_ref(),
        state.as_os_str(),
    ];
    let anvil = Anvil::spawn_with_args(&no_mining).expect("anvil");
    let relay = Relay::new(&anvil);
    let l1 = connect(&anvil);
    // Bumping (which would also rebroadcast) only after the test's deadline: what brings the
    // transaction back is the sender noticing the outage.
    let cfg = SendConfig {
        bump_after: Duration::from_secs(60),
        ..fast()
    };
    let mut sender = TxSender::new(relay.url(), operator_signer(), cfg)
        .await
        .expect("sender");

    let start = Instant::now();
    let restart = async {
        while pooled(&l1).await.is_none() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        relay.point_to(None);
        anvil.shutdown();
        tokio::time::sleep(Duration::from_millis(500)).await;
        // Back with instant mining.
        let anvil = Anvil::spawn_with_args(&state_args(&state)).expect("anvil again");
        relay.point_to(Some(&anvil));
        anvil
    };
    let (receipt, anvil) = tokio::join!(sender.send(transfer(ETHER)), restart);
    let receipt = receipt.expect("mined after the restart");
    assert!(receipt.status());
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(
        balance(&connect(&anvil), RECIPIENT).await,
        U256::from(ETHER)
    );
}

#[tokio::test(flavor = "current_thread")]
async fn reverts_are_typed_and_not_retried() {
    let chain = deploy(Anvil::spawn().expect("anvil")).await;
    let mut sender = TxSender::new(chain.anvil.endpoint_url(), operator_signer(), fast())
        .await
        .expect("sender");
    let nonce = sender.next_nonce();
    // Nothing is pending for RECIPIENT: `withdrawPending` reverts with NothingPending.
    let claim = TransactionRequest::default()
        .with_to(chain.rollup)
        .with_input(
            ZkRollup::withdrawPendingCall {
                owner: RECIPIENT,
                tokenId_: 0,
            }
            .abi_encode(),
        );

    let start = Instant::now();
    let err = sender.send(claim.clone()).await.expect_err("reverts");
    assert!(start.elapsed() < Duration::from_secs(2));
    println!("{err}");
    let SendError::Reverted {
        revert,
        receipt: None,
    } = err
    else {
        panic!("expected a revert in estimation, got {err:?}");
    };
    assert!(
        matches!(revert.decoded(), Some(ZkRollupErrors::NothingPending(e)) if e.owner == RECIPIENT && e.tokenId == 0)
    );
    assert_eq!(revert.signature(), Some("NothingPending(address,uint16)"));
    assert_eq!(sender.next_nonce(), nonce, "nothing was sent");

    // With a gas limit given, nothing is estimated: the transaction is mined and reverts.
    let err = sender
        .send(claim.with_gas_limit(100_000))
        .await
        .expect_err("reverts on chain");
    println!("{err}");
    let SendError::Reverted {
        revert,
        receipt: Some(receipt),
    } = err
    else {
        panic!("expected a revert on chain, got {err:?}");
    };
    assert!(!receipt.status());
    assert!(matches!(
        revert.decoded(),
        Some(ZkRollupErrors::NothingPending(_))
    ));
    assert_eq!(
        sender.next_nonce(),
        nonce + 1,
        "the reverted transaction used its nonce"
    );

    // The sender goes on.
    assert!(sender.send(transfer(1)).await.expect("sent").status());
}
