//! The whole node end to end on a real anvil with real proofs: a devnet is started (contracts
//! deployed, the operator and three test accounts deposit), then over JSON-RPC a test account
//! registers its L2 key, transfers to a new address and withdraws to L1; the withdrawal is
//! claimed on L1 and the recipient's balance grows by exactly the amount. On the way the node
//! refuses a bad signature, a wrong nonce, an overdraft, a fee below the floor and malformed
//! JSON, and none of them changes anything. At the end the contract's ETH equals what it owes
//! (`pooled` on L2 plus pending withdrawals) and the L2 balances add up to the deposits.
//!
//! Needs the npm toolchain (anvil) at the workspace root. Proving takes a few minutes on two
//! cores: the devnet's 6-chunk circuit, one proof per block.

mod common;

use alloy::network::EthereumWallet;
use alloy::primitives::{Address, U256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use causeway_bindings::ZkRollup;
use causeway_crypto::eddsa::PrivateKey;
use causeway_node::devnet::{DevnetOptions, TEST_KEYS, start_devnet};
use causeway_primitives::{AccountId, Domain, Op, TokenId, Withdraw};
use causeway_rpc::api::OpStage;
use causeway_rpc::client::Client;
use common::{
    ETHER, WITHDRAW_FEE, account, activate, eth, request, sign, transfer, unsigned, until,
};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deposit_transfer_withdraw_claim_on_a_devnet() {
    common::init_logs();
    let dir = tempfile::tempdir().unwrap();
    let keys = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("devnet-keys");
    let devnet = start_devnet(DevnetOptions {
        data_dir: dir.path().join("devnet"),
        l1_port: 0,
        rpc_listen: "127.0.0.1:0".parse().unwrap(),
        block_time_ms: 300,
        keys_dir: Some(keys),
        ..DevnetOptions::default()
    })
    .await
    .expect("devnet");
    let client = Client::new(format!("http://{}", devnet.node.rpc_addr)).unwrap();
    let info = client.node_info().await.unwrap();
    let domain = Domain {
        chain_id: info.l1_chain_id,
        contract: info.rollup,
    };

    // The test account's deposit (10 ETH) arrives on L2 once confirmed on L1.
    let alice_l1: PrivateKeySigner = TEST_KEYS[0].parse().unwrap();
    let alice = alice_l1.address();
    let funded = until("the test deposit", Duration::from_secs(60), || async {
        account(&client, alice)
            .await
            .filter(|a| eth(a) == 10 * ETHER)
    })
    .await;
    assert_eq!(funded.nonce, 0);
    assert_eq!(funded.pubkey, None);
    let id = AccountId::new(funded.id).unwrap();

    // Her L2 key, derived from her Ethereum signature, registered by ChangePubKey (ECDSA).
    let (l2, cpk) = activate(&alice_l1, id, 0, WITHDRAW_FEE, &domain);
    client
        .send_op(&request(&cpk))
        .await
        .expect("ChangePubKey accepted");

    // Refusals change nothing.
    let bob = Address::repeat_byte(0xb0);
    let mut t = transfer(&l2, id, bob, ETHER, 1, &domain);
    let good = t.signature;
    // A signature by another key.
    t.signature = sign(&PrivateKey::from_bytes([9; 32]), t.signing_fields(&domain));
    let err = client
        .send_op(&request(&Op::Transfer(t.clone())))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(3), "wrong signer: {err}");
    // A signature over other fields.
    let mut tampered = t.clone();
    tampered.signature = good;
    tampered.amount = 2 * ETHER;
    let err = client
        .send_op(&request(&Op::Transfer(tampered)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(3), "tampered amount: {err}");
    // An old nonce.
    let mut stale = t.clone();
    stale.nonce = 0;
    stale.signature = sign(&l2, stale.signing_fields(&domain));
    let err = client
        .send_op(&request(&Op::Transfer(stale)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(3), "old nonce: {err}");
    // More than she has.
    let mut overdraft = t.clone();
    overdraft.amount = 20 * ETHER;
    overdraft.signature = sign(&l2, overdraft.signing_fields(&domain));
    let err = client
        .send_op(&request(&Op::Transfer(overdraft)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(3), "overdraft: {err}");
    // A fee below the floor.
    let mut cheap = t.clone();
    cheap.fee = 0;
    cheap.signature = sign(&l2, cheap.signing_fields(&domain));
    let err = client
        .send_op(&request(&Op::Transfer(cheap)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(4), "fee below floor: {err}");
    // Malformed JSON.
    let http = alloy::transports::http::reqwest::Client::new();
    let answer: serde_json::Value = http
        .post(format!("http://{}", devnet.node.rpc_addr))
        .header("content-type", "application/json")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"causeway_sendOp","params":[{"type":"transfer""#)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["error"]["code"], -32700, "{answer}");
    let after = account(&client, alice).await.unwrap();
    assert_eq!(after.nonce, 1, "only the ChangePubKey used a nonce");
    assert_eq!(eth(&after), 10 * ETHER - WITHDRAW_FEE);

    // A transfer to an address with no account creates one.
    t.signature = good;
    let transfer_hash = client
        .send_op(&request(&Op::Transfer(t)))
        .await
        .expect("transfer");
    // Withdraw half an ether to a fresh L1 address.
    let recipient = Address::repeat_byte(0xc1);
    let mut w = Withdraw {
        from: id,
        to: recipient,
        token: TokenId::ETH,
        amount: ETHER / 2,
        fee: WITHDRAW_FEE,
        nonce: 2,
        signature: unsigned(),
    };
    w.signature = sign(&l2, w.signing_fields(&domain));
    let withdraw = client
        .send_op(&request(&Op::Withdraw(w)))
        .await
        .expect("withdraw");

    let bob_account = until("bob's account", Duration::from_secs(30), || async {
        account(&client, bob).await
    })
    .await;
    assert_eq!(eth(&bob_account), ETHER);
    let status = client.get_op_status(transfer_hash).await.unwrap().unwrap();
    assert!(status.stage >= OpStage::Pending);

    // Proofs take a while: wait for the withdrawal's batch to execute on L1.
    let executed = until(
        "the withdrawal executed on L1",
        Duration::from_secs(900),
        || async {
            let s = client.get_op_status(withdraw).await.unwrap()?;
            (s.stage == OpStage::Executed).then_some(s)
        },
    )
    .await;
    assert!(executed.commit_tx.is_some() && executed.execute_tx.is_some());

    // Anyone may claim it for the recipient; the recipient gets exactly the amount.
    let l1 = ProviderBuilder::new()
        .wallet(EthereumWallet::from(alice_l1.clone()))
        .connect_http(devnet.anvil.endpoint_url());
    let rollup = ZkRollup::new(info.rollup, &l1);
    assert_eq!(
        rollup.pending(recipient, 0).call().await.unwrap(),
        U256::from(ETHER / 2)
    );
    let receipt = rollup
        .withdrawPending(recipient, 0)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    assert_eq!(
        l1.get_balance(recipient).await.unwrap(),
        U256::from(ETHER / 2)
    );

    // Conservation: the contract holds what it owes, and L2 holds the deposits minus the
    // withdrawal (fees only move between accounts).
    let held = l1.get_balance(info.rollup).await.unwrap();
    let pooled = rollup.pooled(0).call().await.unwrap();
    assert_eq!(held, pooled);
    let mut total = 0u128;
    for address in [alice, bob]
        .into_iter()
        .chain(
            TEST_KEYS[1..]
                .iter()
                .map(|k| k.parse::<PrivateKeySigner>().unwrap().address()),
        )
        .chain([causeway_bindings::anvil::DEV_KEY
            .parse::<PrivateKeySigner>()
            .unwrap()
            .address()])
    {
        total += account(&client, address).await.map_or(0, |a| eth(&a));
    }
    assert_eq!(total, ETHER + 3 * 10 * ETHER - ETHER / 2);
    assert_eq!(U256::from(total), pooled);

    // viem reads the node as it reads any Ethereum RPC.
    let alice_now = account(&client, alice).await.unwrap();
    let viem = common::viem_reads(
        &format!("http://{}", devnet.node.rpc_addr),
        alice,
        transfer_hash,
    )
    .await;
    assert_eq!(viem["chainId"], info.l2_chain_id);
    assert_eq!(viem["balance"], eth(&alice_now).to_string());
    assert_eq!(viem["transactionCount"], alice_now.nonce);
    assert_eq!(viem["sealed"]["hash"], transfer_hash.to_string());
    assert_eq!(
        viem["sealed"]["from"].as_str().unwrap().to_lowercase(),
        alice.to_string().to_lowercase()
    );
    assert_eq!(viem["sealed"]["value"], ETHER.to_string());
    devnet.node.stop().await;
}
