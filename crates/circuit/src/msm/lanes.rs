//! BN254 G1 bucket additions on eight lanes (AVX-512 IFMA): the arithmetic of [`super::msm`]'s
//! affine buckets when the points are G1's and the CPU has the lane instructions.
//!
//! Owns [`Prepared`], the lane form of one MSM's points, and [`LaneBuckets`], a window's
//! buckets in that form. A batch of additions runs as groups of eight: the slope
//! denominators of a group are multiplied into eight running products, one lane each (eight
//! interleaved Montgomery chains instead of one), the eight products are inverted together,
//! and the chord formulas run on all eight additions of a group at once.
//!
//! Invariants:
//! - Coordinates are stored as five 52-bit limbs of `x * 2^260 mod p`, *canonical* (below
//!   p), so that two coordinates are equal as field elements exactly when their limbs are:
//!   the step of an addition (add, double, set, clear) is decided by comparing limbs.
//! - A bucket's limbs mean something only when its `empty` bit is clear; an empty bucket is
//!   the point at infinity.
//! - Within one batch every bucket appears at most once (the accumulator's busy bitmap), so
//!   the scattered results of a group never collide.
//! - G1 has prime order, so no point has y = 0: negation never meets a zero coordinate and
//!   a doubling's denominator 2y is never zero.

use super::{BucketArray, Pending, ScalarBigInt, booth_digit};
use ark_bn254::{Fq, G1Affine, G1Projective, g1};
use ark_ec::short_weierstrass::{Affine, Projective, SWCurveConfig};
use ark_ff::{BigInt, BigInteger, Field};
use causeway_crypto::lanes::{self, Elem, Field52, LANES, LIMBS};
use core::arch::x86_64::{
    __m256i, __mmask8, _MM_HINT_T0, _mm_prefetch, _mm256_loadu_si256, _mm512_cmpeq_epi64_mask,
    _mm512_i32gather_epi64, _mm512_mask_blend_epi64, _mm512_mask_i32scatter_epi64,
    _mm512_storeu_si512,
};
use rayon::prelude::*;
use std::any::TypeId;

/// One point in lane form: x's limbs, then y's.
type LimbPoint = [u64; 2 * LIMBS];

/// The points of one MSM whose scalar goes through the windows (above 1, base finite), in
/// lane form, with the index of each one's scalar.
pub(super) struct Prepared<'s> {
    points: Vec<LimbPoint>,
    scalar_of: Vec<u32>,
    scalars: &'s [ScalarBigInt<g1::Config>],
}

impl<'s> Prepared<'s> {
    /// The lane form of `bases`' points with scalars above 1, when `P` is BN254's G1 and the
    /// CPU has the lane instructions; `None` otherwise.
    pub(super) fn new<P: SWCurveConfig>(
        bases: &[Affine<P>],
        scalars: &'s [ScalarBigInt<P>],
    ) -> Option<Self> {
        if TypeId::of::<P>() != TypeId::of::<g1::Config>() || !lanes::available() {
            return None;
        }
        // SAFETY: `P` is `g1::Config` (same TypeId), so the slices' element types are the
        // same types and these are the same slices.
        let (bases, scalars) = unsafe {
            (
                std::slice::from_raw_parts(bases.as_ptr().cast::<G1Affine>(), bases.len()),
                std::slice::from_raw_parts(
                    scalars.as_ptr().cast::<ScalarBigInt<g1::Config>>(),
                    scalars.len(),
                ),
            )
        };
        let scalar_of: Vec<u32> = (0..bases.len().min(scalars.len()))
            .filter(|&i| !bases[i].infinity && scalars[i].num_bits() > 1)
            .map(|i| u32::try_from(i).expect("an MSM has fewer than 2^32 points"))
            .collect();
        let mut points = vec![[0u64; 2 * LIMBS]; scalar_of.len()];
        points
            .par_chunks_mut(LANES * 256)
            .zip(scalar_of.par_chunks(LANES * 256))
            .for_each(|(out, idx)| {
                for (out, idx) in out.chunks_mut(LANES).zip(idx.chunks(LANES)) {
                    let affine: Vec<G1Affine> = idx.iter().map(|&i| bases[i as usize]).collect();
                    // SAFETY: `lanes::available()` was checked above.
                    unsafe { to_lanes(lanes::fq(), &affine, out) };
                }
            });
        Some(Self {
            points,
            scalar_of,
            scalars,
        })
    }

    /// S_w = Σ_b (b + 1)·bucket_b for window `w` of `c` bits, with `batch` additions per
    /// inversion, as a point of `P` (which is G1: [`Self::new`] checked it).
    pub(super) fn window_sum<P: SWCurveConfig>(
        &self,
        w: usize,
        c: usize,
        batch: usize,
    ) -> Projective<P> {
        let mut acc = super::BucketAccumulator::new(LaneBuckets::new(&self.points, c), c, batch);
        for (i, &s) in self.scalar_of.iter().enumerate() {
            let d = booth_digit(self.scalars[s as usize].as_ref(), w, c);
            if d != 0 {
                // Bit 0 marks a negated point; `points` has fewer than 2^31 entries.
                acc.push(
                    d.unsigned_abs() as usize - 1,
                    ((i as u32) << 1) | u32::from(d < 0),
                );
            }
        }
        let sum: G1Projective = acc.finish();
        *(Box::new(sum) as Box<dyn std::any::Any>)
            .downcast::<Projective<P>>()
            .expect("Prepared exists only for G1")
    }
}

/// Writes `points` (finite, at most eight) in lane form to `out`.
#[target_feature(enable = "avx512f,avx512ifma")]
fn to_lanes(f: &Field52, points: &[G1Affine], out: &mut [LimbPoint]) {
    let mut xs = [[0u64; 4]; LANES];
    let mut ys = [[0u64; 4]; LANES];
    for (lane, p) in points.iter().enumerate() {
        xs[lane] = p.x.0.0;
        ys[lane] = p.y.0.0;
    }
    let x = unpack(&f.canonical(&f.load(&xs)));
    let y = unpack(&f.canonical(&f.load(&ys)));
    for (lane, o) in out.iter_mut().enumerate() {
        o[..LIMBS].copy_from_slice(&x[lane]);
        o[LIMBS..].copy_from_slice(&y[lane]);
    }
}

/// Points in lane form (at most eight) as affine points.
#[target_feature(enable = "avx512f,avx512ifma")]
fn from_lanes(f: &Field52, points: &[LimbPoint]) -> Vec<G1Affine> {
    let column = |offset: usize| -> [[u64; LANES]; LIMBS] {
        core::array::from_fn(|k| {
            core::array::from_fn(|lane| points.get(lane).map_or(0, |p| p[offset + k]))
        })
    };
    let x = f.store(&f.load_limbs(&column(0)));
    let y = f.store(&f.load_limbs(&column(LIMBS)));
    (0..points.len())
        .map(|lane| {
            Affine::new_unchecked(
                Fq::new_unchecked(BigInt(x[lane])),
                Fq::new_unchecked(BigInt(y[lane])),
            )
        })
        .collect()
}

/// The eight lanes' limbs of an element, lane by lane.
#[target_feature(enable = "avx512f,avx512ifma")]
fn unpack(x: &Elem) -> [[u64; LIMBS]; LANES] {
    let mut columns = [[0u64; LANES]; LIMBS];
    for (k, v) in x.iter().enumerate() {
        // SAFETY: each `[u64; 8]` is 64 writable bytes; the store is unaligned.
        unsafe { _mm512_storeu_si512(columns[k].as_mut_ptr().cast(), *v) };
    }
    core::array::from_fn(|lane| core::array::from_fn(|k| columns[k][lane]))
}

/// One group of eight additions of a batch, between its two passes.
struct Group {
    /// Limb offsets of the eight buckets (`bucket * 10`), for gathers and scatters.
    offsets: __m256i,
    ax: Elem,
    ay: Elem,
    qx: Elem,
    qy: Elem,
    /// The slope denominators (1 in lanes that do not divide).
    den: Elem,
    /// Product of the denominators of this lane's chain, up to and including this group.
    prefix: Elem,
    /// Lanes that add two distinct points, double one, or take the point into an empty
    /// bucket; lanes whose sum is the point at infinity.
    add: __mmask8,
    double: __mmask8,
    set: __mmask8,
    clear: __mmask8,
}

/// A window's buckets in lane form (see the module invariants).
pub(super) struct LaneBuckets<'a> {
    field: &'static Field52,
    /// 1 in lane form, the denominator of lanes that do not divide.
    one: [u64; LIMBS],
    points: &'a [LimbPoint],
    buckets: Vec<LimbPoint>,
    /// Bit b set: bucket b is empty.
    empty: Vec<u64>,
    groups: Vec<Group>,
}

impl<'a> LaneBuckets<'a> {
    fn new(points: &'a [LimbPoint], c: usize) -> Self {
        let count = 1usize << (c - 1);
        let field = lanes::fq();
        Self {
            field,
            one: field.constant(Fq::ONE),
            points,
            buckets: vec![[0; 2 * LIMBS]; count],
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

    /// Asks for bucket `b`'s two cache lines.
    #[inline]
    fn prefetch(&self, b: u32) {
        let p = self.buckets[b as usize].as_ptr().cast::<i8>();
        // SAFETY: a prefetch does not fault; the addresses are inside bucket `b` (80 bytes).
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(p);
            _mm_prefetch::<_MM_HINT_T0>(p.add(72));
        }
    }

    /// Loads a group's operands and decides each lane's step; returns the group and the
    /// product of its denominators into `chain`.
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn load_group(&self, pending: &[Pending<u32>], chain: &mut Elem) -> Group {
        let f = self.field;
        let n = pending.len();
        debug_assert!((1..=LANES).contains(&n));
        // Lanes past `n` repeat the first addition (valid addresses) and are masked out.
        let lane = |j: usize| &pending[if j < n { j } else { 0 }];
        let valid: __mmask8 = ((1u16 << n) - 1) as __mmask8;
        let bucket_offsets: [i32; LANES] =
            core::array::from_fn(|j| (lane(j).bucket as i32) * (2 * LIMBS) as i32);
        let point_offsets: [i32; LANES] =
            core::array::from_fn(|j| ((lane(j).point >> 1) as i32) * (2 * LIMBS) as i32);
        let mut negate: __mmask8 = 0;
        let mut empty: __mmask8 = 0;
        for (j, e) in pending.iter().enumerate() {
            negate |= ((e.point & 1) as u8) << j;
            empty |= u8::from(self.is_empty(e.bucket as usize)) << j;
        }
        // SAFETY: the offsets are those of buckets and points that exist (indices below the
        // lengths, times the limbs per point, plus a limb below 10), 8-byte elements.
        let (offsets, ax, ay, qx, mut qy) = unsafe {
            let offsets = _mm256_loadu_si256(bucket_offsets.as_ptr().cast());
            let points = _mm256_loadu_si256(point_offsets.as_ptr().cast());
            let buckets = self.buckets.as_ptr().cast::<i64>();
            let base = self.points.as_ptr().cast::<i64>();
            let gather = |from: *const i64, at: __m256i, limb: usize| -> Elem {
                core::array::from_fn(|k| _mm512_i32gather_epi64::<8>(at, from.add(limb + k)))
            };
            (
                offsets,
                gather(buckets, offsets, 0),
                gather(buckets, offsets, LIMBS),
                gather(base, points, 0),
                gather(base, points, LIMBS),
            )
        };
        if negate != 0 {
            let negated = f.canonical(&f.neg(&qy));
            qy = blend(negate, &qy, &negated);
        }
        let (x_equal, y_equal) = (equal(&ax, &qx), equal(&ay, &qy));
        let set = valid & empty;
        let live = valid & !empty;
        let add = live & !x_equal;
        let double = live & x_equal & y_equal;
        let clear = live & x_equal & !y_equal;
        let one = f.splat(&self.one);
        let mut den = blend(add, &one, &f.sub(&qx, &ax));
        if double != 0 {
            den = blend(double, &den, &f.add(&ay, &ay));
        }
        *chain = f.mul(chain, &den);
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

    /// Finishes a group given the inverses of its lanes' denominators, writing the sums.
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn finish_group(&mut self, g: &Group, inv_den: &Elem, pending: &[Pending<u32>]) {
        let f = self.field;
        let mut num = f.sub(&g.qy, &g.ay);
        if g.double != 0 {
            // The tangent's slope 3x² / 2y (G1's a is 0).
            let xx = f.square(&g.ax);
            num = blend(g.double, &num, &f.add(&f.add(&xx, &xx), &xx));
        }
        let lambda = f.mul(&num, inv_den);
        let x3 = f.sub(&f.sub(&f.square(&lambda), &g.ax), &g.qx);
        let y3 = f.sub(&f.mul(&lambda, &f.sub(&g.ax, &x3)), &g.ay);
        let x = blend(g.set, &f.canonical(&x3), &g.qx);
        let y = blend(g.set, &f.canonical(&y3), &g.qy);
        let write = g.add | g.double | g.set;
        // SAFETY: the offsets were gathered from in `load_group` (existing buckets); the
        // buckets of one batch are distinct, so the lanes write disjoint limbs.
        unsafe {
            let base = self.buckets.as_mut_ptr().cast::<i64>();
            for k in 0..LIMBS {
                _mm512_mask_i32scatter_epi64::<8>(base.add(k), write, g.offsets, x[k]);
                _mm512_mask_i32scatter_epi64::<8>(base.add(LIMBS + k), write, g.offsets, y[k]);
            }
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
        let f = self.field;
        let mut groups = std::mem::take(&mut self.groups);
        groups.clear();
        let mut chain = f.splat(&self.one);
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
        let mut inverses: Vec<Fq> = f
            .store(&chain)
            .into_iter()
            .map(|limbs| Fq::new_unchecked(BigInt(limbs)))
            .collect();
        ark_ff::batch_inversion(&mut inverses);
        let mut inv = f.load(&core::array::from_fn(|lane| inverses[lane].0.0));
        for (g, chunk) in pending.chunks(LANES).enumerate().rev() {
            // Here inv = 1 / Π of each chain's denominators up to group g; peel group g's off.
            let inv_den = if g == 0 {
                inv
            } else {
                f.mul(&inv, &groups[g - 1].prefix)
            };
            inv = f.mul(&inv, &groups[g].den);
            self.finish_group(&groups[g], &inv_den, chunk);
        }
        self.groups = groups;
    }
}

impl BucketArray<g1::Config> for LaneBuckets<'_> {
    /// `index << 1 | negated`, `index` into the prepared points.
    type Point = u32;

    fn apply(&mut self, pending: &[Pending<u32>]) {
        // SAFETY: `LaneBuckets` exist only where `lanes::available()` held.
        unsafe { self.apply_lanes(pending) }
    }

    fn point(&self, q: u32) -> G1Affine {
        // SAFETY: as in `apply`.
        let p = unsafe { from_lanes(self.field, &[self.points[(q >> 1) as usize]]) }[0];
        if q & 1 == 1 { -p } else { p }
    }

    fn into_affine(self) -> Vec<G1Affine> {
        let mut out = Vec::with_capacity(self.buckets.len());
        for (i, chunk) in self.buckets.chunks(LANES).enumerate() {
            // SAFETY: as in `apply`.
            let points = unsafe { from_lanes(self.field, chunk) };
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

/// Lanes where all five limbs of `a` and `b` agree.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn equal(a: &Elem, b: &Elem) -> __mmask8 {
    (0..LIMBS).fold(!0, |m, k| m & _mm512_cmpeq_epi64_mask(a[k], b[k]))
}

/// `b` in the lanes of `mask`, `a` in the others.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn blend(mask: __mmask8, a: &Elem, b: &Elem) -> Elem {
    core::array::from_fn(|k| _mm512_mask_blend_epi64(mask, a[k], b[k]))
}
