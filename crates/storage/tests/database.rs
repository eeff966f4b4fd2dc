//! Round trips, refused writes and corrupt files, on real redb files.

mod support;

use causeway_primitives::{
    AccountId, Address, ChangePubKey, ChangePubKeyAuth, Deposit, Fr, FullExit, Op, PackedPoint,
    TokenId, Transfer, TxSignature, Withdraw, fr_to_be_bytes,
};
use causeway_stf::StateView;
use causeway_storage::{BatchRecord, BlockRecord, Database, FORMAT_VERSION, StorageError};
use redb::{ReadableDatabase, TableDefinition, TableHandle};
use std::collections::BTreeMap;
use std::path::Path;
use support::{Replay, assert_matches_replay, build_diff, next_block, poke};

fn db_path(dir: &tempfile::TempDir) -> std::path::PathBuf {
    dir.path().join("state.redb")
}

/// Commits `blocks` generated blocks (and every full batch) to a new database at `path`.
fn write_chain(path: &Path, blocks: u64) -> Replay {
    let mut db = Database::open(path).unwrap();
    let mut replay = Replay::default();
    for _ in 0..blocks {
        let (block, diff) = replay.advance();
        db.commit_block(&block, &diff).unwrap();
        if block.number.is_multiple_of(support::BLOCKS_PER_BATCH) {
            db.put_batch(&replay.batch(block.number / support::BLOCKS_PER_BATCH))
                .unwrap();
        }
    }
    replay
}

#[test]
fn empty_database_opens_empty_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(db_path(&dir)).unwrap();
    assert_eq!(db.latest_block(), None);
    assert_eq!(db.latest_batch(), None);
    assert_eq!(db.state().account_count(), 0);
    assert_eq!(db.block(1).unwrap(), None);
    drop(db);
    let db = Database::open(db_path(&dir)).unwrap();
    assert_matches_replay(&db, &Replay::default());
}

#[test]
fn committed_blocks_and_batches_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let mut replay = write_chain(&path, 30);

    let mut db = Database::open(&path).unwrap();
    assert_matches_replay(&db, &replay);
    assert_eq!(db.latest_batch(), Some(4));
    for number in 1..=4 {
        assert_eq!(db.batch(number).unwrap(), Some(replay.batch(number)));
    }
    assert_eq!(db.batch(5).unwrap(), None);

    // And the reopened database keeps going.
    for _ in 0..5 {
        let (block, diff) = replay.advance();
        db.commit_block(&block, &diff).unwrap();
    }
    db.put_batch(&replay.batch(5)).unwrap();
    drop(db);
    let db = Database::open(&path).unwrap();
    assert_matches_replay(&db, &replay);
    assert_eq!(db.batch(5).unwrap(), Some(replay.batch(5)));
}

#[test]
fn block_records_round_trip_every_op() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = Database::open(db_path(&dir)).unwrap();
    let (mut block, diff) = next_block(db.state(), 1);
    let signature = TxSignature {
        pubkey: PackedPoint([1; 32]),
        r8_x: [2; 32],
        r8_y: [3; 32],
        s: [3; 32],
    };
    let id = AccountId::new(0).unwrap();
    let token = TokenId::new(1).unwrap();
    block.ops = vec![
        Op::Noop,
        Op::Deposit(Deposit {
            priority_id: 0,
            from: Address::repeat_byte(1),
            to: Address::repeat_byte(2),
            token,
            amount: u128::from(u64::MAX) << 40,
        }),
        Op::FullExit(FullExit {
            priority_id: 1,
            account: id,
            owner: Address::repeat_byte(3),
            token,
        }),
        Op::Transfer(Transfer {
            from: id,
            to: Address::repeat_byte(4),
            token,
            amount: 5,
            fee: 1,
            nonce: 7,
            signature,
        }),
        Op::Withdraw(Withdraw {
            from: id,
            to: Address::repeat_byte(5),
            token,
            amount: 6,
            fee: 2,
            nonce: 8,
            signature,
        }),
        Op::ChangePubKey(ChangePubKey {
            account: id,
            new_pubkey: PackedPoint([9; 32]),
            fee_token: token,
            fee: 3,
            nonce: 9,
            auth: ChangePubKeyAuth::EthSignature([0xee; 65]),
        }),
        Op::ChangePubKey(ChangePubKey {
            account: id,
            new_pubkey: PackedPoint([8; 32]),
            fee_token: token,
            fee: 0,
            nonce: 10,
            auth: ChangePubKeyAuth::Onchain,
        }),
    ];
    block.pubdata = (0..=255).collect();
    db.commit_block(&block, &diff).unwrap();
    assert_eq!(db.block(1).unwrap(), Some(block.clone()));
    drop(db);
    assert_eq!(
        Database::open(db_path(&dir)).unwrap().block(1).unwrap(),
        Some(block)
    );
}

#[test]
fn refused_writes_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let mut replay = write_chain(&path, 3);
    let mut db = Database::open(&path).unwrap();

    // Block 5 before block 4, and block 3 again.
    let mut ahead = replay.state.clone();
    let (block4, diff4) = next_block(&ahead, 4);
    ahead.apply(&diff4);
    let (block5, diff5) = next_block(&ahead, 5);
    assert!(matches!(
        db.commit_block(&block5, &diff5),
        Err(StorageError::BlockOutOfOrder {
            expected: 4,
            got: 5
        })
    ));
    let again = replay.blocks[2].clone();
    assert!(matches!(
        db.commit_block(&again, &diff4),
        Err(StorageError::BlockOutOfOrder {
            expected: 4,
            got: 3
        })
    ));

    // Block 4 built on the wrong state (the state after block 2).
    let mut stale = Replay::default();
    stale.advance_to(Some(2));
    let (mut wrong, wrong_diff) = next_block(&stale.state, 4);
    wrong.number = 4;
    assert!(matches!(
        db.commit_block(&wrong, &wrong_diff),
        Err(StorageError::OldRootMismatch { .. })
    ));

    // A block whose record disagrees with its diff, and diffs that do not fit the state.
    let mut mismatched = block4.clone();
    mismatched.new_root = Fr::from(1u64);
    assert!(matches!(
        db.commit_block(&mismatched, &diff4),
        Err(StorageError::InvalidBlock(_))
    ));
    let mut bad_count = diff4.clone();
    bad_count.account_count += 1;
    assert!(matches!(
        db.commit_block(&block4, &bad_count),
        Err(StorageError::InvalidBlock(_))
    ));
    let mut skipped_id = diff4.clone();
    let far = AccountId::new(1000).unwrap();
    skipped_id.accounts.insert(
        far,
        causeway_stf::AccountState::new(Address::repeat_byte(9)),
    );
    assert!(matches!(
        db.commit_block(&block4, &skipped_id),
        Err(StorageError::InvalidBlock(_))
    ));
    let mut forged_root = diff4.clone();
    forged_root.new_root = Fr::from(2u64);
    let mut forged_block = block4.clone();
    forged_block.new_root = forged_root.new_root;
    assert!(matches!(
        db.commit_block(&forged_block, &forged_root),
        Err(StorageError::InvalidBlock(_))
    ));
    let taken = replay
        .state
        .account(AccountId::new(0).unwrap())
        .unwrap()
        .address;
    let mut stolen_address = diff4.clone();
    let new_id = AccountId::new(replay.state.account_count()).unwrap();
    stolen_address
        .accounts
        .insert(new_id, causeway_stf::AccountState::new(taken));
    stolen_address.account_count = diff4.account_count.max(new_id.get() + 1);
    assert!(matches!(
        db.commit_block(&block4, &stolen_address),
        Err(StorageError::InvalidBlock(_))
    ));
    let mut moved_address = diff4.clone();
    moved_address.accounts.insert(
        AccountId::new(0).unwrap(),
        causeway_stf::AccountState::new(Address::repeat_byte(0x77)),
    );
    assert!(matches!(
        db.commit_block(&block4, &moved_address),
        Err(StorageError::InvalidBlock(_))
    ));
    let mut ghost_balance = diff4.clone();
    ghost_balance
        .balances
        .insert((far, TokenId::new(0).unwrap()), 1);
    assert!(matches!(
        db.commit_block(&block4, &ghost_balance),
        Err(StorageError::InvalidBlock(_))
    ));

    // Batches: out of order, past the committed blocks, wrong start, wrong roots.
    let batch = |number, first_block, last_block, old_root, new_root| BatchRecord {
        number,
        first_block,
        last_block,
        old_root,
        new_root,
        pubdata: vec![],
    };
    let root = |n: usize| replay.blocks[n - 1].new_root;
    let genesis = replay.blocks[0].old_root;
    assert!(matches!(
        db.put_batch(&batch(2, 1, 3, genesis, root(3))),
        Err(StorageError::BatchOutOfOrder {
            expected: 1,
            got: 2
        })
    ));
    assert!(matches!(
        db.put_batch(&batch(1, 1, 4, genesis, root(3))),
        Err(StorageError::InvalidBatch(_))
    ));
    assert!(matches!(
        db.put_batch(&batch(1, 2, 3, root(1), root(3))),
        Err(StorageError::InvalidBatch(_))
    ));
    assert!(matches!(
        db.put_batch(&batch(1, 1, 3, genesis, root(2))),
        Err(StorageError::InvalidBatch(_))
    ));
    assert!(matches!(
        db.put_batch(&batch(1, 3, 2, genesis, root(3))),
        Err(StorageError::InvalidBatch(_))
    ));

    // Nothing moved, in memory or on disk, and the right block still goes in.
    assert_matches_replay(&db, &replay);
    assert_eq!(db.latest_batch(), None);
    drop(db);
    let mut db = Database::open(&path).unwrap();
    assert_matches_replay(&db, &replay);
    assert_eq!(db.batch(1).unwrap(), None);
    let (block, diff) = replay.advance();
    db.commit_block(&block, &diff).unwrap();
    assert_matches_replay(&db, &replay);
}

#[test]
fn zero_balances_are_deleted_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let mut db = Database::open(&path).unwrap();
    let id = AccountId::new(0).unwrap();
    let token = TokenId::new(3).unwrap();
    let account = causeway_stf::AccountState::new(Address::repeat_byte(7));
    let diff = build_diff(
        db.state(),
        BTreeMap::from([(id, account)]),
        BTreeMap::from([((id, token), 100)]),
        1,
    );
    db.commit_block(&block_for(1, &diff), &diff).unwrap();
    let diff = build_diff(
        db.state(),
        BTreeMap::new(),
        BTreeMap::from([((id, token), 0)]),
        1,
    );
    db.commit_block(&block_for(2, &diff), &diff).unwrap();
    assert_eq!(db.state().balance(id, token), 0);
    drop(db);

    let raw = redb::Database::open(&path).unwrap();
    let txn = raw.begin_read().unwrap();
    let balances = txn.open_table(BALANCES).unwrap();
    assert!(balances.get((0u32, 3u16)).unwrap().is_none());
}

fn block_for(number: u64, diff: &causeway_stf::StateDiff) -> BlockRecord {
    BlockRecord {
        number,
        timestamp: number,
        fee_account: AccountId::new(0).unwrap(),
        old_root: diff.old_root,
        new_root: diff.new_root,
        account_count: diff.account_count,
        ops: vec![],
        pubdata: vec![],
    }
}

const ACCOUNTS: TableDefinition<u32, &[u8]> = TableDefinition::new("accounts");
const NODES: TableDefinition<&[u8; 13], &[u8; 32]> = TableDefinition::new("nodes");
const BALANCES: TableDefinition<(u32, u16), &[u8; 16]> = TableDefinition::new("balances");
const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// A fresh database with a few blocks, then `corrupt` applied to the closed file; returns
/// what `open` says.
fn open_after(corrupt: impl FnOnce(&Path, &Replay)) -> StorageError {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let replay = write_chain(&path, 8);
    corrupt(&path, &replay);
    Database::open(&path).expect_err("open must refuse a corrupt file")
}

#[test]
fn corrupt_records_are_typed_errors() {
    let err = open_after(|path, _| {
        poke(path, |txn| {
            txn.open_table(ACCOUNTS)?
                .insert(0, [1u8, 2, 3].as_slice())?;
            Ok(())
        })
    });
    assert!(
        matches!(
            err,
            StorageError::Corrupt {
                table: "accounts",
                ..
            }
        ),
        "{err}"
    );

    // A gap in the account ids.
    let err = open_after(|path, replay| {
        let next = replay.state.account_count() + 1;
        poke(path, |txn| {
            txn.open_table(ACCOUNTS)?
                .insert(next, [0u8; 25].as_slice())?;
            Ok(())
        });
    });
    assert!(
        matches!(
            err,
            StorageError::Corrupt {
                table: "accounts",
                ..
            }
        ),
        "{err}"
    );

    let err = open_after(|path, _| {
        let key = causeway_tree::NodeKey {
            tree: causeway_tree::TreeKey::Accounts,
            height: 0,
            index: 0,
        };
        poke(path, |txn| {
            txn.open_table(NODES)?
                .insert(&key.to_bytes(), &[0xff; 32])?;
            Ok(())
        });
    });
    assert!(
        matches!(err, StorageError::Corrupt { table: "nodes", .. }),
        "{err}"
    );

    let err = open_after(|path, _| {
        poke(path, |txn| {
            txn.open_table(BALANCES)?.insert((0, 5), &[0; 16])?;
            Ok(())
        });
    });
    assert!(
        matches!(
            err,
            StorageError::Corrupt {
                table: "balances",
                ..
            }
        ),
        "{err}"
    );

    let err = open_after(|path, _| {
        poke(path, |txn| {
            txn.open_table(BLOCKS)?.insert(8, [0xffu8; 7].as_slice())?;
            Ok(())
        })
    });
    assert!(
        matches!(
            err,
            StorageError::Corrupt {
                table: "blocks",
                ..
            }
        ),
        "{err}"
    );

    // A block record beyond the latest block: a half-applied commit cannot look like this,
    // but a tampered file can.
    let err = open_after(|path, _| {
        poke(path, |txn| {
            txn.open_table(BLOCKS)?.insert(9, [].as_slice())?;
            Ok(())
        })
    });
    assert!(
        matches!(
            err,
            StorageError::Corrupt {
                table: "blocks",
                ..
            }
        ),
        "{err}"
    );

    let err = open_after(|path, _| {
        let root = fr_to_be_bytes(&Fr::from(5u64));
        poke(path, |txn| {
            txn.open_table(META)?
                .insert("state_root", root.as_slice())?;
            Ok(())
        });
    });
    assert!(
        matches!(err, StorageError::RootMismatch { block: Some(8), .. }),
        "{err}"
    );

    // The account-tree root node itself replaced: the recorded roots no longer match it.
    let err = open_after(|path, _| {
        let key = causeway_tree::NodeKey {
            tree: causeway_tree::TreeKey::Accounts,
            height: causeway_tree::ACCOUNT_TREE_HEIGHT,
            index: 0,
        };
        let bogus = fr_to_be_bytes(&Fr::from(6u64));
        poke(path, |txn| {
            txn.open_table(NODES)?.insert(&key.to_bytes(), &bogus)?;
            Ok(())
        });
    });
    assert!(matches!(err, StorageError::RootMismatch { .. }), "{err}");

    let err = open_after(|path, _| {
        poke(path, |txn| {
            txn.open_table(META)?
                .insert("version", 99u32.to_be_bytes().as_slice())?;
            Ok(())
        });
    });
    assert!(
        matches!(
            err,
            StorageError::UnsupportedVersion {
                found: 99,
                supported: FORMAT_VERSION
            }
        ),
        "{err}"
    );
}

#[test]
fn a_file_that_is_not_a_database_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    std::fs::write(&path, vec![0x5a; 10_000]).unwrap();
    let err = Database::open(&path).expect_err("garbage file");
    assert!(matches!(err, StorageError::Db(_)), "{err}");
}

#[test]
fn damaged_pages_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    write_chain(&path, 20);
    let pristine = std::fs::read(&path).unwrap();
    // Flip one bit at a spread of offsets past the header; each must be caught or harmless.
    // (With a step of 1021 bytes, 19 of 558 flips were caught, none panicked; most of the
    // file is free space.)
    let step = 4093;
    for offset in (4096..pristine.len()).step_by(step) {
        let mut damaged = pristine.clone();
        damaged[offset] ^= 0x40;
        std::fs::write(&path, &damaged).unwrap();
        if let Ok(db) = Database::open(&path) {
            // Unused space may be damaged harmlessly; then the state must still be whole.
            let state = db.state();
            assert_eq!(
                causeway_stf::recompute_root(state.accounts(), state.balances()),
                state.root()
            );
        }
    }
}

#[test]
fn second_open_of_one_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _db = Database::open(db_path(&dir)).unwrap();
    let err = Database::open(db_path(&dir)).expect_err("the file is locked");
    assert!(matches!(err, StorageError::Db(_)), "{err}");
}

#[test]
fn the_database_is_a_state_view_of_what_it_stored() {
    use causeway_stf::StateView;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("view.redb");
    let (root, count) = {
        let mut db = Database::open(&path).unwrap();
        for number in 1..=3 {
            let (block, diff) = support::next_block(db.state(), number);
            db.commit_block(&block, &diff).unwrap();
        }
        (db.state().root(), db.state().account_count())
    };
    let db = Database::open(&path).unwrap();
    assert_eq!(StateView::root(&db), root);
    assert_eq!(db.account_count(), count);
    for (id, account) in db.state().accounts() {
        assert_eq!(db.account(id).as_ref(), Some(account));
        assert_eq!(db.account_id(&account.address), Some(id));
    }
}

#[test]
fn version_1_files_are_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    // A new version-1 database: the five data tables and `meta` holding only the version.
    {
        let raw = redb::Database::create(&path).unwrap();
        let txn = raw.begin_write().unwrap();
        txn.open_table(NODES).unwrap();
        txn.open_table(ACCOUNTS).unwrap();
        txn.open_table(BALANCES).unwrap();
        txn.open_table(BLOCKS).unwrap();
        txn.open_table(META)
            .unwrap()
            .insert("version", 1u32.to_be_bytes().as_slice())
            .unwrap();
        txn.commit().unwrap();
    }
    let err = Database::open(&path).expect_err("a version-1 file");
    assert!(
        matches!(
            err,
            StorageError::UnsupportedVersion {
                found: 1,
                supported: FORMAT_VERSION
            }
        ),
        "{err}"
    );
    // The refusal created none of the tables added since.
    let raw = redb::Database::open(&path).unwrap();
    let tables: Vec<String> = raw
        .begin_read()
        .unwrap()
        .list_tables()
        .unwrap()
        .map(|t| t.name().to_string())
        .collect();
    for new in [
        "journal",
        "op_index",
        "block_hashes",
        "balance_history",
        "nonce_history",
    ] {
        assert!(!tables.iter().any(|t| t == new), "{new} in {tables:?}");
    }
}

const JOURNAL: TableDefinition<u64, &[u8]> = TableDefinition::new("journal");
const BLOCK_HASHES: TableDefinition<&[u8; 32], u64> = TableDefinition::new("block_hashes");

#[test]
fn corrupt_journal_and_index_entries_are_typed_errors() {
    // A journal key at or beyond `journal_next` would let a later append reuse it.
    let err = open_after(|path, _| {
        poke(path, |txn| {
            txn.open_table(JOURNAL)?.insert(0, [0u8].as_slice())?;
            Ok(())
        });
    });
    assert!(
        matches!(
            err,
            StorageError::Corrupt {
                table: "journal",
                ..
            }
        ),
        "{err}"
    );

    // A lost `journal_next` is not silently taken as 0.
    let err = open_after(|path, _| {
        poke(path, |txn| {
            txn.open_table(META)?.remove("journal_next")?;
            Ok(())
        });
    });
    assert!(
        matches!(
            err,
            StorageError::Corrupt {
                table: "meta",
                ref key,
                ..
            } if key == "journal_next"
        ),
        "{err}"
    );
    let err = open_after(|path, _| {
        poke(path, |txn| {
            txn.open_table(META)?.remove("next_priority_op")?;
            Ok(())
        });
    });
    assert!(
        matches!(
            err,
            StorageError::Corrupt {
                table: "meta",
                ref key,
                ..
            } if key == "next_priority_op"
        ),
        "{err}"
    );

    // The latest block's hash entry missing.
    let err = open_after(|path, replay| {
        let hash = replay.blocks.last().unwrap().hash();
        poke(path, |txn| {
            txn.open_table(BLOCK_HASHES)?.remove(&hash.0)?;
            Ok(())
        });
    });
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
    // The latest block's hash pointing elsewhere.
    let err = open_after(|path, replay| {
        let hash = replay.blocks.last().unwrap().hash();
        poke(path, |txn| {
            txn.open_table(BLOCK_HASHES)?.insert(&hash.0, 3)?;
            Ok(())
        });
    });
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
