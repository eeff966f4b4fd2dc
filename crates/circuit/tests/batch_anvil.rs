//! The committed devnet verifier, `contracts/src/BatchVerifier.sol`, accepts a real batch proof
//! of a non-empty block (a deposit creating an account) on the EVM (anvil) and rejects it
//! tampered: the proof with `A` negated or `C` moved, the commitment plus one or plus `r`, and
//! the next batch's commitment. Prints the gas of a `verifyProof` transaction (`--nocapture`).
//!
//! The block is built and sealed by the stf with its own test harness: deposits creating
//! accounts, one per 4-chunk batch (a deposit takes 3 chunks; a ChangePubKey, 5, does not fit
//! the devnet's shape, so no account gets a key and there are no transfers). The proving key is
//! the one the contract was generated from: the shape and the development seed are read from
//! the contract's header (written by causeway-l1-gen), and the key's hash must equal the
//! contract's `VK_HASH`.
//!
//! Needs the npm toolchain at the workspace root (`npm install`: anvil, cast, forge, solc);
//! without it the test fails rather than skips. The harness is in `anvil/mod.rs`.

#[path = "../../stf/tests/harness/mod.rs"]
mod harness;

mod anvil;
mod snarkjs;

use anvil::{Anvil, build, call, deploy, gas_used, intrinsic_gas, modulus_word, root, word_add};
use ark_bn254::{Fr, G1Affine};
use ark_ec::{AffineRepr, CurveGroup};
use ark_std::rand::{SeedableRng, rngs::StdRng};
use causeway_circuit::batch::{BatchInput, BatchShape, check};
use causeway_circuit::export::{
    EvmWord, fr_to_evm, proof_to_evm, verify_proof_calldata, verify_proof_calldata_hex, vk_hash,
    word_hex,
};
use causeway_circuit::groth16::{BatchR1cs, Proof, dev_setup, prove, verify};
use causeway_primitives::{AccountId, Op};
use causeway_stf::{MemoryState, WitnessMode, apply_block};
use harness::{DOMAIN, ETH, User, ctx, deposit, token};
use snarkjs::{Verdict, snarkjs_verify};
use std::thread;
use std::time::Instant;

/// The shape and the development seed the committed verifier's header names:
/// `BatchShape::new(<chunks>, <fee slots>)` and `dev_setup(shape, <seed in hex>)`.
fn shape_and_seed(sol: &str) -> (BatchShape, u64) {
    let between = |start: &str, end: &str| -> &str {
        let from = sol
            .find(start)
            .unwrap_or_else(|| panic!("BatchVerifier.sol's header has no {start:?}"))
            + start.len();
        let len = sol[from..].find(end).expect("closing delimiter");
        &sol[from..from + len]
    };
    let (chunks, fee_slots) = between("BatchShape::new(", ")")
        .split_once(", ")
        .expect("BatchShape::new(chunks, fee_slots)");
    let seed = between("dev_setup(shape, 0x", ")");
    (
        BatchShape::new(chunks.parse().unwrap(), fee_slots.parse().unwrap()),
        u64::from_str_radix(seed, 16).unwrap(),
    )
}

/// Seals `ops` on `state` with a witness, commits it, and returns the circuit's input.
fn block(state: &mut MemoryState, shape: BatchShape, ops: &[Op]) -> BatchInput {
    let sealed = apply_block(state, &ctx(0), ops, WitnessMode::Record).expect("block applies");
    state.apply(&sealed.diff);
    let witness = sealed.witness.expect("witness recorded");
    BatchInput::new(shape, DOMAIN, AccountId::new(0).unwrap(), &witness).expect("fits")
}

/// The batch to prove, a deposit creating account 2 (after blocks creating accounts 0 and 1),
/// and the next one, a deposit of another token to existing account 1 (only its commitment
/// is used: a second proof would cost another setup-sized wait).
fn batches(shape: BatchShape) -> (BatchInput, BatchInput) {
    let mut state = MemoryState::new();
    let users: Vec<User> = (0..3).map(User::new).collect();
    for (i, u) in users.iter().take(2).enumerate() {
        block(
            &mut state,
            shape,
            &[deposit(i as u64, u.address, ETH, 1_000_000)],
        );
    }
    let creating = block(
        &mut state,
        shape,
        &[deposit(2, users[2].address, ETH, 250_000)],
    );
    assert_eq!(
        (creating.old_account_count, creating.new_account_count),
        (2, 3)
    );
    assert_eq!(check(&creating).expect("synthesizes"), None);
    let topping_up = block(
        &mut state,
        shape,
        &[deposit(3, users[1].address, token(1), 5_000)],
    );
    (creating, topping_up)
}

fn hex_data(proof: &[EvmWord; 8], inputs: &[EvmWord]) -> String {
    format!("0x{}", hex::encode(verify_proof_calldata(proof, inputs)))
}

#[test]
fn committed_batch_verifier_accepts_a_real_batch_proof_on_anvil() {
    let start = Instant::now();
    let sol_path = root().join("contracts/src/BatchVerifier.sol");
    let sol = std::fs::read_to_string(&sol_path)
        .unwrap_or_else(|e| panic!("{}: {e}", sol_path.display()));
    let (shape, seed) = shape_and_seed(&sol);
    println!("BatchVerifier.sol: shape {shape}, development seed {seed:#x}");

    // anvil starts and forge compiles the committed contract while the key and the proof are made.
    let (anvil, bytecode, commitments, proof) = thread::scope(|s| {
        let anvil = s.spawn(Anvil::spawn);
        let dir = tempfile::tempdir().unwrap();
        let sources = [("BatchVerifier".to_string(), sol.clone())];
        let bytecode = s.spawn(move || {
            let code = build(dir.path(), &sources).remove(0);
            drop(dir);
            code
        });

        let pk = dev_setup(shape, seed).expect("setup");
        println!("dev_setup({shape}): {:.2?}", start.elapsed());
        assert!(
            sol.contains(&format!("VK_HASH = {};", word_hex(&vk_hash(&pk.vk)))),
            "BatchVerifier.sol was not generated from dev_setup({shape}, {seed:#x}): \
             regenerate it with `cargo run -p causeway-l1-gen -- write contracts`"
        );
        let (input, next) = batches(shape);
        let t = Instant::now();
        let r1cs = BatchR1cs::new(shape).expect("matrices");
        let proof = prove(&pk, &r1cs, &input, &mut StdRng::seed_from_u64(1)).expect("proves");
        println!("proof of a {shape} batch: {:.2?}", t.elapsed());
        assert!(verify(&pk.vk, input.commitment(), &proof).unwrap());
        // The pairing check of the contract must agree with arkworks on the same key.
        assert!(!verify(&pk.vk, next.commitment(), &proof).unwrap());
        // And snarkjs agrees on the real batch proof too.
        assert!(snarkjs_accepts(&pk.vk, &proof, input.commitment()));
        assert!(!snarkjs_accepts(&pk.vk, &proof, next.commitment()));
        (
            anvil.join().unwrap(),
            bytecode.join().unwrap(),
            [input.commitment(), next.commitment()],
            proof,
        )
    });
    println!(
        "setup, proof, anvil and forge build: {:.2?} ({})",
        start.elapsed(),
        anvil.url
    );

    let verifier = deploy(&anvil, &bytecode);
    let words = proof_to_evm(&proof);
    let c0 = fr_to_evm(&commitments[0]);
    let negated_a = proof_to_evm(&Proof {
        a: -proof.a,
        ..proof.clone()
    });
    let moved_c = proof_to_evm(&Proof {
        c: (proof.c + G1Affine::generator()).into_affine(),
        ..proof.clone()
    });
    let cases: Vec<(&str, String, bool)> = vec![
        (
            "the real proof",
            verify_proof_calldata_hex(&proof, &commitments[..1]),
            true,
        ),
        ("A negated", hex_data(&negated_a, &[c0]), false),
        ("C + G", hex_data(&moved_c, &[c0]), false),
        (
            "commitment + 1",
            hex_data(&words, &[fr_to_evm(&(commitments[0] + Fr::from(1u64)))]),
            false,
        ),
        (
            "commitment + r",
            hex_data(&words, &[word_add(&c0, &modulus_word::<Fr>())]),
            false,
        ),
        (
            "the next batch's commitment",
            hex_data(&words, &[fr_to_evm(&commitments[1])]),
            false,
        ),
    ];
    for (name, calldata, expected) in &cases {
        assert_eq!(call(&anvil, &verifier, calldata), *expected, "{name}");
        println!("{name}: {expected}");
    }
    let real = &cases[0].1;
    let used = gas_used(&anvil, &verifier, real, 1_000_000);
    let intrinsic = intrinsic_gas(real);
    println!(
        "verifyProof transaction: gasUsed {used} = intrinsic {intrinsic} (21000 + {} bytes of \
         calldata) + execution {}",
        real.len() / 2 - 1,
        used - intrinsic
    );
    println!("total: {:.2?}", start.elapsed());
}

/// Whether `snarkjs groth16 verify` accepts `proof` for `commitment` under `vk`, from our
/// snarkjs JSON exports; it must give a verdict either way.
fn snarkjs_accepts(
    vk: &ark_groth16::VerifyingKey<ark_bn254::Bn254>,
    proof: &Proof,
    commitment: Fr,
) -> bool {
    use causeway_circuit::export::{snarkjs_proof_json, snarkjs_public_json, snarkjs_vkey_json};
    let dir = tempfile::tempdir().unwrap();
    match snarkjs_verify(
        dir.path(),
        &snarkjs_vkey_json(vk),
        &snarkjs_public_json(&[commitment]),
        &snarkjs_proof_json(proof),
    ) {
        Verdict::Accepted => true,
        Verdict::Rejected(reason) => {
            assert_eq!(reason, "Invalid proof");
            false
        }
    }
}
