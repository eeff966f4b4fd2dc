//! The escape hatch against an operator that keeps working but censors: on a real anvil with
//! the real contracts and real proofs, the operator commits, proves and executes batches that
//! leave out a FullExit queued on L1. Once the FullExit's deadline passes, anyone starts
//! exodus and `causeway exit` (the built binary, nothing but the L1 URL and a key) pays every
//! account of the last executed state exactly its balance there, in ETH and in an ERC-20.
//!
//! The operator here is a test double built from the production parts (the stf seals the
//! blocks, the devnet's development key proves them, the contract bindings submit them): the
//! node never leaves out a priority op, so censorship has to be written out.
//!
//! The story:
//! 1. The operator, Alice (ETH and the dev token) and Bob deposit; two batches execute them.
//! 2. Bob asks for a FullExit of his ETH; then Dave deposits.
//! 3. The operator keeps going without them: Alice registers her L2 key and pays Bob; she
//!    sends dev tokens to Carol, a new address (an account created by a transfer, never
//!    touched again). Both batches are proven and executed with the FullExit still queued.
//! 4. Before its deadline nobody can start exodus or exit. After it, Dave does: his deposit,
//!    never processed, is reclaimed. Every account exits; the operator can commit no more.
//!
//! Checked: each (owner, token) withdrawn equals the balance in the operator's own state; the
//! contract's ETH and token holdings fall by exactly what it paid, to zero; a second exit or
//! reclaim is refused. Needs the npm toolchain (anvil) at the workspace root. Four 6-chunk
//! proofs: about a minute on two cores.

mod common;

use alloy::network::EthereumWallet;
use alloy::primitives::{Address, U256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use causeway_bindings::ZkRollup::ZkRollupErrors;
use causeway_bindings::anvil::{Anvil, DEV_KEY};
use causeway_bindings::{BatchChain, DevToken, ZkRollup};
use causeway_circuit::batch::BatchInput;
use causeway_circuit::export::proof_to_evm;
use causeway_circuit::groth16::prove;
use causeway_l1::batch::{commit_info, proof_words, withdrawals};
use causeway_l1_gen::{BATCH_SHAPE, DEV_SEED};
use causeway_node::devnet::{TEST_KEYS, deploy, deploy_dev_token};
use causeway_primitives::{AccountId, Deposit, Domain, Op, TokenId, Transfer};
use causeway_prover::keys::{KeyMode, KeyStore, ShapeProver};
use causeway_stf::{BlockContext, MemoryState, StateView, WitnessMode, apply_block};
use common::ETHER;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::collections::BTreeMap;

/// Seconds a priority op may wait: the devnet's default.
const PRIORITY_DEADLINE: u64 = 600;

/// A sealed block, the ops in it and the circuit's input for it.
struct Block {
    ops: Vec<Op>,
    sealed: causeway_stf::Sealed,
    input: BatchInput,
}

/// The censoring operator: its own state, and the blocks it seals from the ops it chooses.
struct Operator {
    state: MemoryState,
    ctx: BlockContext,
}

impl Operator {
    fn seal(&mut self, ops: Vec<Op>) -> Block {
        let sealed = apply_block(&self.state, &self.ctx, &ops, WitnessMode::Record)
            .expect("the stf accepts the block");
        self.state.apply(&sealed.diff);
        let witness = sealed.witness.as_ref().expect("witness recorded");
        let input = BatchInput::new(BATCH_SHAPE, self.ctx.domain, self.ctx.fee_account, witness)
            .expect("the block fits the circuit");
        Block { ops, sealed, input }
    }
}

/// Commits `blocks` on top of `last` in one call, proves them with real proofs in one call
/// and executes them in one call; returns the last one's stored form.
async fn settle<P: Provider>(
    rollup: &ZkRollup::ZkRollupInstance<P>,
    prover: &ShapeProver,
    last: BatchChain::StoredBatch,
    blocks: &[Block],
    fee_account: AccountId,
) -> BatchChain::StoredBatch {
    let infos = blocks
        .iter()
        .map(|b| commit_info(&b.sealed, &b.ops, fee_account))
        .collect();
    let receipt = common::mined(rollup.commitBatches(last, infos)).await;
    assert!(receipt.status(), "commit reverted");
    let stored = causeway_l1::rollup::committed_in(&receipt);
    assert_eq!(stored.len(), blocks.len());

    let mut rng = StdRng::seed_from_u64(stored[0].number);
    let proofs = blocks
        .iter()
        .map(|b| {
            proof_words(&proof_to_evm(
                &prove(&prover.pk, &prover.r1cs, &b.input, &mut rng).expect("proving"),
            ))
        })
        .collect();
    let receipt = common::mined(rollup.proveBatches(stored.clone(), proofs)).await;
    assert!(receipt.status(), "proofs refused");

    let lists = blocks
        .iter()
        .map(|b| withdrawals(&b.sealed.pubdata()).expect("own pubdata decodes"))
        .collect();
    let receipt = common::mined(rollup.executeBatches(stored.clone(), lists)).await;
    assert!(receipt.status(), "execution reverted");
    stored.last().expect("one batch at least").clone()
}

fn deposit(priority_id: u64, to: Address, token: TokenId, amount: u128) -> Op {
    Op::Deposit(Deposit {
        priority_id,
        from: to,
        to,
        token,
        amount,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exodus_after_the_operator_censors_a_full_exit() {
    common::init_logs();
    // The proving key of the deployed verifier, from the cache the devnet tests share.
    let keys_dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("devnet-keys");
    let pk = std::thread::spawn(move || {
        KeyStore::open(keys_dir, KeyMode::Development { seed: DEV_SEED })
            .and_then(|keys| keys.prover(BATCH_SHAPE))
            .expect("the devnet's proving key")
    });

    let anvil = Anvil::spawn().expect("anvil");
    let l1_url = anvil.endpoint();
    let signer = |key: &str| key.parse::<PrivateKeySigner>().unwrap();
    let (operator_l1, alice_l1, bob_l1, dave_l1) = (
        signer(DEV_KEY),
        signer(TEST_KEYS[0]),
        signer(TEST_KEYS[1]),
        signer(TEST_KEYS[2]),
    );
    let (operator, alice, bob, dave) = (
        operator_l1.address(),
        alice_l1.address(),
        bob_l1.address(),
        dave_l1.address(),
    );
    let carol = Address::repeat_byte(0xca);
    let deployment = deploy(
        &l1_url,
        operator_l1.clone(),
        PRIORITY_DEADLINE,
        BATCH_SHAPE.chunks,
    )
    .await
    .expect("deployed");
    let token_address = deploy_dev_token(&l1_url, deployment.rollup, operator_l1.clone(), &[alice])
        .await
        .expect("dev token");
    let l1 = ProviderBuilder::new().connect_http(anvil.endpoint_url());
    let as_user = |key: &PrivateKeySigner| {
        ZkRollup::new(
            deployment.rollup,
            ProviderBuilder::new()
                .wallet(EthereumWallet::from(key.clone()))
                .connect_http(anvil.endpoint_url()),
        )
    };
    let rollup = as_user(&operator_l1);
    let token = TokenId::new(1).unwrap();
    let domain = Domain {
        chain_id: l1.get_chain_id().await.unwrap(),
        contract: deployment.rollup,
    };
    let fee_account = AccountId::new(0).unwrap();
    let mut op = Operator {
        state: MemoryState::new(),
        ctx: BlockContext {
            domain,
            fee_account,
            token_count: 2,
            onchain_auths: Default::default(),
            max_fee_tokens: BATCH_SHAPE.fee_slots,
        },
    };
    let genesis = rollup
        .BatchCommitted_filter()
        .from_block(0)
        .query()
        .await
        .unwrap()
        .remove(0)
        .0
        .batch;

    // 1. Deposits (priority ops 0 to 3), executed in two batches.
    let cdt = 500 * ETHER;
    let deposits: [(&PrivateKeySigner, TokenId, u128); 4] = [
        (&operator_l1, TokenId::ETH, ETHER),
        (&alice_l1, TokenId::ETH, 3 * ETHER),
        (&alice_l1, token, cdt),
        (&bob_l1, TokenId::ETH, 2 * ETHER),
    ];
    for (key, token_id, amount) in deposits {
        let user = as_user(key);
        let receipt = if token_id == TokenId::ETH {
            common::mined(user.depositETH(key.address()).value(U256::from(amount))).await
        } else {
            let erc20 = DevToken::new(token_address, user.provider());
            let approved =
                common::mined(erc20.approve(deployment.rollup, U256::from(amount))).await;
            assert!(approved.status());
            common::mined(user.depositERC20(token_address, U256::from(amount), key.address())).await
        };
        assert!(receipt.status(), "deposit of {amount} by {}", key.address());
    }
    let b1 = op.seal(vec![
        deposit(0, operator, TokenId::ETH, ETHER),
        deposit(1, alice, TokenId::ETH, 3 * ETHER),
    ]);
    let b2 = op.seal(vec![
        deposit(2, alice, token, cdt),
        deposit(3, bob, TokenId::ETH, 2 * ETHER),
    ]);
    let pk = pk.join().expect("key thread");
    let last = settle(&rollup, &pk, genesis, &[b1, b2], fee_account).await;
    let (alice_id, bob_id) = (AccountId::new(1).unwrap(), AccountId::new(2).unwrap());
    assert_eq!(op.state.account_id(&bob), Some(bob_id));

    // 2. Bob asks to leave with his ETH (priority op 4); then Dave deposits (op 5).
    let receipt = common::mined(as_user(&bob_l1).requestFullExit(bob_id.get(), 0)).await;
    let full_exit = receipt
        .decoded_log::<ZkRollup::FullExitQueued>()
        .expect("FullExitQueued")
        .data;
    assert_eq!(full_exit.opId, 4);
    let receipt = common::mined(as_user(&dave_l1).depositETH(dave).value(U256::from(ETHER))).await;
    let dave_deposit = receipt
        .decoded_log::<ZkRollup::DepositQueued>()
        .expect("DepositQueued")
        .data;
    assert_eq!(dave_deposit.opId, 5);

    // 3. The operator goes on without them: two more batches, proven and executed.
    let (alice_l2, cpk) = common::activate(&alice_l1, alice_id, 0, 0, &domain);
    let pay_bob = common::transfer(&alice_l2, alice_id, bob, ETHER / 2, 1, &domain);
    let b3 = op.seal(vec![cpk, Op::Transfer(pay_bob)]);
    let mut to_carol = Transfer {
        from: alice_id,
        to: carol,
        token,
        amount: 100 * ETHER,
        fee: ETHER / 1000,
        nonce: 2,
        signature: common::unsigned(),
    };
    to_carol.signature = common::sign(&alice_l2, to_carol.signing_fields(&domain));
    let b4 = op.seal(vec![Op::Transfer(to_carol)]);
    let last = settle(&rollup, &pk, last, &[b3, b4], fee_account).await;
    assert_eq!(rollup.batchesExecuted().call().await.unwrap(), 4);
    assert_eq!(
        (
            rollup.priorityExecuted().call().await.unwrap(),
            rollup.priorityCount().call().await.unwrap()
        ),
        (4, 6),
        "executed batches, the FullExit and Dave's deposit still queued"
    );
    assert_eq!(op.state.account_count(), 4, "Carol's account was created");
    // Bob still holds his ETH on L2: the FullExit was never served.
    assert_eq!(
        op.state.balance(bob_id, TokenId::ETH),
        2 * ETHER + ETHER / 2
    );

    // What exodus must pay: every balance of the operator's own state, by owner and token.
    let mut expected = BTreeMap::<(Address, u16), u128>::new();
    for ((id, token_id), balance) in op.state.balances() {
        if balance > 0 {
            let owner = op.state.account(id).expect("an account").address;
            *expected.entry((owner, token_id.get())).or_default() += balance;
        }
    }
    assert_eq!(expected.len(), 6, "{expected:?}");

    // Keystores, imported as a user would.
    let dir = tempfile::tempdir().unwrap();
    let alice_ks = common::import_keystore(dir.path(), "alice", TEST_KEYS[0]).await;
    let bob_ks = common::import_keystore(dir.path(), "bob", TEST_KEYS[1]).await;
    let dave_ks = common::import_keystore(dir.path(), "dave", TEST_KEYS[2]).await;

    // 4. Before the deadline: no exodus, no exit.
    let out = common::exit(&l1_url, deployment.rollup, &dave_ks, &["--activate"]).await;
    common::refused(&out, &["NoExpiredPriorityOp"]);
    let out = common::exit(&l1_url, deployment.rollup, &bob_ks, &[]).await;
    common::refused(&out, &["exodus is not active"]);
    assert!(!rollup.exodus().call().await.unwrap());

    // Past the FullExit's deadline, Dave (a stranger to it) starts exodus and gets his
    // deposit back; then everyone leaves. The operator's and Carol's exits are sent by Alice.
    common::pass_deadline(&l1, full_exit.deadline).await;
    let exodus_block = l1.get_block_number().await.unwrap();
    let held_before = (
        l1.get_balance(deployment.rollup).await.unwrap(),
        DevToken::new(token_address, &l1)
            .balanceOf(deployment.rollup)
            .call()
            .await
            .unwrap(),
    );
    let operator_s = operator.to_string();
    let carol_s = carol.to_string();
    // Each run, and a line its output must have (the token's symbol and decimals come from
    // its contract).
    let runs: [(&std::path::Path, &[&str], &str); 5] = [
        (
            &dave_ks,
            &["--activate"],
            "reclaimDeposit of deposit #5 (1 ETH)",
        ),
        (
            &alice_ks,
            &[],
            "exodusWithdraw of 399.999 CDT from account 1",
        ),
        (&bob_ks, &[], "exodusWithdraw of 2.5 ETH from account 2"),
        (&alice_ks, &["--address", &operator_s], "0.001 CDT"),
        (
            &alice_ks,
            &["--address", &carol_s],
            "withdrawPending of 100 CDT",
        ),
    ];
    for (keystore, extra, line) in runs {
        let out = common::exit(&l1_url, deployment.rollup, keystore, extra).await;
        let stdout = common::succeeded(&out, &format!("exit {extra:?}"));
        assert!(stdout.contains(line), "exit {extra:?}:\n{stdout}");
    }
    assert!(rollup.exodus().call().await.unwrap());

    // Each (owner, token) got exactly its executed balance, once.
    let mut withdrawn = BTreeMap::new();
    for (e, _) in rollup
        .ExodusWithdrawn_filter()
        .from_block(exodus_block)
        .query()
        .await
        .unwrap()
    {
        assert!(
            withdrawn.insert((e.owner, e.tokenId), e.amount).is_none(),
            "one exit per account and token"
        );
    }
    assert_eq!(withdrawn, expected);
    assert_eq!(
        common::only_reclaim(&rollup, exodus_block).await,
        (5, dave, ETHER)
    );

    // Conservation, per token: what left the contract is what was paid out, which is every
    // executed balance plus Dave's deposit; nothing is left behind.
    let mut paid = BTreeMap::<u16, u128>::new();
    for (e, _) in rollup
        .Withdrawn_filter()
        .from_block(exodus_block)
        .query()
        .await
        .unwrap()
    {
        *paid.entry(e.tokenId).or_default() += e.amount.to::<u128>();
    }
    let owed = |t: u16| -> u128 {
        expected
            .iter()
            .filter(|((_, token_id), _)| *token_id == t)
            .map(|(_, v)| v)
            .sum()
    };
    assert_eq!(paid[&0], owed(0) + ETHER);
    assert_eq!(paid[&1], owed(1));
    assert_eq!(paid[&1], cdt);
    assert_eq!(held_before.0, U256::from(paid[&0]));
    assert_eq!(held_before.1, U256::from(paid[&1]));
    assert_eq!(l1.get_balance(deployment.rollup).await.unwrap(), U256::ZERO);
    assert_eq!(
        DevToken::new(token_address, &l1)
            .balanceOf(carol)
            .call()
            .await
            .unwrap(),
        U256::from(100 * ETHER),
        "Carol, who never signed anything, got her tokens"
    );
    for t in [0, 1] {
        assert_eq!(rollup.pooled(t).call().await.unwrap(), U256::ZERO);
    }

    // Once only, and the operator is done.
    let state = causeway_l1::exodus::rebuild(
        &causeway_l1::exodus::executed_chain(
            &l1,
            &causeway_l1::exodus::Source {
                rollup: deployment.rollup,
                from_block: 0,
                log_range: 1000,
            },
            &mut |_| {},
        )
        .await
        .unwrap(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(state.root(), op.state.root(), "the exit tool's rebuild");
    let proof = causeway_l1::exodus::exit_proof(&state, bob_id, TokenId::ETH).unwrap();
    let err = as_user(&bob_l1)
        .exodusWithdraw(proof)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        common::revert(err),
        ZkRollupErrors::AlreadyExited(e) if e.accountId == bob_id.get() && e.tokenId == 0
    ));
    let err = as_user(&dave_l1)
        .reclaimDeposit(5, dave, 0, ETHER)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        common::revert(err),
        ZkRollupErrors::NotReclaimable(_)
    ));
    let more = op.seal(vec![Op::Transfer(common::transfer(
        &alice_l2,
        alice_id,
        bob,
        ETHER / 10,
        3,
        &domain,
    ))]);
    let err = rollup
        .commitBatches(
            last,
            vec![commit_info(&more.sealed, &more.ops, fee_account)],
        )
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        common::revert(err),
        ZkRollupErrors::ExodusActive(_)
    ));
    let out = common::exit(&l1_url, deployment.rollup, &bob_ks, &[]).await;
    let stdout = common::succeeded(&out, "exit, again");
    assert!(stdout.contains("nothing left to withdraw"), "{stdout}");
}
