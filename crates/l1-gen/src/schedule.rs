//! The round schedule `PoseidonT5.sol` runs: circomlib's Poseidon(4) with its round constants
//! moved so that each partial round adds one constant instead of five, with the same digest.
//!
//! Owns the algebra that turns [`ReferenceParams`] into the contract's constants. The rewrite
//! is exact (checked against `hash4` by the tests below and again, on the EVM, by the generated
//! forge test):
//!
//! - The textbook round is `s <- M·S(s + c_r)`; written as `s <- M·S(s) + k_r` with
//!   `k_r = c_{r+1}`, the state starts at `[0, in..] + c_0` and the last round adds nothing.
//! - In a partial round the S-box only touches lane 0, so lanes 1..4 of a constant added
//!   before it pass through unchanged: they are pushed one round forward
//!   (`k_{r+1} += M·(0, k_r[1..])`), leaving one constant per partial round. Only the last
//!   partial round's constant keeps all five lanes.
//!
//! The further rewrite to sparse matrices (12 instead of 28 multiplications per partial round)
//! was measured at 39k instead of 50k gas per hash, but needs 8 more constants per partial
//! round: with them the hash alone is 27.9 KB of bytecode, over the 24 KB contract limit.

use causeway_crypto::poseidon::ReferenceParams;
use causeway_primitives::Fr;

/// Width.
pub const T: usize = 5;

/// Every constant of the rewritten permutation, in the order the contract uses them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// Added to the initial state `[0, in_1, .., in_4]`.
    pub initial: [Fr; T],
    /// The textbook MDS matrix, used by the full rounds.
    pub mds: [[Fr; T]; T],
    /// Added after the matrix of each full round of the first half.
    pub first_full: Vec<[Fr; T]>,
    /// The lane-0 constant of each partial round but the last.
    pub partial: Vec<Fr>,
    /// The last partial round's constant, all five lanes.
    pub last_partial_constant: [Fr; T],
    /// Added after the matrix of each full round of the second half but the last, which adds
    /// nothing.
    pub second_full: Vec<[Fr; T]>,
}

fn zero() -> Fr {
    Fr::from(0u64)
}

fn mat_vec(m: &[[Fr; T]; T], x: &[Fr; T]) -> [Fr; T] {
    std::array::from_fn(|i| (0..T).fold(zero(), |acc, j| acc + m[i][j] * x[j]))
}

impl Schedule {
    pub fn new(p: &ReferenceParams) -> Self {
        assert_eq!(p.t, T);
        let half = p.full_rounds / 2;
        let rounds = p.full_rounds + p.partial_rounds;
        let mds: [[Fr; T]; T] = std::array::from_fn(|i| std::array::from_fn(|j| p.mds[i][j]));
        let c = |r: usize| -> [Fr; T] { std::array::from_fn(|i| p.round_constants[r * T + i]) };

        // k[r]: added after round r's matrix (the next round's textbook constant).
        let mut k: Vec<[Fr; T]> = (0..rounds - 1).map(|r| c(r + 1)).collect();
        let first_partial = half;
        let last_partial = half + p.partial_rounds - 1;
        for r in first_partial..last_partial {
            let mut rest = k[r];
            rest[0] = zero();
            let pushed = mat_vec(&mds, &rest);
            for (next, add) in k[r + 1].iter_mut().zip(pushed) {
                *next += add;
            }
            k[r][1..].iter_mut().for_each(|x| *x = zero());
        }

        Schedule {
            initial: c(0),
            mds,
            first_full: k[..first_partial].to_vec(),
            partial: (first_partial..last_partial).map(|r| k[r][0]).collect(),
            last_partial_constant: k[last_partial],
            second_full: k[last_partial + 1..].to_vec(),
        }
    }

    /// The digest, computed exactly as the contract computes it.
    pub fn hash(&self, inputs: &[Fr; 4]) -> Fr {
        let mut s = [zero(); T];
        s[1..].copy_from_slice(inputs);
        for (x, c) in s.iter_mut().zip(self.initial) {
            *x += c;
        }
        let pow5 = |x: Fr| {
            let x2 = x * x;
            x2 * x2 * x
        };
        let full = |s: &mut [Fr; T], m: &[[Fr; T]; T], k: Option<&[Fr; T]>| {
            let sb: [Fr; T] = std::array::from_fn(|i| pow5(s[i]));
            *s = mat_vec(m, &sb);
            if let Some(k) = k {
                for (x, c) in s.iter_mut().zip(k) {
                    *x += c;
                }
            }
        };
        for k in &self.first_full {
            full(&mut s, &self.mds, Some(k));
        }
        for k0 in &self.partial {
            s[0] = pow5(s[0]);
            s = mat_vec(&self.mds, &s);
            s[0] += k0;
        }
        s[0] = pow5(s[0]);
        s = mat_vec(&self.mds, &s);
        for (x, c) in s.iter_mut().zip(self.last_partial_constant) {
            *x += c;
        }
        for k in &self.second_full {
            full(&mut s, &self.mds, Some(k));
        }
        full(&mut s, &self.mds, None);
        s[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use causeway_crypto::poseidon::{hash4, reference_params};

    #[test]
    fn rewritten_schedule_matches_hash4() {
        let schedule = Schedule::new(reference_params(4));
        assert_eq!(schedule.first_full.len(), 4);
        assert_eq!(schedule.partial.len(), 59);
        assert_eq!(schedule.second_full.len(), 3);
        let q_minus_1 = zero() - Fr::from(1u64);
        for v in [
            [
                Fr::from(1u64),
                Fr::from(2u64),
                Fr::from(3u64),
                Fr::from(4u64),
            ],
            [zero(); 4],
            [q_minus_1; 4],
            [Fr::from(7u64), zero(), q_minus_1, Fr::from(1u64 << 40)],
        ] {
            assert_eq!(schedule.hash(&v), hash4(&v));
        }
    }
}
