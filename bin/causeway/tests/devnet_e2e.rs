//! The whole node end to end on a real anvil with real proofs: a devnet is started (contracts
//! deployed, the operator and three test accounts deposit), then over JSON-RPC a test account
//! registers its L2 key, transfers to a new address and withdraws to L1; the withdrawal is
//! claimed on L1 and the recipient's balance grows by exactly the amount. Meanwhile another
//! test account leaves by a FullExit on L1 (`causeway wallet full-exit --wait executed`), which
//! the node includes; its claim pays exactly the account's balance. On the way the node
//! refuses a bad signature, a wrong nonce, an overdraft, a fee below the floor and malformed
//! JSON, and none of them changes anything. At the end the contract's ETH equals what it owes
//! (`pooled` on L2 plus pending withdrawals) and the L2 balances add up to the deposits.
//!
//! Then the escape hatch (see [`exodus`]): a batch committed and never proven, the operator
//! gone, a deposit left to expire, exodus, and `causeway exit` for every account. No extra
//! proof is computed.
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
use causeway_stf::StateView;
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

    // Dan leaves through L1: `causeway wallet full-exit` queues a FullExit of all his ETH and
    // follows it until its batch executes (the node must include it). It runs beside the
    // withdrawal's wait.
    let dan_l1: PrivateKeySigner = TEST_KEYS[2].parse().unwrap();
    let dan = dan_l1.address();
    until("Dan's deposit", Duration::from_secs(60), || async {
        account(&client, dan).await.filter(|a| eth(a) == 10 * ETHER)
    })
    .await;
    let dan_ks = common::import_keystore(dir.path(), "dan", TEST_KEYS[2]).await;
    let wallet_args: Vec<String> = [
        "wallet",
        "--keystore",
        dan_ks.to_str().unwrap(),
        "--rpc",
        &format!("http://{}", devnet.node.rpc_addr),
        "--l1-rpc",
        &devnet.anvil.endpoint(),
        "full-exit",
        "--wait",
        "executed",
        "--timeout",
        "900",
    ]
    .map(str::to_owned)
    .to_vec();
    let full_exit = tokio::spawn(async move {
        let args: Vec<&str> = wallet_args.iter().map(String::as_str).collect();
        common::causeway(&args, &[common::PASSWORD]).await
    });

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
    let receipt = common::mined(rollup.withdrawPending(recipient, 0)).await;
    assert!(receipt.status());
    assert_eq!(
        l1.get_balance(recipient).await.unwrap(),
        U256::from(ETHER / 2)
    );

    // Dan's full exit executed: his whole balance is claimable on L1 (anyone may send the
    // claim; he gets exactly that), and his L2 account holds nothing.
    let out = full_exit.await.unwrap();
    let stdout = common::succeeded(&out, "full-exit");
    assert!(
        stdout.contains("full exit #") && stdout.contains("executed"),
        "{stdout}"
    );
    assert_eq!(eth(&account(&client, dan).await.unwrap()), 0);
    assert_eq!(
        rollup.pending(dan, 0).call().await.unwrap(),
        U256::from(10 * ETHER)
    );
    let dan_l1_before = l1.get_balance(dan).await.unwrap();
    let receipt = common::mined(rollup.withdrawPending(dan, 0)).await;
    assert!(receipt.status());
    assert_eq!(
        l1.get_balance(dan).await.unwrap() - dan_l1_before,
        U256::from(10 * ETHER)
    );

    // Conservation: the contract holds what it owes, and L2 holds the deposits minus the
    // withdrawal and the full exit (fees only move between accounts).
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
    assert_eq!(total, ETHER + 2 * 10 * ETHER - ETHER / 2);
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

    exodus(devnet, &client, &domain, &l2, id, dir.path()).await;
}

/// The escape hatch, on the same devnet: the operator commits a batch and never proves it,
/// then stops entirely; a deposit made afterwards expires; anyone starts exodus; `causeway
/// exit` (the built binary, with nothing but the L1 URL and a key) pays every account of the
/// last executed state exactly its balance there, and Carol her unprocessed deposit.
async fn exodus(
    devnet: causeway_node::devnet::Devnet,
    client: &Client,
    domain: &Domain,
    alice_l2: &PrivateKey,
    alice_id: AccountId,
    dir: &std::path::Path,
) {
    let info = client.node_info().await.unwrap();
    let l1_url = devnet.anvil.endpoint();
    let l1 = ProviderBuilder::new().connect_http(devnet.anvil.endpoint_url());
    let rollup = ZkRollup::new(info.rollup, &l1);
    let signer = |key: &str| key.parse::<PrivateKeySigner>().unwrap();
    let alice_l1 = signer(TEST_KEYS[0]);
    let carol_l1 = signer(TEST_KEYS[1]);
    let operator = signer(causeway_bindings::anvil::DEV_KEY).address();
    let (alice, carol, dan) = (
        alice_l1.address(),
        carol_l1.address(),
        signer(TEST_KEYS[2]).address(),
    );
    let bob = Address::repeat_byte(0xb0);
    let erin = Address::repeat_byte(0xe1);

    // The executed state: every block sealed so far executed on L1, nothing waiting.
    let settled = until("every block executed", Duration::from_secs(900), || async {
        let s = client.status().await.unwrap();
        (s.mempool == 0 && s.unconfirmed_priority_ops == 0 && s.latest_block == s.executed)
            .then_some(s)
    })
    .await;
    let executed = rollup.batchesExecuted().call().await.unwrap();
    assert_eq!(executed, settled.executed);
    let owners = [operator, alice, bob, carol, dan];
    let mut expected = std::collections::BTreeMap::new();
    for owner in owners {
        let a = account(client, owner)
            .await
            .expect("an account of the executed state");
        if eth(&a) > 0 {
            expected.insert(owner, eth(&a));
        }
    }
    assert_eq!(expected[&carol], 10 * ETHER);

    // (a) One more transfer, to Erin (a new address): committed, then the operator stops.
    let alice_now = account(client, alice).await.unwrap();
    let late = transfer(alice_l2, alice_id, erin, ETHER / 4, alice_now.nonce, domain);
    let late = client
        .send_op(&request(&Op::Transfer(late)))
        .await
        .expect("the late transfer");
    let committed = until(
        "the late transfer committed",
        Duration::from_secs(120),
        || async {
            let s = client.get_op_status(late).await.unwrap()?;
            (s.stage >= OpStage::Committed).then_some(s)
        },
    )
    .await;
    assert_eq!(committed.stage, OpStage::Committed, "proven too early");
    // Stopping aborts the L1 submitter, closes the RPC and waits for the sequencer; the
    // prover thread's proof of the batch, which nobody will submit, is abandoned. The stop
    // runs in the background while the test goes on.
    let stopped = tokio::spawn(devnet.node.stop());
    until("the node's RPC closed", Duration::from_secs(30), || async {
        client.status().await.is_err().then_some(())
    })
    .await;
    let committed = rollup.batchesCommitted().call().await.unwrap();
    assert_eq!(
        (committed, rollup.batchesExecuted().call().await.unwrap()),
        (executed + 1, executed),
        "one batch committed and never proven"
    );

    // (b) Carol deposits after the node stopped: nobody will process it.
    let carol_rollup = ZkRollup::new(
        info.rollup,
        ProviderBuilder::new()
            .wallet(EthereumWallet::from(carol_l1.clone()))
            .connect_http(devnet.anvil.endpoint_url()),
    );
    let receipt = common::mined(carol_rollup.depositETH(carol).value(U256::from(ETHER))).await;
    let queued = receipt
        .decoded_log::<ZkRollup::DepositQueued>()
        .expect("DepositQueued")
        .data;

    // Keystores for the binary: Alice's and Carol's keys, imported as a user would.
    let alice_ks = &common::import_keystore(dir, "alice", TEST_KEYS[0]).await;
    let carol_ks = &common::import_keystore(dir, "carol", TEST_KEYS[1]).await;

    // Before exodus: the exit refuses (printing what it would withdraw), activation is
    // refused while no priority op is late, and the contract refuses an exit proof.
    let out = common::exit(&l1_url, info.rollup, alice_ks, &[]).await;
    let stdout = common::refused(&out, &["exodus is not active"]);
    assert!(
        stdout.contains(&format!("account {alice_id} of {alice}")),
        "{stdout}"
    );
    let out = common::exit(&l1_url, info.rollup, alice_ks, &["--activate"]).await;
    common::refused(&out, &["exodus cannot start", "NoExpiredPriorityOp"]);
    // A dry run needs no key: Bob never had one.
    let out = common::exit(
        &l1_url,
        info.rollup,
        alice_ks,
        &["--dry-run", "--address", &bob.to_string()],
    )
    .await;
    let stdout = common::succeeded(&out, "exit --dry-run");
    assert!(stdout.contains("exit proof of account") && stdout.contains("\"calldata\""));
    assert!(
        stdout.contains(&format!("\"balance\": \"{}\"", expected[&bob])),
        "{stdout}"
    );

    // The library the binary runs, for proofs the test sends itself.
    let src = causeway_l1::exodus::Source {
        rollup: info.rollup,
        from_block: 0,
        log_range: 1000,
    };
    let chain = causeway_l1::exodus::executed_chain(&l1, &src, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(chain.batches.len() as u64, executed);
    let state = causeway_l1::exodus::rebuild(&chain, &mut |_| {}).unwrap();
    assert_eq!(
        causeway_l1::batch::root_word(&state.root()),
        rollup.executedRoot().call().await.unwrap()
    );
    assert_eq!(
        state.account_count(),
        owners.len() as u32,
        "every account is checked"
    );
    for owner in owners {
        let ids = causeway_l1::exodus::accounts_of(&state, owner);
        assert_eq!(ids.len(), 1);
        assert_eq!(
            state.balance(ids[0], TokenId::ETH),
            expected.get(&owner).copied().unwrap_or(0)
        );
    }
    let alice_proof = causeway_l1::exodus::exit_proof(&state, alice_id, TokenId::ETH).unwrap();
    let alice_rollup = ZkRollup::new(
        info.rollup,
        ProviderBuilder::new()
            .wallet(EthereumWallet::from(alice_l1.clone()))
            .connect_http(devnet.anvil.endpoint_url()),
    );
    let err = alice_rollup
        .exodusWithdraw(alice_proof.clone())
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        common::revert(err),
        ZkRollup::ZkRollupErrors::ExodusNotActive(_)
    ));

    // (c) Past Carol's deadline, anyone may start exodus: Alice's exit does, with --activate.
    common::pass_deadline(&l1, queued.deadline).await;

    let held_before = l1.get_balance(info.rollup).await.unwrap();
    let pending_before = {
        let mut sum = U256::ZERO;
        for owner in owners.iter().chain([&erin]) {
            sum += rollup.pending(*owner, 0).call().await.unwrap();
        }
        sum
    };
    let l1_before = {
        let mut m = std::collections::BTreeMap::new();
        for owner in [operator, bob, dan, erin] {
            m.insert(owner, l1.get_balance(owner).await.unwrap());
        }
        m
    };
    let exodus_block = l1.get_block_number().await.unwrap();

    // (d) Every account of the state exits: Alice and Carol with their own keys; the fee
    // account, Dan and Bob (created by a transfer, never touched again, no key) with Alice
    // paying the gas; Erin has nothing executed and Dan nothing left after his full exit:
    // they get nothing.
    let runs: Vec<(&std::path::Path, Option<Address>, &[&str])> = vec![
        (alice_ks, None, &["--activate"]),
        (carol_ks, None, &[]),
        (alice_ks, Some(operator), &[]),
        (alice_ks, Some(dan), &[]),
        (alice_ks, Some(bob), &[]),
        (alice_ks, Some(erin), &[]),
    ];
    for (keystore, address, extra) in runs {
        let address = address.map(|a| a.to_string());
        let mut args: Vec<&str> = extra.to_vec();
        if let Some(a) = &address {
            args.extend(["--address", a]);
        }
        let out = common::exit(&l1_url, info.rollup, keystore, &args).await;
        let stdout = common::succeeded(&out, &format!("exit {args:?}"));
        println!("causeway exit {args:?}:\n{stdout}");
    }
    assert!(rollup.exodus().call().await.unwrap());

    // Each account got exactly its balance of the last executed state (Alice's without the
    // committed, unproven transfer), to its owner.
    let withdrawn = rollup
        .ExodusWithdrawn_filter()
        .from_block(exodus_block)
        .query()
        .await
        .unwrap();
    let mut by_owner = std::collections::BTreeMap::new();
    for (e, _) in &withdrawn {
        assert_eq!(e.tokenId, 0);
        assert!(
            by_owner.insert(e.owner, e.amount).is_none(),
            "one exit per account"
        );
    }
    assert_eq!(by_owner, expected, "each account's executed balance");
    assert!(!by_owner.contains_key(&erin));
    assert_eq!(
        common::only_reclaim(&rollup, exodus_block).await,
        (queued.opId, carol, ETHER)
    );
    let paid = rollup
        .Withdrawn_filter()
        .from_block(exodus_block)
        .query()
        .await
        .unwrap();
    let mut paid_to = std::collections::BTreeMap::<Address, u128>::new();
    for (e, _) in &paid {
        *paid_to.entry(e.owner).or_default() += e.amount.to::<u128>();
    }
    assert_eq!(paid_to[&carol], expected[&carol] + ETHER);
    assert!(!expected.contains_key(&dan), "Dan left by his full exit");
    assert_eq!(l1.get_balance(dan).await.unwrap(), l1_before[&dan]);
    for owner in [operator, bob] {
        assert_eq!(paid_to[&owner], expected[&owner]);
        // They paid no gas: their L1 balance grew by exactly that.
        assert_eq!(
            l1.get_balance(owner).await.unwrap() - l1_before[&owner],
            U256::from(expected[&owner])
        );
    }
    assert_eq!(l1.get_balance(erin).await.unwrap(), l1_before[&erin]);

    // Conservation: what left the contract is what was paid out, which is every executed
    // balance, Carol's reclaimed deposit and what was already pending.
    let held_after = l1.get_balance(info.rollup).await.unwrap();
    let paid_total: u128 = paid_to.values().sum();
    let executed_total: u128 = expected.values().sum();
    assert_eq!(held_before - held_after, U256::from(paid_total));
    assert_eq!(
        U256::from(executed_total + ETHER) + pending_before,
        U256::from(paid_total)
    );
    // The contract holds exactly what it owes (Bridge: `pooled` on L2 plus pending claims),
    // and after everyone left that is nothing.
    let mut pending_after = U256::ZERO;
    for owner in owners.iter().chain([&erin]) {
        pending_after += rollup.pending(*owner, 0).call().await.unwrap();
    }
    let pooled = rollup.pooled(0).call().await.unwrap();
    assert_eq!(held_after, pooled + pending_after);
    assert_eq!(
        (pooled, pending_after, held_after),
        (U256::ZERO, U256::ZERO, U256::ZERO)
    );

    // Once only: a second exit of the same account and token, a second reclaim.
    let err = alice_rollup
        .exodusWithdraw(alice_proof)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        common::revert(err),
        ZkRollup::ZkRollupErrors::AlreadyExited(e) if e.accountId == alice_id.get() && e.tokenId == 0
    ));
    let err = carol_rollup
        .reclaimDeposit(queued.opId, carol, 0, ETHER)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        common::revert(err),
        ZkRollup::ZkRollupErrors::NotReclaimable(_)
    ));
    stopped.await.unwrap();
    assert_eq!(
        rollup.batchesExecuted().call().await.unwrap(),
        executed,
        "the late batch was never proven"
    );
    // And the tool, run again, has nothing left to do.
    let out = common::exit(&l1_url, info.rollup, alice_ks, &[]).await;
    let stdout = common::succeeded(&out, "exit, again");
    assert!(stdout.contains("nothing left to withdraw"), "{stdout}");
}
