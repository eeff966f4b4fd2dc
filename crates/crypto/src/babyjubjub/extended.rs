//! Extended twisted Edwards coordinates (Hisil–Wong–Carter–Dawson 2008): `x = X/Z`,
//! `y = Y/Z`, `T = XY/Z`. Addition and doubling need no inversion, and because Baby Jubjub's
//! `a` is a square and `d` is not, the addition law is complete: it is correct for every pair
//! of curve points, identity and doubling included, so no input needs a special case.
//!
//! Owns the group law and variable-base scalar multiplication. Invariant: every value of
//! these types represents a point on the curve (they are only built from curve points).

use super::{COEFF_A, COEFF_D, Point};
use ark_ff::{AdditiveGroup, BigInt, Field, One, Zero};
use causeway_primitives::Fr;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Extended {
    x: Fr,
    y: Fr,
    z: Fr,
    t: Fr,
}

/// An addition operand with `d * T` precomputed (saves one multiplication per addition).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cached {
    x: Fr,
    y: Fr,
    z: Fr,
    dt: Fr,
}

/// An affine addition operand (`Z = 1`) with `d * x * y` precomputed: the entries of
/// precomputed tables.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AffineCached {
    pub(crate) x: Fr,
    pub(crate) y: Fr,
    pub(crate) dt: Fr,
}

impl AffineCached {
    pub(crate) fn new(p: &Point) -> Self {
        AffineCached {
            x: p.x,
            y: p.y,
            dt: COEFF_D * p.x * p.y,
        }
    }

    pub(crate) fn neg(&self) -> Self {
        AffineCached {
            x: -self.x,
            y: self.y,
            dt: -self.dt,
        }
    }
}

impl Cached {
    fn neg(&self) -> Self {
        Cached {
            x: -self.x,
            dt: -self.dt,
            ..*self
        }
    }
}

/// wNAF window for variable-base multiplication: 8 precomputed odd multiples, about
/// 256 / 6 additions on top of the doublings.
const WNAF_WINDOW: u32 = 5;

impl Extended {
    pub(crate) const IDENTITY: Extended = Extended {
        x: Fr::ZERO,
        y: Fr::ONE,
        z: Fr::ONE,
        t: Fr::ZERO,
    };

    pub(crate) fn from_affine(p: &Point) -> Self {
        Extended {
            x: p.x,
            y: p.y,
            z: Fr::one(),
            t: p.x * p.y,
        }
    }

    pub(crate) fn to_affine(self) -> Point {
        let zinv = self
            .z
            .inverse()
            .expect("Z is never zero on a complete curve");
        Point {
            x: self.x * zinv,
            y: self.y * zinv,
        }
    }

    pub(crate) fn z(&self) -> Fr {
        self.z
    }

    /// As [`Self::to_affine`], given `1 / Z` (from a batch inversion).
    pub(crate) fn to_affine_with_inverse(self, zinv: &Fr) -> Point {
        Point {
            x: self.x * zinv,
            y: self.y * zinv,
        }
    }

    pub(crate) fn to_cached(self) -> Cached {
        Cached {
            x: self.x,
            y: self.y,
            z: self.z,
            dt: COEFF_D * self.t,
        }
    }

    pub(crate) fn is_identity(&self) -> bool {
        self.x.is_zero() && self.y == self.z
    }

    /// Whether this is the affine point `p`, without an inversion.
    pub(crate) fn equals_affine(&self, p: &Point) -> bool {
        self.x == p.x * self.z && self.y == p.y * self.z
    }

    /// add-2008-hwcd.
    pub(crate) fn add_cached(&self, q: &Cached) -> Self {
        let a = self.x * q.x;
        let b = self.y * q.y;
        let c = self.t * q.dt;
        let d = self.z * q.z;
        let e = (self.x + self.y) * (q.x + q.y) - a - b;
        let f = d - c;
        let g = d + c;
        let h = b - COEFF_A * a;
        Extended {
            x: e * f,
            y: g * h,
            z: f * g,
            t: e * h,
        }
    }

    /// madd-2008-hwcd: as [`Self::add_cached`] with `Z2 = 1`.
    pub(crate) fn add_affine(&self, q: &AffineCached) -> Self {
        let a = self.x * q.x;
        let b = self.y * q.y;
        let c = self.t * q.dt;
        let d = self.z;
        let e = (self.x + self.y) * (q.x + q.y) - a - b;
        let f = d - c;
        let g = d + c;
        let h = b - COEFF_A * a;
        Extended {
            x: e * f,
            y: g * h,
            z: f * g,
            t: e * h,
        }
    }

    pub(crate) fn add(&self, q: &Extended) -> Self {
        self.add_cached(&q.to_cached())
    }

    /// dbl-2008-hwcd.
    pub(crate) fn double(&self) -> Self {
        let a = self.x.square();
        let b = self.y.square();
        let c = self.z.square().double();
        let d = COEFF_A * a;
        let e = (self.x + self.y).square() - a - b;
        let g = d + b;
        let f = g - c;
        let h = d - b;
        Extended {
            x: e * f,
            y: g * h,
            z: f * g,
            t: e * h,
        }
    }

    /// `k * self` for any 256-bit `k` (not reduced modulo anything, so this is also right
    /// for points outside the prime-order subgroup).
    pub(crate) fn mul_bigint(&self, k: &BigInt<4>) -> Self {
        let (digits, len) = wnaf(k);
        let mut odd = [self.to_cached(); 1 << (WNAF_WINDOW - 2)];
        let twice = self.double().to_cached();
        let mut acc = *self;
        for entry in odd.iter_mut().skip(1) {
            acc = acc.add_cached(&twice);
            *entry = acc.to_cached();
        }
        let mut result = Extended::IDENTITY;
        for &digit in digits[..len].iter().rev() {
            result = result.double();
            if digit > 0 {
                result = result.add_cached(&odd[(digit as usize) / 2]);
            } else if digit < 0 {
                result = result.add_cached(&odd[(-digit as usize) / 2].neg());
            }
        }
        result
    }
}

/// Width-`WNAF_WINDOW` non-adjacent form, least significant digit first: odd digits in
/// `(-2^(w-1), 2^(w-1))`, and at most one non-zero digit in any `w` consecutive ones.
fn wnaf(k: &BigInt<4>) -> ([i8; 257], usize) {
    // One extra limb: rounding a digit up can carry past bit 255.
    let mut n = [k.0[0], k.0[1], k.0[2], k.0[3], 0u64];
    let mut digits = [0i8; 257];
    let mut len = 0;
    let modulus = 1u64 << WNAF_WINDOW;
    while n.iter().any(|&l| l != 0) {
        if n[0] & 1 == 1 {
            let mut digit = (n[0] & (modulus - 1)) as i64;
            if digit >= (modulus / 2) as i64 {
                digit -= modulus as i64;
            }
            digits[len] = digit as i8;
            // n -= digit, which clears the low WNAF_WINDOW bits.
            if digit > 0 {
                let mut borrow = digit as u64;
                for limb in n.iter_mut() {
                    let (v, b) = limb.overflowing_sub(borrow);
                    *limb = v;
                    borrow = u64::from(b);
                }
            } else {
                let mut carry = (-digit) as u64;
                for limb in n.iter_mut() {
                    let (v, c) = limb.overflowing_add(carry);
                    *limb = v;
                    carry = u64::from(c);
                }
            }
        }
        for i in 0..4 {
            n[i] = (n[i] >> 1) | (n[i + 1] << 63);
        }
        n[4] >>= 1;
        len += 1;
    }
    (digits, len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wnaf_recomposes() {
        let k = BigInt::<4>([
            0xdead_beef_0123_4567,
            u64::MAX,
            0x8000_0000_0000_0001,
            u64::MAX,
        ]);
        let (digits, len) = wnaf(&k);
        // Recompose in the field: sum digit_i * 2^i.
        let mut acc = Fr::zero();
        for &d in digits[..len].iter().rev() {
            acc = acc.double();
            if d >= 0 {
                acc += Fr::from(d as u64);
            } else {
                acc -= Fr::from((-d) as u64);
            }
            assert!(d == 0 || d % 2 != 0);
        }
        use ark_ff::{BigInteger, PrimeField};
        assert_eq!(acc, Fr::from_le_bytes_mod_order(&k.to_bytes_le()));
    }
}
