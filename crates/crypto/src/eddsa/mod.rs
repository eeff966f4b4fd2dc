//! EdDSA-Poseidon over Baby Jubjub, exactly as circomlibjs' `eddsa.prv2pub`,
//! `eddsa.signPoseidon` and `eddsa.verifyPoseidon`, and as circomlib's
//! `EdDSAPoseidonVerifier` circuit checks it.
//!
//! Owns L2 keys and the signatures on L2 ops. The scheme, for a 32-byte private key `k`:
//!
//! - `h = BLAKE-512(k)` (the original BLAKE, not BLAKE2); `s` = `h[0..32]` little-endian with
//!   the three low bits cleared, bit 255 cleared and bit 254 set; the public key is
//!   `A = (s >> 3) * Base8`.
//! - To sign a field element `msg`: `r = BLAKE-512(h[32..64] || msg as 32 bytes LE) mod l`,
//!   `R8 = r * Base8`, `hm = Poseidon(R8.x, R8.y, A.x, A.y, msg)`, `S = r + hm * s mod l`.
//! - A signature verifies when `S < l`, `R8` and `A` are on the curve, and
//!   `S * Base8 == R8 + (8 * hm) * A`.
//!
//! Invariants kept here beyond circomlibjs (both only ever reject what no honest signer
//! produces): a public key of small order (`8 * A` the identity) never verifies, as the
//! circuit also refuses it (with such a key every message would verify against
//! `R8 = S * Base8`); and packed points must be canonical (see
//! [`Point::unpack`](crate::babyjubjub::Point::unpack)).

use crate::babyjubjub::{self, Extended, Point, Scalar};
use crate::poseidon;
use ark_ff::{BigInt, BigInteger, PrimeField};
use blake_hash::{Blake512, Digest};
use causeway_primitives::{Fr, PackedPoint, TxSignature};
use std::fmt;

/// Why a [`TxSignature`] was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("public key is not a canonical encoding of a Baby Jubjub point of large order")]
    BadPublicKey,
    #[error("R is not a canonical encoding of a Baby Jubjub point")]
    BadR,
    #[error("S is not below the subgroup order")]
    ScalarNotCanonical,
    #[error("signature does not verify")]
    Invalid,
}

/// An L2 private key: 32 bytes, expanded with BLAKE-512 on use.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateKey([u8; 32]);

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys end up in logs through `{:?}` of whatever holds them; never print one.
        f.write_str("PrivateKey(<redacted>)")
    }
}

/// An L2 public key `A`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(pub Point);

/// An EdDSA-Poseidon signature `(R8, S)`. `s` is a [`Scalar`], so it is below `l` by
/// construction; the range check happens when decoding bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signature {
    pub r8: Point,
    pub s: Scalar,
}

/// The field element an L2 op's signature signs: the Poseidon hash of its four
/// `signing_fields`.
pub fn message_hash(fields: &[Fr; 4]) -> Fr {
    poseidon::hash4(fields)
}

fn bigint_from_le(bytes: &[u8; 32]) -> BigInt<4> {
    let mut limbs = [0u64; 4];
    for (limb, chunk) in limbs.iter_mut().zip(bytes.chunks_exact(8)) {
        *limb = u64::from_le_bytes(chunk.try_into().expect("8-byte chunk"));
    }
    BigInt(limbs)
}

fn fr_to_le(f: &Fr) -> [u8; 32] {
    f.into_bigint()
        .to_bytes_le()
        .try_into()
        .expect("32-byte field element")
}

/// The challenge `hm = Poseidon(R8.x, R8.y, A.x, A.y, msg)`.
fn challenge(r8: &Point, a: &Point, msg: Fr) -> Fr {
    poseidon::hash5(&challenge_inputs(r8, a, msg))
}

/// What the challenge hashes, in circomlib's order.
fn challenge_inputs(r8: &Point, a: &Point, msg: Fr) -> [Fr; 5] {
    [r8.x, r8.y, a.x, a.y, msg]
}

impl PrivateKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        PrivateKey(bytes)
    }

    /// The key's 32 bytes, for a wallet that must show or store it on the owner's request.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }

    /// The pruned secret scalar `s` (as an integer, below 2^255) and the nonce prefix.
    fn expand(&self) -> (BigInt<4>, [u8; 32]) {
        let h = Blake512::digest(&self.0);
        let mut secret: [u8; 32] = h[..32].try_into().expect("64-byte digest");
        secret[0] &= 0xf8;
        secret[31] &= 0x7f;
        secret[31] |= 0x40;
        let prefix = h[32..].try_into().expect("64-byte digest");
        (bigint_from_le(&secret), prefix)
    }

    pub fn public_key(&self) -> PublicKey {
        let (secret, _) = self.expand();
        PublicKey(public_point(&secret))
    }

    pub fn sign(&self, msg: Fr) -> Signature {
        let (secret, prefix) = self.expand();
        let a = public_point(&secret);
        let mut nonce_input = [0u8; 64];
        nonce_input[..32].copy_from_slice(&prefix);
        nonce_input[32..].copy_from_slice(&fr_to_le(&msg));
        let r = Scalar::from_le_bytes_mod_order(&Blake512::digest(&nonce_input));
        let r8 = babyjubjub::mul_base8(&r);
        let hm = challenge(&r8, &a, msg);
        let s = r + Scalar::from_le_bytes_mod_order(&fr_to_le(&hm))
            * Scalar::from_le_bytes_mod_order(&secret.to_bytes_le());
        Signature { r8, s }
    }
}

/// `A = (s >> 3) * Base8`. `s < 2^255`, so `s >> 3 < 2^252`: in range of the fixed-base table
/// (it may exceed `l`, which is harmless since Base8 has order `l`).
fn public_point(secret: &BigInt<4>) -> Point {
    babyjubjub::mul_base8_extended(&(*secret >> 3)).to_affine()
}

impl PublicKey {
    pub fn to_packed(&self) -> PackedPoint {
        self.0.pack()
    }

    /// Unpacks a public key, refusing non-canonical encodings and keys of small order.
    pub fn from_packed(packed: &PackedPoint) -> Result<Self, SignatureError> {
        let a = Point::unpack(packed).ok_or(SignatureError::BadPublicKey)?;
        let key = PublicKey(a);
        if key.eight_a().is_identity() {
            return Err(SignatureError::BadPublicKey);
        }
        Ok(key)
    }

    fn eight_a(&self) -> Extended {
        Extended::from_affine(&self.0).double().double().double()
    }

    /// circomlibjs' `verifyPoseidon`, plus the refusal of small-order keys.
    pub fn verify(&self, msg: Fr, sig: &Signature) -> bool {
        self.verify_challenge(challenge(&sig.r8, &self.0, msg), sig)
    }

    /// [`Self::verify`] given the challenge `hm` of `sig.r8`, this key and the message.
    fn verify_challenge(&self, hm: Fr, sig: &Signature) -> bool {
        if !self.0.is_on_curve() {
            return false;
        }
        let eight_a = self.eight_a();
        !eight_a.is_identity() && verify_equation(hm, sig, |minus_hm| eight_a.mul_bigint(minus_hm))
    }

    /// Precomputes multiples of `8 * A` so that each later verification saves its only
    /// variable-base multiplication. Worth it for a key with more than about three signatures
    /// to check; `None` for a key [`Self::verify`] would refuse anyway.
    pub fn prepare(&self) -> Option<PreparedKey> {
        let eight_a = self.eight_a();
        if !self.0.is_on_curve() || eight_a.is_identity() {
            return None;
        }
        Some(PreparedKey {
            key: *self,
            packed: self.to_packed(),
            eight_a: babyjubjub::FixedBase::new(&eight_a.to_affine()),
        })
    }
}

/// `S*Base8 + (-hm)*(8*A) == R8`, given the challenge `hm` and how to multiply `8*A`.
/// Because 8*A lies in the order-l subgroup, hm may be reduced mod l, and the check needs no
/// inversion.
fn verify_equation(
    hm: Fr,
    sig: &Signature,
    mul_eight_a: impl FnOnce(&BigInt<4>) -> babyjubjub::Extended,
) -> bool {
    if !sig.r8.is_on_curve() {
        return false;
    }
    let lhs = babyjubjub::mul_base8_extended(&sig.s.into_bigint())
        .add(&mul_eight_a(&minus_challenge(&hm)));
    lhs.equals_affine(&sig.r8)
}

/// `-hm mod l`, as an integer below `l`.
fn minus_challenge(hm: &Fr) -> BigInt<4> {
    (-Scalar::from_le_bytes_mod_order(&fr_to_le(hm))).into_bigint()
}

/// A valid public key with a precomputed table of `8 * A` (see [`PublicKey::prepare`]).
/// Verifies exactly what [`PublicKey::verify`] verifies.
#[derive(Debug, Clone)]
pub struct PreparedKey {
    key: PublicKey,
    packed: PackedPoint,
    eight_a: babyjubjub::FixedBase,
}

impl PreparedKey {
    pub fn public_key(&self) -> &PublicKey {
        &self.key
    }

    pub fn verify(&self, msg: Fr, sig: &Signature) -> bool {
        let hm = challenge(&sig.r8, &self.key.0, msg);
        verify_equation(hm, sig, |minus_hm| self.eight_a.mul(minus_hm))
    }

    /// As [`verify_tx_signature_by`], with the precomputed key.
    pub fn verify_tx_signature(&self, sig: &TxSignature, msg: Fr) -> Result<(), SignatureError> {
        verify_one(sig, msg, Signer::Prepared(self)).map(|_| ())
    }
}

impl Signature {
    /// The wire form: packed key, `R8` as two coordinates, `S`; all 32 bytes little-endian.
    /// `R8` travels unpacked because decompressing it would cost every verifier a square root.
    pub fn to_tx_signature(&self, key: &PublicKey) -> TxSignature {
        TxSignature {
            pubkey: key.to_packed(),
            r8_x: fr_to_le(&self.r8.x),
            r8_y: fr_to_le(&self.r8.y),
            s: self.s_bytes(),
        }
    }

    /// Decodes the wire form, checking encodings only (not the signature itself).
    pub fn from_tx_signature(sig: &TxSignature) -> Result<(PublicKey, Signature), SignatureError> {
        let key = PublicKey::from_packed(&sig.pubkey)?;
        Ok((key, Self::from_wire_parts(sig)?))
    }

    /// `R8` and `S` of a wire signature: canonical encodings, `R8` on the curve.
    fn from_wire_parts(sig: &TxSignature) -> Result<Signature, SignatureError> {
        let s = Scalar::from_bigint(bigint_from_le(&sig.s))
            .ok_or(SignatureError::ScalarNotCanonical)?;
        let coordinate = |bytes: &[u8; 32]| Fr::from_bigint(bigint_from_le(bytes));
        let r8 = match (coordinate(&sig.r8_x), coordinate(&sig.r8_y)) {
            (Some(x), Some(y)) => Point { x, y },
            _ => return Err(SignatureError::BadR),
        };
        if !r8.is_on_curve() {
            return Err(SignatureError::BadR);
        }
        Ok(Signature { r8, s })
    }

    fn s_bytes(&self) -> [u8; 32] {
        self.s
            .into_bigint()
            .to_bytes_le()
            .try_into()
            .expect("32-byte scalar")
    }

    /// circomlibjs' `packSignature`: packed `R8` followed by `S` little-endian.
    pub fn pack(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(&self.r8.pack().0);
        out[32..].copy_from_slice(&self.s_bytes());
        out
    }

    /// circomlibjs' `unpackSignature`, refusing non-canonical `S` and an `R8` off the curve.
    pub fn unpack(bytes: &[u8; 64]) -> Result<Signature, SignatureError> {
        let (r, s) = bytes.split_at(32);
        let r8 = Point::unpack(&PackedPoint(r.try_into().expect("32 bytes")))
            .ok_or(SignatureError::BadR)?;
        let s = Scalar::from_bigint(bigint_from_le(s.try_into().expect("32 bytes")))
            .ok_or(SignatureError::ScalarNotCanonical)?;
        Ok(Signature { r8, s })
    }
}

/// Verifies a wire signature over `msg` made by `key`, a key the caller already holds decoded
/// (an account's registered key): skips the square root that unpacking the wire key costs.
/// Refuses with [`SignatureError::BadPublicKey`] when the wire key is not `key`.
pub fn verify_tx_signature_by(
    sig: &TxSignature,
    key: &PublicKey,
    msg: Fr,
) -> Result<(), SignatureError> {
    verify_one(sig, msg, Signer::Known(key)).map(|_| ())
}

/// Decodes and verifies a wire signature over `msg`; on success returns the signer's key,
/// which the caller must still match against the account's registered key.
pub fn verify_tx_signature(sig: &TxSignature, msg: Fr) -> Result<PublicKey, SignatureError> {
    verify_one(sig, msg, Signer::Carried)
}

fn verify_one(sig: &TxSignature, msg: Fr, signer: Signer<'_>) -> Result<PublicKey, SignatureError> {
    verify_tx_signatures(&[(sig, msg, signer)])
        .pop()
        .expect("one answer per signature")
}

/// The key a signature given to [`verify_tx_signatures`] is checked against.
#[derive(Debug, Clone, Copy)]
pub enum Signer<'a> {
    /// The key the signature carries, unpacked (a square root): as [`verify_tx_signature`].
    Carried,
    /// A key held decoded, which the signature must carry: as [`verify_tx_signature_by`].
    Known(&'a PublicKey),
    /// A key with its table, which the signature must carry: as
    /// [`PreparedKey::verify_tx_signature`].
    Prepared(&'a PreparedKey),
}

/// Verifies each `(signature, message, signer)`, answering exactly as the one-signature
/// functions named by [`Signer`] do (the signer's key on success). The challenges of all of
/// them are hashed together ([`poseidon::hash_many`]: eight at a time where the CPU has
/// AVX-512 IFMA, several times cheaper than one by one).
pub fn verify_tx_signatures(
    items: &[(&TxSignature, Fr, Signer<'_>)],
) -> Vec<Result<PublicKey, SignatureError>> {
    // The cheap checks first: unpacking a carried key costs a square root.
    let decoded: Vec<Result<(PublicKey, Signature), SignatureError>> = items
        .iter()
        .map(|(sig, _, signer)| {
            let signature = Signature::from_wire_parts(sig)?;
            let key = match signer {
                Signer::Carried => PublicKey::from_packed(&sig.pubkey)?,
                Signer::Known(key) if key.to_packed() == sig.pubkey => **key,
                Signer::Prepared(table) if table.packed == sig.pubkey => table.key,
                Signer::Known(_) | Signer::Prepared(_) => {
                    return Err(SignatureError::BadPublicKey);
                }
            };
            Ok((key, signature))
        })
        .collect();
    let inputs: Vec<[Fr; 5]> = decoded
        .iter()
        .zip(items)
        .filter_map(|(decoded, (_, msg, _))| {
            let (key, sig) = decoded.as_ref().ok()?;
            Some(challenge_inputs(&sig.r8, &key.0, *msg))
        })
        .collect();
    let mut challenges = poseidon::hash_many(&inputs).into_iter();
    let checked: Vec<Result<(PublicKey, Signature, Fr), SignatureError>> = decoded
        .into_iter()
        .map(|decoded| {
            let (key, sig) = decoded?;
            let hm = challenges
                .next()
                .expect("one challenge per decoded signature");
            Ok((key, sig, hm))
        })
        .collect();
    // The equations of signatures whose keys have tables: `S*Base8 + (-hm)*(8*A) == R8`,
    // eight at a time where the CPU has the lanes.
    let combinations: Vec<_> = checked
        .iter()
        .zip(items)
        .filter_map(|(checked, (_, _, signer))| match (checked, signer) {
            (Ok((_, sig, hm)), Signer::Prepared(table)) => Some((
                sig.s.into_bigint(),
                &table.eight_a,
                minus_challenge(hm),
                sig.r8,
            )),
            _ => None,
        })
        .collect();
    let mut prepared = babyjubjub::combinations_equal(&combinations).into_iter();
    checked
        .into_iter()
        .zip(items)
        .map(|(checked, (_, _, signer))| {
            let (key, sig, hm) = checked?;
            let valid = match signer {
                Signer::Prepared(_) => prepared.next().expect("one answer per prepared key"),
                Signer::Carried | Signer::Known(_) => key.verify_challenge(hm, &sig),
            };
            if valid {
                Ok(key)
            } else {
                Err(SignatureError::Invalid)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
