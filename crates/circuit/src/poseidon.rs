//! circomlib's Poseidon as an R1CS gadget: the in-circuit twin of
//! [`causeway_crypto::poseidon::hash`].
//!
//! Owns: evaluating the permutation over [`FpVar`]s with circomlib's textbook parameters
//! ([`causeway_crypto::poseidon::reference_params`]), for 1..=16 inputs.
//!
//! Invariants:
//! - For every input vector, the gadget's output equals the native hash (tests check it
//!   against random inputs for every width, and against a circomlib vector).
//! - Only S-boxes cost constraints: three per S-box on a non-constant lane (`x^2`, `x^4`,
//!   `x^5`). Round constants and the MDS layer are folded into linear combinations, so a
//!   width-`t` hash costs at most `3 * (8 * t + R_P)` constraints, minus 3 because lane 0
//!   starts as the constant 0 and its first S-box is computed outside the circuit.
//!   Width 3/5/6 cost 240/297/321 (asserted by the tests).

use ark_r1cs_std::fields::FieldVar;
use ark_r1cs_std::fields::fp::{AllocatedFp, FpVar};
use ark_relations::r1cs::SynthesisError;
use causeway_crypto::poseidon::{MAX_INPUTS, reference_params};
use causeway_primitives::Fr;

/// Poseidon of `inputs` as circomlib computes it (state `[0, inputs...]`, output lane 0).
///
/// Constant inputs are folded in at synthesis time and cost nothing.
///
/// # Errors
/// [`SynthesisError::Unsatisfiable`] if `inputs` is empty or longer than 16 (no such
/// Poseidon instance exists); otherwise only what the constraint system itself reports.
pub fn poseidon_gadget(inputs: &[FpVar<Fr>]) -> Result<FpVar<Fr>, SynthesisError> {
    if inputs.is_empty() || inputs.len() > MAX_INPUTS {
        return Err(SynthesisError::Unsatisfiable);
    }
    let params = reference_params(inputs.len());
    let t = params.t;
    let half_full = params.full_rounds / 2;
    let rounds = params.full_rounds + params.partial_rounds;

    let mut state: Vec<FpVar<Fr>> = Vec::with_capacity(t);
    state.push(FpVar::zero());
    state.extend_from_slice(inputs);

    for (round, constants) in params
        .round_constants
        .chunks_exact(t)
        .enumerate()
        .take(rounds)
    {
        for (lane, c) in state.iter_mut().zip(constants) {
            *lane += *c;
        }
        let full = round < half_full || round >= half_full + params.partial_rounds;
        if full {
            for lane in &mut state {
                *lane = pow5(lane)?;
            }
        } else {
            state[0] = pow5(&state[0])?;
        }
        state = params
            .mds
            .iter()
            .map(|row| linear_combination(row, &state))
            .collect();
    }
    Ok(state.swap_remove(0))
}

/// `x^5` in three constraints (none if `x` is a constant): `x^2`, `x^4 = (x^2)^2`, `x^4 * x`.
fn pow5(x: &FpVar<Fr>) -> Result<FpVar<Fr>, SynthesisError> {
    let x2 = x.square()?;
    let x4 = x2.square()?;
    Ok(x4 * x)
}

/// `sum_j coeffs[j] * vars[j]` as a single new linear combination: no constraint, and one
/// symbolic variable instead of one per intermediate sum, which keeps the constraint
/// system's LC table (and later inlining) small.
fn linear_combination(coeffs: &[Fr], vars: &[FpVar<Fr>]) -> FpVar<Fr> {
    let mut constant = Fr::from(0u64);
    let mut terms: Vec<AllocatedFp<Fr>> = Vec::with_capacity(vars.len());
    for (c, v) in coeffs.iter().zip(vars) {
        match v {
            FpVar::Constant(k) => constant += *c * k,
            FpVar::Var(v) => terms.push(v.mul_constant(*c)),
        }
    }
    if terms.is_empty() {
        FpVar::Constant(constant)
    } else {
        FpVar::Var(AllocatedFp::add_many(terms.iter())) + constant
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::{PrimeField, UniformRand};
    use ark_r1cs_std::R1CSVar;
    use ark_r1cs_std::alloc::AllocVar;
    use ark_relations::r1cs::{ConstraintSystem, ConstraintSystemRef};
    use causeway_crypto::poseidon::hash;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn witnesses(cs: &ConstraintSystemRef<Fr>, values: &[Fr]) -> Vec<FpVar<Fr>> {
        values
            .iter()
            .map(|v| FpVar::new_witness(cs.clone(), || Ok(*v)).unwrap())
            .collect()
    }

    #[test]
    fn matches_native_hash_for_every_width() {
        let mut rng = StdRng::seed_from_u64(1);
        for n in 1..=MAX_INPUTS {
            let cs = ConstraintSystem::<Fr>::new_ref();
            let values: Vec<Fr> = (0..n).map(|_| Fr::rand(&mut rng)).collect();
            let out = poseidon_gadget(&witnesses(&cs, &values)).unwrap();
            assert_eq!(out.value().unwrap(), hash(&values), "{n} inputs");
            assert!(cs.is_satisfied().unwrap(), "{n} inputs");
        }
    }

    #[test]
    fn matches_circomlib_vector() {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let out = poseidon_gadget(&witnesses(&cs, &[Fr::from(1u64), Fr::from(2u64)])).unwrap();
        let expected = Fr::from_be_bytes_mod_order(
            &hex::decode("115cc0f5e7d690413df64c6b9662e9cf2a3617f2743245519e19607a4417189a")
                .unwrap(),
        );
        assert_eq!(out.value().unwrap(), expected);
        assert!(cs.is_satisfied().unwrap());
    }

    #[test]
    fn constant_inputs_cost_nothing_and_agree() {
        let values = [Fr::from(7u64), Fr::from(8u64), Fr::from(9u64)];
        let out = poseidon_gadget(&values.map(FpVar::Constant)).unwrap();
        assert!(out.is_constant());
        assert_eq!(out.value().unwrap(), hash(&values));
    }

    #[test]
    fn refuses_unsupported_arity() {
        assert!(poseidon_gadget(&[]).is_err());
        assert!(poseidon_gadget(&vec![FpVar::zero(); MAX_INPUTS + 1]).is_err());
    }

    #[test]
    fn constraint_counts() {
        // (inputs, width, expected): 3 * (8 * t + R_P) - 3 for the constant lane 0.
        for (inputs, expected) in [(2, 240), (4, 297), (5, 321)] {
            let cs = ConstraintSystem::<Fr>::new_ref();
            let values = vec![Fr::from(3u64); inputs];
            let _hash = poseidon_gadget(&witnesses(&cs, &values)).unwrap();
            println!(
                "Poseidon width {}: {} constraints",
                inputs + 1,
                cs.num_constraints()
            );
            assert_eq!(cs.num_constraints(), expected, "width {}", inputs + 1);
        }
    }
}
