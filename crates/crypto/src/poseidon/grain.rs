//! Poseidon's reference parameters, regenerated from the Grain LFSR of the Poseidon paper
//! (Grassi et al., "Poseidon: A New Hash Function for Zero-Knowledge Proof Systems",
//! appendix F), with the settings circomlib used: prime field (`field = 1`), x^5 S-box
//! (`sbox = 0`), 254-bit elements, `R_F = 8`.
//!
//! Owns: turning `(t, R_P)` into the round constants and the Cauchy MDS matrix. The output is
//! checked against circomlibjs by the vectors in `vectors/circomlibjs.json`; nothing here is
//! trusted on its own.

use ark_ff::{BigInt, BigInteger, Field, PrimeField};
use causeway_primitives::Fr;

/// Bits per field element drawn from the LFSR (`n` in the paper).
const FIELD_BITS: u32 = 254;

/// The unoptimized parameters of one Poseidon width, exactly as the reference generator
/// emits them.
#[derive(Debug, Clone)]
pub struct ReferenceParams {
    pub t: usize,
    pub full_rounds: usize,
    pub partial_rounds: usize,
    /// `(full_rounds + partial_rounds) * t` constants, round by round.
    pub round_constants: Vec<Fr>,
    /// `mds[i][j]`: output `i` of the linear layer is `sum_j mds[i][j] * state[j]`.
    pub mds: Vec<Vec<Fr>>,
}

/// The 80-bit Grain LFSR. Bit `i` of `state` is the paper's `b_i`; `b_0` is the oldest.
struct Grain {
    state: u128,
}

impl Grain {
    fn new(t: usize, full_rounds: usize, partial_rounds: usize) -> Self {
        // The seed is the parameter set itself, each field written most significant bit first.
        let fields: [(u64, u32); 6] = [
            (1, 2),                      // field: prime
            (0, 4),                      // S-box: x^alpha
            (u64::from(FIELD_BITS), 12), // n
            (t as u64, 12),              // t
            (full_rounds as u64, 10),    // R_F
            (partial_rounds as u64, 10), // R_P
        ];
        let mut bits = Vec::with_capacity(80);
        for (value, width) in fields {
            for k in (0..width).rev() {
                bits.push((value >> k) & 1 == 1);
            }
        }
        bits.resize(80, true);
        let state = bits
            .iter()
            .enumerate()
            .fold(0u128, |acc, (i, &b)| acc | (u128::from(b) << i));
        let mut grain = Grain { state };
        // The first 160 outputs are discarded so the seed is fully mixed in.
        for _ in 0..160 {
            grain.clock();
        }
        grain
    }

    fn clock(&mut self) -> bool {
        let s = self.state;
        let bit = ((s >> 62) ^ (s >> 51) ^ (s >> 38) ^ (s >> 23) ^ (s >> 13) ^ s) & 1;
        self.state = (s >> 1) | (bit << 79);
        bit == 1
    }

    /// Self-shrinking output: of each pair of clocked bits, emit the second only when the
    /// first is 1. This is what makes the stream non-linear.
    fn next_bit(&mut self) -> bool {
        loop {
            let keep = self.clock();
            let bit = self.clock();
            if keep {
                return bit;
            }
        }
    }

    /// `FIELD_BITS` output bits read as a big-endian integer.
    fn next_integer(&mut self) -> BigInt<4> {
        let mut limbs = [0u64; 4];
        for _ in 0..FIELD_BITS {
            let bit = u64::from(self.next_bit());
            let mut carry = bit;
            for limb in limbs.iter_mut() {
                let out = *limb >> 63;
                *limb = (*limb << 1) | carry;
                carry = out;
            }
        }
        BigInt(limbs)
    }

    /// A uniformly random field element: draws at or above the modulus are rejected and
    /// redrawn (the generator does this for round constants).
    fn next_field_element_rejecting(&mut self) -> Fr {
        loop {
            if let Some(f) = Fr::from_bigint(self.next_integer()) {
                return f;
            }
        }
    }

    /// A draw reduced modulo p (the generator does this for the MDS points).
    fn next_field_element_reduced(&mut self) -> Fr {
        let n = self.next_integer();
        Fr::from_bigint(n).unwrap_or_else(|| {
            let mut reduced = n;
            reduced.sub_with_borrow(&Fr::MODULUS);
            Fr::from_bigint(reduced).expect("a 254-bit integer is below 2p")
        })
    }
}

pub(crate) fn generate(t: usize, full_rounds: usize, partial_rounds: usize) -> ReferenceParams {
    let mut grain = Grain::new(t, full_rounds, partial_rounds);
    let round_constants = (0..(full_rounds + partial_rounds) * t)
        .map(|_| grain.next_field_element_rejecting())
        .collect();

    // Cauchy matrix 1 / (x_i + y_j) over 2t distinct points; redrawn if any sum is zero.
    let mds = loop {
        let points: Vec<Fr> = loop {
            let draw: Vec<Fr> = (0..2 * t)
                .map(|_| grain.next_field_element_reduced())
                .collect();
            let distinct = draw
                .iter()
                .enumerate()
                .all(|(i, a)| draw[..i].iter().all(|b| a != b));
            if distinct {
                break draw;
            }
        };
        let (xs, ys) = points.split_at(t);
        let rows: Option<Vec<Vec<Fr>>> = xs
            .iter()
            .map(|x| ys.iter().map(|y| (*x + y).inverse()).collect())
            .collect();
        if let Some(rows) = rows {
            break rows;
        }
    };

    ReferenceParams {
        t,
        full_rounds,
        partial_rounds,
        round_constants,
        mds,
    }
}
