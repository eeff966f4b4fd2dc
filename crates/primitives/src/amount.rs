//! Balances and the packed decimal-float formats that keep pubdata small.
//!
//! A packed value is `mantissa * 10^exponent`, stored as `mantissa << EXP_BITS | exponent`.
//! Transfer amounts use 30 mantissa bits and 5 exponent bits (35 bits: every amount with at
//! most 9 significant decimal digits); fees use 10 + 5 bits (15 bits: rounding a fee down to
//! its packed form loses under 1%). Withdrawals and deposits carry full 112-bit amounts, so a
//! whole balance can always leave.
//!
//! Several encodings can denote one value (`10 * 10^0 == 1 * 10^1`); [`PackedAmount::pack`]
//! writes the one with the smallest exponent, and decoding accepts any encoding whose value is
//! at most [`MAX_BALANCE`].

/// An amount of one token, in the token's smallest unit. Never above [`MAX_BALANCE`].
pub type Balance = u128;

/// Balances are bounded so that a balance and a fee fit together in one field element, and so
/// that the circuit's 112-bit range checks cover them.
pub const MAX_BALANCE: Balance = (1 << 112) - 1;

pub const AMOUNT_MANTISSA_BITS: u32 = 30;
pub const AMOUNT_EXP_BITS: u32 = 5;
pub const FEE_MANTISSA_BITS: u32 = 10;
pub const FEE_EXP_BITS: u32 = 5;

/// Adds two balances; `None` if the sum exceeds [`MAX_BALANCE`].
pub fn checked_add(a: Balance, b: Balance) -> Option<Balance> {
    a.checked_add(b).filter(|s| *s <= MAX_BALANCE)
}

/// Subtracts `b` from `a`; `None` if `b > a`.
pub fn checked_sub(a: Balance, b: Balance) -> Option<Balance> {
    a.checked_sub(b)
}

/// A value has no exact packed form, or a packed form denotes more than [`MAX_BALANCE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PackError {
    #[error("{value} has no exact {format} encoding (too many significant digits)")]
    NotPackable {
        value: Balance,
        format: &'static str,
    },
    #[error("packed {format} 0x{packed:x} denotes more than the maximum balance")]
    OutOfRange { packed: u64, format: &'static str },
}

macro_rules! packed_float {
    ($name:ident, $mbits:expr, $ebits:expr, $label:literal) => {
        #[doc = concat!("A ", $label, " in packed decimal-float form (see the module docs).")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "u64", into = "u64")]
        pub struct $name(u64);

        impl TryFrom<u64> for $name {
            type Error = PackError;
            fn try_from(bits: u64) -> Result<Self, PackError> {
                Self::from_bits(bits)
            }
        }

        impl From<$name> for u64 {
            fn from(p: $name) -> u64 {
                p.0
            }
        }

        impl $name {
            pub const BITS: u32 = $mbits + $ebits;

            /// Exact packing of `value`: the encoding with the smallest exponent.
            pub fn pack(value: Balance) -> Result<Self, PackError> {
                pack_exact(value, $mbits, $ebits)
                    .map(Self)
                    .ok_or(PackError::NotPackable {
                        value,
                        format: $label,
                    })
            }

            /// The largest packable value not above `value` (what a wallet offers when the
            /// user asks for an amount that has no exact form).
            pub fn round_down(value: Balance) -> Self {
                Self(round_down(value.min(MAX_BALANCE), $mbits, $ebits))
            }

            /// Reads raw bits (as found in pubdata); refuses encodings above the maximum balance.
            pub fn from_bits(bits: u64) -> Result<Self, PackError> {
                let packed = Self(bits & ((1 << Self::BITS) - 1));
                if packed.0 != bits || unpack(bits, $ebits).is_none_or(|v| v > MAX_BALANCE) {
                    return Err(PackError::OutOfRange {
                        packed: bits,
                        format: $label,
                    });
                }
                Ok(packed)
            }

            pub fn bits(self) -> u64 {
                self.0
            }

            pub fn value(self) -> Balance {
                // Construction guarantees the value exists and is in range.
                unpack(self.0, $ebits).expect("packed value checked at construction")
            }

            /// Whether `value` has an exact encoding.
            pub fn is_packable(value: Balance) -> bool {
                value <= MAX_BALANCE && pack_exact(value, $mbits, $ebits).is_some()
            }
        }
    };
}

packed_float!(
    PackedAmount,
    AMOUNT_MANTISSA_BITS,
    AMOUNT_EXP_BITS,
    "amount"
);
packed_float!(PackedFee, FEE_MANTISSA_BITS, FEE_EXP_BITS, "fee");

fn pack_exact(mut value: Balance, mbits: u32, ebits: u32) -> Option<u64> {
    if value > MAX_BALANCE {
        return None;
    }
    let max_exp = (1u32 << ebits) - 1;
    let mut exp = 0;
    while value >= (1 << mbits) {
        if !value.is_multiple_of(10) || exp == max_exp {
            return None;
        }
        value /= 10;
        exp += 1;
    }
    Some(((value as u64) << ebits) | u64::from(exp))
}

fn round_down(mut value: Balance, mbits: u32, ebits: u32) -> u64 {
    let max_exp = (1u32 << ebits) - 1;
    let mut exp = 0;
    while value >= (1 << mbits) && exp < max_exp {
        value /= 10;
        exp += 1;
    }
    // Both formats reach past MAX_BALANCE (2^mbits * 10^31 > 2^112), so the loop ends in range.
    debug_assert!(value < (1 << mbits));
    ((value as u64) << ebits) | u64::from(exp)
}

fn unpack(bits: u64, ebits: u32) -> Option<Balance> {
    let exp = (bits & ((1 << ebits) - 1)) as u32;
    let mantissa = Balance::from(bits >> ebits);
    10u128.checked_pow(exp)?.checked_mul(mantissa)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_values() {
        let one_eth = 1_000_000_000_000_000_000u128;
        let p = PackedAmount::pack(one_eth).unwrap();
        assert_eq!(p.value(), one_eth);
        assert_eq!(
            p.bits() & 31,
            9,
            "smallest exponent whose mantissa fits 30 bits"
        );
        assert!(PackedAmount::pack(1_234_567_891).is_err());
        assert!(PackedAmount::pack(999_999_999 * 10u128.pow(20)).is_ok());
        assert_eq!(PackedAmount::pack(0).unwrap().bits(), 0);
        assert!(PackedFee::pack(1025).is_err());
        assert_eq!(PackedFee::pack(10_230_000).unwrap().value(), 10_230_000);
        assert!(PackedFee::pack(MAX_BALANCE + 1).is_err());
    }

    #[test]
    fn from_bits_refuses_out_of_range_and_extra_bits() {
        // mantissa 2^30-1, exponent 31: far above 2^112.
        assert!(PackedAmount::from_bits(u64::MAX >> (64 - 35)).is_err());
        assert!(PackedAmount::from_bits(1 << 35).is_err());
        assert!(PackedFee::from_bits(1 << 15).is_err());
    }

    proptest! {
        #[test]
        fn pack_round_trips(m in 0u128..(1 << 30), e in 0u32..20) {
            let v = m * 10u128.pow(e);
            prop_assume!(v <= MAX_BALANCE);
            let p = PackedAmount::pack(v).unwrap();
            prop_assert_eq!(p.value(), v);
            prop_assert_eq!(PackedAmount::from_bits(p.bits()).unwrap(), p);
        }

        #[test]
        fn round_down_is_largest_below(v in 0u128..=MAX_BALANCE) {
            let r = PackedFee::round_down(v).value();
            prop_assert!(r <= v);
            prop_assert!(PackedFee::is_packable(r));
            // Rounding keeps at least 102 as mantissa: the loss is under 1%.
            if v >= 1 << 10 {
                prop_assert!((v - r) * 100 < v);
            } else {
                prop_assert_eq!(r, v);
            }
        }

        #[test]
        fn checked_arith_never_exceeds_max(a in 0u128..=MAX_BALANCE, b in 0u128..=MAX_BALANCE) {
            match checked_add(a, b) {
                Some(s) => prop_assert!(s <= MAX_BALANCE && s == a + b),
                None => prop_assert!(a + b > MAX_BALANCE),
            }
        }
    }
}
