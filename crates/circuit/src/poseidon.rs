//! circomlib's Poseidon as an R1CS gadget: the in-circuit twin of
//! [`causeway_crypto::poseidon::hash`].
//!
//! Owns: evaluating the permutation over [`FpVar`]s with circomlib's textbook parameters
//! ([`causeway_crypto::poseidon::reference_params`]), for 1..=16 inputs; and, when the
//! constraint system builds no matrices, its native fast path (`crate::witness_only`): the
//! permutation on values, leaving the same S-box witnesses.
//!
//! Invariants:
//! - For every input vector, the gadget's output equals the native hash (tests check it
//!   against random inputs for every width, and against a circomlib vector).
//! - Only S-boxes cost constraints: three per S-box on a non-constant lane (`x^2`, `x^4`,
//!   `x^5`). Round constants and the MDS layer are folded into linear combinations, so a
//!   width-`t` hash costs at most `3 * (8 * t + R_P)` constraints, minus 3 because lane 0
//!   starts as the constant 0 and its first S-box is computed outside the circuit.
//!   Width 3/5/6 cost 240/297/321 (asserted by the tests).

use crate::witness_only::WitnessOnly;
use ark_ff::AdditiveGroup;
use ark_r1cs_std::R1CSVar;
use ark_r1cs_std::fields::FieldVar;
use ark_r1cs_std::fields::fp::{AllocatedFp, FpVar};
use ark_relations::r1cs::SynthesisError;
use causeway_crypto::poseidon::{MAX_INPUTS, reference_params, try_hash_traced};
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
    if let Some(hash) = witness_only(inputs)? {
        return Ok(hash);
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

/// [`poseidon_gadget`] when the constraint system builds no matrices ([`WitnessOnly`]): the
/// native permutation ([`try_hash_traced`]), which tells the powers `x^2`, `x^4`, `x^5` of
/// every S-box of the textbook rounds; each S-box on a non-constant lane leaves them as
/// witnesses, in the order [`pow5`] allocates them.
///
/// A lane is constant exactly when the full gadget's is: lane 0 (the constant 0) and constant
/// inputs, in round 0 only. The first linear layer makes every lane a variable, because some
/// input is one (else there would be no constraint system here) and [`linear_combination`]
/// makes a variable from any variable term, whatever its coefficient. So lane 0's first
/// S-box, and a constant input's, cost nothing here either.
///
/// `None` when the fast path does not apply (matrices are built, every input is a constant)
/// or an input has no value: the full gadget then runs as before.
fn witness_only(inputs: &[FpVar<Fr>]) -> Result<Option<FpVar<Fr>>, SynthesisError> {
    let cs = inputs.cs();
    let Some(mut system) = WitnessOnly::of(&cs) else {
        return Ok(None);
    };
    let mut values = [Fr::ZERO; MAX_INPUTS];
    let mut variable = [false; MAX_INPUTS + 1];
    for (i, input) in inputs.iter().enumerate() {
        let Some(value) = system.value(input) else {
            return Ok(None);
        };
        values[i] = value;
        variable[i + 1] = !input.is_constant();
    }
    let mut allocated = Ok(());
    let hash = try_hash_traced(&values[..inputs.len()], |round, lane, powers| {
        if allocated.is_ok() && (round > 0 || variable[lane]) {
            allocated = powers
                .into_iter()
                .try_for_each(|power| system.product(power).map(drop));
        }
    })
    .map_err(|_| SynthesisError::Unsatisfiable)?;
    allocated?;
    system.output(hash).map(Some)
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

    /// Witness-only synthesis gives the full gadget's witness, for every width, with every
    /// input a variable and with constant inputs mixed in (including next to lane 0), and
    /// makes one linear combination (its output); all-constant inputs fold in both modes.
    #[test]
    fn witness_only_synthesis_matches_full_synthesis() {
        use crate::witness_only::both_modes::compare;
        let mut rng = StdRng::seed_from_u64(11);
        for n in 1..=MAX_INPUTS {
            let values: Vec<Fr> = (0..n).map(|_| Fr::rand(&mut rng)).collect();
            for constant in [
                |_: usize| false,
                |i: usize| i == 0,
                |i: usize| i % 3 == 1,
                |_: usize| true,
            ] {
                let (made, satisfied) = compare(
                    |cs| {
                        values
                            .iter()
                            .enumerate()
                            .map(|(i, v)| {
                                if constant(i) {
                                    FpVar::Constant(*v)
                                } else {
                                    FpVar::new_witness(cs.clone(), || Ok(*v)).unwrap()
                                }
                            })
                            .collect::<Vec<_>>()
                    },
                    |inputs| {
                        let out = poseidon_gadget(&inputs).unwrap();
                        assert_eq!(out.value().unwrap(), hash(&values));
                        vec![out.value().unwrap()]
                    },
                );
                assert!(satisfied, "{n} inputs");
                let all_constant = (0..n).all(constant);
                assert_eq!(made, usize::from(!all_constant), "{n} inputs");
            }
        }
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
