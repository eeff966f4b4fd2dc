//! The split block commit of a pipelined sequencer: [`Database::write_block_consuming`] makes a
//! block durable through `&self`, [`Database::apply_written`] later applies it to memory.
//!
//! Checks that a chain written and applied block by block is, after reopening, the same
//! database as the chain committed with [`Database::commit_block_consuming`] (state, block
//! records, indexes, history, journal); that between the two calls memory still shows the
//! previous block while the file already holds the written one, journal writes go on and every
//! other block write is refused with [`StorageError::UnappliedBlock`], writing nothing; that a
//! written block is durable even if it is never applied; that a refused write does not leave
//! the handle waiting for an apply; and that a [`Written`] from another handle is refused.

mod support;

use causeway_primitives::{AccountId, Address, B256, Deposit, Fr, Op, TokenId};
use causeway_stf::StateView;
use causeway_storage::{BlockRecord, Database, FIRST_BLOCK, StorageError, Written};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use support::{Replay, assert_history_at, assert_matches_replay, build_diff, next_block};

fn db_path(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

/// A distinct op per `n`, standing for whatever the sequencer accepted as `n`. Journal entries
/// are only stored and consumed here, never executed.
fn op(n: u64) -> Op {
    Op::Deposit(Deposit {
        priority_id: n,
        from: Address::repeat_byte(1),
        to: Address::repeat_byte(2),
        token: TokenId::new(1).unwrap(),
        amount: u128::from(n) + 1,
    })
}

fn entries(seqs: &[u64]) -> Vec<(u64, Op)> {
    seqs.iter().map(|&seq| (seq, op(seq))).collect()
}

/// Every chain here starts by journaling the seqs `0..JOURNAL_LEN`.
const JOURNAL_LEN: u64 = 64;

/// The journal entries block `number` consumes: two of every three seqs, the third one
/// (`3n - 2`) is never consumed.
fn consumed(number: u64) -> Vec<u64> {
    let first = 3 * (number - FIRST_BLOCK);
    vec![first, first + 2]
}

/// The op that arrives (is journaled) while block `number` is being written.
fn arrival(number: u64) -> u64 {
    JOURNAL_LEN + number
}

/// The journal once blocks `FIRST_BLOCK..=consumed_by` consumed their entries and the ops
/// arriving with blocks `FIRST_BLOCK..=arrived` were appended.
fn journal_after(consumed_by: u64, arrived: u64) -> Vec<(u64, Op)> {
    let gone: HashSet<u64> = (FIRST_BLOCK..=consumed_by).flat_map(consumed).collect();
    let seqs: Vec<u64> = (0..JOURNAL_LEN)
        .filter(|seq| !gone.contains(seq))
        .chain((FIRST_BLOCK..=arrived).map(arrival))
        .collect();
    entries(&seqs)
}

/// Builds the generated chain of `blocks` blocks in a new database at `path`, each block
/// consuming [`consumed`] and followed by the journaling of its [`arrival`]: written and then
/// applied, with the arrival journaled in between, if `pipelined`, else committed in one call
/// and the arrival journaled after it.
fn run_chain(path: &Path, blocks: u64, pipelined: bool) -> Replay {
    let mut db = Database::open(path).unwrap();
    db.append_journal(&entries(&(0..JOURNAL_LEN).collect::<Vec<_>>()))
        .unwrap();
    let mut replay = Replay::default();
    for _ in 0..blocks {
        let (block, diff) = replay.advance();
        let number = block.number;
        if pipelined {
            let written = db
                .write_block_consuming(&block, diff, &consumed(number))
                .unwrap();
            assert_eq!(written.number(), number);
            db.append_journal(&entries(&[arrival(number)])).unwrap();
            db.apply_written(written).unwrap();
        } else {
            db.commit_block_consuming(&block, &diff, &consumed(number))
                .unwrap();
            db.append_journal(&entries(&[arrival(number)])).unwrap();
        }
        assert_eq!(db.latest_block(), Some(number));
        assert_eq!(db.state().root(), replay.state.root());
        // Only the chain's deposits are priority ops, one per account created.
        assert_eq!(
            db.next_priority_op(),
            u64::from(replay.state.account_count())
        );
    }
    assert_eq!(db.journal().unwrap(), journal_after(blocks, blocks));
    replay
}

/// Where each op hash of `blocks` must be found: its first occurrence.
fn first_places(blocks: &[BlockRecord]) -> HashMap<B256, (u64, u32)> {
    let mut first = HashMap::new();
    for block in blocks {
        for (index, op) in (0u32..).zip(&block.ops) {
            first.entry(op.hash()).or_insert((block.number, index));
        }
    }
    first
}

fn assert_unapplied(err: StorageError) {
    assert!(matches!(err, StorageError::UnappliedBlock), "{err}");
}

#[test]
fn written_and_applied_chain_equals_committed_chain() {
    let dir = tempfile::tempdir().unwrap();
    let (pipelined, committed) = (
        db_path(&dir, "pipelined.redb"),
        db_path(&dir, "committed.redb"),
    );
    let blocks = 12;
    let replay = run_chain(&pipelined, blocks, true);
    let same = run_chain(&committed, blocks, false);
    assert_eq!(replay.blocks, same.blocks, "the generated chain is fixed");

    let a = Database::open(&pipelined).unwrap();
    let b = Database::open(&committed).unwrap();
    assert_matches_replay(&a, &replay);
    assert_matches_replay(&b, &replay);

    assert_eq!(a.latest_block(), b.latest_block());
    assert_eq!(a.state().root(), b.state().root());
    assert_eq!(a.state().account_count(), b.state().account_count());
    assert_eq!(
        a.state().accounts().collect::<Vec<_>>(),
        b.state().accounts().collect::<Vec<_>>()
    );
    assert_eq!(
        a.state().balances().collect::<BTreeMap<_, _>>(),
        b.state().balances().collect::<BTreeMap<_, _>>()
    );
    assert_eq!(a.next_priority_op(), b.next_priority_op());
    assert_eq!(a.history_from(), b.history_from());

    let first = first_places(&replay.blocks);
    for block in &replay.blocks {
        let n = block.number;
        assert_eq!(a.block(n).unwrap(), b.block(n).unwrap(), "block {n}");
        assert_eq!(
            a.block_number_by_hash(&block.hash()).unwrap(),
            Some(n),
            "block {n}"
        );
        assert_eq!(b.block_number_by_hash(&block.hash()).unwrap(), Some(n));
        for op in &block.ops {
            let place = first.get(&op.hash()).copied();
            assert_eq!(a.find_op(&op.hash()).unwrap(), place, "op of block {n}");
            assert_eq!(b.find_op(&op.hash()).unwrap(), place, "op of block {n}");
        }
    }

    // The history rows, block by block.
    let mut step = Replay::default();
    assert_history_at(&a, 0, &step.state);
    assert_history_at(&b, 0, &step.state);
    while step.latest() < replay.latest() {
        step.advance();
        let n = step.latest().unwrap();
        assert_history_at(&a, n, &step.state);
        assert_history_at(&b, n, &step.state);
    }

    let journal = journal_after(blocks, blocks);
    assert_eq!(a.journal().unwrap(), journal);
    assert_eq!(b.journal().unwrap(), journal);
    assert_eq!(a.journal_next(), b.journal_next());
    assert_eq!(a.journal_next(), arrival(blocks) + 1);
}

#[test]
fn between_write_and_apply_memory_lags_and_other_block_writes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir, "state.redb");
    let mut replay = run_chain(&path, 3, false);
    let mut db = Database::open(&path).unwrap();
    let root_3 = db.state().root();
    let accounts_3 = db.state().account_count();
    let priority_3 = db.next_priority_op();
    assert_eq!(root_3, replay.blocks[2].new_root);

    let (block4, diff4) = replay.advance();
    let written = db
        .write_block_consuming(&block4, diff4.clone(), &consumed(4))
        .unwrap();
    assert_eq!(written.number(), 4);
    assert_eq!(written.diff(), &diff4);

    // Memory: still the state after block 3.
    assert_eq!(db.latest_block(), Some(3));
    assert_eq!(db.state().root(), root_3);
    assert_eq!(db.state().account_count(), accounts_3);
    assert_eq!(db.next_priority_op(), priority_3);
    // The file: block 4 is there, its consumed entries are gone.
    assert_eq!(db.block(4).unwrap().as_ref(), Some(&block4));
    assert_eq!(db.block(5).unwrap(), None);
    let mut journal = journal_after(4, 3);
    assert_eq!(db.journal().unwrap(), journal);

    // Journal writes go on.
    db.append_journal(&entries(&[arrival(4)])).unwrap();
    journal.extend(entries(&[arrival(4)]));
    assert_eq!(db.journal_next(), arrival(4) + 1);
    // Seq 1 (`3·1 - 2`) is never consumed by the chain: drop it.
    db.remove_journal(&[1]).unwrap();
    journal.retain(|&(seq, _)| seq != 1);
    assert_eq!(db.journal().unwrap(), journal);

    // Every other block write is refused, whatever it consumes, and writes nothing: the next
    // block, and block 4 again (which memory alone would take for the next one).
    let (block5, diff5) = next_block(&replay.state, 5);
    let consumed5 = consumed(5);
    assert!(
        consumed5
            .iter()
            .all(|seq| journal.iter().any(|(s, _)| s == seq))
    );
    assert_unapplied(
        db.write_block_consuming(&block5, diff5.clone(), &consumed5)
            .unwrap_err(),
    );
    assert_unapplied(
        db.commit_block_consuming(&block5, &diff5, &consumed5)
            .unwrap_err(),
    );
    assert_unapplied(
        db.write_block_consuming(&block4, diff4.clone(), &[3])
            .unwrap_err(),
    );
    assert_unapplied(db.commit_block(&block4, &diff4).unwrap_err());
    assert_unapplied(
        db.commit_block_consuming(&block4, &diff4, &consumed5)
            .unwrap_err(),
    );
    assert_eq!(db.block(5).unwrap(), None);
    assert_eq!(db.block_number_by_hash(&block5.hash()).unwrap(), None);
    assert_eq!(db.block(4).unwrap().as_ref(), Some(&block4));
    assert_eq!(db.journal().unwrap(), journal);
    assert_eq!(db.latest_block(), Some(3));
    assert_eq!(db.state().root(), root_3);

    db.apply_written(written).unwrap();
    assert_eq!(db.latest_block(), Some(4));
    assert_eq!(db.state().root(), block4.new_root);
    assert_eq!(db.state().root(), replay.state.root());
    assert_eq!(
        db.next_priority_op(),
        u64::from(replay.state.account_count())
    );
    assert_matches_replay(&db, &replay);

    // Once applied, the next block goes through.
    let (again, diff5) = replay.advance();
    assert_eq!(again, block5);
    let written = db
        .write_block_consuming(&block5, diff5, &consumed5)
        .unwrap();
    db.apply_written(written).unwrap();
    journal.retain(|(seq, _)| !consumed5.contains(seq));
    assert_matches_replay(&db, &replay);
    assert_eq!(db.journal().unwrap(), journal);

    drop(db);
    let db = Database::open(&path).unwrap();
    assert_matches_replay(&db, &replay);
    assert_eq!(db.journal().unwrap(), journal);
    assert_eq!(db.journal_next(), arrival(4) + 1);
    assert_eq!(
        db.next_priority_op(),
        u64::from(replay.state.account_count())
    );
}

/// `find_op` and `block_number_by_hash` read the indexes from the file, so they already see
/// the written block.
#[test]
fn written_block_is_indexed_before_apply() {
    // The first block after block 1 that holds an op (a deposit) first committed there.
    let mut probe = Replay::default();
    let number = loop {
        let (block, _) = probe.advance();
        let first = first_places(&probe.blocks);
        if block.number > FIRST_BLOCK
            && block.ops.iter().any(|op| {
                first
                    .get(&op.hash())
                    .is_some_and(|&(n, _)| n == block.number)
            })
        {
            break block.number;
        }
    };

    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir, "state.redb");
    let mut replay = run_chain(&path, number - 1, false);
    let mut db = Database::open(&path).unwrap();
    let (block, diff) = replay.advance();
    let first = first_places(&replay.blocks);

    let written = db
        .write_block_consuming(&block, diff, &consumed(number))
        .unwrap();
    assert_eq!(db.latest_block(), Some(number - 1));
    assert_eq!(db.block(number).unwrap().as_ref(), Some(&block));
    for op in &block.ops {
        assert_eq!(
            db.find_op(&op.hash()).unwrap(),
            first.get(&op.hash()).copied(),
            "{op:?} of written block {number}"
        );
    }
    assert_eq!(
        db.block_number_by_hash(&block.hash()).unwrap(),
        Some(number),
        "hash of written block {number}"
    );

    db.apply_written(written).unwrap();
    assert_eq!(
        db.block_number_by_hash(&block.hash()).unwrap(),
        Some(number)
    );
    for op in &block.ops {
        assert_eq!(
            db.find_op(&op.hash()).unwrap(),
            first.get(&op.hash()).copied()
        );
    }
}

#[test]
fn written_block_is_durable_without_apply() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir, "state.redb");
    let mut replay = run_chain(&path, 2, false);
    let db = Database::open(&path).unwrap();
    let (block3, diff3) = replay.advance();
    let written = db
        .write_block_consuming(&block3, diff3, &consumed(3))
        .unwrap();
    db.append_journal(&entries(&[arrival(3)])).unwrap();
    // A refused write of block 4 consumes nothing.
    let (block4, diff4) = next_block(&replay.state, 4);
    assert_unapplied(
        db.write_block_consuming(&block4, diff4.clone(), &consumed(4))
            .unwrap_err(),
    );
    assert_eq!(db.latest_block(), Some(2));

    // Never applied: the handle goes away with the block only in the file.
    drop(written);
    drop(db);

    let mut db = Database::open(&path).unwrap();
    assert_eq!(db.latest_block(), Some(3));
    assert_eq!(db.state().root(), block3.new_root);
    assert_matches_replay(&db, &replay);
    assert_eq!(
        db.next_priority_op(),
        u64::from(replay.state.account_count())
    );
    assert_eq!(db.journal().unwrap(), journal_after(3, 3));
    assert_eq!(db.journal_next(), arrival(3) + 1);
    assert_eq!(db.block_number_by_hash(&block3.hash()).unwrap(), Some(3));
    let first = first_places(&replay.blocks);
    for op in &block3.ops {
        assert_eq!(
            db.find_op(&op.hash()).unwrap(),
            first.get(&op.hash()).copied()
        );
    }

    // And the chain goes on from there.
    let (again, _) = replay.advance();
    assert_eq!(again, block4);
    db.commit_block_consuming(&block4, &diff4, &consumed(4))
        .unwrap();
    drop(db);
    let db = Database::open(&path).unwrap();
    assert_matches_replay(&db, &replay);
    assert_eq!(db.journal().unwrap(), journal_after(4, 3));
}

#[test]
fn refused_write_leaves_nothing_to_apply() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir, "state.redb");
    let mut replay = run_chain(&path, 2, false);
    let mut db = Database::open(&path).unwrap();
    let (block3, diff3) = replay.advance();
    let journal = journal_after(2, 2);
    let consumed3 = consumed(3);

    let check_unchanged = |db: &Database| {
        assert_eq!(db.latest_block(), Some(2));
        assert_eq!(db.state().root(), block3.old_root);
        assert_eq!(db.block(3).unwrap(), None);
        assert_eq!(db.block_number_by_hash(&block3.hash()).unwrap(), None);
        assert_eq!(db.journal().unwrap(), journal);
    };

    // Refused before the transaction: wrong number, wrong starting root.
    let mut renumbered = block3.clone();
    renumbered.number = 4;
    let err = db
        .write_block_consuming(&renumbered, diff3.clone(), &consumed3)
        .unwrap_err();
    assert!(
        matches!(
            err,
            StorageError::BlockOutOfOrder {
                expected: 3,
                got: 4
            }
        ),
        "{err}"
    );
    check_unchanged(&db);
    let mut stale = diff3.clone();
    stale.old_root = Fr::from(1u64);
    let err = db
        .write_block_consuming(&block3, stale, &consumed3)
        .unwrap_err();
    assert!(matches!(err, StorageError::OldRootMismatch { .. }), "{err}");
    check_unchanged(&db);

    // Refused inside the transaction, which is aborted: a seq never appended, one consumed by
    // block 1, one listed twice. The present seqs listed beside them stay in the journal.
    for (consuming, missing) in [
        (vec![consumed3[0], 1000], 1000),
        (vec![consumed3[0], consumed(1)[0]], consumed(1)[0]),
        (vec![consumed3[0], consumed3[0]], consumed3[0]),
    ] {
        let err = db
            .write_block_consuming(&block3, diff3.clone(), &consuming)
            .unwrap_err();
        assert!(
            matches!(err, StorageError::JournalEntryMissing { seq } if seq == missing),
            "{consuming:?}: {err}"
        );
        check_unchanged(&db);
        // And the one-call commit is not locked out by it either.
        let err = db
            .commit_block_consuming(&block3, &diff3, &consuming)
            .unwrap_err();
        assert!(
            matches!(err, StorageError::JournalEntryMissing { seq } if seq == missing),
            "{consuming:?}: {err}"
        );
        check_unchanged(&db);
    }

    // The correct write goes through.
    let written = db
        .write_block_consuming(&block3, diff3, &consumed3)
        .unwrap();
    db.apply_written(written).unwrap();
    assert_matches_replay(&db, &replay);
    assert_eq!(db.journal().unwrap(), journal_after(3, 2));

    drop(db);
    let db = Database::open(&path).unwrap();
    assert_matches_replay(&db, &replay);
    assert_eq!(db.journal().unwrap(), journal_after(3, 2));
}

/// Writes the next block of the generated chain on `db` (whose chain is `replay`), unapplied.
fn write_next(db: &Database, replay: &mut Replay) -> Written {
    let (block, diff) = replay.advance();
    db.write_block_consuming(&block, diff, &consumed(block.number))
        .unwrap()
}

#[test]
fn apply_written_refuses_a_written_of_another_handle() {
    let dir = tempfile::tempdir().unwrap();
    let mut a_replay = run_chain(&db_path(&dir, "a.redb"), 3, false);
    let mut b_replay = run_chain(&db_path(&dir, "b.redb"), 5, false);
    let mut c_replay = run_chain(&db_path(&dir, "c.redb"), 1, false);
    let mut d_replay = run_chain(&db_path(&dir, "d.redb"), 4, false);
    let mut a = Database::open(db_path(&dir, "a.redb")).unwrap();
    let b = Database::open(db_path(&dir, "b.redb")).unwrap();
    let c = Database::open(db_path(&dir, "c.redb")).unwrap();
    let d = Database::open(db_path(&dir, "d.redb")).unwrap();
    let a_root = a.state().root();

    // `a` has nothing unapplied: block 6 of `b` is refused.
    let foreign = write_next(&b, &mut b_replay);
    assert_eq!(foreign.number(), 6);
    let err = a.apply_written(foreign).unwrap_err();
    assert!(
        matches!(
            err,
            StorageError::BlockOutOfOrder {
                expected: 4,
                got: 6
            }
        ),
        "{err}"
    );
    assert_eq!(a.latest_block(), Some(3));
    assert_eq!(a.state().root(), a_root);

    // `a` has its own block 4 unapplied: block 2 of `c` is refused, and `a`'s own is applied.
    let own = write_next(&a, &mut a_replay);
    let foreign = write_next(&c, &mut c_replay);
    assert_eq!(foreign.number(), 2);
    let err = a.apply_written(foreign).unwrap_err();
    assert!(
        matches!(
            err,
            StorageError::BlockOutOfOrder {
                expected: 4,
                got: 2
            }
        ),
        "{err}"
    );
    assert_eq!(a.latest_block(), Some(3));
    assert_eq!(a.state().root(), a_root);
    a.apply_written(own).unwrap();
    assert_matches_replay(&a, &a_replay);

    // The number `a` expects, but `a` wrote nothing: refused as well.
    let foreign = write_next(&d, &mut d_replay);
    assert_eq!(foreign.number(), 5);
    let err = a.apply_written(foreign).unwrap_err();
    assert!(
        matches!(
            err,
            StorageError::BlockOutOfOrder {
                expected: 5,
                got: 5
            }
        ),
        "{err}"
    );
    assert_matches_replay(&a, &a_replay);
    let own = write_next(&a, &mut a_replay);
    a.apply_written(own).unwrap();
    assert_matches_replay(&a, &a_replay);

    // A refused `apply_written` consumed the `Written`: its handle can write no other block,
    // but the block it wrote is durable.
    let (b7, b7_diff) = next_block(&b_replay.state, 7);
    assert_unapplied(b.write_block_consuming(&b7, b7_diff, &[]).unwrap_err());
    drop((a, b, c, d));
    // (file, chain, the blocks `run_chain` journaled an arrival for)
    for (name, replay, arrived) in [
        ("a.redb", &a_replay, 3),
        ("b.redb", &b_replay, 5),
        ("c.redb", &c_replay, 1),
        ("d.redb", &d_replay, 4),
    ] {
        let db = Database::open(db_path(&dir, name)).unwrap();
        assert_matches_replay(&db, replay);
        assert_eq!(
            db.journal().unwrap(),
            journal_after(replay.latest().unwrap(), arrived),
            "{name}"
        );
    }
}

/// A foreign `Written` that carries the number the handle expects, while the handle has its
/// own block unapplied, is refused with `ForeignWritten` and changes nothing.
#[test]
fn apply_written_refuses_a_foreign_written_of_the_expected_number() {
    let dir = tempfile::tempdir().unwrap();
    let mut a_replay = run_chain(&db_path(&dir, "a.redb"), 3, false);
    let b_replay = run_chain(&db_path(&dir, "b.redb"), 3, false);
    let mut a = Database::open(db_path(&dir, "a.redb")).unwrap();
    let b = Database::open(db_path(&dir, "b.redb")).unwrap();

    // `b`'s block 4 differs from the generated one: account 0 gets a new balance of token 0.
    let id = AccountId::new(0).unwrap();
    let token = TokenId::new(0).unwrap();
    let balance = b.state().balance(id, token) + 1;
    let diff = build_diff(
        &b_replay.state,
        BTreeMap::new(),
        BTreeMap::from([((id, token), balance)]),
        b.state().account_count(),
    );
    let block = BlockRecord {
        number: 4,
        timestamp: 1,
        fee_account: id,
        old_root: diff.old_root,
        new_root: diff.new_root,
        account_count: diff.account_count,
        ops: vec![],
        pubdata: vec![],
    };
    let foreign = b.write_block_consuming(&block, diff, &[]).unwrap();

    let own = write_next(&a, &mut a_replay);
    assert_ne!(own.diff().new_root, foreign.diff().new_root);
    let root = a.state().root();
    let result = a.apply_written(foreign);
    assert!(
        matches!(result, Err(StorageError::ForeignWritten)),
        "{result:?}"
    );
    assert_eq!(a.state().root(), root, "memory changed");
    a.apply_written(own).unwrap();
    assert_matches_replay(&a, &a_replay);
}
