//! Baby Jubjub on IFMA lanes ([`crate::lanes`]): eight fixed-base combinations
//! `s * BASE8 + m * P` at once, each lane with its own scalars and its own table for `P`. This
//! is the whole verification equation of a signature whose key has a table, so a batch of such
//! signatures is checked eight at a time.
//!
//! Owns the lane form of [`FixedBase`] tables and the eight-lane mixed addition. The lanes run
//! the same signed radix-16 digits and the same complete addition formula (madd-2008-hwcd) as
//! the one-by-one code, with a zero digit adding the identity entry, so every lane ends at the
//! point the one-by-one multiplication gives (tests compare them).

use super::fixed_base::{self, ENTRIES, FixedBase, Table, WINDOWS};
use super::{COEFF_A, Point};
use crate::lanes::{self, Elem, Field52, LANES, LIMBS};
use ark_ff::{BigInt, Field};
use causeway_primitives::Fr;

/// One table entry in lane form: `x`, `y` and `d * x * y`, each as 52-bit limbs.
type Entry = [[u64; LIMBS]; 3];

/// A [`FixedBase`] table's entries in lane form (61 KiB), window by window.
#[derive(Clone)]
pub(crate) struct LaneTable(Vec<Entry>);

impl LaneTable {
    /// The lane form of `table`, or `None` where the CPU has no lanes.
    pub(crate) fn of(table: &Table) -> Option<Box<Self>> {
        if !lanes::available() {
            return None;
        }
        let f = lanes::fr();
        let entries = table
            .iter()
            .flatten()
            .map(|e| [f.constant(e.x), f.constant(e.y), f.constant(e.dt)])
            .collect();
        Some(Box::new(LaneTable(entries)))
    }
}

/// `p - x` for a canonical `x` in 52-bit limbs: below `2p`, and congruent to `-x`.
fn neg_limbs(p: &[u64; LIMBS], x: &[u64; LIMBS]) -> [u64; LIMBS] {
    let mut out = [0u64; LIMBS];
    let mut borrow = 0i64;
    for k in 0..LIMBS {
        let d = p[k] as i64 - x[k] as i64 + borrow;
        out[k] = (d & ((1i64 << 52) - 1)) as u64;
        borrow = d >> 52;
    }
    out
}

/// For each `(s, table of P, m, r)`: whether `s * BASE8 + m * P == r`, eight at a time.
/// `None` when a table (or the one of `BASE8`) has no lane form.
pub(crate) fn combinations_equal(
    items: &[(BigInt<4>, &FixedBase, BigInt<4>, Point)],
) -> Option<Vec<bool>> {
    let base = fixed_base::base8().lanes()?;
    let tables: Vec<&LaneTable> = items
        .iter()
        .map(|(_, table, _, _)| table.lanes())
        .collect::<Option<_>>()?;
    let f = lanes::fr();
    let one = f.constant(Fr::ONE);
    let identity: Entry = [[0; LIMBS], one, [0; LIMBS]];
    let coeff_a = f.constant(COEFF_A);
    let mut answers = Vec::with_capacity(items.len());
    for (chunk, tables) in items.chunks(LANES).zip(tables.chunks(LANES)) {
        let s: Vec<_> = chunk
            .iter()
            .map(|(s, ..)| fixed_base::signed_digits(s))
            .collect();
        let m: Vec<_> = chunk
            .iter()
            .map(|(_, _, m, _)| fixed_base::signed_digits(m))
            .collect();
        // SAFETY: the tables have lane forms, which are only built where the CPU has the
        // lanes (avx512f and avx512ifma).
        let [x, y, z] = unsafe { combine8(f, &coeff_a, &identity, base, tables, &s, &m) };
        for (lane, (_, _, _, r)) in chunk.iter().enumerate() {
            let fr = |w: [u64; 4]| Fr::new_unchecked(BigInt(w));
            let (x, y, z) = (fr(x[lane]), fr(y[lane]), fr(z[lane]));
            answers.push(x == r.x * z && y == r.y * z);
        }
    }
    Some(answers)
}

/// `sum over windows of BASE8's entry for s's digit plus P's entry for m's digit`, for up to
/// eight lanes (missing lanes add identities); returns `X`, `Y`, `Z` of each lane in arkworks'
/// form.
#[target_feature(enable = "avx512f,avx512ifma")]
fn combine8(
    f: &Field52,
    coeff_a: &[u64; LIMBS],
    identity: &Entry,
    base: &LaneTable,
    tables: &[&LaneTable],
    s: &[[i8; WINDOWS]],
    m: &[[i8; WINDOWS]],
) -> [[[u64; 4]; LANES]; 3] {
    let coeff_a = f.splat(coeff_a);
    let zero = f.splat(&[0; LIMBS]);
    let one = f.splat(&identity[1]);
    let mut point = [zero, one, one, zero];
    let p = f.modulus_limbs();
    let for_m: [&LaneTable; LANES] =
        core::array::from_fn(|lane| tables.get(lane).copied().unwrap_or(base));
    for w in 0..WINDOWS {
        for (digits, tables) in [(s, &[base; LANES]), (m, &for_m)] {
            let mut staged = [[[0u64; LANES]; LIMBS]; 3];
            for lane in 0..LANES {
                let digit = digits.get(lane).map_or(0, |d| d[w]);
                let entry = match digit {
                    0 => identity,
                    d => &tables[lane].0[w * ENTRIES + usize::from(d.unsigned_abs()) - 1],
                };
                for (c, coordinate) in entry.iter().enumerate() {
                    // -(x, y) = (-x, y): the entry's x and d*x*y change sign.
                    let limbs = if digit < 0 && c != 1 {
                        neg_limbs(p, coordinate)
                    } else {
                        *coordinate
                    };
                    for (k, limb) in limbs.into_iter().enumerate() {
                        staged[c][k][lane] = limb;
                    }
                }
            }
            let q = staged.map(|c| f.load_limbs(&c));
            point = add_affine(f, &coeff_a, &point, &q);
        }
    }
    let [x, y, z, _] = point;
    [f.store(&x), f.store(&y), f.store(&z)]
}

/// madd-2008-hwcd, as `Extended::add_affine`: `(X, Y, Z, T) + (x, y, d*x*y)`.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn add_affine(f: &Field52, coeff_a: &Elem, point: &[Elem; 4], q: &[Elem; 3]) -> [Elem; 4] {
    let [x, y, z, t] = point;
    let [qx, qy, qdt] = q;
    let a = f.mul(x, qx);
    let b = f.mul(y, qy);
    let c = f.mul(t, qdt);
    let e = f.sub(&f.sub(&f.mul(&f.add(x, y), &f.add(qx, qy)), &a), &b);
    let ff = f.sub(z, &c);
    let g = f.add(z, &c);
    let h = f.sub(&b, &f.mul(coeff_a, &a));
    [f.mul(&e, &ff), f.mul(&g, &h), f.mul(&ff, &g), f.mul(&e, &h)]
}
