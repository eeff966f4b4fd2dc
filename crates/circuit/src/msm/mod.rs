//! Multi-scalar multiplication (Σ sᵢ·Pᵢ) over short Weierstrass curves, for the Groth16 prover.
//!
//! Owns [`msm`], a drop-in for arkworks' `VariableBaseMSM::msm_bigint` (same inputs, same
//! result, the shorter of the two slices wins) that is faster on the prover's inputs:
//! - Pippenger with signed (Booth-recoded) window digits, so a window of `c` bits needs only
//!   2^(c−1) buckets and each digit depends on `c + 1` scalar bits alone (no carry chain, so
//!   windows are independent and need no precomputed digit table);
//! - buckets are kept in affine coordinates and added to in batches that share one field
//!   inversion (Montgomery's trick): ~6 multiplications per addition instead of ~11 for
//!   arkworks' mixed Jacobian addition. Small inputs, whose batches could not amortise an
//!   inversion, use Jacobian buckets instead;
//! - on a CPU with AVX-512 IFMA, G1's and G2's affine buckets live in lane form and a
//!   batch's additions run eight at a time (`lanes`: eight interleaved Montgomery chains per
//!   inversion, Fq2 as three lane products);
//! - zero scalars cost nothing and scalars equal to 1 (R1CS bits) are summed once, apart from
//!   the windows, instead of piling into one bucket;
//! - windows run in parallel on rayon's pool, and the window size is chosen by a cost model
//!   that counts rounds of windows per thread.
//!
//! Invariants the batched affine buckets rely on:
//! - a bucket has at most one pending (not yet applied) addition; another addition to it
//!   waits in a queue and is retried once the batch is applied, or, when skewed digits
//!   (small or repeated scalars) overflow the queue while the batch stays small, is spilled
//!   and added in Jacobian coordinates during the bucket reduction;
//! - only additions with a nonzero slope denominator go into the batch's product: an empty
//!   bucket, P + (−P) and doubling a point with y = 0 are settled without a division, and
//!   points at infinity are never added;
//! - the result equals Σ sᵢ·Pᵢ over the integers for any `BigInt` scalars (the number of
//!   windows follows the largest scalar's bit length), so scalars need not be reduced.
//!
//! Like arkworks' MSM this is not constant-time: running time and memory accesses depend on
//! the scalars.

use ark_ec::short_weierstrass::{Affine, Projective, SWCurveConfig};
use ark_ff::{AdditiveGroup, BigInteger, Field, PrimeField, Zero};
use rayon::prelude::*;

#[cfg(target_arch = "x86_64")]
mod lanes;

/// The scalar type `msm` takes: the scalar field's integer representation.
pub type ScalarBigInt<P> = <<P as ark_ec::CurveConfig>::ScalarField as PrimeField>::BigInt;

/// Largest window size tried: buckets for c = 20 are 2^19 affine points (~37 MB in G1), past
/// which bucket accesses leave the cache and the reduction outweighs the saved windows.
const MAX_WINDOW: usize = 20;

/// Upper bound on additions applied per inversion: past ~2000 the inversion (~250
/// multiplications) is amortised to nothing, and larger batches only add conflicts (two
/// additions to one bucket) and scratch memory.
const MAX_BATCH: usize = 2048;

/// Fewest additions worth an inversion (~250 multiplications) when conflicts keep a batch
/// from filling: below this, spilled Jacobian additions are cheaper.
const MIN_BATCH: usize = 64;

/// How a window's buckets are accumulated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Buckets {
    /// Jacobian buckets, one mixed addition per point: for small inputs, where batches would
    /// be too small to amortise an inversion.
    Jacobian,
    /// Affine buckets, `batch` additions per inversion.
    Affine { batch: usize },
}

/// `Σ scalars[i]·bases[i]` over the first `min(bases.len(), scalars.len())` pairs, equal to
/// arkworks' `VariableBaseMSM::msm_bigint`. Scalars are taken as integers (they need not be
/// reduced); bases may be the point at infinity. Runs on the current rayon pool; besides the
/// inputs it allocates one bucket array per window in flight (2^(c−1) affine points, ~2.4 MB
/// for G1 at c = 16) and a copy of the bases whose scalar is 1.
pub fn msm<P: SWCurveConfig>(bases: &[Affine<P>], scalars: &[ScalarBigInt<P>]) -> Projective<P> {
    let n = bases.len().min(scalars.len());
    let (bases, scalars) = (&bases[..n], &scalars[..n]);
    let (num_bits, general) = scalar_stats(scalars);
    let threads = rayon::current_num_threads();
    #[cfg(target_arch = "x86_64")]
    let on_lanes = lanes::applies::<P>();
    #[cfg(not(target_arch = "x86_64"))]
    let on_lanes = false;
    let (c, buckets) = plan(general, num_bits, threads, size_of::<Affine<P>>(), on_lanes);
    msm_with_window(bases, scalars, c, buckets, num_bits)
}

/// The largest scalar's bit length and how many scalars exceed 1 (those that go through the
/// windows), in one parallel pass.
fn scalar_stats<B: BigInteger>(scalars: &[B]) -> (usize, usize) {
    scalars
        .par_iter()
        .fold(
            || (0usize, 0usize),
            |(bits, general), s| {
                let b = s.num_bits() as usize;
                (bits.max(b), general + usize::from(b > 1))
            },
        )
        .reduce(|| (0, 0), |a, b| (a.0.max(b.0), a.1 + b.1))
}

/// Window size and bucket kind minimising a cost model in field multiplications, for
/// `points` scalars through the windows and affine points of `point_bytes` bytes, with the
/// affine additions on the lanes or not. Per window: each point costs ~13 as a mixed Jacobian
/// addition, or as a batched affine one ~8 (~4 on the lanes) plus a share of the batch's
/// inversion (~250) plus ~0.5 per doubling of the bucket array past 1 MiB (bucket reads leave
/// the L2 cache); each bucket costs ~27 (affine) or ~32 (Jacobian) in the reduction. Windows
/// run `threads` at a time, so a count that leaves a thread idle in the last round is charged
/// a full round. Fitted to BN254 timings on the 2-core dev machines: in scalar code 16-bit
/// windows for 2^20 points, 15-bit for ~400k, in G1 and G2; on the lanes, where the reduction
/// weighs more against the cheaper additions, 15-bit windows for 2^20 G1 points and 13-bit
/// for 2^18 to 2^20 G2 points.
fn plan(
    points: usize,
    num_bits: usize,
    threads: usize,
    point_bytes: usize,
    on_lanes: bool,
) -> (usize, Buckets) {
    const ADD_JACOBIAN: f64 = 13.0;
    const ADD_AFFINE: f64 = 8.0;
    const ADD_AFFINE_LANES: f64 = 4.0;
    const CACHE_PENALTY: f64 = 0.5;
    const INVERSION: f64 = 250.0;
    const REDUCE_JACOBIAN: f64 = 32.0;
    const REDUCE_AFFINE: f64 = 27.0;
    let threads = threads.max(1);
    let add_affine = if on_lanes {
        ADD_AFFINE_LANES
    } else {
        ADD_AFFINE
    };
    let cost = |c: usize, buckets: Buckets| {
        let rounds = (num_bits / c + 1).div_ceil(threads) as f64;
        let count = (1usize << (c - 1)) as f64;
        let points = points as f64;
        let window = match buckets {
            Buckets::Jacobian => points * ADD_JACOBIAN + count * REDUCE_JACOBIAN,
            Buckets::Affine { batch } => {
                let mib = count * point_bytes as f64 / f64::from(1 << 20);
                let add =
                    add_affine + INVERSION / batch as f64 + CACHE_PENALTY * mib.log2().max(0.0);
                points * add + count * REDUCE_AFFINE
            }
        };
        rounds * window
    };
    (2..=MAX_WINDOW)
        .flat_map(|c| {
            let batch = batch_size(c, on_lanes);
            [(c, Buckets::Jacobian), (c, Buckets::Affine { batch })]
        })
        .min_by(|&(c1, b1), &(c2, b2)| cost(c1, b1).total_cmp(&cost(c2, b2)))
        .expect("the range of window sizes is not empty")
}

/// Additions per inversion for window size `c`. A batch of k additions into B = 2^(c−1)
/// buckets meets ~k²/2B conflicts; B/16 keeps them around 3% of the batch. On the lanes the
/// additions are cheap enough that the inversion's share weighs more than the conflicts
/// (13-bit G2 windows: batches of B/4 took 15% less time than B/16), so B/4.
fn batch_size(c: usize, on_lanes: bool) -> usize {
    let divisor = if on_lanes { 4 } else { 16 };
    ((1usize << (c - 1)) / divisor).clamp(1, MAX_BATCH)
}

/// [`msm`] with window size `c` (2..=24) and the given buckets, for scalars of at most
/// `num_bits` bits.
fn msm_with_window<P: SWCurveConfig>(
    bases: &[Affine<P>],
    scalars: &[ScalarBigInt<P>],
    c: usize,
    buckets: Buckets,
    num_bits: usize,
) -> Projective<P> {
    assert!((2..=24).contains(&c), "window size {c} out of range");
    debug_assert_eq!(bases.len(), scalars.len());
    // Booth digits of window w read bit w·c + c − 1 as the sign, so that bit of the top
    // window must lie above every scalar's top bit: windows·c > num_bits.
    let windows = if num_bits <= 1 { 0 } else { num_bits / c + 1 };
    // G1's and G2's affine buckets run on the lanes when the CPU has them: the points go
    // to lane form once here, not once per window.
    #[cfg(target_arch = "x86_64")]
    let prepared = match buckets {
        Buckets::Affine { .. } if windows > 0 => lanes::Prepared::new(bases, scalars),
        _ => None,
    };
    // Task `windows` (the last) sums the points whose scalar is 1.
    let sums: Vec<Projective<P>> = (0..windows + 1)
        .into_par_iter()
        .with_max_len(1)
        .map(|task| {
            if task == windows {
                let ones: Vec<Affine<P>> = bases
                    .par_iter()
                    .zip(scalars)
                    .filter(|(p, s)| !p.infinity && is_one(s.as_ref()))
                    .map(|(p, _)| *p)
                    .collect();
                // In chunks, so that a thread that finishes its windows early can help.
                ones.par_chunks(1 << 14).map(sum_points).sum()
            } else {
                #[cfg(target_arch = "x86_64")]
                if let (Some(prepared), Buckets::Affine { batch }) = (&prepared, buckets) {
                    return prepared.window_sum(task, c, batch);
                }
                window_sum(bases, scalars, task, c, buckets)
            }
        })
        .collect();
    let (ones, window_sums) = sums.split_last().expect("the ones task is always present");
    // Horner from the top window: total = Σ_w 2^(w·c)·S_w.
    let mut total = Projective::<P>::zero();
    for sum in window_sums.iter().rev() {
        for _ in 0..c {
            total.double_in_place();
        }
        total += sum;
    }
    total + ones
}

/// Whether a little-endian limb array is the integer 1.
fn is_one(limbs: &[u64]) -> bool {
    limbs[0] == 1 && limbs[1..].iter().all(|&l| l == 0)
}

/// The signed digit of window `w`: d = raw + borrow − 2^c·top, where raw is bits
/// `[w·c, w·c + c)`, borrow is bit w·c − 1 (0 for w = 0) and top is bit w·c + c − 1. Summed
/// over windows the borrow and top terms telescope away, so Σ d_w·2^(w·c) = s, and
/// |d| ≤ 2^(c−1).
#[inline(always)]
fn booth_digit(limbs: &[u64], w: usize, c: usize) -> i64 {
    // c + 1 bits starting at w·c − 1; for w = 0 the missing borrow bit is a 0 shifted in.
    let v = if w == 0 {
        bits(limbs, 0, c) << 1
    } else {
        bits(limbs, w * c - 1, c + 1)
    };
    let borrow = (v & 1) as i64;
    let raw = (v >> 1) as i64;
    let top = (raw >> (c - 1)) & 1;
    raw + borrow - (top << c)
}

/// Bits `[start, start + len)` of a little-endian limb array (len ≤ 25), zero past its end.
#[inline(always)]
fn bits(limbs: &[u64], start: usize, len: usize) -> u64 {
    let (i, shift) = (start / 64, start % 64);
    let Some(&lo) = limbs.get(i) else {
        return 0;
    };
    let mut v = lo >> shift;
    if shift + len > 64
        && let Some(&hi) = limbs.get(i + 1)
    {
        v |= hi << (64 - shift);
    }
    v & ((1u64 << len) - 1)
}

/// The additions of window `w`: (bucket |d|−1, the point negated if d < 0) for each point
/// whose digit d is nonzero. The window's sum is S_w = Σ_b (b + 1)·bucket_b.
fn window_digits<'a, P: SWCurveConfig>(
    bases: &'a [Affine<P>],
    scalars: &'a [ScalarBigInt<P>],
    w: usize,
    c: usize,
) -> impl Iterator<Item = (usize, Affine<P>)> + 'a {
    scalars.iter().zip(bases).filter_map(move |(s, p)| {
        let limbs = s.as_ref();
        let d = booth_digit(limbs, w, c);
        // Scalars equal to 1 are summed by the ones task; here they would all hit bucket 0.
        if d == 0 || p.infinity || (w == 0 && d == 1 && is_one(limbs)) {
            return None;
        }
        let q = if d > 0 { *p } else { -*p };
        Some((d.unsigned_abs() as usize - 1, q))
    })
}

/// S_w = Σ_b (b + 1)·bucket_b for window `w`.
fn window_sum<P: SWCurveConfig>(
    bases: &[Affine<P>],
    scalars: &[ScalarBigInt<P>],
    w: usize,
    c: usize,
    buckets: Buckets,
) -> Projective<P> {
    let digits = window_digits(bases, scalars, w, c);
    match buckets {
        Buckets::Jacobian => jacobian_window_sum(digits, c),
        Buckets::Affine { batch } => {
            let mut acc = BucketAccumulator::new(AffineBuckets::<P>::new(c, batch), c, batch);
            for (bucket, q) in digits {
                acc.push(bucket, q);
            }
            acc.finish()
        }
    }
}

/// S_w with Jacobian buckets.
fn jacobian_window_sum<P: SWCurveConfig>(
    digits: impl Iterator<Item = (usize, Affine<P>)>,
    c: usize,
) -> Projective<P> {
    let mut buckets = vec![Projective::<P>::zero(); 1 << (c - 1)];
    for (bucket, q) in digits {
        buckets[bucket] += q;
    }
    let mut running = Projective::<P>::zero();
    let mut total = Projective::<P>::zero();
    for bucket in buckets.iter().rev() {
        running += bucket;
        total += &running;
    }
    total
}

/// One addition waiting for the batch's shared inversion: bucket += point (finite).
#[derive(Clone, Copy)]
struct Pending<T> {
    bucket: u32,
    point: T,
}

/// A window's affine buckets: where they live and how a batch of additions is applied to
/// them with one shared inversion.
trait BucketArray<P: SWCurveConfig> {
    /// What an addition carries: the point itself, or where to find it.
    type Point: Copy;
    /// Applies every addition of `pending`, whose buckets are distinct.
    fn apply(&mut self, pending: &[Pending<Self::Point>]);
    /// The point an addition adds, for the additions left to the reduction.
    fn point(&self, q: Self::Point) -> Affine<P>;
    /// Every bucket as an affine point (the point at infinity for an empty one).
    fn into_affine(self) -> Vec<Affine<P>>;
}

/// How a pending addition is carried out, decided when its batch is applied.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Distinct x: the chord's slope, denominator x_q − x_a.
    Add,
    /// Equal points: the tangent's slope, denominator 2·y.
    Double,
    /// Empty bucket: it becomes the point, no division.
    Set,
    /// The point is the bucket's negation (or both are one 2-torsion point): the sum is the
    /// point at infinity, no division.
    Clear,
}

impl Step {
    /// How a + q is computed (q finite, a possibly the point at infinity).
    #[inline]
    fn of<P: SWCurveConfig>(a: &Affine<P>, q: &Affine<P>) -> Self {
        if a.infinity {
            Step::Set
        } else if a.x != q.x {
            Step::Add
        } else if a.y == q.y && !a.y.is_zero() {
            Step::Double
        } else {
            Step::Clear
        }
    }

    /// The slope's denominator (nonzero), or `None` for the steps that do not divide.
    #[inline]
    fn denominator<P: SWCurveConfig>(self, a: &Affine<P>, q: &Affine<P>) -> Option<P::BaseField> {
        match self {
            Step::Add => Some(q.x - a.x),
            Step::Double => Some(a.y.double()),
            Step::Set | Step::Clear => None,
        }
    }

    /// a + q for a step that divides, given the inverse of its [`Step::denominator`].
    #[inline]
    fn divided_sum<P: SWCurveConfig>(
        self,
        a: &Affine<P>,
        q: &Affine<P>,
        inv_den: P::BaseField,
    ) -> Affine<P> {
        let num = if self == Step::Double {
            let xx = a.x.square();
            xx.double() + xx + P::COEFF_A
        } else {
            q.y - a.y
        };
        let lambda = num * inv_den;
        let x3 = lambda.square() - a.x - q.x;
        let y3 = lambda * (a.x - x3) - a.y;
        Affine::new_unchecked(x3, y3)
    }
}

/// A window's batched additions into the buckets of a [`BucketArray`] (see the module
/// invariants): which buckets are busy, what waits, what is left to the reduction.
struct BucketAccumulator<P: SWCurveConfig, B: BucketArray<P>> {
    buckets: B,
    /// Bit b set: bucket b has a pending addition.
    busy: Vec<u64>,
    pending: Vec<Pending<B::Point>>,
    /// Additions to buckets that were busy, retried after the batch is applied.
    queue: Vec<Pending<B::Point>>,
    retry: Vec<Pending<B::Point>>,
    /// Additions left to the reduction (Jacobian), when conflicts outpace the batches.
    spilled: Vec<Pending<B::Point>>,
    batch: usize,
    queue_cap: usize,
    curve: std::marker::PhantomData<P>,
}

impl<P: SWCurveConfig, B: BucketArray<P>> BucketAccumulator<P, B> {
    fn new(buckets: B, c: usize, batch: usize) -> Self {
        let batch = batch.max(1);
        Self {
            buckets,
            busy: vec![0; (1usize << (c - 1)).div_ceil(64)],
            pending: Vec::with_capacity(batch),
            queue: Vec::new(),
            retry: Vec::new(),
            spilled: Vec::new(),
            batch,
            // Random digits queue ~batch²/2^c (a few percent of the batch); a queue a quarter
            // the batch long means skewed digits, and retrying it costs at most a few offers
            // per applied addition.
            queue_cap: (batch / 4).max(16),
            curve: std::marker::PhantomData,
        }
    }

    /// bucket += q (q finite), applying the batch once it is full.
    #[inline]
    fn push(&mut self, bucket: usize, q: B::Point) {
        self.offer(Pending {
            bucket: bucket as u32,
            point: q,
        });
        if self.pending.len() >= self.batch {
            self.flush();
        } else if self.queue.len() >= self.queue_cap {
            // Skewed digits (small or repeated scalars) fill the queue before the batch.
            // A batch over the few buckets they hit still amortises its inversion well
            // enough; with fewer than that, a Jacobian addition in the reduction is cheaper.
            if self.pending.len() >= MIN_BATCH.min(self.batch) {
                self.flush();
            } else {
                self.spilled.append(&mut self.queue);
            }
        }
    }

    /// Adds an addition to the batch, or queues it if its bucket already has a pending
    /// addition. Touches only the small busy bitmap: the bucket itself is read when the
    /// batch is applied, where the reads of a whole batch are issued together and their
    /// cache misses overlap.
    #[inline]
    fn offer(&mut self, e: Pending<B::Point>) {
        let bucket = e.bucket as usize;
        let (word, bit) = (bucket / 64, 1u64 << (bucket % 64));
        if self.busy[word] & bit != 0 {
            self.queue.push(e);
            return;
        }
        self.busy[word] |= bit;
        self.pending.push(e);
    }

    /// Applies the batch, then offers the queued additions again.
    fn flush(&mut self) {
        self.apply();
        let mut retry = std::mem::take(&mut self.retry);
        std::mem::swap(&mut self.queue, &mut retry);
        for e in retry.drain(..) {
            self.offer(e);
        }
        self.retry = retry;
    }

    /// Applies all pending additions with one inversion.
    fn apply(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        self.buckets.apply(&self.pending);
        for e in &self.pending {
            let b = e.bucket as usize;
            self.busy[b / 64] &= !(1u64 << (b % 64));
        }
        self.pending.clear();
    }

    /// Σ_b (b + 1)·bucket_b, including spilled additions, by running sums from the top.
    fn finish(mut self) -> Projective<P> {
        self.flush();
        self.apply();
        self.spilled.append(&mut self.queue);
        // Descending by bucket, to meet them in the reduction's order.
        let mut spilled: Vec<(u32, Affine<P>)> = self
            .spilled
            .iter()
            .map(|e| (e.bucket, self.buckets.point(e.point)))
            .collect();
        spilled.sort_unstable_by_key(|&(b, _)| std::cmp::Reverse(b));
        let mut spilled = spilled.iter().peekable();
        let mut running = Projective::<P>::zero();
        let mut total = Projective::<P>::zero();
        for (b, bucket) in self.buckets.into_affine().iter().enumerate().rev() {
            if !bucket.infinity {
                running += bucket;
            }
            while let Some((_, q)) = spilled.next_if(|(sb, _)| *sb as usize == b) {
                running += q;
            }
            total += &running;
        }
        total
    }
}

/// Affine buckets as arkworks points, for any curve; the additions carry their points.
struct AffineBuckets<P: SWCurveConfig> {
    buckets: Vec<Affine<P>>,
    /// Scratch for `apply`, kept to reuse their allocations: the pending additions' buckets,
    /// their steps, and `prefix[i]` = Π of the denominators of `pending[..=i]`.
    gathered: Vec<Affine<P>>,
    steps: Vec<Step>,
    prefix: Vec<P::BaseField>,
}

impl<P: SWCurveConfig> AffineBuckets<P> {
    fn new(c: usize, batch: usize) -> Self {
        Self {
            buckets: vec![Affine::identity(); 1usize << (c - 1)],
            gathered: Vec::with_capacity(batch),
            steps: Vec::with_capacity(batch),
            prefix: Vec::with_capacity(batch),
        }
    }
}

impl<P: SWCurveConfig> BucketArray<P> for AffineBuckets<P> {
    type Point = Affine<P>;

    fn apply(&mut self, pending: &[Pending<Affine<P>>]) {
        // A loop doing nothing but loads, so that many bucket misses are in flight at once.
        let buckets = &self.buckets;
        self.gathered.clear();
        self.gathered
            .extend(pending.iter().map(|e| buckets[e.bucket as usize]));

        self.steps.clear();
        self.prefix.clear();
        let mut product = P::BaseField::ONE;
        for (a, e) in self.gathered.iter().zip(pending) {
            let step = Step::of(a, &e.point);
            if let Some(den) = step.denominator(a, &e.point) {
                product *= den;
            }
            self.steps.push(step);
            self.prefix.push(product);
        }

        // Every factor is nonzero (`Step`'s cases), so the product is; it is 1 when there is
        // nothing to divide.
        let mut inv = product
            .inverse()
            .expect("denominators of pending additions are nonzero");
        for i in (0..pending.len()).rev() {
            let e = &pending[i];
            let b = e.bucket as usize;
            let (a, q) = (&self.gathered[i], &e.point);
            let step = self.steps[i];
            let Some(den) = step.denominator(a, q) else {
                self.buckets[b] = if step == Step::Set {
                    *q
                } else {
                    Affine::identity()
                };
                continue;
            };
            // Here inv = 1 / Π of the denominators up to i; peel den_i off for the rest.
            let inv_i = if i == 0 {
                inv
            } else {
                inv * self.prefix[i - 1]
            };
            inv *= den;
            self.buckets[b] = step.divided_sum(a, q, inv_i);
        }
    }

    fn point(&self, q: Affine<P>) -> Affine<P> {
        q
    }

    fn into_affine(self) -> Vec<Affine<P>> {
        self.buckets
    }
}

/// Σ points (all finite), by pairwise affine additions, one inversion per level of the tree.
fn sum_points<P: SWCurveConfig>(points: &[Affine<P>]) -> Projective<P> {
    // Below this a level's inversion costs more than the additions it saves.
    const LEAVES: usize = 32;
    let mut points = points.to_vec();
    let mut prefix: Vec<P::BaseField> = Vec::new();
    let mut next: Vec<Affine<P>> = Vec::new();
    while points.len() > LEAVES {
        let pairs = points.len() / 2;
        prefix.clear();
        let mut product = P::BaseField::ONE;
        for pair in points.chunks_exact(2) {
            // A pair that sums to infinity gets denominator 1 and is dropped below.
            let (a, q) = (&pair[0], &pair[1]);
            product *= Step::of(a, q)
                .denominator(a, q)
                .unwrap_or(P::BaseField::ONE);
            prefix.push(product);
        }
        let mut inv = product.inverse().expect("pair denominators are nonzero");
        next.clear();
        for i in (0..pairs).rev() {
            let (a, q) = (points[2 * i], points[2 * i + 1]);
            // Both points are finite, so the step is Add, Double or Clear.
            let step = Step::of(&a, &q);
            let Some(den) = step.denominator(&a, &q) else {
                continue;
            };
            let inv_i = if i == 0 { inv } else { inv * prefix[i - 1] };
            inv *= den;
            next.push(step.divided_sum(&a, &q, inv_i));
        }
        if points.len() % 2 == 1 {
            next.push(points[points.len() - 1]);
        }
        std::mem::swap(&mut points, &mut next);
    }
    points.iter().fold(Projective::zero(), |acc, p| acc + p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_bn254::{Fr, g1, g2};
    use ark_ec::{AffineRepr, CurveGroup, VariableBaseMSM};
    use ark_ff::One;
    use ark_std::{UniformRand, rand::Rng, test_rng};
    use std::time::Instant;

    type G1 = Projective<g1::Config>;
    type G2 = Projective<g2::Config>;

    /// `n` random points: a random start plus multiples of a random step (one addition each
    /// instead of a hash-to-curve or scalar multiplication per point), in parallel chunks.
    fn random_points<P: SWCurveConfig<ScalarField = Fr>>(n: usize, seed: u64) -> Vec<Affine<P>> {
        let chunks: Vec<Vec<Projective<P>>> = (0..n.div_ceil(4096))
            .into_par_iter()
            .map(|chunk| {
                use ark_std::rand::SeedableRng;
                let mut rng =
                    ark_std::rand::rngs::StdRng::seed_from_u64(seed ^ ((chunk as u64) << 20));
                let step = Projective::<P>::rand(&mut rng);
                let mut p = Projective::<P>::rand(&mut rng);
                let len = 4096.min(n - chunk * 4096);
                (0..len)
                    .map(|_| {
                        p += step;
                        p
                    })
                    .collect()
            })
            .collect();
        Projective::normalize_batch(&chunks.concat())
    }

    /// Scalars below r: `ones` and `zeros` are the fractions equal to 1 and 0.
    fn random_scalars(
        n: usize,
        ones: f64,
        zeros: f64,
        rng: &mut impl Rng,
    ) -> Vec<ScalarBigInt<g1::Config>> {
        (0..n)
            .map(|_| {
                let u: f64 = rng.r#gen();
                let s = if u < ones {
                    Fr::one()
                } else if u < ones + zeros {
                    Fr::zero()
                } else {
                    Fr::rand(rng)
                };
                s.into_bigint()
            })
            .collect()
    }

    fn check<P: SWCurveConfig<ScalarField = Fr>>(bases: &[Affine<P>], scalars: &[ScalarBigInt<P>]) {
        let expected = Projective::<P>::msm_bigint(bases, scalars);
        assert_eq!(msm(bases, scalars), expected, "n = {}", bases.len());
        // Other window sizes, to reach tiny bucket arrays (batches of one, spills) and the
        // Booth digit at many bit offsets. Windows of 2 bits cost an inversion per addition
        // and large ones a long reduction, so those only on small inputs.
        let n = bases.len().min(scalars.len());
        let (num_bits, _) = scalar_stats(&scalars[..n]);
        // (window size, batch): batches of 1 and 4 make nearly every addition conflict.
        let affine = |batch| Buckets::Affine { batch };
        let sizes: &[(usize, Buckets)] = match n {
            0..=100 => &[
                (2, affine(1)),
                (4, affine(2)),
                (7, affine(4)),
                (5, Buckets::Jacobian),
            ],
            101..=1000 => &[(6, affine(8)), (9, affine(32)), (7, Buckets::Jacobian)],
            _ => &[(9, affine(32))],
        };
        for &(c, buckets) in sizes {
            assert_eq!(
                msm_with_window(&bases[..n], &scalars[..n], c, buckets, num_bits),
                expected,
                "n = {n}, c = {c}, {buckets:?}"
            );
        }
    }

    fn check_random<P: SWCurveConfig<ScalarField = Fr>>(seed: u64) {
        let mut rng = test_rng();
        for n in [0, 1, 2, 3, 100, 5000] {
            let bases = random_points::<P>(n, seed + n as u64);
            let scalars = random_scalars(n, 0.1, 0.16, &mut rng);
            check(&bases, &scalars);
        }
    }

    #[test]
    fn random_inputs_match_arkworks_g1() {
        check_random::<g1::Config>(1);
    }

    #[test]
    fn random_inputs_match_arkworks_g2() {
        check_random::<g2::Config>(2);
    }

    /// Fully random scalars (no ones or zeros) at a size where `msm` picks a large window.
    #[test]
    fn larger_random_input_matches_arkworks() {
        let mut rng = test_rng();
        let bases = random_points::<g1::Config>(20_000, 3);
        let scalars = random_scalars(20_000, 0.0, 0.0, &mut rng);
        assert_eq!(msm(&bases, &scalars), G1::msm_bigint(&bases, &scalars));
    }

    #[test]
    fn mismatched_lengths_use_the_shorter() {
        let mut rng = test_rng();
        let bases = random_points::<g1::Config>(50, 4);
        let scalars = random_scalars(30, 0.1, 0.1, &mut rng);
        assert_eq!(msm(&bases, &scalars), G1::msm_bigint(&bases, &scalars));
        assert_eq!(
            msm(&bases[..20], &scalars),
            G1::msm_bigint(&bases[..20], &scalars)
        );
    }

    /// At a size that `check` runs with tiny batches (every addition conflicts) and one with
    /// realistic batches.
    fn adversarial<P: SWCurveConfig<ScalarField = Fr>>(seed: u64) {
        for n in [24, 200] {
            adversarial_of_size::<P>(n, seed);
        }
    }

    fn adversarial_of_size<P: SWCurveConfig<ScalarField = Fr>>(n: usize, seed: u64) {
        let mut rng = test_rng();
        let bases = random_points::<P>(n, seed);
        let r_minus_1 = (-Fr::one()).into_bigint();
        let one = Fr::one().into_bigint();
        let zero = Fr::zero().into_bigint();
        let random = random_scalars(n, 0.0, 0.0, &mut rng);

        check(&bases, &vec![zero; n]);
        check(&bases, &vec![one; n]);
        check(&bases, &vec![r_minus_1; n]);
        check(&bases, &random_scalars(n, 0.45, 0.45, &mut rng));

        // One base repeated: equal points meet in buckets (doublings), with equal scalars
        // all in one bucket per window (queue and spill), and with random ones spread out.
        let same = vec![bases[0]; n];
        check(&same, &random);
        check(&same, &vec![random[0]; n]);
        check(&same, &vec![one; n]);
        check(&same, &vec![r_minus_1; n]);
        // A few distinct points repeated, interleaved.
        let few: Vec<_> = (0..n).map(|i| bases[i % 3]).collect();
        check(&few, &random);
        check(&few, &vec![random[1]; n]);

        // Bases and their negations: with equal scalars every pair cancels (P + −P in buckets).
        let pm: Vec<_> = (0..n)
            .map(|i| {
                if i % 2 == 0 {
                    bases[i / 2]
                } else {
                    -bases[i / 2]
                }
            })
            .collect();
        let equal_pairs: Vec<_> = (0..n).map(|i| random[i / 2]).collect();
        check(&pm, &equal_pairs);
        assert!(msm(&pm, &equal_pairs).is_zero());
        check(&pm, &random);
        check(&pm, &vec![one; n]);
        let pm_same: Vec<_> = (0..n)
            .map(|i| if i % 2 == 0 { bases[0] } else { -bases[0] })
            .collect();
        check(&pm_same, &vec![random[2]; n]);
        check(&pm_same, &random);

        // Points at infinity among the bases.
        let with_inf: Vec<_> = (0..n)
            .map(|i| {
                if i % 3 == 0 {
                    Affine::identity()
                } else {
                    bases[i]
                }
            })
            .collect();
        check(&with_inf, &random);
        check(&with_inf, &vec![one; n]);
        check(&vec![Affine::<P>::identity(); n], &random);

        // Small scalars (bytes): a few busy buckets in the low windows, none in the others.
        let bytes: Vec<_> = (0..n)
            .map(|_| Fr::from(rng.gen_range(0..256u64)).into_bigint())
            .collect();
        check(&bases, &bytes);
        // One window of 2^11 buckets with batches of 128: the ~200 bytes meet enough
        // conflicts to fill the queue while the batch holds only part of the distinct buckets.
        assert_eq!(
            msm_with_window(&bases, &bytes, 12, Buckets::Affine { batch: 128 }, 8),
            Projective::<P>::msm_bigint(&bases, &bytes)
        );

        // Scalars r − 1 and small values mixed in.
        let mixed: Vec<_> = (0..n)
            .map(|i| match i % 4 {
                0 => r_minus_1,
                1 => one,
                2 => Fr::from(i as u64).into_bigint(),
                _ => random[i],
            })
            .collect();
        check(&bases, &mixed);
    }

    #[test]
    fn adversarial_inputs_match_arkworks_g1() {
        adversarial::<g1::Config>(5);
    }

    #[test]
    fn adversarial_inputs_match_arkworks_g2() {
        adversarial::<g2::Config>(6);
    }

    /// Scalars are not reduced: bits above the modulus (up to the full 256) still count.
    #[test]
    fn unreduced_scalars_are_taken_as_integers() {
        let bases = random_points::<g1::Config>(64, 7);
        let scalars: Vec<_> = (0..64u64)
            .map(|i| ark_ff::BigInt::<4>([i.wrapping_mul(0x9e37_79b9_7f4a_7c15), !0, i, !0 - i]))
            .collect();
        let expected: G1 = bases
            .iter()
            .zip(&scalars)
            .map(|(p, s)| p.mul_bigint(s))
            .sum();
        assert_eq!(msm(&bases, &scalars), expected);
        let affine = |c| Buckets::Affine {
            batch: batch_size(c, false),
        };
        for (c, buckets) in [
            (2, affine(2)),
            (5, Buckets::Jacobian),
            (9, affine(9)),
            (16, affine(16)),
        ] {
            assert_eq!(
                msm_with_window(&bases, &scalars, c, buckets, 256),
                expected,
                "c = {c}"
            );
        }
    }

    #[test]
    fn pairwise_sum_handles_doublings_and_cancellations() {
        let bases = random_points::<g2::Config>(100, 8);
        let mut points = Vec::new();
        for (i, p) in bases.iter().enumerate() {
            points.push(*p);
            match i % 3 {
                0 => points.push(*p),
                1 => points.push(-*p),
                _ => {}
            }
        }
        let expected: G2 = points.iter().map(|p| p.into_group()).sum();
        assert_eq!(sum_points(&points), expected);
    }

    #[test]
    fn plan_picks_jacobian_for_small_inputs_and_affine_for_large() {
        let (g1, g2) = (
            size_of::<Affine<g1::Config>>(),
            size_of::<Affine<g2::Config>>(),
        );
        for n in [1, 10, 100, 1000] {
            assert_eq!(plan(n, 254, 2, g1, false).1, Buckets::Jacobian, "n = {n}");
        }
        // Lane additions are cheap enough to pay for an inversion per 64 from ~1000 points.
        for n in [1, 10, 100] {
            assert_eq!(plan(n, 254, 2, g1, true).1, Buckets::Jacobian, "n = {n}");
        }
        // 16 windows of 16 bits: 8 rounds on 2 threads, where 15 bits would need 9.
        assert_eq!(
            plan(1 << 20, 254, 2, g1, false),
            (16, Buckets::Affine { batch: 2048 })
        );
        // ~400k points: the reduction and cache misses of 16 bits outweigh a round.
        let batch = batch_size(15, false);
        for g in [g1, g2] {
            assert_eq!(
                plan(400_000, 254, 2, g, false),
                (15, Buckets::Affine { batch })
            );
        }
        for n in [1 << 14, 1 << 17] {
            assert!(matches!(
                plan(n, 254, 2, g1, false),
                (12..=16, Buckets::Affine { .. })
            ));
        }
        // On the lanes: smaller windows, larger batches.
        assert_eq!(
            plan(1 << 20, 254, 2, g1, true),
            (15, Buckets::Affine { batch: 2048 })
        );
        for n in [1 << 18, 600_000] {
            assert_eq!(
                plan(n, 254, 2, g2, true),
                (13, Buckets::Affine { batch: 1024 })
            );
        }
    }

    fn time<T>(f: impl Fn() -> T) -> (f64, T) {
        let mut best = f64::INFINITY;
        let mut out = None;
        for _ in 0..2 {
            let started = Instant::now();
            out = Some(f());
            best = best.min(started.elapsed().as_secs_f64());
        }
        (best, out.expect("ran at least once"))
    }

    fn bench_case<P: SWCurveConfig<ScalarField = Fr>>(name: &str, n: usize, ones: f64, zeros: f64) {
        let mut rng = test_rng();
        let bases = random_points::<P>(n, 9);
        let scalars = random_scalars(n, ones, zeros, &mut rng);
        let (ours, a) = time(|| msm(&bases, &scalars));
        let (theirs, b) = time(|| Projective::<P>::msm_bigint(&bases, &scalars));
        assert_eq!(a, b);
        println!(
            "{name}: ours {ours:.3} s, arkworks {theirs:.3} s, speedup {:.2}x",
            theirs / ours
        );
    }

    /// `cargo test --release -p causeway-circuit --lib msm::tests::bench_msm -- --ignored --nocapture`
    #[test]
    #[ignore = "benchmark: run in release"]
    fn bench_msm() {
        println!("rayon threads: {}", rayon::current_num_threads());
        bench_case::<g1::Config>("G1 2^20 random", 1 << 20, 0.0, 0.0);
        bench_case::<g1::Config>("G1 2^19 10% ones 16% zeros", 1 << 19, 0.1, 0.16);
        bench_case::<g2::Config>("G2 2^19 10% ones 16% zeros", 1 << 19, 0.1, 0.16);
    }
}
