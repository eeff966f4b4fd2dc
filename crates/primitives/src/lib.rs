//! Causeway's vocabulary: the types every other crate speaks.
//!
//! This crate owns account and token ids and their bounds, balances and the packed (floating)
//! amount formats used in pubdata, the ops a block carries, the exact field elements and bytes
//! a user signs, and the pubdata codec. It does no IO and no hashing beyond Keccak-256 (the
//! Ethereum-side ChangePubKey message); Poseidon and EdDSA live in `causeway-crypto`.
//!
//! Invariants kept here:
//! - An [`AccountId`] is below 2^24 and a [`TokenId`] below 2^10; the constructors refuse more.
//! - A [`Balance`] is at most [`MAX_BALANCE`] (2^112 - 1); arithmetic on balances goes through
//!   checked helpers and never wraps.
//! - Every signed message binds a [`Domain`] (chain id and rollup contract address).
//! - [`pubdata::encode`] and [`pubdata::decode`] are inverse on every op the stf can emit, and
//!   the decoder never panics on any input.

mod amount;
mod field;
mod ids;
mod op;
pub mod pubdata;

pub use alloy_primitives::{Address, B256};
pub use amount::{
    AMOUNT_EXP_BITS, AMOUNT_MANTISSA_BITS, Balance, FEE_EXP_BITS, FEE_MANTISSA_BITS, MAX_BALANCE,
    PackError, PackedAmount, PackedFee, checked_add, checked_sub,
};
pub use field::{Fr, address_to_fr, fr_from_be_bytes, fr_to_be_bytes, u128_to_fr};
pub use ids::{AccountId, IdError, Nonce, TokenId};
pub use op::{
    ChangePubKey, ChangePubKeyAuth, Deposit, Domain, FullExit, Op, OpKind, PackedPoint, Transfer,
    TxSignature, Withdraw, change_pubkey_eth_message, eth_signed_message_hash,
};
