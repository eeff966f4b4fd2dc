//! Causeway's side of the L1 contracts (`contracts/src`, bound by `causeway-bindings`).
//!
//! Owns the translation between the stf's sealed blocks and the contract's batch calls
//! ([`batch`]): the `CommitInfo` a block is committed with, the withdrawals its execution
//! credits, and the proof words. Pure functions over the bindings' types; sending them (nonces,
//! fees, retries) and watching L1 are the submitter's and watcher's jobs.

pub mod batch;
