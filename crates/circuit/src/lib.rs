//! Causeway's R1CS circuits over BN254 (arkworks 0.5).
//!
//! Owns the gadgets a batch circuit is built from, each the in-circuit twin of a native
//! function and tested against it:
//! - [`poseidon`]: circomlib's Poseidon for 1..=16 inputs, equal to
//!   `causeway_crypto::poseidon::hash`;
//! - [`merkle`]: 4-ary Merkle paths and leaf updates, equal to `causeway_tree::MerkleProof`'s
//!   root computations;
//! - [`babyjubjub`]: Baby Jubjub points (circomlib's twisted Edwards form), the group law and
//!   fixed- and variable-base scalar multiplication, matching `causeway_crypto::babyjubjub`;
//! - [`eddsa`]: EdDSA-Poseidon signature verification, accepting exactly what
//!   `causeway_crypto::eddsa::PublicKey::verify` accepts.
//! - [`msm`]: the Groth16 prover's multi-scalar multiplication, equal to arkworks' `msm_bigint`.
//! - [`qap`]: the Groth16 prover's QAP witness map (its FFTs), equal to arkworks'
//!   `LibsnarkReduction::witness_map_from_matrices`.
//!
//! The prover synthesizes without matrices ([`groth16`]); in that mode the costly gadgets
//! (Poseidon, the Baby Jubjub scalar multiplications, SHA-256, sums of bits) compute on
//! values and skip their linear combinations (`witness_only`), leaving exactly the witness
//! the full gadgets would.
//!
//! Like the rest of the pure core, nothing here does IO. Gadgets report only arkworks'
//! `SynthesisError`; a statement that is false makes the constraint system unsatisfied rather
//! than returning an error, so a prover cannot talk its way past a check.

pub mod babyjubjub;
pub mod batch;
pub mod eddsa;
pub mod export;
pub mod groth16;
pub mod merkle;
pub mod msm;
pub mod poseidon;
pub mod qap;
pub mod sha256;
mod witness_only;
