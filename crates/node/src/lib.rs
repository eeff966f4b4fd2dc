//! The Causeway node: everything between users, the pure core, and L1.
//!
//! - [`sequencer`]: the mempool, the soft state and block sealing, on one thread that owns
//!   the database;
//! - [`service`]: the node as the JSON-RPC server sees it ([`causeway_rpc::api::NodeApi`]);
//! - [`settle`]: the L1 submitter, which commits, proves and executes sealed blocks as L1
//!   batches;
//! - [`follow`]: the L1 watcher loop, which feeds confirmed deposits and full exits to the
//!   sequencer;
//! - [`run`]: assembling the node from its [`config::NodeConfig`];
//! - [`devnet`]: a whole deployment on a local anvil, for development and end-to-end tests.
//!
//! Errors: a user's refused op is a [`causeway_rpc::api::NodeError`] answered over RPC; a
//! failure that leaves the node unable to go on safely is a [`NodeFatal`], after which it
//! stops (and on restart, the database and L1 are the truth).

pub mod config;
pub mod devnet;
pub mod follow;
pub mod priority;
pub mod run;
pub mod sequencer;
pub mod service;
pub mod settle;
pub mod witness;

/// A failure after which the node stops.
#[derive(Debug, thiserror::Error)]
pub enum NodeFatal {
    #[error("storage: {0}")]
    Storage(#[from] causeway_storage::StorageError),
    #[error("prover queue: {0}")]
    Prover(#[from] causeway_prover::ProverError),
    #[error("journal entry {0} no longer applies after a restart: {1}")]
    Replay(u64, String),
    #[error("sealing a block: {0}")]
    Seal(String),
    #[error("L1: {0}")]
    L1(String),
    #[error("configuration: {0}")]
    Config(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl NodeFatal {
    pub(crate) fn storage(e: causeway_storage::StorageError) -> Self {
        Self::Storage(e)
    }

    pub(crate) fn prover(e: causeway_prover::ProverError) -> Self {
        Self::Prover(e)
    }

    pub(crate) fn l1(e: impl std::fmt::Display) -> Self {
        Self::L1(e.to_string())
    }
}
