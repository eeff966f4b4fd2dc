//! The generated Solidity verifier, compiled with the project's forge/solc settings and
//! deployed on anvil, agrees with arkworks: it returns true for real proofs, false (never a
//! revert) for tampered proofs, tampered and non-canonical inputs, non-canonical coordinates
//! and points off the curve; with too little gas it reverts instead of answering false, so
//! `eth_estimateGas` suggests a limit that verifies. Prints the gas of a verification
//! (`--nocapture`); the calldata encoder is checked against `cast calldata`.
//!
//! Needs the npm toolchain at the workspace root (`npm install`: anvil, cast, forge, solc);
//! without it the test fails rather than skips. The harness is in `anvil/mod.rs`.

mod anvil;

mod product;

use product::{Product, setup_and_prove};

use anvil::{
    Anvil, build, call, deploy, estimate, gas_used, intrinsic_gas, modulus_word, run, small_word,
    tool, try_call, word_add,
};
use ark_bn254::{Bn254, Fq, Fr, G1Affine};
use ark_ec::{AffineRepr, CurveGroup};
use ark_groth16::{Groth16, Proof, ProvingKey};
use ark_std::rand::{SeedableRng, rngs::StdRng};
use causeway_circuit::export::{
    EvmWord, VERIFY_PROOF_SIGNATURE, VERIFY_PROOFS_SIGNATURE, fr_to_evm, proof_to_evm,
    solidity_verifier, verify_proof_calldata, verify_proof_calldata_hex, verify_proofs_calldata,
    word_hex,
};
use std::process::Command;
use std::thread;
use std::time::Instant;

struct Fixture {
    pk: ProvingKey<Bn254>,
    proof: Proof<Bn254>,
    inputs: Vec<Fr>,
    /// A proof of another statement (x = 7, y = 11) under the same key, and its inputs.
    other: (Proof<Bn254>, Vec<Fr>),
}

fn fixture(two_inputs: bool) -> Fixture {
    let (pk, proof, inputs) = setup_and_prove(two_inputs);
    let mut rng = StdRng::seed_from_u64(7);
    let c = Product::new(7, 11, two_inputs);
    let other_inputs = c.public_inputs();
    let other = Groth16::<Bn254>::create_random_proof_with_reduction(c, &pk, &mut rng).unwrap();
    Fixture {
        pk,
        proof,
        inputs,
        other: (other, other_inputs),
    }
}

/// Every case as (name, calldata, expected verdict).
fn cases(f: &Fixture) -> Vec<(String, String, bool)> {
    let words = proof_to_evm(&f.proof);
    let inputs: Vec<EvmWord> = f.inputs.iter().map(fr_to_evm).collect();
    let q = modulus_word::<Fq>();
    let r = modulus_word::<Fr>();
    let data = |proof: &[EvmWord; 8], inputs: &[EvmWord]| {
        format!("0x{}", hex::encode(verify_proof_calldata(proof, inputs)))
    };
    let with_proof = |edit: &dyn Fn(&mut [EvmWord; 8])| {
        let mut p = words;
        edit(&mut p);
        data(&p, &inputs)
    };
    let with_inputs = |edit: &dyn Fn(&mut Vec<EvmWord>)| {
        let mut i = inputs.clone();
        edit(&mut i);
        data(&words, &i)
    };
    let a_plus_g = proof_to_evm(&Proof {
        a: (f.proof.a + G1Affine::generator()).into_affine(),
        ..f.proof.clone()
    });
    let other_a = proof_to_evm(&f.other.0);
    let mut v: Vec<(String, String, bool)> = vec![
        (
            "real proof".into(),
            verify_proof_calldata_hex(&f.proof, &f.inputs),
            true,
        ),
        (
            "other statement's proof".into(),
            verify_proof_calldata_hex(&f.other.0, &f.other.1),
            true,
        ),
        (
            "A + G".into(),
            with_proof(&|p| p[..2].copy_from_slice(&a_plus_g[..2])),
            false,
        ),
        (
            "A of another proof".into(),
            with_proof(&|p| p[..2].copy_from_slice(&other_a[..2])),
            false,
        ),
        (
            "A = infinity (0, 0)".into(),
            with_proof(&|p| p[..2].fill([0; 32])),
            false,
        ),
        // (1, 3) is not on y² = x³ + 3; (1, 2) is the generator.
        (
            "A off the curve".into(),
            with_proof(&|p| {
                p[0] = small_word(1);
                p[1] = small_word(3)
            }),
            false,
        ),
        (
            "A.x + q".into(),
            with_proof(&|p| p[0] = word_add(&p[0], &q)),
            false,
        ),
        (
            "A.y + q".into(),
            with_proof(&|p| p[1] = word_add(&p[1], &q)),
            false,
        ),
        (
            "B.x.c1 + q".into(),
            with_proof(&|p| p[2] = word_add(&p[2], &q)),
            false,
        ),
        (
            "C.y + q".into(),
            with_proof(&|p| p[7] = word_add(&p[7], &q)),
            false,
        ),
        // snarkjs's order (real part first) instead of EIP-197's.
        (
            "B with c0, c1 swapped".into(),
            with_proof(&|p| {
                p.swap(2, 3);
                p.swap(4, 5)
            }),
            false,
        ),
        (
            "one input too few".into(),
            with_inputs(&|i| {
                i.pop();
            }),
            false,
        ),
        (
            "one input too many".into(),
            with_inputs(&|i| i.push([0; 32])),
            false,
        ),
    ];
    for k in 0..inputs.len() {
        v.push((
            format!("input[{k}] + 1"),
            with_inputs(&|i| i[k] = word_add(&i[k], &small_word(1))),
            false,
        ));
        // ecMul reduces its scalar mod r: without the contract's range check this would
        // verify as a second encoding of the same statement.
        v.push((
            format!("input[{k}] + r"),
            with_inputs(&|i| i[k] = word_add(&i[k], &r)),
            false,
        ));
    }
    v
}

/// `verifyProofs` cases: lists of the fixture's two valid proofs are accepted in any order
/// and with repeats; one bad element, swapped inputs or a malformed list is rejected.
fn batch_cases(f: &Fixture) -> Vec<(String, String, bool)> {
    let n = f.inputs.len();
    let real = (proof_to_evm(&f.proof), evm_inputs(&f.inputs));
    let other = (proof_to_evm(&f.other.0), evm_inputs(&f.other.1));
    let data = |list: &[&([EvmWord; 8], Vec<EvmWord>)]| {
        let proofs: Vec<[EvmWord; 8]> = list.iter().map(|(p, _)| *p).collect();
        let inputs: Vec<EvmWord> = list.iter().flat_map(|(_, i)| i.clone()).collect();
        format!(
            "0x{}",
            hex::encode(verify_proofs_calldata(&proofs, &inputs))
        )
    };
    let edited = |base: &([EvmWord; 8], Vec<EvmWord>),
                  edit: &dyn Fn(&mut [EvmWord; 8], &mut Vec<EvmWord>)| {
        let mut e = base.clone();
        edit(&mut e.0, &mut e.1);
        e
    };
    let c_up = proof_to_evm(&Proof {
        c: (f.proof.c + G1Affine::generator()).into_affine(),
        ..f.proof.clone()
    });
    let c_down = proof_to_evm(&Proof {
        c: (f.other.0.c - G1Affine::generator()).into_affine(),
        ..f.other.0.clone()
    });
    let moved = edited(&real, &|p, _| p[6..].copy_from_slice(&c_up[6..]));
    let moved_down = edited(&other, &|p, _| p[6..].copy_from_slice(&c_down[6..]));
    let off_curve = edited(&other, &|p, _| {
        p[0] = small_word(1);
        p[1] = small_word(3)
    });
    let r = modulus_word::<Fr>();
    let q = modulus_word::<Fq>();
    let mut v = vec![
        ("batch [real]".into(), data(&[&real]), true),
        ("batch [real, other]".into(), data(&[&real, &other]), true),
        (
            "batch [other, real, real]".into(),
            data(&[&other, &real, &real]),
            true,
        ),
        (
            "batch [C + G, other]".into(),
            data(&[&moved, &other]),
            false,
        ),
        (
            "batch [real, other, C + G]".into(),
            data(&[&real, &other, &moved]),
            false,
        ),
        (
            "batch [C + G, C - G]".into(),
            data(&[&moved, &moved_down]),
            false,
        ),
        (
            "batch [real, A off the curve]".into(),
            data(&[&real, &off_curve]),
            false,
        ),
        (
            "batch [real, other.C.y + q]".into(),
            data(&[&real, &edited(&other, &|p, _| p[7] = word_add(&p[7], &q))]),
            false,
        ),
        (
            "batch with swapped statements".into(),
            data(&[&(real.0, other.1.clone()), &(other.0, real.1.clone())]),
            false,
        ),
        (
            "batch with no proof".into(),
            format!("0x{}", hex::encode(verify_proofs_calldata(&[], &[]))),
            false,
        ),
        (
            "batch with one input too many".into(),
            data(&[&real, &edited(&other, &|_, i| i.push([0; 32]))]),
            false,
        ),
    ];
    for k in 0..n {
        v.push((
            format!("batch [real, other with input[{k}] + r]"),
            data(&[&real, &edited(&other, &|_, i| i[k] = word_add(&i[k], &r))]),
            false,
        ));
    }
    v
}

fn evm_inputs(inputs: &[Fr]) -> Vec<EvmWord> {
    inputs.iter().map(fr_to_evm).collect()
}

#[test]
fn generated_verifier_on_anvil() {
    let start = Instant::now();
    let fixtures = [fixture(false), fixture(true)];
    let names: Vec<String> = fixtures
        .iter()
        .map(|f| format!("Groth16Verifier{}", f.inputs.len()))
        .collect();
    let sources: Vec<(String, String)> = fixtures
        .iter()
        .zip(&names)
        .map(|(f, name)| (name.clone(), solidity_verifier(&f.pk.vk, name)))
        .collect();
    println!("proofs: {:.2?}", start.elapsed());

    // anvil starts while forge compiles.
    let (anvil, bytecodes) = thread::scope(|s| {
        let anvil = s.spawn(Anvil::spawn);
        let dir = tempfile::tempdir().unwrap();
        let bytecodes = build(dir.path(), &sources);
        (anvil.join().unwrap(), bytecodes)
    });
    println!(
        "anvil + forge build: {:.2?} ({})",
        start.elapsed(),
        anvil.url
    );

    // The calldata encoder agrees with cast's ABI encoder.
    let f = &fixtures[0];
    let proof_arg = format!(
        "[{}]",
        proof_to_evm(&f.proof)
            .iter()
            .map(word_hex)
            .collect::<Vec<_>>()
            .join(",")
    );
    let inputs_arg = format!(
        "[{}]",
        f.inputs
            .iter()
            .map(|x| word_hex(&fr_to_evm(x)))
            .collect::<Vec<_>>()
            .join(",")
    );
    assert_eq!(
        run(Command::new(tool("cast")).args([
            "calldata",
            VERIFY_PROOF_SIGNATURE,
            &proof_arg,
            &inputs_arg
        ])),
        verify_proof_calldata_hex(&f.proof, &f.inputs)
    );

    // And for verifyProofs.
    let list = |proofs: &[&Proof<Bn254>]| {
        let words: Vec<String> = proofs
            .iter()
            .map(|p| {
                let w: Vec<String> = proof_to_evm(p).iter().map(word_hex).collect();
                format!("[{}]", w.join(","))
            })
            .collect();
        format!("[{}]", words.join(","))
    };
    let both_inputs: Vec<Fr> = f.inputs.iter().chain(&f.other.1).copied().collect();
    let both_inputs_arg = format!(
        "[{}]",
        both_inputs
            .iter()
            .map(|x| word_hex(&fr_to_evm(x)))
            .collect::<Vec<_>>()
            .join(",")
    );
    assert_eq!(
        run(Command::new(tool("cast")).args([
            "calldata",
            VERIFY_PROOFS_SIGNATURE,
            &list(&[&f.proof, &f.other.0]),
            &both_inputs_arg
        ])),
        format!(
            "0x{}",
            hex::encode(verify_proofs_calldata(
                &[proof_to_evm(&f.proof), proof_to_evm(&f.other.0)],
                &evm_inputs(&both_inputs)
            ))
        )
    );

    for (f, bytecode) in fixtures.iter().zip(&bytecodes) {
        let n = f.inputs.len();
        let verifier = deploy(&anvil, bytecode);
        println!(
            "{n} input(s): verifier at {verifier}, {} bytes of creation code",
            bytecode.len() / 2 - 1
        );
        let mut cases = cases(f);
        cases.extend(batch_cases(f));
        // Each cast run is mostly process start-up; run the cases side by side.
        thread::scope(|s| {
            let runs: Vec<_> = cases
                .iter()
                .map(|(name, calldata, expected)| {
                    let (anvil, verifier) = (&anvil, &verifier);
                    s.spawn(move || {
                        assert_eq!(
                            call(anvil, verifier, calldata),
                            *expected,
                            "{name} ({n} inputs)"
                        );
                    })
                })
                .collect();
            for run in runs {
                run.join().unwrap();
            }
        });

        let real = verify_proof_calldata_hex(&f.proof, &f.inputs);
        let used = gas_used(&anvil, &verifier, &real, 1_000_000);
        let intrinsic = intrinsic_gas(&real);
        let execution = used - intrinsic;
        let precompiles = 181_000 + 6_150 * n as u64;
        println!(
            "{n} input(s): verifyProof transaction gasUsed {used} = intrinsic {intrinsic} \
             (21000 + calldata) + execution {execution} (precompiles {precompiles} + other {})",
            execution - precompiles
        );
        // eth_estimateGas must not find a cheaper run that answers false: with the limit it
        // suggests, the verdict is still true, and with too little gas the call reverts.
        let estimated = estimate(&anvil, &verifier, &real);
        println!("{n} input(s): eth_estimateGas {estimated}");
        assert!(
            estimated >= used,
            "estimate {estimated} below the gas used {used}"
        );
        assert_eq!(
            try_call(&anvil, &verifier, &real, Some(estimated)),
            Ok(true)
        );
        let starved = try_call(&anvil, &verifier, &real, Some(intrinsic + 150_000));
        assert!(
            starved
                .as_ref()
                .is_err_and(|e| e.contains("VerifierOutOfGas") || e.contains(OUT_OF_GAS_SELECTOR)),
            "a call without the gas for the pairing must revert with VerifierOutOfGas, got {starved:?}"
        );
        // A point off the curve: the pairing precompile fails and keeps the gas passed to it.
        let off_curve = &cases.iter().find(|c| c.0 == "A off the curve").unwrap().1;
        println!(
            "{n} input(s): a proof with A off the curve (answer false) uses {} gas of a 1M limit",
            gas_used(&anvil, &verifier, off_curve, 1_000_000)
        );
    }
    println!("total: {:.2?}", start.elapsed());
}

/// The selector of `VerifierOutOfGas()`: what cast shows when it cannot decode the error.
const OUT_OF_GAS_SELECTOR: &str = "0x7b92e315";
