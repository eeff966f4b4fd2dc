//! The crate's one error type.

use causeway_primitives::Fr;

/// Everything that can go wrong opening, reading or writing the database.
///
/// Refusals of a write ([`BlockOutOfOrder`](Self::BlockOutOfOrder),
/// [`OldRootMismatch`](Self::OldRootMismatch), [`InvalidBlock`](Self::InvalidBlock),
/// [`BatchOutOfOrder`](Self::BatchOutOfOrder), [`InvalidBatch`](Self::InvalidBatch)) are raised
/// before anything is written and leave the database unchanged. [`Corrupt`](Self::Corrupt),
/// [`RootMismatch`](Self::RootMismatch) and [`UnsupportedVersion`](Self::UnsupportedVersion)
/// mean the file cannot be trusted.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// redb failed: IO, locking (the file is open elsewhere), or redb's own corruption checks.
    #[error("database: {0}")]
    Db(Box<redb::Error>),

    /// A record that does not decode or is out of range.
    #[error("corrupt record in table `{table}` at key {key}: {reason}")]
    Corrupt {
        table: &'static str,
        key: String,
        reason: String,
    },

    /// The roots recorded for the latest block disagree with each other or with the tree.
    #[error("state root mismatch at block {block:?}: recorded {recorded}, tree holds {tree}")]
    RootMismatch {
        block: Option<u64>,
        recorded: Fr,
        tree: Fr,
    },

    #[error("file format version {found}, this build reads version {supported}")]
    UnsupportedVersion { found: u32, supported: u32 },

    #[error("block {got} committed out of order: expected block {expected}")]
    BlockOutOfOrder { expected: u64, got: u64 },

    #[error("diff starts from root {diff}, but the current state root is {current}")]
    OldRootMismatch { current: Fr, diff: Fr },

    /// A block and its diff that do not fit together or do not fit the state.
    #[error("invalid block: {0}")]
    InvalidBlock(String),

    #[error("batch {got} stored out of order: expected batch {expected}")]
    BatchOutOfOrder { expected: u64, got: u64 },

    #[error("invalid batch: {0}")]
    InvalidBatch(String),

    /// An earlier commit failed inside redb, so whether it reached the disk is unknown.
    #[error("an earlier commit failed; reopen the database to learn what was persisted")]
    Poisoned,
}

impl From<redb::Error> for StorageError {
    fn from(e: redb::Error) -> Self {
        StorageError::Db(Box::new(e))
    }
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StorageError {
            fn from(e: $t) -> Self {
                StorageError::Db(Box::new(e.into()))
            }
        }
    )*};
}

from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError
);
