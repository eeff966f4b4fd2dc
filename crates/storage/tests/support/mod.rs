//! Test-only block generator: deterministic random state changes turned into real diffs with
//! the tree crate, so storage can be tested without the stf executor.
//!
//! Block `n`'s changes depend only on `n` and the state before it, so the chain of blocks
//! `1..=n` is the same whoever builds it: a child process that was killed and restarted, or
//! the parent replaying it to learn what the state must be.

#![allow(dead_code)] // each test binary uses a different part

use causeway_primitives::{AccountId, Address, Balance, Deposit, Fr, Op, TokenId, fr_to_be_bytes};
use causeway_stf::{AccountState, MemoryState, PubKey, StateDiff, StateView, recompute_root};
use causeway_storage::{BatchRecord, BlockRecord, Database, FIRST_BLOCK};
use causeway_tree::{NodeKey, NodeStore, Overlay, Poseidon, SparseMerkleTree};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

/// Blocks per batch in the generated chain.
pub const BLOCKS_PER_BATCH: u64 = 7;

/// Computes the diff that sets `accounts` and `balances` on `state`, the way the stf does:
/// balance-tree leaves, then each touched account's leaf from its balance root, then the
/// account tree.
pub fn build_diff(
    state: &MemoryState,
    accounts: BTreeMap<AccountId, AccountState>,
    balances: BTreeMap<(AccountId, TokenId), Balance>,
    account_count: u32,
) -> StateDiff {
    let old_root = state.root();
    let mut overlay = Overlay::new(state);
    let mut by_account: BTreeMap<AccountId, Vec<(u64, Fr)>> = BTreeMap::new();
    for (&(id, token), &balance) in &balances {
        by_account
            .entry(id)
            .or_default()
            .push((u64::from(token.get()), Fr::from(balance)));
    }
    let touched: BTreeSet<AccountId> = accounts.keys().chain(by_account.keys()).copied().collect();
    let mut leaves = Vec::with_capacity(touched.len());
    for id in touched {
        let updates = by_account.get(&id).map_or(&[][..], Vec::as_slice);
        let (balances_root, nodes) = SparseMerkleTree::<Poseidon>::balances(id.get())
            .update(&overlay, updates)
            .expect("token ids fit");
        overlay.apply(&nodes);
        let account = accounts
            .get(&id)
            .cloned()
            .or_else(|| state.account(id))
            .expect("touched accounts exist");
        leaves.push((u64::from(id.get()), account.leaf_hash(balances_root)));
    }
    let (new_root, nodes) = SparseMerkleTree::<Poseidon>::accounts()
        .update(&overlay, &leaves)
        .expect("account ids fit");
    overlay.apply(&nodes);
    StateDiff {
        accounts,
        balances,
        nodes: overlay.into_diff(),
        account_count,
        old_root,
        new_root,
    }
}

/// Block `number` of the generated chain, built on `state` (the state after block
/// `number - 1`).
///
/// Its deposits are the only priority ops and the only way accounts are created, so after
/// any block of the chain `next_priority_op` equals the account count.
pub fn next_block(state: &MemoryState, number: u64) -> (BlockRecord, StateDiff) {
    let mut rng = StdRng::seed_from_u64(0x5eed_0000_0000 ^ number);
    let mut accounts = BTreeMap::new();
    let mut balances = BTreeMap::new();
    let mut ops = Vec::new();
    let mut count = state.account_count();
    let token = |rng: &mut StdRng| TokenId::new(rng.gen_range(0..TOKENS)).expect("small token id");

    for _ in 0..rng.gen_range(1..=6) {
        if count == 0 || rng.gen_bool(0.3) {
            let id = AccountId::new(count).expect("few accounts");
            count += 1;
            let address = Address::from(rng.r#gen::<[u8; 20]>());
            let token = token(&mut rng);
            let amount = rng.gen_range(1..1_000_000_000u128);
            accounts.insert(id, AccountState::new(address));
            balances.insert((id, token), amount);
            ops.push(Op::Deposit(Deposit {
                // Only deposits create accounts here, so the queue's next id is the account
                // count: the ids run on without gap, as the store requires.
                priority_id: u64::from(id.get()),
                from: address,
                to: address,
                token,
                amount,
            }));
            continue;
        }
        let id = AccountId::new(rng.gen_range(0..count)).expect("existing id");
        match rng.gen_range(0..4) {
            // Zero: deletes the balance if there is one.
            0 => {
                balances.insert((id, token(&mut rng)), 0);
            }
            1 | 2 => {
                balances.insert((id, token(&mut rng)), rng.gen_range(1..1u128 << 100));
            }
            _ => {
                let mut account = accounts
                    .get(&id)
                    .cloned()
                    .or_else(|| state.account(id))
                    .expect("existing account");
                account.nonce += 1;
                if rng.gen_bool(0.5) {
                    account.pubkey = Some(PubKey {
                        x: Fr::from(rng.r#gen::<u64>()),
                        y: Fr::from(rng.r#gen::<u64>()),
                    });
                }
                accounts.insert(id, account);
                ops.push(Op::Noop);
            }
        }
    }

    let diff = build_diff(state, accounts, balances, count);
    let pubdata_len = rng.gen_range(0..64);
    let block = BlockRecord {
        number,
        timestamp: 1_700_000_000 + number,
        fee_account: AccountId::new(0).expect("zero"),
        old_root: diff.old_root,
        new_root: diff.new_root,
        account_count: diff.account_count,
        ops,
        pubdata: (0..pubdata_len).map(|_| rng.r#gen()).collect(),
    };
    (block, diff)
}

/// The generated chain replayed in memory: the state after `latest`, the blocks, and every
/// node key any diff wrote (the nodes to compare, since stores cannot be iterated).
#[derive(Default)]
pub struct Replay {
    pub state: MemoryState,
    pub blocks: Vec<BlockRecord>,
    pub node_keys: HashSet<NodeKey>,
}

impl Replay {
    pub fn latest(&self) -> Option<u64> {
        self.blocks.last().map(|b| b.number)
    }

    /// Builds, applies and returns the next block.
    pub fn advance(&mut self) -> (BlockRecord, StateDiff) {
        let number = self.latest().map_or(FIRST_BLOCK, |n| n + 1);
        let (block, diff) = next_block(&self.state, number);
        self.state.apply(&diff);
        self.node_keys.extend(diff.nodes.iter().map(|(k, _)| *k));
        self.blocks.push(block.clone());
        (block, diff)
    }

    pub fn advance_to(&mut self, latest: Option<u64>) {
        while self.latest() < latest {
            self.advance();
        }
    }

    /// Batch `number` of the generated chain; its blocks must have been replayed.
    pub fn batch(&self, number: u64) -> BatchRecord {
        let (first, last) = batch_blocks(number);
        let block = |n: u64| &self.blocks[usize::try_from(n - FIRST_BLOCK).expect("small")];
        batch_of(number, block(first), block(last))
    }
}

/// The first and last block of batch `number`: `7(k-1)+1 ..= 7k` (see [`BLOCKS_PER_BATCH`]).
pub fn batch_blocks(number: u64) -> (u64, u64) {
    (
        (number - 1) * BLOCKS_PER_BATCH + 1,
        number * BLOCKS_PER_BATCH,
    )
}

/// Batch `number` of the generated chain, from its first and last block.
pub fn batch_of(number: u64, first: &BlockRecord, last: &BlockRecord) -> BatchRecord {
    BatchRecord {
        number,
        first_block: first.number,
        last_block: last.number,
        old_root: first.old_root,
        new_root: last.new_root,
        pubdata: first.pubdata.iter().chain(&last.pubdata).copied().collect(),
    }
}

/// The token ids the generated chain uses (`0..TOKENS`).
pub const TOKENS: u16 = 8;

/// Asserts that `db` holds exactly the replayed chain: state, node values, block records and
/// nothing beyond, that its root is what the accounts and balances hash to, and that the
/// history read at the latest block is that state.
pub fn assert_matches_replay(db: &Database, replay: &Replay) {
    assert_eq!(db.latest_block(), replay.latest());
    assert_same_state(db.state(), &replay.state, &replay.node_keys);
    assert_history_at(db, replay.latest().unwrap_or(0), &replay.state);
    for block in &replay.blocks {
        assert_eq!(db.block(block.number).unwrap().as_ref(), Some(block));
    }
    let next = replay.latest().map_or(FIRST_BLOCK, |n| n + 1);
    assert_eq!(db.block(next).unwrap(), None);
    let state = db.state();
    assert_eq!(
        recompute_root(state.accounts(), state.balances()),
        state.root(),
        "stored root differs from the root recomputed from accounts and balances"
    );
}

/// Asserts that every nonce and every balance (of the tokens below [`TOKENS`]) that `db`'s
/// history gives for the state after block `block` is `state`'s, for the accounts of `state`
/// and one beyond, which must read as empty.
pub fn assert_history_at(db: &Database, block: u64, state: &MemoryState) {
    for n in 0..=state.account_count() {
        let id = AccountId::new(n).expect("few accounts");
        let nonce = state.account(id).map_or(0, |a| a.nonce);
        assert_eq!(
            db.nonce_at(id, block).unwrap(),
            nonce,
            "nonce of {n} at {block}"
        );
        for t in 0..TOKENS {
            let token = TokenId::new(t).expect("small token id");
            assert_eq!(
                db.balance_at(id, token, block).unwrap(),
                state.balance(id, token),
                "balance of {n} token {t} at {block}"
            );
        }
    }
}

pub fn assert_same_state(a: &MemoryState, b: &MemoryState, node_keys: &HashSet<NodeKey>) {
    assert_eq!(a.account_count(), b.account_count());
    assert_eq!(
        a.accounts().collect::<Vec<_>>(),
        b.accounts().collect::<Vec<_>>()
    );
    for (id, account) in a.accounts() {
        assert_eq!(a.account_id(&account.address), Some(id));
    }
    assert_eq!(
        a.balances().collect::<BTreeMap<_, _>>(),
        b.balances().collect::<BTreeMap<_, _>>()
    );
    assert_eq!(fr_to_be_bytes(&a.root()), fr_to_be_bytes(&b.root()));
    for key in node_keys {
        assert_eq!(a.node(key), b.node(key), "node {key:?}");
    }
}

/// Writes raw records into a closed database file through redb, bypassing `Database`.
pub fn poke(path: &Path, write: impl FnOnce(&redb::WriteTransaction) -> Result<(), redb::Error>) {
    let raw = redb::Database::open(path).unwrap();
    let txn = raw.begin_write().unwrap();
    write(&txn).unwrap();
    txn.commit().unwrap();
}
