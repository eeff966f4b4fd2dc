//! Poseidon over the BN254 scalar field, bit-for-bit as circomlib's `Poseidon(n)` template and
//! circomlibjs' `poseidon` compute it.
//!
//! Owns the hash that every Merkle node, account leaf and signed message of Causeway goes
//! through, so it must agree with the circuits and with external tools exactly. The
//! invariants it keeps:
//!
//! - Parameters are circomlib's: width `t = inputs + 1` (2..=17), x^5 S-box, 8 full rounds and
//!   `PARTIAL_ROUNDS[t - 2]` partial rounds; the initial state is `[0, in_1, .., in_n]` and the
//!   digest is `state[0]` after the permutation.
//! - Round constants and MDS matrices are regenerated from the paper's Grain LFSR (the
//!   `grain` submodule), once per width on first use, and turned into the equivalent
//!   optimized form (the `optimized` submodule). Tests pin both against circomlibjs outputs
//!   for every width.
//! - Hashing never allocates: the state is a `[Fr; t]` on the stack.

mod grain;
#[cfg(target_arch = "x86_64")]
mod lanes;
mod optimized;

use ark_ff::{Field, Zero};
use causeway_primitives::Fr;
use optimized::OptimizedParams;
use std::sync::OnceLock;

/// Largest number of inputs circomlib's Poseidon takes (width 17).
pub const MAX_INPUTS: usize = 16;

/// Full rounds for every width.
const FULL_ROUNDS: usize = 8;

/// Partial rounds for widths `t = 2..=17` (index `t - 2`), from circomlib.
const PARTIAL_ROUNDS: [usize; MAX_INPUTS] = [
    56, 57, 56, 60, 60, 63, 64, 63, 60, 66, 60, 65, 70, 60, 64, 68,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PoseidonError {
    #[error("Poseidon takes 1..={MAX_INPUTS} inputs, got {0}")]
    InputCount(usize),
}

static PARAMS: [OnceLock<OptimizedParams>; MAX_INPUTS] = [const { OnceLock::new() }; MAX_INPUTS];

pub use grain::ReferenceParams;

static REFERENCE: [OnceLock<ReferenceParams>; MAX_INPUTS] = [const { OnceLock::new() }; MAX_INPUTS];

/// circomlib's parameters for `inputs` inputs (1..=16) in their textbook form: round constants
/// and MDS matrix, round by round. What a circuit or an L1 contract implementing the same
/// hash needs; hashing here uses the equivalent optimized form.
///
/// # Panics
/// If `inputs` is not in `1..=16`.
pub fn reference_params(inputs: usize) -> &'static ReferenceParams {
    assert!(
        (1..=MAX_INPUTS).contains(&inputs),
        "Poseidon takes 1..={MAX_INPUTS} inputs"
    );
    REFERENCE[inputs - 1].get_or_init(|| {
        let t = inputs + 1;
        grain::generate(t, FULL_ROUNDS, PARTIAL_ROUNDS[t - 2])
    })
}

/// The optimized parameters for `inputs` inputs, generated on first use.
fn params(inputs: usize) -> &'static OptimizedParams {
    PARAMS[inputs - 1].get_or_init(|| OptimizedParams::new(reference_params(inputs)))
}

/// `x^5`, the S-box, telling `sbox` the powers `x^2, x^4, x^5` it computed.
#[inline(always)]
fn pow5(x: &mut Fr, round: usize, lane: usize, sbox: &mut impl FnMut(usize, usize, [Fr; 3])) {
    let x2 = x.square();
    let x4 = x2.square();
    *x *= x4;
    sbox(round, lane, [x2, x4, *x]);
}

#[inline(always)]
fn dense<const T: usize>(m: &[Fr], state: &[Fr; T]) -> [Fr; T] {
    let mut out = [Fr::zero(); T];
    for (o, row) in out.iter_mut().zip(m.chunks_exact(T)) {
        // One Montgomery reduction per row instead of one per product (BN254 leaves spare bits).
        *o = Fr::sum_of_products(row.try_into().expect("rows are T wide"), state);
    }
    out
}

/// `round` is the full round's number among the full rounds (its constants), `number` its
/// number among all rounds (what `sbox` is told).
#[inline(always)]
fn full_round<const T: usize>(
    p: &OptimizedParams,
    round: usize,
    number: usize,
    state: &mut [Fr; T],
    sbox: &mut impl FnMut(usize, usize, [Fr; 3]),
) {
    let constants = &p.full_constants[round * T..(round + 1) * T];
    for (lane, (s, c)) in state.iter_mut().zip(constants).enumerate() {
        *s += c;
        pow5(s, number, lane, sbox);
    }
    *state = dense(&p.mds, state);
}

/// The Poseidon permutation of width `T`, in optimized form, telling `sbox` the input of each
/// S-box (see [`try_hash_traced`]; hashing passes a closure that does nothing, which the
/// compiler removes).
fn permute<const T: usize>(
    p: &OptimizedParams,
    state: &mut [Fr; T],
    sbox: &mut impl FnMut(usize, usize, [Fr; 3]),
) {
    debug_assert_eq!(p.t, T);
    debug_assert_eq!(p.partial_constants.len(), p.partial_rounds);
    let half = p.half_full_rounds;
    for round in 0..half {
        full_round(p, round, round, state, sbox);
    }
    let (last_constant, constants) = p
        .partial_constants
        .split_last()
        .expect("at least one partial round");
    for (r, (c, m)) in constants
        .iter()
        .zip(p.sparse.chunks_exact(2 * T - 1))
        .enumerate()
    {
        state[0] += c;
        pow5(&mut state[0], half + r, 0, sbox);
        let w = &m[T..];
        let s0 = state[0];
        // `m[..T]` is `m00, row`: the new lane 0 is one lazily reduced dot product.
        let acc = Fr::sum_of_products(m[..T].try_into().expect("m00 and row"), state);
        for j in 1..T {
            state[j] += w[j - 1] * s0;
        }
        state[0] = acc;
    }
    state[0] += last_constant;
    pow5(&mut state[0], half + p.partial_rounds - 1, 0, sbox);
    *state = dense(&p.last_partial_mds, state);
    for round in half..2 * half {
        full_round(p, round, round + p.partial_rounds, state, sbox);
    }
}

#[inline(always)]
fn hash_width<const T: usize>(inputs: &[Fr]) -> Fr {
    hash_width_traced::<T>(inputs, &mut |_, _, _| {})
}

#[inline(always)]
fn hash_width_traced<const T: usize>(
    inputs: &[Fr],
    sbox: &mut impl FnMut(usize, usize, [Fr; 3]),
) -> Fr {
    let mut state = [Fr::zero(); T];
    state[1..].copy_from_slice(inputs);
    permute(params(T - 1), &mut state, sbox);
    state[0]
}

/// Poseidon of 1..=16 inputs, or an error for any other count.
pub fn try_hash(inputs: &[Fr]) -> Result<Fr, PoseidonError> {
    try_hash_traced(inputs, |_, _, _| {})
}

/// [`try_hash`], calling `sbox(round, lane, [x^2, x^4, x^5])` with the powers each S-box
/// computes of its input `x`, in the order the permutation applies them: lanes `0..t` in
/// each full round, lane 0 in each partial round, rounds numbered from 0 as in
/// [`reference_params`].
///
/// The inputs are those of the textbook rounds: the optimized form moves constants and
/// linear layers, never what enters an S-box (the partial rounds' rewrites leave lane 0
/// alone; the test `traced_sboxes_are_the_reference_rounds` checks it for every width). A
/// circuit's witness holds exactly these powers, so its prover can take them from here.
pub fn try_hash_traced(
    inputs: &[Fr],
    mut sbox: impl FnMut(usize, usize, [Fr; 3]),
) -> Result<Fr, PoseidonError> {
    let sbox = &mut sbox;
    Ok(match inputs.len() {
        1 => hash_width_traced::<2>(inputs, sbox),
        2 => hash_width_traced::<3>(inputs, sbox),
        3 => hash_width_traced::<4>(inputs, sbox),
        4 => hash_width_traced::<5>(inputs, sbox),
        5 => hash_width_traced::<6>(inputs, sbox),
        6 => hash_width_traced::<7>(inputs, sbox),
        7 => hash_width_traced::<8>(inputs, sbox),
        8 => hash_width_traced::<9>(inputs, sbox),
        9 => hash_width_traced::<10>(inputs, sbox),
        10 => hash_width_traced::<11>(inputs, sbox),
        11 => hash_width_traced::<12>(inputs, sbox),
        12 => hash_width_traced::<13>(inputs, sbox),
        13 => hash_width_traced::<14>(inputs, sbox),
        14 => hash_width_traced::<15>(inputs, sbox),
        15 => hash_width_traced::<16>(inputs, sbox),
        16 => hash_width_traced::<17>(inputs, sbox),
        n => return Err(PoseidonError::InputCount(n)),
    })
}

/// Poseidon of 1..=16 inputs.
///
/// # Panics
/// If `inputs` is empty or longer than [`MAX_INPUTS`]: the input count is always fixed by the
/// caller's data structure, so another count is a programming error. Use [`try_hash`] for
/// counts that come from outside.
pub fn hash(inputs: &[Fr]) -> Fr {
    try_hash(inputs).unwrap_or_else(|e| panic!("{e}"))
}

/// Poseidon of each of `inputs` (`N` elements each, 1..=16), in order: eight at a time on
/// AVX-512 IFMA lanes where the CPU has them ([`crate::lanes`]), one by one otherwise. The
/// digests are those of [`hash`], bit for bit.
///
/// # Panics
/// If `N` is 0 or above [`MAX_INPUTS`].
pub fn hash_many<const N: usize>(inputs: &[[Fr; N]]) -> Vec<Fr> {
    assert!(
        (1..=MAX_INPUTS).contains(&N),
        "Poseidon takes 1..={MAX_INPUTS} inputs"
    );
    #[cfg(target_arch = "x86_64")]
    if inputs.len() > 1 && crate::lanes::available() {
        return hash_many_lanes(inputs);
    }
    inputs.iter().map(|x| hash(x)).collect()
}

#[cfg(target_arch = "x86_64")]
fn hash_many_lanes<const N: usize>(inputs: &[[Fr; N]]) -> Vec<Fr> {
    use crate::lanes::LANES;
    let params = lanes::params(N);
    let mut out = Vec::with_capacity(inputs.len());
    for chunk in inputs.chunks(LANES) {
        let mut eight = [[Fr::zero(); N]; LANES];
        eight[..chunk.len()].copy_from_slice(chunk);
        // SAFETY: `hash_many` checked that the CPU has avx512f and avx512ifma.
        let digests = unsafe { params.hash8(&eight) };
        out.extend_from_slice(&digests[..chunk.len()]);
    }
    out
}

/// Poseidon of two inputs (width 3).
pub fn hash2(inputs: &[Fr; 2]) -> Fr {
    hash_width::<3>(inputs)
}

/// Poseidon of four inputs (width 5): the node hash of Causeway's quaternary Merkle trees.
pub fn hash4(inputs: &[Fr; 4]) -> Fr {
    hash_width::<5>(inputs)
}

/// Poseidon of five inputs (width 6): the EdDSA challenge `H(R8, A, msg)`.
pub fn hash5(inputs: &[Fr; 5]) -> Fr {
    hash_width::<6>(inputs)
}

#[cfg(test)]
mod tests;
