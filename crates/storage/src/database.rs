//! [`Database`]: loading the state from redb, committing blocks and batches to it, and the
//! sequencer's mempool journal and lookup indexes kept beside them.
//!
//! See the crate docs for the tables and the invariants; this module implements them.

use crate::StorageError;
use crate::codec::{
    check_node_key, decode_account, decode_balance, decode_fr, decode_u32, decode_u64,
    encode_account, encode_balance,
};
use crate::records::{self, BatchRecord, BlockRecord, L1Context};
use alloy_primitives::keccak256;
use causeway_primitives::{
    AccountId, Address, B256, Balance, MAX_BALANCE, Nonce, Op, TokenId, fr_to_be_bytes,
};
use causeway_stf::{MemoryState, StateDiff, StateView};
use causeway_tree::{ACCOUNT_TREE_HEIGHT, MemoryStore, NodeKey, TreeKey};
use redb::{
    Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
    WriteTransaction,
};
use std::collections::{HashMap, HashSet};
use std::fmt::Display;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The on-disk format this build reads and writes (`meta.version`). Version 2 added the
/// `journal`, `op_index` and `block_hashes` tables and the `journal_next` and
/// `next_priority_op` meta entries; version-1 files are refused, not migrated. Version 3 added
/// the `balance_history` and `nonce_history` tables and the `history_from` meta entry; a
/// version-2 file is upgraded in place when opened ([`Database::open`]), its history starting
/// at the latest block it held.
pub const FORMAT_VERSION: u32 = 3;
/// The version [`Database::open`] upgrades to [`FORMAT_VERSION`].
const UPGRADABLE_VERSION: u32 = 2;
/// The number of the first block; the state before it is the empty state.
pub const FIRST_BLOCK: u64 = 1;
/// The number of the first batch.
pub const FIRST_BATCH: u64 = 1;

const NODES_TABLE: &str = "nodes";
const ACCOUNTS_TABLE: &str = "accounts";
const BALANCES_TABLE: &str = "balances";
const BLOCKS_TABLE: &str = "blocks";
const BATCHES_TABLE: &str = "batches";
const META_TABLE: &str = "meta";
const JOURNAL_TABLE: &str = "journal";
const OP_INDEX_TABLE: &str = "op_index";
const BLOCK_HASHES_TABLE: &str = "block_hashes";
const BALANCE_HISTORY_TABLE: &str = "balance_history";
const NONCE_HISTORY_TABLE: &str = "nonce_history";

const NODES: TableDefinition<&[u8; 13], &[u8; 32]> = TableDefinition::new(NODES_TABLE);
const ACCOUNTS: TableDefinition<u32, &[u8]> = TableDefinition::new(ACCOUNTS_TABLE);
const BALANCES: TableDefinition<(u32, u16), &[u8; 16]> = TableDefinition::new(BALANCES_TABLE);
const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new(BLOCKS_TABLE);
const BATCHES: TableDefinition<u64, &[u8]> = TableDefinition::new(BATCHES_TABLE);
const META: TableDefinition<&str, &[u8]> = TableDefinition::new(META_TABLE);
const JOURNAL: TableDefinition<u64, &[u8]> = TableDefinition::new(JOURNAL_TABLE);
const OP_INDEX: TableDefinition<&[u8; 32], (u64, u32)> = TableDefinition::new(OP_INDEX_TABLE);
const BLOCK_HASHES: TableDefinition<&[u8; 32], u64> = TableDefinition::new(BLOCK_HASHES_TABLE);
/// `(account, token, block)`: ordered so the entries of one balance are adjacent and sorted by
/// block, and "the latest entry at or before block N" is the last of one range.
const BALANCE_HISTORY: TableDefinition<(u32, u16, u64), u128> =
    TableDefinition::new(BALANCE_HISTORY_TABLE);
/// `(account, block)`, ordered as [`BALANCE_HISTORY`].
const NONCE_HISTORY: TableDefinition<(u32, u64), u32> = TableDefinition::new(NONCE_HISTORY_TABLE);

const META_VERSION: &str = "version";
const META_LATEST_BLOCK: &str = "latest_block";
const META_STATE_ROOT: &str = "state_root";
const META_ACCOUNT_COUNT: &str = "account_count";
const META_JOURNAL_NEXT: &str = "journal_next";
const META_NEXT_PRIORITY_OP: &str = "next_priority_op";
/// Absent until the first write: a file without it has no L1 context yet (ETH only).
const META_L1_CONTEXT: &str = "l1_context";
/// The first block whose state the history tables answer for.
const META_HISTORY_FROM: &str = "history_from";

/// Nodes are handed to the in-memory store in chunks so loading never holds two copies.
const LOAD_CHUNK: usize = 1 << 16;

const ROOT_KEY: NodeKey = NodeKey {
    tree: TreeKey::Accounts,
    height: ACCOUNT_TREE_HEIGHT,
    index: 0,
};

/// The durable L2 state: an in-memory [`MemoryState`] backed by one redb file.
///
/// Reads of the state ([`state`](Self::state)) are served from memory; block and batch
/// records are read from the file. Writes go to the file first and to memory only once the
/// file has them (see the crate docs for the exact guarantees).
pub struct Database {
    db: redb::Database,
    state: MemoryState,
    latest_block: Option<u64>,
    /// `(number, last_block)` of the latest batch.
    latest_batch: Option<(u64, u64)>,
    /// `meta.next_priority_op`; changes only with a committed block, under `&mut self`.
    next_priority_op: u64,
    /// `meta.history_from`; never changes once the file is version 3.
    history_from: u64,
    /// A copy of `meta.journal_next` for cheap reads. Appends take `&self`, hence atomic; the
    /// value appends check against is the one in `meta`, read inside their write transaction.
    journal_next: AtomicU64,
    /// Atomic because journal writes take `&self` and a failed commit must still poison.
    poisoned: AtomicBool,
    /// A block is written to the file and not yet applied to memory ([`Written`]): no other
    /// block may be written until it is.
    unapplied: AtomicBool,
    /// Tells this handle's [`Written`] blocks from those of other handles.
    handle: u64,
}

/// The next [`Database::handle`].
static HANDLES: AtomicU64 = AtomicU64::new(0);

/// A block durably written by [`Database::write_block_consuming`] whose diff is not yet in the
/// in-memory state: [`Database::apply_written`] applies it.
#[must_use = "the in-memory state lags the file until the written block is applied"]
#[derive(Debug)]
pub struct Written {
    handle: u64,
    number: u64,
    next_priority_op: u64,
    diff: StateDiff,
}

impl Written {
    pub fn number(&self) -> u64 {
        self.number
    }

    pub fn diff(&self) -> &StateDiff {
        &self.diff
    }
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("latest_block", &self.latest_block)
            .field("latest_batch", &self.latest_batch)
            .field("account_count", &self.state.account_count())
            .field("next_priority_op", &self.next_priority_op)
            .field("history_from", &self.history_from)
            .field("journal_next", &self.journal_next())
            .field("poisoned", &self.is_poisoned())
            .finish_non_exhaustive()
    }
}

impl Database {
    /// Opens the database at `path`, creating an empty one if the file does not exist, and
    /// loads and checks the whole state.
    ///
    /// After a crash, redb first rolls back to the last complete commit. Then every record is
    /// decoded and range-checked, and the latest block's recorded root must equal the
    /// account-tree root; any failure is an error, never a panic. Fails with
    /// [`StorageError::Db`] if the file is already open (here or in another process).
    ///
    /// A version-2 file (written before state history was kept) is upgraded to
    /// [`FORMAT_VERSION`] once it has loaded and passed its checks, in one durable
    /// transaction: the history tables are created holding every non-zero balance and nonce of
    /// the current state as of the latest block, which becomes
    /// [`history_from`](Self::history_from). That writes about two small rows per account,
    /// once; if it fails, the file stays a version-2 file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StorageError> {
        // The integrity check verifies every page checksum: without it, redb may panic on a
        // file altered behind its back. Loading reads every page anyway.
        let db = redb::Builder::new()
            .set_check_integrity_on_open(true)
            .create(path)?;
        let format = init(&db)?;
        let Loaded {
            state,
            latest_block,
            latest_batch,
            next_priority_op,
            journal_next,
        } = load(&db)?;
        let history_from = match format {
            Format::Current => load_history(&db, latest_block, state.account_count())?,
            Format::Upgradable => upgrade(&db, &state, latest_block)?,
        };
        Ok(Database {
            db,
            state,
            latest_block,
            latest_batch,
            next_priority_op,
            history_from,
            journal_next: AtomicU64::new(journal_next),
            poisoned: AtomicBool::new(false),
            unapplied: AtomicBool::new(false),
            handle: HANDLES.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// The state after the latest committed block.
    pub fn state(&self) -> &MemoryState {
        &self.state
    }

    /// The latest committed block, `None` before the first.
    pub fn latest_block(&self) -> Option<u64> {
        self.latest_block
    }

    /// The latest stored batch, `None` before the first.
    pub fn latest_batch(&self) -> Option<u64> {
        self.latest_batch.map(|(number, _)| number)
    }

    /// The priority id the next committed priority op (deposit or full exit) must carry:
    /// 1 + the largest one in any committed block, 0 before the first.
    pub fn next_priority_op(&self) -> u64 {
        self.next_priority_op
    }

    /// The first block whose state [`balance_at`](Self::balance_at) and
    /// [`nonce_at`](Self::nonce_at) answer for: 0 (the empty state before [`FIRST_BLOCK`]) in a
    /// file created with history, or the latest block of a version-2 file when it was
    /// upgraded.
    pub fn history_from(&self) -> u64 {
        self.history_from
    }

    /// Whether the state after `block` can be read: `Ok`, or the error
    /// [`balance_at`](Self::balance_at) and [`nonce_at`](Self::nonce_at) give for it
    /// ([`StorageError::BlockNotCommitted`], [`StorageError::HistoryUnavailable`]). For a
    /// caller that has no account to read but must still refuse the blocks they refuse.
    pub fn check_history_block(&self, block: u64) -> Result<(), StorageError> {
        if block > self.latest_block.unwrap_or(0) {
            return Err(StorageError::BlockNotCommitted {
                block,
                latest: self.latest_block,
            });
        }
        if block < self.history_from {
            return Err(StorageError::HistoryUnavailable {
                block,
                from: self.history_from,
            });
        }
        Ok(())
    }

    /// The balance of `token` held by `account` in the state after block `block` (block 0 is
    /// the empty state before [`FIRST_BLOCK`]): 0 where the account did not exist yet. Read
    /// from the history tables on disk: one range read, nothing kept in memory.
    ///
    /// [`StorageError::BlockNotCommitted`] for a block beyond the latest one,
    /// [`StorageError::HistoryUnavailable`] for one before
    /// [`history_from`](Self::history_from).
    pub fn balance_at(
        &self,
        account: AccountId,
        token: TokenId,
        block: u64,
    ) -> Result<Balance, StorageError> {
        self.check_history_block(block)?;
        let txn = self.db.begin_read()?;
        let table = txn.open_table(BALANCE_HISTORY)?;
        let (a, t) = (account.get(), token.get());
        let Some(entry) = table.range((a, t, 0)..=(a, t, block))?.next_back() else {
            return Ok(0);
        };
        let (key, value) = entry?;
        let (_, _, at) = key.value();
        let bad = corrupt(BALANCE_HISTORY_TABLE, format!("({a}, {t}, {at})"));
        self.check_history_entry(at).map_err(&bad)?;
        let balance = value.value();
        if balance > MAX_BALANCE {
            return Err(bad(format!("balance {balance} above the maximum")));
        }
        Ok(balance)
    }

    /// The nonce of `account` in the state after block `block`: 0 where the account did not
    /// exist yet. Refused as [`balance_at`](Self::balance_at) is.
    pub fn nonce_at(&self, account: AccountId, block: u64) -> Result<Nonce, StorageError> {
        self.check_history_block(block)?;
        let txn = self.db.begin_read()?;
        let table = txn.open_table(NONCE_HISTORY)?;
        let a = account.get();
        let Some(entry) = table.range((a, 0)..=(a, block))?.next_back() else {
            return Ok(0);
        };
        let (key, value) = entry?;
        let (_, at) = key.value();
        self.check_history_entry(at)
            .map_err(corrupt(NONCE_HISTORY_TABLE, format!("({a}, {at})")))?;
        Ok(value.value())
    }

    /// The first sequence number the next [`append_journal`](Self::append_journal) may use:
    /// 1 + the largest ever appended, consumed or not; 0 in a new database.
    pub fn journal_next(&self) -> u64 {
        self.journal_next.load(Ordering::SeqCst)
    }

    /// Durably commits `block` and the diff its execution produced, then applies the diff to
    /// the in-memory state. The same as [`commit_block_consuming`](Self::commit_block_consuming)
    /// with no journal entries consumed.
    pub fn commit_block(
        &mut self,
        block: &BlockRecord,
        diff: &StateDiff,
    ) -> Result<(), StorageError> {
        self.commit_block_consuming(block, diff, &[])
    }

    /// Durably commits `block` and its diff, indexes its ops and its hash, and deletes the
    /// journal entries `consumed`, all in one redb transaction: after a crash either the block
    /// is committed and those entries are gone, or neither. Then applies the diff to the
    /// in-memory state.
    ///
    /// Refused, with nothing written, unless `block.number` is the next block number,
    /// `diff.old_root` is the current state root, the block's roots are the diff's, the diff
    /// fits the state (new accounts numbered consecutively from the current count up to
    /// `diff.account_count`, balances of existing accounts and at most [`MAX_BALANCE`], node
    /// keys inside their trees, and the written account-tree root equal to `diff.new_root`),
    /// the block's priority ops are numbered consecutively from
    /// [`next_priority_op`](Self::next_priority_op) ([`StorageError::PriorityOutOfOrder`]), and
    /// every seq in `consumed` is in the journal, once ([`StorageError::JournalEntryMissing`]).
    ///
    /// On `Ok` the block is on disk. A [`StorageError::Db`] raised before redb's commit
    /// changes nothing; one raised by the commit itself poisons the handle: the block may or
    /// may not have reached the disk, and the in-memory state is the old one.
    pub fn commit_block_consuming(
        &mut self,
        block: &BlockRecord,
        diff: &StateDiff,
        consumed: &[u64],
    ) -> Result<(), StorageError> {
        self.reserve_write()?;
        let written = self.write(block, diff, consumed);
        self.unapplied.store(false, Ordering::SeqCst);
        let next_priority_op = written?;
        self.apply(block.number, next_priority_op, diff);
        Ok(())
    }

    /// Writes `block` exactly as [`commit_block_consuming`](Self::commit_block_consuming)
    /// does, but through `&self` and without touching the in-memory state, so that a
    /// sequencer can write block n on one thread while block n+1 executes over the state on
    /// another. Until the returned [`Written`] is passed to
    /// [`apply_written`](Self::apply_written), the file is one block ahead of memory: the
    /// block, its index entries and its consumed journal entries are read from the file as
    /// committed, while [`state`](Self::state) and [`latest_block`](Self::latest_block) are
    /// still those before it, and every further block write is refused with
    /// [`StorageError::UnappliedBlock`]. Journal writes go on as usual.
    pub fn write_block_consuming(
        &self,
        block: &BlockRecord,
        diff: StateDiff,
        consumed: &[u64],
    ) -> Result<Written, StorageError> {
        self.reserve_write()?;
        match self.write(block, &diff, consumed) {
            Ok(next_priority_op) => Ok(Written {
                handle: self.handle,
                number: block.number,
                next_priority_op,
                diff,
            }),
            Err(e) => {
                self.unapplied.store(false, Ordering::SeqCst);
                Err(e)
            }
        }
    }

    /// Applies a block written by [`write_block_consuming`](Self::write_block_consuming) to
    /// the in-memory state. Refused with [`StorageError::BlockOutOfOrder`] if `written` is not
    /// the next block or this handle has no block unapplied, and with
    /// [`StorageError::ForeignWritten`] if another handle wrote it. A refused `Written` is dropped; the block it stands for stays
    /// written, and the handle refuses other block writes until the file is reopened.
    pub fn apply_written(&mut self, written: Written) -> Result<(), StorageError> {
        let expected = self.latest_block.map_or(FIRST_BLOCK, |n| n + 1);
        if written.number != expected || !self.unapplied.load(Ordering::SeqCst) {
            return Err(StorageError::BlockOutOfOrder {
                expected,
                got: written.number,
            });
        }
        if written.handle != self.handle {
            return Err(StorageError::ForeignWritten);
        }
        self.apply(written.number, written.next_priority_op, &written.diff);
        self.unapplied.store(false, Ordering::SeqCst);
        Ok(())
    }

    /// Claims the one block write that may be unapplied at a time.
    fn reserve_write(&self) -> Result<(), StorageError> {
        self.unapplied
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .map(|_| ())
            .map_err(|_| StorageError::UnappliedBlock)
    }

    /// The write transaction of a block commit; returns the next priority op after it.
    fn write(
        &self,
        block: &BlockRecord,
        diff: &StateDiff,
        consumed: &[u64],
    ) -> Result<u64, StorageError> {
        self.check_writable()?;
        self.check_block(block, diff)?;
        let next_priority_op = self.check_priority_ops(block)?;
        let record = records::encode(block);
        // `block.hash()`, from the bytes already encoded.
        let hash = keccak256(&record);

        let txn = self.begin_durable_write()?;
        {
            // First, so that a missing entry aborts the transaction before anything else is
            // in it.
            remove_journal_entries(&txn, consumed)?;
            let mut nodes = txn.open_table(NODES)?;
            for (key, value) in &diff.nodes {
                nodes.insert(&key.to_bytes(), &fr_to_be_bytes(value))?;
            }
            // The history rows (invariant 9) compare each new value with the one before the
            // block, which is still the in-memory state's: it changes only after the commit.
            // An unchanged value gets no row, so a block writes one row per value it moved.
            let mut accounts = txn.open_table(ACCOUNTS)?;
            let mut nonce_history = txn.open_table(NONCE_HISTORY)?;
            for (id, account) in &diff.accounts {
                accounts.insert(id.get(), encode_account(account).as_slice())?;
                let before = self.state.account(*id).map_or(0, |a| a.nonce);
                if account.nonce != before {
                    nonce_history.insert((id.get(), block.number), account.nonce)?;
                }
            }
            let mut balances = txn.open_table(BALANCES)?;
            let mut balance_history = txn.open_table(BALANCE_HISTORY)?;
            for (&(account, token), &balance) in &diff.balances {
                let key = (account.get(), token.get());
                if balance == 0 {
                    balances.remove(key)?;
                } else {
                    balances.insert(key, &encode_balance(balance))?;
                }
                if balance != self.state.balance(account, token) {
                    balance_history.insert((key.0, key.1, block.number), balance)?;
                }
            }
            txn.open_table(BLOCKS)?
                .insert(block.number, record.as_slice())?;
            let mut op_index = txn.open_table(OP_INDEX)?;
            // `check_block` refused blocks whose op indexes do not fit a u32.
            for (index, op) in (0u32..).zip(&block.ops) {
                let key = op.hash().0;
                // Equal ops have equal hashes (every Noop, or a priority op repeated by a
                // buggy sequencer; a signed op cannot run twice because of its nonce). The
                // first occurrence stays indexed, so a lookup never moves once answered.
                if op_index.get(&key)?.is_none() {
                    op_index.insert(&key, (block.number, index))?;
                }
            }
            txn.open_table(BLOCK_HASHES)?
                .insert(&hash.0, block.number)?;
            let mut meta = txn.open_table(META)?;
            meta.insert(META_LATEST_BLOCK, block.number.to_be_bytes().as_slice())?;
            meta.insert(META_STATE_ROOT, fr_to_be_bytes(&diff.new_root).as_slice())?;
            meta.insert(
                META_ACCOUNT_COUNT,
                diff.account_count.to_be_bytes().as_slice(),
            )?;
            meta.insert(
                META_NEXT_PRIORITY_OP,
                next_priority_op.to_be_bytes().as_slice(),
            )?;
        }
        self.commit(txn)?;

        Ok(next_priority_op)
    }

    fn apply(&mut self, number: u64, next_priority_op: u64, diff: &StateDiff) {
        self.state.apply(diff);
        self.latest_block = Some(number);
        self.next_priority_op = next_priority_op;
    }

    /// Durably appends `entries` to the mempool journal in one redb transaction (one fsync
    /// for the whole group). The sequencer acknowledges an op only once the call that carries
    /// it has returned `Ok`.
    ///
    /// Refused with [`StorageError::JournalOutOfOrder`], with nothing written, unless the
    /// sequence numbers strictly increase within `entries` and the first is at least
    /// [`journal_next`](Self::journal_next): a sequence number is never reused, even after its
    /// entry was consumed, so a replayed journal cannot mistake a new op for an old one.
    /// Gaps are allowed. Takes `&self` so the sequencer can append while it holds the state
    /// borrowed from [`state`](Self::state); a failed redb commit poisons the handle as for
    /// [`commit_block`](Self::commit_block).
    pub fn append_journal(&self, entries: &[(u64, Op)]) -> Result<(), StorageError> {
        self.check_writable()?;
        if entries.is_empty() {
            return Ok(());
        }

        let txn = self.begin_durable_write()?;
        let next = {
            let mut meta = txn.open_table(META)?;
            // The copy in `meta`, read under redb's single-writer lock, is the one to check
            // against: two threads appending through `&self` are serialized here.
            let mut next = meta_get(&meta, META_JOURNAL_NEXT, decode_u64)?.ok_or_else(|| {
                corrupt(META_TABLE, META_JOURNAL_NEXT)("missing in an open database".into())
            })?;
            for &(seq, _) in entries {
                // u64::MAX is refused: no sequence number could come after it.
                if seq < next || seq == u64::MAX {
                    return Err(StorageError::JournalOutOfOrder { next, got: seq });
                }
                next = seq + 1;
            }
            let mut journal = txn.open_table(JOURNAL)?;
            for (seq, op) in entries {
                journal.insert(*seq, records::encode(op).as_slice())?;
            }
            meta.insert(META_JOURNAL_NEXT, next.to_be_bytes().as_slice())?;
            next
        };
        self.commit(txn)?;

        // `fetch_max`: a concurrent append may have committed after this one and stored a
        // larger value already.
        self.journal_next.fetch_max(next, Ordering::SeqCst);
        Ok(())
    }

    /// Every journal entry, in sequence order: what the sequencer replays after a restart.
    pub fn journal(&self) -> Result<Vec<(u64, Op)>, StorageError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(JOURNAL)?;
        table
            .iter()?
            .map(|entry| {
                let (key, value) = entry?;
                let seq = key.value();
                let op = records::decode(value.value()).map_err(corrupt(JOURNAL_TABLE, seq))?;
                Ok((seq, op))
            })
            .collect()
    }

    /// Durably deletes the journal entries `seqs` in one redb transaction, for ops the
    /// sequencer drops without executing them (an expired parked op, say). Ops that go into a
    /// block are consumed by [`commit_block_consuming`](Self::commit_block_consuming) instead.
    ///
    /// Refused with [`StorageError::JournalEntryMissing`], with nothing written, unless every
    /// seq is in the journal, once. [`journal_next`](Self::journal_next) does not move.
    pub fn remove_journal(&self, seqs: &[u64]) -> Result<(), StorageError> {
        self.check_writable()?;
        if seqs.is_empty() {
            return Ok(());
        }
        let txn = self.begin_durable_write()?;
        remove_journal_entries(&txn, seqs)?;
        self.commit(txn)
    }

    /// The L1 context last stored by [`put_l1_context`](Self::put_l1_context), `None` before.
    pub fn l1_context(&self) -> Result<Option<L1Context>, StorageError> {
        let txn = self.db.begin_read()?;
        let meta = txn.open_table(META)?;
        meta_get(&meta, META_L1_CONTEXT, |bytes| records::decode(bytes))
    }

    /// Durably replaces the stored L1 context. Takes `&self` like the journal appends: the
    /// sequencer writes it between blocks, before any op accepted under it is acknowledged.
    pub fn put_l1_context(&self, context: &L1Context) -> Result<(), StorageError> {
        self.check_writable()?;
        let txn = self.begin_durable_write()?;
        txn.open_table(META)?
            .insert(META_L1_CONTEXT, records::encode(context).as_slice())?;
        self.commit(txn)
    }

    /// Where the op with hash `hash` ([`Op::hash`]) was committed: `(block number, index in
    /// the block's ops)`. For ops committed more than once (equal hashes), the first place.
    pub fn find_op(&self, hash: &B256) -> Result<Option<(u64, u32)>, StorageError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(OP_INDEX)?;
        let Some(found) = table.get(&hash.0)? else {
            return Ok(None);
        };
        let (number, index) = found.value();
        self.check_indexed_block(OP_INDEX_TABLE, hash, number)?;
        Ok(Some((number, index)))
    }

    /// The number of the committed block with hash `hash` ([`BlockRecord::hash`]).
    pub fn block_number_by_hash(&self, hash: &B256) -> Result<Option<u64>, StorageError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(BLOCK_HASHES)?;
        let Some(found) = table.get(&hash.0)? else {
            return Ok(None);
        };
        let number = found.value();
        self.check_indexed_block(BLOCK_HASHES_TABLE, hash, number)?;
        Ok(Some(number))
    }

    /// The committed block `number`, if there is one.
    pub fn block(&self, number: u64) -> Result<Option<BlockRecord>, StorageError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(BLOCKS)?;
        let Some(bytes) = table.get(number)? else {
            return Ok(None);
        };
        decode_block(number, bytes.value()).map(Some)
    }

    /// Durably stores `batch`.
    ///
    /// Refused, with nothing written, unless it is the next batch number, starts right after
    /// the previous batch's last block (at [`FIRST_BLOCK`] for the first batch), ends at a
    /// committed block no earlier than it starts, and carries the old root of its first block
    /// and the new root of its last. A failure of redb's commit poisons the handle, as for
    /// [`commit_block`](Self::commit_block).
    pub fn put_batch(&mut self, batch: &BatchRecord) -> Result<(), StorageError> {
        self.check_writable()?;
        let expected = self.latest_batch.map_or(FIRST_BATCH, |(n, _)| n + 1);
        if batch.number != expected {
            return Err(StorageError::BatchOutOfOrder {
                expected,
                got: batch.number,
            });
        }
        let first_block = self.latest_batch.map_or(FIRST_BLOCK, |(_, last)| last + 1);
        if batch.first_block != first_block {
            return Err(StorageError::InvalidBatch(format!(
                "batch {} starts at block {}, expected block {first_block}",
                batch.number, batch.first_block
            )));
        }
        if batch.last_block < batch.first_block
            || self
                .latest_block
                .is_none_or(|latest| batch.last_block > latest)
        {
            return Err(StorageError::InvalidBatch(format!(
                "batch {} covers blocks {}..={}, but blocks up to {:?} are committed",
                batch.number, batch.first_block, batch.last_block, self.latest_block
            )));
        }
        let first = self.committed_block(batch.first_block)?;
        let last = self.committed_block(batch.last_block)?;
        if batch.old_root != first.old_root || batch.new_root != last.new_root {
            return Err(StorageError::InvalidBatch(format!(
                "batch {} roots differ from those of blocks {} and {}",
                batch.number, batch.first_block, batch.last_block
            )));
        }
        let record = records::encode(batch);

        let txn = self.begin_durable_write()?;
        txn.open_table(BATCHES)?
            .insert(batch.number, record.as_slice())?;
        self.commit(txn)?;

        self.latest_batch = Some((batch.number, batch.last_block));
        Ok(())
    }

    /// The stored batch `number`, if there is one.
    pub fn batch(&self, number: u64) -> Result<Option<BatchRecord>, StorageError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(BATCHES)?;
        let Some(bytes) = table.get(number)? else {
            return Ok(None);
        };
        decode_batch(number, bytes.value()).map(Some)
    }

    fn check_block(&self, block: &BlockRecord, diff: &StateDiff) -> Result<(), StorageError> {
        let expected = self.latest_block.map_or(FIRST_BLOCK, |n| n + 1);
        if block.number != expected {
            return Err(StorageError::BlockOutOfOrder {
                expected,
                got: block.number,
            });
        }
        let current = self.state.root();
        if diff.old_root != current {
            return Err(StorageError::OldRootMismatch {
                current,
                diff: diff.old_root,
            });
        }
        let invalid = |reason: String| Err(StorageError::InvalidBlock(reason));
        if block.old_root != diff.old_root || block.new_root != diff.new_root {
            return invalid(format!(
                "block {} roots differ from its diff's",
                block.number
            ));
        }
        if block.account_count != diff.account_count {
            return invalid(format!(
                "block {} says {} accounts, its diff {}",
                block.number, block.account_count, diff.account_count
            ));
        }
        // `op_index` stores an op's place in its block as a u32.
        if u32::try_from(block.ops.len()).is_err() {
            return invalid(format!(
                "block {} has {} ops",
                block.number,
                block.ops.len()
            ));
        }

        let mut next_new = self.state.account_count();
        let mut addresses = HashSet::with_capacity(diff.accounts.len());
        for (&id, account) in &diff.accounts {
            let existing = self.state.account(id);
            if existing.is_none() {
                if id.get() != next_new {
                    return invalid(format!(
                        "account {id} created out of order: the next new account is {next_new}"
                    ));
                }
                next_new += 1;
            }
            // Addresses are immutable and unique: the address index rebuilt on load must be
            // the one in memory, or the file would not reopen.
            if existing.is_some_and(|old| old.address != account.address) {
                return invalid(format!("account {id} changes its address"));
            }
            let owner = self.state.account_id(&account.address);
            if owner.is_some_and(|owner| owner != id) || !addresses.insert(account.address) {
                return invalid(format!(
                    "address {} given to account {id} is already used",
                    account.address
                ));
            }
        }
        if next_new != diff.account_count {
            return invalid(format!(
                "diff says {} accounts, its accounts make {next_new}",
                diff.account_count
            ));
        }
        for (&(account, token), &balance) in &diff.balances {
            if account.get() >= diff.account_count {
                return invalid(format!("balance of missing account {}", account.get()));
            }
            if balance > MAX_BALANCE {
                return invalid(format!(
                    "balance {balance} of account {} token {} above the maximum",
                    account.get(),
                    token.get()
                ));
            }
        }
        let mut root_written = None;
        for (key, value) in &diff.nodes {
            check_node_key(key, diff.account_count)
                .map_err(|reason| StorageError::InvalidBlock(format!("node {key:?}: {reason}")))?;
            if *key == ROOT_KEY {
                root_written = Some(*value);
            }
        }
        if root_written.unwrap_or(current) != diff.new_root {
            return invalid("the diff's new root is not the root its nodes write".into());
        }
        Ok(())
    }

    /// Checks that the block's priority ops continue the L1 queue without gap or repeat (the
    /// L1 contract consumes them strictly in order, so a gap here is a sequencer bug that
    /// would otherwise surface only when the batch is refused on L1), and returns the
    /// `next_priority_op` after the block.
    fn check_priority_ops(&self, block: &BlockRecord) -> Result<u64, StorageError> {
        let mut expected = self.next_priority_op;
        for op in &block.ops {
            let got = match op {
                Op::Deposit(deposit) => deposit.priority_id,
                Op::FullExit(exit) => exit.priority_id,
                Op::Noop | Op::Transfer(_) | Op::Withdraw(_) | Op::ChangePubKey(_) => continue,
            };
            if got != expected {
                return Err(StorageError::PriorityOutOfOrder { expected, got });
            }
            expected = expected.checked_add(1).ok_or_else(|| {
                StorageError::InvalidBlock(format!("priority id {got} leaves no next id"))
            })?;
        }
        Ok(expected)
    }

    /// An index entry must point at a committed block; anything else is a corrupt file.
    fn check_indexed_block(
        &self,
        table: &'static str,
        hash: &B256,
        number: u64,
    ) -> Result<(), StorageError> {
        // A written block not yet applied is in the file, and so are its index entries.
        let in_file = match (self.latest_block, self.unapplied.load(Ordering::SeqCst)) {
            (latest, false) => latest,
            (latest, true) => Some(latest.map_or(FIRST_BLOCK, |n| n + 1)),
        };
        if number < FIRST_BLOCK || in_file.is_none_or(|latest| number > latest) {
            return Err(corrupt(table, hash)(format!(
                "points at block {number}, but blocks up to {in_file:?} are written"
            )));
        }
        Ok(())
    }

    /// A history entry must lie between the start of the history and the latest block.
    fn check_history_entry(&self, at: u64) -> Result<(), String> {
        history_entry_in_range(at, self.history_from, self.latest_block)
    }

    /// A block that must exist because its number is at most the latest block.
    fn committed_block(&self, number: u64) -> Result<BlockRecord, StorageError> {
        self.block(number)?.ok_or_else(|| StorageError::Corrupt {
            table: "blocks",
            key: number.to_string(),
            reason: "committed block missing".into(),
        })
    }

    fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::SeqCst)
    }

    fn check_writable(&self) -> Result<(), StorageError> {
        if self.is_poisoned() {
            return Err(StorageError::Poisoned);
        }
        Ok(())
    }

    fn begin_durable_write(&self) -> Result<WriteTransaction, StorageError> {
        begin_durable_write(&self.db)
    }

    /// Commits `txn`, poisoning the handle if redb fails: the outcome on disk is then unknown.
    fn commit(&self, txn: WriteTransaction) -> Result<(), StorageError> {
        txn.commit().map_err(|e| {
            self.poisoned.store(true, Ordering::SeqCst);
            e.into()
        })
    }
}

/// Deletes the journal entries `seqs` inside `txn`. On a missing one it returns the error and
/// the caller drops `txn`, which aborts it: nothing of the call reaches the disk.
fn remove_journal_entries(txn: &WriteTransaction, seqs: &[u64]) -> Result<(), StorageError> {
    let mut journal = txn.open_table(JOURNAL)?;
    for &seq in seqs {
        // A seq listed twice finds its entry gone the second time, and is refused as missing.
        if journal.remove(seq)?.is_none() {
            return Err(StorageError::JournalEntryMissing { seq });
        }
    }
    Ok(())
}

/// A write transaction that is on disk when `commit` returns, using two-phase commit: redb's
/// protection against a commit slot that checksums correctly but was only partly flushed.
fn begin_durable_write(db: &redb::Database) -> Result<WriteTransaction, StorageError> {
    let mut txn = db.begin_write()?;
    txn.set_durability(Durability::Immediate)?;
    txn.set_two_phase_commit(true);
    Ok(txn)
}

/// What [`init`] found in the file.
enum Format {
    /// [`FORMAT_VERSION`], created now or earlier.
    Current,
    /// [`UPGRADABLE_VERSION`]: to upgrade once loaded.
    Upgradable,
}

/// Creates the tables and stamps the format version in a new file; checks it in an old one.
fn init(db: &redb::Database) -> Result<Format, StorageError> {
    let txn = begin_durable_write(db)?;
    let (fresh, format) = {
        let nodes = txn.open_table(NODES)?;
        let accounts = txn.open_table(ACCOUNTS)?;
        let balances = txn.open_table(BALANCES)?;
        let blocks = txn.open_table(BLOCKS)?;
        let batches = txn.open_table(BATCHES)?;
        let journal = txn.open_table(JOURNAL)?;
        let op_index = txn.open_table(OP_INDEX)?;
        let block_hashes = txn.open_table(BLOCK_HASHES)?;
        let mut meta = txn.open_table(META)?;
        match meta_get(&meta, META_VERSION, decode_u32)? {
            Some(FORMAT_VERSION) => (false, Format::Current),
            // Aborted below, so the history tables opened next are not created yet: `upgrade`
            // creates them in the transaction that stamps the new version.
            Some(UPGRADABLE_VERSION) => (false, Format::Upgradable),
            Some(found) => {
                return Err(StorageError::UnsupportedVersion {
                    found,
                    supported: FORMAT_VERSION,
                });
            }
            None => {
                let empty = nodes.is_empty()?
                    && accounts.is_empty()?
                    && balances.is_empty()?
                    && blocks.is_empty()?
                    && batches.is_empty()?
                    && journal.is_empty()?
                    && op_index.is_empty()?
                    && block_hashes.is_empty()?
                    && txn.open_table(BALANCE_HISTORY)?.is_empty()?
                    && txn.open_table(NONCE_HISTORY)?.is_empty()?
                    && meta.is_empty()?;
                if !empty {
                    return Err(corrupt(META_TABLE, META_VERSION)(
                        "missing in a non-empty database".into(),
                    ));
                }
                meta.insert(META_VERSION, FORMAT_VERSION.to_be_bytes().as_slice())?;
                // Stored from the start rather than defaulted when absent, so that a lost
                // entry is a corrupt file instead of a silent reset to 0 (which would let
                // journal sequence numbers be reused).
                meta.insert(META_JOURNAL_NEXT, 0u64.to_be_bytes().as_slice())?;
                meta.insert(META_NEXT_PRIORITY_OP, 0u64.to_be_bytes().as_slice())?;
                // A new file keeps history from the empty state on.
                meta.insert(META_HISTORY_FROM, 0u64.to_be_bytes().as_slice())?;
                (true, Format::Current)
            }
        }
    };
    if fresh {
        txn.commit()?;
    } else {
        txn.abort()?;
    }
    Ok(format)
}

/// Reads and checks `meta.history_from` of a current file, with spot checks of the history
/// tables that cost a few reads (crate docs, invariant 5); the entries as a whole are
/// range-checked when read.
fn load_history(
    db: &redb::Database,
    latest_block: Option<u64>,
    account_count: u32,
) -> Result<u64, StorageError> {
    let txn = db.begin_read()?;
    let meta = txn.open_table(META)?;
    let history_from = meta_get(&meta, META_HISTORY_FROM, decode_u64)?
        .ok_or_else(|| corrupt(META_TABLE, META_HISTORY_FROM)("missing".into()))?;
    if history_from > latest_block.unwrap_or(0) {
        return Err(corrupt(META_TABLE, META_HISTORY_FROM)(format!(
            "{history_from}, beyond the latest block {latest_block:?}"
        )));
    }
    // The last key of each table names its largest account: it must exist, and the entry's
    // block must be inside the history.
    let balances = txn.open_table(BALANCE_HISTORY)?;
    if let Some((key, _)) = balances.last()? {
        let (account, token, at) = key.value();
        let bad = corrupt(BALANCE_HISTORY_TABLE, format!("({account}, {token}, {at})"));
        if account >= account_count {
            return Err(bad(format!("only {account_count} accounts exist")));
        }
        history_entry_in_range(at, history_from, latest_block).map_err(bad)?;
    }
    let nonces = txn.open_table(NONCE_HISTORY)?;
    if let Some((key, _)) = nonces.last()? {
        let (account, at) = key.value();
        let bad = corrupt(NONCE_HISTORY_TABLE, format!("({account}, {at})"));
        if account >= account_count {
            return Err(bad(format!("only {account_count} accounts exist")));
        }
        history_entry_in_range(at, history_from, latest_block).map_err(bad)?;
    }
    Ok(history_from)
}

/// A history entry of block `at` is written with block `at` (`history_from <= at`, the
/// upgrade's snapshot being at `history_from` itself) and a block is never uncommitted, so it
/// lies between `history_from` and the latest block.
fn history_entry_in_range(at: u64, history_from: u64, latest: Option<u64>) -> Result<(), String> {
    if at < history_from || latest.is_none_or(|latest| at > latest) {
        return Err(format!(
            "entry of block {at}, outside the history from block {history_from} to the latest \
             block {latest:?}"
        ));
    }
    Ok(())
}

/// Upgrades a loaded version-2 file to [`FORMAT_VERSION`] in one durable transaction: creates
/// the history tables holding every non-zero balance and nonce of `state` (the state after
/// `latest_block`) as entries of that block, records it as `history_from` and stamps the
/// version. Returns `history_from`.
///
/// The earlier blocks' states are not rebuilt (that would replay every block); zeros need no
/// entry, since a value without an entry at or before a block is 0 there.
fn upgrade(
    db: &redb::Database,
    state: &MemoryState,
    latest_block: Option<u64>,
) -> Result<u64, StorageError> {
    let from = latest_block.unwrap_or(0);
    let txn = begin_durable_write(db)?;
    {
        let mut balances = txn.open_table(BALANCE_HISTORY)?;
        let mut nonces = txn.open_table(NONCE_HISTORY)?;
        // Only a file written by another program could hold them: a version-2 build never
        // created these tables.
        if !balances.is_empty()? || !nonces.is_empty()? {
            return Err(corrupt(BALANCE_HISTORY_TABLE, "*")(format!(
                "history tables hold entries in a version-{UPGRADABLE_VERSION} file"
            )));
        }
        // `from` is a committed block whenever the state is not empty: the snapshot's entries
        // pass the range check on read.
        for ((account, token), balance) in state.balances() {
            balances.insert((account.get(), token.get(), from), balance)?;
        }
        for (id, account) in state.accounts() {
            if account.nonce != 0 {
                nonces.insert((id.get(), from), account.nonce)?;
            }
        }
        let mut meta = txn.open_table(META)?;
        meta.insert(META_HISTORY_FROM, from.to_be_bytes().as_slice())?;
        meta.insert(META_VERSION, FORMAT_VERSION.to_be_bytes().as_slice())?;
    }
    txn.commit()?;
    Ok(from)
}

struct Loaded {
    state: MemoryState,
    latest_block: Option<u64>,
    latest_batch: Option<(u64, u64)>,
    next_priority_op: u64,
    journal_next: u64,
}

/// Reads and checks every table (crate docs, invariant 5).
fn load(db: &redb::Database) -> Result<Loaded, StorageError> {
    let txn = db.begin_read()?;

    let meta = txn.open_table(META)?;
    let latest_block = meta_get(&meta, META_LATEST_BLOCK, decode_u64)?;
    let meta_root = meta_get(&meta, META_STATE_ROOT, decode_fr)?;
    let account_count = meta_get(&meta, META_ACCOUNT_COUNT, decode_u32)?;
    if latest_block.is_some() != meta_root.is_some()
        || latest_block.is_some() != account_count.is_some()
    {
        return Err(corrupt(META_TABLE, META_LATEST_BLOCK)(
            "latest block, state root and account count must be all present or all absent".into(),
        ));
    }
    let account_count = account_count.unwrap_or(0);
    let required = |key: &'static str| -> Result<u64, StorageError> {
        meta_get(&meta, key, decode_u64)?.ok_or_else(|| corrupt(META_TABLE, key)("missing".into()))
    };
    let journal_next = required(META_JOURNAL_NEXT)?;
    let next_priority_op = required(META_NEXT_PRIORITY_OP)?;

    let table = txn.open_table(ACCOUNTS)?;
    let mut accounts = Vec::with_capacity(usize::try_from(table.len()?).unwrap_or(0));
    let mut addresses: HashSet<Address> = HashSet::with_capacity(accounts.capacity());
    for entry in table.iter()? {
        let (key, value) = entry?;
        let id = key.value();
        let bad = corrupt(ACCOUNTS_TABLE, id);
        if usize::try_from(id).ok() != Some(accounts.len()) {
            return Err(bad(format!("expected account {} next", accounts.len())));
        }
        AccountId::new(id).map_err(|e| bad(e.to_string()))?;
        let account = decode_account(value.value()).map_err(&bad)?;
        if !addresses.insert(account.address) {
            return Err(bad(format!("address {} used twice", account.address)));
        }
        accounts.push(account);
    }
    drop(addresses);
    if u32::try_from(accounts.len()).ok() != Some(account_count) {
        return Err(corrupt(META_TABLE, META_ACCOUNT_COUNT)(format!(
            "{account_count} accounts recorded, {} stored",
            accounts.len()
        )));
    }

    let table = txn.open_table(BALANCES)?;
    let mut balances = HashMap::with_capacity(usize::try_from(table.len()?).unwrap_or(0));
    for entry in table.iter()? {
        let (key, value) = entry?;
        let (account, token) = key.value();
        let bad = corrupt(BALANCES_TABLE, format!("({account}, {token})"));
        if account >= account_count {
            return Err(bad(format!("only {account_count} accounts exist")));
        }
        let account = AccountId::new(account).map_err(|e| bad(e.to_string()))?;
        let token = TokenId::new(token).map_err(|e| bad(e.to_string()))?;
        let balance = decode_balance(value.value()).map_err(&bad)?;
        balances.insert((account, token), balance);
    }

    let table = txn.open_table(NODES)?;
    let mut nodes = MemoryStore::new();
    let mut chunk = Vec::with_capacity(LOAD_CHUNK);
    for entry in table.iter()? {
        let (key, value) = entry?;
        let node = NodeKey::from_bytes(key.value());
        let bad = corrupt(NODES_TABLE, format!("{node:?}"));
        check_node_key(&node, account_count).map_err(&bad)?;
        chunk.push((node, decode_fr(value.value()).map_err(&bad)?));
        if chunk.len() == LOAD_CHUNK {
            nodes.apply(&chunk);
            chunk.clear();
        }
    }
    nodes.apply(&chunk);
    drop(chunk);

    let blocks = txn.open_table(BLOCKS)?;
    let first_stored = blocks.first()?.map(|(k, _)| k.value());
    let last_stored = blocks.last()?.map(|(k, _)| k.value());
    let block_count = blocks.len()?;
    let state = match latest_block {
        None => {
            if last_stored.is_some() || !nodes.is_empty() || !balances.is_empty() {
                return Err(corrupt(META_TABLE, META_LATEST_BLOCK)(
                    "no block recorded, but blocks or state are stored".into(),
                ));
            }
            MemoryState::from_parts(accounts, balances, nodes)
        }
        Some(latest) => {
            let contiguous = first_stored == Some(FIRST_BLOCK)
                && last_stored == Some(latest)
                && latest
                    .checked_sub(FIRST_BLOCK)
                    .and_then(|d| d.checked_add(1))
                    == Some(block_count);
            if !contiguous {
                return Err(corrupt(BLOCKS_TABLE, latest)(format!(
                    "latest block {latest}, but {block_count} blocks stored from {first_stored:?} \
                     to {last_stored:?}"
                )));
            }
            let (record, hash) = match blocks.get(latest)? {
                Some(bytes) => (
                    decode_block(latest, bytes.value())?,
                    keccak256(bytes.value()),
                ),
                None => return Err(corrupt(BLOCKS_TABLE, latest)("missing".into())),
            };
            // Cheap spot checks of what the latest commit wrote beside the block; the indexes
            // as a whole are not rechecked (that is a pass over every block and op).
            let indexed = txn
                .open_table(BLOCK_HASHES)?
                .get(&hash.0)?
                .map(|n| n.value());
            if indexed != Some(latest) {
                return Err(corrupt(BLOCK_HASHES_TABLE, hash)(format!(
                    "the latest block {latest} is indexed as {indexed:?}"
                )));
            }
            let last_priority = record.ops.iter().rev().find_map(|op| match op {
                Op::Deposit(deposit) => Some(deposit.priority_id),
                Op::FullExit(exit) => Some(exit.priority_id),
                Op::Noop | Op::Transfer(_) | Op::Withdraw(_) | Op::ChangePubKey(_) => None,
            });
            if last_priority.is_some_and(|id| id.checked_add(1) != Some(next_priority_op)) {
                return Err(corrupt(META_TABLE, META_NEXT_PRIORITY_OP)(format!(
                    "{next_priority_op}, but the latest block's last priority op is \
                     {last_priority:?}"
                )));
            }
            let state = MemoryState::from_parts(accounts, balances, nodes);
            let tree = state.root();
            for recorded in [record.new_root, meta_root.unwrap_or(record.new_root)] {
                if recorded != tree {
                    return Err(StorageError::RootMismatch {
                        block: Some(latest),
                        recorded,
                        tree,
                    });
                }
            }
            state
        }
    };

    let block_hashes = txn.open_table(BLOCK_HASHES)?.len()?;
    if block_hashes != block_count {
        return Err(corrupt(BLOCK_HASHES_TABLE, "*")(format!(
            "{block_hashes} block hashes for {block_count} blocks"
        )));
    }
    if latest_block.is_none() && !txn.open_table(OP_INDEX)?.is_empty()? {
        return Err(corrupt(OP_INDEX_TABLE, "*")(
            "ops indexed, but no block".into(),
        ));
    }

    let journal = txn.open_table(JOURNAL)?;
    if let Some((last, _)) = journal.last()? {
        let last = last.value();
        if last >= journal_next {
            return Err(corrupt(JOURNAL_TABLE, last)(format!(
                "at or beyond `journal_next` {journal_next}"
            )));
        }
    }

    let batches = txn.open_table(BATCHES)?;
    let latest_batch = match batches.last()? {
        None => None,
        Some((key, bytes)) => {
            let number = key.value();
            let first = batches.first()?.map(|(k, _)| k.value());
            let count = batches.len()?;
            if first != Some(FIRST_BATCH)
                || number
                    .checked_sub(FIRST_BATCH)
                    .and_then(|d| d.checked_add(1))
                    != Some(count)
            {
                return Err(corrupt(BATCHES_TABLE, number)(format!(
                    "{count} batches stored from {first:?} to {number}"
                )));
            }
            let batch = decode_batch(number, bytes.value())?;
            if latest_block.is_none_or(|latest| batch.last_block > latest) {
                return Err(corrupt(BATCHES_TABLE, number)(format!(
                    "covers blocks up to {}, beyond the latest block {latest_block:?}",
                    batch.last_block
                )));
            }
            Some((number, batch.last_block))
        }
    };

    Ok(Loaded {
        state,
        latest_block,
        latest_batch,
        next_priority_op,
        journal_next,
    })
}

fn decode_block(number: u64, bytes: &[u8]) -> Result<BlockRecord, StorageError> {
    let bad = corrupt(BLOCKS_TABLE, number);
    let block: BlockRecord = records::decode(bytes).map_err(&bad)?;
    if block.number != number {
        return Err(bad(format!("record of block {} stored here", block.number)));
    }
    Ok(block)
}

fn decode_batch(number: u64, bytes: &[u8]) -> Result<BatchRecord, StorageError> {
    let bad = corrupt(BATCHES_TABLE, number);
    let batch: BatchRecord = records::decode(bytes).map_err(&bad)?;
    if batch.number != number {
        return Err(bad(format!("record of batch {} stored here", batch.number)));
    }
    Ok(batch)
}

fn meta_get<T>(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &'static str,
    decode: fn(&[u8]) -> Result<T, String>,
) -> Result<Option<T>, StorageError> {
    match meta.get(key)? {
        None => Ok(None),
        Some(bytes) => decode(bytes.value())
            .map(Some)
            .map_err(corrupt(META_TABLE, key)),
    }
}

/// Builds the [`StorageError::Corrupt`] for one record from a reason.
fn corrupt(table: &'static str, key: impl Display) -> impl Fn(String) -> StorageError {
    let key = key.to_string();
    move |reason| StorageError::Corrupt {
        table,
        key: key.clone(),
        reason,
    }
}

/// Reads are served from the in-memory copy of what the file holds, which [`Database::open`]
/// checked against the stored root and every commit keeps equal to the file.
impl causeway_tree::NodeStore for Database {
    fn node(&self, key: &NodeKey) -> Option<causeway_primitives::Fr> {
        self.state.node(key)
    }
}

impl StateView for Database {
    fn account(&self, id: AccountId) -> Option<causeway_stf::AccountState> {
        self.state.account(id)
    }

    fn account_id(&self, address: &Address) -> Option<AccountId> {
        self.state.account_id(address)
    }

    fn balance(&self, id: AccountId, token: TokenId) -> causeway_primitives::Balance {
        self.state.balance(id, token)
    }

    fn account_count(&self) -> u32 {
        self.state.account_count()
    }
}
