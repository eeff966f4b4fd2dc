//! The whole ZK-rollup settlement on a real L1: contracts compiled by solc, deployed on anvil,
//! blocks sealed by the stf, real Groth16 proofs from the devnet's development key.
//!
//! Alice deposits 1 ETH on L1 → batch 1 (her deposit) is committed, proven and executed →
//! batch 2 registers her L2 key with an ECDSA authorization the contract checks, batch 3
//! withdraws 0.25 ETH to a fresh L1 address; both are committed in one call, proven in one
//! call and executed in one call → anyone claims the withdrawal, and the recipient's L1
//! balance is exactly 0.25 ETH. On the way, the contract refuses a tampered proof, a batch
//! executed before it is proven and a second claim, and its ETH always equals what it owes:
//! the L2 total (`pooled`) plus pending withdrawals.
//!
//! Needs the npm toolchain at the workspace root (`npm install`: anvil); without it the test
//! fails rather than skips. Proving three 6-chunk batches takes about a minute on two cores.

use alloy::network::EthereumWallet;
use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, U256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use causeway_bindings::anvil::Anvil;
use causeway_bindings::{BatchVerifier, StateTree, ZkRollup};
use causeway_circuit::batch::BatchInput;
use causeway_circuit::export::proof_to_evm;
use causeway_circuit::groth16::{BatchR1cs, ProvingKey, dev_setup, prove};
use causeway_crypto::eddsa::PrivateKey;
use causeway_crypto::poseidon::hash4;
use causeway_l1::batch::{commit_info, field_word, proof_words, root_word, withdrawals};
use causeway_l1_gen::{BATCH_SHAPE, DEV_SEED};
use causeway_primitives::{
    AccountId, Balance, ChangePubKey, ChangePubKeyAuth, Deposit, Domain, Op, TokenId, Withdraw,
    change_pubkey_eth_message, eth_signed_message_hash,
};
use causeway_stf::{BlockContext, MemoryState, Sealed, StateView, WitnessMode, apply_block};
use rand::{SeedableRng, rngs::StdRng};

/// anvil's first dev account (public knowledge; funded on every fresh anvil).
const OPERATOR_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
/// Alice's L1 key; the operator funds her.
const ALICE_KEY: &str = "0x00000000000000000000000000000000000000000000000000000000a11ce001";

const ETHER: u128 = 1_000_000_000_000_000_000;
const PRIORITY_DEADLINE: u64 = 3600;

/// Sends a contract call or transaction and waits for its receipt.
macro_rules! mined {
    ($call:expr) => {
        $call
            .send()
            .await
            .expect("sent")
            .get_receipt()
            .await
            .expect("mined")
    };
}

/// A sealed block and what committing, proving and executing it needs.
struct Block {
    sealed: Sealed,
    ops: Vec<Op>,
    /// The circuit's input, built from the block's witness.
    input: BatchInput,
}

fn seal(state: &mut MemoryState, ctx: &BlockContext, ops: Vec<Op>) -> Block {
    let sealed =
        apply_block(state, ctx, &ops, WitnessMode::Record).expect("the stf accepts the block");
    state.apply(&sealed.diff);
    let witness = sealed.witness.as_ref().expect("witness recorded");
    let input =
        BatchInput::new(BATCH_SHAPE, ctx.domain, ctx.fee_account, witness).expect("block fits");
    Block { sealed, ops, input }
}

fn proof_for((pk, r1cs): &(ProvingKey, BatchR1cs), block: &Block, seed: u64) -> [U256; 8] {
    let proof = prove(pk, r1cs, &block.input, &mut StdRng::seed_from_u64(seed)).expect("proving");
    proof_words(&proof_to_evm(&proof))
}

fn sign_l2(
    key: &PrivateKey,
    fields: [causeway_primitives::Fr; 4],
) -> causeway_primitives::TxSignature {
    key.sign(hash4(&fields)).to_tx_signature(&key.public_key())
}

#[tokio::test(flavor = "current_thread")]
async fn deposit_commit_prove_execute_withdraw_on_anvil() {
    // The proving key the committed BatchVerifier was generated from (causeway-l1-gen).
    let setup = std::thread::spawn(|| {
        let pk = dev_setup(BATCH_SHAPE, DEV_SEED).expect("setup");
        (pk, BatchR1cs::new(BATCH_SHAPE).expect("matrices"))
    });

    let anvil = Anvil::spawn().expect("anvil");
    let operator_signer: PrivateKeySigner = OPERATOR_KEY.parse().unwrap();
    let alice_signer: PrivateKeySigner = ALICE_KEY.parse().unwrap();
    let operator = operator_signer.address();
    let alice = alice_signer.address();
    let l1 = ProviderBuilder::new()
        .wallet(EthereumWallet::from(operator_signer))
        .connect_http(anvil.endpoint_url());
    let alice_l1 = ProviderBuilder::new()
        .wallet(EthereumWallet::from(alice_signer.clone()))
        .connect_http(anvil.endpoint_url());

    let funding = TransactionRequest::default()
        .with_to(alice)
        .with_value(U256::from(10 * ETHER));
    let receipt = l1
        .send_transaction(funding)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());

    // Deploy: the verifier, the exit-proof tree, the rollup over the empty state.
    let genesis_root = MemoryState::new().root();
    let verifier = BatchVerifier::deploy(&l1).await.expect("deploy verifier");
    let state_tree = StateTree::deploy(&l1).await.expect("deploy state tree");
    let rollup = ZkRollup::deploy(
        &l1,
        *verifier.address(),
        *state_tree.address(),
        U256::from(BATCH_SHAPE.chunks),
        operator,
        operator,
        PRIORITY_DEADLINE,
        root_word(&genesis_root),
    )
    .await
    .expect("deploy rollup");
    let genesis = rollup
        .BatchCommitted_filter()
        .from_block(0)
        .query()
        .await
        .expect("genesis event")
        .remove(0)
        .0
        .batch;

    let chain_id = l1.get_chain_id().await.unwrap();
    let ctx = BlockContext {
        domain: Domain {
            chain_id,
            contract: *rollup.address(),
        },
        fee_account: AccountId::new(0).unwrap(),
        token_count: 1,
        onchain_auths: Default::default(),
        max_fee_tokens: 1,
    };
    let mut state = MemoryState::new();

    // 1. Alice deposits 1 ETH on L1.
    let receipt = mined!(
        ZkRollup::new(*rollup.address(), &alice_l1)
            .depositETH(alice)
            .value(U256::from(ETHER))
    );
    let queued = receipt
        .decoded_log::<ZkRollup::DepositQueued>()
        .expect("DepositQueued");
    assert_eq!((queued.opId, queued.to, queued.amount), (0, alice, ETHER));

    // Batch 1: her deposit creates account 0.
    let b1 = seal(
        &mut state,
        &ctx,
        vec![Op::Deposit(Deposit {
            priority_id: 0,
            from: alice,
            to: alice,
            token: TokenId::ETH,
            amount: ETHER,
        })],
    );
    let receipt = mined!(rollup.commitBatches(
        genesis.clone(),
        vec![commit_info(&b1.sealed, &b1.ops, ctx.fee_account)],
    ));
    assert!(receipt.status(), "commit of batch 1 reverted");
    let stored1 = receipt
        .decoded_log::<ZkRollup::BatchCommitted>()
        .expect("BatchCommitted")
        .data
        .batch;
    assert_eq!(stored1.root, root_word(&b1.sealed.diff.new_root));

    // Not proven yet: execution is refused.
    let early = rollup
        .executeBatches(vec![stored1.clone()], vec![vec![]])
        .call()
        .await
        .map(|_| ())
        .expect_err("executing an unproven batch");
    assert!(
        early.as_decoded_error::<ZkRollup::NotFinal>().is_some(),
        "unproven batch: {early:?}"
    );

    let pk = setup.join().expect("setup thread");
    let proof1 = proof_for(&pk, &b1, 1);
    let mut tampered = proof1;
    tampered[0] ^= U256::from(1);
    let bad = rollup
        .proveBatches(vec![stored1.clone()], vec![tampered])
        .call()
        .await
        .map(|_| ())
        .expect_err("a tampered proof");
    assert!(
        bad.as_decoded_error::<ZkRollup::InvalidProof>().is_some(),
        "tampered proof: {bad:?}"
    );
    let receipt = mined!(rollup.proveBatches(vec![stored1.clone()], vec![proof1]));
    assert!(receipt.status(), "proof of batch 1 refused");
    println!("proveBatches (1 batch): {} gas", receipt.gas_used);
    let receipt = mined!(rollup.executeBatches(vec![stored1.clone()], vec![vec![]]));
    assert!(receipt.status(), "execution of batch 1 reverted");
    assert_eq!(rollup.executedRoot().call().await.unwrap(), stored1.root);
    assert_eq!(rollup.priorityExecuted().call().await.unwrap(), 1);

    // Batch 2: Alice registers her L2 key, authorized by her Ethereum key (checked on L1).
    let l2_key = PrivateKey::from_bytes([7u8; 32]);
    let mut cpk = ChangePubKey {
        account: AccountId::new(0).unwrap(),
        new_pubkey: l2_key.public_key().to_packed(),
        fee_token: TokenId::ETH,
        fee: 0,
        nonce: 0,
        auth: ChangePubKeyAuth::Onchain,
    };
    let digest = eth_signed_message_hash(&change_pubkey_eth_message(&ctx.domain, &cpk));
    let signature = alice_signer.sign_hash_sync(&digest).unwrap();
    cpk.auth = ChangePubKeyAuth::EthSignature(signature.as_bytes());
    let b2 = seal(&mut state, &ctx, vec![Op::ChangePubKey(cpk)]);

    // Batch 3: she withdraws 0.25 ETH to a fresh L1 address, paying a fee to account 0.
    let recipient = Address::repeat_byte(0xb0);
    let amount: Balance = ETHER / 4;
    let mut w = Withdraw {
        from: AccountId::new(0).unwrap(),
        to: recipient,
        token: TokenId::ETH,
        amount,
        fee: 1_000,
        nonce: 1,
        signature: causeway_primitives::TxSignature {
            pubkey: l2_key.public_key().to_packed(),
            r8_x: [0; 32],
            r8_y: [0; 32],
            s: [0; 32],
        },
    };
    w.signature = sign_l2(&l2_key, w.signing_fields(&ctx.domain));
    let b3 = seal(&mut state, &ctx, vec![Op::Withdraw(w)]);

    let receipt = mined!(rollup.commitBatches(
        stored1.clone(),
        vec![
            commit_info(&b2.sealed, &b2.ops, ctx.fee_account),
            commit_info(&b3.sealed, &b3.ops, ctx.fee_account),
        ],
    ));
    assert!(receipt.status(), "commit of batches 2 and 3 reverted");
    let stored = causeway_l1::rollup::committed_in(&receipt);
    assert_eq!(stored.len(), 2);
    for (batch, block) in stored.iter().zip([&b2, &b3]) {
        assert_eq!(
            batch.commitment,
            field_word(&block.input.commitment()),
            "the contract and the circuit disagree on batch {}'s commitment",
            batch.number
        );
    }

    let proofs = vec![proof_for(&pk, &b2, 2), proof_for(&pk, &b3, 3)];
    let receipt = mined!(rollup.proveBatches(stored.clone(), proofs));
    assert!(receipt.status(), "proofs of batches 2 and 3 refused");
    println!("proveBatches (2 batches): {} gas", receipt.gas_used);

    let withdrawn = vec![
        withdrawals(&b2.sealed.pubdata()).unwrap(),
        withdrawals(&b3.sealed.pubdata()).unwrap(),
    ];
    assert_eq!(withdrawn[1].len(), 1);
    let receipt = mined!(rollup.executeBatches(stored.clone(), withdrawn));
    assert!(receipt.status(), "execution of batches 2 and 3 reverted");
    assert_eq!(
        rollup.pending(recipient, 0).call().await.unwrap(),
        amount,
        "the withdrawal is claimable"
    );

    // Conservation: the contract holds exactly the L2 total plus what is pending.
    let held = l1.get_balance(*rollup.address()).await.unwrap();
    let pooled = rollup.pooled(0).call().await.unwrap();
    let l2_total: Balance = (0..state.account_count())
        .map(|i| state.balance(AccountId::new(i).unwrap(), TokenId::ETH))
        .sum();
    assert_eq!(pooled, U256::from(l2_total));
    assert_eq!(held, U256::from(l2_total + amount));

    // Anyone may claim it for the recipient; the funds go to the recipient, once.
    assert_eq!(l1.get_balance(recipient).await.unwrap(), U256::ZERO);
    let receipt = mined!(rollup.withdrawPending(recipient, 0));
    assert!(receipt.status());
    assert_eq!(l1.get_balance(recipient).await.unwrap(), U256::from(amount));
    let again = rollup
        .withdrawPending(recipient, 0)
        .call()
        .await
        .map(|_| ())
        .expect_err("a second claim");
    assert!(
        again
            .as_decoded_error::<ZkRollup::NothingPending>()
            .is_some()
    );
    assert_eq!(
        l1.get_balance(*rollup.address()).await.unwrap(),
        U256::from(l2_total)
    );
}
