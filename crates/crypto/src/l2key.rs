//! Derivation of a user's L2 signing key from their Ethereum wallet.
//!
//! Owns the one message a wallet signs to obtain its L2 key, and the map from that signature
//! to a [`PrivateKey`]: `keccak256("causeway:l2-key:v1" || signature)`.
//!
//! Why this works: wallets sign with deterministic ECDSA nonces (RFC 6979), so the same
//! account signing the same message always produces the same 65 bytes, and the L2 key can be
//! re-derived on any device from the wallet alone; nothing has to be stored or backed up.
//! The signature is secret-equivalent to the L2 key: it must only be produced for a site
//! the user trusts, which is what [`L2_KEY_MESSAGE`] tells them. No chain id is needed in
//! the message: every L2 signature already binds the chain and the rollup contract through
//! the [`Domain`](causeway_primitives::Domain) in its signed fields.
//!
//! The recovery byte `v` is normalized before hashing (`0`/`1` become `27`/`28`) because
//! wallets disagree on which form they return for the same signature; any other `v` is
//! hashed as given. The tag versions the derivation: a change of scheme gets a new tag, and
//! so new keys, rather than silently different ones.

use crate::eddsa::PrivateKey;
use alloy_primitives::keccak256;

/// The message a user signs once with `personal_sign` to obtain their Causeway L2 key.
pub const L2_KEY_MESSAGE: &str = "Causeway L2 key\n\n\
Sign this message to create your Causeway layer-2 signing key.\n\n\
Anyone who obtains this signature controls your Causeway account. \
Only sign it on a site you trust to be Causeway.";

/// Domain-separation tag and version of the derivation.
const DERIVATION_TAG: &[u8] = b"causeway:l2-key:v1";

/// The L2 key of the wallet that produced `sig`, a 65-byte `r || s || v` signature of
/// [`L2_KEY_MESSAGE`].
pub fn derive_from_eth_signature(sig: &[u8; 65]) -> PrivateKey {
    let mut normalized = *sig;
    if normalized[64] < 2 {
        normalized[64] += 27;
    }
    let mut input = Vec::with_capacity(DERIVATION_TAG.len() + 65);
    input.extend_from_slice(DERIVATION_TAG);
    input.extend_from_slice(&normalized);
    PrivateKey::from_bytes(keccak256(&input).0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::One;
    use causeway_primitives::Fr;

    #[test]
    fn derivation_is_deterministic_and_tagged() {
        let mut sig = [0x11u8; 65];
        sig[64] = 28;
        let key = derive_from_eth_signature(&sig);
        assert_eq!(key, derive_from_eth_signature(&sig));
        let mut expected_input = b"causeway:l2-key:v1".to_vec();
        expected_input.extend_from_slice(&sig);
        assert_eq!(key, PrivateKey::from_bytes(keccak256(&expected_input).0));

        // The key works for signing.
        let msg = Fr::one();
        assert!(key.public_key().verify(msg, &key.sign(msg)));

        let mut other = sig;
        other[0] ^= 1;
        assert_ne!(derive_from_eth_signature(&other), key);
    }

    #[test]
    fn recovery_byte_forms_give_the_same_key() {
        let mut sig = [0x42u8; 65];
        sig[64] = 1;
        let short = derive_from_eth_signature(&sig);
        sig[64] = 28;
        assert_eq!(short, derive_from_eth_signature(&sig));
        sig[64] = 27;
        assert_ne!(short, derive_from_eth_signature(&sig));
    }

    #[test]
    fn message_names_causeway_and_warns() {
        assert!(L2_KEY_MESSAGE.contains("Causeway"));
        assert!(L2_KEY_MESSAGE.contains("trust"));
    }
}
