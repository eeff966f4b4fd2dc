//! The block and batch records kept beside the state, and the sequencer's L1 context.
//!
//! Both are serde types. On disk they are postcard 1.x (varint integers, length-prefixed
//! sequences, enum variants by index, field elements as 32 raw bytes), which is compact and
//! deterministic: equal records encode to equal bytes. In human-readable formats (JSON) field
//! elements are `0x`-prefixed hex.

use alloy_primitives::keccak256;
use causeway_primitives::{AccountId, Address, B256, Fr, Nonce, Op, PackedPoint};
use serde::{Deserialize, Serialize};

/// An L2 block as committed: what ran, on which state, with what result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockRecord {
    pub number: u64,
    /// Seconds since the Unix epoch, as the sequencer set it.
    pub timestamp: u64,
    /// The account the block's fees were paid to.
    pub fee_account: AccountId,
    #[serde(with = "fr_serde")]
    pub old_root: Fr,
    #[serde(with = "fr_serde")]
    pub new_root: Fr,
    /// Accounts that exist after the block (the L1 contract's `newAccountCount`).
    pub account_count: u32,
    pub ops: Vec<Op>,
    pub pubdata: Vec<u8>,
}

impl BlockRecord {
    /// The block's hash, its name in RPC answers and in the `block_hashes` index:
    /// `keccak256(postcard(record))`, the hash of exactly the bytes stored in `blocks`.
    /// Postcard is deterministic, so a record has one hash; the number and both roots are part
    /// of it, so two blocks of one chain never share a hash.
    pub fn hash(&self) -> B256 {
        keccak256(encode(self))
    }
}

/// Consecutive blocks committed to L1 together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchRecord {
    pub number: u64,
    pub first_block: u64,
    pub last_block: u64,
    /// The old root of `first_block`.
    #[serde(with = "fr_serde")]
    pub old_root: Fr,
    /// The new root of `last_block`.
    #[serde(with = "fr_serde")]
    pub new_root: Fr,
    pub pubdata: Vec<u8>,
}

/// What L1 told the sequencer beyond priority ops, as of the last block started: the number
/// of listed tokens and the ChangePubKey authorizations registered on L1 (owner, key, nonce).
/// Journaled ops may have been accepted only because of it, so a restart must know it before
/// it replays the journal, whether or not L1 answers yet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct L1Context {
    pub token_count: u16,
    pub auths: Vec<(Address, PackedPoint, Nonce)>,
}

pub(crate) fn encode<T: Serialize>(record: &T) -> Vec<u8> {
    // Serializing these records cannot fail: every field is a plain value, no map has
    // non-string keys, and postcard's `Vec` flavor never runs out of room.
    postcard::to_stdvec(record).unwrap_or_else(|e| unreachable!("postcard encode: {e}"))
}

/// Decodes a whole value; trailing bytes are an error, so a record has one encoding.
pub(crate) fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, String> {
    let (value, rest) = postcard::take_from_bytes(bytes).map_err(|e| e.to_string())?;
    if rest.is_empty() {
        Ok(value)
    } else {
        Err(format!("{} trailing bytes", rest.len()))
    }
}

/// A field element as 32 big-endian bytes (binary formats) or `0x` hex (human-readable ones);
/// non-canonical encodings are refused.
mod fr_serde {
    use causeway_primitives::{Fr, fr_from_be_bytes, fr_to_be_bytes};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(f: &Fr, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            causeway_stf::fr_hex::serialize(f, s)
        } else {
            serde::Serialize::serialize(&fr_to_be_bytes(f), s)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Fr, D::Error> {
        if d.is_human_readable() {
            causeway_stf::fr_hex::deserialize(d)
        } else {
            let bytes = <[u8; 32]>::deserialize(d)?;
            fr_from_be_bytes(&bytes)
                .ok_or_else(|| serde::de::Error::custom("non-canonical field element"))
        }
    }
}
