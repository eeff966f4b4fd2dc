//! BN254 bucket additions on eight lanes (AVX-512 IFMA): the arithmetic of [`super::msm`]'s
//! affine buckets when the points are G1's or G2's and the CPU has the lane instructions.
//!
//! Owns [`Prepared`], the lane form of one MSM's points, and [`LaneBuckets`], a window's
//! buckets in that form, for any coordinate field with a [`Coords`] implementation: Fq (G1)
//! and Fq2 (G2, three lane multiplications per Fq2 product). A batch of additions runs as
//! groups of eight: the slope denominators of a group are multiplied into eight running
//! products, one lane each (eight interleaved Montgomery chains instead of one), the eight
//! products are inverted together, and the chord formulas run on all eight additions of a
//! group at once.
//!
//! Invariants:
//! - A coordinate is stored as 52-bit limbs (five per Fq element) of `x * 2^260 mod p`,
//!   *canonical* (below p), so that two coordinates are equal as field elements exactly when
//!   their limbs are: the step of an addition (add, double, set, clear) is decided by
//!   comparing limbs.
//! - A bucket's limbs mean something only when its `empty` bit is clear; an empty bucket is
//!   the point at infinity.
//! - Within one batch every bucket appears at most once (the accumulator's busy bitmap), so
//!   the scattered results of a group never collide.
//! - The points are in the prime-order subgroups G1 and G2 (the proving key's), so no point
//!   has y = 0: negation never meets a zero coordinate and a doubling's denominator 2y is
//!   never zero. Both curves have a = 0.

use super::{BucketArray, Pending, ScalarBigInt, booth_digit};
use ark_bn254::{Fq, Fq2, g1, g2};
use ark_ec::CurveConfig;
use ark_ec::short_weierstrass::{Affine, Projective, SWCurveConfig};
use ark_ff::{AdditiveGroup, BigInt, BigInteger};
use causeway_crypto::lanes::{self, Elem, LANES, LIMBS};
use core::arch::x86_64::{
    __m256i, __mmask8, _MM_HINT_T0, _mm_prefetch, _mm256_loadu_si256, _mm512_cmpeq_epi64_mask,
    _mm512_i32gather_epi64, _mm512_mask_blend_epi64, _mm512_mask_i32scatter_epi64,
};
use rayon::prelude::*;
use std::any::{Any, TypeId};

/// The base field of a curve, for short.
type Base<C> = <<C as Coords>::Curve as CurveConfig>::BaseField;

/// A curve's coordinate field on the lanes: eight elements at a time, values below 2p in
/// every Fq component (see [`causeway_crypto::lanes`]).
///
/// # Safety
///
/// Every method requires a CPU with AVX-512F and AVX-512 IFMA ([`lanes::available`]).
pub(super) trait Coords: 'static {
    type Curve: SWCurveConfig;
    /// Eight elements.
    type E: Copy;
    /// 64-bit words (52-bit limbs) per stored coordinate.
    const WORDS: usize;
    unsafe fn one() -> Self::E;
    unsafe fn add(a: &Self::E, b: &Self::E) -> Self::E;
    unsafe fn sub(a: &Self::E, b: &Self::E) -> Self::E;
    unsafe fn mul(a: &Self::E, b: &Self::E) -> Self::E;
    unsafe fn square(a: &Self::E) -> Self::E;
    /// `-a`, canonical.
    unsafe fn neg_canonical(a: &Self::E) -> Self::E;
    unsafe fn canonical(a: &Self::E) -> Self::E;
    /// Lanes where `a` and `b` agree limb for limb.
    unsafe fn equal(a: &Self::E, b: &Self::E) -> __mmask8;
    /// `b` in the lanes of `mask`, `a` in the others.
    unsafe fn blend(mask: __mmask8, a: &Self::E, b: &Self::E) -> Self::E;
    /// The `WORDS` words at `base + offset` of each lane (offsets in words).
    unsafe fn gather(base: *const i64, offsets: __m256i) -> Self::E;
    /// Writes the lanes of `mask` to `WORDS` words at `base + offset`.
    unsafe fn scatter(base: *mut i64, mask: __mmask8, offsets: __m256i, v: &Self::E);
    unsafe fn load(xs: &[Base<Self>; LANES]) -> Self::E;
    /// Reduced, in arkworks' form.
    unsafe fn store(x: &Self::E) -> [Base<Self>; LANES];
}

/// G1's coordinates: Fq.
pub(super) struct G1Coords;

/// G2's coordinates: Fq2 = Fq[u]/(u² + 1), an element as (c0, c1).
pub(super) struct G2Coords;

#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn blend_elem(mask: __mmask8, a: &Elem, b: &Elem) -> Elem {
    core::array::from_fn(|k| _mm512_mask_blend_epi64(mask, a[k], b[k]))
}

#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn equal_elem(a: &Elem, b: &Elem) -> __mmask8 {
    (0..LIMBS).fold(!0, |m, k| m & _mm512_cmpeq_epi64_mask(a[k], b[k]))
}

/// The canonical form of `-a` for a canonical `a`, zero included (an Fq2 component may be
/// zero): `0 - a` is below 2p (`sub` maps 0 - 0 to 0, not 2p), so one reduction suffices.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn neg_canonical_elem(a: &Elem) -> Elem {
    let f = lanes::fq();
    f.canonical(&f.sub(&f.splat(&[0; LIMBS]), a))
}

/// # Safety
/// The words `base + offsets[lane] + k` for k < 5 are readable.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
unsafe fn gather_elem(base: *const i64, offsets: __m256i) -> Elem {
    // SAFETY: the caller's.
    core::array::from_fn(|k| unsafe { _mm512_i32gather_epi64::<8>(offsets, base.add(k)) })
}

/// # Safety
/// The words `base + offsets[lane] + k` for k < 5 are writable in the lanes of `mask`, and
/// no two of those lanes share an offset.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
unsafe fn scatter_elem(base: *mut i64, mask: __mmask8, offsets: __m256i, v: &Elem) {
    for (k, limb) in v.iter().enumerate() {
        // SAFETY: the caller's.
        unsafe { _mm512_mask_i32scatter_epi64::<8>(base.add(k), mask, offsets, *limb) };
    }
}

impl Coords for G1Coords {
    type Curve = g1::Config;
    type E = Elem;
    const WORDS: usize = LIMBS;

    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn one() -> Elem {
        let f = lanes::fq();
        f.splat(f.one())
    }
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn add(a: &Elem, b: &Elem) -> Elem {
        lanes::fq().add(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn sub(a: &Elem, b: &Elem) -> Elem {
        lanes::fq().sub(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn mul(a: &Elem, b: &Elem) -> Elem {
        lanes::fq().mul(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn square(a: &Elem) -> Elem {
        lanes::fq().square(a)
    }
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn neg_canonical(a: &Elem) -> Elem {
        neg_canonical_elem(a)
    }
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn canonical(a: &Elem) -> Elem {
        lanes::fq().canonical(a)
    }
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn equal(a: &Elem, b: &Elem) -> __mmask8 {
        equal_elem(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn blend(mask: __mmask8, a: &Elem, b: &Elem) -> Elem {
        blend_elem(mask, a, b)
    }
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn gather(base: *const i64, offsets: __m256i) -> Elem {
        // SAFETY: the caller's.
        unsafe { gather_elem(base, offsets) }
    }
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn scatter(base: *mut i64, mask: __mmask8, offsets: __m256i, v: &Elem) {
        // SAFETY: the caller's.
        unsafe { scatter_elem(base, mask, offsets, v) }
    }
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn load(xs: &[Fq; LANES]) -> Elem {
        let f = lanes::fq();
        f.load(&xs.map(|x| x.0.0))
    }
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn store(x: &Elem) -> [Fq; LANES] {
        lanes::fq().store(x).map(|w| Fq::new_unchecked(BigInt(w)))
    }
}

impl Coords for G2Coords {
    type Curve = g2::Config;
    type E = [Elem; 2];
    const WORDS: usize = 2 * LIMBS;

    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn one() -> [Elem; 2] {
        let f = lanes::fq();
        [f.splat(f.one()), f.splat(&[0; LIMBS])]
    }
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn add(a: &[Elem; 2], b: &[Elem; 2]) -> [Elem; 2] {
        let f = lanes::fq();
        [f.add(&a[0], &b[0]), f.add(&a[1], &b[1])]
    }
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn sub(a: &[Elem; 2], b: &[Elem; 2]) -> [Elem; 2] {
        let f = lanes::fq();
        [f.sub(&a[0], &b[0]), f.sub(&a[1], &b[1])]
    }
    /// (a0 + a1 u)(b0 + b1 u) = a0 b0 − a1 b1 + ((a0 + a1)(b0 + b1) − a0 b0 − a1 b1) u.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn mul(a: &[Elem; 2], b: &[Elem; 2]) -> [Elem; 2] {
        let f = lanes::fq();
        let v0 = f.mul(&a[0], &b[0]);
        let v1 = f.mul(&a[1], &b[1]);
        let t = f.mul(&f.add(&a[0], &a[1]), &f.add(&b[0], &b[1]));
        [f.sub(&v0, &v1), f.sub(&f.sub(&t, &v0), &v1)]
    }
    /// (a0 + a1 u)² = (a0 + a1)(a0 − a1) + 2 a0 a1 u.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn square(a: &[Elem; 2]) -> [Elem; 2] {
        let f = lanes::fq();
        let c0 = f.mul(&f.add(&a[0], &a[1]), &f.sub(&a[0], &a[1]));
        let p = f.mul(&a[0], &a[1]);
        [c0, f.add(&p, &p)]
    }
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn neg_canonical(a: &[Elem; 2]) -> [Elem; 2] {
        [neg_canonical_elem(&a[0]), neg_canonical_elem(&a[1])]
    }
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn canonical(a: &[Elem; 2]) -> [Elem; 2] {
        let f = lanes::fq();
        [f.canonical(&a[0]), f.canonical(&a[1])]
    }
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn equal(a: &[Elem; 2], b: &[Elem; 2]) -> __mmask8 {
        equal_elem(&a[0], &b[0]) & equal_elem(&a[1], &b[1])
    }
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn blend(mask: __mmask8, a: &[Elem; 2], b: &[Elem; 2]) -> [Elem; 2] {
        [
            blend_elem(mask, &a[0], &b[0]),
            blend_elem(mask, &a[1], &b[1]),
        ]
    }
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn gather(base: *const i64, offsets: __m256i) -> [Elem; 2] {
        // SAFETY: the caller's (ten readable words per lane).
        unsafe {
            [
                gather_elem(base, offsets),
                gather_elem(base.add(LIMBS), offsets),
            ]
        }
    }
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn scatter(base: *mut i64, mask: __mmask8, offsets: __m256i, v: &[Elem; 2]) {
        // SAFETY: the caller's (ten writable words per lane).
        unsafe {
            scatter_elem(base, mask, offsets, &v[0]);
            scatter_elem(base.add(LIMBS), mask, offsets, &v[1]);
        }
    }
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn load(xs: &[Fq2; LANES]) -> [Elem; 2] {
        let f = lanes::fq();
        [f.load(&xs.map(|x| x.c0.0.0)), f.load(&xs.map(|x| x.c1.0.0))]
    }
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn store(x: &[Elem; 2]) -> [Fq2; LANES] {
        let f = lanes::fq();
        let (c0, c1) = (f.store(&x[0]), f.store(&x[1]));
        core::array::from_fn(|lane| {
            Fq2::new(
                Fq::new_unchecked(BigInt(c0[lane])),
                Fq::new_unchecked(BigInt(c1[lane])),
            )
        })
    }
}

/// The lane form of one MSM's points, for the curves that have one.
pub(super) enum Prepared<'s> {
    G1(Points<'s, G1Coords>),
    G2(Points<'s, G2Coords>),
}

/// Whether `P`'s affine buckets run on the lanes: it is G1 or G2 and the CPU has them.
pub(super) fn applies<P: SWCurveConfig>() -> bool {
    let id = TypeId::of::<P>();
    (id == TypeId::of::<g1::Config>() || id == TypeId::of::<g2::Config>()) && lanes::available()
}

impl<'s> Prepared<'s> {
    /// The lane form of `bases`' points with scalars above 1, when `P` is BN254's G1 or G2
    /// and the CPU has the lane instructions; `None` otherwise.
    pub(super) fn new<P: SWCurveConfig>(
        bases: &[Affine<P>],
        scalars: &'s [ScalarBigInt<P>],
    ) -> Option<Self> {
        if !lanes::available() {
            return None;
        }
        Points::<G1Coords>::new(bases, scalars)
            .map(Self::G1)
            .or_else(|| Points::<G2Coords>::new(bases, scalars).map(Self::G2))
    }

    /// S_w = Σ_b (b + 1)·bucket_b for window `w` of `c` bits, with `batch` additions per
    /// inversion, as a point of `P` (the curve [`Self::new`] was given).
    pub(super) fn window_sum<P: SWCurveConfig>(
        &self,
        w: usize,
        c: usize,
        batch: usize,
    ) -> Projective<P> {
        let sum: Box<dyn Any> = match self {
            Self::G1(points) => Box::new(points.window_sum(w, c, batch)),
            Self::G2(points) => Box::new(points.window_sum(w, c, batch)),
        };
        *sum.downcast::<Projective<P>>()
            .expect("a Prepared holds the points of the MSM's own curve")
    }
}

/// The points of one MSM whose scalar goes through the windows (above 1, base finite), in
/// lane form (`2 * C::WORDS` words each: x, then y), with the index of each one's scalar.
pub(super) struct Points<'s, C: Coords> {
    words: Vec<u64>,
    scalar_of: Vec<u32>,
    scalars: &'s [ScalarBigInt<C::Curve>],
}

impl<'s, C: Coords> Points<'s, C> {
    fn new<P: SWCurveConfig>(bases: &[Affine<P>], scalars: &'s [ScalarBigInt<P>]) -> Option<Self> {
        if TypeId::of::<P>() != TypeId::of::<C::Curve>() {
            return None;
        }
        // SAFETY: `P` is `C::Curve` (same TypeId), so the element types are the same types
        // and these are the same slices.
        let (bases, scalars) = unsafe {
            (
                std::slice::from_raw_parts(bases.as_ptr().cast::<Affine<C::Curve>>(), bases.len()),
                std::slice::from_raw_parts(
                    scalars.as_ptr().cast::<ScalarBigInt<C::Curve>>(),
                    scalars.len(),
                ),
            )
        };
        let scalar_of: Vec<u32> = (0..bases.len().min(scalars.len()))
            .filter(|&i| !bases[i].infinity && scalars[i].num_bits() > 1)
            .map(|i| u32::try_from(i).expect("an MSM has fewer than 2^32 points"))
            .collect();
        let stride = 2 * C::WORDS;
        // Gathers address points by 32-bit word offsets.
        if scalar_of.len() * stride > i32::MAX as usize {
            return None;
        }
        let mut words = vec![0u64; scalar_of.len() * stride];
        words
            .par_chunks_mut(LANES * stride * 256)
            .zip(scalar_of.par_chunks(LANES * 256))
            .for_each(|(out, idx)| {
                for (out, idx) in out.chunks_mut(LANES * stride).zip(idx.chunks(LANES)) {
                    let points: [Affine<C::Curve>; LANES] = core::array::from_fn(|lane| {
                        idx.get(lane)
                            .map_or(Affine::identity(), |&i| bases[i as usize])
                    });
                    // SAFETY: `Prepared::new` checked `lanes::available()`.
                    unsafe { to_lanes::<C>(&points[..idx.len()], out) };
                }
            });
        Some(Self {
            words,
            scalar_of,
            scalars,
        })
    }

    fn window_sum(&self, w: usize, c: usize, batch: usize) -> Projective<C::Curve> {
        let buckets = LaneBuckets::<C>::new(&self.words, c);
        let mut acc = super::BucketAccumulator::new(buckets, c, batch);
        for (i, &s) in self.scalar_of.iter().enumerate() {
            let d = booth_digit(self.scalars[s as usize].as_ref(), w, c);
            if d != 0 {
                // Bit 0 marks a negated point; there are fewer than 2^31 points.
                acc.push(
                    d.unsigned_abs() as usize - 1,
                    ((i as u32) << 1) | u32::from(d < 0),
                );
            }
        }
        acc.finish()
    }
}

/// Writes `points` (finite, at most eight) in lane form to `out`, `2 * C::WORDS` words each:
/// the mirror of [`from_lanes`], scattering where that gathers.
#[target_feature(enable = "avx512f,avx512ifma")]
fn to_lanes<C: Coords>(points: &[Affine<C::Curve>], out: &mut [u64]) {
    let stride = 2 * C::WORDS;
    let n = points.len();
    assert!(
        n <= LANES && out.len() >= n * stride,
        "room for up to eight points"
    );
    let pick = |f: fn(&Affine<C::Curve>) -> Base<C>| -> [Base<C>; LANES] {
        core::array::from_fn(|lane| points.get(lane).map_or(Base::<C>::ZERO, f))
    };
    let offsets: [i32; LANES] = core::array::from_fn(|lane| (lane * stride) as i32);
    let write = ((1u16 << n) - 1) as __mmask8;
    // SAFETY: the CPU has the features (this function's own); only the first `n` lanes
    // write, each its own `stride` words of `out`, which has room for them.
    unsafe {
        let x = C::canonical(&C::load(&pick(|p| p.x)));
        let y = C::canonical(&C::load(&pick(|p| p.y)));
        let at = _mm256_loadu_si256(offsets.as_ptr().cast());
        let base = out.as_mut_ptr().cast::<i64>();
        C::scatter(base, write, at, &x);
        C::scatter(base.add(C::WORDS), write, at, &y);
    }
}

/// Points in lane form (at most eight, `2 * C::WORDS` words each) as affine points.
#[target_feature(enable = "avx512f,avx512ifma")]
fn from_lanes<C: Coords>(words: &[u64]) -> Vec<Affine<C::Curve>> {
    let stride = 2 * C::WORDS;
    let n = words.len() / stride;
    assert!((1..=LANES).contains(&n), "from one to eight points");
    let offsets: [i32; LANES] = core::array::from_fn(|lane| (lane.min(n - 1) * stride) as i32);
    // SAFETY: every offset is that of one of the `n` points, whose words are readable.
    let (x, y) = unsafe {
        let at = _mm256_loadu_si256(offsets.as_ptr().cast());
        let base = words.as_ptr().cast::<i64>();
        (
            C::store(&C::gather(base, at)),
            C::store(&C::gather(base.add(C::WORDS), at)),
        )
    };
    (0..n)
        .map(|lane| Affine::new_unchecked(x[lane], y[lane]))
        .collect()
}

/// One group of eight additions of a batch, between its two passes.
struct Group<C: Coords> {
    /// Word offsets of the eight buckets, for gathers and scatters.
    offsets: __m256i,
    ax: C::E,
    ay: C::E,
    qx: C::E,
    qy: C::E,
    /// The slope denominators (1 in lanes that do not divide).
    den: C::E,
    /// Product of the denominators of this lane's chain, up to and including this group.
    prefix: C::E,
    /// Lanes that add two distinct points, double one, or take the point into an empty
    /// bucket; lanes whose sum is the point at infinity.
    add: __mmask8,
    double: __mmask8,
    set: __mmask8,
    clear: __mmask8,
}

/// A window's buckets in lane form (see the module invariants).
pub(super) struct LaneBuckets<'a, C: Coords> {
    points: &'a [u64],
    /// `2 * C::WORDS` words per bucket.
    buckets: Vec<u64>,
    /// Bit b set: bucket b is empty.
    empty: Vec<u64>,
    groups: Vec<Group<C>>,
}

impl<'a, C: Coords> LaneBuckets<'a, C> {
    const STRIDE: usize = 2 * C::WORDS;

    fn new(points: &'a [u64], c: usize) -> Self {
        let count = 1usize << (c - 1);
        Self {
            points,
            buckets: vec![0; count * Self::STRIDE],
            empty: vec![!0; count.div_ceil(64)],
            groups: Vec::new(),
        }
    }

    fn is_empty(&self, bucket: usize) -> bool {
        self.empty[bucket / 64] >> (bucket % 64) & 1 == 1
    }

    fn set_empty(&mut self, bucket: usize, empty: bool) {
        let bit = 1u64 << (bucket % 64);
        if empty {
            self.empty[bucket / 64] |= bit;
        } else {
            self.empty[bucket / 64] &= !bit;
        }
    }

    /// Asks for bucket `b`'s cache lines.
    #[inline]
    fn prefetch(&self, b: u32) {
        let start = b as usize * Self::STRIDE;
        let words = &self.buckets[start..start + Self::STRIDE];
        for line in (0..Self::STRIDE).step_by(8).chain([Self::STRIDE - 1]) {
            // SAFETY: a prefetch does not fault; the address is inside bucket `b`.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(words.as_ptr().add(line).cast()) };
        }
    }

    /// Loads a group's operands, decides each lane's step and multiplies its denominators
    /// into `chain`.
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn load_group(&self, pending: &[Pending<u32>], chain: &mut C::E) -> Group<C> {
        let n = pending.len();
        debug_assert!((1..=LANES).contains(&n));
        // Lanes past `n` repeat the first addition (valid addresses) and are masked out.
        let lane = |j: usize| &pending[if j < n { j } else { 0 }];
        let valid: __mmask8 = ((1u16 << n) - 1) as __mmask8;
        let stride = Self::STRIDE as i32;
        let bucket_offsets: [i32; LANES] = core::array::from_fn(|j| lane(j).bucket as i32 * stride);
        let point_offsets: [i32; LANES] =
            core::array::from_fn(|j| (lane(j).point >> 1) as i32 * stride);
        let mut negate: __mmask8 = 0;
        let mut empty: __mmask8 = 0;
        for (j, e) in pending.iter().enumerate() {
            negate |= ((e.point & 1) as u8) << j;
            empty |= u8::from(self.is_empty(e.bucket as usize)) << j;
        }
        // SAFETY: the offsets are those of buckets and points that exist, each followed by
        // its `STRIDE` words; the CPU has the features (this function's own).
        let (offsets, ax, ay, qx, mut qy) = unsafe {
            let offsets = _mm256_loadu_si256(bucket_offsets.as_ptr().cast());
            let at = _mm256_loadu_si256(point_offsets.as_ptr().cast());
            let buckets = self.buckets.as_ptr().cast::<i64>();
            let points = self.points.as_ptr().cast::<i64>();
            (
                offsets,
                C::gather(buckets, offsets),
                C::gather(buckets.add(C::WORDS), offsets),
                C::gather(points, at),
                C::gather(points.add(C::WORDS), at),
            )
        };
        // SAFETY: the CPU has the features (this function's own).
        unsafe {
            if negate != 0 {
                qy = C::blend(negate, &qy, &C::neg_canonical(&qy));
            }
            let (x_equal, y_equal) = (C::equal(&ax, &qx), C::equal(&ay, &qy));
            let set = valid & empty;
            let live = valid & !empty;
            let add = live & !x_equal;
            let double = live & x_equal & y_equal;
            let clear = live & x_equal & !y_equal;
            let mut den = C::blend(add, &C::one(), &C::sub(&qx, &ax));
            if double != 0 {
                den = C::blend(double, &den, &C::add(&ay, &ay));
            }
            *chain = C::mul(chain, &den);
            Group {
                offsets,
                ax,
                ay,
                qx,
                qy,
                den,
                prefix: *chain,
                add,
                double,
                set,
                clear,
            }
        }
    }

    /// Finishes a group given the inverses of its lanes' denominators, writing the sums.
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn finish_group(&mut self, g: &Group<C>, inv_den: &C::E, pending: &[Pending<u32>]) {
        let write = g.add | g.double | g.set;
        // SAFETY: the CPU has the features (this function's own); the offsets were gathered
        // from in `load_group` (existing buckets), and the buckets of one batch are
        // distinct, so the lanes write disjoint words.
        unsafe {
            let mut num = C::sub(&g.qy, &g.ay);
            if g.double != 0 {
                // The tangent's slope 3x² / 2y (a = 0).
                let xx = C::square(&g.ax);
                num = C::blend(g.double, &num, &C::add(&C::add(&xx, &xx), &xx));
            }
            let lambda = C::mul(&num, inv_den);
            let x3 = C::sub(&C::sub(&C::square(&lambda), &g.ax), &g.qx);
            let y3 = C::sub(&C::mul(&lambda, &C::sub(&g.ax, &x3)), &g.ay);
            let x = C::blend(g.set, &C::canonical(&x3), &g.qx);
            let y = C::blend(g.set, &C::canonical(&y3), &g.qy);
            let base = self.buckets.as_mut_ptr().cast::<i64>();
            C::scatter(base, write, g.offsets, &x);
            C::scatter(base.add(C::WORDS), write, g.offsets, &y);
        }
        for (j, e) in pending.iter().enumerate() {
            let bit = 1u8 << j;
            if write & bit != 0 {
                self.set_empty(e.bucket as usize, false);
            } else if g.clear & bit != 0 {
                self.set_empty(e.bucket as usize, true);
            }
        }
    }

    #[target_feature(enable = "avx512f,avx512ifma")]
    fn apply_lanes(&mut self, pending: &[Pending<u32>]) {
        let mut groups = std::mem::take(&mut self.groups);
        groups.clear();
        // SAFETY (every `C::` call below): the CPU has the features (this function's own).
        let mut chain = unsafe { C::one() };
        // Bucket reads miss the cache (the buckets are random and larger than L2), so each
        // group's buckets are requested a few groups ahead of their gathers.
        const AHEAD: usize = 4 * LANES;
        for e in pending.iter().take(AHEAD) {
            self.prefetch(e.bucket);
        }
        for (g, chunk) in pending.chunks(LANES).enumerate() {
            for e in pending.iter().skip(g * LANES + AHEAD).take(LANES) {
                self.prefetch(e.bucket);
            }
            groups.push(self.load_group(chunk, &mut chain));
        }
        // The eight chains' products, inverted together (each is nonzero: a product of
        // nonzero denominators and ones).
        let mut products = unsafe { C::store(&chain) };
        ark_ff::batch_inversion(&mut products);
        let mut inv = unsafe { C::load(&products) };
        for (g, chunk) in pending.chunks(LANES).enumerate().rev() {
            // Here inv = 1 / Π of each chain's denominators up to group g; peel group g's off.
            let inv_den = if g == 0 {
                inv
            } else {
                unsafe { C::mul(&inv, &groups[g - 1].prefix) }
            };
            inv = unsafe { C::mul(&inv, &groups[g].den) };
            self.finish_group(&groups[g], &inv_den, chunk);
        }
        self.groups = groups;
    }
}

impl<C: Coords> BucketArray<C::Curve> for LaneBuckets<'_, C> {
    /// `index << 1 | negated`, `index` into the prepared points.
    type Point = u32;

    fn apply(&mut self, pending: &[Pending<u32>]) {
        // SAFETY: `LaneBuckets` exist only where `lanes::available()` held.
        unsafe { self.apply_lanes(pending) }
    }

    fn point(&self, q: u32) -> Affine<C::Curve> {
        let start = (q >> 1) as usize * Self::STRIDE;
        // SAFETY: as in `apply`.
        let p = unsafe { from_lanes::<C>(&self.points[start..start + Self::STRIDE]) }[0];
        if q & 1 == 1 { -p } else { p }
    }

    fn into_affine(self) -> Vec<Affine<C::Curve>> {
        let mut out = Vec::with_capacity(self.buckets.len() / Self::STRIDE);
        for (i, chunk) in self.buckets.chunks(LANES * Self::STRIDE).enumerate() {
            // SAFETY: as in `apply`.
            let points = unsafe { from_lanes::<C>(chunk) };
            for (j, p) in points.into_iter().enumerate() {
                out.push(if self.is_empty(i * LANES + j) {
                    Affine::identity()
                } else {
                    p
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::{Field, PrimeField, UniformRand, Zero};
    use proptest::prelude::*;

    fn fq2(c0: [u64; 4], c1: [u64; 4]) -> Fq2 {
        // Any 256-bit words, reduced modulo p.
        let fq = |w: [u64; 4]| Fq::from_le_bytes_mod_order(&BigInt(w).to_bytes_le());
        Fq2::new(fq(c0), fq(c1))
    }

    /// Fq2 products, squares and negations on the lanes match arkworks', zero components
    /// and the largest element included.
    fn check_fq2(a: [Fq2; LANES], b: [Fq2; LANES]) {
        // SAFETY: the caller checked the features.
        let (mul, square, neg, round) = unsafe {
            let (x, y) = (G2Coords::load(&a), G2Coords::load(&b));
            (
                G2Coords::store(&G2Coords::mul(&x, &y)),
                G2Coords::store(&G2Coords::square(&x)),
                G2Coords::store(&G2Coords::neg_canonical(&G2Coords::canonical(&x))),
                G2Coords::store(&G2Coords::canonical(&x)),
            )
        };
        for lane in 0..LANES {
            assert_eq!(mul[lane], a[lane] * b[lane]);
            assert_eq!(square[lane], a[lane].square());
            assert_eq!(neg[lane], -a[lane]);
            assert_eq!(round[lane], a[lane]);
        }
    }

    #[test]
    fn fq2_edge_values() {
        if !lanes::available() {
            return;
        }
        let m1 = -Fq::ONE;
        let edges = [
            Fq2::zero(),
            Fq2::ONE,
            Fq2::new(Fq::zero(), Fq::ONE),
            Fq2::new(m1, Fq::zero()),
            Fq2::new(Fq::zero(), m1),
            Fq2::new(m1, m1),
            Fq2::new(Fq::ONE, m1),
            Fq2::new(Fq::from(2u64), Fq::zero()),
        ];
        let mut rotated = edges;
        for _ in 0..LANES {
            check_fq2(edges, rotated);
            rotated.rotate_left(1);
        }
    }

    proptest! {
        #[test]
        fn fq2_matches_arkworks(words in proptest::collection::vec(any::<[u64; 4]>(), 4 * LANES)) {
            if lanes::available() {
                let a = core::array::from_fn(|i| fq2(words[2 * i], words[2 * i + 1]));
                let b = core::array::from_fn(|i| fq2(words[16 + 2 * i], words[17 + 2 * i]));
                check_fq2(a, b);
            }
        }
    }

    /// The MSM takes the lane path for both groups (so the MSM tests test it) and keeps
    /// exactly the points with scalars above 1 and finite bases.
    #[test]
    fn g1_and_g2_points_go_to_the_lanes() {
        if !lanes::available() {
            return;
        }
        let mut rng = ark_std::test_rng();
        let scalars: Vec<_> = [0u64, 1, 2, 5, 1, 7]
            .map(|s| ark_bn254::Fr::from(s).into_bigint())
            .into_iter()
            .chain([ark_bn254::Fr::rand(&mut rng).into_bigint()])
            .collect();
        let mut g1s: Vec<ark_bn254::G1Affine> = (0..7)
            .map(|_| ark_bn254::G1Affine::rand(&mut rng))
            .collect();
        g1s[3] = Affine::identity();
        let g2s: Vec<ark_bn254::G2Affine> = (0..7)
            .map(|_| ark_bn254::G2Affine::rand(&mut rng))
            .collect();
        let Some(Prepared::G1(p1)) = Prepared::new(&g1s, &scalars) else {
            panic!("G1 takes the lanes");
        };
        assert_eq!(p1.scalar_of, [2, 5, 6]);
        let Some(Prepared::G2(p2)) = Prepared::new(&g2s, &scalars) else {
            panic!("G2 takes the lanes");
        };
        assert_eq!(p2.scalar_of, [2, 3, 5, 6]);
        // The lane form converts back to the same points.
        let buckets = LaneBuckets::<G2Coords>::new(&p2.words, 2);
        for (i, &s) in p2.scalar_of.iter().enumerate() {
            assert_eq!(buckets.point((i as u32) << 1), g2s[s as usize]);
            assert_eq!(buckets.point(((i as u32) << 1) | 1), -g2s[s as usize]);
        }
    }
}
