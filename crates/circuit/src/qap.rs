//! The Groth16 prover's QAP witness map: the quotient `h` of `A(x)·B(x) − C(x)` by the
//! vanishing polynomial of the evaluation domain, from the constraint matrices and a full
//! assignment.
//!
//! Owns the whole pipeline of arkworks' `LibsnarkReduction::witness_map_from_matrices`
//! (evaluate `A·z`, `B·z`, `C·z` row by row; inverse FFT; FFT on the coset `g·H`, `g` the
//! field's generator; `(a·b − c) / Z_H(g)`; inverse FFT on the coset) and returns its `h`
//! bit for bit: the same length (the domain size) and the same values. Field arithmetic is
//! exact, so any correct transform gives the same values; the tests compare with arkworks
//! on random, edge-value and real inputs all the same.
//!
//! When the CPU has AVX-512 IFMA ([`causeway_crypto::lanes`]) and the domain is radix-2 of
//! at least eight points, everything runs on eight lanes with the data in lane form from the
//! matrices to `h` (see `lane` for the layout, the transforms and the invariants); otherwise
//! this is arkworks' own witness map. On the 29-chunk batch (2^20 points) the lanes are
//! about 4.5 times as fast as arkworks (`bench_witness_map` below): the butterflies are
//! IFMA multiplications of eight elements; no transform permutes its data (the one
//! permutation, to natural order, is the pass that converts `h` back); each polynomial's
//! inverse FFT and coset FFT run back to back on each cache-sized chunk; and the rows of the
//! matrices are evaluated eight at a time.

use ark_groth16::r1cs_to_qap::{LibsnarkReduction, R1CSToQAP};
use ark_poly::{EvaluationDomain, GeneralEvaluationDomain};
use ark_relations::r1cs::{ConstraintMatrices, SynthesisError};
use causeway_primitives::Fr;

/// The quotient `h` of the QAP of `matrices` at `full_assignment` (the constant 1, the
/// public inputs, then the witnesses): `LibsnarkReduction::witness_map_from_matrices` with
/// arkworks' `GeneralEvaluationDomain`, bit for bit.
pub fn witness_map(
    matrices: &ConstraintMatrices<Fr>,
    full_assignment: &[Fr],
) -> Result<Vec<Fr>, SynthesisError> {
    let num_inputs = matrices.num_instance_variables;
    let num_constraints = matrices.num_constraints;
    #[cfg(target_arch = "x86_64")]
    if causeway_crypto::lanes::available()
        && [&matrices.a, &matrices.b, &matrices.c]
            .iter()
            .all(|m| m.len() == num_constraints)
        && let Some(GeneralEvaluationDomain::Radix2(domain)) =
            GeneralEvaluationDomain::<Fr>::new(num_constraints + num_inputs)
        && domain.size() >= lane::MIN_SIZE
    {
        // SAFETY: `available()` said the CPU has avx512f and avx512ifma.
        return Ok(unsafe { lane::witness_map(matrices, full_assignment, &domain) });
    }
    LibsnarkReduction::witness_map_from_matrices::<Fr, GeneralEvaluationDomain<Fr>>(
        matrices,
        num_inputs,
        num_constraints,
        full_assignment,
    )
}

/// The witness map on AVX-512 IFMA lanes.
///
/// # Layout and representation
///
/// A polynomial of `n = 2^K` values is `n / 8` [`Block`]s; block `q` holds positions
/// `8q..8q + 8`, position `8q + l` in lane `l`, limb-major like a lane [`Elem`]. Values are
/// lane values (five 52-bit limbs, below `2p`, Montgomery form for `2^260`) throughout.
///
/// Values enter and leave as the raw limbs of arkworks' Montgomery form (`x·2^256`), with no
/// conversion multiplication: read as a lane value, that is `x / 16`. Every step but the
/// product `a·b` is linear, so the factor passes through untouched; `a`'s coset scaling
/// takes an extra 16, so that `a·b − c` carries the same `1/16` as everything else, and the
/// raw limbs that leave, reduced, are arkworks' form of `h`.
///
/// # Transforms
///
/// Two radix-2 transforms, both with one twiddle per butterfly *group* rather than per
/// position, from one table `W[t] = ζ^bitrev(t)`, `t < n/2`: the stage with `2^s` groups
/// uses `W[0..2^s]`.
///
/// - [`Ntt::ct`] (Cooley-Tukey, natural order in, bit-reversed out) is the DFT for `ζ`;
/// - [`Ntt::gs`] (Gentleman-Sande, bit-reversed in, natural out) is the DFT for `ζ` too
///   (it undoes, times `n`, `ct` with the table of `ζ^-1`).
///
/// The witness map runs `ct` with `ω^-1` (`n` times the inverse FFT, coefficients in
/// bit-reversed order), scales the coefficient of `x^i` by `g^i / n`, runs `gs` with `ω`
/// (the coset FFT, natural order), multiplies pointwise, runs `ct` with `ω^-1` again and
/// scales by `g^-i / (n·Z_H(g))` in the pass that puts `h` in natural order ([`Ntt::to_natural`]).
/// No other pass permutes anything.
///
/// Why per-group twiddles: while a group spans two blocks or more (stages of gap 8 and up),
/// a butterfly pairs two whole blocks lane by lane and the eight lanes share the group's
/// twiddle, a broadcast from the table; the top stages read only its first entries. The
/// last three stages (gaps 4, 2, 1) pair lanes within a block: [`Ntt::ct_tail`] permutes a
/// pair of blocks into the butterflies' lower and upper halves, so those stages cost what
/// the others do, no transposed layout needed.
///
/// Both transforms are depth-first for the caches: a pass does up to [`MAX_RADIX_LOG`]
/// stages on the columns of a chunk (one read and one write of it), then each sub-chunk is
/// finished while it is in cache. Passes over large chunks split their columns between
/// rayon's threads, and sub-chunks run in parallel. The butterflies are bound by the IFMA
/// port, not by memory.
#[cfg(target_arch = "x86_64")]
mod lane {
    use ark_ff::{FftField, Field, One, Zero};
    use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};
    use ark_relations::r1cs::ConstraintMatrices;
    use causeway_crypto::lanes::{self, Elem, Field52, LANES, LIMBS, V};
    use causeway_primitives::Fr;
    use core::arch::x86_64::{
        _MM_HINT_T0, _mm_prefetch, _mm512_and_si512, _mm512_load_si512, _mm512_loadu_si512,
        _mm512_mask_i64gather_epi64, _mm512_or_si512, _mm512_permutex2var_epi64,
        _mm512_permutexvar_epi64, _mm512_set_epi64, _mm512_set1_epi64, _mm512_setzero_si512,
        _mm512_slli_epi64, _mm512_srli_epi64, _mm512_store_si512, _mm512_storeu_si512,
    };
    use rayon::prelude::*;

    /// The smallest domain on the lanes: one block.
    pub(super) const MIN_SIZE: usize = LANES;
    /// Stages per pass. Passes of 2, 3 and 4 stages took the same time on one core (the
    /// multiplications dominate); 3 reads and writes memory half as often as 2, and its
    /// columns (eight blocks, 2.5 KB) stay in L1.
    const MAX_RADIX_LOG: u32 = 3;
    /// Chunks of at most this many blocks (2^13 values, 320 KB: well inside a 2 MB L2 with
    /// their twiddles) run the inverse FFT, the coset scaling and the coset FFT in a row.
    const LEAF_BLOCKS: usize = 1 << 10;
    /// Chunks from this many blocks split their passes and sub-chunks between threads.
    const PAR_BLOCKS: usize = 1 << 11;
    /// Rows of a matrix evaluated together: sorted by length, so that eight rows of one
    /// length share the lanes with none idle.
    const WINDOW: usize = 2048;
    /// Products per accumulator before a reduction: a raw coefficient is below `p` and a
    /// value in lane form below `2p`, and `Field52::mul_acc` takes 32 such products.
    const TERMS: usize = 32;

    /// Eight consecutive values (or table entries) in lane form: `self.0[k][l]` is limb `k`
    /// of lane `l`. 64-byte aligned, so each limb row is one aligned vector.
    #[repr(C, align(64))]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    struct Block([[u64; LANES]; LIMBS]);

    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn get(b: &Block) -> Elem {
        // SAFETY: each limb row is 64 bytes at a 64-byte aligned offset of an aligned Block.
        core::array::from_fn(|k| unsafe { _mm512_load_si512(b.0[k].as_ptr().cast()) })
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn put(b: &mut Block, x: &Elem) {
        for (row, v) in b.0.iter_mut().zip(x) {
            // SAFETY: as in `get`, and the row is writable.
            unsafe { _mm512_store_si512(row.as_mut_ptr().cast(), *v) };
        }
    }

    /// Position `i` of a run of blocks set to `x`'s raw limbs (`x / 16` in lane form).
    fn write(blocks: &mut [Block], i: usize, x: &Fr) {
        let b = &mut blocks[i / LANES];
        for (row, limb) in b.0.iter_mut().zip(lanes::to_limbs(&x.0.0)) {
            row[i % LANES] = limb;
        }
    }

    /// Entry `t` of a table of blocks, as the limbs of one value.
    #[inline]
    fn entry(table: &[Block], t: usize) -> [u64; LIMBS] {
        let b = &table[t / LANES];
        core::array::from_fn(|k| b.0[k][t % LANES])
    }

    /// `x` reversed in its low `bits` bits.
    fn bitrev(x: usize, bits: u32) -> usize {
        if bits == 0 {
            0
        } else {
            x.reverse_bits() >> (usize::BITS - bits)
        }
    }

    /// Lane indices for `_mm512_permutex2var_epi64`: 0..8 pick from the first vector,
    /// 8..16 from the second.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn indices(i: [i64; LANES]) -> V {
        _mm512_set_epi64(i[7], i[6], i[5], i[4], i[3], i[2], i[1], i[0])
    }

    /// Lanes of `x` and `y` picked by `idx`, limb by limb.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn pick(x: &Elem, y: &Elem, idx: V) -> Elem {
        core::array::from_fn(|k| _mm512_permutex2var_epi64(x[k], idx, y[k]))
    }

    // The lane permutations of a block pair `(A, B)` around its last three stages (see
    // `Ntt::ct_tail`), each a pair: the butterflies' lower halves, then their upper halves.
    /// `A, B` to and from `[A0..A3 B0..B3], [A4..A7 B4..B7]` (gap 4).
    const HALVES: [[i64; LANES]; 2] = [[0, 1, 2, 3, 8, 9, 10, 11], [4, 5, 6, 7, 12, 13, 14, 15]];
    /// Gap-4 halves to and from `[A0 A1 A4 A5 B0 B1 B4 B5], [A2 A3 A6 A7 B2 B3 B6 B7]` (gap 2).
    const PAIRS: [[i64; LANES]; 2] = [[0, 1, 8, 9, 4, 5, 12, 13], [2, 3, 10, 11, 6, 7, 14, 15]];
    /// Gap-2 halves to and from `[A0 A2 A4 A6 B0 B2 B4 B6], [A1 A3 A5 A7 B1 B3 B5 B7]` (gap 1).
    const SINGLES: [[i64; LANES]; 2] = [[0, 8, 2, 10, 4, 12, 6, 14], [1, 9, 3, 11, 5, 13, 7, 15]];
    /// `A, B` to the gap-1 halves: even and odd lanes.
    const EVEN_ODD: [[i64; LANES]; 2] = [[0, 2, 4, 6, 8, 10, 12, 14], [1, 3, 5, 7, 9, 11, 13, 15]];
    /// Gap-1 halves back to `A, B`.
    const INTERLEAVE: [[i64; LANES]; 2] =
        [[0, 8, 1, 9, 2, 10, 3, 11], [4, 12, 5, 13, 6, 14, 7, 15]];

    /// A coset scaling in bit-reversed order: position `p` times `c·x^bitrev(p)`. With
    /// `p = 8q + l`, `bitrev_K(p) = bitrev_3(l)·n/8 + bitrev_{K-3}(q)`: the factor is a
    /// per-lane constant times a per-block power, two multiplications a block.
    struct Coset {
        /// `x`.
        base: Fr,
        /// `c·(x^(n/8))^bitrev_3(l)` in lane `l`.
        lanes: Block,
        /// `x^bitrev_{K-3}(q)` for block `q`.
        powers: Vec<Block>,
    }

    /// A thread's buffers for [`Ntt::window`].
    #[derive(Default)]
    struct Scratch {
        /// The window's rows by number of products, then by position.
        order: Vec<u32>,
        /// Where each number of products starts in `order`.
        starts: Vec<usize>,
        /// [`Step`]s of eight rows.
        steps: Vec<Step>,
    }

    /// One term of eight rows: the eight coefficients' four 64-bit words, then each lane's
    /// `index · LIMBS` into the assignment in lane form.
    type Step = [[u64; LANES]; 5];

    /// Radix-2 transforms of one size with their twiddle tables, and the steps around them.
    struct Ntt {
        f: &'static Field52,
        log_n: u32,
        /// `ω^bitrev(t)`, `t < n/2`: `gs` with it is the DFT for `ω`.
        forward: Vec<Block>,
        /// `ω^-bitrev(t)`: `ct` with it is `n` times the inverse DFT.
        inverse: Vec<Block>,
    }

    impl Ntt {
        /// The transforms of `domain` (at least [`MIN_SIZE`] points, not a coset).
        #[target_feature(enable = "avx512f,avx512ifma")]
        fn new(domain: &Radix2EvaluationDomain<Fr>) -> Self {
            assert!(domain.size() >= MIN_SIZE, "the lanes need a whole block");
            let mut ntt = Ntt {
                f: lanes::fr(),
                log_n: domain.log_size_of_group,
                forward: Vec::new(),
                inverse: Vec::new(),
            };
            let bits = ntt.log_n - 1;
            ntt.forward = ntt.bitrev_powers(domain.group_gen, Fr::one(), bits);
            ntt.inverse = ntt.bitrev_powers(domain.group_gen_inv, Fr::one(), bits);
            ntt
        }

        fn blocks(&self) -> usize {
            (1 << self.log_n) / LANES
        }

        /// `c·x^bitrev(t)` for `t < 2^bits` (`bits`-bit reversal), eight to a block. Built by
        /// doubling: `bitrev(m + t) = bitrev(t) + 2^(bits-1-s)` for `t < m = 2^s`, so the
        /// second half of every prefix is its first half times one power of `x`.
        #[target_feature(enable = "avx512f,avx512ifma")]
        fn bitrev_powers(&self, x: Fr, c: Fr, bits: u32) -> Vec<Block> {
            let f = self.f;
            let count = 1usize << bits;
            let mut table = vec![Block::default(); count.div_ceil(LANES)];
            for t in 0..count.min(LANES) {
                let limbs = f.constant(c * x.pow([bitrev(t, bits) as u64]));
                for (row, limb) in table[0].0.iter_mut().zip(limbs) {
                    row[t] = limb;
                }
            }
            let mut m = LANES;
            while m < count {
                let step = f.splat(&f.constant(x.pow([1u64 << (bits - 1 - m.trailing_zeros())])));
                let (first, rest) = table.split_at_mut(m / LANES);
                let double = |(hi, lo): (&mut Block, &Block)| put(hi, &f.mul(&get(lo), &step));
                if m / LANES >= PAR_BLOCKS {
                    rest[..m / LANES]
                        .par_iter_mut()
                        .zip(&*first)
                        .with_min_len(256)
                        .for_each(double);
                } else {
                    rest.iter_mut().zip(&*first).for_each(double);
                }
                m *= 2;
            }
            table
        }

        /// The scaling of position `p` by `c·x^i`, `i = bitrev(p)`: the coefficient of `x^i`
        /// after `ct`.
        #[target_feature(enable = "avx512f,avx512ifma")]
        fn coset(&self, x: Fr, c: Fr) -> Coset {
            let step = x.pow([(1u64 << self.log_n) / LANES as u64]);
            let mut lanes = Block::default();
            for l in 0..LANES {
                let limbs = self.f.constant(c * step.pow([bitrev(l, 3) as u64]));
                for (row, limb) in lanes.0.iter_mut().zip(limbs) {
                    row[l] = limb;
                }
            }
            Coset {
                base: x,
                lanes,
                powers: self.bitrev_powers(x, Fr::one(), self.log_n - 3),
            }
        }

        /// Scales `data`, blocks `first..` of a polynomial in bit-reversed order, by `coset`.
        #[target_feature(enable = "avx512f,avx512ifma")]
        fn scale(&self, data: &mut [Block], first: usize, coset: &Coset) {
            let f = self.f;
            let lanes = get(&coset.lanes);
            for (q, b) in (first..).zip(data) {
                let factor = f.mul(&lanes, &f.splat(&entry(&coset.powers, q)));
                put(b, &f.mul(&get(b), &factor));
            }
        }

        /// The twiddles of the gap-`GAP` stage of the block pair `qa, qa + 1` (`qa` even), in
        /// the lane order of the butterflies' upper halves: the pair holds `8 / GAP` groups
        /// of that stage, numbered from `qa·4/GAP`, each twice in a gap-2 half and four times
        /// in a gap-4 half. One table block and one permutation.
        #[inline]
        #[target_feature(enable = "avx512f,avx512ifma")]
        fn pair_twiddles<const GAP: usize>(&self, table: &[Block], qa: usize) -> Elem {
            let first = qa * 4 / GAP;
            let w = get(&table[first / LANES]);
            let o = (first % LANES) as i64;
            let idx = match GAP {
                1 => return w,
                2 => indices([o, o, o + 1, o + 1, o + 2, o + 2, o + 3, o + 3]),
                _ => indices([o, o, o, o, o + 1, o + 1, o + 1, o + 1]),
            };
            w.map(|v| _mm512_permutexvar_epi64(idx, v))
        }

        /// The blocks of `data` (two, or one when the whole polynomial is a block) as a pair,
        /// a lone block with a zero second.
        #[inline]
        #[target_feature(enable = "avx512f,avx512ifma")]
        fn pair(&self, data: &[Block]) -> (Elem, Elem) {
            let b = data.get(1).map_or(self.f.splat(&[0; LIMBS]), |b| get(b));
            (get(&data[0]), b)
        }

        /// `w·x`, or `x` for the twiddle 1 (group 0 of any stage: `W[0] = 1`).
        #[inline]
        #[target_feature(enable = "avx512f,avx512ifma")]
        fn times(&self, w: &Elem, x: &Elem, one: bool) -> Elem {
            if one { *x } else { self.f.mul(w, x) }
        }

        /// The last four stages of `ct` on the block pair `data` (group `k` of the gap-8
        /// stage), or the last three on a lone block.
        ///
        /// Within a block a butterfly pairs two lanes. The pair's lanes are permuted into the
        /// butterflies' lower halves and upper halves, eight butterflies a vector, so a stage
        /// is one multiplication, one addition and one subtraction for two blocks (on single
        /// blocks half of each would be wasted); each stage's outputs are permuted straight
        /// into the next stage's halves.
        #[target_feature(enable = "avx512f,avx512ifma")]
        fn ct_tail(&self, data: &mut [Block], table: &[Block], k: usize) {
            let f = self.f;
            let (a, b) = self.pair(data);
            let (a, b) = if data.len() == 2 {
                let wb = self.times(&f.splat(&entry(table, k)), &b, k == 0);
                (f.add(&a, &wb), f.sub(&a, &wb))
            } else {
                (a, b)
            };
            let qa = 2 * k;
            let butterfly = |(lo, hi): (Elem, Elem), halves: [[i64; LANES]; 2], tw: Elem| {
                let u = pick(&lo, &hi, indices(halves[0]));
                let wv = f.mul(&pick(&lo, &hi, indices(halves[1])), &tw);
                (f.add(&u, &wv), f.sub(&u, &wv))
            };
            let x = butterfly((a, b), HALVES, self.pair_twiddles::<4>(table, qa));
            let x = butterfly(x, PAIRS, self.pair_twiddles::<2>(table, qa));
            let (lo, hi) = butterfly(x, SINGLES, self.pair_twiddles::<1>(table, qa));
            put(&mut data[0], &pick(&lo, &hi, indices(INTERLEAVE[0])));
            if let Some(b) = data.get_mut(1) {
                put(b, &pick(&lo, &hi, indices(INTERLEAVE[1])));
            }
        }

        /// The first four stages of `gs` (three on a lone block): `ct_tail` backwards.
        #[target_feature(enable = "avx512f,avx512ifma")]
        fn gs_tail(&self, data: &mut [Block], table: &[Block], k: usize) {
            let f = self.f;
            let qa = 2 * k;
            let butterfly = |(lo, hi): (Elem, Elem), halves: [[i64; LANES]; 2], tw: Elem| {
                let u = pick(&lo, &hi, indices(halves[0]));
                let v = pick(&lo, &hi, indices(halves[1]));
                (f.add(&u, &v), f.mul(&f.sub(&u, &v), &tw))
            };
            let first = self.pair_twiddles::<1>(table, qa);
            let x = butterfly(self.pair(data), EVEN_ODD, first);
            let x = butterfly(x, SINGLES, self.pair_twiddles::<2>(table, qa));
            let (lo, hi) = butterfly(x, PAIRS, self.pair_twiddles::<4>(table, qa));
            let a = pick(&lo, &hi, indices(HALVES[0]));
            let b = pick(&lo, &hi, indices(HALVES[1]));
            let Some(second) = data.get_mut(1) else {
                return put(&mut data[0], &a);
            };
            let d = f.sub(&a, &b);
            put(second, &self.times(&f.splat(&entry(table, k)), &d, k == 0));
            put(&mut data[0], &f.add(&a, &b));
        }

        /// `log2(R)` stages on the columns of `rows` (the `R` equal parts of a chunk): column
        /// `j` is the blocks `rows[t][j]`. `tw[2^d + i]` is the twiddle of group `i` of the
        /// pass's stage `d`. With `first` (the chunk is group 0 of its stage), group 0 of
        /// every stage has the twiddle 1 and skips its multiplications, a tenth of all of
        /// them at 2^20.
        #[inline]
        #[target_feature(enable = "avx512f,avx512ifma")]
        fn columns<const R: usize, const CT: bool>(
            &self,
            mut rows: [&mut [Block]; R],
            tw: &[Elem; R],
            first: bool,
        ) {
            let f = self.f;
            for j in 0..rows[0].len() {
                let mut y: [Elem; R] = core::array::from_fn(|t| get(&rows[t][j]));
                // Cooley-Tukey from the widest stage down, Gentleman-Sande back up.
                let mut half = if CT { R / 2 } else { 1 };
                while half >= 1 && half < R {
                    let groups = R / (2 * half);
                    for i in 0..groups {
                        let w = &tw[groups + i];
                        let one = first && i == 0;
                        for a in i * 2 * half..i * 2 * half + half {
                            let b = a + half;
                            if CT {
                                let wv = self.times(w, &y[b], one);
                                y[b] = f.sub(&y[a], &wv);
                                y[a] = f.add(&y[a], &wv);
                            } else {
                                let d = f.sub(&y[a], &y[b]);
                                y[a] = f.add(&y[a], &y[b]);
                                y[b] = self.times(w, &d, one);
                            }
                        }
                    }
                    half = if CT { half / 2 } else { half * 2 };
                }
                for (row, x) in rows.iter_mut().zip(&y) {
                    put(&mut row[j], x);
                }
            }
        }

        /// One pass of `log2(R)` stages on chunk `data`, group `k` of its first stage.
        #[target_feature(enable = "avx512f,avx512ifma")]
        fn pass<const R: usize, const CT: bool>(
            &self,
            data: &mut [Block],
            table: &[Block],
            k: usize,
        ) {
            // Stage d of the pass has the groups (k << d) + i, i < 2^d; tw[0] is not used.
            let tw: [Elem; R] = core::array::from_fn(|h| {
                let d = h.max(1).ilog2();
                self.f.splat(&entry(table, (k << d) + h.max(1) - (1 << d)))
            });
            let cols = data.len() / R;
            let parallel = data.len() >= PAR_BLOCKS;
            let mut rows = data.chunks_mut(cols);
            let rows: [&mut [Block]; R] = core::array::from_fn(|_| rows.next().expect("R rows"));
            if !parallel {
                return self.columns::<R, CT>(rows, &tw, k == 0);
            }
            // Column ranges of all R rows at once, for the threads to share.
            let piece = (cols / 16).max(64);
            let mut pieces = rows.map(|row| row.chunks_mut(piece));
            let tasks: Vec<[&mut [Block]; R]> = (0..cols.div_ceil(piece))
                .map(|_| core::array::from_fn(|t| pieces[t].next().expect("equal rows")))
                .collect();
            tasks
                .into_par_iter()
                .for_each(|rows| self.columns::<R, CT>(rows, &tw, k == 0));
        }

        /// A pass of `r` stages.
        #[target_feature(enable = "avx512f,avx512ifma")]
        fn pass_of<const CT: bool>(&self, data: &mut [Block], table: &[Block], k: usize, r: u32) {
            match r {
                1 => self.pass::<2, CT>(data, table, k),
                2 => self.pass::<4, CT>(data, table, k),
                _ => self.pass::<8, CT>(data, table, k),
            }
        }

        /// Stages per pass on a chunk of `blocks` blocks (more than two): its sub-chunks keep
        /// at least the two blocks of a tail.
        fn radix_log(blocks: usize) -> u32 {
            (blocks.trailing_zeros() - 1).min(MAX_RADIX_LOG)
        }

        /// Runs `each(sub-chunk, index)` on the `data.len() / sub` sub-chunks of `data`.
        #[target_feature(enable = "avx512f,avx512ifma")]
        fn sub_chunks(
            &self,
            data: &mut [Block],
            sub: usize,
            each: impl Fn(&mut [Block], usize) + Sync,
        ) {
            if data.len() >= PAR_BLOCKS {
                data.par_chunks_mut(sub)
                    .enumerate()
                    .for_each(|(i, c)| each(c, i));
            } else {
                data.chunks_mut(sub)
                    .enumerate()
                    .for_each(|(i, c)| each(c, i));
            }
        }

        /// Cooley-Tukey stages on `data`, group `k` of its stage, to the end: natural order
        /// in, bit-reversed out. On a whole polynomial (`k = 0`) with the table of `ζ`,
        /// position `p` ends up with `Σ_i x_i ζ^(i·bitrev(p))`.
        #[target_feature(enable = "avx512f,avx512ifma")]
        fn ct(&self, data: &mut [Block], table: &[Block], k: usize) {
            if data.len() <= 2 {
                return self.ct_tail(data, table, k);
            }
            let r = Self::radix_log(data.len());
            self.pass_of::<true>(data, table, k, r);
            let sub = data.len() >> r;
            self.sub_chunks(data, sub, |c, i| self.ct(c, table, (k << r) + i));
        }

        /// Gentleman-Sande stages on `data`, group `k` of its stage, from the end: bit-reversed
        /// order in, natural out. On a whole polynomial with the table of `ζ`, position `i`
        /// ends up with `Σ_p x_p ζ^(i·bitrev(p))`.
        #[target_feature(enable = "avx512f,avx512ifma")]
        fn gs(&self, data: &mut [Block], table: &[Block], k: usize) {
            if data.len() <= 2 {
                return self.gs_tail(data, table, k);
            }
            let r = Self::radix_log(data.len());
            let sub = data.len() >> r;
            self.sub_chunks(data, sub, |c, i| self.gs(c, table, (k << r) + i));
            self.pass_of::<false>(data, table, k, r);
        }

        /// Evaluations on the domain (natural order) to evaluations on the coset (natural
        /// order): `ct` with `ω^-1`, `coset` (`g^i / n`), `gs` with `ω`, the three in a row on
        /// each chunk of at most [`LEAF_BLOCKS`] while it is in cache.
        #[target_feature(enable = "avx512f,avx512ifma")]
        fn to_coset(&self, data: &mut [Block], k: usize, coset: &Coset) {
            if data.len() <= LEAF_BLOCKS {
                self.ct(data, &self.inverse, k);
                self.scale(data, k * data.len(), coset);
                self.gs(data, &self.forward, k);
                return;
            }
            let r = Self::radix_log(data.len());
            self.pass_of::<true>(data, &self.inverse, k, r);
            let sub = data.len() >> r;
            self.sub_chunks(data, sub, |c, i| self.to_coset(c, (k << r) + i, coset));
            self.pass_of::<false>(data, &self.forward, k, r);
        }

        /// `a·b - c`, position by position, into `a`.
        #[target_feature(enable = "avx512f,avx512ifma")]
        fn mul_sub(&self, a: &mut [Block], b: &[Block], c: &[Block]) {
            let f = self.f;
            a.par_iter_mut()
                .zip(b)
                .zip(c)
                .with_min_len(256)
                .for_each(|((a, b), c)| put(a, &f.sub(&f.mul(&get(a), &get(b)), &get(c))));
        }

        /// The polynomial in bit-reversed order `data`, scaled by `coset`, in natural order and
        /// arkworks' form. Output `r + t·n/8` is lane `bitrev_3(t)` of block `bitrev_{K-3}(r)`:
        /// the pass reads whole blocks (fetched ahead: the order defeats the hardware's
        /// prefetcher) and writes eight sequential streams. In this order the coset's power
        /// for block `bitrev_{K-3}(r)` is `x^r`, one multiplication from the previous one.
        #[target_feature(enable = "avx512f,avx512ifma")]
        fn to_natural(&self, data: &[Block], coset: &Coset) -> Vec<Fr> {
            const AHEAD: usize = 8;
            let f = self.f;
            let cols = self.blocks();
            let bits = self.log_n - 3;
            let mut out = vec![Fr::zero(); cols * LANES];
            let mut rows = out.chunks_mut(cols);
            let rows: [&mut [Fr]; LANES] = core::array::from_fn(|_| rows.next().expect("8 rows"));
            let piece = (cols / 16).max(256);
            let mut pieces = rows.map(|row| row.chunks_mut(piece));
            let tasks: Vec<(usize, [&mut [Fr]; LANES])> = (0..cols.div_ceil(piece))
                .map(|i| {
                    let rows = core::array::from_fn(|t| pieces[t].next().expect("equal rows"));
                    (i * piece, rows)
                })
                .collect();
            let step = f.splat(&f.constant(coset.base));
            tasks.into_par_iter().for_each(|(first, rows)| {
                let power = f.constant(coset.base.pow([first as u64]));
                let mut factor = f.mul(&get(&coset.lanes), &f.splat(&power));
                for j in 0..rows[0].len() {
                    // Past the end this is some other block: a harmless prefetch.
                    let next = &data[bitrev(first + j + AHEAD, bits)];
                    for row in &next.0 {
                        _mm_prefetch::<_MM_HINT_T0>(row.as_ptr().cast());
                    }
                    let x = f.mul(&get(&data[bitrev(first + j, bits)]), &factor);
                    factor = f.mul(&factor, &step);
                    for (l, x) in self.values(&x).into_iter().enumerate() {
                        rows[bitrev(l, 3)][j] = x;
                    }
                }
            });
            out
        }

        /// Eight lane values below `2p`, reduced below `p`, their raw limbs as arkworks'
        /// values.
        #[inline]
        #[target_feature(enable = "avx512f,avx512ifma")]
        fn values(&self, x: &Elem) -> [Fr; LANES] {
            let r = self.f.canonical(x);
            let words = [
                _mm512_or_si512(r[0], _mm512_slli_epi64::<52>(r[1])),
                _mm512_or_si512(_mm512_srli_epi64::<12>(r[1]), _mm512_slli_epi64::<40>(r[2])),
                _mm512_or_si512(_mm512_srli_epi64::<24>(r[2]), _mm512_slli_epi64::<28>(r[3])),
                _mm512_or_si512(_mm512_srli_epi64::<36>(r[3]), _mm512_slli_epi64::<16>(r[4])),
            ];
            let mut w = [[0u64; LANES]; 4];
            for (row, v) in w.iter_mut().zip(words) {
                // SAFETY: each row is 64 writable bytes; the store is unaligned.
                unsafe { _mm512_storeu_si512(row.as_mut_ptr().cast(), v) };
            }
            core::array::from_fn(|l| {
                Fr::new_unchecked(ark_ff::BigInt([w[0][l], w[1][l], w[2][l], w[3][l]]))
            })
        }

        /// `z` in lane form, one value per entry, for the evaluations' gathers: the raw limbs
        /// (a sixteenth) times 16.
        #[target_feature(enable = "avx512f,avx512ifma")]
        fn lane_form(&self, z: &[Fr]) -> Vec<[u64; LIMBS]> {
            let f = self.f;
            let sixteen = f.splat(&f.constant(Fr::from(16u64)));
            let mut out = vec![[0u64; LIMBS]; z.len()];
            out.par_chunks_mut(LANES)
                .zip(z.par_chunks(LANES))
                .with_min_len(1024)
                .for_each(|(out, xs)| {
                    let mut b = Block::default();
                    for (l, x) in xs.iter().enumerate() {
                        write(core::slice::from_mut(&mut b), l, x);
                    }
                    let x = f.mul(&get(&b), &sixteen);
                    put(&mut b, &x);
                    for (l, o) in out.iter_mut().enumerate() {
                        *o = core::array::from_fn(|k| b.0[k][l]);
                    }
                });
            out
        }

        /// The evaluations of a constraint matrix at `z` on the domain: row `i` gives
        /// `Σ coeff·z[index]`, rows past the matrix take `tail` (the public inputs, for A),
        /// then zeros. `lane_z` is `z` in [`Ntt::lane_form`].
        ///
        /// Values come out as raw limbs of arkworks' form, like everything entering the
        /// transforms (a sixteenth, as lane values): a row of one value with coefficient 1
        /// (most rows of C, many of A) and the tail are copied; the other rows sum products
        /// of a raw coefficient (a sixteenth of it) and a value in lane form.
        #[target_feature(enable = "avx512f,avx512ifma")]
        fn evaluations(
            &self,
            rows: &[Vec<(Fr, usize)>],
            tail: &[Fr],
            z: &[Fr],
            lane_z: &[[u64; LIMBS]],
        ) -> Vec<Block> {
            let mut out = vec![Block::default(); self.blocks()];
            out.par_chunks_mut(WINDOW / LANES)
                .enumerate()
                .for_each_init(Scratch::default, |scratch, (w, blocks)| {
                    let first = w * WINDOW;
                    if first < rows.len() {
                        let last = rows.len().min(first + WINDOW);
                        self.window(&rows[first..last], blocks, z, lane_z, scratch);
                    }
                    let tail_rows = rows.len()..rows.len() + tail.len();
                    for i in first.max(tail_rows.start)..(first + WINDOW).min(tail_rows.end) {
                        write(blocks, i - first, &tail[i - rows.len()]);
                    }
                });
            out
        }

        /// The rows of one window into its blocks: a single value with coefficient 1 copied,
        /// the other rows eight of one length at a time.
        #[target_feature(enable = "avx512f,avx512ifma")]
        fn window(
            &self,
            rows: &[Vec<(Fr, usize)>],
            out: &mut [Block],
            z: &[Fr],
            lane_z: &[[u64; LIMBS]],
            scratch: &mut Scratch,
        ) {
            // The rows by number of products (0: nothing to multiply), stable, so that rows
            // of one length stay in memory order: a counting sort.
            let products = |row: &[(Fr, usize)]| match row {
                [(coeff, _)] if coeff.is_one() => 0,
                _ => row.len(),
            };
            let longest = rows.iter().map(Vec::len).max().unwrap_or(0);
            let starts = &mut scratch.starts;
            starts.clear();
            starts.resize(longest + 2, 0);
            for row in rows {
                starts[products(row) + 1] += 1;
            }
            for len in 1..starts.len() {
                starts[len] += starts[len - 1];
            }
            let order = &mut scratch.order;
            order.clear();
            order.resize(rows.len(), 0);
            let mut next = starts.clone();
            for (i, row) in rows.iter().enumerate() {
                let products = products(row);
                if let ([(_, index)], 0) = (&row[..], products) {
                    write(out, i, &z[*index]);
                }
                order[next[products]] = i as u32;
                next[products] += 1;
            }
            scratch.steps.resize(TERMS, [[0; LANES]; 5]);
            let mut groups = order[starts[1]..]
                .chunk_by(|&a, &b| rows[a as usize].len() == rows[b as usize].len())
                .flat_map(|same| same.chunks(LANES))
                .peekable();
            while let Some(eight) = groups.next() {
                // Rows are read out of order: fetch the next group's while this one runs.
                for &i in groups.peek().copied().unwrap_or_default() {
                    let row = &rows[i as usize];
                    for offset in (0..core::mem::size_of_val(&row[..])).step_by(64) {
                        _mm_prefetch::<_MM_HINT_T0>(row.as_ptr().cast::<i8>().wrapping_add(offset));
                    }
                }
                self.eight_rows(rows, eight, &mut scratch.steps, out, lane_z);
            }
        }

        /// Up to eight rows of one length, one per lane.
        #[target_feature(enable = "avx512f,avx512ifma")]
        fn eight_rows(
            &self,
            rows: &[Vec<(Fr, usize)>],
            eight: &[u32],
            steps: &mut [Step],
            out: &mut [Block],
            lane_z: &[[u64; LIMBS]],
        ) {
            let f = self.f;
            let len = rows[eight[0] as usize].len();
            let used = ((1u32 << eight.len()) - 1) as u8;
            let base = lane_z.as_ptr().cast::<u64>();
            let mut sum = None;
            for start in (0..len).step_by(TERMS) {
                let count = (len - start).min(TERMS);
                for (l, &i) in eight.iter().enumerate() {
                    let terms = &rows[i as usize][start..start + count];
                    for (step, (coeff, index)) in steps.iter_mut().zip(terms) {
                        // The gathers below read lane_z[index]: it must be there.
                        assert!(*index < lane_z.len(), "a matrix index past the assignment");
                        for (word, w) in step.iter_mut().zip(coeff.0.0) {
                            word[l] = w;
                        }
                        step[4][l] = (*index * LIMBS) as u64;
                    }
                }
                let mut acc = f.wide_zero();
                for step in &steps[..count] {
                    let words: [V; 5] = core::array::from_fn(|w| {
                        // SAFETY: each row of a Step is 64 readable bytes.
                        unsafe { _mm512_loadu_si512(step[w].as_ptr().cast()) }
                    });
                    let values: Elem = core::array::from_fn(|k| {
                        // SAFETY: the lanes in `used` hold `index · LIMBS` with `index` below
                        // `lane_z.len()` (checked above), so `base + offset + k` is limb `k` of
                        // `lane_z[index]`; the other lanes read nothing.
                        unsafe {
                            _mm512_mask_i64gather_epi64::<8>(
                                _mm512_setzero_si512(),
                                used,
                                words[4],
                                base.wrapping_add(k).cast(),
                            )
                        }
                    });
                    f.mul_acc(&mut acc, &split(&words), &values);
                }
                let part = f.reduce(acc);
                sum = Some(sum.map_or(part, |sum| f.add(&sum, &part)));
            }
            let mut b = Block::default();
            put(&mut b, &sum.expect("rows with terms"));
            for (l, &i) in eight.iter().enumerate() {
                let i = i as usize;
                for (row, limbs) in out[i / LANES].0.iter_mut().zip(&b.0) {
                    row[i % LANES] = limbs[l];
                }
            }
        }
    }

    /// Four 64-bit words per lane (a value below 2^256) as five 52-bit limbs:
    /// `lanes::to_limbs` on vectors.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn split(w: &[V; 5]) -> Elem {
        let mask = _mm512_set1_epi64(((1u64 << 52) - 1) as i64);
        let join = |lo: V, hi: V| _mm512_and_si512(_mm512_or_si512(lo, hi), mask);
        [
            _mm512_and_si512(w[0], mask),
            join(_mm512_srli_epi64::<52>(w[0]), _mm512_slli_epi64::<12>(w[1])),
            join(_mm512_srli_epi64::<40>(w[1]), _mm512_slli_epi64::<24>(w[2])),
            join(_mm512_srli_epi64::<28>(w[2]), _mm512_slli_epi64::<36>(w[3])),
            _mm512_srli_epi64::<16>(w[3]),
        ]
    }

    /// The witness map (see the module docs).
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn witness_map(
        m: &ConstraintMatrices<Fr>,
        z: &[Fr],
        domain: &Radix2EvaluationDomain<Fr>,
    ) -> Vec<Fr> {
        let ntt = Ntt::new(domain);
        let g = Fr::GENERATOR;
        let n_inv = domain.size_inv;
        // `a` takes the 16 that makes `a·b - c` carry the inputs' 1/16 (see the module doc).
        let coset_a = ntt.coset(g, n_inv * Fr::from(16u64));
        let coset = ntt.coset(g, n_inv);
        let z_inv = domain
            .evaluate_vanishing_polynomial(g)
            .inverse()
            .expect("g is not in the domain");
        let back = ntt.coset(g.inverse().expect("g is not zero"), n_inv * z_inv);

        let lane_z = ntt.lane_form(z);
        let inputs = &z[..m.num_instance_variables];
        let mut a = ntt.evaluations(&m.a, inputs, z, &lane_z);
        ntt.to_coset(&mut a, 0, &coset_a);
        let mut b = ntt.evaluations(&m.b, &[], z, &lane_z);
        ntt.to_coset(&mut b, 0, &coset);
        let mut c = ntt.evaluations(&m.c, &[], z, &lane_z);
        drop(lane_z);
        ntt.to_coset(&mut c, 0, &coset);
        ntt.mul_sub(&mut a, &b, &c);
        drop((b, c));
        ntt.ct(&mut a, &ntt.inverse, 0);
        ntt.to_natural(&a, &back)
    }

    /// The witness map's steps one by one, each run five times: wall time and the process's
    /// CPU time per run, the latter steadier on a shared machine (for `bench_witness_map`;
    /// `RAYON_NUM_THREADS=1` gives the cost on one core).
    #[cfg(test)]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn bench_steps(
        m: &ConstraintMatrices<Fr>,
        z: &[Fr],
        domain: &Radix2EvaluationDomain<Fr>,
    ) {
        fn cpu() -> f64 {
            let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
            let fields: Vec<f64> = stat
                .rsplit(')')
                .next()
                .unwrap_or_default()
                .split_whitespace()
                .map(|x| x.parse().unwrap_or(0.0))
                .collect();
            // utime and stime, in clock ticks of 10 ms.
            fields.get(11..13).map_or(0.0, |t| (t[0] + t[1]) / 100.0)
        }
        fn step<T>(name: &str, mut f: impl FnMut() -> T) -> T {
            const RUNS: usize = 5;
            let (wall, started) = (std::time::Instant::now(), cpu());
            for _ in 1..RUNS {
                f();
            }
            let out = f();
            let each = |s: f64| s * 1e3 / RUNS as f64;
            let (wall, cpu) = (each(wall.elapsed().as_secs_f64()), each(cpu() - started));
            println!("  {name}: {wall:.1} ms, cpu {cpu:.1} ms");
            out
        }
        let ntt = step("tables", || Ntt::new(domain));
        let coset = ntt.coset(Fr::GENERATOR, domain.size_inv);
        let inputs = &z[..m.num_instance_variables];
        let lane_z = step("lane form of z", || ntt.lane_form(z));
        let mut a = step("evaluations A", || {
            ntt.evaluations(&m.a, inputs, z, &lane_z)
        });
        let mut b = step("evaluations B", || ntt.evaluations(&m.b, &[], z, &lane_z));
        let c = step("evaluations C", || ntt.evaluations(&m.c, &[], z, &lane_z));
        step("to_coset", || ntt.to_coset(&mut a, 0, &coset));
        step("mul_sub", || ntt.mul_sub(&mut a, &b, &c));
        step("ct", || ntt.ct(&mut a, &ntt.inverse, 0));
        step("gs", || ntt.gs(&mut b, &ntt.forward, 0));
        step("to_natural", || ntt.to_natural(&a, &coset));
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use ark_ff::UniformRand;
        use ark_poly::GeneralEvaluationDomain;

        fn load(xs: &[Fr]) -> Vec<Block> {
            let mut data = vec![Block::default(); xs.len() / LANES];
            for (i, x) in xs.iter().enumerate() {
                write(&mut data, i, x);
            }
            data
        }

        fn unload(ntt: &Ntt, data: &[Block]) -> Vec<Fr> {
            // SAFETY: the tests run this only when the CPU has the features.
            data.iter()
                .flat_map(|b| unsafe { ntt.values(&get(b)) })
                .collect()
        }

        fn bitrev_order(xs: &[Fr]) -> Vec<Fr> {
            let bits = xs.len().trailing_zeros();
            (0..xs.len()).map(|p| xs[bitrev(p, bits)]).collect()
        }

        /// Inputs of `n` values: random, all 0, all 1, all `p - 1`, and a mixture.
        fn inputs(n: usize) -> Vec<Vec<Fr>> {
            let mut rng = ark_std::test_rng();
            let edges = [Fr::zero(), Fr::one(), -Fr::one()];
            let mut out = vec![(0..n).map(|_| Fr::rand(&mut rng)).collect::<Vec<_>>()];
            out.extend(edges.iter().map(|e| vec![*e; n]));
            let mixed = (0..n).map(|i| {
                edges
                    .get(i % 4)
                    .copied()
                    .unwrap_or_else(|| Fr::rand(&mut rng))
            });
            out.push(mixed.collect());
            out
        }

        /// ark-poly's four transforms and ours (as the witness map builds them from `ct`,
        /// `gs` and the coset scalings), sizes 8 to 2^12; smaller domains take arkworks'
        /// own path.
        #[test]
        fn transforms_are_arkworks_transforms() {
            if !lanes::available() {
                return;
            }
            for log_n in 3..=12 {
                let n = 1usize << log_n;
                let domain = GeneralEvaluationDomain::<Fr>::new(n).unwrap();
                let GeneralEvaluationDomain::Radix2(radix2) = domain else {
                    panic!("a radix-2 domain")
                };
                let g = Fr::GENERATOR;
                let coset = domain.get_coset(g).unwrap();
                let n_inv = radix2.size_inv;
                // SAFETY: the CPU has the features (checked above), here and below.
                let ntt = unsafe { Ntt::new(&radix2) };
                let ifft = |x: &[Fr], c: &Coset| {
                    let mut d = load(x);
                    // SAFETY: as above.
                    unsafe {
                        ntt.ct(&mut d, &ntt.inverse, 0);
                        ntt.to_natural(&d, c)
                    }
                };
                let fft = |x: &[Fr], c: &Coset| {
                    let mut d = load(&bitrev_order(x));
                    // SAFETY: as above.
                    unsafe {
                        ntt.scale(&mut d, 0, c);
                        ntt.gs(&mut d, &ntt.forward, 0);
                    }
                    unload(&ntt, &d)
                };
                // SAFETY: as above.
                let (plain_inv, coset_inv, plain, coset_fwd) = unsafe {
                    (
                        ntt.coset(Fr::one(), n_inv),
                        ntt.coset(g.inverse().unwrap(), n_inv),
                        ntt.coset(Fr::one(), Fr::one()),
                        ntt.coset(g, Fr::one()),
                    )
                };
                for x in inputs(n) {
                    assert_eq!(ifft(&x, &plain_inv), domain.ifft(&x), "ifft, n = {n}");
                    assert_eq!(ifft(&x, &coset_inv), coset.ifft(&x), "coset ifft, n = {n}");
                    assert_eq!(fft(&x, &plain), domain.fft(&x), "fft, n = {n}");
                    assert_eq!(fft(&x, &coset_fwd), coset.fft(&x), "coset fft, n = {n}");
                }
            }
        }

        /// The fused inverse FFT and coset FFT, on a domain large enough for the chunked and
        /// parallel paths.
        #[test]
        fn to_coset_is_ifft_then_coset_fft() {
            if !lanes::available() {
                return;
            }
            let n = LEAF_BLOCKS * LANES * 4;
            let domain = GeneralEvaluationDomain::<Fr>::new(n).unwrap();
            let GeneralEvaluationDomain::Radix2(radix2) = domain else {
                panic!("a radix-2 domain")
            };
            let coset = domain.get_coset(Fr::GENERATOR).unwrap();
            let x = &inputs(n)[0];
            let mut expected = domain.ifft(x);
            coset.fft_in_place(&mut expected);
            // SAFETY: the CPU has the features.
            let ours = unsafe {
                let ntt = Ntt::new(&radix2);
                let mut d = load(x);
                ntt.to_coset(&mut d, 0, &ntt.coset(Fr::GENERATOR, radix2.size_inv));
                unload(&ntt, &d)
            };
            assert_eq!(ours, expected);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{BatchCircuit, BatchShape};
    use ark_ff::{One, UniformRand, Zero};
    use ark_relations::r1cs::{
        ConstraintSynthesizer, ConstraintSystem, OptimizationGoal, SynthesisMode,
    };
    use ark_std::rand::{Rng, SeedableRng, rngs::StdRng};
    use proptest::prelude::*;

    fn arkworks(m: &ConstraintMatrices<Fr>, z: &[Fr]) -> Vec<Fr> {
        LibsnarkReduction::witness_map_from_matrices::<Fr, GeneralEvaluationDomain<Fr>>(
            m,
            m.num_instance_variables,
            m.num_constraints,
            z,
        )
        .unwrap()
    }

    /// Random sparse matrices: `constraints` rows over `inputs` instance and `witnesses`
    /// witness variables, mostly rows of 0 to 3 terms and a few of up to 100 (more than one
    /// accumulator's worth), coefficients often 1 or `p - 1`; and a random assignment with
    /// 0, 1 and `p - 1` in it. With `extreme`, every coefficient and value is `p - 1`.
    fn random_r1cs(
        rng: &mut impl Rng,
        constraints: usize,
        inputs: usize,
        witnesses: usize,
        extreme: bool,
    ) -> (ConstraintMatrices<Fr>, Vec<Fr>) {
        let vars = inputs + witnesses;
        let mut matrix = || -> Vec<Vec<(Fr, usize)>> {
            (0..constraints)
                .map(|_| {
                    let len = match rng.gen_range(0..50) {
                        0 => rng.gen_range(4..100),
                        _ => rng.gen_range(0..4),
                    };
                    (0..len)
                        .map(|_| {
                            let coeff = match rng.gen_range(0..4) {
                                _ if extreme => -Fr::one(),
                                0 => Fr::one(),
                                1 => -Fr::one(),
                                _ => Fr::rand(rng),
                            };
                            (coeff, rng.gen_range(0..vars))
                        })
                        .collect()
                })
                .collect()
        };
        let (a, b, c) = (matrix(), matrix(), matrix());
        let m = ConstraintMatrices {
            num_instance_variables: inputs,
            num_witness_variables: witnesses,
            num_constraints: constraints,
            a_num_non_zero: a.iter().map(Vec::len).sum(),
            b_num_non_zero: b.iter().map(Vec::len).sum(),
            c_num_non_zero: c.iter().map(Vec::len).sum(),
            a,
            b,
            c,
        };
        let mut z: Vec<Fr> = (0..vars)
            .map(|_| if extreme { -Fr::one() } else { Fr::rand(rng) })
            .collect();
        z[0] = Fr::one();
        if vars > 2 && !extreme {
            z[vars - 1] = -Fr::one();
            z[vars - 2] = Fr::zero();
        }
        (m, z)
    }

    #[test]
    fn witness_map_is_arkworks_on_random_matrices() {
        let mut rng = StdRng::seed_from_u64(7);
        for (constraints, inputs, witnesses, extreme) in [
            (0, 1, 0, false),
            (1, 1, 1, false),
            (3, 2, 4, false),
            (6, 2, 5, false),
            (7, 1, 9, false),
            (30, 3, 20, false),
            (200, 5, 150, false),
            (1000, 2, 700, false),
            (1000, 2, 700, true),
            (5000, 4, 3000, false),
        ] {
            let (m, z) = random_r1cs(&mut rng, constraints, inputs, witnesses, extreme);
            assert_eq!(
                witness_map(&m, &z).unwrap(),
                arkworks(&m, &z),
                "{constraints} constraints"
            );
        }
    }

    /// The batch circuit's matrices, as `BatchR1cs` builds them, at its own witness.
    #[test]
    fn witness_map_is_arkworks_on_the_batch_circuit() {
        let cs = ConstraintSystem::<Fr>::new_ref();
        cs.set_optimization_goal(OptimizationGoal::Constraints);
        BatchCircuit::of_shape(BatchShape::new(1, 1))
            .generate_constraints(cs.clone())
            .unwrap();
        cs.finalize();
        let m = cs.to_matrices().unwrap();
        let inner = cs.borrow().unwrap();
        let z = [
            inner.instance_assignment.as_slice(),
            inner.witness_assignment.as_slice(),
        ]
        .concat();
        assert_eq!(witness_map(&m, &z).unwrap(), arkworks(&m, &z));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn witness_map_is_arkworks(
            seed in any::<u64>(),
            constraints in 0usize..300,
            inputs in 1usize..6,
            witnesses in 0usize..100,
        ) {
            let mut rng = StdRng::seed_from_u64(seed);
            let (m, z) = random_r1cs(&mut rng, constraints, inputs, witnesses, false);
            prop_assert_eq!(witness_map(&m, &z).unwrap(), arkworks(&m, &z));
        }
    }

    fn time<T>(f: impl FnOnce() -> T) -> (f64, T) {
        let started = std::time::Instant::now();
        let out = f();
        (started.elapsed().as_secs_f64(), out)
    }

    /// The 29-chunk batch circuit's matrices (988,691 constraints, domain 2^20) at a random
    /// assignment, ours against arkworks, then our steps one by one:
    /// `cargo test --release -p causeway-circuit --lib qap::tests::bench_witness_map --
    /// --ignored --nocapture`
    #[test]
    #[ignore = "benchmark: run in release"]
    fn bench_witness_map() {
        let cs = ConstraintSystem::<Fr>::new_ref();
        cs.set_optimization_goal(OptimizationGoal::Constraints);
        cs.set_mode(SynthesisMode::Setup);
        BatchCircuit::of_shape(BatchShape::new(29, 1))
            .generate_constraints(cs.clone())
            .unwrap();
        cs.finalize();
        let m = cs.to_matrices().unwrap();
        let mut rng = StdRng::seed_from_u64(1);
        let z: Vec<Fr> = (0..m.num_instance_variables + m.num_witness_variables)
            .map(|_| Fr::rand(&mut rng))
            .collect();
        println!("rayon threads: {}", rayon::current_num_threads());
        for _ in 0..2 {
            let (ours, h) = time(|| witness_map(&m, &z).unwrap());
            let (theirs, expected) = time(|| arkworks(&m, &z));
            assert_eq!(h, expected);
            println!(
                "witness map 2^20: ours {ours:.3} s, arkworks {theirs:.3} s, speedup {:.2}x",
                theirs / ours
            );
        }
        #[cfg(target_arch = "x86_64")]
        if causeway_crypto::lanes::available() {
            let domain = ark_poly::Radix2EvaluationDomain::<Fr>::new(1 << 20).unwrap();
            // SAFETY: the CPU has the features.
            unsafe { lane::bench_steps(&m, &z, &domain) };
        }
    }
}
