//! Following the rollup contract's events on L1, by polling an HTTP provider.
//!
//! A [`Watcher`] owns a cursor into L1 (the first block whose events it has not yet reported
//! as confirmed), the hashes of the recent blocks it has read, and the next priority id it
//! expects. Each [`Watcher::poll`] reads the head, checks the recent chain against the hashes
//! it holds, reads the contract's logs from the cursor to the head, and splits them:
//!
//! - **confirmed**: events in blocks with at least `confirmations` blocks on top
//!   (`block + confirmations <= head`), reported exactly once, in log order;
//! - **unconfirmed**: events above that depth: the current view, replaced on every poll, for
//!   a node that wants to show pending deposits. Never act on them irreversibly.
//!
//! Invariants:
//! - A poll either succeeds and moves the watcher to the state it reports, or fails and
//!   changes nothing, so the caller simply polls again after an error (a [`WatchError`] that
//!   [`is_transient`](WatchError::is_transient)).
//! - Confirmed priority ops come out with consecutive ids, starting at the id given to
//!   [`Watcher::resume`] (0 for [`Watcher::new`]); a skipped or repeated id is
//!   [`BadL1Data::PriorityGap`], never a silent gap. Ids below the resume point are dropped:
//!   the node already included them.
//! - Nothing confirmed is reported twice: the cursor only moves forward, past blocks whose
//!   events were reported. A reorg that replaces only unconfirmed blocks is reported in
//!   [`WatchUpdate::reorged`] and the replacement chain's events follow; a reorg that replaces
//!   a block below the cursor (one already reported confirmed, or below `from_block`, which
//!   the caller declared final) is [`WatchError::DeepReorg`]: the node's state may include
//!   ops L1 no longer has, which no retry fixes.
//! - Every log used was read from the chain the watcher verified: its block hash must match
//!   the header read in the same poll, else the poll fails with [`WatchError::ChainMoved`]
//!   (a reorg raced the reads) and is retried as a whole.
//!
//! Why block hashes and not just log `removed` flags: `eth_getLogs` over HTTP never reports
//! removed logs; the only way to see that a block the watcher read is gone is to compare
//! hashes. A block's hash commits to all its ancestors, so holding the hashes from the
//! last confirmed block up to the head is enough to see any reorg that matters.

use std::collections::{BTreeMap, HashMap};

use alloy::eips::BlockNumberOrTag;
use alloy::network::TransactionResponse;
use alloy::primitives::{Address, B256};
use alloy::providers::Provider;
use alloy::rpc::types::{Filter, Log};
use alloy::sol_types::SolEvent;
use alloy::transports::TransportError;
use causeway_bindings::ZkRollup;
use causeway_primitives::{
    AccountId, Deposit, FullExit, IdError, MAX_BALANCE, Op, PackedPoint, TokenId,
};

use crate::BadL1Data;

/// How many blocks below the confirmation depth the watcher checks at most: when it starts
/// (or catches up after a long pause) it does not read every header back to its cursor, only
/// the last `confirmations + HASH_MARGIN`. Reorgs deeper than that are not a realistic L1
/// event; the margin bounds the first poll's cost.
pub const HASH_MARGIN: u64 = 256;

/// What to follow and how carefully.
#[derive(Debug, Clone)]
pub struct WatchConfig {
    /// The rollup contract (`ZkRollup`).
    pub rollup: Address,
    /// Blocks that must be built on top of a block before its events are confirmed: 0
    /// confirms events as soon as they are mined.
    pub confirmations: u64,
    /// The first block to read (the contract's deployment block, or the cursor a node saved,
    /// [`Watcher::next_block`]). Blocks below it are taken as final.
    pub from_block: u64,
    /// Blocks per `eth_getLogs` request (providers limit the range); 0 is taken as 1.
    pub max_range: u64,
}

/// One of the rollup contract's events, decoded and range-checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum L1Event {
    /// A deposit or full exit entered the priority queue. For a deposit, `from` is the sender
    /// of the L1 transaction that queued it (the event does not carry `msg.sender`; a
    /// deposit made through a contract shows the transaction's signer).
    Priority {
        op: Op,
        /// When a batch must have executed it (unix seconds), else anyone may start exodus.
        deadline: u64,
        l1_block: u64,
        tx_hash: B256,
    },
    /// Governance listed a token under `id`.
    TokenListed { id: TokenId, token: Address },
    /// `owner` registered `pubkey` for its ChangePubKey with `nonce` (on-chain authorization).
    PubkeyAuthorized {
        owner: Address,
        nonce: u32,
        pubkey: PackedPoint,
    },
    /// Batch `number` was committed with post-state `root` (its whole `StoredBatch`:
    /// [`crate::rollup::stored_batch`]).
    BatchCommitted { number: u64, root: B256 },
    /// Batches `from..=to` were proven.
    BatchesProven { from: u64, to: u64 },
    /// Batch `number` was executed; `root` is now the contract's `executedRoot`.
    BatchExecuted { number: u64, root: B256 },
    /// Committed batches `from..=to` were reverted; their priority ops are queued again.
    BatchesReverted { from: u64, to: u64 },
    /// Exodus: priority op `expired_op` passed its deadline; batches stop for good.
    ExodusActivated { expired_op: u64 },
}

/// What one [`Watcher::poll`] saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchUpdate {
    /// Events newly at the confirmation depth, in log order; each is reported once.
    pub confirmed: Vec<L1Event>,
    /// Events above the confirmation depth on the current chain, in log order: the whole
    /// current view, replacing the previous poll's.
    pub unconfirmed: Vec<L1Event>,
    /// `Some(block)` when the chain the watcher followed was replaced from `block` on (only
    /// unconfirmed blocks: a deeper change is [`WatchError::DeepReorg`]).
    pub reorged: Option<u64>,
    /// The L1 head this poll read.
    pub head: u64,
}

/// Why a poll failed. Transient ones ([`WatchError::is_transient`]) leave the watcher as it
/// was: poll again later. The others are fatal for a node following this contract.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The L1 node could not be reached or refused a request (infrastructure).
    #[error("L1 RPC: {0}")]
    Rpc(#[from] TransportError),
    /// The chain changed between the reads of one poll (infrastructure: a reorg raced it).
    #[error("the L1 chain changed while it was read (around block {block}); poll again")]
    ChainMoved { block: u64 },
    /// A block at or below the confirmation depth was replaced: events already reported as
    /// confirmed (or before `from_block`) may be gone from L1.
    #[error(
        "L1 reorganized below the confirmation depth: block {block} was replaced, but blocks \
         below {cursor} were already final"
    )]
    DeepReorg { block: u64, cursor: u64 },
    /// The contract's logs contradict what it guarantees.
    #[error(transparent)]
    BadData(#[from] BadL1Data),
}

impl WatchError {
    /// Whether polling again may succeed (the L1 node's availability or a racing reorg), as
    /// opposed to a deep reorg or bad data, which polling again only repeats.
    pub fn is_transient(&self) -> bool {
        matches!(self, WatchError::Rpc(_) | WatchError::ChainMoved { .. })
    }
}

/// Follows the rollup contract's events; see the module docs.
#[derive(Debug, Clone)]
pub struct Watcher {
    cfg: WatchConfig,
    /// The first block whose events have not been reported confirmed.
    cursor: u64,
    /// The next priority id to report as confirmed.
    next_priority_id: u64,
    /// Confirmed priority ops below this id are dropped (already included by the node).
    skip_below: u64,
    /// Hashes of the blocks read, from `cursor - 1` (or `HASH_MARGIN` below the confirmation
    /// depth) to the last head; always one linked chain.
    hashes: BTreeMap<u64, B256>,
    /// Senders of the transactions of the deposits in the unconfirmed view, so that each
    /// deposit's transaction is fetched once, not once per poll.
    senders: HashMap<B256, Address>,
}

/// A decoded log and where it was.
struct Located {
    event: L1Event,
    block: u64,
    priority_id: Option<u64>,
}

impl Watcher {
    /// A watcher from `cfg.from_block` expecting priority op 0 first.
    pub fn new(cfg: WatchConfig) -> Self {
        Watcher::resume(cfg, 0)
    }

    /// A watcher from `cfg.from_block` after a restart: confirmed priority ops with ids below
    /// `next_priority_id` are dropped (the node included them already), and the first one
    /// reported must be `next_priority_id`. Other events from `from_block` on are reported
    /// again; `from_block` should be the [`next_block`](Watcher::next_block) the node saved.
    pub fn resume(mut cfg: WatchConfig, next_priority_id: u64) -> Self {
        cfg.max_range = cfg.max_range.max(1);
        Watcher {
            cursor: cfg.from_block,
            next_priority_id,
            skip_below: next_priority_id,
            hashes: BTreeMap::new(),
            senders: HashMap::new(),
            cfg,
        }
    }

    /// The first block whose events have not been reported confirmed: where a restarted
    /// watcher should start (`from_block`).
    pub fn next_block(&self) -> u64 {
        self.cursor
    }

    /// The id the next confirmed priority op must have.
    pub fn next_priority_id(&self) -> u64 {
        self.next_priority_id
    }

    /// Reads L1 once: see the module docs. On error nothing changes.
    pub async fn poll<P: Provider>(&mut self, l1: &P) -> Result<WatchUpdate, WatchError> {
        let head = l1.get_block_number().await?;
        // Work on a copy of the hash chain and commit it only if the whole poll succeeds, so
        // that a failed poll does not swallow a reorg it had already noticed.
        let mut hashes = self.hashes.clone();
        let reorged = self.sync_hashes(l1, head, &mut hashes).await?;
        if let Some(block) = reorged
            && block < self.cursor
        {
            return Err(WatchError::DeepReorg {
                block,
                cursor: self.cursor,
            });
        }
        // `safe`: the highest confirmed block, if any.
        let safe = head.checked_sub(self.cfg.confirmations);

        let logs = self.read_logs(l1, head, &hashes).await?;
        let mut fetched = HashMap::new();
        let mut located = Vec::with_capacity(logs.len());
        for log in &logs {
            if let Some(event) = self.decode(l1, log, &mut fetched).await? {
                located.push(event);
            }
        }
        // The sender cache keeps the deposits still unconfirmed: confirmed ones are done.
        let mut senders = HashMap::new();

        // Priority ids: consecutive from the expected one, across the confirmed events and on
        // into the unconfirmed view; ids below the resume point are dropped.
        let mut expected = self.next_priority_id;
        let mut next_confirmed = self.next_priority_id;
        let mut update = WatchUpdate {
            head,
            reorged,
            ..WatchUpdate::default()
        };
        for Located {
            event,
            block,
            priority_id,
        } in located
        {
            let confirmed = safe.is_some_and(|safe| block <= safe);
            if let Some(id) = priority_id {
                if id < self.skip_below {
                    continue;
                }
                if id != expected {
                    return Err(BadL1Data::PriorityGap {
                        expected,
                        found: id,
                        block,
                    }
                    .into());
                }
                expected += 1;
                if confirmed {
                    next_confirmed = expected;
                }
            }
            if confirmed {
                update.confirmed.push(event);
            } else {
                if let L1Event::Priority {
                    op: Op::Deposit(d),
                    tx_hash,
                    ..
                } = &event
                {
                    senders.insert(*tx_hash, d.from);
                }
                update.unconfirmed.push(event);
            }
        }

        // Commit.
        if let Some(safe) = safe
            && safe >= self.cursor
        {
            self.cursor = safe + 1;
        }
        self.next_priority_id = next_confirmed;
        let keep_from = self.cursor.saturating_sub(1);
        hashes.retain(|&n, _| n >= keep_from);
        self.hashes = hashes;
        self.senders = senders;
        Ok(update)
    }

    /// Brings `hashes` up to `head`: reads headers from the head down until the chain joins
    /// the recorded one (or the checked window ends), and returns the lowest block whose
    /// recorded hash changed or disappeared.
    async fn sync_hashes<P: Provider>(
        &self,
        l1: &P,
        head: u64,
        hashes: &mut BTreeMap<u64, B256>,
    ) -> Result<Option<u64>, WatchError> {
        let mut fork: Option<u64> = None;
        // Blocks above the head are gone (the chain got shorter).
        if hashes.range(head + 1..).next().is_some() {
            fork = Some(head + 1);
            hashes.retain(|&n, _| n <= head);
        }
        let low = self
            .cursor
            .saturating_sub(1)
            .max(head.saturating_sub(self.cfg.confirmations + HASH_MARGIN));
        if low > head {
            // Nothing to check yet: the cursor is ahead of the chain.
            return Ok(fork);
        }
        let mut n = head;
        let mut header = header(l1, n).await?;
        loop {
            match hashes.get(&n) {
                // Recorded as it is: so is every block below (a hash commits to its parent).
                Some(h) if *h == header.0 => break,
                Some(_) => fork = Some(n),
                None => {}
            }
            hashes.insert(n, header.0);
            if n <= low || hashes.get(&(n - 1)) == Some(&header.1) {
                break;
            }
            let parent = header.1;
            n -= 1;
            header = self::header(l1, n).await?;
            if header.0 != parent {
                // The chain was replaced while we walked it.
                return Err(WatchError::ChainMoved { block: n });
            }
        }
        Ok(fork)
    }

    /// The contract's logs of interest in `[cursor, head]`, in log order, each checked
    /// against the block hashes of this poll.
    async fn read_logs<P: Provider>(
        &self,
        l1: &P,
        head: u64,
        hashes: &BTreeMap<u64, B256>,
    ) -> Result<Vec<Log>, WatchError> {
        let mut logs = Vec::new();
        let mut from = self.cursor;
        while from <= head {
            let to = head.min(from.saturating_add(self.cfg.max_range - 1));
            let filter = Filter::new()
                .address(self.cfg.rollup)
                .event_signature(EVENTS.to_vec())
                .from_block(from)
                .to_block(to);
            for log in l1.get_logs(&filter).await? {
                let block = log.block_number.ok_or(BadL1Data::Incomplete {
                    missing: "block number",
                })?;
                let hash = log.block_hash.ok_or(BadL1Data::Incomplete {
                    missing: "block hash",
                })?;
                if log.log_index.is_none() {
                    return Err(BadL1Data::Incomplete {
                        missing: "log index",
                    }
                    .into());
                }
                if log.transaction_hash.is_none() {
                    return Err(BadL1Data::Incomplete {
                        missing: "transaction hash",
                    }
                    .into());
                }
                // Blocks below the checked window are deeper than any realistic reorg.
                if hashes.get(&block).is_some_and(|h| *h != hash) || log.removed {
                    return Err(WatchError::ChainMoved { block });
                }
                logs.push(log);
            }
            if to == head {
                break;
            }
            from = to + 1;
        }
        // Nodes return logs in order; sorting makes it a guarantee.
        logs.sort_by_key(|log| (log.block_number, log.log_index));
        Ok(logs)
    }

    /// Decodes one of the [`EVENTS`]. `fetched` collects the deposit transactions' senders
    /// of this poll; those known from the previous poll are not fetched again.
    async fn decode<P: Provider>(
        &self,
        l1: &P,
        log: &Log,
        fetched: &mut HashMap<B256, Address>,
    ) -> Result<Option<Located>, WatchError> {
        // Checked by `read_logs`.
        let block = log.block_number.unwrap_or_default();
        let tx_hash = log.transaction_hash.unwrap_or_default();
        let log_index = log.log_index.unwrap_or_default();
        let malformed = |event: &'static str| {
            move |source| BadL1Data::Malformed {
                event,
                block,
                tx_hash,
                log_index,
                source: Box::new(source),
            }
        };
        let out_of_range = |event: &'static str| {
            move |source: IdError| BadL1Data::IdOutOfRange {
                event,
                block,
                tx_hash,
                source,
            }
        };
        let located = |event: L1Event, priority_id: Option<u64>| {
            Ok(Some(Located {
                event,
                block,
                priority_id,
            }))
        };
        let Some(&topic0) = log.topic0() else {
            return Ok(None);
        };
        match topic0 {
            ZkRollup::DepositQueued::SIGNATURE_HASH => {
                let e = ZkRollup::DepositQueued::decode_log(&log.inner)
                    .map_err(malformed("DepositQueued"))?
                    .data;
                let token = TokenId::new(e.tokenId).map_err(out_of_range("DepositQueued"))?;
                if e.amount > MAX_BALANCE {
                    return Err(BadL1Data::AmountTooLarge {
                        op_id: e.opId,
                        block,
                        amount: e.amount,
                    }
                    .into());
                }
                let from = match self.senders.get(&tx_hash).or(fetched.get(&tx_hash)) {
                    Some(from) => *from,
                    None => {
                        let tx = l1
                            .get_transaction_by_hash(tx_hash)
                            .await?
                            // The node has the log but not its transaction: a reorg raced us.
                            .ok_or(WatchError::ChainMoved { block })?;
                        tx.from()
                    }
                };
                fetched.insert(tx_hash, from);
                located(
                    L1Event::Priority {
                        op: Op::Deposit(Deposit {
                            priority_id: e.opId,
                            from,
                            to: e.to,
                            token,
                            amount: e.amount,
                        }),
                        deadline: e.deadline,
                        l1_block: block,
                        tx_hash,
                    },
                    Some(e.opId),
                )
            }
            ZkRollup::FullExitQueued::SIGNATURE_HASH => {
                let e = ZkRollup::FullExitQueued::decode_log(&log.inner)
                    .map_err(malformed("FullExitQueued"))?
                    .data;
                let account =
                    AccountId::new(e.accountId).map_err(out_of_range("FullExitQueued"))?;
                let token = TokenId::new(e.tokenId).map_err(out_of_range("FullExitQueued"))?;
                located(
                    L1Event::Priority {
                        op: Op::FullExit(FullExit {
                            priority_id: e.opId,
                            account,
                            owner: e.owner,
                            token,
                        }),
                        deadline: e.deadline,
                        l1_block: block,
                        tx_hash,
                    },
                    Some(e.opId),
                )
            }
            ZkRollup::TokenListed::SIGNATURE_HASH => {
                let e = ZkRollup::TokenListed::decode_log(&log.inner)
                    .map_err(malformed("TokenListed"))?
                    .data;
                let id = TokenId::new(e.tokenId).map_err(out_of_range("TokenListed"))?;
                located(L1Event::TokenListed { id, token: e.token }, None)
            }
            ZkRollup::PubkeyAuthorized::SIGNATURE_HASH => {
                let e = ZkRollup::PubkeyAuthorized::decode_log(&log.inner)
                    .map_err(malformed("PubkeyAuthorized"))?
                    .data;
                located(
                    L1Event::PubkeyAuthorized {
                        owner: e.owner,
                        nonce: e.nonce,
                        pubkey: PackedPoint(e.pubkey.0),
                    },
                    None,
                )
            }
            ZkRollup::BatchCommitted::SIGNATURE_HASH => {
                let e = ZkRollup::BatchCommitted::decode_log(&log.inner)
                    .map_err(malformed("BatchCommitted"))?
                    .data;
                located(
                    L1Event::BatchCommitted {
                        number: e.number,
                        root: e.batch.root,
                    },
                    None,
                )
            }
            ZkRollup::BatchesProven::SIGNATURE_HASH => {
                let e = ZkRollup::BatchesProven::decode_log(&log.inner)
                    .map_err(malformed("BatchesProven"))?
                    .data;
                located(
                    L1Event::BatchesProven {
                        from: e.fromNumber,
                        to: e.toNumber,
                    },
                    None,
                )
            }
            ZkRollup::BatchExecuted::SIGNATURE_HASH => {
                let e = ZkRollup::BatchExecuted::decode_log(&log.inner)
                    .map_err(malformed("BatchExecuted"))?
                    .data;
                located(
                    L1Event::BatchExecuted {
                        number: e.number,
                        root: e.root,
                    },
                    None,
                )
            }
            ZkRollup::BatchesReverted::SIGNATURE_HASH => {
                let e = ZkRollup::BatchesReverted::decode_log(&log.inner)
                    .map_err(malformed("BatchesReverted"))?
                    .data;
                located(
                    L1Event::BatchesReverted {
                        from: e.fromNumber,
                        to: e.toNumber,
                    },
                    None,
                )
            }
            ZkRollup::ExodusActivated::SIGNATURE_HASH => {
                let e = ZkRollup::ExodusActivated::decode_log(&log.inner)
                    .map_err(malformed("ExodusActivated"))?
                    .data;
                located(
                    L1Event::ExodusActivated {
                        expired_op: e.expiredOpId,
                    },
                    None,
                )
            }
            // The filter asks for the events above only.
            _ => Ok(None),
        }
    }
}

/// The events the watcher reads (`topic0`s); the contract's others (roles, withdrawals
/// claimed, exodus withdrawals) are no concern of the node's.
const EVENTS: [B256; 9] = [
    ZkRollup::DepositQueued::SIGNATURE_HASH,
    ZkRollup::FullExitQueued::SIGNATURE_HASH,
    ZkRollup::TokenListed::SIGNATURE_HASH,
    ZkRollup::PubkeyAuthorized::SIGNATURE_HASH,
    ZkRollup::BatchCommitted::SIGNATURE_HASH,
    ZkRollup::BatchesProven::SIGNATURE_HASH,
    ZkRollup::BatchExecuted::SIGNATURE_HASH,
    ZkRollup::BatchesReverted::SIGNATURE_HASH,
    ZkRollup::ExodusActivated::SIGNATURE_HASH,
];

/// Block `n`'s hash and parent hash. A missing block (the chain got shorter since the head
/// was read) means a reorg raced the poll.
async fn header<P: Provider>(l1: &P, n: u64) -> Result<(B256, B256), WatchError> {
    let header = l1
        .get_header_by_number(BlockNumberOrTag::Number(n))
        .await?
        .ok_or(WatchError::ChainMoved { block: n })?;
    Ok((header.hash, header.inner.parent_hash))
}
