//! Why an op or a block was refused.
//!
//! [`OpError`] is the user's fault, reported back over RPC: the op is not included and the
//! state is untouched. [`BlockError`] refuses a whole block: a priority op that cannot apply
//! (the L1 contract is built so that it never happens), an op that fails while validating a
//! block someone else sealed, or pubdata that does not replay.

use causeway_crypto::eddsa::SignatureError;
use causeway_primitives::{AccountId, Address, Balance, Nonce, PackError, TokenId};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    #[error("invalid signature: {0}")]
    BadSignature(#[from] SignatureError),
    #[error("account {0} has not registered an L2 key (send a ChangePubKey first)")]
    NoPubKey(AccountId),
    #[error("signed by a key that is not account {0}'s L2 key")]
    WrongSigner(AccountId),
    #[error("account {0} does not exist")]
    AccountNotFound(AccountId),
    #[error("account {account} belongs to {actual}, not {claimed}")]
    AddressMismatch {
        account: AccountId,
        claimed: Address,
        actual: Address,
    },
    #[error("address {0} already has an account")]
    AddressTaken(Address),
    #[error("this block already collects fees in {limit} tokens; the op fits in a later block")]
    FeeTokensFull { limit: usize },
    #[error("account {0} has used every nonce")]
    NonceExhausted(AccountId),
    #[error("account {account} expects nonce {expected}, got {got}")]
    WrongNonce {
        account: AccountId,
        expected: Nonce,
        got: Nonce,
    },
    #[error("account {account} holds {balance} of token {token}, needs {needed}")]
    InsufficientBalance {
        account: AccountId,
        token: TokenId,
        balance: Balance,
        needed: Balance,
    },
    #[error("balance of token {token} in account {account} would exceed 2^112 - 1")]
    BalanceOverflow { account: AccountId, token: TokenId },
    #[error("amount {0} exceeds the maximum balance 2^112 - 1")]
    AmountTooLarge(Balance),
    #[error(transparent)]
    NotPackable(#[from] PackError),
    #[error("token {0} is not listed")]
    UnknownToken(TokenId),
    #[error("the zero address cannot receive funds")]
    ZeroRecipient,
    #[error("the account tree is full (2^24 accounts)")]
    AccountTreeFull,
    #[error("new L2 key is not a valid Baby Jubjub point of the prime-order subgroup")]
    BadPubKey,
    #[error("ChangePubKey Ethereum signature does not recover to the account's address")]
    BadEthSignature,
    #[error("ChangePubKey claims an on-chain authorization that L1 does not show")]
    NoOnchainAuth,
    #[error("full exit of amount {claimed} but account {account} holds {balance}")]
    WrongExitAmount {
        account: AccountId,
        claimed: Balance,
        balance: Balance,
    },
    #[error("new account id {got} but the next free id is {expected}")]
    WrongNewAccountId { expected: u32, got: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    #[error("op {index} is invalid: {error}")]
    InvalidOp { index: usize, error: OpError },
    #[error("fee account {0} does not exist at the end of the block")]
    NoFeeAccount(AccountId),
    #[error("collecting fees overflows the fee account's balance of token {0}")]
    FeeOverflow(TokenId),
    #[error("pubdata: {0}")]
    Pubdata(#[from] causeway_primitives::pubdata::CodecError),
    #[error("the block ran over a state of {expected} accounts but is sealed over one of {found}")]
    WrongBase { expected: u32, found: u32 },
}
