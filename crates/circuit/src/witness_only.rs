//! Witness-only synthesis: the native fast path a gadget may take when the constraint system
//! keeps values but builds no matrices (`SynthesisMode::Prove { construct_matrices: false }`),
//! which is how the prover synthesizes ([`crate::groth16`]: the matrices come from setup).
//!
//! Owns: deciding when a fast path applies ([`WitnessOnly::of`]), and the only marks a fast
//! path leaves in the constraint system: a witness with its value together with the one
//! constraint that defines it ([`WitnessOnly::product`]), a constraint on its own
//! ([`WitnessOnly::constraint`]), and a value-carrying output variable
//! ([`WitnessOnly::output`]), plus [`weighted_bits`], the fast path of a sum of bits.
//!
//! Why it is sound to skip the linear combinations: in this mode arkworks' `enforce_constraint`
//! drops its three linear combinations unread (it counts the constraint and records a tracing
//! span for `which_is_unsatisfied`, which cannot run without matrices), and `finalize`'s
//! inlining and outlining return early. A variable's linear combination is then only ever
//! evaluated, for its value (`assigned_value`), never turned into a matrix row. Any linear
//! combination with the right value is therefore as good as the gadget's own, and a fast
//! path's output is the constant `value * 1`, one symbolic variable instead of the hundreds
//! the full gadget builds; and a constraint is counted, not enforced.
//!
//! Invariant, which every fast path must keep and the tests check per gadget and for whole
//! batches (`tests/witness.rs`): it allocates exactly the witness variables the full gadget
//! allocates, in the same order and with the same values, and counts the same number of
//! constraints. The proving key's matrices were built by the full gadgets, so a single
//! variable out of place gives proofs that do not verify.

use ark_ff::{AdditiveGroup, Field};
use ark_r1cs_std::R1CSVar;
use ark_r1cs_std::boolean::Boolean;
use ark_r1cs_std::fields::fp::{AllocatedFp, FpVar};
use ark_relations::r1cs::{
    ConstraintSystem, ConstraintSystemRef, LinearCombination, SynthesisError, SynthesisMode,
    Variable,
};
use causeway_primitives::Fr;
use std::cell::RefMut;

/// A constraint system in witness-only mode, borrowed for the duration of one fast path.
///
/// While it is held nothing else may touch the constraint system (it is a `RefCell` borrow):
/// a fast path reads its input values first, then borrows.
pub(crate) struct WitnessOnly<'a> {
    cs: &'a ConstraintSystemRef<Fr>,
    inner: RefMut<'a, ConstraintSystem<Fr>>,
}

/// Whether `cs` stores values and builds no matrices: false in setup, when matrices are built,
/// and for the empty `ConstraintSystemRef::None` (constants only), where gadgets take their
/// full path.
pub(crate) fn applies(cs: &ConstraintSystemRef<Fr>) -> bool {
    cs.borrow().is_some_and(|inner| {
        inner.mode
            == SynthesisMode::Prove {
                construct_matrices: false,
            }
    })
}

impl<'a> WitnessOnly<'a> {
    /// Counts one constraint whose linear combinations a fast path did not build (see
    /// [`Self::product`] for why counting is all there is to do).
    #[inline]
    pub fn constraint(&mut self) {
        self.inner.num_constraints += 1;
    }

    /// `Some` if the fast paths apply to `cs` ([`applies`]).
    pub fn of(cs: &'a ConstraintSystemRef<Fr>) -> Option<Self> {
        if !applies(cs) {
            return None;
        }
        Some(Self {
            cs,
            inner: cs.borrow_mut()?,
        })
    }

    /// The value of `x`, a constant or a variable of this constraint system; `None` if it has
    /// none (a fast path then leaves the work to the full gadget, which fails the same way).
    #[inline]
    pub fn value(&self, x: &FpVar<Fr>) -> Option<Fr> {
        match x {
            FpVar::Constant(c) => Some(*c),
            FpVar::Var(v) => self.inner.assigned_value(v.variable),
        }
    }

    /// The value of `b`, a constant or a boolean variable of this constraint system; `None`
    /// if it has none, or one that is not 0 or 1.
    #[inline]
    pub fn bit(&self, b: &Boolean<Fr>) -> Option<bool> {
        match b {
            Boolean::Constant(c) => Some(*c),
            Boolean::Var(v) => {
                let value = self.inner.assigned_value(v.variable())?;
                if value == Fr::ZERO {
                    Some(false)
                } else if value == Fr::ONE {
                    Some(true)
                } else {
                    None
                }
            }
        }
    }

    /// A new witness holding `value`, and the constraint that defines it (`a * b = value` in
    /// the full gadget): what `AllocatedFp::mul` and every other one-constraint witness
    /// leave, in the same order. Returns the witness, for a fast path whose output it is.
    ///
    /// The constraint is counted directly. In this mode arkworks' `enforce_constraint` does
    /// nothing else that a proof sees: it drops the linear combinations and records the
    /// current tracing span, for `which_is_unsatisfied`, which needs the matrices this mode
    /// does not build. That record, a growing vector of a million entries, was a tenth of
    /// the fast paths' time.
    #[inline]
    pub fn product(&mut self, value: Fr) -> Result<Variable, SynthesisError> {
        let variable = self.inner.new_witness_variable(|| Ok(value))?;
        self.constraint();
        Ok(variable)
    }

    /// `variable`, a witness from [`Self::product`] holding `value`, as a field variable:
    /// exactly the variable the full gadget returns when its output is such a witness.
    pub fn var(&self, variable: Variable, value: Fr) -> FpVar<Fr> {
        FpVar::Var(AllocatedFp::new(Some(value), variable, self.cs.clone()))
    }

    /// A variable carrying `value`, as the output of a fast path whose full gadget returns a
    /// linear combination: the constant linear combination `value * 1` (what arkworks' own
    /// `AllocatedFp::new_constant` makes), which evaluates to the value of the full gadget's
    /// (see the module docs for why nothing else is read from it). No witness, no
    /// constraint.
    pub fn output(&mut self, value: Fr) -> Result<FpVar<Fr>, SynthesisError> {
        let variable = self
            .inner
            .new_lc(LinearCombination(vec![(value, Variable::One)]))?;
        Ok(self.var(variable, value))
    }
}

/// `sum_i weights[i] * bits[i]` as a fast path's output ([`WitnessOnly::output`]): in the full
/// path a free linear combination (no witness, no constraint), built term by term, here one
/// sum of values. `None` when the fast path does not apply, when every bit is a constant (the
/// full path folds those into a constant, for free) or when a bit has no value; then the
/// caller takes its full path, which allocates nothing either, so an early `None` (even after
/// part of the sum) leaves no trace in the assignment.
pub(crate) fn weighted_bits(
    bits: &[Boolean<Fr>],
    weights: impl IntoIterator<Item = Fr>,
) -> Option<FpVar<Fr>> {
    let cs = bits.cs();
    let mut system = WitnessOnly::of(&cs)?;
    let mut sum = Fr::ZERO;
    for (bit, weight) in bits.iter().zip(weights) {
        if system.bit(bit)? {
            sum += weight;
        }
    }
    system.output(sum).ok()
}

/// Test support for the invariant above, used by each fast-pathed gadget's tests.
#[cfg(test)]
pub(crate) mod both_modes {
    use super::*;
    use ark_relations::r1cs::ConstraintSystem;

    /// Synthesizes `gadget` over inputs made by `inputs`, once with matrices (the full
    /// gadgets) and once witness-only (their fast paths), each on a fresh system. Asserts that
    /// both leave the same instance and witness assignments and the same constraint count,
    /// and that the gadget returns the same values. Returns how many symbolic linear
    /// combinations `gadget` made in witness-only mode (a fast path makes none or one per
    /// output, the full gadgets many, so the caller can tell that the fast path was taken),
    /// and whether the full system is satisfied.
    pub fn compare<I>(
        inputs: impl Fn(&ConstraintSystemRef<Fr>) -> I,
        gadget: impl Fn(I) -> Vec<Fr>,
    ) -> (usize, bool) {
        let run = |construct_matrices: bool| {
            let cs = ConstraintSystem::<Fr>::new_ref();
            cs.set_mode(SynthesisMode::Prove { construct_matrices });
            let input = inputs(&cs);
            let before = cs.borrow().unwrap().num_linear_combinations;
            let outputs = gadget(input);
            let made = cs.borrow().unwrap().num_linear_combinations - before;
            (cs, outputs, made)
        };
        let (full, full_outputs, _) = run(true);
        let (fast, fast_outputs, made) = run(false);
        let satisfied = full.is_satisfied().unwrap();
        let (full, fast) = (full.borrow().unwrap(), fast.borrow().unwrap());
        assert_eq!(fast.num_constraints, full.num_constraints, "constraints");
        assert_eq!(
            fast.instance_assignment, full.instance_assignment,
            "instance"
        );
        assert_eq!(fast.witness_assignment, full.witness_assignment, "witness");
        assert_eq!(fast_outputs, full_outputs, "outputs");
        (made, satisfied)
    }
}
