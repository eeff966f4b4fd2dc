//! The BN254 scalar field, and the canonical ways Causeway's values become field elements.

use alloy_primitives::Address;
use ark_ff::{BigInteger, PrimeField};

/// The BN254 scalar field: every hash input, tree node and circuit variable lives here.
pub type Fr = ark_bn254::Fr;

pub fn u128_to_fr(v: u128) -> Fr {
    Fr::from(v)
}

/// An address as the field element of the 160-bit big-endian integer it spells.
pub fn address_to_fr(a: &Address) -> Fr {
    Fr::from_be_bytes_mod_order(a.as_slice())
}

/// Big-endian 32-byte encoding of a field element (the form used on L1 and in JSON).
pub fn fr_to_be_bytes(f: &Fr) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&f.into_bigint().to_bytes_be());
    out
}

/// Reads a canonical big-endian field element; `None` if it is not below the modulus.
pub fn fr_from_be_bytes(bytes: &[u8; 32]) -> Option<Fr> {
    let f = Fr::from_be_bytes_mod_order(bytes);
    (fr_to_be_bytes(&f) == *bytes).then_some(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn be_bytes_round_trip_and_reject_non_canonical() {
        let f = Fr::from(123456789u64);
        assert_eq!(fr_from_be_bytes(&fr_to_be_bytes(&f)), Some(f));
        assert_eq!(fr_from_be_bytes(&[0xff; 32]), None);
    }

    #[test]
    fn address_is_big_endian_integer() {
        let mut raw = [0u8; 20];
        raw[19] = 7;
        assert_eq!(address_to_fr(&Address::from(raw)), Fr::from(7u64));
    }
}
