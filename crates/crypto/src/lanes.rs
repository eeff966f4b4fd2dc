//! Arithmetic in a 254-bit prime field on eight lanes at once, with AVX-512 IFMA (52-bit
//! multiply-add instructions): what Poseidon over many independent inputs runs on when the
//! CPU has it.
//!
//! Owns the lane representation and its Montgomery multiplication. The invariants:
//!
//! - An element is five limbs of 52 bits, limb `k` of all eight lanes in one 512-bit vector,
//!   in Montgomery form for `R = 2^260`: lane value `x * R mod p`. Limbs are always below
//!   2^52 ([`Field52`] operations return normalized limbs): IFMA reads only a limb's low 52
//!   bits, so an unnormalized limb would be silently truncated.
//! - Values are kept *below 2p*, not reduced: one Montgomery reduction of `T` gives a value
//!   below `T / R + p`, and `p / R < 1/84` (`p < 2^253.6`, `R = 2^260`), so a product of two
//!   values below `2p` comes out below `4p^2 / R + p < 2p`, and so does a sum of up to 16 such
//!   products reduced once (`64p^2 / R < p`); an addition subtracts `2p` when it reaches it.
//!   Only [`Field52::store`] reduces to `[0, p)`.
//! - Values enter and leave in arkworks' own Montgomery form (`x * 2^256`), converted with one
//!   Montgomery multiplication each way, so results are bit-for-bit those of arkworks.
//!
//! Everything here is `#[target_feature(enable = "avx512f,avx512ifma")]`: callers check
//! [`available`] once and then call through `unsafe`.
//!
//! # Safety
//!
//! Every `unsafe` function here has the one requirement above, so it is stated once: the
//! CPU must have AVX-512F and AVX-512 IFMA ([`available`] returns true).
#![allow(clippy::missing_safety_doc)]

use ark_ff::{BigInt, BigInteger, PrimeField};
use core::arch::x86_64::{
    __m512i, _mm512_add_epi64, _mm512_and_si512, _mm512_cmplt_epi64_mask, _mm512_loadu_si512,
    _mm512_madd52hi_epu64, _mm512_madd52lo_epu64, _mm512_mask_blend_epi64, _mm512_set1_epi64,
    _mm512_setzero_si512, _mm512_srai_epi64, _mm512_srli_epi64, _mm512_storeu_si512,
    _mm512_sub_epi64,
};

/// Lanes per vector.
pub const LANES: usize = 8;
/// Limbs per element.
pub const LIMBS: usize = 5;
const MASK: u64 = (1 << 52) - 1;

/// One vector of eight lanes of one limb.
pub type V = __m512i;
/// Eight field elements: limb `k` of every lane in `self[k]`.
pub type Elem = [V; LIMBS];
/// A double-width accumulator of products, not yet reduced.
pub type Wide = [V; 2 * LIMBS];

/// Whether this CPU runs the lane code.
pub fn available() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512ifma")
}

/// A 254-bit (or smaller) prime field for the lane code: its modulus and the constants that
/// convert to and from arkworks' representation.
#[derive(Debug, Clone)]
pub struct Field52 {
    p: [u64; LIMBS],
    two_p: [u64; LIMBS],
    /// `-p^-1 mod 2^52`.
    n0: u64,
    /// `2^264 mod p`: arkworks' `x * 2^256` times this, reduced, is `x * 2^260`.
    into_lanes: [u64; LIMBS],
    /// `2^256 mod p`: `x * 2^260` times this, reduced, is arkworks' `x * 2^256`.
    out_of_lanes: [u64; LIMBS],
    /// `2^260 mod p`: 1 in lane form.
    one: [u64; LIMBS],
    modulus: BigInt<4>,
}

/// Splits a 256-bit little-endian integer into five 52-bit limbs.
pub fn to_limbs(x: &[u64; 4]) -> [u64; LIMBS] {
    [
        x[0] & MASK,
        ((x[0] >> 52) | (x[1] << 12)) & MASK,
        ((x[1] >> 40) | (x[2] << 24)) & MASK,
        ((x[2] >> 28) | (x[3] << 36)) & MASK,
        x[3] >> 16,
    ]
}

/// Joins five 52-bit limbs (a value below 2^256) into four 64-bit words.
fn from_limbs(l: &[u64; LIMBS]) -> [u64; 4] {
    [
        l[0] | (l[1] << 52),
        (l[1] >> 12) | (l[2] << 40),
        (l[2] >> 24) | (l[3] << 28),
        (l[3] >> 36) | (l[4] << 16),
    ]
}

impl Field52 {
    /// The lane constants of `F`, which must have a modulus below 2^254.
    pub fn of<F: PrimeField<BigInt = BigInt<4>>>() -> Self {
        let m = F::MODULUS.0;
        assert!(m[3] >> 62 == 0, "the lanes need a modulus below 2^254");
        // p^-1 mod 2^64 by Newton's iteration (each step doubles the correct bits).
        let mut inv = 1u64;
        for _ in 0..6 {
            inv = inv.wrapping_mul(2u64.wrapping_sub(m[0].wrapping_mul(inv)));
        }
        let two = F::from(2u64);
        let canonical = |x: F| to_limbs(&x.into_bigint().0);
        let mut two_p = [0u64; 4];
        let mut carry = 0;
        for (i, w) in m.iter().enumerate() {
            two_p[i] = (w << 1) | carry;
            carry = w >> 63;
        }
        Field52 {
            p: to_limbs(&m),
            two_p: to_limbs(&two_p),
            n0: inv.wrapping_neg() & MASK,
            into_lanes: canonical(two.pow([264])),
            out_of_lanes: canonical(two.pow([256])),
            one: canonical(two.pow([260])),
            modulus: F::MODULUS,
        }
    }

    /// The lane form (`c * 2^260 mod p`, limbs) of a constant, to [`Self::splat`] later.
    pub fn constant<F: PrimeField<BigInt = BigInt<4>>>(&self, c: F) -> [u64; LIMBS] {
        to_limbs(&(c * F::from(2u64).pow([260])).into_bigint().0)
    }

    /// 1 in lane form, to [`Self::splat`].
    pub fn one(&self) -> &[u64; LIMBS] {
        &self.one
    }

    /// A constant in every lane.
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub fn splat(&self, c: &[u64; LIMBS]) -> Elem {
        c.map(|l| _mm512_set1_epi64(l as i64))
    }

    /// Eight elements given in arkworks' Montgomery form (`x * 2^256`, reduced).
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub fn load(&self, xs: &[[u64; 4]; LANES]) -> Elem {
        let mut limbs = [[0u64; LANES]; LIMBS];
        for (lane, x) in xs.iter().enumerate() {
            for (k, l) in to_limbs(x).into_iter().enumerate() {
                limbs[k][lane] = l;
            }
        }
        let raw = self.load_limbs(&limbs);
        self.mul(&raw, &self.splat(&self.into_lanes))
    }

    /// The eight elements in arkworks' Montgomery form, reduced below `p`.
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub fn store(&self, x: &Elem) -> [[u64; 4]; LANES] {
        let y = self.mul(x, &self.splat(&self.out_of_lanes));
        let mut limbs = [[0u64; LANES]; LIMBS];
        for (k, v) in y.iter().enumerate() {
            // SAFETY: each `[u64; 8]` is 64 writable bytes; the store is unaligned.
            unsafe { _mm512_storeu_si512(limbs[k].as_mut_ptr().cast(), *v) };
        }
        core::array::from_fn(|lane| {
            let mut w = BigInt(from_limbs(&core::array::from_fn(|k| limbs[k][lane])));
            // Below 2p: one conditional subtraction.
            if w >= self.modulus {
                w.sub_with_borrow(&self.modulus);
            }
            w.0
        })
    }

    /// Eight elements already in lane form, limb `k` of every lane in `limbs[k]`.
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub fn load_limbs(&self, limbs: &[[u64; LANES]; LIMBS]) -> Elem {
        // SAFETY: each `[u64; 8]` is 64 readable bytes; the load is unaligned.
        limbs.map(|l| unsafe { _mm512_loadu_si512(l.as_ptr().cast()) })
    }

    /// The modulus as limbs.
    pub fn modulus_limbs(&self) -> &[u64; LIMBS] {
        &self.p
    }

    /// `2p - b`, below `2p` for `b` in `(0, 2p)`, and `2p` for `b = 0` (congruent to `-b`
    /// either way, and a valid input to every operation here).
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub fn neg(&self, b: &Elem) -> Elem {
        carry_signed(core::array::from_fn(|k| {
            _mm512_sub_epi64(_mm512_set1_epi64(self.two_p[k] as i64), b[k])
        }))
    }

    /// `a - b`, below `2p` for inputs below `2p`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub fn sub(&self, a: &Elem, b: &Elem) -> Elem {
        self.add(a, &self.neg(b))
    }

    /// `acc += a * b`, unreduced. One accumulator takes at most 16 products of values below
    /// `2p`, or 32 where one factor of each is below `p` (a constant): either way their sum is
    /// below `R * p`, so its reduction is below `2p`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub fn mul_acc(&self, acc: &mut Wide, a: &Elem, b: &Elem) {
        for i in 0..LIMBS {
            for j in 0..LIMBS {
                acc[i + j] = _mm512_madd52lo_epu64(acc[i + j], a[j], b[i]);
                acc[i + j + 1] = _mm512_madd52hi_epu64(acc[i + j + 1], a[j], b[i]);
            }
        }
    }

    /// An empty accumulator.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub fn wide_zero(&self) -> Wide {
        [_mm512_setzero_si512(); 2 * LIMBS]
    }

    /// Montgomery reduction of an accumulator: `acc / R mod p`, below `2p`.
    ///
    /// Each column holds at most 32 * 10 + 10 terms below 2^52 plus a carry: below 2^61.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub fn reduce(&self, mut t: Wide) -> Elem {
        let n0 = _mm512_set1_epi64(self.n0 as i64);
        let p = self.splat(&self.p);
        let zero = _mm512_setzero_si512();
        for i in 0..LIMBS {
            // m = t_i * n0 mod 2^52 makes t_i + m * p_0 divisible by 2^52.
            let m = _mm512_madd52lo_epu64(zero, t[i], n0);
            for j in 0..LIMBS {
                t[i + j] = _mm512_madd52lo_epu64(t[i + j], m, p[j]);
                t[i + j + 1] = _mm512_madd52hi_epu64(t[i + j + 1], m, p[j]);
            }
            t[i + 1] = _mm512_add_epi64(t[i + 1], _mm512_srli_epi64::<52>(t[i]));
        }
        normalize([t[5], t[6], t[7], t[8], t[9]])
    }

    /// `a * b / R mod p`, below `2p`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub fn mul(&self, a: &Elem, b: &Elem) -> Elem {
        let mut acc = self.wide_zero();
        self.mul_acc(&mut acc, a, b);
        self.reduce(acc)
    }

    /// `a * a / R mod p`, below `2p`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub fn square(&self, a: &Elem) -> Elem {
        self.mul(a, a)
    }

    /// `a + b`, below `2p` for inputs below `2p`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub fn add(&self, a: &Elem, b: &Elem) -> Elem {
        let sum = normalize(core::array::from_fn(|k| _mm512_add_epi64(a[k], b[k])));
        subtract_if_not_below(sum, &self.two_p)
    }

    /// The canonical representative (below `p`) of a value below `2p`: lane values equal as
    /// field elements are then equal limb for limb.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub fn canonical(&self, x: &Elem) -> Elem {
        subtract_if_not_below(*x, &self.p)
    }
}

/// `x - m` in the lanes where `x >= m`, `x` in the others (normalized limbs in and out).
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn subtract_if_not_below(x: Elem, m: &[u64; LIMBS]) -> Elem {
    // x - m with signed limbs, borrows carried up by arithmetic shifts; keep `x` where that
    // went negative.
    let d = carry_signed(core::array::from_fn(|k| {
        _mm512_sub_epi64(x[k], _mm512_set1_epi64(m[k] as i64))
    }));
    let negative = _mm512_cmplt_epi64_mask(d[LIMBS - 1], _mm512_setzero_si512());
    core::array::from_fn(|k| _mm512_mask_blend_epi64(negative, d[k], x[k]))
}

/// The lane constants of BN254's scalar field, built once.
pub fn fr() -> &'static Field52 {
    static FR: std::sync::OnceLock<Field52> = std::sync::OnceLock::new();
    FR.get_or_init(Field52::of::<causeway_primitives::Fr>)
}

/// The lane constants of BN254's base field (the coordinates of G1 points), built once.
pub fn fq() -> &'static Field52 {
    static FQ: std::sync::OnceLock<Field52> = std::sync::OnceLock::new();
    FQ.get_or_init(Field52::of::<ark_bn254::Fq>)
}

/// Carries signed limbs (each above -2^53 and below 2^53) into 52-bit ones, borrows taken
/// from the next limb by arithmetic shifts; only the top limb keeps a sign: the value's.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn carry_signed(mut d: Elem) -> Elem {
    let mask = _mm512_set1_epi64(MASK as i64);
    for k in 0..LIMBS - 1 {
        d[k + 1] = _mm512_add_epi64(d[k + 1], _mm512_srai_epi64::<52>(d[k]));
        d[k] = _mm512_and_si512(d[k], mask);
    }
    d
}

/// Carries every limb's bits above 52 into the next limb.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn normalize(mut x: Elem) -> Elem {
    let mask = _mm512_set1_epi64(MASK as i64);
    for k in 0..LIMBS - 1 {
        x[k + 1] = _mm512_add_epi64(x[k + 1], _mm512_srli_epi64::<52>(x[k]));
        x[k] = _mm512_and_si512(x[k], mask);
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::{Field, UniformRand};
    use causeway_primitives::Fr;
    use proptest::prelude::*;

    fn raw(x: &Fr) -> [u64; 4] {
        x.0.0
    }

    fn from_raw(w: [u64; 4]) -> Fr {
        Fr::new_unchecked(BigInt(w))
    }

    fn edge_values() -> Vec<Fr> {
        vec![
            Fr::from(0u64),
            Fr::from(1u64),
            -Fr::from(1u64),
            -Fr::from(2u64),
            Fr::from(u64::MAX),
            Fr::from(2u64).pow([253]),
            Fr::from(2u64).pow([252]) - Fr::from(1u64),
            Fr::from(2u64).pow([260]).inverse().unwrap(),
        ]
    }

    /// `f(a, b)` on the lanes against `g(a, b)` in arkworks, lane by lane.
    fn check(
        a: [Fr; LANES],
        b: [Fr; LANES],
        f: impl Fn(&Field52, &Elem, &Elem) -> Elem,
        g: impl Fn(Fr, Fr) -> Fr,
    ) {
        if !available() {
            return;
        }
        let field = Field52::of::<Fr>();
        // SAFETY: the CPU has avx512f and avx512ifma.
        let out = unsafe {
            let x = field.load(&a.map(|x| raw(&x)));
            let y = field.load(&b.map(|x| raw(&x)));
            field.store(&f(&field, &x, &y))
        };
        for lane in 0..LANES {
            assert_eq!(from_raw(out[lane]), g(a[lane], b[lane]), "lane {lane}");
        }
    }

    #[test]
    fn edge_values_round_trip_multiply_and_add() {
        let e = edge_values();
        let a: [Fr; LANES] = e.clone().try_into().unwrap();
        let mut b = a;
        b.reverse();
        check(a, a, |_, x, _| *x, |x, _| x);
        // SAFETY (closures): `check` only calls them when the CPU has the features.
        check(a, b, |f, x, y| unsafe { f.mul(x, y) }, |x, y| x * y);
        check(a, b, |f, x, y| unsafe { f.add(x, y) }, |x, y| x + y);
        check(a, a, |f, x, _| unsafe { f.square(x) }, |x, _| x.square());
        check(a, b, |f, x, y| unsafe { f.sub(x, y) }, |x, y| x - y);
        check(a, b, |f, _, y| unsafe { f.neg(y) }, |_, y| -y);
    }

    #[test]
    fn a_long_chain_stays_below_2p() {
        // 1,000 dependent steps: products and sums keep their bounds, so the result is
        // still arkworks' exactly.
        let mut rng = ark_std::test_rng();
        let a: [Fr; LANES] = core::array::from_fn(|_| Fr::rand(&mut rng));
        let b: [Fr; LANES] = core::array::from_fn(|_| Fr::rand(&mut rng));
        let steps = |f: &Field52, x: &Elem, y: &Elem| {
            let mut acc = *x;
            for i in 0..1000 {
                // SAFETY: only called when the CPU has the features.
                acc = unsafe {
                    if i % 3 == 0 {
                        f.mul(&acc, y)
                    } else {
                        f.add(&acc, y)
                    }
                };
            }
            acc
        };
        check(a, b, steps, |x, y| {
            let mut acc = x;
            for i in 0..1000 {
                acc = if i % 3 == 0 { acc * y } else { acc + y };
            }
            acc
        });
    }

    #[test]
    fn sixteen_products_reduce_once() {
        if !available() {
            return;
        }
        let mut rng = ark_std::test_rng();
        let f = Field52::of::<Fr>();
        let xs: Vec<[Fr; LANES]> = (0..32)
            .map(|_| core::array::from_fn(|_| -Fr::rand(&mut rng).square()))
            .collect();
        // SAFETY: the CPU has the features.
        let out = unsafe {
            let mut acc = f.wide_zero();
            for pair in xs.chunks(2) {
                let a = f.load(&pair[0].map(|x| raw(&x)));
                let b = f.load(&pair[1].map(|x| raw(&x)));
                f.mul_acc(&mut acc, &a, &b);
            }
            f.store(&f.reduce(acc))
        };
        for lane in 0..LANES {
            let expected: Fr = xs.chunks(2).map(|p| p[0][lane] * p[1][lane]).sum();
            assert_eq!(from_raw(out[lane]), expected);
        }
    }

    #[test]
    fn the_base_field_works_too() {
        use ark_bn254::Fq;
        if !available() {
            return;
        }
        let f = Field52::of::<Fq>();
        let mut rng = ark_std::test_rng();
        let a: [Fq; LANES] = core::array::from_fn(|_| Fq::rand(&mut rng));
        let b: [Fq; LANES] = core::array::from_fn(|_| Fq::rand(&mut rng));
        // SAFETY: the CPU has the features.
        let out = unsafe {
            let x = f.load(&a.map(|x| x.0.0));
            let y = f.load(&b.map(|x| x.0.0));
            f.store(&f.add(&f.mul(&x, &y), &x))
        };
        for lane in 0..LANES {
            assert_eq!(
                Fq::new_unchecked(BigInt(out[lane])),
                a[lane] * b[lane] + a[lane]
            );
        }
    }

    #[test]
    fn canonical_gives_the_one_representative_below_p() {
        if !available() {
            return;
        }
        let f = fr();
        let values = edge_values();
        for chunk in values.chunks(LANES) {
            let xs: [Fr; LANES] = core::array::from_fn(|i| chunk[i % chunk.len()]);
            let expected: [[u64; LIMBS]; LANES] = xs.map(|x| f.constant(x));
            // The same values plus p (still below 2p), written as limbs directly.
            let plus_p: [[u64; LIMBS]; LANES] = expected.map(|limbs| {
                let mut w = BigInt(from_limbs(&limbs));
                w.add_with_carry(&f.modulus);
                to_limbs(&w.0)
            });
            let transpose = |v: &[[u64; LIMBS]; LANES]| -> [[u64; LANES]; LIMBS] {
                core::array::from_fn(|k| core::array::from_fn(|lane| v[lane][k]))
            };
            // SAFETY: the CPU has the features.
            unsafe {
                for input in [&expected, &plus_p] {
                    let c = f.canonical(&f.load_limbs(&transpose(input)));
                    let mut out = [[0u64; LANES]; LIMBS];
                    for (k, v) in c.iter().enumerate() {
                        _mm512_storeu_si512(out[k].as_mut_ptr().cast(), *v);
                    }
                    assert_eq!(out, transpose(&expected));
                }
            }
        }
    }

    proptest! {
        #[test]
        fn lanes_multiply_and_add_as_arkworks(
            a in prop::array::uniform8(prop::array::uniform4(any::<u64>())),
            b in prop::array::uniform8(prop::array::uniform4(any::<u64>())),
        ) {
            let reduce = |w: [u64; 4]| Fr::from_le_bytes_mod_order(
                &w.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<_>>());
            let a = a.map(reduce);
            let b = b.map(reduce);
            // SAFETY: only called when the CPU has the features.
            check(a, b, |f, x, y| unsafe { f.sub(&f.add(&f.mul(x, y), &f.square(y)), x) },
                |x, y| x * y + y.square() - x);
        }
    }
}
