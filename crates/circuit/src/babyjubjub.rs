//! Baby Jubjub in R1CS, in circomlib's twisted Edwards form `a*x^2 + y^2 = 1 + d*x^2*y^2`
//! (the in-circuit twin of [`causeway_crypto::babyjubjub`]).
//!
//! Owns: point witnesses with the on-curve check, the group law, and the two scalar
//! multiplications EdDSA needs (fixed base from constant tables, variable base with 2-bit
//! windows); and, when the constraint system builds no matrices, their native fast paths
//! (`crate::witness_only`): the same steps on values, with one inversion per addition or
//! doubling instead of two, leaving the same witnesses. `Base8`'s window tables are computed
//! once per process.
//!
//! Invariants:
//! - Every [`PointVar`] is on the curve: witnesses are checked when allocated
//!   ([`PointVar::new_witness`], 3 constraints) and the group law keeps points on it. The
//!   formulas are the complete ones (`a` is a square and `d` is not), so their denominators
//!   never vanish for points on the curve and each result coordinate is the unique witness
//!   `w` with `w * den = num`.
//! - Costs: [`PointVar::add`] 6 constraints, [`PointVar::double`] 5.

use crate::witness_only::WitnessOnly;
use ark_ff::{AdditiveGroup, Field, Zero};
use ark_r1cs_std::R1CSVar;
use ark_r1cs_std::alloc::AllocVar;
use ark_r1cs_std::boolean::Boolean;
use ark_r1cs_std::fields::FieldVar;
use ark_r1cs_std::fields::fp::FpVar;
use ark_r1cs_std::select::CondSelectGadget;
use ark_relations::r1cs::{ConstraintSystemRef, SynthesisError, Variable};
use causeway_crypto::babyjubjub::{BASE8, COEFF_A, COEFF_D, Point};
use causeway_primitives::Fr;
use std::borrow::Cow;
use std::sync::OnceLock;

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
        if let Some(mut system) = WitnessOnly::of(&cs)
            && let Some((p, q)) = variable_point(&system, self).zip(variable_point(&system, other))
        {
            let (sum, variables) = add_witnesses(&mut system, p, q, None)?;
            return Ok(system_point(&system, sum, variables));
        }
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
        if let Some(mut system) = WitnessOnly::of(&cs)
            && let Some(p) = variable_point(&system, self)
        {
            let (double, variables) = double_witnesses(&mut system, p, None)?;
            return Ok(system_point(&system, double, variables));
        }
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
        let tables = window_tables(base, bits.len().div_ceil(3));
        if let Some(product) = fixed_base_mul_witness_only(&tables, bits)? {
            return Ok(product);
        }
        let mut acc: Option<PointVar> = None;
        for (chunk, table) in bits.chunks(3).zip(tables.iter()) {
            let entry = lookup3(table, chunk)?;
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
        if let Some(product) = self.scalar_mul_witness_only(bits)? {
            return Ok(product);
        }
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

    /// [`Self::scalar_mul`] when the constraint system builds no matrices ([`WitnessOnly`]),
    /// for a variable point and variable bits (anything else takes the full path): the
    /// same table, windows, lookups, doublings and additions on values, leaving the
    /// witnesses of each step in the order the full path allocates them.
    fn scalar_mul_witness_only(
        &self,
        bits: &[Boolean<Fr>],
    ) -> Result<Option<PointVar>, SynthesisError> {
        let cs = self.cs();
        let Some(mut system) = WitnessOnly::of(&cs) else {
            return Ok(None);
        };
        let Some(p) = variable_point(&system, self) else {
            return Ok(None);
        };
        let Some(bits) = variable_bits(&system, bits) else {
            return Ok(None);
        };
        let mut hints = scalar_mul_hints(p, &bits).into_iter();
        let (p2, _) = double_witnesses(&mut system, p, hints.next())?;
        let (p3, _) = add_witnesses(&mut system, p2, p, hints.next())?;
        let table = [Point::IDENTITY, p, p2, p3];
        let mut acc: Option<(Point, [Variable; 2])> = None;
        for chunk in bits.chunks(2).rev() {
            let entry = lookup2_witnesses(&mut system, &table, chunk)?;
            acc = Some(match acc {
                None => entry,
                Some((acc, _)) => {
                    let (acc, _) = double_witnesses(&mut system, acc, hints.next())?;
                    let (acc, _) = double_witnesses(&mut system, acc, hints.next())?;
                    add_witnesses(&mut system, acc, entry.0, hints.next())?
                }
            });
        }
        Ok(Some(
            acc.map_or_else(Self::identity, |(point, variables)| {
                system_point(&system, point, variables)
            }),
        ))
    }

    /// Enforces equality of both coordinates (2 constraints).
    pub fn enforce_equal(&self, other: &PointVar) -> Result<(), SynthesisError> {
        use ark_r1cs_std::eq::EqGadget;
        self.x.enforce_equal(&other.x)?;
        self.y.enforce_equal(&other.y)
    }
}

/// The window tables of [`PointVar::fixed_base_mul`] for `base`: `tables[w][j]` is
/// `j * 8^w * base`. Ten point operations per window, each with an inversion, and the same for
/// every signature: EdDSA's `Base8` tables are computed once per process.
fn window_tables(base: &Point, windows: usize) -> Cow<'static, [[Point; 8]]> {
    /// Windows kept for `Base8`: enough for any scalar below 2^256.
    const CACHED: usize = 86;
    static BASE8_TABLES: OnceLock<Vec<[Point; 8]>> = OnceLock::new();
    if *base == BASE8 && windows <= CACHED {
        return Cow::Borrowed(
            &BASE8_TABLES.get_or_init(|| compute_window_tables(&BASE8, CACHED))[..windows],
        );
    }
    Cow::Owned(compute_window_tables(base, windows))
}

fn compute_window_tables(base: &Point, windows: usize) -> Vec<[Point; 8]> {
    let mut window_base = *base;
    (0..windows)
        .map(|_| {
            let mut table = [Point::IDENTITY; 8];
            for j in 1..8 {
                table[j] = table[j - 1] + window_base;
            }
            for _ in 0..3 {
                window_base = window_base.double();
            }
            table
        })
        .collect()
}

/// The value of `p` if both its coordinates are variables with values: the inputs the fast
/// paths below handle (a constant coordinate changes which products the full gadgets
/// allocate, so those take the full path).
fn variable_point(system: &WitnessOnly, p: &PointVar) -> Option<Point> {
    if p.x.is_constant() || p.y.is_constant() {
        return None;
    }
    Some(Point {
        x: system.value(&p.x)?,
        y: system.value(&p.y)?,
    })
}

/// The values of `bits` if every one is a variable with a value.
fn variable_bits(system: &WitnessOnly, bits: &[Boolean<Fr>]) -> Option<Vec<bool>> {
    bits.iter()
        .map(|b| if b.is_constant() { None } else { system.bit(b) })
        .collect()
}

/// The point held by the witnesses `variables`, as the full gadgets return it.
fn system_point(system: &WitnessOnly, point: Point, [x, y]: [Variable; 2]) -> PointVar {
    PointVar {
        x: system.var(x, point.x),
        y: system.var(y, point.y),
    }
}

/// `num[i] / den[i]` as [`quotient_witness`] computes it (0 for a zero denominator).
///
/// `hint` is a guess of the two quotients, from an inversion-free computation of a whole
/// chain of steps ([`Extended`]). It is taken when it checks out: a non-zero `den[i]` with
/// `hint[i] * den[i] == num[i]` makes `hint[i]` the quotient exactly, whatever the guess was
/// based on, for two multiplications instead of an inversion. Otherwise both denominators are
/// inverted at once (when neither is zero).
fn quotients(num: [Fr; 2], den: [Fr; 2], hint: Option<Point>) -> [Fr; 2] {
    if let Some(hint) = hint {
        let guess = [hint.x, hint.y];
        if (0..2).all(|i| !den[i].is_zero() && guess[i] * den[i] == num[i]) {
            return guess;
        }
    }
    match (den[0] * den[1]).inverse() {
        Some(inv) => [num[0] * inv * den[1], num[1] * inv * den[0]],
        None => [0, 1].map(|i| num[i] * den[i].inverse().unwrap_or(Fr::ZERO)),
    }
}

/// A point in extended twisted Edwards coordinates (`x = X/Z`, `y = Y/Z`, `T = XY/Z`), with
/// Hisil, Wong, Carter and Dawson's formulas (add-2008-hwcd, dbl-2008-hwcd): the group law
/// without inversions, used only to guess the results of a fast path's chain of steps, which
/// [`quotients`] checks one by one. Not `causeway_crypto`'s own extended points: those keep
/// the invariant that they are curve points (and refuse Z = 0), while these guesses take
/// whatever a witness holds, off-curve values of a false witness included.
#[derive(Debug, Clone, Copy)]
struct Extended {
    x: Fr,
    y: Fr,
    t: Fr,
    z: Fr,
}

impl From<Point> for Extended {
    fn from(p: Point) -> Self {
        Extended {
            x: p.x,
            y: p.y,
            t: p.x * p.y,
            z: Fr::ONE,
        }
    }
}

impl Extended {
    fn add(&self, q: &Extended) -> Extended {
        let a = self.x * q.x;
        let b = self.y * q.y;
        let c = COEFF_D * self.t * q.t;
        let d = self.z * q.z;
        let e = (self.x + self.y) * (q.x + q.y) - a - b;
        let f = d - c;
        let g = d + c;
        let h = b - COEFF_A * a;
        Extended {
            x: e * f,
            y: g * h,
            t: e * h,
            z: f * g,
        }
    }

    fn double(&self) -> Extended {
        let a = self.x.square();
        let b = self.y.square();
        let c = self.z.square().double();
        let d = COEFF_A * a;
        let e = (self.x + self.y).square() - a - b;
        let g = d + b;
        let f = g - c;
        let h = d - b;
        Extended {
            x: e * f,
            y: g * h,
            t: e * h,
            z: f * g,
        }
    }

    /// The affine forms of `points`, with one inversion for all (Montgomery's trick). A zero
    /// `Z` (impossible on the curve) gives a wrong guess, which [`quotients`] then refuses.
    fn to_affine_all(points: &[Extended]) -> Vec<Point> {
        let mut prefix = Vec::with_capacity(points.len());
        let mut acc = Fr::ONE;
        for p in points {
            prefix.push(acc);
            acc *= p.z;
        }
        let mut inv = acc.inverse().unwrap_or(Fr::ZERO);
        let mut out = vec![Point::IDENTITY; points.len()];
        for ((p, before), slot) in points.iter().zip(&prefix).zip(&mut out).rev() {
            let z_inv = inv * before;
            inv *= p.z;
            *slot = Point {
                x: p.x * z_inv,
                y: p.y * z_inv,
            };
        }
        out
    }
}

/// Guesses of the results of [`PointVar::scalar_mul_witness_only`]'s steps, in its order:
/// `2P`, `3P`, then per window after the first two doublings and the addition.
fn scalar_mul_hints(p: Point, bits: &[bool]) -> Vec<Point> {
    let p1 = Extended::from(p);
    let p2 = p1.double();
    let p3 = p2.add(&p1);
    let table = [Extended::from(Point::IDENTITY), p1, p2, p3];
    let mut steps = vec![p2, p3];
    let mut acc: Option<Extended> = None;
    for chunk in bits.chunks(2).rev() {
        let index = chunk
            .iter()
            .enumerate()
            .map(|(i, &b)| usize::from(b) << i)
            .sum::<usize>();
        let entry = table[index];
        acc = Some(match acc {
            None => entry,
            Some(acc) => {
                let twice = acc.double();
                let four_times = twice.double();
                let sum = four_times.add(&entry);
                steps.extend([twice, four_times, sum]);
                sum
            }
        });
    }
    Extended::to_affine_all(&steps)
}

/// Guesses of the additions of [`fixed_base_mul_witness_only`], in order.
fn fixed_base_mul_hints(tables: &[[Point; 8]], bits: &[bool]) -> Vec<Point> {
    let mut steps = Vec::new();
    let mut acc: Option<Extended> = None;
    for (chunk, table) in bits.chunks(3).zip(tables) {
        let index = chunk
            .iter()
            .enumerate()
            .map(|(i, &b)| usize::from(b) << i)
            .sum::<usize>();
        let entry = Extended::from(table[index]);
        acc = Some(match acc {
            None => entry,
            Some(acc) => {
                let sum = acc.add(&entry);
                steps.push(sum);
                sum
            }
        });
    }
    Extended::to_affine_all(&steps)
}

/// The witnesses [`PointVar::add`] allocates for variable points of values `p` and `q`, in
/// its order (`x1*y2`, `y1*x2`, `delta`, `beta*gamma`, `x3`, `y3`); returns `p + q` and the
/// witnesses holding it. `hint` as in [`quotients`].
fn add_witnesses(
    system: &mut WitnessOnly,
    p: Point,
    q: Point,
    hint: Option<Point>,
) -> Result<(Point, [Variable; 2]), SynthesisError> {
    let beta = p.x * q.y;
    let gamma = p.y * q.x;
    let delta = (p.y - p.x * COEFF_A) * (q.x + q.y);
    let beta_gamma = beta * gamma;
    let tau = beta_gamma * COEFF_D;
    let [x3, y3] = quotients(
        [beta + gamma, delta + beta * COEFF_A - gamma],
        [tau + Fr::ONE, Fr::ONE - tau],
        hint,
    );
    for value in [beta, gamma, delta, beta_gamma] {
        system.product(value)?;
    }
    let variables = [system.product(x3)?, system.product(y3)?];
    Ok((Point { x: x3, y: y3 }, variables))
}

/// The witnesses [`PointVar::double`] allocates for a variable point of value `p`, in its
/// order (`x^2`, `y^2`, `xy`, `x3`, `y3`); returns `2p` and the witnesses holding it. `hint`
/// as in [`quotients`].
fn double_witnesses(
    system: &mut WitnessOnly,
    p: Point,
    hint: Option<Point>,
) -> Result<(Point, [Variable; 2]), SynthesisError> {
    let xx = p.x.square();
    let yy = p.y.square();
    let xy = p.x * p.y;
    let axx = xx * COEFF_A;
    let [x3, y3] = quotients(
        [xy.double(), yy - axx],
        [axx + yy, Fr::from(2u64) - axx - yy],
        hint,
    );
    for value in [xx, yy, xy] {
        system.product(value)?;
    }
    let variables = [system.product(x3)?, system.product(y3)?];
    Ok((Point { x: x3, y: y3 }, variables))
}

/// The witnesses [`lookup2`] allocates for variable points and bits: two selections by the
/// low bit (each coordinate a witness), then one by the high bit if the window has one.
/// Returns the entry and the witnesses holding it.
fn lookup2_witnesses(
    system: &mut WitnessOnly,
    table: &[Point; 4],
    bits: &[bool],
) -> Result<(Point, [Variable; 2]), SynthesisError> {
    let mut select = |cond: bool, t: Point, f: Point| -> Result<_, SynthesisError> {
        let chosen = if cond { t } else { f };
        Ok((
            chosen,
            [system.product(chosen.x)?, system.product(chosen.y)?],
        ))
    };
    let low = bits[0];
    let lo = select(low, table[1], table[0])?;
    let hi = select(low, table[3], table[2])?;
    match bits.get(1) {
        None => Ok(lo),
        Some(&high) => select(high, hi.0, lo.0),
    }
}

/// The witnesses [`lookup3`] allocates for variable bits: `b0*b1` when the window has two
/// bits, and `b2 * hi` per coordinate when it has three. Returns the entry.
fn lookup3_witnesses(
    system: &mut WitnessOnly,
    table: &[Point; 8],
    bits: &[bool],
) -> Result<Point, SynthesisError> {
    let bit = |i: usize| bits.get(i).copied().unwrap_or(false);
    let low = usize::from(bit(0)) + 2 * usize::from(bit(1));
    if bits.len() >= 2 {
        system.product(Fr::from(bit(0) && bit(1)))?;
    }
    if bits.len() >= 3 {
        let high = |f: fn(&Point) -> Fr| -> Fr {
            if bit(2) {
                f(&table[low + 4]) - f(&table[low])
            } else {
                Fr::ZERO
            }
        };
        system.product(high(|p| p.x))?;
        system.product(high(|p| p.y))?;
    }
    Ok(table[low + 4 * usize::from(bit(2))])
}

/// [`PointVar::fixed_base_mul`] when the constraint system builds no matrices
/// ([`WitnessOnly`]), for variable bits: each window's lookup and addition on values,
/// leaving their witnesses in the full path's order.
fn fixed_base_mul_witness_only(
    tables: &[[Point; 8]],
    bits: &[Boolean<Fr>],
) -> Result<Option<PointVar>, SynthesisError> {
    let cs = bits.cs();
    let Some(mut system) = WitnessOnly::of(&cs) else {
        return Ok(None);
    };
    let Some(bits) = variable_bits(&system, bits) else {
        return Ok(None);
    };
    let mut hints = fixed_base_mul_hints(tables, &bits).into_iter();
    let mut acc: Option<(Point, Option<[Variable; 2]>)> = None;
    for (chunk, table) in bits.chunks(3).zip(tables) {
        let entry = lookup3_witnesses(&mut system, table, chunk)?;
        acc = Some(match acc {
            None => (entry, None),
            Some((acc, _)) => {
                let (sum, variables) = add_witnesses(&mut system, acc, entry, hints.next())?;
                (sum, Some(variables))
            }
        });
    }
    Ok(Some(match acc {
        None => PointVar::identity(),
        Some((sum, Some(variables))) => system_point(&system, sum, variables),
        // A single window: the full path returns the lookup's linear combinations.
        Some((entry, None)) => PointVar {
            x: system.output(entry.x)?,
            y: system.output(entry.y)?,
        },
    }))
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
    use causeway_crypto::babyjubjub::{Scalar, mul_base8};
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

    /// Witness-only synthesis gives the full gadgets' witnesses: additions and doublings of
    /// variable points (fast paths, no linear combination), of a variable and a constant
    /// point (full path in both modes), and of points off the curve whose denominators
    /// vanish (the quotient is 0 in both modes).
    #[test]
    fn witness_only_group_law_matches_full_synthesis() {
        use crate::witness_only::both_modes::compare;
        let mut rng = ark_std::test_rng();
        let (p, q) = (random_point(&mut rng), random_point(&mut rng));
        let coordinates = |points: &[PointVar]| -> Vec<Fr> {
            points
                .iter()
                .flat_map(|p| [p.x.value().unwrap(), p.y.value().unwrap()])
                .collect()
        };
        let witness = |cs: &ConstraintSystemRef<Fr>, p: Point| {
            PointVar::new_witness(cs.clone(), Some(p)).unwrap()
        };

        let (made, satisfied) = compare(
            |cs| (witness(cs, p), witness(cs, q)),
            |(p, q)| {
                coordinates(&[
                    p.add(&q).unwrap(),
                    q.add(&p).unwrap(),
                    p.add(&p).unwrap(),
                    p.double().unwrap(),
                    p.double().unwrap().double().unwrap().add(&q).unwrap(),
                ])
            },
        );
        assert!(satisfied);
        assert_eq!(made, 0);

        let (_, satisfied) = compare(
            |cs| witness(cs, p),
            |p| {
                let base = PointVar::constant(&BASE8);
                coordinates(&[
                    p.add(&base).unwrap(),
                    base.add(&p).unwrap(),
                    p.add(&PointVar::identity()).unwrap(),
                ])
            },
        );
        assert!(satisfied);

        // 1 + d*x1*x2*y1*y2 = 0 for the sum's x, a*x^2 + y^2 = 0 for the double's.
        let one = Point {
            x: Fr::ONE,
            y: Fr::ONE,
        };
        let opposite = Point {
            x: Fr::ONE,
            y: -COEFF_D.inverse().unwrap(),
        };
        let origin = Point {
            x: Fr::ZERO,
            y: Fr::ZERO,
        };
        let (made, satisfied) = compare(
            |cs| (witness(cs, one), witness(cs, opposite), witness(cs, origin)),
            |(one, opposite, origin)| {
                let sum = one.add(&opposite).unwrap();
                assert_eq!(sum.x.value().unwrap(), Fr::ZERO);
                coordinates(&[sum, origin.double().unwrap()])
            },
        );
        assert!(!satisfied);
        assert_eq!(made, 0);
    }

    /// A hint is taken only when it is the exact quotient: a wrong one, or any hint for a
    /// zero denominator, gives what no hint gives.
    #[test]
    fn quotient_hints_never_change_the_result() {
        let mut rng = ark_std::test_rng();
        let (a, b, c, d) = (
            Fr::rand(&mut rng),
            Fr::rand(&mut rng),
            Fr::rand(&mut rng),
            Fr::rand(&mut rng),
        );
        let exact = [a / c, b / d];
        let right = Point {
            x: exact[0],
            y: exact[1],
        };
        let wrong = Point {
            x: exact[0] + Fr::ONE,
            y: exact[1],
        };
        assert_eq!(quotients([a, b], [c, d], None), exact);
        assert_eq!(quotients([a, b], [c, d], Some(right)), exact);
        assert_eq!(quotients([a, b], [c, d], Some(wrong)), exact);
        let zero = Point {
            x: Fr::ZERO,
            y: exact[1],
        };
        for hint in [None, Some(zero), Some(right)] {
            assert_eq!(quotients([a, b], [Fr::ZERO, d], hint), [Fr::ZERO, exact[1]]);
            assert_eq!(
                quotients([Fr::ZERO, b], [Fr::ZERO, d], hint),
                [Fr::ZERO, exact[1]]
            );
        }
    }

    /// Witness-only scalar multiplications give the full gadgets' witnesses for every window
    /// shape (odd and even bit counts, one window, partial last windows); with a constant
    /// bit, both modes take the full path.
    #[test]
    fn witness_only_scalar_multiplications_match_full_synthesis() {
        use crate::witness_only::both_modes::compare;
        let mut rng = ark_std::test_rng();
        for n in [1usize, 2, 3, 4, 5, 6, 7, 64, 252, 254] {
            let raw: Vec<bool> = (0..n).map(|_| rng.r#gen()).collect();
            let k_bits = BigInt::<4>::from_bits_le(&raw);
            let p = random_point(&mut rng);
            let (made, satisfied) = compare(
                |cs| {
                    let bits = alloc_bits(cs.clone(), Some(k_bits), n).unwrap();
                    (bits, PointVar::new_witness(cs.clone(), Some(p)).unwrap())
                },
                |(bits, pv)| {
                    let fixed = PointVar::fixed_base_mul(&BASE8, &bits).unwrap();
                    let var = pv.scalar_mul(&bits).unwrap();
                    assert_eq!(fixed.value().unwrap(), BASE8.mul_bigint(&k_bits));
                    assert_eq!(var.value().unwrap(), p.mul_bigint(&k_bits));
                    let fixed_other = PointVar::fixed_base_mul(&p, &bits).unwrap();
                    assert_eq!(fixed_other.value().unwrap(), p.mul_bigint(&k_bits));
                    [fixed, var, fixed_other]
                        .iter()
                        .flat_map(|p| [p.x.value().unwrap(), p.y.value().unwrap()])
                        .collect()
                },
            );
            assert!(satisfied, "n = {n}");
            // The inversion-free guesses are right (so the checks in `quotients` take them):
            // the first steps are 2P and 3P, the last is the product.
            let hints = scalar_mul_hints(p, &raw);
            assert_eq!(hints[..2], [p.double(), p.double() + p], "n = {n}");
            if n > 2 {
                assert_eq!(hints.last(), Some(&p.mul_bigint(&k_bits)), "n = {n}");
            }
            let tables = window_tables(&BASE8, n.div_ceil(3));
            let hints = fixed_base_mul_hints(&tables, &raw);
            assert_eq!(hints.len(), n.div_ceil(3) - 1, "n = {n}");
            if n > 3 {
                assert_eq!(hints.last(), Some(&BASE8.mul_bigint(&k_bits)), "n = {n}");
            }
            // A single window of the fixed-base product is a lookup: two outputs.
            assert_eq!(made, if n <= 3 { 4 } else { 0 }, "n = {n}");
        }

        let p = random_point(&mut rng);
        let (_, satisfied) = compare(
            |cs| {
                let mut bits = alloc_bits(cs.clone(), Some(BigInt::from(0b1011u64)), 4).unwrap();
                bits.insert(2, Boolean::TRUE);
                (bits, PointVar::new_witness(cs.clone(), Some(p)).unwrap())
            },
            |(bits, pv)| {
                let fixed = PointVar::fixed_base_mul(&BASE8, &bits).unwrap();
                let var = pv.scalar_mul(&bits).unwrap();
                vec![
                    fixed.x.value().unwrap(),
                    fixed.y.value().unwrap(),
                    var.x.value().unwrap(),
                    var.y.value().unwrap(),
                ]
            },
        );
        assert!(satisfied);
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
