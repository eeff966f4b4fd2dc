//! Lookup by op hash and block hash, and the priority-op counter, across reopen.

mod support;

use causeway_primitives::{AccountId, Address, B256, Deposit, FullExit, Op, TokenId};
use causeway_stf::StateView;
use causeway_storage::{Database, StorageError};
use redb::TableDefinition;
use std::collections::HashMap;
use support::{Replay, next_block, poke};

fn db_path(dir: &tempfile::TempDir) -> std::path::PathBuf {
    dir.path().join("state.redb")
}

fn deposit(priority_id: u64) -> Op {
    Op::Deposit(Deposit {
        priority_id,
        from: Address::repeat_byte(1),
        to: Address::repeat_byte(2),
        token: TokenId::new(1).unwrap(),
        amount: 5,
    })
}

fn full_exit(priority_id: u64) -> Op {
    Op::FullExit(FullExit {
        priority_id,
        account: AccountId::new(0).unwrap(),
        owner: Address::repeat_byte(3),
        token: TokenId::new(1).unwrap(),
    })
}

#[test]
fn ops_and_blocks_are_found_by_hash_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let mut replay = Replay::default();
    {
        let mut db = Database::open(&path).unwrap();
        for _ in 0..12 {
            let (block, diff) = replay.advance();
            db.commit_block(&block, &diff).unwrap();
        }
    }

    // Where each op hash must point: its first occurrence in the chain.
    let mut first: HashMap<B256, (u64, u32)> = HashMap::new();
    let mut ops = 0;
    for block in &replay.blocks {
        for (index, op) in (0u32..).zip(&block.ops) {
            first.entry(op.hash()).or_insert((block.number, index));
            ops += 1;
        }
    }
    assert!(
        first.len() < ops,
        "the chain should repeat an op hash (Noop) to exercise keep-first"
    );

    let db = Database::open(&path).unwrap();
    for block in &replay.blocks {
        assert_eq!(
            db.block_number_by_hash(&block.hash()).unwrap(),
            Some(block.number)
        );
        for op in &block.ops {
            assert_eq!(
                db.find_op(&op.hash()).unwrap(),
                first.get(&op.hash()).copied()
            );
        }
    }
    assert_eq!(
        db.find_op(&Op::Noop.hash()).unwrap(),
        first.get(&Op::Noop.hash()).copied()
    );
    assert_eq!(db.find_op(&B256::repeat_byte(7)).unwrap(), None);
    assert_eq!(db.block_number_by_hash(&B256::ZERO).unwrap(), None);
}

#[test]
fn index_entries_beyond_the_latest_block_are_corrupt() {
    const OP_INDEX: TableDefinition<&[u8; 32], (u64, u32)> = TableDefinition::new("op_index");
    const BLOCK_HASHES: TableDefinition<&[u8; 32], u64> = TableDefinition::new("block_hashes");
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let mut replay = Replay::default();
    {
        let mut db = Database::open(&path).unwrap();
        for _ in 0..2 {
            let (block, diff) = replay.advance();
            db.commit_block(&block, &diff).unwrap();
        }
    }
    let first = replay.blocks[0].hash();
    let latest = replay.blocks[1].hash();

    // The latest block's entry replaced by a stranger (same count): `open` catches that.
    poke(&path, |txn| {
        let mut hashes = txn.open_table(BLOCK_HASHES)?;
        hashes.remove(&latest.0)?;
        hashes.insert(&[8; 32], 2)?;
        Ok(())
    });
    let err = Database::open(&path).unwrap_err();
    assert!(
        matches!(
            err,
            StorageError::Corrupt {
                table: "block_hashes",
                ..
            }
        ),
        "{err}"
    );

    // Entries `open` does not recheck are range-checked when read.
    poke(&path, |txn| {
        let mut hashes = txn.open_table(BLOCK_HASHES)?;
        hashes.remove(&[8; 32])?;
        hashes.insert(&latest.0, 2)?;
        hashes.insert(&first.0, 0)?;
        txn.open_table(OP_INDEX)?.insert(&[7; 32], (3, 0))?;
        Ok(())
    });
    let db = Database::open(&path).unwrap();
    assert_eq!(db.block_number_by_hash(&latest).unwrap(), Some(2));
    let err = db.find_op(&B256::repeat_byte(7)).unwrap_err();
    assert!(
        matches!(
            err,
            StorageError::Corrupt {
                table: "op_index",
                ..
            }
        ),
        "{err}"
    );
    let err = db.block_number_by_hash(&first).unwrap_err();
    assert!(
        matches!(
            err,
            StorageError::Corrupt {
                table: "block_hashes",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn next_priority_op_survives_reopen_and_gaps_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let mut replay = Replay::default();
    {
        let mut db = Database::open(&path).unwrap();
        assert_eq!(db.next_priority_op(), 0);
        for _ in 0..5 {
            let (block, diff) = replay.advance();
            db.commit_block(&block, &diff).unwrap();
        }
    }
    let mut db = Database::open(&path).unwrap();
    // The generated chain's deposits are numbered by the accounts they create.
    let next = u64::from(replay.state.account_count());
    assert!(next > 0);
    assert_eq!(db.next_priority_op(), next);

    db.append_journal(&[(0, Op::Noop), (1, Op::Noop)]).unwrap();
    let (template, diff) = next_block(&replay.state, 6);
    let with_ops = |ops: Vec<Op>| {
        let mut block = template.clone();
        block.ops = ops;
        block
    };
    // A gap at the start, a gap inside, a repeat, and an id given twice across kinds.
    for (ops, expected, got) in [
        (vec![deposit(next + 1)], next, next + 1),
        (
            vec![deposit(next), Op::Noop, full_exit(next + 2)],
            next + 1,
            next + 2,
        ),
        (vec![deposit(next - 1)], next, next - 1),
        (vec![full_exit(next), deposit(next)], next + 1, next),
    ] {
        let err = db
            .commit_block_consuming(&with_ops(ops.clone()), &diff, &[0])
            .unwrap_err();
        assert!(
            matches!(err, StorageError::PriorityOutOfOrder { expected: e, got: g } if e == expected && g == got),
            "{ops:?}: {err}"
        );
        assert_eq!(db.latest_block(), Some(5));
        assert_eq!(db.next_priority_op(), next);
        assert_eq!(db.journal().unwrap().len(), 2);
    }

    let block6 = with_ops(vec![Op::Noop, deposit(next), Op::Noop, full_exit(next + 1)]);
    db.commit_block_consuming(&block6, &diff, &[0]).unwrap();
    assert_eq!(db.next_priority_op(), next + 2);
    assert_eq!(
        db.find_op(&full_exit(next + 1).hash()).unwrap(),
        Some((6, 3))
    );
    drop(db);

    // A `meta` counter that disagrees with the latest block's last priority op.
    const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
    let set_counter = |value: u64| {
        poke(&path, |txn| {
            txn.open_table(META)?
                .insert("next_priority_op", value.to_be_bytes().as_slice())?;
            Ok(())
        });
    };
    set_counter(next + 5);
    let err = Database::open(&path).unwrap_err();
    assert!(
        matches!(err, StorageError::Corrupt { table: "meta", .. }),
        "{err}"
    );
    set_counter(next + 2);

    let mut db = Database::open(&path).unwrap();
    assert_eq!(db.next_priority_op(), next + 2);
    // A block without priority ops leaves the counter alone, across reopen too.
    let (mut block7, diff7) = next_block(db.state(), 7);
    block7.ops = vec![Op::Noop];
    db.commit_block(&block7, &diff7).unwrap();
    assert_eq!(db.next_priority_op(), next + 2);
    drop(db);
    assert_eq!(Database::open(&path).unwrap().next_priority_op(), next + 2);
}
