//! The Poseidon permutation on eight inputs at once ([`crate::lanes`], AVX-512 IFMA): the
//! same optimized rounds as the scalar `permute`, with every lane's arithmetic on vectors.
//!
//! Owns the lane form of each width's optimized parameters (built once, on first use) and
//! the eight-lane permutation. Results equal the scalar hash bit for bit (tests in
//! `poseidon::tests` compare every width on random inputs).

use super::optimized::OptimizedParams;
use crate::lanes::{Elem, Field52, LANES, LIMBS};
use causeway_primitives::Fr;
use std::sync::OnceLock;

/// Widest state: 16 inputs.
const MAX_T: usize = super::MAX_INPUTS + 1;

type Constant = [u64; LIMBS];

/// One width's optimized parameters in lane form (see [`OptimizedParams`]).
pub(super) struct LaneParams {
    field: &'static Field52,
    t: usize,
    half_full_rounds: usize,
    full_constants: Vec<Constant>,
    partial_constants: Vec<Constant>,
    sparse: Vec<Constant>,
    last_partial_mds: Vec<Constant>,
    mds: Vec<Constant>,
}

static PARAMS: [OnceLock<LaneParams>; super::MAX_INPUTS] =
    [const { OnceLock::new() }; super::MAX_INPUTS];

/// The lane parameters for `inputs` inputs (1..=16).
pub(super) fn params(inputs: usize) -> &'static LaneParams {
    PARAMS[inputs - 1].get_or_init(|| {
        let p: &OptimizedParams = super::params(inputs);
        let field = crate::lanes::fr();
        let lane = |v: &[Fr]| v.iter().map(|c| field.constant(*c)).collect::<Vec<_>>();
        LaneParams {
            t: p.t,
            half_full_rounds: p.half_full_rounds,
            full_constants: lane(&p.full_constants),
            partial_constants: lane(&p.partial_constants),
            sparse: lane(&p.sparse),
            last_partial_mds: lane(&p.last_partial_mds),
            mds: lane(&p.mds),
            field,
        }
    })
}

impl LaneParams {
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn pow5(&self, x: &Elem) -> Elem {
        let f = self.field;
        let x4 = f.square(&f.square(x));
        f.mul(&x4, x)
    }

    /// `state = m * state` for a dense `t * t` matrix of constants: one reduction per row
    /// (at most 17 products of a constant below `p` and a value below `2p`: below `2p`).
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn dense(&self, m: &[Constant], state: &mut [Elem; MAX_T]) {
        let f = self.field;
        let t = self.t;
        let mut out = *state;
        for (o, row) in out.iter_mut().zip(m.chunks_exact(t)) {
            let mut acc = f.wide_zero();
            for (c, s) in row.iter().zip(&state[..t]) {
                f.mul_acc(&mut acc, &f.splat(c), s);
            }
            *o = f.reduce(acc);
        }
        *state = out;
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn full_round(&self, round: usize, state: &mut [Elem; MAX_T]) {
        let f = self.field;
        let t = self.t;
        for (s, c) in state[..t]
            .iter_mut()
            .zip(&self.full_constants[round * t..(round + 1) * t])
        {
            *s = self.pow5(&f.add(s, &f.splat(c)));
        }
        self.dense(&self.mds, state);
    }

    /// The permutation of eight states at once (lanes of `state[..t]`).
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn permute(&self, state: &mut [Elem; MAX_T]) {
        let f = self.field;
        let t = self.t;
        let half = self.half_full_rounds;
        for round in 0..half {
            self.full_round(round, state);
        }
        let (last_constant, constants) = self
            .partial_constants
            .split_last()
            .expect("at least one partial round");
        for (c, m) in constants.iter().zip(self.sparse.chunks_exact(2 * t - 1)) {
            let s0 = self.pow5(&f.add(&state[0], &f.splat(c)));
            state[0] = s0;
            let mut acc = f.wide_zero();
            for (mj, s) in m[..t].iter().zip(&state[..t]) {
                f.mul_acc(&mut acc, &f.splat(mj), s);
            }
            for (s, w) in state[1..t].iter_mut().zip(&m[t..]) {
                *s = f.add(s, &f.mul(&f.splat(w), &s0));
            }
            state[0] = f.reduce(acc);
        }
        state[0] = self.pow5(&f.add(&state[0], &f.splat(last_constant)));
        self.dense(&self.last_partial_mds, state);
        for round in half..2 * half {
            self.full_round(round, state);
        }
    }

    /// Poseidon of eight inputs of `t - 1` elements each.
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn hash8<const N: usize>(&self, inputs: &[[Fr; N]; LANES]) -> [Fr; LANES] {
        debug_assert_eq!(N + 1, self.t);
        let f = self.field;
        let zero = f.splat(&[0; LIMBS]);
        let mut state = [zero; MAX_T];
        for (i, s) in state[1..=N].iter_mut().enumerate() {
            *s = f.load(&inputs.map(|x| x[i].0.0));
        }
        self.permute(&mut state);
        f.store(&state[0])
            .map(|w| Fr::new_unchecked(ark_ff::BigInt(w)))
    }
}
