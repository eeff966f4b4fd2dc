//! Causeway's side of the L1 contracts (`contracts/src`, bound by `causeway-bindings`).
//!
//! - [`batch`]: the translation between the stf's sealed blocks and the contract's batch calls
//!   (the `CommitInfo` a block is committed with, the withdrawals its execution credits, the
//!   proof words). Pure functions over the bindings' types.
//! - [`watch`]: following the rollup contract's events (deposits, full exits, token listings,
//!   on-chain key authorizations, batch progress) with confirmations and reorg handling.
//! - [`send`]: sending the operator's transactions (nonces, EIP-1559 fees and bumping,
//!   retries across L1 outages, typed reverts).
//! - [`rollup`]: reading the contract's batch counters and a committed batch's `StoredBatch`.
//! - [`exodus`]: the last executed state rebuilt from L1 data alone (commit calldata replayed
//!   through the stf), exit proofs against it, deposits still reclaimable: what `causeway exit`
//!   runs when the operator is gone.
//!
//! Errors: each module has its own enum, which keeps infrastructure failures (the L1 node is
//! unreachable or answered inconsistently: retry) apart from [`BadL1Data`] (the L1 node or the
//! contract produced something the node must not build on: stop).

use alloy::primitives::B256;
use causeway_primitives::IdError;

pub mod batch;
pub mod exodus;
mod logs;
pub mod rollup;
pub mod send;
pub mod watch;

/// L1 data that contradicts what the contract guarantees. Never transient: polling again
/// returns the same data, so a node that meets one stops rather than building on it.
#[derive(Debug, thiserror::Error)]
pub enum BadL1Data {
    #[error("undecodable {event} log (block {block}, tx {tx_hash}, index {log_index}): {source}")]
    Malformed {
        event: &'static str,
        block: u64,
        tx_hash: B256,
        log_index: u64,
        // Boxed: the decoder's error is large, and every poll result carries this type.
        #[source]
        source: Box<alloy::sol_types::Error>,
    },
    #[error("a log of the L1 node lacks its {missing}")]
    Incomplete { missing: &'static str },
    #[error("{event} log (block {block}, tx {tx_hash}): {source}")]
    IdOutOfRange {
        event: &'static str,
        block: u64,
        tx_hash: B256,
        #[source]
        source: IdError,
    },
    #[error("deposit {op_id} (block {block}) of {amount} exceeds the largest L2 balance")]
    AmountTooLarge {
        op_id: u64,
        block: u64,
        amount: u128,
    },
    #[error(
        "priority op {found} (block {block}) where {expected} was next: the queue skipped or repeated an id"
    )]
    PriorityGap {
        expected: u64,
        found: u64,
        block: u64,
    },
}
