//! SHA-256 (FIPS 180-4) as an R1CS gadget, equal to the `sha2` crate's `Sha256` (the tests
//! check it).
//!
//! Owns: [`sha256_gadget`], the digest of a message whose length is fixed at synthesis time,
//! and the bit-level arithmetic it is built from. Nothing outside this module sees the
//! internal representation: bits in, [`Boolean`]s out.
//!
//! Representation: a 32-bit word is 32 bits, each a constant or a linear combination of
//! variables that the constraints force to be 0 or 1. Rotations and shifts re-index bits and
//! cost nothing; modular sums are single field linear combinations until they are reduced.
//! When the constraint system builds no matrices (`crate::witness_only`) the linear
//! combinations are not built at all: bits carry their values only, and each constraint is
//! only counted; the same code allocates the same witnesses.
//! Constants fold: padding, `K`, the initial state, and every operation whose inputs are all
//! (or all but one) constant cost nothing, so the first block of a message is cheaper than
//! the others.
//!
//! Invariants:
//! - Every variable the gadget allocates is uniquely determined by the input bits (no free
//!   witness; the tests tamper with them one by one). Each bit operation is one constraint:
//!   - `x = a ^ b ^ c` (and two-input XOR, with `c = 0`): with `s = a + b + c` in `0..=3`,
//!     `s * (2x - s - 1) = 3x - 3s`, which is linear in `x` with coefficient `2s - 3 != 0`,
//!     and its only solution is `x = s mod 2`. No booleanity check is needed on `x`.
//!   - `m = Maj(a, b, c)`: `s * (s - 1 - 4m) = -6m`, i.e. `m = s(s - 1) / (4s - 6)`, which is
//!     0, 0, 1, 1 for `s` = 0..=3.
//!   - `Ch(e, f, g) = g + p` with `p = e * (f - g)`.
//! - A modular sum `S` (an integer below `2^n` by construction, `n <= 36`, far below the
//!   field's 254 bits) is reduced by allocating its low `n - 1` bits as booleans and forcing
//!   the remainder `R = S - sum_{i < n-1} 2^i b_i` to be `0` or `2^(n-1)`:
//!   `R * (R - 2^(n-1)) = 0`. That is `n` constraints for the 32 result bits and the carry
//!   bits, and the decomposition is unique because `2^n` is far below the modulus. (When a
//!   sum cannot overflow, the result bits are all allocated and one equality is enforced.)
//! - Values are only reduced when their bits are needed: the message words `W[62]`, `W[63]`
//!   and the last round's new `a` and `e` enter the final additions as unreduced sums.
//!   The new `a` of rounds 0..=62 is reduced as `e_new + !d + 1 + Sigma0 + Maj` (equal to
//!   `T1 + T2` modulo `2^32`, since `e_new = d + T1` and `!d + 1 = 2^32 - d`): four words
//!   need two carry bits where the seven terms of `T1 + T2` need three.
//!
//! Costs with witness message bits and a witness chaining value, [`BLOCK_CONSTRAINTS`] =
//! 17,446 per block (asserted by the test `constraint_counts`):
//! - message schedule 4,636: 46 reduced words at 32 (`sigma0`) + 32 (`sigma1`) + 34 (four
//!   terms: 32 bits and 2 carries), and 64 for each of `W[62]`, `W[63]`;
//! - rounds 12,540: 128 per round for `Sigma1`, `Ch`, `Sigma0`, `Maj`; in rounds 0..=62, 35 to
//!   reduce the new `e` (3 carries) and 34 for the new `a`; plus 1 because the unreduced
//!   `W[62]` gives round 62's `e` a fourth carry;
//! - the final additions 270: 33 each, except 36 for `a` and `e` (unreduced sums).
//!
//! Constants only remove work, so no block costs more than that. The first block starts
//! from the constant initial state ([`FIRST_BLOCK_CONSTRAINTS`]); a block of nothing but
//! padding has a constant message schedule ([`PADDING_BLOCK_CONSTRAINTS`]), so a message of
//! `64 * N` witness bytes (`N >= 1`) costs `FIRST_BLOCK_CONSTRAINTS + (N - 1) *
//! BLOCK_CONSTRAINTS + PADDING_BLOCK_CONSTRAINTS`. An all-constant message costs nothing.

use crate::witness_only::{self, WitnessOnly};
use ark_ff::{AdditiveGroup, Field};
use ark_r1cs_std::R1CSVar;
use ark_r1cs_std::alloc::AllocVar;
use ark_r1cs_std::boolean::Boolean;
use ark_relations::r1cs::{ConstraintSystemRef, LinearCombination, SynthesisError, Variable};
use causeway_primitives::Fr;

/// Constraints of one compression with witness message words and a witness chaining value.
pub const BLOCK_CONSTRAINTS: usize = 17_446;
/// Constraints of the first compression (constant initial state) with witness message words.
pub const FIRST_BLOCK_CONSTRAINTS: usize = 17_248;
/// Constraints of a compression with a constant (all-padding) block and a witness chaining
/// value: the last block of a message whose length is a multiple of 64 bytes.
pub const PADDING_BLOCK_CONSTRAINTS: usize = 12_807;

/// The round constants `K` (FIPS 180-4, 4.2.2).
const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// The initial hash value `H(0)` (FIPS 180-4, 5.3.3).
const IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// SHA-256 of a message whose length (in bits, a multiple of 8) is fixed at synthesis time.
/// `message` bits are in big-endian order within each byte, bytes in order (i.e. bit 0 is the
/// MSB of byte 0). Returns the 256 digest bits in the same big-endian order.
///
/// The input bits must already be constrained to be boolean (as [`Boolean`]s are). Constant
/// bits are folded in; an all-constant message gives a constant digest and no constraints.
/// The output bits are allocated booleans (or constants).
///
/// # Errors
/// [`SynthesisError::Unsatisfiable`] if `message.len()` is not a multiple of 8; otherwise
/// only what the constraint system itself reports.
pub fn sha256_gadget(message: &[Boolean<Fr>]) -> Result<Vec<Boolean<Fr>>, SynthesisError> {
    if !message.len().is_multiple_of(8) {
        return Err(SynthesisError::Unsatisfiable);
    }
    let synth = Synth::new(message.cs());

    // Padding: a 1 bit, zeros up to 448 mod 512, the 64-bit big-endian bit length. All
    // constant, so it folds into whatever it touches.
    let bit_len = message.len() as u64;
    let mut padded: Vec<Bit> = message.iter().map(|b| synth.bit(b)).collect();
    padded.push(Bit::Constant(true));
    while padded.len() % 512 != 448 {
        padded.push(Bit::Constant(false));
    }
    padded.extend(
        (0..64)
            .rev()
            .map(|i| Bit::Constant((bit_len >> i) & 1 == 1)),
    );

    let mut state: [Word; 8] = IV.map(constant_word);
    let mut digest = Vec::new();
    for block in padded.chunks_exact(512) {
        // Word j is bytes 4j..4j+4 big-endian; our words are little-endian bit arrays.
        let words: [Word; 16] =
            core::array::from_fn(|j| core::array::from_fn(|i| block[32 * j + 31 - i].clone()));
        let out = synth.compress(&state, &words)?;
        state = core::array::from_fn(|j| core::array::from_fn(|i| synth.bit(&out[j][i])));
        digest = out.iter().flat_map(|w| w.iter().rev().cloned()).collect();
    }
    Ok(digest)
}

/// A 32-bit word, little-endian: index `i` has weight `2^i`.
type Word = [Bit; 32];

/// A bit known to be 0 or 1: a constant, or a linear combination of variables that the
/// constraints which produced it (or the caller, for input bits) force to be boolean.
#[derive(Clone, Debug)]
enum Bit {
    Constant(bool),
    Lc {
        /// Unsorted terms; merged when they go into a constraint. Empty in witness-only mode
        /// (see [`Synth::linear`]), and only then.
        terms: Vec<(Fr, Variable)>,
        value: Option<bool>,
    },
}

impl Bit {
    fn value(&self) -> Option<bool> {
        match self {
            Bit::Constant(c) => Some(*c),
            Bit::Lc { value, .. } => *value,
        }
    }

    fn not(&self) -> Self {
        match self {
            Bit::Constant(c) => Bit::Constant(!c),
            Bit::Lc { terms, value } => {
                let mut negated: Vec<(Fr, Variable)> =
                    terms.iter().map(|(c, v)| (-*c, *v)).collect();
                // No terms means witness-only mode, where terms are never built.
                if !terms.is_empty() {
                    negated.push((Fr::ONE, Variable::One));
                }
                Bit::Lc {
                    terms: negated,
                    value: value.map(|b| !b),
                }
            }
        }
    }

    /// Appends `coeff * self` to `terms`.
    fn add_to(&self, coeff: Fr, terms: &mut Vec<(Fr, Variable)>) {
        match self {
            Bit::Constant(false) => {}
            Bit::Constant(true) => terms.push((coeff, Variable::One)),
            Bit::Lc { terms: t, .. } => terms.extend(t.iter().map(|(c, v)| (coeff * c, *v))),
        }
    }
}

fn constant_word(x: u32) -> Word {
    core::array::from_fn(|i| Bit::Constant((x >> i) & 1 == 1))
}

/// Builds a constraint-ready linear combination from unsorted terms.
fn lc(terms: Vec<(Fr, Variable)>) -> LinearCombination<Fr> {
    let mut lc = LinearCombination(terms);
    lc.compactify();
    lc
}

/// `2^i` in the field.
fn pow2(i: usize) -> Fr {
    Fr::from(1u64 << i)
}

/// An integer `sum(words) + constant` as a field linear combination, with the bounds and the
/// value needed to reduce it modulo `2^32`.
#[derive(Clone, Debug, Default)]
struct Sum {
    /// The non-constant part (constant bits go to `constant`).
    terms: Vec<(Fr, Variable)>,
    constant: u64,
    /// The largest value the non-constant part can take.
    var_max: u64,
    /// The value of the non-constant part (`None` without an assignment).
    var_value: Option<u64>,
}

impl Sum {
    fn new() -> Self {
        Sum {
            var_value: Some(0),
            ..Sum::default()
        }
    }

    fn of_word(w: &Word) -> Self {
        let mut s = Sum::new();
        s.add_word(w);
        s
    }

    fn add_word(&mut self, w: &Word) {
        for (i, bit) in w.iter().enumerate() {
            match bit {
                Bit::Constant(c) => self.constant += u64::from(*c) << i,
                Bit::Lc { value, .. } => {
                    bit.add_to(pow2(i), &mut self.terms);
                    self.var_max += 1 << i;
                    self.var_value = self
                        .var_value
                        .zip(*value)
                        .map(|(acc, b)| acc + (u64::from(b) << i));
                }
            }
        }
    }

    fn add_constant(&mut self, c: u32) {
        self.constant += u64::from(c);
    }

    fn add_sum(&mut self, other: &Sum) {
        self.terms.extend_from_slice(&other.terms);
        self.constant += other.constant;
        self.var_max += other.var_max;
        self.var_value = self.var_value.zip(other.var_value).map(|(a, b)| a + b);
    }

    /// Whether no variable bit went in. (Not `terms.is_empty()`: in witness-only mode a
    /// variable bit has no terms.)
    fn is_constant(&self) -> bool {
        self.var_max == 0
    }
}

/// The constraint system the gadget writes to (`None` when every input is constant: then
/// every operation folds and nothing is allocated).
struct Synth {
    cs: ConstraintSystemRef<Fr>,
    /// Whether constraints get their linear combinations. Not in witness-only mode
    /// (`crate::witness_only`), where arkworks would drop them unread: there bits carry
    /// their values and no terms, and each constraint is counted with empty linear
    /// combinations. Every witness and every constraint is still allocated by the same code
    /// in the same order, so both modes give the same assignment.
    linear: bool,
}

impl Synth {
    fn new(cs: ConstraintSystemRef<Fr>) -> Self {
        let linear = !witness_only::applies(&cs);
        Synth { cs, linear }
    }

    fn bit(&self, b: &Boolean<Fr>) -> Bit {
        match b {
            Boolean::Constant(c) => Bit::Constant(*c),
            Boolean::Var(v) => self.var(v.variable(), v.value().ok()),
        }
    }

    fn var(&self, v: Variable, value: Option<bool>) -> Bit {
        Bit::Lc {
            terms: if self.linear {
                vec![(Fr::ONE, v)]
            } else {
                Vec::new()
            },
            value,
        }
    }

    fn witness(&self, value: Option<Fr>) -> Result<Variable, SynthesisError> {
        self.cs
            .new_witness_variable(|| value.ok_or(SynthesisError::AssignmentMissing))
    }

    /// Enforces `a * b = c`, the terms built by `terms` only when they are kept (else the
    /// constraint is only counted, as `crate::witness_only` explains).
    fn enforce(
        &self,
        terms: impl FnOnce() -> [Vec<(Fr, Variable)>; 3],
    ) -> Result<(), SynthesisError> {
        if self.linear {
            let [a, b, c] = terms().map(lc);
            return self.cs.enforce_constraint(a, b, c);
        }
        WitnessOnly::of(&self.cs)
            .ok_or(SynthesisError::MissingCS)?
            .constraint();
        Ok(())
    }

    /// `a ^ b ^ c`: one constraint unless at most one input is a variable (then free).
    fn xor3(&self, a: &Bit, b: &Bit, c: &Bit) -> Result<Bit, SynthesisError> {
        let bits = [a, b, c];
        let vars: Vec<&Bit> = bits
            .iter()
            .copied()
            .filter(|x| matches!(x, Bit::Lc { .. }))
            .collect();
        let parity = bits
            .iter()
            .fold(false, |acc, x| acc ^ matches!(x, Bit::Constant(true)));
        match vars.as_slice() {
            [] => return Ok(Bit::Constant(parity)),
            [v] => return Ok(if parity { v.not() } else { (*v).clone() }),
            _ => {}
        }
        let value = a
            .value()
            .zip(b.value())
            .zip(c.value())
            .map(|((a, b), c)| a ^ b ^ c);
        let x = self.witness(value.map(Fr::from))?;
        // s * (2x - s - 1) = 3x - 3s (see the module docs).
        self.enforce(|| {
            let mut s = Vec::new();
            for bit in bits {
                bit.add_to(Fr::ONE, &mut s);
            }
            let mut b_terms: Vec<(Fr, Variable)> = s.iter().map(|(c, v)| (-*c, *v)).collect();
            b_terms.extend([(Fr::from(2u64), x), (-Fr::ONE, Variable::One)]);
            let mut c_terms: Vec<(Fr, Variable)> =
                s.iter().map(|(c, v)| (-Fr::from(3u64) * c, *v)).collect();
            c_terms.push((Fr::from(3u64), x));
            [s, b_terms, c_terms]
        })?;
        Ok(self.var(x, value))
    }

    /// `Maj(a, b, c)`: one constraint unless at most one input is a variable (then free).
    fn maj(&self, a: &Bit, b: &Bit, c: &Bit) -> Result<Bit, SynthesisError> {
        let bits = [a, b, c];
        let consts: Vec<bool> = bits
            .iter()
            .filter_map(|x| match x {
                Bit::Constant(c) => Some(*c),
                Bit::Lc { .. } => None,
            })
            .collect();
        match consts.as_slice() {
            [x, y, z] => return Ok(Bit::Constant(majority(*x, *y, *z))),
            // Two equal constants outvote the variable; two different ones leave it deciding.
            [x, y] if x == y => return Ok(Bit::Constant(*x)),
            [_, _] => {
                return Ok(bits
                    .iter()
                    .find(|x| matches!(x, Bit::Lc { .. }))
                    .map(|x| (*x).clone())
                    .unwrap_or(Bit::Constant(false)));
            }
            _ => {}
        }
        let value = a
            .value()
            .zip(b.value())
            .zip(c.value())
            .map(|((a, b), c)| majority(a, b, c));
        let m = self.witness(value.map(Fr::from))?;
        // s * (s - 1 - 4m) = -6m (see the module docs).
        self.enforce(|| {
            let mut s = Vec::new();
            for bit in bits {
                bit.add_to(Fr::ONE, &mut s);
            }
            let mut b_terms = s.clone();
            b_terms.extend([(-Fr::ONE, Variable::One), (-Fr::from(4u64), m)]);
            [s, b_terms, vec![(-Fr::from(6u64), m)]]
        })?;
        Ok(self.var(m, value))
    }

    /// `Ch(e, f, g) = e ? f : g`: one constraint, free when `e` or both `f` and `g` are
    /// constant.
    fn ch(&self, e: &Bit, f: &Bit, g: &Bit) -> Result<Bit, SynthesisError> {
        match (e, f, g) {
            (Bit::Constant(true), _, _) => return Ok(f.clone()),
            (Bit::Constant(false), _, _) => return Ok(g.clone()),
            (_, Bit::Constant(x), Bit::Constant(y)) => {
                return Ok(match (x, y) {
                    (true, true) | (false, false) => Bit::Constant(*x),
                    (true, false) => e.clone(),
                    (false, true) => e.not(),
                });
            }
            _ => {}
        }
        let (ev, fv, gv) = (e.value(), f.value(), g.value());
        // p = e * (f - g), so Ch = g + p.
        let p_value = ev.zip(fv).zip(gv).map(|((e, f), g)| {
            if e {
                Fr::from(f) - Fr::from(g)
            } else {
                Fr::ZERO
            }
        });
        let p = self.witness(p_value)?;
        self.enforce(|| {
            let mut a_terms = Vec::new();
            e.add_to(Fr::ONE, &mut a_terms);
            let mut b_terms = Vec::new();
            f.add_to(Fr::ONE, &mut b_terms);
            g.add_to(-Fr::ONE, &mut b_terms);
            [a_terms, b_terms, vec![(Fr::ONE, p)]]
        })?;
        let value = ev.zip(fv).zip(gv).map(|((e, f), g)| if e { f } else { g });
        let mut out = self.var(p, value);
        if let Bit::Lc { terms, .. } = &mut out
            && self.linear
        {
            g.add_to(Fr::ONE, terms);
        }
        Ok(out)
    }

    /// `ROTR^r0(w) ^ ROTR^r1(w) ^ ROTR^r2(w)`: `Sigma0` and `Sigma1`.
    fn big_sigma(&self, w: &Word, r: [usize; 3]) -> Result<Word, SynthesisError> {
        word_try_from_fn(|i| {
            self.xor3(
                &w[(i + r[0]) % 32],
                &w[(i + r[1]) % 32],
                &w[(i + r[2]) % 32],
            )
        })
    }

    /// `ROTR^r0(w) ^ ROTR^r1(w) ^ SHR^s(w)`: `sigma0` and `sigma1`.
    fn small_sigma(&self, w: &Word, r: [usize; 2], s: usize) -> Result<Word, SynthesisError> {
        word_try_from_fn(|i| {
            let shifted = w.get(i + s).cloned().unwrap_or(Bit::Constant(false));
            self.xor3(&w[(i + r[0]) % 32], &w[(i + r[1]) % 32], &shifted)
        })
    }

    /// `sum mod 2^32` as 32 booleans (see the module docs for the constraints).
    fn reduce(&self, sum: &Sum) -> Result<[Boolean<Fr>; 32], SynthesisError> {
        if sum.is_constant() {
            let c = sum.constant;
            return Ok(core::array::from_fn(|i| {
                Boolean::Constant((c >> i) & 1 == 1)
            }));
        }
        // Only the result modulo 2^32 matters, so the constant's high part can go: fewer
        // carries, and a carry count that does not depend on it (e.g. on `W[t]` in a block of
        // padding).
        let constant = sum.constant % (1 << 32);
        let max = constant + sum.var_max;
        let n = (u64::BITS - max.leading_zeros()) as usize;
        let value = sum.var_value.map(|v| v + constant);
        let bit_value = |i: usize| value.map(|v| (v >> i) & 1 == 1);

        let mut out: [Boolean<Fr>; 32] = core::array::from_fn(|_| Boolean::FALSE);
        // The remainder `S - sum of the allocated bits` (left empty when terms are not kept).
        let mut rest = Vec::new();
        if self.linear {
            rest.extend_from_slice(&sum.terms);
            rest.push((Fr::from(constant), Variable::One));
        }
        for (i, slot) in out.iter_mut().enumerate().take(n.min(32)) {
            let b = Boolean::new_witness(self.cs.clone(), || {
                bit_value(i).ok_or(SynthesisError::AssignmentMissing)
            })?;
            if let Boolean::Var(v) = &b
                && self.linear
            {
                rest.push((-pow2(i), v.variable()));
            }
            *slot = b;
        }
        if n <= 32 {
            // Cannot overflow: all result bits are allocated; enforce the sum.
            self.enforce(|| [rest, vec![(Fr::ONE, Variable::One)], vec![]])?;
            return Ok(out);
        }
        // Carries 32..n-1 are booleans; the top one is what remains: R in {0, 2^(n-1)}.
        for i in 32..n - 1 {
            let carry = self.witness(bit_value(i).map(Fr::from))?;
            self.enforce(|| {
                [
                    vec![(Fr::ONE, carry)],
                    vec![(Fr::ONE, Variable::One), (-Fr::ONE, carry)],
                    vec![],
                ]
            })?;
            if self.linear {
                rest.push((-pow2(i), carry));
            }
        }
        self.enforce(|| {
            let mut shifted = rest.clone();
            shifted.push((-pow2(n - 1), Variable::One));
            [rest, shifted, vec![]]
        })?;
        Ok(out)
    }

    fn reduce_to_word(&self, sum: &Sum) -> Result<Word, SynthesisError> {
        Ok(self.reduce(sum)?.map(|b| self.bit(&b)))
    }

    /// One application of the compression function: the new chaining value, as 8 words of
    /// 32 little-endian booleans.
    fn compress(
        &self,
        state: &[Word; 8],
        block: &[Word; 16],
    ) -> Result<[[Boolean<Fr>; 32]; 8], SynthesisError> {
        // Message schedule. W[t] is kept as a sum (for its linear uses) and, while later
        // sigmas need them, as bits; W[62] and W[63] are only used linearly.
        let mut w_sum: Vec<Sum> = block.iter().map(Sum::of_word).collect();
        let mut w_bits: Vec<Word> = block.to_vec();
        for t in 16..64 {
            let mut sum = Sum::of_word(&self.small_sigma(&w_bits[t - 2], [17, 19], 10)?);
            sum.add_sum(&w_sum[t - 7]);
            sum.add_word(&self.small_sigma(&w_bits[t - 15], [7, 18], 3)?);
            sum.add_sum(&w_sum[t - 16]);
            if t + 2 < 64 {
                let bits = self.reduce_to_word(&sum)?;
                w_sum.push(Sum::of_word(&bits));
                w_bits.push(bits);
            } else {
                w_sum.push(sum);
            }
        }

        let mut v = state.clone();
        let mut last = (Sum::new(), Sum::new());
        for t in 0..64 {
            let [a, b, c, d, e, f, g, h] = &v;
            let mut t1 = Sum::of_word(h);
            t1.add_word(&self.big_sigma(e, [6, 11, 25])?);
            t1.add_word(&word_try_from_fn(|i| self.ch(&e[i], &f[i], &g[i]))?);
            t1.add_constant(K[t]);
            t1.add_sum(&w_sum[t]);
            let mut t2 = Sum::of_word(&self.big_sigma(a, [2, 13, 22])?);
            t2.add_word(&word_try_from_fn(|i| self.maj(&a[i], &b[i], &c[i]))?);
            let mut new_e = t1.clone();
            new_e.add_word(d);
            if t == 63 {
                // Only the final additions use these: no need for their bits.
                let mut new_a = t1;
                new_a.add_sum(&t2);
                last = (new_a, new_e);
                break;
            }
            let new_e = self.reduce_to_word(&new_e)?;
            // a = T1 + T2 = (e - d) + T2 mod 2^32, and -d = !d + 1 - 2^32: four words and a
            // 1 need two carry bits, where the seven terms of T1 + T2 need three.
            let mut new_a = Sum::of_word(&new_e);
            new_a.add_word(&d.clone().map(|bit| bit.not()));
            new_a.add_constant(1);
            new_a.add_sum(&t2);
            let new_a = self.reduce_to_word(&new_a)?;
            v = [
                new_a,
                a.clone(),
                b.clone(),
                c.clone(),
                new_e,
                e.clone(),
                f.clone(),
                g.clone(),
            ];
        }

        let (last_a, last_e) = last;
        let mut out = Vec::with_capacity(8);
        for (j, h) in state.iter().enumerate() {
            let mut sum = Sum::of_word(h);
            match j {
                0 => sum.add_sum(&last_a),
                4 => sum.add_sum(&last_e),
                // After round 63, b..d are a_63..a_61 (v[0..3]) and f..h are e_63..e_61.
                _ => sum.add_word(&v[j - 1]),
            }
            out.push(self.reduce(&sum)?);
        }
        Ok(out
            .try_into()
            .unwrap_or_else(|_| unreachable!("eight words")))
    }
}

/// Whether at least two of `a`, `b`, `c` are set.
fn majority(a: bool, b: bool, c: bool) -> bool {
    u8::from(a) + u8::from(b) + u8::from(c) >= 2
}

/// `[f(0), ..., f(31)]`, stopping at the first error.
fn word_try_from_fn(
    mut f: impl FnMut(usize) -> Result<Bit, SynthesisError>,
) -> Result<Word, SynthesisError> {
    let bits = (0..32).map(&mut f).collect::<Result<Vec<Bit>, _>>()?;
    Ok(bits.try_into().unwrap_or_else(|_| unreachable!("32 bits")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_r1cs_std::eq::EqGadget;
    use ark_relations::r1cs::{ConstraintMatrices, ConstraintSystem, SynthesisMode};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use sha2::{Digest, Sha256};

    fn bits_of(bytes: &[u8]) -> Vec<bool> {
        bytes
            .iter()
            .flat_map(|byte| (0..8).rev().map(move |i| (byte >> i) & 1 == 1))
            .collect()
    }

    fn bytes_of(bits: &[Boolean<Fr>]) -> Vec<u8> {
        bits.chunks(8)
            .map(|byte| {
                byte.iter()
                    .fold(0u8, |acc, b| (acc << 1) | u8::from(b.value().unwrap()))
            })
            .collect()
    }

    fn witnesses(cs: &ConstraintSystemRef<Fr>, bits: &[bool]) -> Vec<Boolean<Fr>> {
        bits.iter()
            .map(|b| Boolean::new_witness(cs.clone(), || Ok(*b)).unwrap())
            .collect()
    }

    fn witness_word(cs: &ConstraintSystemRef<Fr>, x: u32) -> Word {
        core::array::from_fn(|i| {
            Synth::new(cs.clone())
                .bit(&Boolean::new_witness(cs.clone(), || Ok((x >> i) & 1 == 1)).unwrap())
        })
    }

    fn random_bytes(rng: &mut StdRng, len: usize) -> Vec<u8> {
        (0..len).map(|_| rng.r#gen()).collect()
    }

    /// Hashes `msg` as witnesses; returns the system, the digest bits, and the gadget's cost.
    fn hash_witness(msg: &[u8]) -> (ConstraintSystemRef<Fr>, Vec<Boolean<Fr>>, usize) {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let input = witnesses(&cs, &bits_of(msg));
        let before = cs.num_constraints();
        let digest = sha256_gadget(&input).unwrap();
        let used = cs.num_constraints() - before;
        (cs, digest, used)
    }

    /// The finalized matrices and assignment of a system, to check tampered assignments
    /// quickly (only the rows a variable appears in) and without arkworks' per-failure
    /// stderr noise.
    struct Tamper {
        m: ConstraintMatrices<Fr>,
        z: Vec<Fr>,
        rows_of: Vec<Vec<usize>>,
        num_instance: usize,
    }

    impl Tamper {
        fn new(cs: &ConstraintSystemRef<Fr>) -> Self {
            cs.finalize();
            let m = cs.to_matrices().unwrap();
            let inner = cs.borrow().unwrap();
            let mut z = inner.instance_assignment.clone();
            z.extend_from_slice(&inner.witness_assignment);
            let mut rows_of = vec![Vec::new(); z.len()];
            for matrix in [&m.a, &m.b, &m.c] {
                for (row, terms) in matrix.iter().enumerate() {
                    for (_, col) in terms {
                        rows_of[*col].push(row);
                    }
                }
            }
            for rows in &mut rows_of {
                rows.dedup();
            }
            let num_instance = m.num_instance_variables;
            Tamper {
                m,
                z,
                rows_of,
                num_instance,
            }
        }

        fn row_holds(&self, row: usize) -> bool {
            let eval =
                |terms: &[(Fr, usize)]| -> Fr { terms.iter().map(|(c, i)| *c * self.z[*i]).sum() };
            eval(&self.m.a[row]) * eval(&self.m.b[row]) == eval(&self.m.c[row])
        }

        fn all_hold(&self) -> bool {
            (0..self.m.num_constraints).all(|row| self.row_holds(row))
        }

        /// Whether the system still holds with witness `index` set to `value`.
        fn holds_with(&mut self, index: usize, value: Fr) -> bool {
            let col = self.num_instance + index;
            let original = core::mem::replace(&mut self.z[col], value);
            let holds = self.rows_of[col].iter().all(|row| self.row_holds(*row));
            self.z[col] = original;
            holds
        }
    }

    #[test]
    fn matches_sha2() {
        let mut rng = StdRng::seed_from_u64(7);
        for len in [0, 1, 3, 55, 56, 63, 64, 119, 200] {
            let msg = random_bytes(&mut rng, len);
            let (cs, digest, used) = hash_witness(&msg);
            assert_eq!(digest.len(), 256);
            assert_eq!(
                bytes_of(&digest),
                Sha256::digest(&msg).to_vec(),
                "{len} bytes"
            );
            assert!(cs.is_satisfied().unwrap(), "{len} bytes");
            println!("SHA-256 of {len:>3} witness bytes: {used:>6} constraints");
        }
    }

    /// Lengths around the padding boundaries of one and two blocks, with each bit at random
    /// a constant, a witness or a negated witness: exercises the constant-folding paths.
    #[test]
    fn matches_sha2_with_mixed_bits() {
        let mut rng = StdRng::seed_from_u64(13);
        let lengths = [
            0, 1, 2, 5, 31, 32, 54, 55, 56, 57, 63, 64, 65, 100, 118, 119, 120, 127, 128,
        ];
        for len in lengths {
            let msg = random_bytes(&mut rng, len);
            let cs = ConstraintSystem::<Fr>::new_ref();
            let input: Vec<Boolean<Fr>> = bits_of(&msg)
                .into_iter()
                .map(|b| match rng.gen_range(0..3) {
                    0 => Boolean::Constant(b),
                    1 => Boolean::new_witness(cs.clone(), || Ok(b)).unwrap(),
                    _ => !Boolean::new_witness(cs.clone(), || Ok(!b)).unwrap(),
                })
                .collect();
            let digest = sha256_gadget(&input).unwrap();
            assert_eq!(
                bytes_of(&digest),
                Sha256::digest(&msg).to_vec(),
                "{len} bytes"
            );
            assert!(cs.is_satisfied().unwrap(), "{len} bytes");
        }
    }

    /// Witness-only synthesis (bits without terms, constraints with empty linear
    /// combinations) gives the full gadget's witness, for messages of witness, negated and
    /// constant bits across block boundaries.
    #[test]
    fn witness_only_synthesis_matches_full_synthesis() {
        use crate::witness_only::both_modes::compare;
        let mut rng = StdRng::seed_from_u64(17);
        for len in [0, 1, 55, 56, 64, 119, 128] {
            let msg = random_bytes(&mut rng, len);
            let kinds: Vec<u8> = (0..8 * len).map(|_| rng.gen_range(0..4)).collect();
            let (made, satisfied) = compare(
                |cs| {
                    bits_of(&msg)
                        .into_iter()
                        .zip(&kinds)
                        .map(|(b, kind)| match kind {
                            0 => Boolean::Constant(b),
                            1 => !Boolean::new_witness(cs.clone(), || Ok(!b)).unwrap(),
                            _ => Boolean::new_witness(cs.clone(), || Ok(b)).unwrap(),
                        })
                        .collect::<Vec<_>>()
                },
                |input| {
                    let cs = input.cs();
                    if !cs.is_none() {
                        assert_eq!(
                            Synth::new(cs.clone()).linear,
                            cs.should_construct_matrices(),
                            "terms only with matrices"
                        );
                    }
                    let digest = sha256_gadget(&input).unwrap();
                    assert_eq!(bytes_of(&digest), Sha256::digest(&msg).to_vec());
                    digest
                        .iter()
                        .map(|b| Fr::from(b.value().unwrap()))
                        .collect()
                },
            );
            assert!(satisfied, "{len} bytes");
            assert_eq!(made, 0, "{len} bytes");
        }
    }

    #[test]
    fn matches_sha2_on_a_known_vector() {
        let (cs, digest, _) = hash_witness(b"abc");
        assert_eq!(
            hex::encode(bytes_of(&digest)),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(cs.is_satisfied().unwrap());
    }

    #[test]
    fn constant_bits_fold() {
        let mut rng = StdRng::seed_from_u64(8);
        let msg = random_bytes(&mut rng, 100);
        let expected = Sha256::digest(&msg).to_vec();

        // All constant: a constant digest, and no constraint system is needed at all.
        let input: Vec<Boolean<Fr>> = bits_of(&msg).into_iter().map(Boolean::Constant).collect();
        let digest = sha256_gadget(&input).unwrap();
        assert!(digest.iter().all(|b| b.is_constant()));
        assert_eq!(bytes_of(&digest), expected);

        // Mixed (constants, witnesses, and negated witnesses, which are symbolic linear
        // combinations): still correct, and cheaper than all witnesses.
        let cs = ConstraintSystem::<Fr>::new_ref();
        let input: Vec<Boolean<Fr>> = bits_of(&msg)
            .into_iter()
            .enumerate()
            .map(|(i, b)| match i % 3 {
                0 => Boolean::Constant(b),
                1 => Boolean::new_witness(cs.clone(), || Ok(b)).unwrap(),
                _ => !Boolean::new_witness(cs.clone(), || Ok(!b)).unwrap(),
            })
            .collect();
        let before = cs.num_constraints();
        let digest = sha256_gadget(&input).unwrap();
        let mixed = cs.num_constraints() - before;
        assert_eq!(bytes_of(&digest), expected);
        assert!(cs.is_satisfied().unwrap());
        let (_, _, all_witness) = hash_witness(&msg);
        assert!(mixed < all_witness, "{mixed} vs {all_witness}");
    }

    #[test]
    fn refuses_partial_bytes() {
        assert!(sha256_gadget(&[Boolean::TRUE; 7]).is_err());
    }

    #[test]
    fn wrong_digest_is_unsatisfiable() {
        let msg = b"causeway";
        let right = Sha256::digest(msg).to_vec();
        let mut wrong = right.clone();
        wrong[31] ^= 1;
        for (target, satisfied) in [(right, true), (wrong, false)] {
            let (cs, digest, _) = hash_witness(msg);
            for (d, t) in digest.iter().zip(bits_of(&target)) {
                d.enforce_equal(&Boolean::Constant(t)).unwrap();
            }
            assert_eq!(cs.is_satisfied().unwrap(), satisfied);
        }
    }

    /// A prover who claims a wrong intermediate sum cannot make it fit: `W[16]` decomposed as
    /// `W[16] + 1` (all bits still boolean) leaves the top carry, which is the remainder,
    /// neither 0 nor 1.
    #[test]
    fn tampered_intermediate_sum_is_unsatisfiable() {
        let mut rng = StdRng::seed_from_u64(9);
        let msg = random_bytes(&mut rng, 64);
        let (cs, _, _) = hash_witness(&msg);
        assert!(cs.is_satisfied().unwrap());

        // Native W[16] = sigma1(W[14]) + W[9] + sigma0(W[1]) + W[0], before reduction.
        let w = |j: usize| u32::from_be_bytes(msg[4 * j..4 * j + 4].try_into().unwrap());
        let sigma0 = |x: u32| x.rotate_right(7) ^ x.rotate_right(18) ^ (x >> 3);
        let sigma1 = |x: u32| x.rotate_right(17) ^ x.rotate_right(19) ^ (x >> 10);
        let full = [sigma1(w(14)), w(9), sigma0(w(1)), w(0)]
            .iter()
            .map(|x| u64::from(*x))
            .sum::<u64>();

        // Witness layout: 512 message bits, 32 sigma1 outputs, 32 sigma0 outputs, then the 32
        // bits of W[16] and one allocated carry (the top carry is the remainder).
        let first = 512 + 64;
        let mut inner = cs.borrow_mut().unwrap();
        let recomposed = (0..33).fold(0u64, |acc, i| {
            acc | (u64::from(inner.witness_assignment[first + i] == Fr::ONE) << i)
        });
        assert_eq!(recomposed, full & ((1 << 33) - 1), "layout changed");
        let forged = full + 1;
        for i in 0..33 {
            inner.witness_assignment[first + i] = Fr::from((forged >> i) & 1);
        }
        drop(inner);
        assert!(!cs.is_satisfied().unwrap());
    }

    /// Every variable the gadget allocates is determined by the message: changing any one of
    /// them, to the other boolean or off the booleans, breaks a constraint. Checked for all
    /// witnesses of a two-block hash (on the finalized matrices a prover would use).
    #[test]
    fn no_free_witness() {
        let mut rng = StdRng::seed_from_u64(10);
        let msg = random_bytes(&mut rng, 70);
        let (cs, digest, _) = hash_witness(&msg);
        let mut t = Tamper::new(&cs);
        assert!(t.all_hold());
        assert_eq!(bytes_of(&digest), Sha256::digest(&msg).to_vec());
        let num_witnesses = cs.num_witness_variables();
        for index in 8 * msg.len()..num_witnesses {
            let original = t.z[t.num_instance + index];
            for value in [Fr::ONE - original, original + Fr::from(2u64)] {
                assert!(!t.holds_with(index, value), "witness {index} is free");
            }
        }
        println!("no free witness among {num_witnesses} (two blocks)");
    }

    /// The one-constraint XOR3, Maj and Ch, exhaustively: right values, and no other value of
    /// the allocated variable satisfies the constraint.
    #[test]
    fn bit_gadgets_are_exact() {
        let others = [
            Fr::ZERO,
            Fr::ONE,
            -Fr::ONE,
            Fr::from(2u64),
            Fr::from(2u64).inverse().unwrap(),
        ];
        for input in 0u8..8 {
            let [a, b, c] = [0, 1, 2].map(|i| (input >> i) & 1 == 1);
            for op in 0..3 {
                let cs = ConstraintSystem::<Fr>::new_ref();
                let synth = Synth::new(cs.clone());
                let [x, y, z] = [a, b, c]
                    .map(|v| synth.bit(&Boolean::new_witness(cs.clone(), || Ok(v)).unwrap()));
                let (out, expected) = match op {
                    0 => (synth.xor3(&x, &y, &z).unwrap(), a ^ b ^ c),
                    1 => (synth.maj(&x, &y, &z).unwrap(), majority(a, b, c)),
                    _ => (synth.ch(&x, &y, &z).unwrap(), if a { b } else { c }),
                };
                assert_eq!(cs.num_constraints(), 3 + 1, "op {op}");
                assert_eq!(out.value(), Some(expected), "op {op} on {a} {b} {c}");
                let mut t = Tamper::new(&cs);
                assert!(t.all_hold());
                // The output (Ch's product) is the only variable allocated after the inputs.
                let original = t.z[t.num_instance + 3];
                for value in others.iter().filter(|v| **v != original) {
                    assert!(!t.holds_with(3, *value), "op {op} on {a} {b} {c}");
                }
            }
        }
    }

    /// Cost of one compression from `state` (constant IV or witnesses) with `block`
    /// (witnesses or constants).
    fn compression_cost(witness_state: bool, witness_block: bool) -> usize {
        let mut rng = StdRng::seed_from_u64(12);
        let cs = ConstraintSystem::<Fr>::new_ref();
        let state: [Word; 8] = if witness_state {
            core::array::from_fn(|_| witness_word(&cs, rng.r#gen()))
        } else {
            IV.map(constant_word)
        };
        let block: [Word; 16] = core::array::from_fn(|_| {
            if witness_block {
                witness_word(&cs, rng.r#gen())
            } else {
                constant_word(rng.r#gen())
            }
        });
        let before = cs.num_constraints();
        let _chaining_value = Synth::new(cs.clone()).compress(&state, &block).unwrap();
        assert!(cs.is_satisfied().unwrap());
        cs.num_constraints() - before
    }

    #[test]
    fn constraint_counts() {
        let block = compression_cost(true, true);
        let first = compression_cost(false, true);
        let padding = compression_cost(true, false);
        println!("SHA-256 compression: {block} constraints per block");
        println!("first block (constant IV): {first}; constant block (padding): {padding}");
        assert_eq!(block, BLOCK_CONSTRAINTS);
        assert_eq!(first, FIRST_BLOCK_CONSTRAINTS);
        assert_eq!(padding, PADDING_BLOCK_CONSTRAINTS);

        // A message of 64 * N witness bytes: N witness blocks, then a block of padding.
        let mut rng = StdRng::seed_from_u64(11);
        for n in 0..=3 {
            let (_, _, used) = hash_witness(&random_bytes(&mut rng, 64 * n));
            println!("SHA-256 of {n} x 64 witness bytes: {used} constraints");
            let expected = match n {
                // Nothing but constant padding.
                0 => 0,
                _ => {
                    FIRST_BLOCK_CONSTRAINTS
                        + (n - 1) * BLOCK_CONSTRAINTS
                        + PADDING_BLOCK_CONSTRAINTS
                }
            };
            assert_eq!(used, expected, "{n} blocks");
        }
    }

    #[test]
    fn setup_mode_has_the_same_shape() {
        for len in [3, 64, 119] {
            let cs = ConstraintSystem::<Fr>::new_ref();
            cs.set_mode(SynthesisMode::Setup);
            let input: Vec<Boolean<Fr>> = (0..8 * len)
                .map(|_| Boolean::new_witness(cs.clone(), || Ok(false)).unwrap())
                .collect();
            let before = cs.num_constraints();
            sha256_gadget(&input).unwrap();
            let (_, _, used) = hash_witness(&vec![0u8; len]);
            assert_eq!(cs.num_constraints() - before, used, "{len} bytes");
        }
    }
}
