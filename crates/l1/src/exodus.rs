//! Exodus from L1 data alone: the last executed state rebuilt from the pubdata the operator
//! committed, the Merkle proofs `exodusWithdraw` takes, and the deposits still reclaimable.
//!
//! What `causeway exit` runs, with nothing but an L1 JSON-RPC URL: no operator, no node, no
//! download besides the contract's own logs and commit transactions.
//!
//! 1. [`executed_chain`]: for every executed batch `1..=batchesExecuted`, the `StoredBatch` the
//!    contract holds (the latest `BatchCommitted` event whose hash is `batchHashes[n]`: a
//!    number committed, reverted and committed again has several events, as in
//!    [`crate::rollup::stored_batch`]), the transaction that committed it, and that batch's
//!    `CommitInfo` decoded from the transaction's `commitBatches` calldata (batch pubdata
//!    reaches L1 nowhere else). Logs are read in ranges of at most `log_range` blocks.
//! 2. [`rebuild`]: from the empty state, `causeway_stf::replay` of each batch's pubdata with
//!    its fee account, the diff applied, the new root and account count compared with the
//!    `StoredBatch`'s.
//! 3. [`exit_proof`]: a balance's path in the rebuilt state, as `exodusWithdraw` checks it
//!    against `executedRoot`.
//!
//! Invariants:
//! - Every [`ExecutedBatch`] is exactly what the contract committed: its `StoredBatch` hashes
//!   to the contract's `batchHashes[n]`, and its pubdata, fee account, new root and account
//!   count reproduce the `StoredBatch`'s commitment (`sha256(header ‖ pubdata ‖ padding) mod
//!   2^253`, computed here as `BatchChain.commitment` does) on top of the previous batch.
//!   So a lying or lossy L1 node yields an error, never a wrong state.
//! - [`rebuild`] returns a state only if every batch replays and lands on its committed root
//!   and account count; its root is then the root of the last executed batch.
//! - Nothing here panics on L1 data: every malformed input is an [`ExodusError`].

use std::collections::{HashMap, HashSet};

use alloy::primitives::{Address, B256, Bytes, FixedBytes, U256, keccak256};
use alloy::providers::Provider;
use alloy::rpc::types::{Filter, Log};
use alloy::sol_types::{SolCall, SolEvent, SolValue};
use alloy::transports::TransportError;
use causeway_bindings::BatchChain::{CommitInfo, StoredBatch};
use causeway_bindings::ZkRollup::{self, ExitProof};
use causeway_primitives::pubdata::CHUNK_BYTES;
use causeway_primitives::{AccountId, Fr, TokenId};
use causeway_stf::{BlockError, MemoryState, StateView};
use causeway_tree::{Poseidon, SparseMerkleTree};
use futures::{StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};

use crate::BadL1Data;
use crate::batch::{field_word, root_word};
use crate::logs::logs_in_ranges;
use crate::rollup::{RollupError, batch_counters};

/// Blocks per `eth_getLogs` request by default: what most hosted L1 endpoints allow.
pub const DEFAULT_LOG_RANGE: u64 = 10_000;

/// Reads in flight at once (`batchHashes` calls, transactions): enough to hide an endpoint's
/// latency, few enough not to hit its rate limit.
const CONCURRENT_READS: usize = 16;

/// Where the rollup's history is.
#[derive(Debug, Clone, Copy)]
pub struct Source {
    /// The rollup contract (`ZkRollup`).
    pub rollup: Address,
    /// Its deployment block (any earlier block works, more slowly): genesis is committed by
    /// the constructor, so a later block misses batch 0.
    pub from_block: u64,
    /// Blocks per `eth_getLogs` request; 0 is taken as 1.
    pub log_range: u64,
}

/// How far [`executed_chain`] and [`rebuild`] got, for progress lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// `BatchCommitted` logs read up to `block` of `head`.
    Logs { block: u64, head: u64 },
    /// The contract's hash of `done` of `total` batches read.
    Hashes { done: u64, total: u64 },
    /// `done` of `total` commit transactions fetched and decoded.
    Transactions { done: u64, total: u64 },
    /// Batch `batch` of `total` replayed.
    Replayed { batch: u64, total: u64 },
}

/// An executed batch as L1 committed it.
#[derive(Clone)]
pub struct ExecutedBatch {
    /// What the contract stores (its hash is `batchHashes[number]`).
    pub stored: StoredBatch,
    /// The account the batch's fees were credited to.
    pub fee_account: u32,
    /// The batch's ops, unpadded, as committed.
    pub pubdata: Bytes,
    /// The transaction that committed it.
    pub commit_tx: B256,
}

impl std::fmt::Debug for ExecutedBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecutedBatch")
            .field("number", &self.stored.number)
            .field("root", &self.stored.root)
            .field("fee_account", &self.fee_account)
            .field("pubdata_len", &self.pubdata.len())
            .field("commit_tx", &self.commit_tx)
            .finish()
    }
}

/// The executed part of the batch chain: genesis and batches `1..=n` in order.
#[derive(Clone)]
pub struct ExecutedChain {
    pub genesis: StoredBatch,
    pub batches: Vec<ExecutedBatch>,
}

/// Why the state could not be rebuilt or an exit prepared.
#[derive(Debug, thiserror::Error)]
pub enum ExodusError {
    // Contract errors are boxed: they are large, and every result of this module carries
    // this type.
    /// A contract read failed (infrastructure: retry).
    #[error(transparent)]
    Rollup(Box<RollupError>),
    #[error("L1 call {what}: {source}")]
    Call {
        what: &'static str,
        #[source]
        source: Box<alloy::contract::Error>,
    },
    /// An RPC request failed (infrastructure: retry).
    #[error("L1 RPC {what}: {source}")]
    Rpc {
        what: &'static str,
        #[source]
        source: TransportError,
    },
    #[error(transparent)]
    BadL1Data(#[from] BadL1Data),
    /// No `BatchCommitted` log from the start block on matches the contract's hash.
    #[error(
        "no BatchCommitted log for batch {number} matches its stored hash {hash} (is --from-block \
         after the rollup's deployment block?)"
    )]
    NoCommitLog { number: u64, hash: B256 },
    /// The L1 node has the log but not the transaction that emitted it.
    #[error("the L1 node does not know transaction {tx}, which committed batch {number}")]
    MissingTransaction { tx: B256, number: u64 },
    /// The transaction is not a direct `commitBatches` call to the rollup (a multisig or
    /// another contract called it): its calldata is not the batch's.
    #[error(
        "transaction {tx} committed batch {number} but is not a direct commitBatches call to the \
         rollup ({reason}); its pubdata cannot be read from its calldata"
    )]
    NotACommitCall {
        tx: B256,
        number: u64,
        reason: String,
    },
    /// The decoded call does not contain the batch the log says it committed.
    #[error("transaction {tx} does not commit batch {number} (it commits {first}..={last})")]
    BatchNotInCall {
        tx: B256,
        number: u64,
        first: u64,
        last: u64,
    },
    /// The calldata does not reproduce what the contract stored: the node served another
    /// transaction, or the data was altered.
    #[error("batch {number}: the calldata of {tx} does not match the committed batch ({what})")]
    CalldataMismatch {
        number: u64,
        tx: B256,
        what: &'static str,
    },
    /// The chain starts from a root that is not the empty state's.
    #[error("genesis root {found} is not the empty state's root {empty}")]
    GenesisRoot { found: B256, empty: B256 },
    /// Batches are not numbered `1, 2, ...` in order.
    #[error("batch {found} where batch {expected} was expected")]
    OutOfOrder { expected: u64, found: u64 },
    #[error("batch {number}: fee account {fee_account} is out of range")]
    FeeAccountOutOfRange { number: u64, fee_account: u32 },
    /// L1 finalized a batch that the stf refuses: the stf and the circuit disagree.
    #[error("batch {number} does not replay: {source}")]
    Replay {
        number: u64,
        #[source]
        source: BlockError,
    },
    #[error("batch {number}: replayed root {computed} but the batch committed {committed}")]
    RootMismatch {
        number: u64,
        computed: B256,
        committed: B256,
    },
    #[error(
        "batch {number}: replay ends with {computed} accounts but the batch committed {committed}"
    )]
    AccountCountMismatch {
        number: u64,
        computed: u32,
        committed: u32,
    },
    /// An exit proof was asked for an account the state does not have.
    #[error("account {0} does not exist in the rebuilt state")]
    NoAccount(AccountId),
    /// The tree's paths do not recompute the root: the state's nodes are inconsistent.
    #[error("the paths of account {account}, token {token} do not reach the state root")]
    InconsistentPaths { account: AccountId, token: TokenId },
}

fn rpc(what: &'static str) -> impl FnOnce(TransportError) -> ExodusError {
    move |source| ExodusError::Rpc { what, source }
}

fn call(what: &'static str) -> impl FnOnce(alloy::contract::Error) -> ExodusError {
    move |source| ExodusError::Call {
        what,
        source: Box::new(source),
    }
}

/// The contract's batch hash (`BatchChain.hashBatch`).
pub fn batch_hash(batch: &StoredBatch) -> B256 {
    keccak256(batch.abi_encode())
}

/// The block, transaction and index of a log, all of which logs of mined blocks carry.
fn located(log: &Log) -> Result<(u64, B256, u64), BadL1Data> {
    let missing = |missing| BadL1Data::Incomplete { missing };
    Ok((
        log.block_number.ok_or(missing("block number"))?,
        log.transaction_hash.ok_or(missing("transaction hash"))?,
        log.log_index.ok_or(missing("log index"))?,
    ))
}

/// `log` decoded as event `E` (named `event` in errors), with its transaction.
fn decoded<E: SolEvent>(log: &Log, event: &'static str) -> Result<(E, B256), BadL1Data> {
    let (block, tx, log_index) = located(log)?;
    let decoded = E::decode_log(&log.inner).map_err(|source| BadL1Data::Malformed {
        event,
        block,
        tx_hash: tx,
        log_index,
        source: Box::new(source),
    })?;
    Ok((decoded.data, tx))
}

/// A `BatchCommitted` log, decoded.
#[derive(Clone)]
struct CommitLog {
    batch: StoredBatch,
    fee_account: u32,
    tx: B256,
}

/// The executed batches of the rollup at `src`, each checked against the contract (see the
/// module docs). Reads the counters at the latest block; logs up to the block read after them.
pub async fn executed_chain<P: Provider>(
    l1: &P,
    src: &Source,
    progress: &mut dyn FnMut(Progress),
) -> Result<ExecutedChain, ExodusError> {
    let rollup = ZkRollup::new(src.rollup, l1);
    let executed = batch_counters(l1, src.rollup)
        .await
        .map_err(|e| ExodusError::Rollup(Box::new(e)))?
        .executed;
    // Read after the counters, so the logs cover every batch they count.
    let head = l1
        .get_block_number()
        .await
        .map_err(rpc("eth_blockNumber"))?;
    let chain_id = l1.get_chain_id().await.map_err(rpc("eth_chainId"))?;
    let batch_chunks = rollup
        .batchChunks()
        .call()
        .await
        .map_err(call("batchChunks"))?;

    let filter = Filter::new()
        .address(src.rollup)
        .event_signature(ZkRollup::BatchCommitted::SIGNATURE_HASH);
    let logs = logs_in_ranges(l1, filter, src.from_block, head, src.log_range, |block| {
        progress(Progress::Logs { block, head })
    })
    .await
    .map_err(rpc("eth_getLogs(BatchCommitted)"))?;
    let mut by_number: HashMap<u64, Vec<CommitLog>> = HashMap::new();
    for log in &logs {
        let (event, tx) = decoded::<ZkRollup::BatchCommitted>(log, "BatchCommitted")?;
        if event.number <= executed && event.batch.number == event.number {
            by_number.entry(event.number).or_default().push(CommitLog {
                batch: event.batch,
                fee_account: event.feeAccount,
                tx,
            });
        }
    }

    // The live commit of each number: the latest whose hash the contract holds.
    let numbers = 0..=executed;
    let total = executed + 1;
    let mut done = 0;
    let live: Vec<CommitLog> = futures::stream::iter(numbers)
        .map(|number| {
            let rollup = &rollup;
            let candidates = by_number.get(&number);
            async move {
                let hash = rollup
                    .batchHashes(U256::from(number))
                    .call()
                    .await
                    .map_err(call("batchHashes"))?;
                candidates
                    .and_then(|logs| logs.iter().rev().find(|log| batch_hash(&log.batch) == hash))
                    .cloned()
                    .ok_or(ExodusError::NoCommitLog { number, hash })
            }
        })
        .buffered(CONCURRENT_READS)
        .inspect(|_| {
            done += 1;
            progress(Progress::Hashes { done, total });
        })
        .try_collect()
        .await?;

    // Each commit transaction once, however many batches it committed.
    let mut seen = HashSet::new();
    let txs: Vec<(B256, u64)> = live[1..]
        .iter()
        .filter(|log| seen.insert(log.tx))
        .map(|log| (log.tx, log.batch.number))
        .collect();
    let total = txs.len() as u64;
    let mut done = 0;
    let calls: HashMap<B256, ZkRollup::commitBatchesCall> = futures::stream::iter(txs)
        .map(|(tx, number)| async move {
            let found = l1
                .get_transaction_by_hash(tx)
                .await
                .map_err(rpc("eth_getTransactionByHash"))?
                .ok_or(ExodusError::MissingTransaction { tx, number })?;
            let to = alloy_consensus::Transaction::to(&found);
            let input = alloy_consensus::Transaction::input(&found);
            decode_commit(tx, number, src.rollup, to, input).map(|call| (tx, call))
        })
        .buffered(CONCURRENT_READS)
        .inspect(|_| {
            done += 1;
            progress(Progress::Transactions { done, total });
        })
        .try_collect()
        .await?;

    let domain = CommitDomain {
        chain_id,
        rollup: src.rollup,
        batch_chunks,
    };
    let mut batches = Vec::with_capacity(live.len().saturating_sub(1));
    for pair in live.windows(2) {
        let (previous, log) = (&pair[0], &pair[1]);
        // Every tx in `live[1..]` was fetched above.
        let Some(call) = calls.get(&log.tx) else {
            return Err(ExodusError::MissingTransaction {
                tx: log.tx,
                number: log.batch.number,
            });
        };
        batches.push(batch_from_call(
            call,
            &previous.batch,
            &log.batch,
            log.fee_account,
            log.tx,
            &domain,
        )?);
    }
    Ok(ExecutedChain {
        genesis: live[0].batch.clone(),
        batches,
    })
}

/// A transaction's calldata as the `commitBatches` call it must be. `to` is the transaction's
/// recipient (`None` for a contract creation), `number` the batch it is read for (for errors).
pub fn decode_commit(
    tx: B256,
    number: u64,
    rollup: Address,
    to: Option<Address>,
    input: &[u8],
) -> Result<ZkRollup::commitBatchesCall, ExodusError> {
    let not = |reason: String| ExodusError::NotACommitCall { tx, number, reason };
    match to {
        Some(to) if to == rollup => {}
        Some(to) => return Err(not(format!("it was sent to {to}, not the rollup {rollup}"))),
        None => return Err(not("it is a contract creation".into())),
    }
    if input.get(..4) != Some(&ZkRollup::commitBatchesCall::SELECTOR[..]) {
        return Err(not(format!(
            "its input starts with {}, not commitBatches' selector",
            Bytes::copy_from_slice(&input[..input.len().min(4)])
        )));
    }
    ZkRollup::commitBatchesCall::abi_decode(input)
        .map_err(|e| not(format!("its commitBatches calldata does not decode: {e}")))
}

/// What a batch commitment binds besides the batch: the chain, the contract, the circuit size.
#[derive(Debug, Clone, Copy)]
pub struct CommitDomain {
    pub chain_id: u64,
    pub rollup: Address,
    /// `batchChunks`: pubdata is zero-padded to this many 14-byte chunks before hashing.
    pub batch_chunks: U256,
}

/// `BatchChain.commitment(previous.root, previous.accountCount, info)`: `sha256(header ‖
/// pubdata ‖ padding) mod 2^253`. `None` when the pubdata is longer than the circuit, which
/// the contract refuses to commit.
pub fn commitment(
    previous: &StoredBatch,
    info: &CommitInfo,
    domain: &CommitDomain,
) -> Option<U256> {
    let capacity = domain
        .batch_chunks
        .checked_mul(U256::from(CHUNK_BYTES))
        .and_then(|bytes| usize::try_from(bytes).ok())?;
    let padding = capacity.checked_sub(info.pubdata.len())?;
    let mut hasher = Sha256::new();
    hasher.update(previous.root);
    hasher.update(info.newRoot);
    hasher.update(domain.chain_id.to_be_bytes());
    hasher.update(domain.rollup);
    hasher.update(info.feeAccount.to_be_bytes());
    hasher.update(previous.accountCount.to_be_bytes());
    hasher.update(info.newAccountCount.to_be_bytes());
    hasher.update(&info.pubdata);
    // Padding in bounded pieces: `batch_chunks` comes from L1 and could be huge.
    const ZEROS: [u8; 4096] = [0; 4096];
    let mut left = padding;
    while left > 0 {
        let n = left.min(ZEROS.len());
        hasher.update(&ZEROS[..n]);
        left -= n;
    }
    let digest: [u8; 32] = hasher.finalize().into();
    let mask = (U256::from(1) << 253) - U256::from(1);
    Some(U256::from_be_bytes(digest) & mask)
}

/// Batch `stored.number` out of its commit call, checked against what the contract stored:
/// the call commits it on top of `previous`, and its `CommitInfo` reproduces the fee account,
/// root, account count and commitment.
pub fn batch_from_call(
    call: &ZkRollup::commitBatchesCall,
    previous: &StoredBatch,
    stored: &StoredBatch,
    fee_account: u32,
    tx: B256,
    domain: &CommitDomain,
) -> Result<ExecutedBatch, ExodusError> {
    let number = stored.number;
    let first = call.last.number.saturating_add(1);
    let last = call.last.number.saturating_add(call.batches.len() as u64);
    let info = number
        .checked_sub(first)
        .and_then(|i| usize::try_from(i).ok())
        .and_then(|i| call.batches.get(i))
        .ok_or(ExodusError::BatchNotInCall {
            tx,
            number,
            first,
            last,
        })?;
    let mismatch = |what| ExodusError::CalldataMismatch { number, tx, what };
    if previous.number.checked_add(1) != Some(number) {
        return Err(ExodusError::OutOfOrder {
            expected: previous.number.saturating_add(1),
            found: number,
        });
    }
    if info.feeAccount != fee_account {
        return Err(mismatch("fee account"));
    }
    if info.newRoot != stored.root {
        return Err(mismatch("new root"));
    }
    if info.newAccountCount != stored.accountCount {
        return Err(mismatch("account count"));
    }
    if commitment(previous, info, domain) != Some(stored.commitment) {
        return Err(mismatch("commitment"));
    }
    Ok(ExecutedBatch {
        stored: stored.clone(),
        fee_account,
        pubdata: info.pubdata.clone(),
        commit_tx: tx,
    })
}

/// The state after `chain`'s batches, replayed from the empty state; see the module docs.
/// `progress` hears of each batch replayed.
pub fn rebuild(
    chain: &ExecutedChain,
    progress: &mut dyn FnMut(Progress),
) -> Result<MemoryState, ExodusError> {
    let mut state = MemoryState::new();
    let empty = root_word(&state.root());
    if chain.genesis.root != empty {
        return Err(ExodusError::GenesisRoot {
            found: chain.genesis.root,
            empty,
        });
    }
    let total = chain.batches.len() as u64;
    for (expected, batch) in (chain.genesis.number + 1..).zip(&chain.batches) {
        let number = batch.stored.number;
        if number != expected {
            return Err(ExodusError::OutOfOrder {
                expected,
                found: number,
            });
        }
        let fee_account =
            AccountId::new(batch.fee_account).map_err(|_| ExodusError::FeeAccountOutOfRange {
                number,
                fee_account: batch.fee_account,
            })?;
        let sealed = causeway_stf::replay(&state, fee_account, &batch.pubdata)
            .map_err(|source| ExodusError::Replay { number, source })?;
        let computed = root_word(&sealed.diff.new_root);
        if computed != batch.stored.root {
            return Err(ExodusError::RootMismatch {
                number,
                computed,
                committed: batch.stored.root,
            });
        }
        if sealed.diff.account_count != batch.stored.accountCount {
            return Err(ExodusError::AccountCountMismatch {
                number,
                computed: sealed.diff.account_count,
                committed: batch.stored.accountCount,
            });
        }
        state.apply(&sealed.diff);
        progress(Progress::Replayed {
            batch: number,
            total,
        });
    }
    Ok(state)
}

/// The ids of every account of `owner`. Usually one; the circuit lets an operator create more
/// than one account for an address (docs/circuit.md), and each holds the owner's funds.
pub fn accounts_of(state: &MemoryState, owner: Address) -> Vec<AccountId> {
    state
        .accounts()
        .filter(|(_, account)| account.address == owner)
        .map(|(id, _)| id)
        .collect()
}

/// The path of `account`'s `token` balance in `state`, as `exodusWithdraw` takes it. Checked
/// before it is returned: the paths recompute `state`'s root from the account's fields.
pub fn exit_proof<V: StateView>(
    state: &V,
    account: AccountId,
    token: TokenId,
) -> Result<ExitProof, ExodusError> {
    let owner = state
        .account(account)
        .ok_or(ExodusError::NoAccount(account))?;
    let inconsistent = || ExodusError::InconsistentPaths { account, token };
    let balances = SparseMerkleTree::<Poseidon>::balances(account.get())
        .proof(state, u64::from(token.get()))
        .map_err(|_| inconsistent())?;
    let accounts = SparseMerkleTree::<Poseidon>::accounts()
        .proof(state, u64::from(account.get()))
        .map_err(|_| inconsistent())?;
    // The leaf the contract recomputes must be the one the tree holds.
    if accounts.leaf != owner.leaf_hash(balances.compute_root::<Poseidon>())
        || accounts.compute_root::<Poseidon>() != state.root()
    {
        return Err(inconsistent());
    }
    let path = |siblings: &[[Fr; 3]]| -> Vec<[U256; 3]> {
        siblings.iter().map(|s| s.map(|f| field_word(&f))).collect()
    };
    let (x, y) = owner
        .pubkey
        .map_or((Fr::from(0u64), Fr::from(0u64)), |k| (k.x, k.y));
    Ok(ExitProof {
        accountId: account.get(),
        tokenId: token.get(),
        balance: state.balance(account, token),
        owner: owner.address,
        nonce: owner.nonce,
        pubkeyX: field_word(&x),
        pubkeyY: field_word(&y),
        balancePath: path(&balances.siblings)
            .try_into()
            .map_err(|_| inconsistent())?,
        accountPath: path(&accounts.siblings)
            .try_into()
            .map_err(|_| inconsistent())?,
    })
}

/// A deposit still in the priority queue, which exodus pays back with `reclaimDeposit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedDeposit {
    pub op_id: u64,
    pub to: Address,
    pub token: u16,
    pub amount: u128,
    pub tx: B256,
}

/// `Bridge.depositHash`: the queue entry of a deposit.
pub fn deposit_hash(to: Address, token: u16, amount: u128) -> FixedBytes<20> {
    // abi.encodePacked(uint8 DEPOSIT = 4, address, uint16, uint128)
    let mut packed = Vec::with_capacity(1 + 20 + 2 + 16);
    packed.push(4u8);
    packed.extend_from_slice(to.as_slice());
    packed.extend_from_slice(&token.to_be_bytes());
    packed.extend_from_slice(&amount.to_be_bytes());
    FixedBytes::from_slice(&keccak256(&packed)[..20])
}

/// The deposits to `to` that no executed batch processed and nobody reclaimed yet: the
/// `DepositQueued` logs from `opId >= priorityExecuted` whose queue entry is still there
/// (`reclaimDeposit` deletes it).
pub async fn reclaimable_deposits<P: Provider>(
    l1: &P,
    src: &Source,
    to: Address,
) -> Result<Vec<QueuedDeposit>, ExodusError> {
    let rollup = ZkRollup::new(src.rollup, l1);
    let executed = rollup
        .priorityExecuted()
        .call()
        .await
        .map_err(call("priorityExecuted"))?;
    let head = l1
        .get_block_number()
        .await
        .map_err(rpc("eth_blockNumber"))?;
    let filter = Filter::new()
        .address(src.rollup)
        .event_signature(ZkRollup::DepositQueued::SIGNATURE_HASH)
        .topic2(to.into_word());
    let logs = logs_in_ranges(l1, filter, src.from_block, head, src.log_range, |_| {})
        .await
        .map_err(rpc("eth_getLogs(DepositQueued)"))?;
    let mut deposits = Vec::new();
    for log in &logs {
        let (event, tx) = decoded::<ZkRollup::DepositQueued>(log, "DepositQueued")?;
        if event.opId < executed || event.to != to {
            continue;
        }
        let entry = rollup
            .priorityOps(event.opId)
            .call()
            .await
            .map_err(call("priorityOps"))?;
        if entry.hash != deposit_hash(event.to, event.tokenId, event.amount) {
            continue;
        }
        deposits.push(QueuedDeposit {
            op_id: event.opId,
            to: event.to,
            token: event.tokenId,
            amount: event.amount,
            tx,
        });
    }
    Ok(deposits)
}

#[cfg(test)]
mod tests;
