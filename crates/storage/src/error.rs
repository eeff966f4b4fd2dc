//! The crate's one error type.

use causeway_primitives::Fr;

/// Everything that can go wrong opening, reading or writing the database.
///
/// Refusals of a write ([`BlockOutOfOrder`](Self::BlockOutOfOrder),
/// [`OldRootMismatch`](Self::OldRootMismatch), [`InvalidBlock`](Self::InvalidBlock),
/// [`PriorityOutOfOrder`](Self::PriorityOutOfOrder), [`BatchOutOfOrder`](Self::BatchOutOfOrder),
/// [`InvalidBatch`](Self::InvalidBatch), [`JournalOutOfOrder`](Self::JournalOutOfOrder),
/// [`JournalEntryMissing`](Self::JournalEntryMissing), [`UnappliedBlock`](Self::UnappliedBlock),
/// [`ForeignWritten`](Self::ForeignWritten)) are raised before anything is written
/// (at worst inside a redb transaction that is then aborted) and leave the database unchanged. [`Corrupt`](Self::Corrupt),
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

    /// The block's priority ops (deposits and full exits) do not continue the L1 priority
    /// queue: the first must be [`Database::next_priority_op`](crate::Database::next_priority_op)
    /// and each next one the id after it.
    #[error("priority op {got} out of order: expected priority op {expected}")]
    PriorityOutOfOrder { expected: u64, got: u64 },

    #[error("batch {got} stored out of order: expected batch {expected}")]
    BatchOutOfOrder { expected: u64, got: u64 },

    #[error("invalid batch: {0}")]
    InvalidBatch(String),

    /// A journal sequence number below `next` (the next one allowed: sequence numbers strictly
    /// increase and are never reused, even once consumed) or equal to `u64::MAX`, which no
    /// sequence number could follow.
    #[error("journal sequence number {got} refused: the next one must be at least {next}")]
    JournalOutOfOrder { next: u64, got: u64 },

    /// A sequence number to consume or remove that is not in the journal (never appended,
    /// already consumed, or listed twice in one call).
    #[error("journal entry {seq} is not in the journal")]
    JournalEntryMissing { seq: u64 },

    /// A historical read ([`Database::balance_at`](crate::Database::balance_at),
    /// [`Database::nonce_at`](crate::Database::nonce_at)) of a block after the latest
    /// committed one (`None` before the first).
    #[error("block {block} is not committed: the latest block is {latest:?}")]
    BlockNotCommitted { block: u64, latest: Option<u64> },

    /// A historical read of a block before
    /// [`Database::history_from`](crate::Database::history_from): the file was upgraded from a
    /// version that kept no history, at block `from`.
    #[error("no state history for block {block}: the history starts at block {from}")]
    HistoryUnavailable { block: u64, from: u64 },

    /// An earlier commit failed inside redb, so whether it reached the disk is unknown.
    #[error("an earlier commit failed; reopen the database to learn what was persisted")]
    Poisoned,
    /// A block was written and not yet applied to the in-memory state, so the next one
    /// cannot be checked against it.
    #[error("the last written block is not applied yet")]
    UnappliedBlock,
    /// A written block handed to a database handle other than the one that wrote it.
    #[error("the written block belongs to another database handle")]
    ForeignWritten,
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
