//! Groth16 over BN254 for the batch circuit: setup, proving, verifying, and the keys' byte
//! form.
//!
//! Owns the choice of proof system parameters; nothing here touches a disk (the prover crate
//! stores keys).
//!
//! Proving does not go through arkworks' generic `prove`, which rebuilds the constraint
//! matrices for every proof and spends a third of its time, on one core, inlining linear
//! combinations. The matrices depend only on the shape: [`BatchR1cs`] builds them once, and a
//! proof then synthesizes the circuit in witness-only mode (no constraint is stored) and runs
//! the QAP reduction and the multi-scalar multiplications on those matrices. In that mode the
//! costly gadgets take native fast paths (`crate::witness_only`) that build no linear
//! combinations, several times faster than building and dropping them. A false statement
//! is not caught while proving (there are no constraints to check): it gives a proof that
//! does not verify, which is why callers verify before publishing. The MSMs are
//! [`crate::msm::msm`] (batch-affine Pippenger), about twice as fast here as arkworks' own.
//!
//! A development setup derives its secret randomness from a public seed, so anyone can forge
//! proofs for it: it exists for tests and devnets only, and its keys say so in
//! [`KeyOrigin`]. A production setup comes from a ceremony and is loaded as bytes.

use crate::batch::{BatchCircuit, BatchInput, BatchShape};
use crate::msm::msm;
use ark_bn254::Bn254;
use ark_ec::CurveGroup;
use ark_ff::{PrimeField, UniformRand};
use ark_groth16::Groth16;
use ark_relations::r1cs::{
    ConstraintMatrices, ConstraintSynthesizer, ConstraintSystem, OptimizationGoal, SynthesisError,
    SynthesisMode,
};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize, Compress, Validate};
use ark_snark::SNARK;
use ark_std::rand::{CryptoRng, RngCore, SeedableRng, rngs::StdRng};
use causeway_primitives::Fr;
use std::time::{Duration, Instant};

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
    #[error(
        "the proving key is not this circuit's: it has {key_variables} variables and \
         {key_h} quotient terms, the circuit {circuit_variables} and {circuit_h}"
    )]
    KeyMismatch {
        key_variables: usize,
        key_h: usize,
        circuit_variables: usize,
        circuit_h: usize,
    },
    #[error(
        "the witness has {got} variables and {constraints} constraints; the shape's matrices {expected} and {expected_constraints}"
    )]
    WitnessShape {
        got: usize,
        constraints: usize,
        expected: usize,
        expected_constraints: usize,
    },
}

/// A circuit-specific development setup for `shape`, all randomness from `seed`.
/// NOT FOR PRODUCTION: whoever knows the seed can prove false statements.
pub fn dev_setup(shape: BatchShape, seed: u64) -> Result<ProvingKey, ProofError> {
    let mut rng = StdRng::seed_from_u64(seed);
    let (pk, _) =
        Groth16::<Bn254>::circuit_specific_setup(BatchCircuit::of_shape(shape), &mut rng)?;
    Ok(pk)
}

/// The constraint matrices of one batch shape, as the setup saw them (inlined for fewest
/// constraints): what every proof of the shape reuses.
pub struct BatchR1cs {
    shape: BatchShape,
    matrices: ConstraintMatrices<Fr>,
}

impl std::fmt::Debug for BatchR1cs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchR1cs")
            .field("shape", &self.shape)
            .field("constraints", &self.matrices.num_constraints)
            .finish_non_exhaustive()
    }
}

impl BatchR1cs {
    /// Synthesizes the circuit of `shape` once, without values (seconds per 100k constraints,
    /// on one core).
    pub fn new(shape: BatchShape) -> Result<Self, ProofError> {
        let cs = ConstraintSystem::<Fr>::new_ref();
        cs.set_optimization_goal(OptimizationGoal::Constraints);
        cs.set_mode(SynthesisMode::Setup);
        BatchCircuit::of_shape(shape).generate_constraints(cs.clone())?;
        cs.finalize();
        let matrices = cs.to_matrices().ok_or(SynthesisError::MissingCS)?;
        Ok(Self { shape, matrices })
    }

    pub fn shape(&self) -> BatchShape {
        self.shape
    }

    pub fn constraints(&self) -> usize {
        self.matrices.num_constraints
    }

    /// Variables, the constant 1 and the public input included.
    pub fn variables(&self) -> usize {
        self.matrices.num_instance_variables + self.matrices.num_witness_variables
    }

    /// Size of the evaluation domain of the QAP: constraints and public inputs, rounded up to
    /// a power of two. Proving time has a step at each power.
    pub fn domain_size(&self) -> usize {
        (self.matrices.num_constraints + self.matrices.num_instance_variables).next_power_of_two()
    }

    /// Whether `pk` was made for these matrices, as far as its sizes tell: a key of another
    /// shape, or of an older circuit, fails here instead of giving proofs that do not verify.
    pub fn check_key(&self, pk: &ProvingKey) -> Result<(), ProofError> {
        let circuit_h = self.domain_size() - 1;
        if pk.a_query.len() != self.variables() || pk.h_query.len() != circuit_h {
            return Err(ProofError::KeyMismatch {
                key_variables: pk.a_query.len(),
                key_h: pk.h_query.len(),
                circuit_variables: self.variables(),
                circuit_h,
            });
        }
        Ok(())
    }
}

/// Where a proof's time went.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProveTimings {
    /// Synthesizing the circuit for its witness (one core).
    pub witness: Duration,
    /// The QAP witness map: seven FFTs over the domain (all cores).
    pub fft: Duration,
    /// The five multi-scalar multiplications, B in G2 the dearest (all cores).
    pub msm: Duration,
}

impl ProveTimings {
    pub fn total(&self) -> Duration {
        self.witness + self.fft + self.msm
    }
}

/// A proof that `input` is a valid batch; its public input is `input.commitment()`.
/// `r1cs` must be the shape's (see [`BatchR1cs::check_key`] for the key).
pub fn prove<R: RngCore + CryptoRng>(
    pk: &ProvingKey,
    r1cs: &BatchR1cs,
    input: &BatchInput,
    rng: &mut R,
) -> Result<Proof, ProofError> {
    prove_timed(pk, r1cs, input, rng).map(|(proof, _)| proof)
}

/// [`prove`], reporting where the time went.
pub fn prove_timed<R: RngCore + CryptoRng>(
    pk: &ProvingKey,
    r1cs: &BatchR1cs,
    input: &BatchInput,
    rng: &mut R,
) -> Result<(Proof, ProveTimings), ProofError> {
    let mut timings = ProveTimings::default();
    let started = Instant::now();
    let full_assignment = witness(r1cs, input)?;
    timings.witness = started.elapsed();

    let started = Instant::now();
    let m = &r1cs.matrices;
    let h = crate::qap::witness_map(m, &full_assignment)?;
    timings.fft = started.elapsed();

    let started = Instant::now();
    let r = Fr::rand(rng);
    let s = Fr::rand(rng);
    let proof = msm_proof(pk, r, s, &h, &full_assignment, m.num_instance_variables);
    timings.msm = started.elapsed();
    Ok((proof, timings))
}

/// The full assignment (1, public input, witnesses) of `input`, from a witness-only synthesis.
fn witness(r1cs: &BatchR1cs, input: &BatchInput) -> Result<Vec<Fr>, ProofError> {
    if input.shape != r1cs.shape {
        return Err(SynthesisError::Unsatisfiable.into());
    }
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    cs.set_mode(SynthesisMode::Prove {
        construct_matrices: false,
    });
    // The shape's matrices tell how many witnesses there will be: one allocation instead of
    // a doubling series (each a copy of everything so far).
    if let Some(mut inner) = cs.borrow_mut() {
        inner
            .witness_assignment
            .reserve_exact(r1cs.matrices.num_witness_variables);
    }
    crate::batch::synthesize(input, cs.clone(), &mut Default::default())?;
    let mut inner = cs.borrow_mut().ok_or(SynthesisError::MissingCS)?;
    let m = &r1cs.matrices;
    let got = inner.num_instance_variables + inner.num_witness_variables;
    if inner.num_instance_variables != m.num_instance_variables
        || got != r1cs.variables()
        || inner.num_constraints != m.num_constraints
    {
        return Err(ProofError::WitnessShape {
            got,
            constraints: inner.num_constraints,
            expected: r1cs.variables(),
            expected_constraints: m.num_constraints,
        });
    }
    let mut full = std::mem::take(&mut inner.instance_assignment);
    full.append(&mut inner.witness_assignment);
    Ok(full)
}

/// Groth16's prover over a QAP witness `h` and the full assignment (`num_instance` of it
/// public, the constant 1 first), with blinding `r`, `s`:
/// A = α + Σ aᵢ·uᵢ(τ) + r·δ, B = β + Σ aᵢ·vᵢ(τ) + s·δ (in G2, and in G1 for C),
/// C = Σ_witness aᵢ·Lᵢ + Σ hⱼ·Hⱼ + s·A + r·B₁ − r·s·δ.
fn msm_proof(
    pk: &ProvingKey,
    r: Fr,
    s: Fr,
    h: &[Fr],
    full_assignment: &[Fr],
    num_instance: usize,
) -> Proof {
    use rayon::prelude::*;
    let scalars: Vec<_> = full_assignment
        .par_iter()
        .map(|x| x.into_bigint())
        .collect();
    // The queries skip the constant's own term: it is added as the query's first point.
    let (a_first, a_rest) = (pk.a_query[0], &pk.a_query[1..]);
    let (b1_first, b1_rest) = (pk.b_g1_query[0], &pk.b_g1_query[1..]);
    let (b2_first, b2_rest) = (pk.b_g2_query[0], &pk.b_g2_query[1..]);
    let variables = &scalars[1..];

    let g_a = msm(a_rest, variables) + a_first + pk.vk.alpha_g1 + pk.delta_g1 * r;
    let g1_b = msm(b1_rest, variables) + b1_first + pk.beta_g1 + pk.delta_g1 * s;
    let g2_b = msm(b2_rest, variables) + b2_first + pk.vk.beta_g2 + pk.vk.delta_g2 * s;
    let witness = &scalars[num_instance..];
    let l = msm(&pk.l_query, witness);
    let h_scalars: Vec<_> = h.par_iter().map(|x| x.into_bigint()).collect();
    let h_acc = msm(&pk.h_query, &h_scalars);
    let g_c = g_a * s + g1_b * r - pk.delta_g1 * (r * s) + l + h_acc;
    Proof {
        a: g_a.into_affine(),
        b: g2_b.into_affine(),
        c: g_c.into_affine(),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use causeway_primitives::{Address, Domain};

    const DOMAIN: Domain = Domain {
        chain_id: 31337,
        contract: Address::repeat_byte(0xcc),
    };

    /// The witness-only prover is Groth16 itself: with the same randomness it gives arkworks'
    /// own proof, byte for byte; it refuses a key or an input of another shape; and a false
    /// statement gives a proof that does not verify.
    #[test]
    fn the_matrix_prover_is_arkworks_groth16_and_refuses_what_does_not_fit() {
        let shape = BatchShape::new(1, 1);
        let pk = dev_setup(shape, 5).unwrap();
        let r1cs = BatchR1cs::new(shape).unwrap();
        r1cs.check_key(&pk).unwrap();
        let input = BatchInput::empty(shape, DOMAIN);

        let ours = prove(&pk, &r1cs, &input, &mut StdRng::seed_from_u64(9)).unwrap();
        let theirs = Groth16::<Bn254>::prove(
            &pk,
            BatchCircuit {
                input: input.clone(),
            },
            &mut StdRng::seed_from_u64(9),
        )
        .unwrap();
        assert_eq!(ours, theirs);
        assert!(verify(&pk.vk, input.commitment(), &ours).unwrap());

        let other = BatchR1cs::new(BatchShape::new(2, 1)).unwrap();
        assert!(matches!(
            other.check_key(&pk),
            Err(ProofError::KeyMismatch { .. })
        ));
        let wide = BatchInput::empty(BatchShape::new(2, 1), DOMAIN);
        assert!(prove(&pk, &r1cs, &wide, &mut StdRng::seed_from_u64(9)).is_err());

        let mut false_root = input.clone();
        false_root.new_root += Fr::from(1u64);
        let forged = prove(&pk, &r1cs, &false_root, &mut StdRng::seed_from_u64(9)).unwrap();
        assert!(!verify(&pk.vk, false_root.commitment(), &forged).unwrap());
        assert!(!verify(&pk.vk, input.commitment(), &forged).unwrap());
    }
}
