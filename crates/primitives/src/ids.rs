//! Account and token ids, and their bounds.
//!
//! The account tree has room for 2^24 accounts and each account's balance tree for 2^10 tokens;
//! these bounds are what the pubdata codec and the circuit reserve bits for, so an id outside
//! them cannot be constructed.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Per-account transaction counter; every signed L2 op consumes exactly one.
pub type Nonce = u32;

/// An id that does not fit the bits reserved for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("account id {0} exceeds the maximum 2^24 - 1")]
    AccountIdTooLarge(u64),
    #[error("token id {0} exceeds the maximum 2^10 - 1")]
    TokenIdTooLarge(u64),
}

/// Index of an account in the account tree.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(try_from = "u32", into = "u32")]
pub struct AccountId(u32);

impl AccountId {
    pub const BITS: u32 = 24;
    pub const MAX: u32 = (1 << Self::BITS) - 1;

    pub fn new(id: u32) -> Result<Self, IdError> {
        if id > Self::MAX {
            return Err(IdError::AccountIdTooLarge(id.into()));
        }
        Ok(Self(id))
    }

    pub const fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for AccountId {
    type Error = IdError;
    fn try_from(v: u32) -> Result<Self, IdError> {
        Self::new(v)
    }
}

impl From<AccountId> for u32 {
    fn from(id: AccountId) -> u32 {
        id.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Index of a token in every account's balance tree. Token 0 is ETH.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(try_from = "u16", into = "u16")]
pub struct TokenId(u16);

impl TokenId {
    pub const BITS: u32 = 10;
    pub const MAX: u16 = (1 << Self::BITS) - 1;
    pub const ETH: TokenId = TokenId(0);

    pub fn new(id: u16) -> Result<Self, IdError> {
        if id > Self::MAX {
            return Err(IdError::TokenIdTooLarge(id.into()));
        }
        Ok(Self(id))
    }

    pub const fn get(self) -> u16 {
        self.0
    }
}

impl TryFrom<u16> for TokenId {
    type Error = IdError;
    fn try_from(v: u16) -> Result<Self, IdError> {
        Self::new(v)
    }
}

impl From<TokenId> for u16 {
    fn from(id: TokenId) -> u16 {
        id.0
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_enforced() {
        assert!(AccountId::new(AccountId::MAX).is_ok());
        assert_eq!(
            AccountId::new(1 << 24),
            Err(IdError::AccountIdTooLarge(1 << 24))
        );
        assert!(TokenId::new(1023).is_ok());
        assert_eq!(TokenId::new(1024), Err(IdError::TokenIdTooLarge(1024)));
    }
}
