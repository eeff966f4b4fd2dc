//! Every op's effect and every rejection path, on a real (in-memory) state with real
//! signatures and Poseidon trees.

mod harness;

use alloy_primitives::Address;
use causeway_primitives::pubdata::PubdataOp;
use causeway_primitives::{
    AccountId, ChangePubKey, ChangePubKeyAuth, FullExit, MAX_BALANCE, Op, PackedPoint,
};
use causeway_stf::{
    BlockError, Executor, MemoryState, OpError, SignatureCheck, StateView, WitnessMode,
    apply_block, recompute_root, replay,
};
use harness::*;

fn id(v: u32) -> AccountId {
    AccountId::new(v).unwrap()
}

/// Runs `op` alone through an executor and returns its error; also checks that the refused op
/// left the block unchanged (sealing yields the same diff as sealing an empty block).
fn refused(state: &MemoryState, op: Op) -> OpError {
    let c = ctx(0);
    let mut exec = Executor::new(state, &c, WitnessMode::Skip);
    let err = exec
        .apply(&op, SignatureCheck::Unchecked)
        .expect_err("op must be refused");
    let after = exec.seal().unwrap();
    let empty = Executor::new(state, &c, WitnessMode::Skip).seal().unwrap();
    assert_eq!(after.diff, empty.diff, "a refused op changed the block");
    assert!(after.receipts.is_empty());
    err
}

#[test]
fn deposit_creates_account_and_credits() {
    let mut state = MemoryState::new();
    let alice = User::new(1);
    let sealed = commit(&mut state, &ctx(0), &[deposit(0, alice.address, ETH, 500)]);
    assert_eq!(
        sealed.executed(),
        vec![PubdataOp::Deposit {
            account: id(0),
            token: ETH,
            amount: 500,
            address: alice.address
        }]
    );
    assert_eq!(state.account_id(&alice.address), Some(id(0)));
    assert_eq!(balance(&state, 0, ETH), 500);
    // A second deposit to the same address credits the same account.
    commit(&mut state, &ctx(0), &[deposit(1, alice.address, ETH, 7)]);
    assert_eq!(balance(&state, 0, ETH), 507);
    assert_eq!(state.account_count(), 1);
    assert_eq!(
        state.root(),
        recompute_root(state.accounts(), state.balances())
    );
}

#[test]
fn transfer_to_existing_and_to_new_address() {
    let (mut state, users) = world(2, 1_000_000);
    let newcomer = Address::repeat_byte(0x77);
    let t1 = users[1].transfer(1, users[2].address, ETH, 1000, 10, 1);
    let t2 = users[1].transfer(1, newcomer, token(1), 2000, 20, 2);
    let sealed = commit(&mut state, &ctx(0), &[Op::Transfer(t1), Op::Transfer(t2)]);
    assert!(matches!(sealed.executed()[0], PubdataOp::Transfer { .. }));
    assert!(matches!(sealed.executed()[1], PubdataOp::TransferToNew { to, .. } if to == id(3)));
    assert_eq!(sealed.receipts[1].created, Some(id(3)));
    assert_eq!(sealed.pubdata().len(), 14 + 42, "one chunk, then three");
    assert_eq!(balance(&state, 1, ETH), 1_000_000 - 1010);
    assert_eq!(balance(&state, 2, ETH), 1_001_000);
    assert_eq!(balance(&state, 3, token(1)), 2000);
    assert_eq!(state.account(id(3)).unwrap().address, newcomer);
    assert_eq!(state.account(id(1)).unwrap().nonce, 3);
    // Fees are credited to the fee account when the block is sealed.
    assert_eq!(balance(&state, 0, ETH), 1_000_010);
    assert_eq!(balance(&state, 0, token(1)), 1_000_020);
    assert_eq!(
        state.root(),
        recompute_root(state.accounts(), state.balances())
    );
}

#[test]
fn self_transfer_only_pays_the_fee() {
    let (mut state, users) = world(1, 1000);
    let t = users[1].transfer(1, users[1].address, ETH, 400, 5, 1);
    commit(&mut state, &ctx(0), &[Op::Transfer(t)]);
    assert_eq!(balance(&state, 1, ETH), 995);
}

#[test]
fn withdraw_and_full_exit_leave_l2() {
    let (mut state, users) = world(2, 1000);
    let w = users[1].withdraw(1, Address::repeat_byte(9), ETH, 300, 3, 1);
    let exit = Op::FullExit(FullExit {
        priority_id: 99,
        account: id(2),
        owner: users[2].address,
        token: token(1),
    });
    // A full exit by someone who does not own the account exits nothing but is processed.
    let foreign = Op::FullExit(FullExit {
        priority_id: 100,
        account: id(1),
        owner: users[2].address,
        token: ETH,
    });
    let sealed = commit(&mut state, &ctx(0), &[Op::Withdraw(w), exit, foreign]);
    assert_eq!(balance(&state, 1, ETH), 697);
    assert_eq!(balance(&state, 2, token(1)), 0);
    assert_eq!(
        sealed.executed()[1],
        PubdataOp::FullExit {
            account: id(2),
            token: token(1),
            amount: 1000,
            owner: users[2].address
        }
    );
    assert!(matches!(
        sealed.executed()[2],
        PubdataOp::FullExit { amount: 0, .. }
    ));
}

#[test]
fn change_pubkey_by_eth_signature_and_onchain() {
    let mut state = MemoryState::new();
    let alice = User::new(1);
    commit(&mut state, &ctx(0), &[deposit(0, alice.address, ETH, 100)]);
    commit(&mut state, &ctx(0), &[alice.change_pubkey(0, 0, 10)]);
    let account = state.account(id(0)).unwrap();
    assert_eq!(account.nonce, 1);
    assert!(account.pubkey.is_some());
    assert_eq!(
        balance(&state, 0, ETH),
        100,
        "fee paid to itself as the fee account"
    );

    let mut c = ctx(0);
    let new_key = causeway_crypto::eddsa::PrivateKey::from_bytes([7; 32])
        .public_key()
        .to_packed();
    let cpk = ChangePubKey {
        account: id(0),
        new_pubkey: new_key,
        fee_token: ETH,
        fee: 0,
        nonce: 1,
        auth: ChangePubKeyAuth::Onchain,
    };
    assert_eq!(
        refused(&state, Op::ChangePubKey(cpk.clone())),
        OpError::NoOnchainAuth
    );
    c.onchain_auths.insert((alice.address, new_key, 1));
    let sealed = apply_block(&state, &c, &[Op::ChangePubKey(cpk)], WitnessMode::Skip).unwrap();
    state.apply(&sealed.diff);
    assert_eq!(state.account(id(0)).unwrap().nonce, 2);
}

#[test]
fn rejections_are_typed_and_change_nothing() {
    let (mut state, users) = world(2, 1000);
    let (a, b) = (&users[1], &users[2]);

    // Bad signature: a valid signature for other fields.
    let mut t = a.transfer(1, b.address, ETH, 10, 1, 1);
    t.amount = 11;
    assert!(matches!(
        refused(&state, Op::Transfer(t)),
        OpError::BadSignature(_)
    ));
    // Signed by someone else's (valid) key.
    let mut t = a.transfer(1, b.address, ETH, 10, 1, 1);
    t.signature = b.sign(t.signing_fields(&DOMAIN));
    assert_eq!(
        refused(&state, Op::Transfer(t)),
        OpError::WrongSigner(id(1))
    );
    // Signature for another chain or another deployment.
    let mut t = a.transfer(1, b.address, ETH, 10, 1, 1);
    let other = causeway_primitives::Domain {
        chain_id: 1,
        ..DOMAIN
    };
    t.signature = a.sign(t.signing_fields(&other));
    assert!(matches!(
        refused(&state, Op::Transfer(t)),
        OpError::BadSignature(_)
    ));
    // Wrong nonce: replaying an already used nonce, and skipping ahead.
    let t = a.transfer(1, b.address, ETH, 10, 1, 0);
    assert_eq!(
        refused(&state, Op::Transfer(t)),
        OpError::WrongNonce {
            account: id(1),
            expected: 1,
            got: 0
        }
    );
    let t = a.transfer(1, b.address, ETH, 10, 1, 5);
    assert!(matches!(
        refused(&state, Op::Transfer(t)),
        OpError::WrongNonce { .. }
    ));
    // Overdraft, including when only the fee tips it over.
    let t = a.transfer(1, b.address, ETH, 1001, 0, 1);
    assert!(matches!(
        refused(&state, Op::Transfer(t)),
        OpError::InsufficientBalance { needed: 1001, .. }
    ));
    let t = a.transfer(1, b.address, ETH, 1000, 1, 1);
    assert!(matches!(
        refused(&state, Op::Transfer(t)),
        OpError::InsufficientBalance { needed: 1001, .. }
    ));
    let w = a.withdraw(1, a.address, ETH, 999, 2, 1);
    assert!(matches!(
        refused(&state, Op::Withdraw(w)),
        OpError::InsufficientBalance { .. }
    ));
    // Unknown token, unpackable amount and fee, too-large amount, zero recipient.
    let t = a.transfer(1, b.address, token(9), 1, 0, 1);
    assert_eq!(
        refused(&state, Op::Transfer(t)),
        OpError::UnknownToken(token(9))
    );
    let t = a.transfer(1, b.address, ETH, 1_234_567_891, 0, 1);
    assert!(matches!(
        refused(&state, Op::Transfer(t)),
        OpError::NotPackable(_)
    ));
    let t = a.transfer(1, b.address, ETH, 1, 1025, 1);
    assert!(matches!(
        refused(&state, Op::Transfer(t)),
        OpError::NotPackable(_)
    ));
    let w = a.withdraw(1, a.address, ETH, MAX_BALANCE + 1, 0, 1);
    assert_eq!(
        refused(&state, Op::Withdraw(w)),
        OpError::AmountTooLarge(MAX_BALANCE + 1)
    );
    let t = a.transfer(1, Address::ZERO, ETH, 1, 0, 1);
    assert_eq!(refused(&state, Op::Transfer(t)), OpError::ZeroRecipient);
    // Unknown sender; sender without an L2 key.
    let t = a.transfer(77, b.address, ETH, 1, 0, 0);
    assert_eq!(
        refused(&state, Op::Transfer(t)),
        OpError::AccountNotFound(id(77))
    );
    let keyless = User::new(50);
    commit(
        &mut state,
        &ctx(0),
        &[deposit(100, keyless.address, ETH, 10)],
    );
    let t = keyless.transfer(3, b.address, ETH, 1, 0, 0);
    assert_eq!(refused(&state, Op::Transfer(t)), OpError::NoPubKey(id(3)));
    // ChangePubKey signed by the wrong Ethereum key, or replayed with an old nonce.
    let Op::ChangePubKey(mut cpk) = a.change_pubkey(1, 1, 0) else {
        unreachable!()
    };
    let ChangePubKeyAuth::EthSignature(_) = cpk.auth else {
        unreachable!()
    };
    cpk.auth = ChangePubKeyAuth::EthSignature(b.sign_eth(
        &causeway_primitives::change_pubkey_eth_message(&DOMAIN, &cpk),
    ));
    assert_eq!(
        refused(&state, Op::ChangePubKey(cpk)),
        OpError::BadEthSignature
    );
    assert!(matches!(
        refused(&state, a.change_pubkey(1, 0, 0)),
        OpError::WrongNonce { .. }
    ));
    // ChangePubKey to something that is not a curve point.
    let Op::ChangePubKey(mut cpk) = a.change_pubkey(1, 1, 0) else {
        unreachable!()
    };
    cpk.new_pubkey = PackedPoint([0xff; 32]);
    let msg = causeway_primitives::change_pubkey_eth_message(&DOMAIN, &cpk);
    cpk.auth = ChangePubKeyAuth::EthSignature(a.sign_eth(&msg));
    // The stf refuses it while executing its effects.
    let c = ctx(0);
    let mut exec = Executor::new(&state, &c, WitnessMode::Skip);
    assert_eq!(
        exec.apply(&Op::ChangePubKey(cpk), SignatureCheck::Unchecked)
            .unwrap_err(),
        OpError::BadPubKey
    );
}

#[test]
fn balance_overflow_is_refused() {
    let (mut state, users) = world(2, 1000);
    commit(
        &mut state,
        &ctx(0),
        &[deposit(100, users[2].address, ETH, MAX_BALANCE - 1000)],
    );
    assert_eq!(balance(&state, 2, ETH), MAX_BALANCE);
    let t = users[1].transfer(1, users[2].address, ETH, 1, 0, 1);
    assert_eq!(
        refused(&state, Op::Transfer(t)),
        OpError::BalanceOverflow {
            account: id(2),
            token: ETH
        }
    );
    // A priority op that cannot apply rejects the whole block.
    let err = apply_block(
        &state,
        &ctx(0),
        &[deposit(101, users[2].address, ETH, 1)],
        WitnessMode::Skip,
    )
    .unwrap_err();
    assert!(matches!(
        err,
        BlockError::InvalidOp {
            index: 0,
            error: OpError::BalanceOverflow { .. }
        }
    ));
}

#[test]
fn exhausted_nonce_cannot_wrap() {
    let (state, users) = world(1, 1000);
    let mut accounts: Vec<_> = state.accounts().map(|(_, a)| a.clone()).collect();
    accounts[1].nonce = u32::MAX;
    let balances = state.balances().collect();
    // Only the executor's checks matter here, so the forged state needs no tree nodes.
    let forged = MemoryState::from_parts(accounts, balances, causeway_tree::MemoryStore::new());
    let t = users[1].transfer(1, users[0].address, ETH, 1, 0, u32::MAX);
    assert_eq!(
        refused(&forged, Op::Transfer(t)),
        OpError::NonceExhausted(id(1))
    );
}

#[test]
fn sealed_block_is_all_or_nothing() {
    let (state, users) = world(2, 1000);
    let good = users[1].transfer(1, users[2].address, ETH, 1, 0, 1);
    let bad = users[1].transfer(1, users[2].address, ETH, 1, 0, 7);
    let err = apply_block(
        &state,
        &ctx(0),
        &[Op::Transfer(good), Op::Transfer(bad)],
        WitnessMode::Skip,
    )
    .unwrap_err();
    assert!(matches!(
        err,
        BlockError::InvalidOp {
            index: 1,
            error: OpError::WrongNonce { .. }
        }
    ));
}

#[test]
fn fees_need_an_existing_fee_account() {
    let (state, users) = world(1, 1000);
    let t = users[1].transfer(1, users[0].address, ETH, 1, 5, 1);
    let err = apply_block(&state, &ctx(42), &[Op::Transfer(t)], WitnessMode::Skip).unwrap_err();
    assert_eq!(err, BlockError::NoFeeAccount(id(42)));
}

#[test]
fn witness_chains_roots_and_proofs_verify() {
    let (state, users) = world(3, 10_000);
    let ops = vec![
        Op::Transfer(users[1].transfer(1, users[2].address, ETH, 100, 1, 1)),
        Op::Transfer(users[2].transfer(2, Address::repeat_byte(0x55), token(1), 50, 2, 1)),
        Op::Withdraw(users[3].withdraw(3, users[3].address, ETH, 70, 3, 1)),
        deposit(500, users[1].address, token(2), 9),
        Op::FullExit(FullExit {
            priority_id: 501,
            account: id(1234),
            owner: users[1].address,
            token: ETH,
        }),
        Op::Transfer(users[1].transfer(1, users[1].address, ETH, 5, 1, 2)),
        Op::Noop,
    ];
    let sealed = apply_block(&state, &ctx(0), &ops, WitnessMode::Record).unwrap();
    let w = sealed.witness.as_ref().unwrap();
    assert_eq!(w.old_root, state.root());
    assert_eq!(w.ops.len(), ops.len());
    let mut root = w.old_root;
    let all = w.ops.iter().flat_map(|o| &o.updates).chain(&w.fee_updates);
    for u in all {
        assert_eq!(u.root_before, root, "updates chain");
        assert!(
            u.account_proof
                .verify::<causeway_tree::Poseidon>(12, u.root_before)
        );
        let leaf_before = u
            .before
            .as_ref()
            .map_or(causeway_primitives::Fr::from(0u64), |a| {
                a.leaf_hash(u.balances_root_before)
            });
        assert_eq!(u.account_proof.leaf, leaf_before);
        let leaf_after = u
            .after
            .as_ref()
            .map_or(causeway_primitives::Fr::from(0u64), |a| {
                a.leaf_hash(u.balances_root_after)
            });
        assert_eq!(
            u.account_proof
                .root_with_leaf::<causeway_tree::Poseidon>(leaf_after),
            u.root_after
        );
        if let Some(b) = &u.balance {
            assert!(
                b.proof
                    .verify::<causeway_tree::Poseidon>(5, u.balances_root_before)
            );
            assert_eq!(b.proof.leaf, causeway_primitives::Fr::from(b.before));
            assert_eq!(
                b.proof
                    .root_with_leaf::<causeway_tree::Poseidon>(causeway_primitives::Fr::from(
                        b.after
                    )),
                u.balances_root_after
            );
        }
        root = u.root_after;
    }
    assert_eq!(root, w.new_root);
    assert_eq!(w.new_root, sealed.diff.new_root);
    // Fee credits are the last updates: one per token that collected fees.
    assert_eq!(w.fee_updates.len(), 2);
    // The self-transfer is a single update; the full exit of a missing account proves an empty slot.
    assert_eq!(w.ops[5].updates.len(), 1);
    assert!(w.ops[4].updates[0].before.is_none());
}

#[test]
fn replaying_pubdata_rebuilds_the_state_from_nothing() {
    let (mut state, users, mut pubdata) = world_with_pubdata(3, 10_000);
    let blocks = vec![
        vec![
            Op::Transfer(users[1].transfer(1, users[2].address, ETH, 100, 1, 1)),
            Op::Transfer(users[2].transfer(2, Address::repeat_byte(0x55), token(1), 50, 2, 1)),
        ],
        vec![
            Op::Withdraw(users[3].withdraw(3, users[3].address, ETH, 70, 3, 1)),
            Op::FullExit(FullExit {
                priority_id: 9,
                account: id(2),
                owner: users[2].address,
                token: ETH,
            }),
            users[3].change_pubkey(3, 2, 4),
            deposit(10, Address::repeat_byte(0x66), token(2), 5),
        ],
    ];
    for ops in &blocks {
        pubdata.push(commit(&mut state, &ctx(0), ops).pubdata());
    }
    // From an empty state, with nothing but each batch's pubdata and fee account.
    let mut rebuilt = MemoryState::new();
    for bytes in &pubdata {
        let replayed = replay(&rebuilt, id(0), bytes).unwrap();
        rebuilt.apply(&replayed.diff);
    }
    assert_eq!(rebuilt.root(), state.root());
    assert_eq!(
        rebuilt
            .balances()
            .collect::<std::collections::BTreeMap<_, _>>(),
        state.balances().collect()
    );
    let accounts = |s: &MemoryState| {
        s.accounts()
            .map(|(i, a)| (i, a.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        accounts(&rebuilt),
        accounts(&state),
        "addresses, nonces and keys too"
    );
}

#[test]
fn replay_refuses_pubdata_that_does_not_apply() {
    let (state, _) = world(1, 100);
    let overdraft = causeway_primitives::pubdata::encode(&[PubdataOp::Withdraw {
        from: id(1),
        token: ETH,
        amount: 101,
        fee: causeway_primitives::PackedFee::pack(0).unwrap(),
        to: Address::repeat_byte(1),
    }]);
    assert!(matches!(
        replay(&state, id(0), &overdraft),
        Err(BlockError::InvalidOp { index: 0, .. })
    ));
    assert!(matches!(
        replay(&state, id(0), &[1, 2, 3]),
        Err(BlockError::Pubdata(_))
    ));
}

#[test]
fn block_signature_checks_refuse_forgeries_on_the_registered_key_path() {
    // apply_block checks signatures up front, using the sender's registered key when the
    // signature names it: tampering must still be caught there.
    let (state, users) = world(2, 1000);
    let mut t = users[1].transfer(1, users[2].address, ETH, 10, 1, 1);
    t.amount = 11;
    let err = apply_block(&state, &ctx(0), &[Op::Transfer(t)], WitnessMode::Skip).unwrap_err();
    assert!(matches!(
        err,
        BlockError::InvalidOp {
            index: 0,
            error: OpError::BadSignature(_)
        }
    ));
    // A valid signature by another user's key, claiming to be from account 1.
    let mut t = users[1].transfer(1, users[2].address, ETH, 10, 1, 1);
    t.signature = users[2].sign(t.signing_fields(&DOMAIN));
    let err = apply_block(&state, &ctx(0), &[Op::Transfer(t)], WitnessMode::Skip).unwrap_err();
    assert_eq!(
        err,
        BlockError::InvalidOp {
            index: 0,
            error: OpError::WrongSigner(id(1))
        }
    );
}

#[test]
fn block_signature_checks_refuse_forgeries_on_the_prepared_key_path() {
    // Five ops signed by one key: its table is precomputed for the block, and a tampered op
    // among them is still refused, at its own index.
    let (state, users) = world(2, 1000);
    let mut ops: Vec<Op> = (1..=5)
        .map(|n| Op::Transfer(users[1].transfer(1, users[2].address, ETH, 10, 1, n)))
        .collect();
    assert!(apply_block(&state, &ctx(0), &ops, WitnessMode::Skip).is_ok());
    if let Op::Transfer(t) = &mut ops[3] {
        t.fee = 2;
    }
    let err = apply_block(&state, &ctx(0), &ops, WitnessMode::Skip).unwrap_err();
    assert!(matches!(
        err,
        BlockError::InvalidOp {
            index: 3,
            error: OpError::BadSignature(_)
        }
    ));
}

#[test]
fn a_block_collects_fees_in_at_most_max_fee_tokens() {
    let (state, users) = world(2, 1_000_000);
    let mut c = ctx(0);
    c.max_fee_tokens = 1;
    let mut exec = Executor::new(&state, &c, WitnessMode::Skip);
    let eth = users[1].transfer(1, users[2].address, ETH, 10, 1, 1);
    exec.apply(&Op::Transfer(eth), SignatureCheck::Unchecked)
        .unwrap();
    // A fee in a second token would need a second fee slot.
    let other = users[1].transfer(1, users[2].address, token(1), 10, 1, 2);
    assert_eq!(
        exec.apply(&Op::Transfer(other), SignatureCheck::Unchecked)
            .unwrap_err(),
        OpError::FeeTokensFull { limit: 1 }
    );
    // The same token again, or no fee at all, still fits.
    let more_eth = users[1].transfer(1, users[2].address, ETH, 10, 1, 2);
    exec.apply(&Op::Transfer(more_eth), SignatureCheck::Unchecked)
        .unwrap();
    let free = users[1].transfer(1, users[2].address, token(1), 10, 0, 3);
    exec.apply(&Op::Transfer(free), SignatureCheck::Unchecked)
        .unwrap();
    let sealed = exec.seal().unwrap();
    assert_eq!(sealed.fees.len(), 1);
    assert_eq!(sealed.fees[&ETH], 2);
}
