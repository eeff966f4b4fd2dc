//! Multiplication of a fixed point by a scalar, from a table built once for that point.
//!
//! Owns [`FixedBase`]: the table `table[i][j] = (j + 1) * 16^i * P` for 64 radix-16 windows and
//! `j < 8`. A scalar below `2^252` is recoded into signed digits in `[-8, 8]`, so one
//! multiplication is at most 64 mixed additions and no doublings. A table is 64 * 8 affine
//! points (48 KiB; where the CPU has IFMA lanes, 61 KiB more for their lane form) and costs
//! about as much to build as three variable-base multiplications:
//! the generator [`BASE8`] has one for the whole process, and a verifier builds one for a key
//! that signs many ops in a block.

use super::extended::{AffineCached, Extended};
use super::{BASE8, Point};
use ark_ff::{BigInt, BigInteger, batch_inversion};
use causeway_primitives::Fr;
use std::sync::OnceLock;

pub(crate) const WINDOWS: usize = 64;
pub(crate) const ENTRIES: usize = 8;

pub(crate) type Table = [[AffineCached; ENTRIES]; WINDOWS];

/// Precomputed multiples of one point, for multiplications by scalars below `2^252`.
#[derive(Clone)]
pub struct FixedBase {
    table: Box<Table>,
    /// The same entries in lane form, where the CPU has the lanes: what
    /// [`super::lanes::combinations_equal`] gathers from.
    #[cfg(target_arch = "x86_64")]
    lanes: Option<Box<super::lanes::LaneTable>>,
}

impl std::fmt::Debug for FixedBase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FixedBase(..)")
    }
}

static BASE8_TABLE: OnceLock<FixedBase> = OnceLock::new();

impl FixedBase {
    pub fn new(base: &Point) -> Self {
        let table = build(base);
        FixedBase {
            #[cfg(target_arch = "x86_64")]
            lanes: super::lanes::LaneTable::of(&table),
            table,
        }
    }

    /// `k * P` for `k < 2^252`.
    ///
    /// # Panics
    /// If `k >= 2^252`.
    pub(crate) fn mul(&self, k: &BigInt<4>) -> Extended {
        mul(&self.table, k)
    }

    #[cfg(target_arch = "x86_64")]
    pub(crate) fn lanes(&self) -> Option<&super::lanes::LaneTable> {
        self.lanes.as_deref()
    }
}

/// The table of [`BASE8`].
pub(crate) fn base8() -> &'static FixedBase {
    BASE8_TABLE.get_or_init(|| FixedBase::new(&BASE8))
}

fn build(base: &Point) -> Box<Table> {
    let mut points = Vec::with_capacity(WINDOWS * ENTRIES);
    let mut window_base = Extended::from_affine(base);
    for _ in 0..WINDOWS {
        let mut multiple = window_base;
        for _ in 0..ENTRIES {
            points.push(multiple);
            multiple = multiple.add(&window_base);
        }
        for _ in 0..4 {
            window_base = window_base.double();
        }
    }
    // One inversion for the whole table instead of one per point.
    let mut zs: Vec<Fr> = points.iter().map(|p| p.z()).collect();
    batch_inversion(&mut zs);
    let mut table = Box::new([[AffineCached::new(&Point::IDENTITY); ENTRIES]; WINDOWS]);
    for (i, (p, zinv)) in points.iter().zip(&zs).enumerate() {
        let affine = p.to_affine_with_inverse(zinv);
        table[i / ENTRIES][i % ENTRIES] = AffineCached::new(&affine);
    }
    table
}

/// `k * BASE8` for `k < 2^252` (every canonical scalar, and every `s >> 3` of a pruned
/// EdDSA secret).
///
/// # Panics
/// If `k >= 2^252`.
pub(crate) fn mul_base8(k: &BigInt<4>) -> Extended {
    base8().mul(k)
}

/// The signed radix-16 digits of `k < 2^252`, each in `[-8, 8]`, one per window.
///
/// # Panics
/// If `k >= 2^252`.
pub(crate) fn signed_digits(k: &BigInt<4>) -> [i8; WINDOWS] {
    assert!(k.0[3] >> 60 == 0, "fixed-base scalar must be below 2^252");
    let bytes = k.to_bytes_le();
    let mut digits = [0i8; WINDOWS];
    let mut carry = 0i8;
    for (i, d) in digits.iter_mut().enumerate() {
        let nibble = ((bytes[i / 2] >> ((i % 2) * 4)) & 0x0f) as i8;
        let mut digit = nibble + carry;
        carry = 0;
        if digit > 8 {
            digit -= 16;
            carry = 1;
        }
        *d = digit;
    }
    // The top nibble is zero, so the last window never carries out.
    debug_assert_eq!(carry, 0);
    digits
}

fn mul(table: &Table, k: &BigInt<4>) -> Extended {
    let mut result = Extended::IDENTITY;
    for (row, digit) in table.iter().zip(signed_digits(k)) {
        if digit > 0 {
            result = result.add_affine(&row[digit as usize - 1]);
        } else if digit < 0 {
            result = result.add_affine(&row[(-digit) as usize - 1].neg());
        }
    }
    result
}
