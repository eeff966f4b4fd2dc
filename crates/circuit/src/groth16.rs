//! Groth16 over BN254 for the batch circuit: setup, proving, verifying, and the keys' byte
//! form.
//!
//! Owns the choice of proof system parameters; nothing here touches a disk (the prover crate
//! stores keys). A development setup derives its secret randomness from a public seed, so
//! anyone can forge proofs for it: it exists for tests and devnets only, and its keys say so
//! in [`KeyOrigin`]. A production setup comes from a ceremony and is loaded as bytes.

use crate::batch::{BatchCircuit, BatchInput, BatchShape};
use ark_bn254::Bn254;
use ark_groth16::Groth16;
use ark_relations::r1cs::SynthesisError;
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize, Compress, Validate};
use ark_snark::SNARK;
use ark_std::rand::{CryptoRng, RngCore, SeedableRng, rngs::StdRng};
use causeway_primitives::{Address, Domain, Fr};

pub type ProvingKey = ark_groth16::ProvingKey<Bn254>;
pub type VerifyingKey = ark_groth16::VerifyingKey<Bn254>;
pub type Proof = ark_groth16::Proof<Bn254>;

/// Where a key pair came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOrigin {
    /// Derived from a public seed: NOT FOR PRODUCTION, anyone can forge proofs.
    Development { seed: u64 },
    /// Loaded from a ceremony's output.
    Ceremony,
}

#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    #[error("circuit synthesis failed: {0}")]
    Synthesis(#[from] SynthesisError),
    #[error("key bytes do not decode: {0}")]
    KeyBytes(#[from] ark_serialize::SerializationError),
}

/// A circuit-specific development setup for `shape`, all randomness from `seed`.
/// NOT FOR PRODUCTION: whoever knows the seed can prove false statements.
pub fn dev_setup(shape: BatchShape, seed: u64) -> Result<ProvingKey, ProofError> {
    let mut rng = StdRng::seed_from_u64(seed);
    let circuit = BatchCircuit {
        input: BatchInput::empty(
            shape,
            Domain {
                chain_id: 0,
                contract: Address::ZERO,
            },
        ),
    };
    let (pk, _) = Groth16::<Bn254>::circuit_specific_setup(circuit, &mut rng)?;
    Ok(pk)
}

/// A proof that `input` is a valid batch; its public input is `input.commitment()`.
pub fn prove<R: RngCore + CryptoRng>(
    pk: &ProvingKey,
    input: &BatchInput,
    rng: &mut R,
) -> Result<Proof, ProofError> {
    let circuit = BatchCircuit {
        input: input.clone(),
    };
    Ok(Groth16::<Bn254>::prove(pk, circuit, rng)?)
}

/// Whether `proof` proves the batch with public input `commitment`.
pub fn verify(vk: &VerifyingKey, commitment: Fr, proof: &Proof) -> Result<bool, ProofError> {
    Ok(Groth16::<Bn254>::verify(vk, &[commitment], proof)?)
}

/// Keys in arkworks' uncompressed form: larger than compressed, but decoding skips a square
/// root per point, which dominates loading a multi-GB proving key.
pub fn key_to_bytes<K: CanonicalSerialize>(key: &K) -> Result<Vec<u8>, ProofError> {
    let mut out = Vec::with_capacity(key.serialized_size(Compress::No));
    key.serialize_uncompressed(&mut out)?;
    Ok(out)
}

/// Decodes a key written by [`key_to_bytes`]. Points are checked to be on the curve and in
/// the right subgroup only when `trusted` is false (a key from our own cache skips it).
pub fn key_from_bytes<K: CanonicalDeserialize>(
    bytes: &[u8],
    trusted: bool,
) -> Result<K, ProofError> {
    let validate = if trusted { Validate::No } else { Validate::Yes };
    Ok(K::deserialize_with_mode(bytes, Compress::No, validate)?)
}
