//! Baby Jubjub in R1CS, in circomlib's twisted Edwards form `a*x^2 + y^2 = 1 + d*x^2*y^2`
//! (the in-circuit twin of [`causeway_crypto::babyjubjub`]).
//!
//! Owns: point witnesses with the on-curve check, the group law, and the two scalar
//! multiplications EdDSA needs (fixed base from constant tables, variable base with 2-bit
//! windows).
//!
//! Invariants:
//! - Every [`PointVar`] is on the curve: witnesses are checked when allocated
//!   ([`PointVar::new_witness`], 3 constraints) and the group law keeps points on it. The
//!   formulas are the complete ones (`a` is a square and `d` is not), so their denominators
//!   never vanish for points on the curve and each result coordinate is the unique witness
//!   `w` with `w * den = num`.
//! - Costs: [`PointVar::add`] 6 constraints, [`PointVar::double`] 5.

use ark_ff::{AdditiveGroup, Field};
use ark_r1cs_std::R1CSVar;
use ark_r1cs_std::alloc::AllocVar;
use ark_r1cs_std::boolean::Boolean;
use ark_r1cs_std::fields::FieldVar;
use ark_r1cs_std::fields::fp::FpVar;
use ark_r1cs_std::select::CondSelectGadget;
use ark_relations::r1cs::{ConstraintSystemRef, SynthesisError};
use causeway_crypto::babyjubjub::{COEFF_A, COEFF_D, Point};
use causeway_primitives::Fr;

/// An affine Baby Jubjub point in the circuit; on the curve by construction.
#[derive(Debug, Clone)]
pub struct PointVar {
    pub x: FpVar<Fr>,
    pub y: FpVar<Fr>,
}

/// A fresh witness `num / den`; the caller's constraint `w * den = num` pins it when
/// `den != 0`.
fn quotient_witness(
    cs: &ConstraintSystemRef<Fr>,
    num: &FpVar<Fr>,
    den: &FpVar<Fr>,
) -> Result<FpVar<Fr>, SynthesisError> {
    let w = FpVar::new_witness(cs.clone(), || {
        let den = den.value()?;
        Ok(num.value()? * den.inverse().unwrap_or(Fr::ZERO))
    })?;
    w.mul_equals(den, num)?;
    Ok(w)
}

impl PointVar {
    /// A constant point (costs nothing). The caller vouches that it is on the curve.
    pub fn constant(p: &Point) -> Self {
        PointVar {
            x: FpVar::constant(p.x),
            y: FpVar::constant(p.y),
        }
    }

    /// The neutral element `(0, 1)`.
    pub fn identity() -> Self {
        Self::constant(&Point::IDENTITY)
    }

    /// Allocates `point` as a witness and enforces that it is on the curve (3 constraints).
    /// `point` is `None` only during setup.
    pub fn new_witness(
        cs: ConstraintSystemRef<Fr>,
        point: Option<Point>,
    ) -> Result<Self, SynthesisError> {
        let value = || point.ok_or(SynthesisError::AssignmentMissing);
        let x = FpVar::new_witness(cs.clone(), || Ok(value()?.x))?;
        let y = FpVar::new_witness(cs, || Ok(value()?.y))?;
        let p = PointVar { x, y };
        p.enforce_on_curve()?;
        Ok(p)
    }

    /// `a*x^2 + y^2 = 1 + d*x^2*y^2` (3 constraints).
    pub fn enforce_on_curve(&self) -> Result<(), SynthesisError> {
        let xx = self.x.square()?;
        let yy = self.y.square()?;
        (&xx * COEFF_D).mul_equals(&yy, &(&xx * COEFF_A + &yy - Fr::ONE))
    }

    pub fn value(&self) -> Result<Point, SynthesisError> {
        Ok(Point {
            x: self.x.value()?,
            y: self.y.value()?,
        })
    }

    fn cs(&self) -> ConstraintSystemRef<Fr> {
        self.x.cs().or(self.y.cs())
    }

    /// circomlib's `BabyAdd` (6 constraints):
    /// `x3 = (x1*y2 + y1*x2) / (1 + d*x1*x2*y1*y2)`,
    /// `y3 = (y1*y2 - a*x1*x2) / (1 - d*x1*x2*y1*y2)`.
    pub fn add(&self, other: &PointVar) -> Result<PointVar, SynthesisError> {
        let cs = self.cs().or(other.cs());
        let beta = &self.x * &other.y;
        let gamma = &self.y * &other.x;
        // (y1 - a*x1) * (x2 + y2) = y1*y2 - a*x1*x2 - a*beta + gamma
        let delta = (&self.y - &self.x * COEFF_A) * (&other.x + &other.y);
        let tau = (&beta * &gamma) * COEFF_D;
        let x3 = quotient_witness(&cs, &(&beta + &gamma), &(&tau + Fr::ONE))?;
        let y3 = quotient_witness(
            &cs,
            &(delta + &beta * COEFF_A - &gamma),
            &(FpVar::one() - &tau),
        )?;
        Ok(PointVar { x: x3, y: y3 })
    }

    /// Doubling (5 constraints), using the curve equation on the input:
    /// `x3 = 2xy / (a*x^2 + y^2)`, `y3 = (y^2 - a*x^2) / (2 - a*x^2 - y^2)`; the
    /// denominators are `1 ± d*x^2*y^2`, those of [`Self::add`] with both inputs equal.
    pub fn double(&self) -> Result<PointVar, SynthesisError> {
        let cs = self.cs();
        let xx = self.x.square()?;
        let yy = self.y.square()?;
        let xy = &self.x * &self.y;
        let axx = &xx * COEFF_A;
        let x3 = quotient_witness(&cs, &xy.double()?, &(&axx + &yy))?;
        let y3 = quotient_witness(
            &cs,
            &(&yy - &axx),
            &(FpVar::constant(Fr::from(2u64)) - &axx - &yy),
        )?;
        Ok(PointVar { x: x3, y: y3 })
    }

    /// `k * base` for a constant `base` and a scalar given as little-endian bits (any
    /// length). Three bits per window, each window a constant table of the eight multiples
    /// `j * 8^w * base`: a lookup costs 3 constraints (one for `b0*b1`, one per
    /// coordinate) and the addition 6, with no doublings; the first window costs only its
    /// lookup. So `9 * ceil(n / 3) - 6` constraints for `n` bits.
    pub fn fixed_base_mul(base: &Point, bits: &[Boolean<Fr>]) -> Result<PointVar, SynthesisError> {
        let mut acc: Option<PointVar> = None;
        let mut window_base = *base;
        for chunk in bits.chunks(3) {
            let mut table = [Point::IDENTITY; 8];
            for j in 1..8 {
                table[j] = table[j - 1] + window_base;
            }
            for _ in 0..3 {
                window_base = window_base.double();
            }
            let entry = lookup3(&table, chunk)?;
            acc = Some(match acc {
                None => entry,
                Some(acc) => acc.add(&entry)?,
            });
        }
        Ok(acc.unwrap_or_else(Self::identity))
    }

    /// `k * self` for a scalar given as little-endian bits, with 2-bit windows from the most
    /// significant end: a table `[O, P, 2P, 3P]` (11 constraints), then per window two
    /// doublings (10), a lookup (6) and an addition (6); the top window is only a lookup.
    /// So `11 + 6 + 22 * (ceil(n / 2) - 1)` constraints for `n` bits.
    pub fn scalar_mul(&self, bits: &[Boolean<Fr>]) -> Result<PointVar, SynthesisError> {
        let p2 = self.double()?;
        let p3 = p2.add(self)?;
        let table = [PointVar::identity(), self.clone(), p2, p3];
        let mut acc: Option<PointVar> = None;
        let windows: Vec<&[Boolean<Fr>]> = bits.chunks(2).collect();
        for chunk in windows.into_iter().rev() {
            let entry = lookup2(&table, chunk)?;
            acc = Some(match acc {
                None => entry,
                Some(acc) => acc.double()?.double()?.add(&entry)?,
            });
        }
        Ok(acc.unwrap_or_else(Self::identity))
    }

    /// Enforces equality of both coordinates (2 constraints).
    pub fn enforce_equal(&self, other: &PointVar) -> Result<(), SynthesisError> {
        use ark_r1cs_std::eq::EqGadget;
        self.x.enforce_equal(&other.x)?;
        self.y.enforce_equal(&other.y)
    }
}

/// `table[b0 + 2*b1 + 4*b2]` for constant points (3 constraints for three bits; fewer bits
/// index the first entries). Each coordinate is `L0 + b2 * L1` with `L0`, `L1` linear in
/// `1, b0, b1, b0*b1` with constant coefficients.
fn lookup3(table: &[Point; 8], bits: &[Boolean<Fr>]) -> Result<PointVar, SynthesisError> {
    let bit = |i: usize| -> FpVar<Fr> {
        bits.get(i)
            .map_or(FpVar::zero(), |b| FpVar::from(b.clone()))
    };
    let (b0, b1, b2) = (bit(0), bit(1), bit(2));
    let b01 = &b0 * &b1;
    // Multilinear interpolation of four values over (b0, b1).
    let interp = |v: [Fr; 4]| -> FpVar<Fr> {
        FpVar::constant(v[0])
            + &b0 * (v[1] - v[0])
            + &b1 * (v[2] - v[0])
            + &b01 * (v[3] - v[2] - v[1] + v[0])
    };
    let coord = |f: fn(&Point) -> Fr| -> FpVar<Fr> {
        let lo = interp([f(&table[0]), f(&table[1]), f(&table[2]), f(&table[3])]);
        let hi = interp([
            f(&table[4]) - f(&table[0]),
            f(&table[5]) - f(&table[1]),
            f(&table[6]) - f(&table[2]),
            f(&table[7]) - f(&table[3]),
        ]);
        lo + &b2 * hi
    };
    Ok(PointVar {
        x: coord(|p| p.x),
        y: coord(|p| p.y),
    })
}

/// `table[b0 + 2*b1]` for variable points (3 selections per coordinate).
fn lookup2(table: &[PointVar; 4], bits: &[Boolean<Fr>]) -> Result<PointVar, SynthesisError> {
    let select = |cond: Option<&Boolean<Fr>>,
                  t: &PointVar,
                  f: &PointVar|
     -> Result<PointVar, SynthesisError> {
        match cond {
            None => Ok(f.clone()),
            Some(c) => Ok(PointVar {
                x: FpVar::conditionally_select(c, &t.x, &f.x)?,
                y: FpVar::conditionally_select(c, &t.y, &f.y)?,
            }),
        }
    };
    let lo = select(bits.first(), &table[1], &table[0])?;
    let hi = select(bits.first(), &table[3], &table[2])?;
    select(bits.get(1), &hi, &lo)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eddsa::alloc_bits;
    use ark_ff::{BigInt, BigInteger, UniformRand};
    use ark_relations::r1cs::ConstraintSystem;
    use causeway_crypto::babyjubjub::{BASE8, Scalar, mul_base8};
    use rand::Rng;

    fn random_point(rng: &mut impl rand::Rng) -> Point {
        mul_base8(&Scalar::rand(rng))
    }

    #[test]
    fn group_law_matches_native() {
        let mut rng = ark_std::test_rng();
        let small = Point {
            x: Fr::ZERO,
            y: -Fr::ONE,
        };
        for _ in 0..5 {
            let (p, q) = (random_point(&mut rng), random_point(&mut rng));
            let cs = ConstraintSystem::<Fr>::new_ref();
            let pv = PointVar::new_witness(cs.clone(), Some(p)).unwrap();
            let qv = PointVar::new_witness(cs.clone(), Some(q)).unwrap();
            let sv = PointVar::new_witness(cs.clone(), Some(small)).unwrap();
            let before = cs.num_constraints();
            assert_eq!(pv.add(&qv).unwrap().value().unwrap(), p + q);
            assert_eq!(pv.add(&pv).unwrap().value().unwrap(), p.double());
            assert_eq!(pv.add(&sv).unwrap().value().unwrap(), p + small);
            assert_eq!(cs.num_constraints() - before, 18);
            let before = cs.num_constraints();
            assert_eq!(pv.double().unwrap().value().unwrap(), p.double());
            assert_eq!(sv.double().unwrap().value().unwrap(), Point::IDENTITY);
            assert_eq!(cs.num_constraints() - before, 10);
            assert!(cs.is_satisfied().unwrap());
        }
    }

    #[test]
    fn off_curve_witness_is_unsatisfiable() {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let p = Point {
            x: BASE8.x,
            y: BASE8.y + Fr::ONE,
        };
        PointVar::new_witness(cs.clone(), Some(p)).unwrap();
        assert!(!cs.is_satisfied().unwrap());
    }

    #[test]
    fn scalar_multiplications_match_native() {
        let mut rng = ark_std::test_rng();
        for n in [1usize, 2, 3, 7, 64, 254] {
            let cs = ConstraintSystem::<Fr>::new_ref();
            let raw: Vec<bool> = (0..n).map(|_| rng.r#gen()).collect();
            let k_bits = BigInt::<4>::from_bits_le(&raw);
            let bits = alloc_bits(cs.clone(), Some(k_bits), n).unwrap();
            let p = random_point(&mut rng);
            let pv = PointVar::new_witness(cs.clone(), Some(p)).unwrap();
            let fixed = PointVar::fixed_base_mul(&BASE8, &bits).unwrap();
            assert_eq!(fixed.value().unwrap(), BASE8.mul_bigint(&k_bits), "n = {n}");
            let var = pv.scalar_mul(&bits).unwrap();
            assert_eq!(var.value().unwrap(), p.mul_bigint(&k_bits), "n = {n}");
            assert!(cs.is_satisfied().unwrap());
        }
    }
}
