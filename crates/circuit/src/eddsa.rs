//! EdDSA-Poseidon verification over Baby Jubjub in R1CS: the in-circuit twin of
//! [`PublicKey::verify`](causeway_crypto::eddsa::PublicKey::verify).
//!
//! Owns: the signature witnesses ([`SignatureVar`]) and [`verify_eddsa_gadget`], which
//! leaves the constraint system satisfiable exactly when the native verifier accepts:
//! - `A` and `R8` are on the curve (checked when allocated as [`PointVar`] witnesses);
//! - `8A` is not the identity, enforced as `x(8A) != 0` (one constraint, an inverse
//!   witness). That is equivalent: the only curve points with `x = 0` are `(0, 1)` and
//!   `(0, -1)` (then `y^2 = 1`), and `8A` lies in the subgroup of odd prime order `l` (the
//!   curve has order `8l`), which does not contain the point `(0, -1)` of order 2;
//! - `S < l`: `S` is given as [`S_BITS`] little-endian bits, compared with the constant
//!   `l - 1` ([`enforce_le_constant`]), so a non-canonical `S + l` is refused;
//! - `S * Base8 == R8 + hm * (8A)` with `hm = Poseidon(R8.x, R8.y, A.x, A.y, msg)`. `hm` is
//!   decomposed into its *canonical* 254 bits (integer below the field modulus `p`): with
//!   non-unique bits a prover could use `hm + p`, a different scalar modulo `l`. The native
//!   verifier reduces `hm` mod `l`; `8A` has order `l`, so the full integer gives the same
//!   point.
//!
//! Costs (asserted by the tests `constraint_breakdown` and
//! `constraint_count_of_one_verification`): [`VERIFY_CONSTRAINTS`] = 4,450 per call, namely
//! `S < l` 169, `8A` 15 + 1 for `x(8A) != 0`, Poseidon 321, canonical `hm` bits 397
//! (254 booleans + 1 recomposition + 142 for `<= p - 1`), `S * Base8` 750, `hm * 8A` 2,789,
//! `R8 + ...` 6, final equality 2. Allocating the witnesses adds 3 per point and one per bit of
//! `S` (258 for `A`, `R8`, `S`).

use crate::babyjubjub::PointVar;
use crate::poseidon::poseidon_gadget;
use crate::witness_only;
use ark_ff::{AdditiveGroup, BigInt, BigInteger, Field, PrimeField};
use ark_r1cs_std::R1CSVar;
use ark_r1cs_std::alloc::AllocVar;
use ark_r1cs_std::boolean::Boolean;
use ark_r1cs_std::eq::EqGadget;
use ark_r1cs_std::fields::FieldVar;
use ark_r1cs_std::fields::fp::FpVar;
use ark_relations::r1cs::{ConstraintSystemRef, SynthesisError};
use causeway_crypto::babyjubjub::{BASE8, SUBGROUP_ORDER};
use causeway_crypto::eddsa::Signature;
use causeway_primitives::Fr;

/// The number of bits `S` is given as: `l < 2^252`.
pub const S_BITS: usize = 252;
/// The number of bits of a canonical field element: `p < 2^254`.
const FIELD_BITS: usize = 254;
/// Constraints of one [`verify_eddsa_gadget`] call (excluding the witnesses' allocation).
pub const VERIFY_CONSTRAINTS: usize = 4_450;

/// A signature `(R8, S)` as witnesses: `R8` on the curve, `S` as [`S_BITS`] booleans.
#[derive(Debug, Clone)]
pub struct SignatureVar {
    pub r8: PointVar,
    pub s_bits: Vec<Boolean<Fr>>,
}

impl SignatureVar {
    /// Allocates `sig` (`None` only during setup): 3 + [`S_BITS`] constraints.
    pub fn new_witness(
        cs: ConstraintSystemRef<Fr>,
        sig: Option<&Signature>,
    ) -> Result<Self, SynthesisError> {
        let r8 = PointVar::new_witness(cs.clone(), sig.map(|s| s.r8))?;
        let s_bits = alloc_bits(cs, sig.map(|s| s.s.into_bigint()), S_BITS)?;
        Ok(SignatureVar { r8, s_bits })
    }
}

/// Allocates the `n` little-endian bits of `value` as booleans (one constraint each).
///
/// # Errors
/// [`SynthesisError::Unsatisfiable`] if `value` does not fit in `n` bits.
pub fn alloc_bits(
    cs: ConstraintSystemRef<Fr>,
    value: Option<BigInt<4>>,
    n: usize,
) -> Result<Vec<Boolean<Fr>>, SynthesisError> {
    let bits = value.map(|v| v.to_bits_le());
    if bits.as_ref().is_some_and(|b| b.iter().skip(n).any(|b| *b)) {
        return Err(SynthesisError::Unsatisfiable);
    }
    (0..n)
        .map(|i| {
            Boolean::new_witness(cs.clone(), || {
                bits.as_ref()
                    .map(|b| b[i])
                    .ok_or(SynthesisError::AssignmentMissing)
            })
        })
        .collect()
}

/// `sum(bits[i] * 2^i)`, a free linear combination.
pub(crate) fn le_value(bits: &[Boolean<Fr>]) -> FpVar<Fr> {
    let powers = std::iter::successors(Some(Fr::ONE), |p| Some(p.double()));
    if let Some(value) = witness_only::weighted_bits(bits, powers) {
        return value;
    }
    let mut acc = FpVar::zero();
    let mut power = Fr::from(1u64);
    for b in bits {
        acc += FpVar::from(b.clone()) * power;
        power += power;
    }
    acc
}

/// Enforces `sum(bits[i] * 2^i) <= c` for a constant `c`.
///
/// Scans from the most significant bit with `eq` = "all bits so far equal `c`'s": a run of
/// zeros in `c` costs one constraint (`eq * sum(run) = 0`; booleans sum without wrapping), a
/// run of `k` ones updates `eq` with `min(k, 3)` constraints (products, or an is-zero test of
/// `k - sum(run)`), minus one while `eq` is still the constant 1; the last run of ones costs
/// nothing.
pub fn enforce_le_constant(bits: &[Boolean<Fr>], c: &BigInt<4>) -> Result<(), SynthesisError> {
    enforce_le_constant_when(&Boolean::TRUE, bits, c)
}

/// [`enforce_le_constant`] when `enabled` is true; nothing when it is false. Starting the
/// "equal so far" flag at `enabled` instead of 1 switches every constraint off at once, for
/// one extra constraint at most.
pub fn enforce_le_constant_when(
    enabled: &Boolean<Fr>,
    bits: &[Boolean<Fr>],
    c: &BigInt<4>,
) -> Result<(), SynthesisError> {
    let n = bits.len();
    let c_bits = c.to_bits_le();
    if c_bits.iter().skip(n).any(|b| *b) {
        return Ok(()); // c >= 2^n: always true
    }
    let mut eq = FpVar::<Fr>::from(enabled.clone());
    let mut i = n;
    while i > 0 {
        let cbit = c_bits[i - 1];
        let mut j = i;
        while j > 0 && c_bits[j - 1] == cbit {
            j -= 1;
        }
        let run = &bits[j..i];
        let sum =
            witness_only::weighted_bits(run, std::iter::repeat(Fr::ONE)).unwrap_or_else(|| {
                run.iter()
                    .fold(FpVar::zero(), |acc, b| acc + FpVar::from(b.clone()))
            });
        if !cbit {
            eq.mul_equals(&sum, &FpVar::zero())?;
        } else if j > 0 {
            let k = run.len();
            let eq_constant = eq.is_constant();
            let products = k - usize::from(eq_constant);
            let via_zero = 2 + usize::from(!eq_constant);
            if products <= via_zero {
                for b in run {
                    eq = &eq * FpVar::from(b.clone());
                }
            } else {
                eq = &eq * is_zero(&(FpVar::constant(Fr::from(k as u64)) - sum))?;
            }
        }
        i = j;
    }
    Ok(())
}

/// `1` if `v == 0` else `0` (2 constraints: `v * inv = 1 - z`, `v * z = 0`).
pub(crate) fn is_zero(v: &FpVar<Fr>) -> Result<FpVar<Fr>, SynthesisError> {
    if let FpVar::Constant(c) = v {
        return Ok(FpVar::constant(if *c == Fr::ZERO {
            Fr::ONE
        } else {
            Fr::ZERO
        }));
    }
    let cs = v.cs();
    let z = FpVar::new_witness(cs.clone(), || {
        Ok(if v.value()? == Fr::ZERO {
            Fr::ONE
        } else {
            Fr::ZERO
        })
    })?;
    let inv = FpVar::new_witness(cs, || Ok(v.value()?.inverse().unwrap_or(Fr::ZERO)))?;
    v.mul_equals(&inv, &(FpVar::one() - &z))?;
    v.mul_equals(&z, &FpVar::zero())?;
    Ok(z)
}

/// The canonical 254 little-endian bits of `v` (integer below `p`): 254 booleanity
/// constraints, one for the recomposition and the comparison with `p - 1`.
pub fn canonical_bits(
    cs: ConstraintSystemRef<Fr>,
    v: &FpVar<Fr>,
) -> Result<Vec<Boolean<Fr>>, SynthesisError> {
    let value = v.value().ok().map(|x| x.into_bigint());
    let bits = alloc_bits(cs, value, FIELD_BITS)?;
    le_value(&bits).enforce_equal(v)?;
    let mut p_minus_one = Fr::MODULUS;
    p_minus_one.sub_with_borrow(&BigInt::from(1u64));
    enforce_le_constant(&bits, &p_minus_one)?;
    Ok(bits)
}

/// Enforces that `(r8, S)` is a valid signature by `pk` on `msg`, exactly as
/// [`PublicKey::verify`](causeway_crypto::eddsa::PublicKey::verify) accepts it (see the
/// module docs). `pk` and `r8` must be on the curve, which [`PointVar`]s are by
/// construction; `s_bits` are `S` little-endian, [`S_BITS`] booleans.
///
/// # Errors
/// [`SynthesisError::Unsatisfiable`] if `s_bits` is not [`S_BITS`] long; otherwise only
/// what the constraint system reports. A signature that does not verify makes the system
/// unsatisfied.
pub fn verify_eddsa_gadget(
    cs: ConstraintSystemRef<Fr>,
    pk: &PointVar,
    r8: &PointVar,
    s_bits: &[Boolean<Fr>],
    msg: &FpVar<Fr>,
) -> Result<(), SynthesisError> {
    verify_eddsa_gadget_when(cs, &Boolean::TRUE, pk, r8, s_bits, msg)
}

/// [`verify_eddsa_gadget`] whose final check `S * Base8 == R8 + hm * (8A)` only binds when
/// `enabled` is true (same cost). Every other check stays unconditional, so a slot without a
/// signature still needs well-formed values: a subgroup key, an on-curve `R8` and `S < l`
/// (the prover passes a fixed dummy).
pub fn verify_eddsa_gadget_when(
    cs: ConstraintSystemRef<Fr>,
    enabled: &Boolean<Fr>,
    pk: &PointVar,
    r8: &PointVar,
    s_bits: &[Boolean<Fr>],
    msg: &FpVar<Fr>,
) -> Result<(), SynthesisError> {
    if s_bits.len() != S_BITS {
        return Err(SynthesisError::Unsatisfiable);
    }
    // S < l.
    let mut l_minus_one = SUBGROUP_ORDER;
    l_minus_one.sub_with_borrow(&BigInt::from(1u64));
    enforce_le_constant(s_bits, &l_minus_one)?;

    // 8A, and 8A != identity via x(8A) != 0.
    let eight_a = pk.double()?.double()?.double()?;
    let x_inv = FpVar::new_witness(cs.clone(), || {
        Ok(eight_a.x.value()?.inverse().unwrap_or(Fr::ZERO))
    })?;
    eight_a.x.mul_equals(&x_inv, &FpVar::one())?;

    // hm, canonically decomposed.
    let hm = poseidon_gadget(&[
        r8.x.clone(),
        r8.y.clone(),
        pk.x.clone(),
        pk.y.clone(),
        msg.clone(),
    ])?;
    let hm_bits = canonical_bits(cs, &hm)?;

    // S * Base8 == R8 + hm * (8A).
    let lhs = PointVar::fixed_base_mul(&BASE8, s_bits)?;
    let rhs = r8.add(&eight_a.scalar_mul(&hm_bits)?)?;
    lhs.x.conditional_enforce_equal(&rhs.x, enabled)?;
    lhs.y.conditional_enforce_equal(&rhs.y, enabled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_relations::r1cs::ConstraintSystem;
    use causeway_crypto::babyjubjub::{Point, Scalar};
    use causeway_crypto::eddsa::{PrivateKey, PublicKey};

    fn keys() -> Vec<PrivateKey> {
        (1u8..=3).map(|i| PrivateKey::from_bytes([i; 32])).collect()
    }

    /// Allocates everything and verifies; returns (satisfied, constraints of the gadget).
    fn check_with(pk: Point, r8: Point, s: BigInt<4>, msg: Fr) -> (bool, usize) {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let pk = PointVar::new_witness(cs.clone(), Some(pk)).unwrap();
        let r8 = PointVar::new_witness(cs.clone(), Some(r8)).unwrap();
        let s_bits = alloc_bits(cs.clone(), Some(s), S_BITS).unwrap();
        let msg = FpVar::new_witness(cs.clone(), || Ok(msg)).unwrap();
        let before = cs.num_constraints();
        verify_eddsa_gadget(cs.clone(), &pk, &r8, &s_bits, &msg).unwrap();
        let used = cs.num_constraints() - before;
        (cs.is_satisfied().unwrap(), used)
    }

    fn check(pk: &PublicKey, sig: &Signature, msg: Fr) -> bool {
        check_with(pk.0, sig.r8, sig.s.into_bigint(), msg).0
    }

    /// Witness-only synthesis gives the full gadgets' witness for a whole verification (its
    /// Poseidon, scalar multiplications and bit decompositions all take their fast paths),
    /// and `le_value` of witness and constant bits is one linear combination there.
    #[test]
    fn witness_only_verification_matches_full_synthesis() {
        use crate::witness_only::both_modes::compare;
        let key = &keys()[0];
        let msg = Fr::from(1234u64);
        let sig = key.sign(msg);
        let pk = key.public_key().0;
        let (_, satisfied) = compare(
            |cs| {
                (
                    PointVar::new_witness(cs.clone(), Some(pk)).unwrap(),
                    PointVar::new_witness(cs.clone(), Some(sig.r8)).unwrap(),
                    alloc_bits(cs.clone(), Some(sig.s.into_bigint()), S_BITS).unwrap(),
                    FpVar::new_witness(cs.clone(), || Ok(msg)).unwrap(),
                    cs.clone(),
                )
            },
            |(pk, r8, s_bits, msg, cs)| {
                verify_eddsa_gadget(cs, &pk, &r8, &s_bits, &msg).unwrap();
                Vec::new()
            },
        );
        assert!(satisfied);

        let value = 0b1101_0110u64;
        let (made, satisfied) = compare(
            |cs| {
                let mut bits = alloc_bits(cs.clone(), Some(BigInt::from(value >> 2)), 6).unwrap();
                bits.insert(0, Boolean::FALSE);
                bits.insert(1, Boolean::TRUE);
                bits
            },
            |bits| vec![le_value(&bits).value().unwrap()],
        );
        assert!(satisfied);
        assert_eq!(made, 1);
        let (made, _) = compare(
            |_| vec![Boolean::TRUE, Boolean::FALSE, Boolean::TRUE],
            |bits| {
                let value = le_value(&bits);
                assert!(value.is_constant());
                vec![value.value().unwrap()]
            },
        );
        assert_eq!(made, 0);
    }

    #[test]
    fn valid_signatures_satisfy() {
        for key in keys() {
            let pk = key.public_key();
            for msg in [Fr::from(42u64), Fr::from(-7i64)] {
                let sig = key.sign(msg);
                assert!(pk.verify(msg, &sig));
                assert!(check(&pk, &sig, msg));
            }
        }
    }

    #[test]
    fn invalid_signatures_are_unsatisfiable() {
        let key = &keys()[0];
        let pk = key.public_key();
        let msg = Fr::from(42u64);
        let sig = key.sign(msg);
        assert!(check(&pk, &sig, msg));

        // Another message.
        assert!(!pk.verify(Fr::from(43u64), &sig));
        assert!(!check(&pk, &sig, Fr::from(43u64)));

        // Tampered S.
        let tampered = Signature {
            r8: sig.r8,
            s: sig.s + Scalar::ONE,
        };
        assert!(!pk.verify(msg, &tampered));
        assert!(!check(&pk, &tampered, msg));

        // S + l: same residue, not canonical.
        let mut s_plus_l = sig.s.into_bigint();
        assert!(!s_plus_l.add_with_carry(&SUBGROUP_ORDER));
        assert!(!check_with(pk.0, sig.r8, s_plus_l, msg).0);

        // R8 shifted by the point (0, -1) of order 2.
        let shifted = Signature {
            r8: sig.r8
                + Point {
                    x: Fr::ZERO,
                    y: -Fr::ONE,
                },
            s: sig.s,
        };
        assert!(shifted.r8.is_on_curve());
        assert!(!pk.verify(msg, &shifted));
        assert!(!check(&pk, &shifted, msg));

        // Another key.
        let other = keys()[1].public_key();
        assert!(!other.verify(msg, &sig));
        assert!(!check(&other, &sig, msg));

        // The small-order key (0, -1), with R8 = S * Base8 that would satisfy the equation.
        let small = PublicKey(Point {
            x: Fr::ZERO,
            y: -Fr::ONE,
        });
        let forged = Signature {
            r8: causeway_crypto::babyjubjub::mul_base8(&sig.s),
            s: sig.s,
        };
        assert!(!small.verify(msg, &forged));
        assert!(!check(&small, &forged, msg));
    }

    #[test]
    fn le_constant_comparison_is_exact() {
        use rand::Rng;
        let mut rng = rand::thread_rng();
        for _ in 0..200 {
            let n = 12;
            let c: u64 = rng.gen_range(0..1 << n);
            let v: u64 = rng.gen_range(0..1 << n);
            let cs = ConstraintSystem::<Fr>::new_ref();
            let bits = alloc_bits(cs.clone(), Some(BigInt::from(v)), n).unwrap();
            enforce_le_constant(&bits, &BigInt::from(c)).unwrap();
            assert_eq!(cs.is_satisfied().unwrap(), v <= c, "v={v} c={c}");
        }
        // The non-canonical bits of 5 + p (same field element as 5) are refused.
        let mut p_minus_one = Fr::MODULUS;
        p_minus_one.sub_with_borrow(&BigInt::from(1u64));
        for (value, ok) in [(p_minus_one, true), (Fr::MODULUS, false)] {
            let mut v = value;
            v.add_with_carry(&BigInt::from(5u64));
            let cs = ConstraintSystem::<Fr>::new_ref();
            let bits = alloc_bits(cs.clone(), Some(if ok { p_minus_one } else { v }), 254).unwrap();
            enforce_le_constant(&bits, &p_minus_one).unwrap();
            assert_eq!(cs.is_satisfied().unwrap(), ok);
        }
    }

    #[test]
    fn constraint_count_of_one_verification() {
        let key = &keys()[0];
        let msg = Fr::from(42u64);
        let sig = key.sign(msg);
        let (ok, used) = check_with(key.public_key().0, sig.r8, sig.s.into_bigint(), msg);
        assert!(ok);
        println!("verify_eddsa_gadget: {used} constraints");
        assert_eq!(used, VERIFY_CONSTRAINTS);
    }

    #[test]
    fn constraint_breakdown() {
        let key = &keys()[0];
        let msg = Fr::from(42u64);
        let sig = key.sign(msg);
        let cs = ConstraintSystem::<Fr>::new_ref();
        let mut last = 0;
        let mut step = |name: &str| {
            let n = cs.num_constraints() - last;
            last = cs.num_constraints();
            println!("{name:<40} {n:>5}");
            n
        };
        let pk = PointVar::new_witness(cs.clone(), Some(key.public_key().0)).unwrap();
        let sv = SignatureVar::new_witness(cs.clone(), Some(&sig)).unwrap();
        let msg = FpVar::new_witness(cs.clone(), || Ok(msg)).unwrap();
        let alloc = step("allocation: A, R8 on curve + S bits");
        let mut l_minus_one = SUBGROUP_ORDER;
        l_minus_one.sub_with_borrow(&BigInt::from(1u64));
        enforce_le_constant(&sv.s_bits, &l_minus_one).unwrap();
        let s_lt_l = step("S < l");
        let eight_a = pk.double().unwrap().double().unwrap().double().unwrap();
        let eight = step("8A (3 doublings)");
        let hm = poseidon_gadget(&[
            sv.r8.x.clone(),
            sv.r8.y.clone(),
            pk.x.clone(),
            pk.y.clone(),
            msg.clone(),
        ])
        .unwrap();
        let pos = step("Poseidon5 challenge");
        let hm_bits = canonical_bits(cs.clone(), &hm).unwrap();
        let hm_dec = step("hm canonical bits");
        PointVar::fixed_base_mul(&BASE8, &sv.s_bits).unwrap();
        let fixed = step("S * Base8 (fixed base, 3-bit windows)");
        let q = eight_a.scalar_mul(&hm_bits).unwrap();
        let var = step("hm * 8A (variable base, 2-bit windows)");
        sv.r8.add(&q).unwrap();
        let add = step("R8 + hm * 8A");
        assert_eq!(alloc, 2 * 3 + S_BITS);
        assert_eq!(eight, 15);
        assert_eq!(pos, 321);
        assert_eq!(fixed, 9 * 84 - 6);
        assert_eq!(var, 11 + 6 + 22 * 126);
        assert_eq!(add, 6);
        // + 1 for x(8A) != 0, + 2 for the final equality.
        assert_eq!(
            s_lt_l + eight + 1 + pos + hm_dec + fixed + var + add + 2,
            VERIFY_CONSTRAINTS
        );
        println!("S < l: {s_lt_l}, hm bits: {hm_dec}");
    }

    #[test]
    fn setup_mode_has_the_same_shape() {
        let cs = ConstraintSystem::<Fr>::new_ref();
        cs.set_mode(ark_relations::r1cs::SynthesisMode::Setup);
        let pk = PointVar::new_witness(cs.clone(), None).unwrap();
        let sv = SignatureVar::new_witness(cs.clone(), None).unwrap();
        let msg = FpVar::new_witness(cs.clone(), || Ok(Fr::ZERO)).unwrap();
        let before = cs.num_constraints();
        verify_eddsa_gadget(cs.clone(), &pk, &sv.r8, &sv.s_bits, &msg).unwrap();
        assert_eq!(cs.num_constraints() - before, VERIFY_CONSTRAINTS);
    }
}
