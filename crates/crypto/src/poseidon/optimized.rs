//! Poseidon's permutation rewritten into its cheaper equivalent form (the Poseidon paper,
//! appendix B): the same function as the reference rounds, with fewer multiplications.
//!
//! Owns two algebraic rewrites of [`ReferenceParams`], both exact:
//!
//! 1. **Constants.** In a partial round only `state[0]` goes through the S-box, so the round
//!    constants added to the other lanes pass through it unchanged and can be pushed through
//!    the linear layer into the next round. After the rewrite a partial round adds one scalar
//!    to `state[0]`, and what is left over after the last partial round joins the constants
//!    of the following full round.
//! 2. **Matrices.** Write the matrix `M` of a partial round as `M' * M''` with
//!    `M' = [[1, 0], [0, M^]]` and `M'' = [[m00, row], [w, I]]`, `w = M^^-1 * col`.
//!    `M'` leaves lane 0 alone, so it commutes with the partial S-box and with adding a
//!    constant to lane 0: it is deferred into the next round, whose matrix becomes `M * M'`,
//!    which is split again. Each partial round then costs `2t - 1` multiplications instead
//!    of `t^2`; only the last partial round applies its (accumulated) matrix densely.
//!
//! The test `optimized_matches_reference` checks the equivalence for every width.

use super::grain::ReferenceParams;
use ark_ff::{Field, Zero};
use causeway_primitives::Fr;

/// Parameters of one width in optimized form. Matrices are row-major `t * t`.
#[derive(Debug)]
pub(crate) struct OptimizedParams {
    pub t: usize,
    pub half_full_rounds: usize,
    pub partial_rounds: usize,
    /// `full_rounds * t`: the first half's constants, then the second half's (with the
    /// partial rounds' leftover folded into its first round).
    pub full_constants: Vec<Fr>,
    /// One constant per partial round, added to lane 0.
    pub partial_constants: Vec<Fr>,
    /// `partial_rounds - 1` sparse matrices, `2t - 1` entries each: `m00, row[t-1], w[t-1]`.
    pub sparse: Vec<Fr>,
    /// The dense matrix of the last partial round.
    pub last_partial_mds: Vec<Fr>,
    pub mds: Vec<Fr>,
}

type Matrix = Vec<Vec<Fr>>;

fn mat_vec(m: &Matrix, v: &[Fr]) -> Vec<Fr> {
    m.iter()
        .map(|row| row.iter().zip(v).map(|(a, b)| *a * b).sum())
        .collect()
}

fn mat_mul(a: &Matrix, b: &Matrix) -> Matrix {
    let n = b[0].len();
    a.iter()
        .map(|row| {
            (0..n)
                .map(|j| row.iter().zip(b).map(|(x, brow)| *x * brow[j]).sum())
                .collect()
        })
        .collect()
}

/// Solves `a * x = b` by Gauss-Jordan elimination. `a` is a minor of a Cauchy-derived MDS
/// matrix, hence invertible; a singular one would be a generator bug, so it panics.
fn solve(mut a: Matrix, mut b: Vec<Fr>) -> Vec<Fr> {
    let n = a.len();
    for col in 0..n {
        let pivot = (col..n)
            .find(|&r| !a[r][col].is_zero())
            .expect("Poseidon MDS minor is invertible");
        a.swap(col, pivot);
        b.swap(col, pivot);
        let inv = a[col][col].inverse().expect("pivot is non-zero");
        for x in a[col].iter_mut() {
            *x *= inv;
        }
        b[col] *= inv;
        let pivot_row = a[col].clone();
        let pivot_b = b[col];
        for (r, (row, rhs)) in a.iter_mut().zip(b.iter_mut()).enumerate() {
            let factor = row[col];
            if r != col && !factor.is_zero() {
                for (x, p) in row.iter_mut().zip(&pivot_row) {
                    *x -= factor * p;
                }
                *rhs -= factor * pivot_b;
            }
        }
    }
    b
}

impl OptimizedParams {
    pub(crate) fn new(reference: &ReferenceParams) -> Self {
        let t = reference.t;
        let half = reference.full_rounds / 2;
        let rp = reference.partial_rounds;
        let m = &reference.mds;
        let rc = |round: usize| &reference.round_constants[round * t..(round + 1) * t];

        // Rewrite 1: constants.
        let mut full_constants: Vec<Fr> = (0..half).flat_map(|r| rc(r).to_vec()).collect();
        let mut partial_constants = Vec::with_capacity(rp);
        let mut carry = vec![Fr::zero(); t];
        for r in half..half + rp {
            let c: Vec<Fr> = rc(r).iter().zip(&carry).map(|(a, b)| *a + b).collect();
            partial_constants.push(c[0]);
            let mut rest = c;
            rest[0] = Fr::zero();
            carry = mat_vec(m, &rest);
        }
        for r in half + rp..2 * half + rp {
            let c = rc(r);
            if r == half + rp {
                full_constants.extend(c.iter().zip(&carry).map(|(a, b)| *a + b));
            } else {
                full_constants.extend_from_slice(c);
            }
        }

        // Rewrite 2: matrices.
        let mut sparse = Vec::with_capacity(rp.saturating_sub(1) * (2 * t - 1));
        let mut current = m.clone();
        for _ in 1..rp {
            let hat: Matrix = current[1..].iter().map(|row| row[1..].to_vec()).collect();
            let col: Vec<Fr> = current[1..].iter().map(|row| row[0]).collect();
            let w = solve(hat.clone(), col);
            sparse.push(current[0][0]);
            sparse.extend_from_slice(&current[0][1..]);
            sparse.extend_from_slice(&w);
            // M' = [[1, 0], [0, hat]] is deferred into the next round.
            let mut deferred = vec![vec![Fr::zero(); t]; t];
            deferred[0][0] = Fr::ONE;
            for (i, row) in hat.iter().enumerate() {
                deferred[i + 1][1..].copy_from_slice(row);
            }
            current = mat_mul(m, &deferred);
        }

        OptimizedParams {
            t,
            half_full_rounds: half,
            partial_rounds: rp,
            full_constants,
            partial_constants,
            sparse,
            last_partial_mds: current.concat(),
            mds: m.concat(),
        }
    }
}
