//! The pubdata codec: the bytes each executed op leaves on L1.
//!
//! Pubdata is a sequence of 14-byte chunks; every op takes a whole number of them, so the
//! circuit and the L1 contract can walk ops at fixed strides. Inside an op, fields are packed
//! most-significant bit first, in the order docs/pubdata.md lists them, and the unused tail of
//! the op's last chunk is zero. The first four bits of an op are its [`OpKind`] tag.
//!
//! A transfer between existing accounts is one chunk: tag 4 + from 24 + to 24 + token 10 +
//! amount 35 (packed) + fee 15 (packed) = 112 bits = 14 bytes.
//!
//! Invariants: `decode(encode(ops)) == ops` for every op list; `decode` never panics, and
//! rejects trailing partial chunks, unknown tags, non-zero padding and out-of-range amounts
//! with a [`CodecError`].

use crate::{
    AccountId, Address, Balance, OpKind, PackError, PackedAmount, PackedFee, PackedPoint, TokenId,
};
use serde::{Deserialize, Serialize};

pub const CHUNK_BYTES: usize = 14;
const TAG_BITS: u32 = 4;
const ID_BITS: u32 = AccountId::BITS;
const TOKEN_BITS: u32 = TokenId::BITS;
const BALANCE_BITS: u32 = 112;
const ADDRESS_BITS: u32 = 160;

/// How a ChangePubKey was authorized, as recorded in pubdata for the L1 contract.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuthKind {
    /// An ECDSA signature, passed to the L1 contract beside the pubdata.
    EthSignature = 0,
    /// A key hash registered on L1 beforehand.
    Onchain = 1,
}

/// An op as executed: ids resolved, amounts in their pubdata form. The stf emits one per op;
/// the state can be rebuilt from a sequence of them alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PubdataOp {
    Noop,
    Transfer {
        from: AccountId,
        to: AccountId,
        token: TokenId,
        amount: PackedAmount,
        fee: PackedFee,
    },
    /// A transfer that created account `to` for `to_address`.
    TransferToNew {
        from: AccountId,
        to: AccountId,
        token: TokenId,
        amount: PackedAmount,
        fee: PackedFee,
        to_address: Address,
    },
    Withdraw {
        from: AccountId,
        token: TokenId,
        amount: Balance,
        fee: PackedFee,
        to: Address,
    },
    /// A deposit credited to `account`, which belongs to (or was created for) `address`.
    Deposit {
        account: AccountId,
        token: TokenId,
        amount: Balance,
        address: Address,
    },
    /// A full exit; `amount` is what left (0 when the request was not valid).
    FullExit {
        account: AccountId,
        token: TokenId,
        amount: Balance,
        owner: Address,
    },
    ChangePubKey {
        account: AccountId,
        auth: AuthKind,
        pubkey: PackedPoint,
        nonce: u32,
        fee_token: TokenId,
        fee: PackedFee,
        address: Address,
    },
}

/// Malformed pubdata. Every variant names the byte offset of the op it stopped at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("pubdata length {0} is not a multiple of the {CHUNK_BYTES}-byte chunk")]
    PartialChunk(usize),
    #[error("unknown op tag {tag} at byte {offset}")]
    UnknownTag { tag: u8, offset: usize },
    #[error("op at byte {offset} needs {needed} bytes but only {left} remain")]
    Truncated {
        offset: usize,
        needed: usize,
        left: usize,
    },
    #[error("non-zero padding in op at byte {offset}")]
    NonZeroPadding { offset: usize },
    #[error("op at byte {offset}: {source}")]
    Amount { offset: usize, source: PackError },
    #[error("op at byte {offset}: balance field exceeds the maximum")]
    BalanceOutOfRange { offset: usize },
}

impl PubdataOp {
    pub fn kind(&self) -> OpKind {
        match self {
            PubdataOp::Noop => OpKind::Noop,
            PubdataOp::Transfer { .. } => OpKind::Transfer,
            PubdataOp::TransferToNew { .. } => OpKind::TransferToNew,
            PubdataOp::Withdraw { .. } => OpKind::Withdraw,
            PubdataOp::Deposit { .. } => OpKind::Deposit,
            PubdataOp::FullExit { .. } => OpKind::FullExit,
            PubdataOp::ChangePubKey { .. } => OpKind::ChangePubKey,
        }
    }

    /// The fee the op pays, in which token; `None` for ops that pay none.
    pub fn fee(&self) -> Option<(TokenId, Balance)> {
        match self {
            PubdataOp::Transfer { token, fee, .. }
            | PubdataOp::TransferToNew { token, fee, .. }
            | PubdataOp::Withdraw { token, fee, .. } => Some((*token, fee.value())),
            PubdataOp::ChangePubKey { fee_token, fee, .. } => Some((*fee_token, fee.value())),
            PubdataOp::Noop | PubdataOp::Deposit { .. } | PubdataOp::FullExit { .. } => None,
        }
    }

    /// How many chunks the op takes.
    pub fn chunks(&self) -> usize {
        chunks_of(self.kind())
    }

    /// Appends the op's chunks to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let mut w = BitWriter::new(self.chunks() * CHUNK_BYTES);
        w.put(self.kind() as u128, TAG_BITS);
        match self {
            PubdataOp::Noop => {}
            PubdataOp::Transfer {
                from,
                to,
                token,
                amount,
                fee,
            } => {
                w.put_id(*from);
                w.put_id(*to);
                w.put_token(*token);
                w.put(amount.bits().into(), PackedAmount::BITS);
                w.put(fee.bits().into(), PackedFee::BITS);
            }
            PubdataOp::TransferToNew {
                from,
                to,
                token,
                amount,
                fee,
                to_address,
            } => {
                w.put_id(*from);
                w.put_id(*to);
                w.put_token(*token);
                w.put(amount.bits().into(), PackedAmount::BITS);
                w.put(fee.bits().into(), PackedFee::BITS);
                w.put_bytes(to_address.as_slice());
            }
            PubdataOp::Withdraw {
                from,
                token,
                amount,
                fee,
                to,
            } => {
                w.put_id(*from);
                w.put_token(*token);
                w.put(*amount, BALANCE_BITS);
                w.put(fee.bits().into(), PackedFee::BITS);
                w.put_bytes(to.as_slice());
            }
            PubdataOp::Deposit {
                account,
                token,
                amount,
                address,
            } => {
                w.put_id(*account);
                w.put_token(*token);
                w.put(*amount, BALANCE_BITS);
                w.put_bytes(address.as_slice());
            }
            PubdataOp::FullExit {
                account,
                token,
                amount,
                owner,
            } => {
                w.put_id(*account);
                w.put_token(*token);
                w.put(*amount, BALANCE_BITS);
                w.put_bytes(owner.as_slice());
            }
            PubdataOp::ChangePubKey {
                account,
                auth,
                pubkey,
                nonce,
                fee_token,
                fee,
                address,
            } => {
                w.put_id(*account);
                w.put(*auth as u128, 4);
                w.put_bytes(&pubkey.0);
                w.put((*nonce).into(), 32);
                w.put_token(*fee_token);
                w.put(fee.bits().into(), PackedFee::BITS);
                w.put_bytes(address.as_slice());
            }
        }
        out.extend_from_slice(&w.finish());
    }
}

/// Chunks per op kind; see docs/pubdata.md for the field layout of each.
pub const fn chunks_of(kind: OpKind) -> usize {
    match kind {
        OpKind::Noop | OpKind::Transfer => 1,
        OpKind::TransferToNew | OpKind::Withdraw | OpKind::Deposit | OpKind::FullExit => 3,
        OpKind::ChangePubKey => 5,
    }
}

/// Encodes ops back to back.
pub fn encode(ops: &[PubdataOp]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ops.iter().map(|o| o.chunks() * CHUNK_BYTES).sum());
    for op in ops {
        op.encode_into(&mut out);
    }
    out
}

/// Decodes a whole batch's pubdata.
pub fn decode(bytes: &[u8]) -> Result<Vec<PubdataOp>, CodecError> {
    if !bytes.len().is_multiple_of(CHUNK_BYTES) {
        return Err(CodecError::PartialChunk(bytes.len()));
    }
    let mut ops = Vec::new();
    let mut offset = 0;
    while offset < bytes.len() {
        let op = decode_one(bytes, offset)?;
        offset += op.chunks() * CHUNK_BYTES;
        ops.push(op);
    }
    Ok(ops)
}

fn decode_one(bytes: &[u8], offset: usize) -> Result<PubdataOp, CodecError> {
    let tag = bytes[offset] >> 4;
    let kind = match tag {
        0 => OpKind::Noop,
        1 => OpKind::Transfer,
        2 => OpKind::TransferToNew,
        3 => OpKind::Withdraw,
        4 => OpKind::Deposit,
        5 => OpKind::FullExit,
        6 => OpKind::ChangePubKey,
        _ => return Err(CodecError::UnknownTag { tag, offset }),
    };
    let len = chunks_of(kind) * CHUNK_BYTES;
    let left = bytes.len() - offset;
    if left < len {
        return Err(CodecError::Truncated {
            offset,
            needed: len,
            left,
        });
    }
    let mut r = BitReader {
        bytes: &bytes[offset..offset + len],
        pos: TAG_BITS,
    };
    let amount = |bits: u128| {
        PackedAmount::from_bits(bits as u64).map_err(|source| CodecError::Amount { offset, source })
    };
    let fee = |bits: u128| {
        PackedFee::from_bits(bits as u64).map_err(|source| CodecError::Amount { offset, source })
    };
    let op = match kind {
        OpKind::Noop => PubdataOp::Noop,
        OpKind::Transfer => PubdataOp::Transfer {
            from: r.id(),
            to: r.id(),
            token: r.token(),
            amount: amount(r.take(PackedAmount::BITS))?,
            fee: fee(r.take(PackedFee::BITS))?,
        },
        OpKind::TransferToNew => PubdataOp::TransferToNew {
            from: r.id(),
            to: r.id(),
            token: r.token(),
            amount: amount(r.take(PackedAmount::BITS))?,
            fee: fee(r.take(PackedFee::BITS))?,
            to_address: r.address(),
        },
        OpKind::Withdraw => PubdataOp::Withdraw {
            from: r.id(),
            token: r.token(),
            amount: r.take(BALANCE_BITS),
            fee: fee(r.take(PackedFee::BITS))?,
            to: r.address(),
        },
        OpKind::Deposit => PubdataOp::Deposit {
            account: r.id(),
            token: r.token(),
            amount: r.take(BALANCE_BITS),
            address: r.address(),
        },
        OpKind::FullExit => PubdataOp::FullExit {
            account: r.id(),
            token: r.token(),
            amount: r.take(BALANCE_BITS),
            owner: r.address(),
        },
        OpKind::ChangePubKey => {
            let account = r.id();
            let auth = match r.take(4) {
                0 => AuthKind::EthSignature,
                1 => AuthKind::Onchain,
                _ => return Err(CodecError::NonZeroPadding { offset }),
            };
            let mut pubkey = [0u8; 32];
            r.bytes_into(&mut pubkey);
            PubdataOp::ChangePubKey {
                account,
                auth,
                pubkey: PackedPoint(pubkey),
                nonce: r.take(32) as u32,
                fee_token: r.token(),
                fee: fee(r.take(PackedFee::BITS))?,
                address: r.address(),
            }
        }
    };
    if !r.rest_is_zero() {
        return Err(CodecError::NonZeroPadding { offset });
    }
    Ok(op)
}

/// Writes fields most-significant bit first into a zeroed buffer of fixed length.
struct BitWriter {
    buf: Vec<u8>,
    pos: u32,
}

impl BitWriter {
    fn new(len: usize) -> Self {
        Self {
            buf: vec![0; len],
            pos: 0,
        }
    }

    fn put(&mut self, value: u128, bits: u32) {
        debug_assert!(
            bits == 128 || value >> bits == 0,
            "value wider than its field"
        );
        for i in (0..bits).rev() {
            if (value >> i) & 1 == 1 {
                self.buf[(self.pos / 8) as usize] |= 0x80 >> (self.pos % 8);
            }
            self.pos += 1;
        }
    }

    fn put_bytes(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.put((*b).into(), 8);
        }
    }

    fn put_id(&mut self, id: AccountId) {
        self.put(id.get().into(), ID_BITS);
    }

    fn put_token(&mut self, token: TokenId) {
        self.put(token.get().into(), TOKEN_BITS);
    }

    fn finish(self) -> Vec<u8> {
        debug_assert!(
            self.pos as usize <= self.buf.len() * 8,
            "op overflows its chunks"
        );
        self.buf
    }
}

/// Reads what [`BitWriter`] wrote. Callers size `bytes` to the op, so reads stay in bounds.
struct BitReader<'a> {
    bytes: &'a [u8],
    pos: u32,
}

impl BitReader<'_> {
    fn take(&mut self, bits: u32) -> u128 {
        let mut v = 0u128;
        for _ in 0..bits {
            let bit = (self.bytes[(self.pos / 8) as usize] >> (7 - self.pos % 8)) & 1;
            v = (v << 1) | u128::from(bit);
            self.pos += 1;
        }
        v
    }

    fn bytes_into(&mut self, out: &mut [u8]) {
        for b in out {
            *b = self.take(8) as u8;
        }
    }

    fn id(&mut self) -> AccountId {
        AccountId::new(self.take(ID_BITS) as u32).expect("24 bits always fit an account id")
    }

    fn token(&mut self) -> TokenId {
        TokenId::new(self.take(TOKEN_BITS) as u16).expect("10 bits always fit a token id")
    }

    fn address(&mut self) -> Address {
        let mut a = [0u8; 20];
        debug_assert_eq!(ADDRESS_BITS, 160);
        self.bytes_into(&mut a);
        Address::from(a)
    }

    fn rest_is_zero(&mut self) -> bool {
        let total = self.bytes.len() as u32 * 8;
        while self.pos < total {
            if self.take(1) != 0 {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MAX_BALANCE;
    use proptest::prelude::*;

    fn id() -> impl Strategy<Value = AccountId> {
        (0..=AccountId::MAX).prop_map(|v| AccountId::new(v).unwrap())
    }
    fn token() -> impl Strategy<Value = TokenId> {
        (0..=TokenId::MAX).prop_map(|v| TokenId::new(v).unwrap())
    }
    fn balance() -> impl Strategy<Value = Balance> {
        prop_oneof![Just(0), Just(MAX_BALANCE), 0..=MAX_BALANCE]
    }
    fn amount() -> impl Strategy<Value = PackedAmount> {
        balance().prop_map(PackedAmount::round_down)
    }
    fn fee() -> impl Strategy<Value = PackedFee> {
        balance().prop_map(PackedFee::round_down)
    }
    fn address() -> impl Strategy<Value = Address> {
        any::<[u8; 20]>().prop_map(Address::from)
    }

    pub(crate) fn op() -> impl Strategy<Value = PubdataOp> {
        prop_oneof![
            Just(PubdataOp::Noop),
            (id(), id(), token(), amount(), fee()).prop_map(|(from, to, token, amount, fee)| {
                PubdataOp::Transfer {
                    from,
                    to,
                    token,
                    amount,
                    fee,
                }
            }),
            (id(), id(), token(), amount(), fee(), address()).prop_map(
                |(from, to, token, amount, fee, to_address)| PubdataOp::TransferToNew {
                    from,
                    to,
                    token,
                    amount,
                    fee,
                    to_address
                }
            ),
            (id(), token(), balance(), fee(), address()).prop_map(
                |(from, token, amount, fee, to)| PubdataOp::Withdraw {
                    from,
                    token,
                    amount,
                    fee,
                    to
                }
            ),
            (id(), token(), balance(), address()).prop_map(|(account, token, amount, address)| {
                PubdataOp::Deposit {
                    account,
                    token,
                    amount,
                    address,
                }
            }),
            (id(), token(), balance(), address()).prop_map(|(account, token, amount, owner)| {
                PubdataOp::FullExit {
                    account,
                    token,
                    amount,
                    owner,
                }
            }),
            (
                id(),
                any::<bool>(),
                any::<[u8; 32]>(),
                any::<u32>(),
                token(),
                fee(),
                address()
            )
                .prop_map(|(account, onchain, pk, nonce, fee_token, fee, address)| {
                    PubdataOp::ChangePubKey {
                        account,
                        auth: if onchain {
                            AuthKind::Onchain
                        } else {
                            AuthKind::EthSignature
                        },
                        pubkey: PackedPoint(pk),
                        nonce,
                        fee_token,
                        fee,
                        address,
                    }
                }),
        ]
    }

    #[test]
    fn transfer_is_one_chunk_of_14_bytes() {
        let op = PubdataOp::Transfer {
            from: AccountId::new(AccountId::MAX).unwrap(),
            to: AccountId::new(1).unwrap(),
            token: TokenId::new(TokenId::MAX).unwrap(),
            amount: PackedAmount::round_down(MAX_BALANCE),
            fee: PackedFee::round_down(MAX_BALANCE),
        };
        let bytes = encode(std::slice::from_ref(&op));
        assert_eq!(bytes.len(), 14);
        assert_eq!(bytes[0] >> 4, OpKind::Transfer as u8);
        assert_eq!(decode(&bytes).unwrap(), vec![op]);
    }

    #[test]
    fn rejects_malformed_input() {
        assert_eq!(decode(&[0u8; 13]), Err(CodecError::PartialChunk(13)));
        let mut bad_tag = [0u8; 14];
        bad_tag[0] = 0xf0;
        assert_eq!(
            decode(&bad_tag),
            Err(CodecError::UnknownTag { tag: 15, offset: 0 })
        );
        let mut truncated = [0u8; 14];
        truncated[0] = (OpKind::Deposit as u8) << 4;
        assert!(matches!(
            decode(&truncated),
            Err(CodecError::Truncated { .. })
        ));
        let mut padded = [0u8; 14];
        padded[13] = 1;
        assert_eq!(
            decode(&padded),
            Err(CodecError::NonZeroPadding { offset: 0 })
        );
        // A transfer whose packed amount is mantissa 2^30-1 at exponent 31: beyond 2^112.
        let mut huge = encode(&[PubdataOp::Transfer {
            from: AccountId::default(),
            to: AccountId::default(),
            token: TokenId::default(),
            amount: PackedAmount::pack(0).unwrap(),
            fee: PackedFee::pack(0).unwrap(),
        }]);
        // amount occupies bits 62..97 of the chunk.
        for bit in 62..97 {
            huge[bit / 8] |= 0x80 >> (bit % 8);
        }
        assert!(matches!(decode(&huge), Err(CodecError::Amount { .. })));
    }

    proptest! {
        #[test]
        fn round_trip(ops in proptest::collection::vec(op(), 0..20)) {
            let bytes = encode(&ops);
            prop_assert_eq!(bytes.len() % CHUNK_BYTES, 0);
            prop_assert_eq!(decode(&bytes).unwrap(), ops);
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            // Whatever decodes must re-encode to the same bytes: the encoding is canonical.
            if let Ok(ops) = decode(&bytes) {
                prop_assert_eq!(encode(&ops), bytes);
            }
        }

        #[test]
        fn decode_never_panics_on_valid_prefixes(
            ops in proptest::collection::vec(op(), 1..5),
            cut in 0usize..200,
            flip in 0usize..1600,
        ) {
            let mut bytes = encode(&ops);
            let bit = flip % (bytes.len() * 8);
            bytes[bit / 8] ^= 0x80 >> (bit % 8);
            bytes.truncate(cut.min(bytes.len()));
            let _ = decode(&bytes);
        }
    }
}
