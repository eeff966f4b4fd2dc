//! Causeway's durable state: the only crate that touches the disk.
//!
//! This crate owns one redb file holding the committed L2 state (tree nodes, accounts,
//! balances), the history of every balance and nonce (their value after each block that
//! changed them), every committed block and every batch, the sequencer's mempool journal,
//! indexes from op and block hashes to blocks, and the [`Database`] handle that loads it and
//! appends to it. It does not execute anything: the stf turns a block into a
//! [`StateDiff`](causeway_stf::StateDiff), and [`Database::commit_block`] makes that diff durable.
//!
//! # Model
//!
//! The whole state lives in memory (a [`MemoryState`](causeway_stf::MemoryState)); the file is
//! its write-ahead copy. [`Database::open`] reads every table once, checks it and builds the
//! in-memory state; after that, state reads never touch the disk, and each commit writes one
//! block's diff. Block and batch records are read from the file on demand, and so is the state
//! at a past block ([`Database::balance_at`], [`Database::nonce_at`]): the history is not kept
//! in memory.
//!
//! Known limit: the state must fit in RAM. By arithmetic, not measurement: an account with one
//! token costs about 12 tree nodes (its leaf, its share of the account tree's internal nodes,
//! and its 6-node balance-tree path) at roughly 60 bytes each in a `HashMap`, plus the account
//! record and address index, so about 0.5 KB, i.e. ~500 MB for 1M accounts.
//!
//! The history tables only grow: one row (a 14- or 12-byte key and a 16- or 4-byte value,
//! plus redb's B-tree overhead) per balance or nonce a block changes; nothing prunes them.
//!
//! # Invariants (where money can be lost)
//!
//! 1. **One block, one transaction.** [`Database::commit_block_consuming`] (and
//!    [`Database::commit_block`], which consumes nothing) writes the block's node writes,
//!    accounts, balances, their history entries, the block record, its `op_index` and `block_hashes` entries, the
//!    deletion of the journal entries it consumed and the `meta` entries (latest block, state
//!    root, account count, next priority op) in a single redb write transaction committed with
//!    [`Durability::Immediate`](redb::Durability::Immediate) and two-phase commit. After a crash
//!    at any instant the file holds exactly the state after some block `n`, the records and
//!    index entries of blocks up to `n`, and the journal minus exactly what blocks up to `n`
//!    consumed, never a mix: redb commits are atomic.
//! 2. **Durable before acknowledged.** When `commit_block` returns `Ok`, the block is on disk
//!    (as far as `fsync` guarantees) and only then is the in-memory state updated. Reporting a
//!    block as committed to anyone (RPC, L1 submitter) must wait for that `Ok`.
//!    [`Database::write_block_consuming`] splits a commit in two for a pipelined sequencer: the
//!    same transaction through `&self`, then [`Database::apply_written`] updates memory. In
//!    between, the file is one block ahead of memory and no other block can be written.
//! 3. **Strict order.** Blocks are committed in order `1, 2, 3, …` ([`FIRST_BLOCK`] is 1; the
//!    state before it is the empty state), a block's diff must start from the current state
//!    root, and its priority ops (deposits, full exits) must carry the ids
//!    [`Database::next_priority_op`], +1, +2, …, as the L1 contract consumes them. Anything
//!    else is refused with a typed error *before* any write, so a refused commit changes
//!    nothing, on disk or in memory.
//! 4. **Failed commits poison.** If redb fails while committing, the transaction may or may not
//!    have reached the disk. The handle then refuses every further write, journal writes
//!    included ([`StorageError::Poisoned`]); reopening the file is the only way to learn which
//!    it was. Validation errors ([`StorageError::BlockOutOfOrder`] and the like) do not poison.
//! 5. **Checked on load.** `open` verifies that every record decodes and is in range, that the
//!    accounts are exactly `0..account_count`, that the recorded root of the latest block, the
//!    `meta` root and the account-tree root node agree, and that no block record lies beyond the
//!    latest block, that every block has one `block_hashes` entry and the latest block's is
//!    its hash, that the latest block's last priority op (if any) is `next_priority_op - 1`,
//!    that every journal key is below `journal_next`, that `history_from` is at most the
//!    latest block, and that the last entry of each history table names an existing account
//!    and a block inside the history. Bad data is a [`StorageError`],
//!    never a panic. It does not rehash the trees (that costs ~one Poseidon per stored node)
//!    nor rebuild the indexes (a pass over every block); a full recomputation is for tests and
//!    audits. Journal entries are decoded by [`Database::journal`], index and history entries
//!    are range-checked when read.
//! 6. **One writer.** redb locks the file: a second `open` of the same file, in this process or
//!    another, fails with [`StorageError::Db`] rather than interleaving writes.
//!
//! 7. **The journal is a write-ahead log.** [`Database::append_journal`] writes a group of
//!    accepted ops in one durable transaction; the sequencer acknowledges an op only after that
//!    returns `Ok`, so every acknowledged op is either still in the journal or in a committed
//!    block (consumed in the block's own transaction, invariant 1), or was dropped on purpose
//!    ([`Database::remove_journal`]). Sequence numbers strictly increase and are never reused:
//!    `meta.journal_next` (1 + the largest ever appended) survives consumption and reopening,
//!    and every append must start at or above it.
//! 8. **Indexes answer first.** `op_index` maps [`Op::hash`](causeway_primitives::Op::hash) to
//!    where the op was committed; ops with equal hashes (every `Noop`, or a repeated priority
//!    op) keep the *first* place, so an answer never changes once given. `block_hashes` maps
//!    [`BlockRecord::hash`] to the block number.
//! 9. **History is complete from `history_from`.** Every block commit writes, for each balance
//!    and each nonce its diff changes (compared with the state before the block), one history
//!    entry keyed by the block's number holding the value after the block; a value the block
//!    leaves unchanged gets none. So for every block `N` from [`Database::history_from`] to
//!    the latest, a value after block `N` is that of its latest entry at or before `N`, or 0
//!    without one: the empty state is all zeros, and an account created at block `k` has no
//!    entry before `k`. A file created by this version keeps history from the empty state
//!    (`history_from` = 0, block 0 naming the state before [`FIRST_BLOCK`]). A version-2 file
//!    kept none; opening it upgrades it in one transaction that writes the state it holds as
//!    entries of its latest block `L` and sets `history_from` = `L`: reads of blocks from `L`
//!    on are exact, earlier ones are refused ([`StorageError::HistoryUnavailable`]), never
//!    answered with a guess.
//!
//! Batches ([`Database::put_batch`]) are written in their own transaction, after the blocks
//! they cover, with the same durability; a batch may only cover committed blocks, follows the
//! previous batch without gap or overlap, and its roots must match those blocks' roots.
//!
//! # Tables and encodings
//!
//! Integers inside byte values are big-endian; keys and values typed `u64`, `u32` or as
//! tuples use redb's own fixed-width encodings. Field elements are 32-byte big-endian
//! canonical encodings (`fr_to_be_bytes`); a non-canonical one on disk is a corrupt record.
//!
//! | table | key | value |
//! |---|---|---|
//! | `nodes` | 13-byte [`NodeKey::to_bytes`](causeway_tree::NodeKey::to_bytes): tree u32 ‖ height u8 ‖ index u64 | node hash, 32 bytes |
//! | `accounts` | account id, `u32` | address (20) ‖ nonce u32 (4) ‖ 0x00, or 0x01 ‖ pk_x (32) ‖ pk_y (32): 25 or 89 bytes |
//! | `balances` | `(account id u32, token id u16)` | balance u128, 16 bytes; zero balances are deleted, never stored |
//! | `blocks` | block number, `u64` | [`BlockRecord`] in postcard 1.x |
//! | `batches` | batch number, `u64` | [`BatchRecord`] in postcard 1.x |
//! | `journal` | sequence number, `u64` | the accepted [`Op`](causeway_primitives::Op) in postcard 1.x |
//! | `op_index` | [`Op::hash`](causeway_primitives::Op::hash), 32 bytes | `(block number u64, index in the block's ops u32)` |
//! | `block_hashes` | [`BlockRecord::hash`] = keccak256 of the `blocks` value, 32 bytes | block number, `u64` |
//! | `balance_history` | `(account id u32, token id u16, block number u64)` | the balance after that block, `u128` (zero included) |
//! | `nonce_history` | `(account id u32, block number u64)` | the nonce after that block, `u32` |
//! | `meta` | `&str` | `version`: u32 ([`FORMAT_VERSION`]); `latest_block`: u64; `state_root`: 32 bytes; `account_count`: u32; `journal_next`: u64; `next_priority_op`: u64; `history_from`: u64; `l1_context`: [`L1Context`] in postcard 1.x |
//!
//! The history keys put one value's entries side by side in block order, so the value after
//! block `N` is the last entry of the range `(…, 0)..=(…, N)`: one reverse range read.
//!
//! `journal_next` and `next_priority_op` are written (as 0) when the file is created, and are
//! present in every file of version 2 or later; `history_from` in every version-3 file. `l1_context` is written by the sequencer when L1 first
//! reports a token listing or key authorization ([`Database::put_l1_context`]); without it the
//! context is ETH only and no authorizations.
//!
//! A node absent from `nodes` is the empty-subtree hash of its height, as for every
//! [`NodeStore`](causeway_tree::NodeStore).

mod codec;
mod database;
mod error;
mod records;

pub use database::{Database, FIRST_BATCH, FIRST_BLOCK, FORMAT_VERSION, Written};
pub use error::StorageError;
pub use records::{BatchRecord, BlockRecord, L1Context};
