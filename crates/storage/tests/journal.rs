//! The mempool journal: durable appends, replay after reopen, sequence-number rules, and
//! consumption atomic with the block that consumed it.

mod support;

use causeway_primitives::{Address, Deposit, Op, TokenId};
use causeway_stf::StateView;
use causeway_storage::{Database, StorageError};
use redb::TableDefinition;
use support::{Replay, assert_matches_replay, poke};

fn db_path(dir: &tempfile::TempDir) -> std::path::PathBuf {
    dir.path().join("state.redb")
}

/// A distinct op per `n`, standing for whatever the sequencer accepted as `n`.
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

#[test]
fn appended_journal_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let db = Database::open(&path).unwrap();
    assert_eq!(db.journal_next(), 0);
    assert_eq!(db.journal().unwrap(), vec![]);

    // Appends take `&self`: the sequencer holds the state borrowed while it journals.
    let state = db.state();
    db.append_journal(&entries(&[0, 1, 2])).unwrap();
    db.append_journal(&entries(&[5, 9])).unwrap();
    db.append_journal(&[]).unwrap();
    assert_eq!(state.account_count(), 0);
    assert_eq!(db.journal_next(), 10);
    let expected = entries(&[0, 1, 2, 5, 9]);
    assert_eq!(db.journal().unwrap(), expected);

    drop(db);
    let db = Database::open(&path).unwrap();
    assert_eq!(db.journal().unwrap(), expected);
    assert_eq!(db.journal_next(), 10);
}

#[test]
fn journal_sequence_violations_are_refused_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let db = Database::open(&path).unwrap();
    db.append_journal(&entries(&[0, 1, 2])).unwrap();

    let refused = |seqs: &[u64]| db.append_journal(&entries(seqs)).unwrap_err();
    // Repeated within the call, decreasing within the call, reusing a journaled seq, and
    // the one seq no other could follow.
    for (seqs, next, got) in [
        (&[3, 3][..], 4, 3),
        (&[5, 4][..], 6, 4),
        (&[2][..], 3, 2),
        (&[0, 7][..], 3, 0),
        (&[3, u64::MAX][..], 4, u64::MAX),
    ] {
        let err = refused(seqs);
        assert!(
            matches!(err, StorageError::JournalOutOfOrder { next: n, got: g } if n == next && g == got),
            "{seqs:?}: {err}"
        );
        assert_eq!(db.journal().unwrap(), entries(&[0, 1, 2]), "{seqs:?}");
        assert_eq!(db.journal_next(), 3);
    }

    drop(db);
    let db = Database::open(&path).unwrap();
    assert_eq!(db.journal().unwrap(), entries(&[0, 1, 2]));
    assert_eq!(db.journal_next(), 3);
    db.append_journal(&entries(&[3, 4])).unwrap();
    assert_eq!(db.journal().unwrap(), entries(&[0, 1, 2, 3, 4]));
}

#[test]
fn commit_block_consuming_removes_exactly_the_consumed_entries() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let mut db = Database::open(&path).unwrap();
    let mut replay = Replay::default();
    db.append_journal(&entries(&[0, 1, 2, 3, 4, 5])).unwrap();

    let (block, diff) = replay.advance();
    db.commit_block_consuming(&block, &diff, &[1, 3, 4])
        .unwrap();
    assert_eq!(db.journal().unwrap(), entries(&[0, 2, 5]));
    let (block, diff) = replay.advance();
    db.commit_block_consuming(&block, &diff, &[5]).unwrap();
    assert_eq!(db.journal().unwrap(), entries(&[0, 2]));
    assert_eq!(db.journal_next(), 6);

    drop(db);
    let db = Database::open(&path).unwrap();
    assert_matches_replay(&db, &replay);
    assert_eq!(db.journal().unwrap(), entries(&[0, 2]));
    assert_eq!(db.journal_next(), 6);
}

#[test]
fn consuming_a_missing_entry_commits_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let mut db = Database::open(&path).unwrap();
    let mut replay = Replay::default();
    db.append_journal(&entries(&[0, 1, 2])).unwrap();
    let (block, diff) = support::next_block(&replay.state, 1);

    // Never appended, and listed twice: refused, neither the block nor the removals land.
    for (consumed, missing) in [(&[0, 7][..], 7), (&[1, 1][..], 1)] {
        let err = db
            .commit_block_consuming(&block, &diff, consumed)
            .unwrap_err();
        assert!(
            matches!(err, StorageError::JournalEntryMissing { seq } if seq == missing),
            "{consumed:?}: {err}"
        );
        assert_matches_replay(&db, &replay);
        assert_eq!(db.latest_block(), None);
        assert_eq!(db.block_number_by_hash(&block.hash()).unwrap(), None);
        assert_eq!(db.next_priority_op(), 0);
        assert_eq!(db.journal().unwrap(), entries(&[0, 1, 2]));
    }

    drop(db);
    let mut db = Database::open(&path).unwrap();
    assert_matches_replay(&db, &replay);
    assert_eq!(db.journal().unwrap(), entries(&[0, 1, 2]));
    db.commit_block_consuming(&block, &diff, &[0, 1]).unwrap();
    // The generated chain's block 1 is the block just committed.
    replay.advance();
    assert_matches_replay(&db, &replay);
    assert_eq!(db.journal().unwrap(), entries(&[2]));
}

#[test]
fn removed_entries_stay_removed_and_missing_ones_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let db = Database::open(&path).unwrap();
    let state = db.state();
    db.append_journal(&entries(&[0, 1, 2, 3, 4])).unwrap();
    db.remove_journal(&[1, 3]).unwrap();
    db.remove_journal(&[]).unwrap();
    assert_eq!(db.journal().unwrap(), entries(&[0, 2, 4]));

    let err = db.remove_journal(&[2, 3]).unwrap_err();
    assert!(
        matches!(err, StorageError::JournalEntryMissing { seq: 3 }),
        "{err}"
    );
    let err = db.remove_journal(&[4, 4]).unwrap_err();
    assert!(
        matches!(err, StorageError::JournalEntryMissing { seq: 4 }),
        "{err}"
    );
    assert_eq!(db.journal().unwrap(), entries(&[0, 2, 4]));
    assert_eq!(state.account_count(), 0);

    drop(db);
    let db = Database::open(&path).unwrap();
    assert_eq!(db.journal().unwrap(), entries(&[0, 2, 4]));
    assert_eq!(db.journal_next(), 5);
}

#[test]
fn journal_next_never_goes_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let mut db = Database::open(&path).unwrap();
    let mut replay = Replay::default();
    db.append_journal(&entries(&[0, 1, 2])).unwrap();
    db.remove_journal(&[0]).unwrap();
    let (block, diff) = replay.advance();
    db.commit_block_consuming(&block, &diff, &[1, 2]).unwrap();
    assert_eq!(db.journal().unwrap(), vec![]);
    assert_eq!(db.journal_next(), 3);

    // An emptied journal still refuses the numbers it once held.
    let err = db.append_journal(&entries(&[2])).unwrap_err();
    assert!(
        matches!(err, StorageError::JournalOutOfOrder { next: 3, got: 2 }),
        "{err}"
    );

    drop(db);
    let db = Database::open(&path).unwrap();
    assert_eq!(db.journal_next(), 3);
    let err = db.append_journal(&entries(&[0])).unwrap_err();
    assert!(
        matches!(err, StorageError::JournalOutOfOrder { next: 3, got: 0 }),
        "{err}"
    );
    db.append_journal(&entries(&[3])).unwrap();
    assert_eq!(db.journal_next(), 4);
    assert_eq!(db.journal().unwrap(), entries(&[3]));
}

#[test]
fn undecodable_journal_entries_are_corrupt_records() {
    const JOURNAL: TableDefinition<u64, &[u8]> = TableDefinition::new("journal");
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    Database::open(&path)
        .unwrap()
        .append_journal(&entries(&[0, 1]))
        .unwrap();
    poke(&path, |txn| {
        txn.open_table(JOURNAL)?
            .insert(1, [0xffu8, 0xff].as_slice())?;
        Ok(())
    });
    // Entries are decoded when the journal is read, not on open.
    let db = Database::open(&path).unwrap();
    let err = db.journal().unwrap_err();
    assert!(
        matches!(
            err,
            StorageError::Corrupt {
                table: "journal",
                ref key,
                ..
            } if key == "1"
        ),
        "{err}"
    );
}
