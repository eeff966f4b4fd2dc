//! The L1 submitter: sealed blocks become committed, proven and executed L1 batches.
//!
//! Each L2 block is one L1 batch with the same number. The submitter reads how far the
//! contract got (its three counters) and takes the next step, oldest first:
//!
//! 1. **commit** the sealed blocks L1 does not have yet (up to `max_per_tx` per transaction);
//! 2. **prove** the committed batches whose proofs the prover queue holds, in order;
//! 3. **execute** the proven ones, passing their withdrawals.
//!
//! A step with fewer than `max_per_tx` batches ready may wait up to `group_wait` for more
//! ([`hold`]): batches sent together share a transaction's fixed gas, and proofs sent
//! together share one pairing check. Waiting never reorders anything; it only delays.
//!
//! Invariants:
//! - **L1 is the truth about L1.** Every round starts from the contract's counters, so a
//!   transaction lost to a crash, an L1 restart or a reorg is simply sent again, and one that
//!   landed is never sent twice (the contract would refuse it anyway).
//! - **A proof is sent only for its batch.** A proof record's commitment must equal the
//!   committed batch's `commitment`; a mismatch (a proof of a block built before a crash and
//!   never committed) is discarded, never sent.
//! - Transactions go through one [`TxSender`] (nonces, fee bumps, retries, L1 restarts).

use crate::NodeFatal;
use crate::sequencer::SequencerHandle;
use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, Bytes};
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::SolCall;
use causeway_bindings::BatchChain::{CommitInfo, StoredBatch};
use causeway_bindings::ZkRollup;
use causeway_circuit::export::proof_to_evm;
use causeway_l1::batch::{field_word, proof_words, root_word, withdrawals};
pub use causeway_l1::rollup::BatchTxs;
use causeway_l1::rollup::{BatchCounters, batch_counters, batch_txs, committed_in, stored_batch};
use causeway_l1::send::{SendError, TxSender};
use causeway_primitives::{ChangePubKeyAuth, Op};
use causeway_prover::JobQueue;
use causeway_storage::BlockRecord;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How far L1 got, for the RPC.
#[derive(Debug, Default)]
pub struct L1Progress {
    pub committed: AtomicU64,
    pub proven: AtomicU64,
    pub executed: AtomicU64,
    /// Each batch's L1 transactions: recovered from the contract's events when the submitter
    /// starts, then recorded as it sends them.
    pub txs: Mutex<BTreeMap<u64, BatchTxs>>,
}

impl L1Progress {
    fn store(&self, c: BatchCounters) {
        self.committed.store(c.committed, Ordering::Relaxed);
        self.proven.store(c.proven, Ordering::Relaxed);
        self.executed.store(c.executed, Ordering::Relaxed);
    }

    fn record(&self, numbers: impl IntoIterator<Item = u64>, f: impl Fn(&mut BatchTxs)) {
        let mut txs = self.txs.lock().unwrap_or_else(|e| e.into_inner());
        for n in numbers {
            f(txs.entry(n).or_default());
        }
    }

    pub fn txs_of(&self, number: u64) -> BatchTxs {
        let txs = self.txs.lock().unwrap_or_else(|e| e.into_inner());
        txs.get(&number).copied().unwrap_or_default()
    }
}

/// Blocks per `eth_getLogs` when recovering earlier batches' transactions (providers cap the
/// range; 10,000 is within the common limits).
const RECOVERY_LOG_RANGE: u64 = 10_000;

/// The submitter's settings.
#[derive(Debug, Clone)]
pub struct SettleConfig {
    pub rollup: Address,
    pub deploy_block: u64,
    pub max_per_tx: usize,
    /// How long a step with fewer than `max_per_tx` batches ready waits for more.
    pub group_wait: Duration,
    pub poll: Duration,
}

/// The three steps, as indexes of [`Submitter::clocks`].
const COMMIT: usize = 0;
const PROVE: usize = 1;
const EXECUTE: usize = 2;

/// Whether a step with `ready` batches (at least one) waits for more: it has fewer than a
/// full transaction's `max`, and the first of them has been ready for less than `wait`.
pub fn hold(ready: usize, max: usize, waited: Duration, wait: Duration) -> bool {
    ready < max && waited < wait
}

/// Since when a step has had batches to send: [`hold`] measured from the first round that
/// saw one ready.
#[derive(Debug, Default, Clone, Copy)]
pub struct GroupClock {
    since: Option<Instant>,
}

impl GroupClock {
    /// Whether the step, with `ready` batches at `now`, waits for more. With nothing ready it
    /// waits, and the clock stops: batches sent by someone else or undone by a reorg leave no
    /// stale start behind, so a group that forms later waits its full time.
    pub fn hold(&mut self, ready: u64, max: usize, wait: Duration, now: Instant) -> bool {
        if ready == 0 {
            self.since = None;
            return true;
        }
        let since = *self.since.get_or_insert(now);
        let ready = usize::try_from(ready).unwrap_or(usize::MAX);
        hold(ready, max, now.saturating_duration_since(since), wait)
    }

    /// The step sent its batches: the next ones start a new wait.
    pub fn sent(&mut self) {
        self.since = None;
    }
}

/// The submitter; see the module docs.
pub struct Submitter {
    cfg: SettleConfig,
    sender: TxSender,
    queue: JobQueue,
    sequencer: SequencerHandle,
    progress: std::sync::Arc<L1Progress>,
    /// `StoredBatch`es of committed batches, as the contract emitted them.
    stored: BTreeMap<u64, StoredBatch>,
    /// Per step, since when it has had something to send.
    clocks: [GroupClock; 3],
}

/// What one round did.
enum Step {
    Sent,
    Idle,
}

impl Submitter {
    pub fn new(
        cfg: SettleConfig,
        sender: TxSender,
        queue: JobQueue,
        sequencer: SequencerHandle,
        progress: std::sync::Arc<L1Progress>,
    ) -> Self {
        Self {
            cfg,
            sender,
            queue,
            sequencer,
            progress,
            stored: BTreeMap::new(),
            clocks: [GroupClock::default(); 3],
        }
    }

    /// Runs rounds until a fatal error; transient L1 failures are retried.
    pub async fn run(mut self) -> Result<(), NodeFatal> {
        self.recover_txs().await;
        loop {
            match self.round().await {
                Ok(Step::Sent) => continue,
                Ok(Step::Idle) => tokio::time::sleep(self.cfg.poll).await,
                Err(Failure::Transient(e)) => {
                    tracing::warn!(error = %e, "L1 submission failed; retrying");
                    tokio::time::sleep(self.cfg.poll).await;
                }
                Err(Failure::Fatal(e)) => return Err(e),
            }
        }
    }

    /// Fills in the L1 transactions of the batches settled before this node started, from the
    /// contract's events. They are only reported (op status), never acted on, so a failure is
    /// logged and settlement goes on.
    async fn recover_txs(&self) {
        let found = batch_txs(
            self.sender.provider(),
            self.cfg.rollup,
            self.cfg.deploy_block,
            RECOVERY_LOG_RANGE,
        )
        .await;
        match found {
            Ok(found) => {
                let mut txs = self.progress.txs.lock().unwrap_or_else(|e| e.into_inner());
                for (number, t) in found {
                    let known = txs.entry(number).or_default();
                    known.commit = known.commit.or(t.commit);
                    known.prove = known.prove.or(t.prove);
                    known.execute = known.execute.or(t.execute);
                }
            }
            Err(e) => tracing::warn!(error = %e, "earlier batches' L1 transactions not recovered"),
        }
    }

    async fn round(&mut self) -> Result<Step, Failure> {
        let counters = batch_counters(self.sender.provider(), self.cfg.rollup)
            .await
            .map_err(Failure::transient)?;
        self.progress.store(counters);
        // Forget batches L1 no longer has (a revert or a reorg).
        self.stored.retain(|n, _| *n <= counters.committed);
        let sealed = self.sequencer.progress.latest_block.load(Ordering::Relaxed);
        if !self.wait(COMMIT, sealed.saturating_sub(counters.committed)) {
            return self.commit(counters.committed, sealed).await;
        }
        if self.prove(counters).await? {
            return Ok(Step::Sent);
        }
        if !self.wait(EXECUTE, counters.proven.saturating_sub(counters.executed)) {
            return self.execute(counters).await;
        }
        Ok(Step::Idle)
    }

    /// Whether `step`, with `ready` batches to send, waits for more ([`GroupClock::hold`]).
    fn wait(&mut self, step: usize, ready: u64) -> bool {
        self.clocks[step].hold(
            ready,
            self.cfg.max_per_tx,
            self.cfg.group_wait,
            Instant::now(),
        )
    }

    async fn commit(&mut self, committed: u64, sealed: u64) -> Result<Step, Failure> {
        let last = self.stored(committed).await?;
        let to = sealed.min(committed + self.cfg.max_per_tx as u64);
        let mut infos = Vec::new();
        for n in committed + 1..=to {
            infos.push(commit_info(&self.block(n).await?));
        }
        let call = ZkRollup::commitBatchesCall {
            last,
            batches: infos,
        };
        let receipt = self.send(call.abi_encode()).await?;
        self.clocks[COMMIT].sent();
        for batch in committed_in(&receipt) {
            self.stored.insert(batch.number, batch);
        }
        let hash = receipt.transaction_hash;
        self.progress
            .record(committed + 1..=to, |t| t.commit = Some(hash));
        tracing::info!(from = committed + 1, to, tx = %hash, "batches committed");
        Ok(Step::Sent)
    }

    /// Proves the next batches whose proofs are ready; `false` when none is sent.
    async fn prove(&mut self, c: BatchCounters) -> Result<bool, Failure> {
        let to = c.committed.min(c.proven + self.cfg.max_per_tx as u64);
        // Counted by the proof files' presence: a step that waits for a fuller group does not
        // read and decode its proofs every poll.
        let ready = (c.proven + 1..=to)
            .take_while(|&n| self.queue.proof_path(n).exists())
            .count();
        if self.wait(PROVE, ready as u64) {
            return Ok(false);
        }
        let mut batches = Vec::new();
        let mut proofs = Vec::new();
        for n in c.proven + 1..=c.proven + ready as u64 {
            let Some(record) = self.queue.proof(n).map_err(Failure::fatal)? else {
                break;
            };
            let stored = self.stored(n).await?;
            if field_word(&record.commitment) != stored.commitment {
                tracing::error!(batch = n, "a proof of another statement; discarded");
                self.queue.discard_above(n - 1).map_err(Failure::fatal)?;
                return Err(Failure::Fatal(NodeFatal::L1(format!(
                    "the proof of batch {n} is not for the committed batch: it must be \
                     proven again"
                ))));
            }
            proofs.push(proof_words(&proof_to_evm(&record.proof)));
            batches.push(stored);
        }
        if batches.is_empty() {
            return Ok(false);
        }
        let from = batches[0].number;
        let to = from + batches.len() as u64 - 1;
        let call = ZkRollup::proveBatchesCall { batches, proofs };
        let receipt = self.send(call.abi_encode()).await?;
        self.clocks[PROVE].sent();
        let hash = receipt.transaction_hash;
        self.progress.record(from..=to, |t| t.prove = Some(hash));
        tracing::info!(from, to, tx = %hash, "batches proven");
        Ok(true)
    }

    async fn execute(&mut self, c: BatchCounters) -> Result<Step, Failure> {
        let to = c.proven.min(c.executed + self.cfg.max_per_tx as u64);
        let mut batches = Vec::new();
        let mut lists = Vec::new();
        for n in c.executed + 1..=to {
            batches.push(self.stored(n).await?);
            let block = self.block(n).await?;
            lists.push(withdrawals(&block.pubdata).map_err(|e| {
                Failure::Fatal(NodeFatal::L1(format!("pubdata of block {n}: {e}")))
            })?);
        }
        let call = ZkRollup::executeBatchesCall {
            batches,
            withdrawals: lists,
        };
        let receipt = self.send(call.abi_encode()).await?;
        self.clocks[EXECUTE].sent();
        let hash = receipt.transaction_hash;
        self.progress
            .record(c.executed + 1..=to, |t| t.execute = Some(hash));
        tracing::info!(from = c.executed + 1, to, tx = %hash, "batches executed");
        Ok(Step::Sent)
    }

    async fn send(
        &mut self,
        input: Vec<u8>,
    ) -> Result<alloy::rpc::types::TransactionReceipt, Failure> {
        let tx = TransactionRequest::default()
            .with_to(self.cfg.rollup)
            .with_input(Bytes::from(input));
        self.sender.send(tx).await.map_err(|e| match e {
            // A revert means L1 moved under us (another submitter, a reorg): re-read and
            // decide again. Persistent reverts show in the logs every round.
            SendError::Reverted { .. } | SendError::Unreachable { .. } | SendError::Rpc { .. } => {
                Failure::transient(e)
            }
            other => Failure::Fatal(NodeFatal::l1(other)),
        })
    }

    async fn stored(&mut self, number: u64) -> Result<StoredBatch, Failure> {
        if let Some(b) = self.stored.get(&number) {
            return Ok(b.clone());
        }
        let b = stored_batch(
            self.sender.provider(),
            self.cfg.rollup,
            number,
            self.cfg.deploy_block,
        )
        .await
        .map_err(Failure::transient)?;
        self.stored.insert(number, b.clone());
        Ok(b)
    }

    async fn block(&self, number: u64) -> Result<BlockRecord, Failure> {
        let read = self
            .sequencer
            .query(move |soft| soft.db.block(number))
            .await
            .map_err(|e| Failure::Fatal(NodeFatal::L1(e.to_string())))?;
        match read {
            Ok(Some(b)) => Ok(b),
            Ok(None) => Err(Failure::Fatal(NodeFatal::L1(format!(
                "block {number} is not in the database"
            )))),
            Err(e) => Err(Failure::Fatal(NodeFatal::Storage(e))),
        }
    }
}

/// A round's failure: retried, or the end of the submitter.
enum Failure {
    Transient(String),
    Fatal(NodeFatal),
}

impl Failure {
    fn transient(e: impl std::fmt::Display) -> Self {
        Self::Transient(e.to_string())
    }

    fn fatal(e: causeway_prover::ProverError) -> Self {
        Self::Fatal(NodeFatal::Prover(e))
    }
}

/// A committed block as `commitBatches` takes it: its pubdata unpadded and one ECDSA
/// signature per ChangePubKey authorized by signature, in order.
pub fn commit_info(block: &BlockRecord) -> CommitInfo {
    let change_pubkey_signatures = block
        .ops
        .iter()
        .filter_map(|op| match op {
            Op::ChangePubKey(c) => match &c.auth {
                ChangePubKeyAuth::EthSignature(sig) => Some(Bytes::copy_from_slice(sig)),
                ChangePubKeyAuth::Onchain => None,
            },
            _ => None,
        })
        .collect();
    CommitInfo {
        newRoot: root_word(&block.new_root),
        newAccountCount: block.account_count,
        feeAccount: block.fee_account.get(),
        pubdata: block.pubdata.clone().into(),
        changePubkeySignatures: change_pubkey_signatures,
    }
}

#[cfg(test)]
mod tests {
    use super::{GroupClock, hold};
    use std::time::{Duration, Instant};

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn no_wait_configured_sends_at_once() {
        assert!(!hold(1, 8, Duration::ZERO, Duration::ZERO));
    }

    #[test]
    fn a_partial_group_waits_until_its_first_batch_waited_long_enough() {
        assert!(hold(1, 8, Duration::ZERO, 30 * S));
        assert!(hold(7, 8, 29 * S, 30 * S));
        assert!(!hold(7, 8, 30 * S, 30 * S));
        assert!(!hold(1, 8, 31 * S, 30 * S));
    }

    #[test]
    fn a_full_group_never_waits() {
        assert!(!hold(8, 8, Duration::ZERO, 30 * S));
        assert!(!hold(9, 8, Duration::ZERO, 30 * S));
    }

    #[test]
    fn a_group_that_emptied_waits_its_full_time_when_it_forms_again() {
        let t0 = Instant::now();
        let mut clock = GroupClock::default();
        assert!(clock.hold(1, 8, 10 * S, t0));
        // Someone else sent the batch (or a reorg undid it): nothing is ready.
        assert!(clock.hold(0, 8, 10 * S, t0 + 5 * S));
        // A new batch 12 s after the first one waits from now, not from t0.
        assert!(clock.hold(1, 8, 10 * S, t0 + 12 * S));
        assert!(clock.hold(2, 8, 10 * S, t0 + 21 * S));
        assert!(!clock.hold(2, 8, 10 * S, t0 + 22 * S));
        // After a send, the next group starts its own wait.
        clock.sent();
        assert!(clock.hold(1, 8, 10 * S, t0 + 23 * S));
        assert!(!clock.hold(8, 8, 10 * S, t0 + 23 * S));
    }
}
