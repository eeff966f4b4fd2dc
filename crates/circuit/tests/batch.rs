//! The batch circuit against the stf: blocks the stf accepts satisfy the circuit, and each way
//! of cheating breaks the rule it should.
//!
//! Blocks are built and sealed by the stf with the very harness its own tests use, so both
//! sides run on the same vectors.

#[path = "../../stf/tests/harness/mod.rs"]
mod harness;

use causeway_circuit::batch::{BatchInput, BatchShape, Violation, check};
use causeway_primitives::pubdata::CHUNK_BYTES;
use causeway_primitives::{AccountId, Address, FullExit, Op};
use causeway_stf::{MemoryState, WitnessMode, apply_block};
use harness::*;

const SHAPE: BatchShape = BatchShape::new(12, 2);

/// Seals `ops` on `state` with a witness, commits it, and returns the circuit's input.
fn block(state: &mut MemoryState, ops: &[Op]) -> BatchInput {
    let sealed = apply_block(state, &ctx(0), ops, WitnessMode::Record).expect("block applies");
    state.apply(&sealed.diff);
    let witness = sealed.witness.expect("witness recorded");
    BatchInput::new(SHAPE, DOMAIN, AccountId::new(0).unwrap(), &witness).expect("fits")
}

fn violation(input: &BatchInput) -> Option<Violation> {
    check(input).expect("synthesizes")
}

fn rule(input: &BatchInput) -> Option<&'static str> {
    violation(input).map(|v| v.rule)
}

/// Users 0..=3 with funds and keys (users 0 and 1 also hold token 1). With `check`, each
/// building block (account-creating deposits, ChangePubKeys, a deposit to an existing
/// account) is checked against the circuit too.
fn world_checked(check_blocks: bool) -> (MemoryState, Vec<User>) {
    let mut state = MemoryState::new();
    let users: Vec<User> = (0..4).map(User::new).collect();
    let key = |i: usize| users[i].change_pubkey(i as u32, 0, 0);
    let blocks: Vec<Vec<Op>> = vec![
        users
            .iter()
            .enumerate()
            .map(|(i, u)| deposit(i as u64, u.address, ETH, 1_000_000))
            .collect(),
        vec![key(0), key(1)],
        vec![key(2), deposit(9, users[1].address, token(1), 5_000)],
        vec![key(3)],
    ];
    for ops in blocks {
        let input = block(&mut state, &ops);
        if check_blocks {
            assert_eq!(violation(&input), None, "{ops:?}");
        }
    }
    (state, users)
}

fn proven_world() -> (MemoryState, Vec<User>) {
    world_checked(false)
}

#[test]
fn deposits_creating_accounts_and_key_changes_satisfy_the_circuit() {
    world_checked(true);
}

#[test]
fn every_op_kind_the_stf_accepts_satisfies_the_circuit() {
    let (mut state, users) = proven_world();
    let stranger = Address::repeat_byte(0x77);
    // Transfers (existing, new, self), a withdrawal, fees in two tokens: 1+3+1+3+1 chunks.
    let ops = vec![
        Op::Transfer(users[1].transfer(1, users[2].address, ETH, 1_000, 10, 1)),
        Op::Transfer(users[2].transfer(2, stranger, ETH, 2_000, 20, 1)),
        Op::Transfer(users[3].transfer(3, users[3].address, ETH, 500, 5, 1)),
        Op::Withdraw(users[1].withdraw(1, stranger, ETH, 300, 30, 2)),
        Op::Transfer(users[1].transfer(1, users[0].address, token(1), 100, 1, 3)),
    ];
    let input = block(&mut state, &ops);
    assert_eq!(violation(&input), None);

    // Full exits: the owner's (pays the balance) and a stranger's claim (pays nothing).
    let exits = vec![
        Op::FullExit(FullExit {
            priority_id: 20,
            account: AccountId::new(2).unwrap(),
            owner: users[2].address,
            token: ETH,
        }),
        Op::FullExit(FullExit {
            priority_id: 21,
            account: AccountId::new(3).unwrap(),
            owner: stranger,
            token: ETH,
        }),
    ];
    let input = block(&mut state, &exits);
    assert_eq!(violation(&input), None);
}

#[test]
fn an_empty_batch_satisfies_the_circuit() {
    let input = BatchInput::empty(SHAPE, DOMAIN);
    assert_eq!(violation(&input), None);
}

/// A block of one transfer from user 1 to user 2 (chunk 0), over the proven world.
fn one_transfer() -> (MemoryState, Vec<User>, BatchInput) {
    let (mut state, users) = proven_world();
    let t = users[1].transfer(1, users[2].address, ETH, 1_000, 10, 1);
    let input = block(&mut state, &[Op::Transfer(t)]);
    assert_eq!(violation(&input), None);
    (state, users, input)
}

#[test]
fn a_wrong_new_root_breaks_the_commitment() {
    let (_, _, mut input) = one_transfer();
    input.new_root += causeway_primitives::Fr::from(1u64);
    assert_eq!(rule(&input), Some("commitment"));
}

#[test]
fn a_forged_signature_is_refused() {
    let (_, users, mut input) = one_transfer();
    // Signed by another key.
    let other = users[3].transfer(1, users[2].address, ETH, 1_000, 10, 1);
    let (_, forged) =
        causeway_crypto::eddsa::Signature::from_tx_signature(&other.signature).expect("decodes");
    input.slots[0].signature = forged;
    assert_eq!(
        violation(&input),
        Some(Violation {
            rule: "signature",
            slot: Some(0)
        })
    );
    // S + 1.
    let (_, _, mut input) = one_transfer();
    input.slots[0].signature.s += causeway_crypto::babyjubjub::Scalar::from(1u64);
    assert_eq!(rule(&input), Some("signature"));
}

#[test]
fn a_replayed_signature_is_refused() {
    let (mut state, users) = proven_world();
    let first = users[1].transfer(1, users[2].address, ETH, 1_000, 10, 1);
    let _ = block(&mut state, &[Op::Transfer(first.clone())]);
    // The same transfer again, now at nonce 2: the stf refuses the old signature, and a
    // prover who slips it into the witness of an identical op signed for nonce 2 fails.
    let again = users[1].transfer(1, users[2].address, ETH, 1_000, 10, 2);
    let mut input = block(&mut state, &[Op::Transfer(again)]);
    let (_, old) =
        causeway_crypto::eddsa::Signature::from_tx_signature(&first.signature).expect("decodes");
    input.slots[0].signature = old;
    assert_eq!(rule(&input), Some("signature"));
}

/// Replaces the transfer's packed amount in chunk 0 (bits 62..97).
fn set_packed_amount(input: &mut BatchInput, packed: u64) {
    let mut bits: u128 = input.pubdata[..CHUNK_BYTES]
        .iter()
        .fold(0, |acc, b| (acc << 8) | u128::from(*b));
    let shift = 112 - 97;
    bits &= !(((1u128 << 35) - 1) << shift);
    bits |= u128::from(packed) << shift;
    for (i, byte) in input.pubdata[..CHUNK_BYTES].iter_mut().enumerate() {
        *byte = (bits >> (8 * (CHUNK_BYTES - 1 - i))) as u8;
    }
}

#[test]
fn an_overdraft_is_refused() {
    let (_, _, mut input) = one_transfer();
    // 10^9 * 10^0 is far above the sender's balance.
    let huge = causeway_primitives::PackedAmount::pack(999_000_000).unwrap();
    set_packed_amount(&mut input, huge.bits());
    assert_eq!(rule(&input), Some("balance range"));
}

#[test]
fn pubdata_that_differs_from_the_ops_is_refused() {
    // A different amount in pubdata: the sender's new leaf is not the one the receiver's
    // witnessed path starts from (and the signed message would not match either).
    let (_, _, mut input) = one_transfer();
    let other = causeway_primitives::PackedAmount::pack(999).unwrap();
    set_packed_amount(&mut input, other.bits());
    assert_eq!(rule(&input), Some("root chain"));

    // A different receiver id: the witnessed leaf is another account's.
    let (_, _, mut input) = one_transfer();
    input.pubdata[5] ^= 0x10;
    assert_eq!(rule(&input), Some("leaf selection"));

    // Garbage in a Noop chunk (the codec would refuse it on L1 replay).
    let (_, _, mut input) = one_transfer();
    input.pubdata[CHUNK_BYTES + 3] = 1;
    assert_eq!(
        violation(&input),
        Some(Violation {
            rule: "padding",
            slot: Some(1)
        })
    );

    // An unknown tag.
    let (_, _, mut input) = one_transfer();
    input.pubdata[CHUNK_BYTES] = 0x70;
    assert_eq!(rule(&input), Some("framing"));
}

#[test]
fn a_wrong_fee_credit_is_refused() {
    // The fee assigned to a fee slot of another token.
    let (mut state, users) = proven_world();
    let ops = vec![
        Op::Transfer(users[1].transfer(1, users[2].address, ETH, 1_000, 10, 1)),
        Op::Transfer(users[1].transfer(1, users[0].address, token(1), 100, 1, 2)),
    ];
    let mut input = block(&mut state, &ops);
    assert_eq!(violation(&input), None);
    input.slots[0].fee_split.swap(0, 1);
    assert_eq!(rule(&input), Some("fee split"));

    // The fee account credited more than the fees (its balance witness lowered instead).
    let (_, _, mut input) = one_transfer();
    input.fee_slots[0].update.balance -= 1;
    assert_eq!(rule(&input), Some("fee credit"));

    // A fee credit switched off.
    let (_, _, mut input) = one_transfer();
    input.fee_slots[0].active = false;
    assert_eq!(rule(&input), Some("fee credit"));
}

#[test]
fn a_block_larger_than_the_circuit_is_refused_before_proving() {
    let (mut state, users) = proven_world();
    let ops: Vec<Op> = (0..5)
        .map(|n| Op::Withdraw(users[1].withdraw(1, users[1].address, ETH, 1, 0, 1 + n)))
        .collect();
    let sealed = apply_block(&state, &ctx(0), &ops, WitnessMode::Record).unwrap();
    state.apply(&sealed.diff);
    let err = BatchInput::new(
        SHAPE,
        DOMAIN,
        AccountId::new(0).unwrap(),
        sealed.witness.as_ref().unwrap(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the block needs 15 pubdata chunks; the circuit has 12"
    );
}

/// Prints the constraint budget (run with `--nocapture`): per chunk slot, per fee slot, and
/// the fixed part (header, commitment).
#[test]
fn constraint_budget() {
    use causeway_circuit::batch::constraint_count;
    let n = |c, f| constraint_count(BatchShape::new(c, f)).unwrap();
    let (a, b, c) = (n(4, 1), n(8, 1), n(8, 2));
    let per_slot = (b - a) / 4;
    let per_fee_slot = c - b;
    println!("constraints: c4-f1 {a}, c8-f1 {b}, c8-f2 {c}");
    println!("per chunk slot (incl. its SHA-256 share) {per_slot}, per fee slot {per_fee_slot}");
    assert!(per_slot > 0 && per_fee_slot > 0);
}
