//! snarkjs accepts arkworks' Groth16 proofs through `causeway_circuit::export`'s JSON, and
//! rejects tampered ones: an independent check of the encodings (G2 coordinate order,
//! decimal strings, projective form) against the verifier circom users rely on.
//!
//! Needs `node_modules/.bin/snarkjs` at the workspace root (`npm install`); without it the
//! test fails rather than skips, so a missing toolchain cannot pass for a green run.

mod product;
mod snarkjs;

use product::{Product, setup_and_prove};
use snarkjs::{Verdict, snarkjs_verify};

use ark_bn254::{Bn254, Fr, G1Affine};
use ark_ec::{AffineRepr, CurveGroup};
use ark_groth16::Groth16;
use ark_std::rand::{SeedableRng, rngs::StdRng};
use causeway_circuit::export::{snarkjs_proof_json, snarkjs_public_json, snarkjs_vkey_json};
use serde_json::Value;
use std::thread;

fn g1_add_generator(p: &G1Affine) -> G1Affine {
    (*p + G1Affine::generator()).into_affine()
}

fn check(two_inputs: bool) {
    let (pk, proof, inputs) = setup_and_prove(two_inputs);
    let vk = snarkjs_vkey_json(&pk.vk);
    assert_eq!(vk["nPublic"], inputs.len());
    let public = snarkjs_public_json(&inputs);
    let tmp = tempfile::tempdir().unwrap();

    // A proof of a different statement (x = 7, y = 11) under the same key: its A is a valid
    // point that belongs to another proof.
    let (other_proof, other_inputs) = {
        let mut rng = StdRng::seed_from_u64(7);
        let c = Product::new(7, 11, two_inputs);
        let inputs = c.public_inputs();
        (
            Groth16::<Bn254>::create_random_proof_with_reduction(c, &pk, &mut rng).unwrap(),
            inputs,
        )
    };
    let mut plus_g = proof.clone();
    plus_g.a = g1_add_generator(&proof.a);
    let mut foreign_a = proof.clone();
    foreign_a.a = other_proof.a;
    let mut input_plus_one = inputs.clone();
    input_plus_one[0] += Fr::from(1u64);
    let mut last_input_plus_one = inputs.clone();
    *last_input_plus_one.last_mut().unwrap() += Fr::from(1u64);
    // The scalar field modulus r itself, as a decimal string: an input snarkjs must refuse.
    let mut r_input = public.clone();
    r_input[0] = Value::String(
        "21888242871839275222246405745257275088548364400416034343698204186575808495617".into(),
    );

    let mut cases: Vec<(&str, Value, Value, Verdict)> = vec![
        (
            "real proof",
            public.clone(),
            snarkjs_proof_json(&proof),
            Verdict::Accepted,
        ),
        (
            "other statement's proof",
            snarkjs_public_json(&other_inputs),
            snarkjs_proof_json(&other_proof),
            Verdict::Accepted,
        ),
        (
            "A + G",
            public.clone(),
            snarkjs_proof_json(&plus_g),
            Verdict::Rejected("Invalid proof"),
        ),
        (
            "A of another proof",
            public.clone(),
            snarkjs_proof_json(&foreign_a),
            Verdict::Rejected("Invalid proof"),
        ),
        (
            "input[0] + 1",
            snarkjs_public_json(&input_plus_one),
            snarkjs_proof_json(&proof),
            Verdict::Rejected("Invalid proof"),
        ),
        (
            "input[0] = r",
            r_input,
            snarkjs_proof_json(&proof),
            Verdict::Rejected("Public inputs are not valid"),
        ),
    ];
    if two_inputs {
        cases.push((
            "last input + 1",
            snarkjs_public_json(&last_input_plus_one),
            snarkjs_proof_json(&proof),
            Verdict::Rejected("Invalid proof"),
        ));
    }
    // Each snarkjs run is mostly node start-up and wasm loading (~0.5 s); run them together.
    let n_inputs = inputs.len();
    thread::scope(|s| {
        let runs: Vec<_> = cases
            .iter()
            .enumerate()
            .map(|(i, (name, public, proof, expected))| {
                let dir = tmp.path().join(format!("case{i}"));
                let vk = &vk;
                s.spawn(move || {
                    let got = snarkjs_verify(&dir, vk, public, proof);
                    assert_eq!(&got, expected, "{name} ({n_inputs} inputs)");
                })
            })
            .collect();
        for run in runs {
            run.join().unwrap();
        }
    });
}

#[test]
fn snarkjs_verifies_one_public_input() {
    check(false);
}

#[test]
fn snarkjs_verifies_two_public_inputs() {
    check(true);
}
