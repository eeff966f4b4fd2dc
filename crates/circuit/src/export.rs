//! Groth16 artifacts (arkworks, BN254) in the formats other tools read: a Solidity verifier
//! for L1, EVM words and calldata for proofs, and snarkjs's JSON for an independent check.
//!
//! Owns the encodings, and keeps these invariants:
//! - [`solidity_verifier`] accepts exactly what `ark_groth16::Groth16::verify_proof` accepts
//!   for the same key, given canonical encodings: `e(A, B) = e(α, β) · e(vk_x, γ) · e(C, δ)`
//!   with `vk_x = IC[0] + Σ input[i] · IC[i + 1]`. It returns `false`, never reverts, for a
//!   wrong number of inputs, an input `>= r`, a proof word `>= q`, points off the curve (or
//!   `B` outside the order-`r` subgroup) and invalid proofs. It reverts only when given too
//!   little gas to run the precompiles, because a precompile out of gas fails like one
//!   refusing a point: `false` would then be a wrong answer about a valid proof.
//!   Its `verifyProofs` accepts a list iff `verifyProof` accepts every element, except with
//!   probability 2^-128 (a random linear combination of the proofs' equations).
//! - Proofs travel as eight 32-byte big-endian words in the order of EIP-197:
//!   `[A.x, A.y, B.x.c1, B.x.c0, B.y.c1, B.y.c0, C.x, C.y]` (a G2 coordinate `c0 + c1·u` is
//!   written imaginary part first). The point at infinity is `(0, 0)` (EIP-196/197).
//! - snarkjs's JSON is the other way round: `[c0, c1]`, decimal strings, projective
//!   coordinates with `z = 1` (`["0", "1", "0"]` for infinity), as `snarkjs zkey export
//!   verificationkey` writes them.
//! - Output is deterministic: the same key gives the same bytes (no timestamps, no
//!   randomness), so a generated contract can be committed and checked for staleness.
//!
//! Everything here is a pure function of its arguments; the tests `export_snarkjs` and
//! `export_anvil` check the encodings against snarkjs and against the EVM (anvil).

use alloy_primitives::{hex, keccak256};
use ark_bn254::{Bn254, Fq, Fq2, Fr, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_ec::pairing::Pairing;
use ark_ff::{BigInteger, PrimeField};
use ark_groth16::{Proof, VerifyingKey};
use ark_serialize::CanonicalSerialize;
use serde_json::{Value, json};
use std::fmt::Write;

/// One EVM word, big-endian (`uint256` as the ABI encodes it).
pub type EvmWord = [u8; 32];

/// The verifier's entry point; its first four bytes of keccak256 are the selector.
pub const VERIFY_PROOF_SIGNATURE: &str = "verifyProof(uint256[8],uint256[])";
/// The verifier's entry point for several proofs checked together.
pub const VERIFY_PROOFS_SIGNATURE: &str = "verifyProofs(uint256[8][],uint256[])";

/// A base field element as an EVM word.
fn fq_word(f: &Fq) -> EvmWord {
    be_word(f.into_bigint().to_bytes_be())
}

/// A scalar (a public input) as an EVM word.
pub fn fr_to_evm(f: &Fr) -> EvmWord {
    be_word(f.into_bigint().to_bytes_be())
}

fn be_word(bytes: Vec<u8>) -> EvmWord {
    bytes
        .try_into()
        .expect("BN254 field elements serialize to 32 bytes")
}

/// `0x` and 64 hex digits.
pub fn word_hex(w: &EvmWord) -> String {
    hex::encode_prefixed(w)
}

/// `[x, y]`; `[0, 0]` for the point at infinity (EIP-196).
fn g1_words(p: &G1Affine) -> [EvmWord; 2] {
    match p.xy() {
        Some((x, y)) => [fq_word(&x), fq_word(&y)],
        None => [[0; 32]; 2],
    }
}

/// `[x.c1, x.c0, y.c1, y.c0]` (EIP-197: imaginary part first); zeros for infinity.
fn g2_words(p: &G2Affine) -> [EvmWord; 4] {
    match p.xy() {
        Some((x, y)) => [
            fq_word(&x.c1),
            fq_word(&x.c0),
            fq_word(&y.c1),
            fq_word(&y.c0),
        ],
        None => [[0; 32]; 4],
    }
}

/// The proof as the verifier's `uint256[8] proof`:
/// `[A.x, A.y, B.x.c1, B.x.c0, B.y.c1, B.y.c0, C.x, C.y]`.
pub fn proof_to_evm(proof: &Proof<Bn254>) -> [EvmWord; 8] {
    let [ax, ay] = g1_words(&proof.a);
    let [bx1, bx0, by1, by0] = g2_words(&proof.b);
    let [cx, cy] = g1_words(&proof.c);
    [ax, ay, bx1, bx0, by1, by0, cx, cy]
}

/// ABI-encoded calldata of `verifyProof(proof, input)`, selector included. Takes raw words
/// rather than field elements so that callers can also encode non-canonical values (tests
/// of the verifier's range checks).
pub fn verify_proof_calldata(proof: &[EvmWord; 8], inputs: &[EvmWord]) -> Vec<u8> {
    let mut data = Vec::with_capacity(4 + 32 * (10 + inputs.len()));
    data.extend_from_slice(&keccak256(VERIFY_PROOF_SIGNATURE)[..4]);
    for w in proof {
        data.extend_from_slice(w);
    }
    // The head of the dynamic array: its offset from the start of the arguments, after
    // the eight static words and this offset word itself.
    data.extend_from_slice(&usize_word(9 * 32));
    data.extend_from_slice(&usize_word(inputs.len()));
    for w in inputs {
        data.extend_from_slice(w);
    }
    data
}

/// ABI-encoded calldata of `verifyProofs(proofs, input)`, selector included: `input` holds
/// the public inputs of every proof, proof after proof.
pub fn verify_proofs_calldata(proofs: &[[EvmWord; 8]], inputs: &[EvmWord]) -> Vec<u8> {
    let mut data = Vec::with_capacity(4 + 32 * (4 + 8 * proofs.len() + inputs.len()));
    data.extend_from_slice(&keccak256(VERIFY_PROOFS_SIGNATURE)[..4]);
    // Two dynamic arrays: their offsets, then each as its length and its words.
    data.extend_from_slice(&usize_word(2 * 32));
    data.extend_from_slice(&usize_word(2 * 32 + 32 + 8 * 32 * proofs.len()));
    data.extend_from_slice(&usize_word(proofs.len()));
    for w in proofs.iter().flatten() {
        data.extend_from_slice(w);
    }
    data.extend_from_slice(&usize_word(inputs.len()));
    for w in inputs {
        data.extend_from_slice(w);
    }
    data
}

/// [`verify_proof_calldata`] of a real proof and its inputs, as `0x` hex: the argument of
/// `cast call <verifier> --data <hex>` (which prints `0x…01` for true).
pub fn verify_proof_calldata_hex(proof: &Proof<Bn254>, inputs: &[Fr]) -> String {
    let inputs: Vec<EvmWord> = inputs.iter().map(fr_to_evm).collect();
    hex::encode_prefixed(verify_proof_calldata(&proof_to_evm(proof), &inputs))
}

fn usize_word(n: usize) -> EvmWord {
    let mut w = [0; 32];
    w[24..].copy_from_slice(&(n as u64).to_be_bytes());
    w
}

/// keccak256 of `vk` in arkworks' compressed serialization: names the key a generated
/// verifier embeds (its header and its `VK_HASH` constant).
pub fn vk_hash(vk: &VerifyingKey<Bn254>) -> EvmWord {
    let mut bytes = Vec::new();
    vk.serialize_compressed(&mut bytes)
        .expect("serializing into a Vec cannot fail");
    keccak256(&bytes).0
}

/// Whether `name` is a Solidity identifier (ASCII letters, digits, `_`, `$`; no leading
/// digit). Keywords are not rejected; solc will.
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// Yul for `base + offset` (a byte offset).
fn offset(base: &str, offset: usize) -> String {
    if offset == 0 {
        base.to_string()
    } else {
        format!("add({base}, {offset:#x})")
    }
}

/// ecPairing's price for the verifier's four pairs (EIP-1108: 45,000 + 34,000 per pair).
const PAIRING_GAS: usize = 45_000 + 4 * 34_000;
/// Per public input: ecMul (6,000) and ecAdd (150), the two calls (100 each, warm) and the
/// code that stores their arguments (under 100).
const PER_INPUT_GAS: usize = 6_150 + 300;
/// Room for the verifier's code between its gas check and the pairing call, apart from the
/// per-input terms: a few hundred gas of `mstore`s and a `calldatacopy`, with slack.
const GAS_MARGIN: usize = 2_000;

/// A self-contained Solidity contract `contract_name` that verifies Groth16 proofs for `vk`
/// with the BN254 precompiles (ecAdd 0x06, ecMul 0x07, ecPairing 0x08):
/// `function verifyProof(uint256[8] calldata proof, uint256[] calldata input) external view
/// returns (bool)`, `proof` as [`proof_to_evm`] writes it, and `verifyProofs(uint256[8][]
/// proofs, uint256[] input)` for several proofs at once.
///
/// Gas: the precompiles cost `181,000 + 6,150·n` for `n` public inputs (EIP-1108 prices);
/// the rest of the call is about 2k. The `n` terms of `vk_x` are unrolled, about 150 bytes
/// of code each.
///
/// `verifyProofs` checks k proofs with one pairing of k + 3 pairs: the product of the k
/// equations, proof i's raised to a weight r_i (r_0 = 1, the others 128 bits of keccak256
/// over every proof word and input, so fixed only once the proofs are). Invalid proofs pass
/// only if their errors cancel under weights they cannot choose: probability 2^-128 per
/// attempt. With equal weights they could (C + G in one proof, C - G in another; a forge
/// test checks exactly that pair). Precompiles: `45,000 + 34,000·(k + 3)` for the pairing,
/// `6,000·(2k + n)` for ecMul (`r_i·A_i` and `r_i·C_i` for i > 0, `Σr_i·α`, `Σr_i·IC0` and
/// one per input), against `k·(181,000 + 6,150·n)` for k separate calls.
///
/// Out of gas: a precompile call that runs out of gas fails exactly like one refusing a
/// point, so a verifier that mapped every failure to `false` would answer `false` for a valid
/// proof sent with too little gas (and `eth_estimateGas`, which looks for the cheapest
/// non-reverting run, would find that run). The contract therefore reverts with
/// `VerifierOutOfGas()` when less than `MIN_GAS` is left before the precompile calls. It still
/// passes all remaining gas to each call (not fixed amounts), so a future repricing of the
/// precompiles does not break it, given enough gas.
///
/// # Panics
/// If `contract_name` is not a Solidity identifier, or `vk` has no `IC[0]`.
pub fn solidity_verifier(vk: &VerifyingKey<Bn254>, contract_name: &str) -> String {
    assert!(
        is_identifier(contract_name),
        "contract name {contract_name:?} is not a Solidity identifier"
    );
    assert!(
        !vk.gamma_abc_g1.is_empty(),
        "a verifying key has IC[0] at least"
    );
    let n_inputs = vk.gamma_abc_g1.len() - 1;
    let hash = word_hex(&vk_hash(vk));
    let q = word_hex(&be_word(Fq::MODULUS.to_bytes_be()));
    let r = word_hex(&be_word(Fr::MODULUS.to_bytes_be()));

    // The key's points as named constants: G1 as X, Y; G2 as X1, X0, Y1, Y0 (EIP-197 order).
    let mut constants = String::new();
    let mut g1_const = |name: &str, p: &G1Affine| {
        let [x, y] = g1_words(p);
        writeln!(
            constants,
            "    uint256 internal constant {name}_X = {};",
            word_hex(&x)
        )
        .unwrap();
        writeln!(
            constants,
            "    uint256 internal constant {name}_Y = {};",
            word_hex(&y)
        )
        .unwrap();
    };
    g1_const("ALPHA", &vk.alpha_g1);
    for (i, p) in vk.gamma_abc_g1.iter().enumerate() {
        g1_const(&format!("IC{i}"), p);
    }
    for (name, p) in [
        ("BETA", &vk.beta_g2),
        ("GAMMA", &vk.gamma_g2),
        ("DELTA", &vk.delta_g2),
    ] {
        let words = g2_words(p);
        for (part, w) in ["X1", "X0", "Y1", "Y0"].iter().zip(&words) {
            writeln!(
                constants,
                "    uint256 internal constant {name}_{part} = {};",
                word_hex(w)
            )
            .unwrap();
        }
    }

    // The gas the precompile calls need, checked up front (see the contract's `MIN_GAS`).
    let min_gas = PER_INPUT_GAS * n_inputs + PAIRING_GAS.div_ceil(63) * 64 + GAS_MARGIN;
    let out_of_gas_selector = hex::encode_prefixed(&keccak256("VerifierOutOfGas()")[..4]);

    let indent = "            ";
    // Every proof word below Q. The pairing precompile would refuse most non-canonical
    // coordinates itself, but A.y is negated here before it sees it.
    let mut range_checks = String::new();
    for i in 0..8 {
        writeln!(
            range_checks,
            "{indent}ok := and(ok, lt(calldataload({}), Q))",
            offset("proof", 32 * i)
        )
        .unwrap();
    }
    // Every input below R: ecMul reduces its scalar mod r, so `input + r` would otherwise be
    // accepted as a second encoding of `input`.
    for i in 0..n_inputs {
        writeln!(
            range_checks,
            "{indent}ok := and(ok, lt(calldataload({}), R))",
            offset("input.offset", 32 * i)
        )
        .unwrap();
    }
    let indent = "                ";
    let mut vk_x = String::new();
    for i in 0..n_inputs {
        writeln!(
            vk_x,
            "{indent}// vk_x += input[{i}] · IC{next}",
            next = i + 1
        )
        .unwrap();
        writeln!(
            vk_x,
            "{indent}mstore(add(p, 0x100), IC{next}_X)\n\
             {indent}mstore(add(p, 0x120), IC{next}_Y)\n\
             {indent}mstore(add(p, 0x140), calldataload({input}))\n\
             {indent}success := and(success, staticcall(gas(), 0x07, add(p, 0x100), 0x60, add(p, 0x100), 0x40))\n\
             {indent}success := and(success, staticcall(gas(), 0x06, add(p, 0xc0), 0x80, add(p, 0xc0), 0x40))",
            next = i + 1,
            input = offset("input.offset", 32 * i)
        )
        .unwrap();
    }

    // verifyProofs: one accumulator per public input, `acc_j = sum_i r_i * input[i][j] mod R`,
    // and its term of the combined vk_x, `acc_j * IC(j+1)`.
    let indent = "                    ";
    let mut batch_acc_decl = String::new();
    let mut batch_acc_update = String::new();
    let mut batch_vk_x = String::new();
    for j in 0..n_inputs {
        // In memory after the ecMul arguments, not in Yul variables: with a few inputs these
        // would not fit on the EVM stack.
        let acc = format!("add(t, {:#x})", 0xa0 + 0x20 * j);
        writeln!(batch_acc_decl, "                mstore({acc}, 0)").unwrap();
        writeln!(
            batch_acc_update,
            "{indent}mstore({acc}, addmod(mload({acc}), mulmod(r, calldataload(add(input.offset, \
             mul(add(mul(i, {n_inputs}), {j}), 0x20))), R), R))"
        )
        .unwrap();
        writeln!(
            batch_vk_x,
            "                // vk_x += acc{j} · IC{next}\n\
             \x20               mstore(add(t, 0x40), IC{next}_X)\n\
             \x20               mstore(add(t, 0x60), IC{next}_Y)\n\
             \x20               mstore(add(t, 0x80), mload({acc}))\n\
             \x20               success := and(success, staticcall(gas(), 0x07, add(t, 0x40), 0x60, add(vk, 0x40), 0x40))\n\
             \x20               success := and(success, staticcall(gas(), 0x06, vk, 0x80, vk, 0x40))",
            next = j + 1
        )
        .unwrap();
    }

    let mut s = String::new();
    write!(
        s,
        r#"// SPDX-License-Identifier: MIT OR Apache-2.0
// Generated by causeway_circuit::export::solidity_verifier from the Groth16 (BN254)
// verifying key with keccak256(compressed arkworks serialization) =
// {hash}.
// Do not edit by hand: regenerate from the key.
pragma solidity ^0.8.24;

/// @title Groth16 verifier over BN254 for one verifying key, {n_inputs} public input(s).
/// @notice Accepts a proof iff e(A, B) = e(alpha, beta) · e(vk_x, gamma) · e(C, delta) with
///         vk_x = IC0 + sum_i input[i] · IC(i+1), as arkworks' Groth16 verifier does, for
///         canonical encodings only.
contract {contract_name} {{
    /// @notice keccak256 of the verifying key in arkworks' compressed serialization.
    bytes32 public constant VK_HASH = {hash};
    /// @notice The number of public inputs a proof has.
    uint256 public constant PUBLIC_INPUTS = {n_inputs};

    /// @dev The BN254 base field modulus: every proof word must be below it.
    uint256 internal constant Q = {q};
    /// @dev The BN254 scalar field modulus: every public input must be below it.
    uint256 internal constant R = {r};
    /// @dev The gas needed from the first precompile call on, at EIP-1108 prices: ecMul and
    ///      ecAdd per input with their calls, the 4-pair pairing with the 1/64 that a call
    ///      keeps back, and a margin for the code around the calls.
    uint256 internal constant MIN_GAS = {min_gas};

    /// @notice Too little gas to run the precompiles: the verdict would be meaningless.
    error VerifierOutOfGas();

    // The verifying key: G1 points as (X, Y), G2 points as (X1, X0, Y1, Y0), the
    // coordinates c0 + c1·u written imaginary part first as the pairing precompile reads them.
{constants}
    /// @notice Verifies a Groth16 proof of this key's statement.
    /// @param proof [A.x, A.y, B.x.c1, B.x.c0, B.y.c1, B.y.c0, C.x, C.y].
    /// @param input The public inputs, each below R, exactly PUBLIC_INPUTS of them.
    /// @return ok True iff the proof is valid. False, rather than a revert, for a wrong number
    ///         of inputs, an input >= R, a proof word >= Q, a point off the curve (or B outside
    ///         the order-R subgroup) and an invalid proof. A precompile refusing a point
    ///         consumes the gas passed to it, which is all but 1/64 of what is left.
    /// @dev Reverts with VerifierOutOfGas if less than MIN_GAS is left when the precompile
    ///      calls start: with too little gas a valid proof would come out false.
    function verifyProof(uint256[8] calldata proof, uint256[] calldata input)
        external
        view
        returns (bool ok)
    {{
        if (input.length != PUBLIC_INPUTS) return false;
        assembly ("memory-safe") {{
            ok := 1
{range_checks}            if ok {{
                // A precompile that runs out of gas fails like one given a bad point, and
                // would turn a valid proof into `false` (eth_estimateGas finds exactly that
                // cheaper outcome). Refuse to give a verdict without the gas for one.
                if lt(gas(), MIN_GAS) {{
                    mstore(0x00, shl(224, {out_of_gas_selector}))
                    revert(0x00, 0x04)
                }}
                // The pairing input, four (G1, G2) pairs of 0xc0 bytes each, is built above
                // the free memory pointer (scratch, not allocated):
                // (-A, B), (vk_x, gamma), (C, delta), (alpha, beta).
                let p := mload(0x40)
                // -A = (A.x, Q - A.y); A.y = 0 only at infinity, which is its own negation.
                mstore(p, calldataload(proof))
                mstore(add(p, 0x20), mod(sub(Q, calldataload(add(proof, 0x20))), Q))
                calldatacopy(add(p, 0x40), add(proof, 0x40), 0x80)
                // vk_x accumulates in place at p + 0xc0; each ecMul reads (IC, input) from
                // and writes its product to p + 0x100, where ecAdd finds it next to vk_x.
                mstore(add(p, 0xc0), IC0_X)
                mstore(add(p, 0xe0), IC0_Y)
                let success := 1
{vk_x}                mstore(add(p, 0x100), GAMMA_X1)
                mstore(add(p, 0x120), GAMMA_X0)
                mstore(add(p, 0x140), GAMMA_Y1)
                mstore(add(p, 0x160), GAMMA_Y0)
                calldatacopy(add(p, 0x180), add(proof, 0xc0), 0x40)
                mstore(add(p, 0x1c0), DELTA_X1)
                mstore(add(p, 0x1e0), DELTA_X0)
                mstore(add(p, 0x200), DELTA_Y1)
                mstore(add(p, 0x220), DELTA_Y0)
                mstore(add(p, 0x240), ALPHA_X)
                mstore(add(p, 0x260), ALPHA_Y)
                mstore(add(p, 0x280), BETA_X1)
                mstore(add(p, 0x2a0), BETA_X0)
                mstore(add(p, 0x2c0), BETA_Y1)
                mstore(add(p, 0x2e0), BETA_Y0)
                // The product of the four pairings is 1 iff the proof is valid. The call fails
                // (success 0) if a point is off the curve or B outside the subgroup.
                success := and(success, staticcall(gas(), 0x08, p, 0x300, 0x00, 0x20))
                ok := and(success, mload(0x00))
            }}
        }}
    }}

    /// @notice Verifies several proofs of this key's statement with one pairing check: true
    ///         iff every proof is valid for its inputs, as calling verifyProof on each would
    ///         say (up to a 2^-128 chance of accepting an invalid batch).
    /// @dev The check is the product over i of proof i's equation raised to r_i, with r_0 = 1
    ///      and r_i (i > 0) 128 bits of keccak256 of every proof and input: k + 3 pairs
    ///      instead of 4k. With equal weights two invalid proofs could cancel each other (C
    ///      moved by +G in one and -G in the other); weights fixed by the proofs themselves
    ///      leave a forger a 2^-128 chance per attempt. Rejects and reverts like verifyProof.
    /// @param proofs Each as verifyProof takes it.
    /// @param input PUBLIC_INPUTS words per proof, proof after proof.
    function verifyProofs(uint256[8][] calldata proofs, uint256[] calldata input)
        external
        view
        returns (bool ok)
    {{
        uint256 k = proofs.length;
        if (k == 0 || input.length != k * PUBLIC_INPUTS) return false;
        // The pairing of k + 3 pairs with the 1/64 a call keeps back; ecMul for r_i·A_i and
        // r_i·C_i (i > 0), for the alpha and IC0 terms and per input; ecAdd for the C sum and
        // per input; the loop's hashing and copying, with a margin.
        uint256 minGas = (45000 + 34000 * (k + 3)) * 64 / 63 + 6500 * (2 * k + PUBLIC_INPUTS)
            + 450 * (k + PUBLIC_INPUTS) + 800 * k + 3000;
        assembly ("memory-safe") {{
            ok := 1
            for {{ let w := 0 }} lt(w, mul(k, 8)) {{ w := add(w, 1) }} {{
                ok := and(ok, lt(calldataload(add(proofs.offset, mul(w, 0x20))), Q))
            }}
            for {{ let j := 0 }} lt(j, input.length) {{ j := add(j, 1) }} {{
                ok := and(ok, lt(calldataload(add(input.offset, mul(j, 0x20))), R))
            }}
            if ok {{
                if lt(gas(), minGas) {{
                    mstore(0x00, shl(224, {out_of_gas_selector}))
                    revert(0x00, 0x04)
                }}
                let p := mload(0x40)
                // The weights' seed: keccak256 of every proof word and input, in calldata order.
                let proofBytes := mul(k, 0x100)
                calldatacopy(p, proofs.offset, proofBytes)
                calldatacopy(add(p, proofBytes), input.offset, mul(input.length, 0x20))
                let seed := keccak256(p, add(proofBytes, mul(input.length, 0x20)))
                // From p: k pairs (-r_i·A_i, B_i), then (vk_x, gamma), (sum r_i·C_i, delta),
                // (sum r_i · alpha, beta); after them, at t, the C sum (0x40), an ecMul's
                // arguments (0x60) and one accumulator per input (acc_j = sum r_i·input[i][j]).
                let t := add(p, mul(add(k, 3), 0xc0))
                let success := 1
                let sumR := 0
{batch_acc_decl}                for {{ let i := 0 }} lt(i, k) {{ i := add(i, 1) }} {{
                    let r := 1
                    if i {{
                        mstore(0x00, seed)
                        mstore(0x20, i)
                        r := shr(128, keccak256(0x00, 0x40))
                    }}
                    sumR := add(sumR, r)
                    let proof := add(proofs.offset, mul(i, 0x100))
                    let pair := add(p, mul(i, 0xc0))
                    calldatacopy(pair, proof, 0x40)
                    if i {{
                        mstore(add(pair, 0x40), r)
                        success := and(success, staticcall(gas(), 0x07, pair, 0x60, pair, 0x40))
                    }}
                    // -(r·A); y = 0 only at infinity, which is its own negation.
                    mstore(add(pair, 0x20), mod(sub(Q, mload(add(pair, 0x20))), Q))
                    calldatacopy(add(pair, 0x40), add(proof, 0x40), 0x80)
                    switch i
                    case 0 {{ calldatacopy(t, add(proof, 0xc0), 0x40) }}
                    default {{
                        calldatacopy(add(t, 0x40), add(proof, 0xc0), 0x40)
                        mstore(add(t, 0x80), r)
                        success := and(success, staticcall(gas(), 0x07, add(t, 0x40), 0x60, add(t, 0x40), 0x40))
                        success := and(success, staticcall(gas(), 0x06, t, 0x80, t, 0x40))
                    }}
{batch_acc_update}                }}
                // vk_x = sumR · IC0 + sum_j acc_j · IC(j+1): each product lands next to vk_x,
                // where ecAdd reads it, before gamma is written there.
                let vk := add(p, mul(k, 0xc0))
                mstore(vk, IC0_X)
                mstore(add(vk, 0x20), IC0_Y)
                mstore(add(vk, 0x40), sumR)
                success := and(success, staticcall(gas(), 0x07, vk, 0x60, vk, 0x40))
{batch_vk_x}                mstore(add(vk, 0x40), GAMMA_X1)
                mstore(add(vk, 0x60), GAMMA_X0)
                mstore(add(vk, 0x80), GAMMA_Y1)
                mstore(add(vk, 0xa0), GAMMA_Y0)
                let c := add(vk, 0xc0)
                mcopy(c, t, 0x40)
                mstore(add(c, 0x40), DELTA_X1)
                mstore(add(c, 0x60), DELTA_X0)
                mstore(add(c, 0x80), DELTA_Y1)
                mstore(add(c, 0xa0), DELTA_Y0)
                let a := add(c, 0xc0)
                mstore(a, ALPHA_X)
                mstore(add(a, 0x20), ALPHA_Y)
                mstore(add(a, 0x40), sumR)
                success := and(success, staticcall(gas(), 0x07, a, 0x60, a, 0x40))
                mstore(add(a, 0x40), BETA_X1)
                mstore(add(a, 0x60), BETA_X0)
                mstore(add(a, 0x80), BETA_Y1)
                mstore(add(a, 0xa0), BETA_Y0)
                success := and(success, staticcall(gas(), 0x08, p, mul(add(k, 3), 0xc0), 0x00, 0x20))
                ok := and(success, mload(0x00))
            }}
        }}
    }}
}}
"#
    )
    .unwrap();
    s
}

/// A decimal string, as snarkjs writes field elements.
fn dec<F: PrimeField>(f: &F) -> Value {
    Value::String(f.into_bigint().to_string())
}

fn fq2_json(f: &Fq2) -> Value {
    json!([dec(&f.c0), dec(&f.c1)])
}

/// `[x, y, "1"]`, or `["0", "1", "0"]` at infinity (ffjavascript's `G1.toObject`).
fn g1_json(p: &G1Affine) -> Value {
    match p.xy() {
        Some((x, y)) => json!([dec(&x), dec(&y), "1"]),
        None => json!(["0", "1", "0"]),
    }
}

/// `[[x.c0, x.c1], [y.c0, y.c1], ["1", "0"]]`: real part first, unlike EIP-197.
fn g2_json(p: &G2Affine) -> Value {
    match p.xy() {
        Some((x, y)) => json!([fq2_json(&x), fq2_json(&y), ["1", "0"]]),
        None => json!([["0", "0"], ["1", "0"], ["0", "0"]]),
    }
}

/// `vk` as snarkjs's `verification_key.json` (what `snarkjs groth16 verify` reads), with
/// `vk_alphabeta_12 = e(alpha, beta)` as `zkey export verificationkey` adds it (verify does not
/// read it; the Fq12 element as `[[c0.c0, c0.c1, c0.c2], [c1.c0, ..]]` of `[c0, c1]` pairs).
pub fn snarkjs_vkey_json(vk: &VerifyingKey<Bn254>) -> Value {
    let ab = Bn254::pairing(vk.alpha_g1, vk.beta_g2).0;
    let fq6 = |f: &ark_bn254::Fq6| json!([fq2_json(&f.c0), fq2_json(&f.c1), fq2_json(&f.c2)]);
    json!({
        "protocol": "groth16",
        "curve": "bn128",
        "nPublic": vk.gamma_abc_g1.len().saturating_sub(1),
        "vk_alpha_1": g1_json(&vk.alpha_g1),
        "vk_beta_2": g2_json(&vk.beta_g2),
        "vk_gamma_2": g2_json(&vk.gamma_g2),
        "vk_delta_2": g2_json(&vk.delta_g2),
        "vk_alphabeta_12": [fq6(&ab.c0), fq6(&ab.c1)],
        "IC": vk.gamma_abc_g1.iter().map(g1_json).collect::<Vec<_>>(),
    })
}

/// `proof` as snarkjs's `proof.json`.
pub fn snarkjs_proof_json(proof: &Proof<Bn254>) -> Value {
    json!({
        "pi_a": g1_json(&proof.a),
        "pi_b": g2_json(&proof.b),
        "pi_c": g1_json(&proof.c),
        "protocol": "groth16",
        "curve": "bn128",
    })
}

/// The public inputs as snarkjs's `public.json`: decimal strings.
pub fn snarkjs_public_json(inputs: &[Fr]) -> Value {
    Value::Array(inputs.iter().map(dec).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ec::{AffineRepr, CurveGroup};
    use ark_ff::UniformRand;
    use ark_std::rand::{SeedableRng, rngs::StdRng};

    /// A verifying key of random points (the generator only reads points, not their relation).
    fn random_vk(n_inputs: usize, seed: u64) -> VerifyingKey<Bn254> {
        let mut rng = StdRng::seed_from_u64(seed);
        VerifyingKey {
            alpha_g1: G1Affine::rand(&mut rng),
            beta_g2: G2Affine::rand(&mut rng),
            gamma_g2: G2Affine::rand(&mut rng),
            delta_g2: G2Affine::rand(&mut rng),
            gamma_abc_g1: (0..=n_inputs).map(|_| G1Affine::rand(&mut rng)).collect(),
        }
    }

    #[test]
    fn solidity_embeds_every_constant_of_the_key() {
        let vk = random_vk(2, 1);
        let sol = solidity_verifier(&vk, "Verifier");
        let mut words: Vec<EvmWord> = g1_words(&vk.alpha_g1).to_vec();
        for p in &vk.gamma_abc_g1 {
            words.extend(g1_words(p));
        }
        for p in [&vk.beta_g2, &vk.gamma_g2, &vk.delta_g2] {
            words.extend(g2_words(p));
        }
        assert_eq!(words.len(), 2 + 3 * 2 + 3 * 4);
        for w in &words {
            let h = word_hex(w);
            assert!(sol.contains(&h), "{h} missing from the contract");
        }
        // Both orders of a G2 coordinate are distinct constants, the imaginary part first.
        let [x1, x0, ..] = g2_words(&vk.beta_g2);
        let (x, _) = vk.beta_g2.xy().unwrap();
        assert_eq!((x1, x0), (fq_word(&x.c1), fq_word(&x.c0)));
        assert!(sol.contains(&format!("BETA_X1 = {}", word_hex(&x1))));
        assert!(sol.contains(&format!("VK_HASH = {}", word_hex(&vk_hash(&vk)))));
        assert!(sol.contains("PUBLIC_INPUTS = 2;"));
        assert!(sol.contains("contract Verifier {"));
        assert!(sol.contains("vk_x += input[1] · IC2"));
        assert!(!sol.contains("IC3"));
    }

    #[test]
    fn solidity_is_deterministic_and_depends_on_the_key() {
        let vk = random_vk(1, 2);
        assert_eq!(
            solidity_verifier(&vk, "V"),
            solidity_verifier(&vk.clone(), "V")
        );
        assert_ne!(
            solidity_verifier(&vk, "V"),
            solidity_verifier(&random_vk(1, 3), "V")
        );
    }

    #[test]
    #[should_panic(expected = "not a Solidity identifier")]
    fn rejects_a_contract_name_that_is_not_an_identifier() {
        solidity_verifier(&random_vk(1, 4), "My Verifier");
    }

    #[test]
    fn identifiers() {
        for ok in ["V", "_v", "$v1", "Groth16Verifier"] {
            assert!(is_identifier(ok), "{ok}");
        }
        for bad in ["", "1V", "a-b", "a b", "é"] {
            assert!(!is_identifier(bad), "{bad}");
        }
    }

    #[test]
    fn evm_words_in_eip197_order() {
        let mut rng = StdRng::seed_from_u64(5);
        let proof = Proof::<Bn254> {
            a: G1Affine::rand(&mut rng),
            b: G2Affine::rand(&mut rng),
            c: G1Affine::rand(&mut rng),
        };
        let w = proof_to_evm(&proof);
        let (bx, by) = proof.b.xy().unwrap();
        assert_eq!(w[0], fq_word(&proof.a.x().unwrap()));
        assert_eq!(w[2], fq_word(&bx.c1));
        assert_eq!(w[3], fq_word(&bx.c0));
        assert_eq!(w[4], fq_word(&by.c1));
        assert_eq!(w[5], fq_word(&by.c0));
        assert_eq!(w[7], fq_word(&proof.c.y().unwrap()));
        // The generator of G1 is (1, 2).
        let g = g1_words(&G1Affine::generator());
        assert_eq!((g[0][31], g[1][31]), (1, 2));
        assert_eq!(g1_words(&G1Affine::zero()), [[0; 32]; 2]);
        assert_eq!(
            g1_json(&(G1Affine::generator() + G1Affine::generator()).into_affine())[2],
            "1"
        );
        assert_eq!(g1_json(&G1Affine::zero()), json!(["0", "1", "0"]));
    }

    #[test]
    fn calldata_layout() {
        let proof: [EvmWord; 8] = std::array::from_fn(|i| [i as u8 + 1; 32]);
        let inputs = [[0xaa; 32], [0xbb; 32]];
        let data = verify_proof_calldata(&proof, &inputs);
        assert_eq!(data.len(), 4 + 32 * 12);
        assert_eq!(&data[..4], &keccak256(VERIFY_PROOF_SIGNATURE)[..4]);
        assert_eq!(&data[4..36], &[1; 32]);
        assert_eq!(&data[4 + 8 * 32 + 30..4 + 9 * 32], &[0x01, 0x20]); // offset 0x120
        assert_eq!(data[4 + 9 * 32 + 31], 2);
        assert_eq!(&data[4 + 11 * 32..], &[0xbb; 32]);
    }

    /// snarkjs (ffjavascript) computes `vk_alphabeta_12` with the same tower and final
    /// exponentiation as arkworks: e(G1, G2) as ffjavascript's `Gt.toObject` prints it.
    #[test]
    fn alphabeta_matches_ffjavascript_on_the_generators() {
        let vk = VerifyingKey::<Bn254> {
            alpha_g1: G1Affine::generator(),
            beta_g2: G2Affine::generator(),
            gamma_g2: G2Affine::generator(),
            delta_g2: G2Affine::generator(),
            gamma_abc_g1: vec![G1Affine::generator()],
        };
        let json = snarkjs_vkey_json(&vk);
        assert_eq!(
            json["vk_alphabeta_12"][0][0],
            json!([
                "17264119758069723980713015158403419364912226240334615592005620718956030922389",
                "1300711225518851207585954685848229181392358478699795190245709208408267917898"
            ])
        );
        assert_eq!(
            json["vk_alphabeta_12"][1][2],
            json!([
                "8891987925005301465158626530377582234132838601606565363865129986128301774627",
                "440796048150724096437130979851431985500142692666486515369083499585648077975"
            ])
        );
        assert_eq!(
            json["vk_beta_2"][0],
            json!([
                "10857046999023057135944570762232829481370756359578518086990519993285655852781",
                "11559732032986387107991004021392285783925812861821192530917403151452391805634"
            ])
        );
        assert_eq!(json["nPublic"], 0);
    }
}
