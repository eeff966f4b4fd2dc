//! Causeway's cryptography: Poseidon and EdDSA-Poseidon over Baby Jubjub, bit-for-bit
//! compatible with circomlib (the circuits) and circomlibjs (wallets and external tools).
//!
//! - [`poseidon`]: the hash of every Merkle node, leaf and signed message.
//! - [`babyjubjub`]: the curve, its group law and circomlib's 32-byte point encoding.
//! - [`eddsa`]: L2 keys, signing, and verification of the signatures carried by L2 ops.
//! - [`l2key`]: deriving a user's L2 key from one Ethereum `personal_sign` signature.
//! - [`lanes`] (x86-64): field arithmetic on eight lanes with AVX-512 IFMA, under
//!   [`poseidon::hash_many`] and the prover's multi-scalar multiplications.
//!
//! Everything is checked against vectors produced by circomlibjs itself
//! (`vectors/gen.js` writes `vectors/circomlibjs.json`). The crate does no IO; its only
//! global state is parameter tables built once on first use (Poseidon constants, the
//! fixed-base table of Base8).
//!
//! Speed, measured with `cargo test --release -p causeway-crypto -- --ignored --nocapture
//! --test-threads 1` (the `*_timing` tests print the figures).

pub mod babyjubjub;
pub mod eddsa;
pub mod l2key;
#[cfg(target_arch = "x86_64")]
pub mod lanes;
pub mod poseidon;

pub use eddsa::{
    PreparedKey, PrivateKey, PublicKey, Signature, SignatureError, Signer, message_hash,
    verify_tx_signature, verify_tx_signature_by, verify_tx_signatures,
};

#[cfg(test)]
mod vectors;
