//! Witness-only synthesis (what the prover runs) against full synthesis (what setup and
//! `check` run): for real batches, built by the stf, both give the same instance and witness
//! assignments and the same constraint count.
//!
//! The gadgets take a native fast path when the constraint system builds no matrices; this is
//! what pins that path to the constraints the keys were made for. A witness that differs in
//! one value, or one variable out of place, gives proofs that do not verify.

#[path = "../../stf/tests/harness/mod.rs"]
mod harness;

use ark_relations::r1cs::{
    ConstraintSynthesizer, ConstraintSystem, OptimizationGoal, SynthesisMode,
};
use causeway_circuit::batch::{BatchCircuit, BatchInput, BatchShape, check};
use causeway_primitives::{AccountId, Address, Fr, FullExit, Op};
use causeway_stf::{MemoryState, WitnessMode, apply_block};
use harness::*;
use std::time::{Duration, Instant};

/// What a synthesis leaves behind that a proof depends on.
#[derive(Debug, PartialEq)]
struct Assignment {
    instance: Vec<Fr>,
    witness: Vec<Fr>,
    constraints: usize,
}

/// Synthesizes `input` with or without matrices; returns the assignment and the time taken,
/// dropping the constraint system included (as in the prover, where it is a large part).
fn synthesize(input: &BatchInput, construct_matrices: bool) -> (Assignment, Duration) {
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    cs.set_mode(SynthesisMode::Prove { construct_matrices });
    let circuit = BatchCircuit {
        input: input.clone(),
    };
    let started = Instant::now();
    circuit
        .generate_constraints(cs.clone())
        .expect("synthesizes");
    let mut inner = cs.into_inner().expect("the only reference");
    assert_eq!(
        inner.instance_assignment.len(),
        inner.num_instance_variables
    );
    assert_eq!(inner.witness_assignment.len(), inner.num_witness_variables);
    let assignment = Assignment {
        instance: std::mem::take(&mut inner.instance_assignment),
        witness: std::mem::take(&mut inner.witness_assignment),
        constraints: inner.num_constraints,
    };
    drop(inner);
    (assignment, started.elapsed())
}

/// Both ways agree, variable by variable (the first difference is reported by index, which
/// points at the gadget that diverged).
fn assert_same_witness(input: &BatchInput) {
    let (full, _) = synthesize(input, true);
    let (fast, _) = synthesize(input, false);
    assert_eq!(fast.instance, full.instance, "instance assignment");
    assert_eq!(fast.constraints, full.constraints, "constraint count");
    if let Some(i) = (0..full.witness.len().min(fast.witness.len()))
        .find(|&i| full.witness[i] != fast.witness[i])
    {
        panic!(
            "witness {i} of {} differs: {} (full) vs {} (witness-only)",
            full.witness.len(),
            full.witness[i],
            fast.witness[i]
        );
    }
    assert_eq!(
        fast.witness.len(),
        full.witness.len(),
        "witness variable count"
    );
}

/// Seals `ops` on `state` with a witness, commits it, and returns the circuit's input.
fn block(state: &mut MemoryState, shape: BatchShape, ops: &[Op]) -> BatchInput {
    let sealed = apply_block(state, &ctx(0), ops, WitnessMode::Record).expect("block applies");
    state.apply(&sealed.diff);
    let witness = sealed.witness.expect("witness recorded");
    BatchInput::new(shape, DOMAIN, AccountId::new(0).unwrap(), &witness).expect("fits")
}

/// Users 0..=3 funded in ETH (user 1 also in token 1), with L2 keys.
fn keyed_world() -> (MemoryState, Vec<User>) {
    let mut state = MemoryState::new();
    let users: Vec<User> = (0..4).map(User::new).collect();
    let mut deposits: Vec<Op> = users
        .iter()
        .enumerate()
        .map(|(i, u)| deposit(i as u64, u.address, ETH, 1_000_000))
        .collect();
    deposits.push(deposit(4, users[1].address, token(1), 5_000));
    let _ = commit(&mut state, &ctx(0), &deposits);
    let keys: Vec<Op> = users
        .iter()
        .enumerate()
        .map(|(i, u)| u.change_pubkey(i as u32, 0, 0))
        .collect();
    let _ = commit(&mut state, &ctx(0), &keys);
    (state, users)
}

/// Checks that `ops` make a valid batch of `shape` on `state`, then that both ways agree.
fn assert_block_synthesizes_alike(state: &mut MemoryState, shape: BatchShape, ops: &[Op]) {
    let input = block(state, shape, ops);
    assert_eq!(check(&input).unwrap(), None, "{ops:?}");
    assert_same_witness(&input);
}

#[test]
fn transfers_synthesize_alike() {
    let (mut state, users) = keyed_world();
    // To another account, to oneself, in a second token (two fee slots), and a Noop.
    let ops = vec![
        Op::Transfer(users[1].transfer(1, users[2].address, ETH, 1_000, 10, 1)),
        Op::Transfer(users[3].transfer(3, users[3].address, ETH, 500, 5, 1)),
        Op::Transfer(users[1].transfer(1, users[0].address, token(1), 100, 1, 2)),
    ];
    assert_block_synthesizes_alike(&mut state, BatchShape::new(4, 2), &ops);
}

#[test]
fn account_creation_withdrawal_and_exit_synthesize_alike() {
    let (mut state, users) = keyed_world();
    let shape = BatchShape::new(4, 1);
    // TransferToNew (3 chunks) and a transfer.
    let ops = vec![
        Op::Transfer(users[2].transfer(2, Address::repeat_byte(0x77), ETH, 2_000, 20, 1)),
        Op::Transfer(users[1].transfer(1, users[2].address, ETH, 1_000, 10, 1)),
    ];
    assert_block_synthesizes_alike(&mut state, shape, &ops);
    // A deposit creating an account (3 chunks), padded with a Noop.
    let ops = vec![deposit(10, Address::repeat_byte(0x78), ETH, 7)];
    assert_block_synthesizes_alike(&mut state, shape, &ops);
    // A deposit to an existing account.
    let ops = vec![deposit(11, users[0].address, ETH, 9)];
    assert_block_synthesizes_alike(&mut state, shape, &ops);
    // A withdrawal and a transfer.
    let ops = vec![
        Op::Withdraw(users[3].withdraw(3, Address::repeat_byte(0x55), ETH, 300, 30, 1)),
        Op::Transfer(users[0].transfer(0, users[1].address, ETH, 50, 0, 1)),
    ];
    assert_block_synthesizes_alike(&mut state, shape, &ops);
    // A full exit by the owner.
    let ops = vec![Op::FullExit(FullExit {
        priority_id: 12,
        account: AccountId::new(2).unwrap(),
        owner: users[2].address,
        token: ETH,
    })];
    assert_block_synthesizes_alike(&mut state, shape, &ops);
}

#[test]
fn a_noop_padded_batch_synthesizes_alike() {
    assert_same_witness(&BatchInput::empty(BatchShape::new(3, 1), DOMAIN));
}

/// Witness synthesis of `CAUSEWAY_WITNESS_CHUNKS` (default 29) transfers, both ways, timed:
/// `cargo test --release -p causeway-circuit --test witness -- --ignored --nocapture`. With
/// `CAUSEWAY_WITNESS_PROFILE` set, only the witness-only way, three times (for `perf
/// record`). The prover's figure is `causeway bench prove`'s "witness synthesis"; this one
/// skips the key and the matrices, so it takes seconds instead of a minute.
#[test]
#[ignore = "a timing run, seconds per way"]
fn witness_synthesis_timing() {
    let chunks: usize = std::env::var("CAUSEWAY_WITNESS_CHUNKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(29);
    let (mut state, users) = world(7, 1_000_000_000);
    let shape = BatchShape::new(chunks, 1);
    let mut nonces = vec![1u32; users.len()];
    let ops: Vec<Op> = (0..chunks)
        .map(|j| {
            let from = j % users.len();
            let to = (j + 1) % users.len();
            let nonce = nonces[from];
            nonces[from] += 1;
            Op::Transfer(users[from].transfer(
                from as u32,
                users[to].address,
                ETH,
                1_000 + j as u128,
                10,
                nonce,
            ))
        })
        .collect();
    let input = block(&mut state, shape, &ops);
    if std::env::var_os("CAUSEWAY_WITNESS_PROFILE").is_some() {
        // Witness-only, a few times over: something for `perf record` to look at.
        for _ in 0..3 {
            let (fast, took) = synthesize(&input, false);
            println!("{} constraints, witness-only {took:.2?}", fast.constraints);
        }
        return;
    }
    let (fast, fast_time) = synthesize(&input, false);
    let (full, full_time) = synthesize(&input, true);
    println!(
        "{chunks} transfers, {} constraints: witness-only {fast_time:.2?}, with matrices \
         {full_time:.2?}",
        fast.constraints
    );
    assert_eq!(fast, full);
}
