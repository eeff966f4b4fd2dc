//! The ops a block carries, and exactly what each signer signs.
//!
//! Two kinds of op enter a block. Priority ops ([`Deposit`], [`FullExit`]) come from the L1
//! contract's queue and carry no L2 signature: L1 already authenticated them. L2 ops
//! ([`Transfer`], [`Withdraw`]) are signed with the account's EdDSA-Poseidon key over
//! [`Transfer::signing_fields`]; [`ChangePubKey`] is authorized by the account's Ethereum key
//! (an ECDSA signature over [`change_pubkey_eth_message`], which the L1 contract can rebuild
//! from pubdata) or by an L1 call made beforehand.
//!
//! Every signed message starts with the [`Domain`], so a signature made for one chain or one
//! deployment is worthless on any other.

use crate::{AccountId, Address, B256, Balance, Fr, Nonce, TokenId, address_to_fr};
use alloy_primitives::keccak256;
use ark_ff::PrimeField;
use serde::{Deserialize, Serialize};

/// The chain and the rollup deployment a signature is valid for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Domain {
    pub chain_id: u64,
    pub contract: Address,
}

impl Domain {
    /// `chain_id * 2^160 + contract`: 224 bits, one field element, no hashing needed.
    pub fn to_fr(&self) -> Fr {
        let mut bytes = [0u8; 28];
        bytes[..8].copy_from_slice(&self.chain_id.to_be_bytes());
        bytes[8..].copy_from_slice(self.contract.as_slice());
        Fr::from_be_bytes_mod_order(&bytes)
    }
}

/// A Baby Jubjub point in circomlib's packed form: `y` little-endian, with the sign of `x`
/// in the top bit of the last byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PackedPoint(pub [u8; 32]);

/// An EdDSA-Poseidon signature together with the key that made it, so that signatures can be
/// checked before (and in parallel with) the state lookups that bind the key to an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TxSignature {
    pub pubkey: PackedPoint,
    /// The point `R8`, coordinates as 32-byte little-endian field elements. Unpacked, because
    /// decompressing a point costs every verifier a square root.
    pub r8_x: [u8; 32],
    pub r8_y: [u8; 32],
    /// The scalar `S`, 32 bytes little-endian, as circomlibjs writes it.
    pub s: [u8; 32],
}

/// Op type tags. They open every signed message and every op's pubdata.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OpKind {
    Noop = 0,
    Transfer = 1,
    TransferToNew = 2,
    Withdraw = 3,
    Deposit = 4,
    FullExit = 5,
    ChangePubKey = 6,
}

/// A deposit from L1: `amount` of `token` to the L2 account of `to` (created if absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deposit {
    /// Serial number in the L1 priority queue.
    pub priority_id: u64,
    pub from: Address,
    pub to: Address,
    pub token: TokenId,
    pub amount: Balance,
}

/// A request made on L1 by `owner` to move the whole balance of `token` of `account` to L1.
/// It succeeds with amount 0 when the account does not exist or belongs to someone else: the
/// op must still be processed so the L1 queue advances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FullExit {
    pub priority_id: u64,
    pub account: AccountId,
    pub owner: Address,
    pub token: TokenId,
}

/// Moves `amount` of `token` from account `from` to the account of address `to`, creating it
/// when `to` has none. `fee` is paid in the same token to the block's fee account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    pub from: AccountId,
    pub to: Address,
    pub token: TokenId,
    pub amount: Balance,
    pub fee: Balance,
    pub nonce: Nonce,
    pub signature: TxSignature,
}

/// Moves `amount` of `token` out of L2, to be claimed by `to` on L1 once the batch executes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Withdraw {
    pub from: AccountId,
    pub to: Address,
    pub token: TokenId,
    pub amount: Balance,
    pub fee: Balance,
    pub nonce: Nonce,
    pub signature: TxSignature,
}

/// How the owner's Ethereum key authorized a [`ChangePubKey`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChangePubKeyAuth {
    /// A 65-byte `r ‖ s ‖ v` signature over [`change_pubkey_eth_message`] (EIP-191).
    EthSignature(#[serde(with = "sig65")] [u8; 65]),
    /// The owner registered the key hash with an L1 call; the L1 contract checks it at commit.
    Onchain,
}

/// Registers (or replaces) the EdDSA key that signs the account's L2 ops.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangePubKey {
    pub account: AccountId,
    pub new_pubkey: PackedPoint,
    pub fee_token: TokenId,
    pub fee: Balance,
    pub nonce: Nonce,
    pub auth: ChangePubKeyAuth,
}

/// One op of a block, as the sequencer hands it to the stf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    Noop,
    Deposit(Deposit),
    FullExit(FullExit),
    Transfer(Transfer),
    Withdraw(Withdraw),
    ChangePubKey(ChangePubKey),
}

const OP_HASH_TAG: &[u8] = b"causeway:op:v1";

impl Op {
    /// The op's hash, its name in RPC answers and indexes (an L2 "transaction hash"):
    /// `keccak256("causeway:op:v1" ‖ postcard(op))`. Postcard is deterministic, so equal ops
    /// have equal hashes; the signature is part of the bytes, as in an Ethereum tx hash.
    pub fn hash(&self) -> B256 {
        let mut bytes = OP_HASH_TAG.to_vec();
        // Encoding a plain value into a Vec cannot fail.
        bytes.extend(postcard::to_stdvec(self).unwrap_or_else(|e| unreachable!("postcard: {e}")));
        keccak256(&bytes)
    }
}

/// `tag ‖ from (32 bits) ‖ token (16) ‖ nonce (32)` as one integer.
fn header_fr(kind: OpKind, from: AccountId, token: TokenId, nonce: Nonce) -> Fr {
    let v: u128 =
        ((((kind as u128) << 32 | u128::from(from.get())) << 16 | u128::from(token.get())) << 32)
            | u128::from(nonce);
    Fr::from(v)
}

/// `amount * 2^128 + fee`: both are below 2^112, so this is injective and below the modulus.
fn amounts_fr(amount: Balance, fee: Balance) -> Fr {
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(&amount.to_be_bytes());
    bytes[16..].copy_from_slice(&fee.to_be_bytes());
    Fr::from_be_bytes_mod_order(&bytes)
}

impl Transfer {
    /// The four field elements whose Poseidon hash the sender signs:
    /// `[domain, tag‖from‖token‖nonce, amount‖fee, to]`.
    pub fn signing_fields(&self, domain: &Domain) -> [Fr; 4] {
        [
            domain.to_fr(),
            header_fr(OpKind::Transfer, self.from, self.token, self.nonce),
            amounts_fr(self.amount, self.fee),
            address_to_fr(&self.to),
        ]
    }
}

impl Withdraw {
    /// As [`Transfer::signing_fields`], with the withdraw tag and the L1 recipient.
    pub fn signing_fields(&self, domain: &Domain) -> [Fr; 4] {
        [
            domain.to_fr(),
            header_fr(OpKind::Withdraw, self.from, self.token, self.nonce),
            amounts_fr(self.amount, self.fee),
            address_to_fr(&self.to),
        ]
    }
}

const CHANGE_PUBKEY_TAG: &[u8] = b"causeway:change-pubkey:v1";

/// The 32-byte message an account's Ethereum key signs to authorize a [`ChangePubKey`]:
/// `keccak256(tag ‖ chain_id u64 ‖ contract ‖ account u32 ‖ pubkey 32 ‖ nonce u32 ‖
/// fee_token u16 ‖ fee u128)`, all big-endian. The wallet signs it as an EIP-191 personal
/// message, and the L1 contract rebuilds it from pubdata to `ecrecover` the owner.
pub fn change_pubkey_eth_message(domain: &Domain, cpk: &ChangePubKey) -> B256 {
    let mut buf = Vec::with_capacity(CHANGE_PUBKEY_TAG.len() + 8 + 20 + 4 + 32 + 4 + 2 + 16);
    buf.extend_from_slice(CHANGE_PUBKEY_TAG);
    buf.extend_from_slice(&domain.chain_id.to_be_bytes());
    buf.extend_from_slice(domain.contract.as_slice());
    buf.extend_from_slice(&cpk.account.get().to_be_bytes());
    buf.extend_from_slice(&cpk.new_pubkey.0);
    buf.extend_from_slice(&cpk.nonce.to_be_bytes());
    buf.extend_from_slice(&cpk.fee_token.get().to_be_bytes());
    buf.extend_from_slice(&cpk.fee.to_be_bytes());
    keccak256(&buf)
}

/// EIP-191 hash of a 32-byte message: what `personal_sign` (and `ecrecover` on L1) works on.
pub fn eth_signed_message_hash(message: &B256) -> B256 {
    let mut buf = Vec::with_capacity(28 + 32);
    buf.extend_from_slice(b"\x19Ethereum Signed Message:\n32");
    buf.extend_from_slice(message.as_slice());
    keccak256(&buf)
}

mod sig65 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8; 65], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 65], D::Error> {
        let v: Vec<u8> = Vec::deserialize(d)?;
        v.try_into()
            .map_err(|_| serde::de::Error::custom("expected 65 signature bytes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transfer() -> Transfer {
        Transfer {
            from: AccountId::new(5).unwrap(),
            to: Address::repeat_byte(0x11),
            token: TokenId::new(3).unwrap(),
            amount: 1000,
            fee: 10,
            nonce: 7,
            signature: TxSignature {
                pubkey: PackedPoint([0; 32]),
                r8_x: [0; 32],
                r8_y: [0; 32],
                s: [0; 32],
            },
        }
    }

    #[test]
    fn signing_fields_bind_domain_and_kind() {
        let d1 = Domain {
            chain_id: 1,
            contract: Address::repeat_byte(1),
        };
        let d2 = Domain {
            chain_id: 2,
            contract: Address::repeat_byte(1),
        };
        let d3 = Domain {
            chain_id: 1,
            contract: Address::repeat_byte(2),
        };
        let t = transfer();
        assert_ne!(t.signing_fields(&d1), t.signing_fields(&d2));
        assert_ne!(t.signing_fields(&d1), t.signing_fields(&d3));
        let w = Withdraw {
            from: t.from,
            to: t.to,
            token: t.token,
            amount: t.amount,
            fee: t.fee,
            nonce: t.nonce,
            signature: t.signature,
        };
        assert_ne!(t.signing_fields(&d1), w.signing_fields(&d1));
    }

    #[test]
    fn amounts_field_is_injective_at_the_edges() {
        assert_ne!(amounts_fr(1, 0), amounts_fr(0, 1));
        assert_ne!(
            amounts_fr(crate::MAX_BALANCE, 0),
            amounts_fr(0, crate::MAX_BALANCE)
        );
    }
}
