//! The state at past blocks (`balance_at`, `nonce_at`): written with each block, read from the
//! file after reopening, refused for blocks the file has no state of, and made from a
//! version-2 file's state when it is upgraded.

mod support;

use causeway_primitives::{AccountId, Address, Deposit, MAX_BALANCE, Op, TokenId};
use causeway_stf::{AccountState, MemoryState, StateView};
use causeway_storage::{BlockRecord, Database, FORMAT_VERSION, StorageError};
use redb::{ReadableDatabase, ReadableTableMetadata, TableDefinition};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use support::{Replay, assert_history_at, assert_matches_replay, build_diff, poke};

const BALANCE_HISTORY: TableDefinition<(u32, u16, u64), u128> =
    TableDefinition::new("balance_history");
const NONCE_HISTORY: TableDefinition<(u32, u64), u32> = TableDefinition::new("nonce_history");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

fn db_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("state.redb")
}

fn id(n: u32) -> AccountId {
    AccountId::new(n).unwrap()
}

fn token(n: u16) -> TokenId {
    TokenId::new(n).unwrap()
}

fn block_for(number: u64, diff: &causeway_stf::StateDiff, ops: Vec<Op>) -> BlockRecord {
    BlockRecord {
        number,
        timestamp: number,
        fee_account: id(0),
        old_root: diff.old_root,
        new_root: diff.new_root,
        account_count: diff.account_count,
        ops,
        pubdata: vec![],
    }
}

/// Commits the block that sets `accounts` and `balances` on the database's state, with ops
/// `ops` (priority ops must continue the queue).
fn commit(
    db: &mut Database,
    accounts: impl IntoIterator<Item = (AccountId, AccountState)>,
    balances: impl IntoIterator<Item = ((AccountId, TokenId), u128)>,
    ops: Vec<Op>,
) {
    let accounts: BTreeMap<_, _> = accounts.into_iter().collect();
    let count = accounts
        .keys()
        .map(|id| id.get() + 1)
        .max()
        .unwrap_or(0)
        .max(db.state().account_count());
    let diff = build_diff(db.state(), accounts, balances.into_iter().collect(), count);
    let number = db.latest_block().map_or(1, |n| n + 1);
    db.commit_block(&block_for(number, &diff, ops), &diff)
        .unwrap();
}

fn deposit(priority_id: u64, to: Address) -> Op {
    Op::Deposit(Deposit {
        priority_id,
        from: to,
        to,
        token: TokenId::ETH,
        amount: 1,
    })
}

/// The number of rows in the two history tables of the closed file at `path`.
fn history_rows(path: &Path) -> (u64, u64) {
    let raw = redb::Database::open(path).unwrap();
    let txn = raw.begin_read().unwrap();
    (
        txn.open_table(BALANCE_HISTORY).unwrap().len().unwrap(),
        txn.open_table(NONCE_HISTORY).unwrap().len().unwrap(),
    )
}

#[test]
fn every_past_block_reads_its_own_state_before_and_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let mut replay = Replay::default();
    // The state after each block; index 0 is the empty state.
    let mut states = vec![MemoryState::new()];
    {
        let mut db = Database::open(&path).unwrap();
        assert_eq!(db.history_from(), 0);
        for _ in 0..12 {
            let (block, diff) = replay.advance();
            db.commit_block(&block, &diff).unwrap();
            states.push(replay.state.clone());
        }
        for (block, state) in (0u64..).zip(&states) {
            assert_history_at(&db, block, state);
        }
    }

    // The history is read from the file: a new handle answers the same, and keeps writing.
    let mut db = Database::open(&path).unwrap();
    for (block, state) in (0u64..).zip(&states) {
        assert_history_at(&db, block, state);
    }
    for _ in 0..3 {
        let (block, diff) = replay.advance();
        db.commit_block(&block, &diff).unwrap();
        states.push(replay.state.clone());
    }
    for (block, state) in (0u64..).zip(&states) {
        assert_history_at(&db, block, state);
    }
    assert_matches_replay(&db, &replay);
}

#[test]
fn each_changed_value_gets_one_row_per_block_and_accounts_read_zero_before_they_exist() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let (alice, bob) = (Address::repeat_byte(0xa1), Address::repeat_byte(0xb0));
    let mut db = Database::open(&path).unwrap();

    // Block 1 creates Alice (account 0) with 100 ETH and 5 of token 1.
    commit(
        &mut db,
        [(id(0), AccountState::new(alice))],
        [((id(0), token(0)), 100), ((id(0), token(1)), 5)],
        vec![deposit(0, alice)],
    );
    // Block 2: her ETH changes twice in the block (100 -> 60 -> 30: the diff holds the value
    // at the end), token 1 goes away and comes back (5 -> 0 -> 5: unchanged), her nonce moves
    // by two.
    let mut alice_2 = db.state().account(id(0)).unwrap();
    alice_2.nonce = 2;
    commit(
        &mut db,
        [(id(0), alice_2)],
        [((id(0), token(0)), 30), ((id(0), token(1)), 5)],
        vec![],
    );
    // Block 3 creates Bob (account 1) with 7 ETH; Alice's ETH goes to zero.
    commit(
        &mut db,
        [(id(1), AccountState::new(bob))],
        [((id(1), token(0)), 7), ((id(0), token(0)), 0)],
        vec![deposit(1, bob)],
    );

    let eth = |a: u32, block: u64| db.balance_at(id(a), token(0), block).unwrap();
    let erc = |a: u32, block: u64| db.balance_at(id(a), token(1), block).unwrap();
    let nonce = |a: u32, block: u64| db.nonce_at(id(a), block).unwrap();
    assert_eq!([0, 1, 2, 3].map(|b| eth(0, b)), [0, 100, 30, 0]);
    assert_eq!([0, 1, 2, 3].map(|b| erc(0, b)), [0, 5, 5, 5]);
    assert_eq!([0, 1, 2, 3].map(|b| nonce(0, b)), [0, 0, 2, 2]);
    // Bob did not exist before block 3.
    assert_eq!([0, 1, 2, 3].map(|b| eth(1, b)), [0, 0, 0, 7]);
    assert_eq!([0, 1, 2, 3].map(|b| nonce(1, b)), [0, 0, 0, 0]);
    // Nor did account 2, ever.
    assert_eq!(eth(2, 3), 0);
    assert_eq!(nonce(2, 3), 0);
    drop(db);

    // Rows: Alice's ETH at 1, 2, 3 and token 1 at 1 (not at 2: unchanged), Bob's ETH at 3;
    // Alice's nonce at 2 only (a new account's nonce 0 needs no row).
    assert_eq!(history_rows(&path), (5, 1));
    let db = Database::open(&path).unwrap();
    assert_eq!(db.balance_at(id(0), token(0), 2).unwrap(), 30);
    assert_eq!(db.nonce_at(id(0), 3).unwrap(), 2);
}

#[test]
fn blocks_not_committed_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = Database::open(db_path(&dir)).unwrap();
    // Before any block, only the empty state (block 0) exists.
    assert_eq!(db.balance_at(id(0), token(0), 0).unwrap(), 0);
    assert_eq!(db.nonce_at(id(0), 0).unwrap(), 0);
    assert!(matches!(
        db.balance_at(id(0), token(0), 1),
        Err(StorageError::BlockNotCommitted {
            block: 1,
            latest: None
        })
    ));

    let mut replay = Replay::default();
    for _ in 0..2 {
        let (block, diff) = replay.advance();
        db.commit_block(&block, &diff).unwrap();
    }
    assert!(matches!(
        db.nonce_at(id(0), 3),
        Err(StorageError::BlockNotCommitted {
            block: 3,
            latest: Some(2)
        })
    ));
    assert!(matches!(
        db.balance_at(id(0), token(0), u64::MAX),
        Err(StorageError::BlockNotCommitted { .. })
    ));
}

#[test]
fn a_refused_commit_writes_no_history() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let mut replay = Replay::default();
    let (next, next_diff) = {
        let mut db = Database::open(&path).unwrap();
        for _ in 0..3 {
            let (block, diff) = replay.advance();
            db.commit_block(&block, &diff).unwrap();
        }
        let (next, next_diff) = support::next_block(&replay.state, 4);

        // Refused before the transaction (a block out of order) and inside it, after the
        // journal was touched (an entry to consume that is not there).
        let mut skipped = next.clone();
        skipped.number = 5;
        assert!(matches!(
            db.commit_block(&skipped, &next_diff),
            Err(StorageError::BlockOutOfOrder { .. })
        ));
        assert!(matches!(
            db.commit_block_consuming(&next, &next_diff, &[42]),
            Err(StorageError::JournalEntryMissing { seq: 42 })
        ));
        assert!(matches!(
            db.balance_at(id(0), token(0), 4),
            Err(StorageError::BlockNotCommitted { .. })
        ));
        assert_matches_replay(&db, &replay);
        (next, next_diff)
    };
    let rows = history_rows(&path);

    // The block goes in on a reopened file, and only then is there history for block 4.
    let mut db = Database::open(&path).unwrap();
    assert_matches_replay(&db, &replay);
    db.commit_block(&next, &next_diff).unwrap();
    replay.state.apply(&next_diff);
    assert_history_at(&db, 4, &replay.state);
    drop(db);
    let after = history_rows(&path);
    assert!(after.0 + after.1 > rows.0 + rows.1, "{rows:?} -> {after:?}");
}

/// Turns the closed file at `path` back into what a version-2 build wrote: no history tables,
/// no `history_from`, version 2.
fn make_version_2(path: &Path) {
    poke(path, |txn| {
        txn.delete_table(BALANCE_HISTORY)?;
        txn.delete_table(NONCE_HISTORY)?;
        let mut meta = txn.open_table(META)?;
        meta.remove("history_from")?;
        meta.insert("version", 2u32.to_be_bytes().as_slice())?;
        Ok(())
    });
}

fn version(path: &Path) -> u32 {
    let raw = redb::Database::open(path).unwrap();
    let txn = raw.begin_read().unwrap();
    let meta = txn.open_table(META).unwrap();
    let bytes = meta.get("version").unwrap().unwrap();
    u32::from_be_bytes(bytes.value().try_into().unwrap())
}

#[test]
fn a_version_2_file_is_upgraded_with_history_from_its_latest_block() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let mut replay = Replay::default();
    {
        let mut db = Database::open(&path).unwrap();
        for _ in 0..6 {
            let (block, diff) = replay.advance();
            db.commit_block(&block, &diff).unwrap();
        }
    }
    make_version_2(&path);

    let mut db = Database::open(&path).unwrap();
    assert_eq!(db.history_from(), 6);
    assert_matches_replay(&db, &replay);
    for block in [0, 5] {
        assert!(matches!(
            db.balance_at(id(0), token(0), block),
            Err(StorageError::HistoryUnavailable { from: 6, .. })
        ));
        assert!(matches!(
            db.nonce_at(id(0), block),
            Err(StorageError::HistoryUnavailable { from: 6, .. })
        ));
    }
    // Blocks after the upgrade: each reads its own state, including the values the upgrade
    // recorded and no block changed since.
    let mut states = vec![(6, replay.state.clone())];
    for _ in 0..4 {
        let (block, diff) = replay.advance();
        db.commit_block(&block, &diff).unwrap();
        states.push((block.number, replay.state.clone()));
    }
    drop(db);
    assert_eq!(version(&path), FORMAT_VERSION);
    let db = Database::open(&path).unwrap();
    assert_eq!(db.history_from(), 6);
    for (block, state) in &states {
        assert_history_at(&db, *block, state);
    }
}

#[test]
fn an_empty_version_2_file_is_upgraded_with_the_whole_history() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    drop(Database::open(&path).unwrap());
    make_version_2(&path);
    let mut db = Database::open(&path).unwrap();
    assert_eq!(db.history_from(), 0);
    let mut replay = Replay::default();
    let (block, diff) = replay.advance();
    db.commit_block(&block, &diff).unwrap();
    assert_history_at(&db, 0, &MemoryState::new());
    assert_history_at(&db, 1, &replay.state);
}

/// A database of eight generated blocks, closed, then `corrupt` applied to the file; returns
/// the error of `open`, or of a read of every account's ETH at block 8 if `open` succeeds.
fn refused_after(corrupt: impl FnOnce(&Path, &Replay)) -> StorageError {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let mut replay = Replay::default();
    {
        let mut db = Database::open(&path).unwrap();
        for _ in 0..8 {
            let (block, diff) = replay.advance();
            db.commit_block(&block, &diff).unwrap();
        }
    }
    corrupt(&path, &replay);
    let db = match Database::open(&path) {
        Ok(db) => db,
        Err(err) => return err,
    };
    let read_all = || -> Result<(), StorageError> {
        for n in 0..replay.state.account_count() {
            for t in 0..support::TOKENS {
                db.balance_at(id(n), token(t), 8)?;
            }
            db.nonce_at(id(n), 8)?;
        }
        Ok(())
    };
    read_all().expect_err("the corrupt file opened and read without error")
}

#[test]
fn corrupt_history_is_a_typed_error() {
    let is_corrupt = |err: &StorageError, table: &str| matches!(err, StorageError::Corrupt { table: t, .. } if *t == table);

    // `history_from` lost, or beyond the latest block.
    let err = refused_after(|path, _| {
        poke(path, |txn| {
            txn.open_table(META)?.remove("history_from")?;
            Ok(())
        });
    });
    assert!(is_corrupt(&err, "meta"), "{err}");
    let err = refused_after(|path, _| {
        poke(path, |txn| {
            txn.open_table(META)?
                .insert("history_from", 9u64.to_be_bytes().as_slice())?;
            Ok(())
        });
    });
    assert!(is_corrupt(&err, "meta"), "{err}");

    // The last entries name a block beyond the latest, or an account that does not exist.
    let err = refused_after(|path, replay| {
        let last = replay.state.account_count() - 1;
        poke(path, |txn| {
            // The largest token id, so the entry is the table's last.
            txn.open_table(BALANCE_HISTORY)?
                .insert((last, 1023, 9), 1)?;
            Ok(())
        });
    });
    assert!(is_corrupt(&err, "balance_history"), "{err}");
    let err = refused_after(|path, replay| {
        let beyond = replay.state.account_count();
        poke(path, |txn| {
            txn.open_table(NONCE_HISTORY)?.insert((beyond, 3), 1)?;
            Ok(())
        });
    });
    assert!(is_corrupt(&err, "nonce_history"), "{err}");

    // An entry read that holds an impossible balance.
    let err = refused_after(|path, _| {
        poke(path, |txn| {
            txn.open_table(BALANCE_HISTORY)?
                .insert((0, 0, 8), MAX_BALANCE + 1)?;
            Ok(())
        });
    });
    assert!(is_corrupt(&err, "balance_history"), "{err}");
}
