//! Reading the rollup contract's batch chain: how far it got, and a committed batch's
//! `StoredBatch`, which every later call on it (`commitBatches` on top of it, `proveBatches`,
//! `executeBatches`) must pass back verbatim. The contract keeps only its hash, so after a
//! restart the submitter recovers it from the `BatchCommitted` event.
//!
//! [`batch_txs`] recovers from the same events which L1 transactions committed, proved and
//! executed each batch, so that a restarted node can still report them.
//!
//! Invariants:
//! - [`stored_batch`] returns a `StoredBatch` whose hash is the contract's current
//!   `batchHashes[number]`, never one of an earlier commit of the same number that was
//!   reverted.
//! - [`batch_txs`] reads the events in chain order, so a batch reverted and committed again
//!   reports its live commit, and a reverted batch that was not committed again reports none.

use crate::logs::logs_in_ranges;
use alloy::primitives::{Address, B256, U256, keccak256};
use alloy::providers::Provider;
use alloy::rpc::types::{Filter, TransactionReceipt};
use alloy::sol_types::{SolEvent, SolValue};
use causeway_bindings::{BatchChain::StoredBatch, ZkRollup};
use std::collections::BTreeMap;

/// The L1 transactions that moved one batch, as far as L1 knows them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchTxs {
    pub commit: Option<B256>,
    pub prove: Option<B256>,
    pub execute: Option<B256>,
}

/// The contract's batch counters (`batchesExecuted <= batchesProven <= batchesCommitted`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchCounters {
    pub committed: u64,
    pub proven: u64,
    pub executed: u64,
}

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
pub enum RollupError {
    /// The L1 node could not be reached or the call failed (infrastructure: retry).
    #[error("L1 call {what}: {source}")]
    Call {
        what: &'static str,
        #[source]
        source: alloy::contract::Error,
    },
    /// A JSON-RPC request other than a contract call failed (infrastructure: retry).
    #[error("L1 {what}: {source}")]
    Rpc {
        what: &'static str,
        #[source]
        source: alloy::transports::TransportError,
    },
    /// Batch `number` is not (or no longer) committed.
    #[error("batch {number} is not committed (the contract has {committed})")]
    NotCommitted { number: u64, committed: u64 },
    /// No `BatchCommitted` event from `from_block` on matches the contract's hash of batch
    /// `number`: `from_block` is too late, or the L1 node lost logs.
    #[error("no BatchCommitted event for batch {number} matches its stored hash {hash}")]
    NotFound { number: u64, hash: B256 },
}

/// `batchesCommitted`, `batchesProven` and `batchesExecuted`, read at the latest block (three
/// calls: a batch may land between them, so only each counter is exact, not their relation).
pub async fn batch_counters<P: Provider>(
    l1: &P,
    rollup: Address,
) -> Result<BatchCounters, RollupError> {
    let contract = ZkRollup::new(rollup, l1);
    let call = |what| move |source| RollupError::Call { what, source };
    Ok(BatchCounters {
        committed: contract
            .batchesCommitted()
            .call()
            .await
            .map_err(call("batchesCommitted"))?,
        proven: contract
            .batchesProven()
            .call()
            .await
            .map_err(call("batchesProven"))?,
        executed: contract
            .batchesExecuted()
            .call()
            .await
            .map_err(call("batchesExecuted"))?,
    })
}

/// The `StoredBatch` of committed batch `number` (0 is genesis), from the `BatchCommitted`
/// events at or after `from_block` (the contract's deployment block; providers may limit
/// the range of one `eth_getLogs`, though a query by indexed number is usually allowed).
pub async fn stored_batch<P: Provider>(
    l1: &P,
    rollup: Address,
    number: u64,
    from_block: u64,
) -> Result<StoredBatch, RollupError> {
    let contract = ZkRollup::new(rollup, l1);
    let committed =
        contract
            .batchesCommitted()
            .call()
            .await
            .map_err(|source| RollupError::Call {
                what: "batchesCommitted",
                source,
            })?;
    if number > committed {
        return Err(RollupError::NotCommitted { number, committed });
    }
    let hash = contract
        .batchHashes(U256::from(number))
        .call()
        .await
        .map_err(|source| RollupError::Call {
            what: "batchHashes",
            source,
        })?;
    let events = contract
        .BatchCommitted_filter()
        .topic1(B256::from(U256::from(number)))
        .from_block(from_block)
        .query()
        .await
        .map_err(|source| RollupError::Call {
            what: "eth_getLogs(BatchCommitted)",
            source,
        })?;
    // A number committed, reverted and committed again has several events: the latest whose
    // hash is the stored one is the live batch (`hashBatch` is `keccak256(abi.encode(batch))`).
    events
        .into_iter()
        .rev()
        .map(|(event, _)| event.batch)
        .find(|batch| batch.number == number && keccak256(batch.abi_encode()) == hash)
        .ok_or(RollupError::NotFound { number, hash })
}

/// The `StoredBatch`es a `commitBatches` transaction committed, from its receipt's
/// `BatchCommitted` events, in order.
pub fn committed_in(receipt: &TransactionReceipt) -> Vec<StoredBatch> {
    receipt
        .inner
        .logs()
        .iter()
        .filter_map(|log| log.log_decode::<ZkRollup::BatchCommitted>().ok())
        .map(|log| log.inner.data.batch)
        .collect()
}

/// The transactions of every batch, from the contract's `BatchCommitted`, `BatchesProven`,
/// `BatchExecuted` and `BatchesReverted` events in blocks `from_block..=latest`, read at most
/// `log_range` blocks per `eth_getLogs` (providers cap the range). Events that do not decode
/// are skipped: they are not the contract's.
pub async fn batch_txs<P: Provider>(
    l1: &P,
    rollup: Address,
    from_block: u64,
    log_range: u64,
) -> Result<BTreeMap<u64, BatchTxs>, RollupError> {
    let latest = l1
        .get_block_number()
        .await
        .map_err(|source| RollupError::Rpc {
            what: "eth_blockNumber",
            source,
        })?;
    let filter = Filter::new().address(rollup).event_signature(vec![
        ZkRollup::BatchCommitted::SIGNATURE_HASH,
        ZkRollup::BatchesProven::SIGNATURE_HASH,
        ZkRollup::BatchExecuted::SIGNATURE_HASH,
        ZkRollup::BatchesReverted::SIGNATURE_HASH,
    ]);
    let logs = logs_in_ranges(l1, filter, from_block, latest, log_range, |_| {})
        .await
        .map_err(|source| RollupError::Rpc {
            what: "eth_getLogs(batch events)",
            source,
        })?;
    let mut txs = BTreeMap::<u64, BatchTxs>::new();
    for log in logs {
        let Some(tx) = log.transaction_hash else {
            continue;
        };
        if let Ok(e) = log.log_decode::<ZkRollup::BatchCommitted>() {
            txs.entry(e.inner.data.batch.number).or_default().commit = Some(tx);
        } else if let Ok(e) = log.log_decode::<ZkRollup::BatchesProven>() {
            for n in e.inner.data.fromNumber..=e.inner.data.toNumber {
                txs.entry(n).or_default().prove = Some(tx);
            }
        } else if let Ok(e) = log.log_decode::<ZkRollup::BatchExecuted>() {
            txs.entry(e.inner.data.number).or_default().execute = Some(tx);
        } else if let Ok(e) = log.log_decode::<ZkRollup::BatchesReverted>() {
            for n in e.inner.data.fromNumber..=e.inner.data.toNumber {
                txs.remove(&n);
            }
        }
    }
    Ok(txs)
}
