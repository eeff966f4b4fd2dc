//! The sequencer on its own thread, driven through its command channel the way `run.rs` drives
//! it, with no L1: deposits are fed as `Command::Priority` in id order, L2 keys are registered
//! with on-chain-authorized ChangePubKeys listed in `SequencerConfig::auths`.
//!
//! Every test starts from [`setup`]: the fee account (account 0, priority op 0) and users
//! `1..=n` (account `n`, priority op `n`, address `0xnn..nn`, L2 key `[n; 32]`), all sealed.
//!
//! # Simulating a crash
//!
//! `Command::Stop` seals the open block, so stopping is not a crash. Instead [`crash_image`]
//! copies the redb file while the sequencer runs, at a moment when it writes nothing: after
//! the last acknowledgement *and* query round trips until the open block is not full and no
//! closed block is waiting to be written and applied (a query is answered after the journal
//! write of the group it arrived in; a full block is closed at the end of that group and
//! written on the committing thread, and a query sees it until it is applied; no new write
//! starts without a command), with a block time
//! far longer than the test so no block is closed by age. redb
//! writes through `pwrite` and commits each durable transaction with a two-phase header
//! switch, so the file's bytes at rest between commits are exactly what a kill -9 at that
//! instant leaves on disk (the page cache survives a process crash). Opening the copy runs
//! redb's recovery as after a real crash, and the sequencer opened on it replays the journal.

mod support;

use alloy_primitives::U256;
use causeway_circuit::batch::BatchShape;
use causeway_l1_gen::BATCH_SHAPE;
use causeway_node::NodeFatal;
use causeway_node::config::SequencerConfig;
use causeway_node::sequencer::{Command, Sequencer, SequencerHandle, Soft, channel};
use causeway_primitives::pubdata::CHUNK_BYTES;
use causeway_primitives::{Address, B256, Balance, Nonce, Op, TokenId};
use causeway_prover::JobQueue;
use causeway_rpc::api::NodeError;
use causeway_stf::StateView;
use causeway_storage::{BlockRecord, Database};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use support::{FEE, OPERATOR, addr, config, deposit, id, key, register, signed_transfer, transfer};
use tempfile::TempDir;
use tokio::sync::oneshot;

/// The fee account's first deposit.
const OPERATOR_DEPOSIT: Balance = 1_000;
/// Long enough that no block is ever sealed by age during a test.
const LONG: Duration = Duration::from_secs(600);
const TIMEOUT: Duration = Duration::from_secs(10);

/// Whether a refusal is the expected one.
type ErrorCheck = Box<dyn Fn(&NodeError) -> bool>;

fn eth_deposit(priority_id: u64, to: Address, amount: Balance) -> Op {
    deposit(priority_id, to, TokenId::ETH, amount)
}

fn wait<T>(answer: oneshot::Receiver<T>) -> T {
    answer
        .blocking_recv()
        .expect("the sequencer dropped the reply: it stopped")
}

fn poll_until(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < TIMEOUT, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A sequencer thread over `<dir>/state.redb`, opened as `run.rs` opens it.
struct Node {
    handle: SequencerHandle,
    thread: Option<JoinHandle<Result<(), NodeFatal>>>,
    /// `Sequencer::next_priority` at open.
    next_priority: u64,
}

impl Node {
    fn open(dir: &Path, cfg: SequencerConfig) -> Node {
        let db = Database::open(dir.join("state.redb")).expect("open the database");
        let queue = JobQueue::open(dir.join("prover")).expect("open the job queue");
        let (handle, rx) = channel(1024);
        let sequencer =
            Sequencer::open(db, cfg, queue, handle.progress.clone()).expect("open the sequencer");
        let next_priority = sequencer.next_priority().expect("next priority");
        let thread = std::thread::spawn(move || sequencer.run(rx));
        Node {
            handle,
            thread: Some(thread),
            next_priority,
        }
    }

    fn send(&self, op: Op) -> oneshot::Receiver<Result<B256, NodeError>> {
        let (reply, answer) = oneshot::channel();
        self.handle
            .send(Command::Submit { op, reply })
            .expect("queued");
        answer
    }

    fn submit(&self, op: Op) -> Result<B256, NodeError> {
        wait(self.send(op))
    }

    fn priority(&self, ops: Vec<Op>) {
        self.handle
            .send_blocking(Command::Priority(ops))
            .expect("queued");
    }

    fn try_query<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Soft<'_>) -> T + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.handle
            .send(Command::Query(Box::new(move |soft| {
                let _ = tx.send(f(soft));
            })))
            .ok()?;
        rx.recv_timeout(TIMEOUT).ok()
    }

    fn query<T: Send + 'static>(&self, f: impl FnOnce(&Soft<'_>) -> T + Send + 'static) -> T {
        self.try_query(f)
            .expect("the sequencer answers queries (it has not stopped)")
    }

    /// Answers `f` once no closed block waits to be written and applied: which ops show as
    /// pending depends on where the committing thread is, so views are compared settled.
    fn try_settled<T: Send + 'static>(
        &self,
        f: impl Fn(&Soft<'_>) -> T + Send + Sync + 'static,
    ) -> Option<T> {
        let f = std::sync::Arc::new(f);
        loop {
            let g = f.clone();
            let answer = self.try_query(move |soft| soft.sealing.is_empty().then(|| g(soft)))?;
            if answer.is_some() {
                return answer;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }

    fn settled<T: Send + 'static>(&self, f: impl Fn(&Soft<'_>) -> T + Send + Sync + 'static) -> T {
        self.try_settled(f)
            .expect("the sequencer answers queries (it has not stopped)")
    }

    fn latest_block(&self) -> u64 {
        self.handle.progress.latest_block.load(Ordering::Relaxed)
    }

    fn progress_mempool(&self) -> u64 {
        self.handle.progress.mempool.load(Ordering::Relaxed)
    }

    /// Stops the thread (sealing the open block) and returns how it ended.
    fn stop(mut self) -> Result<(), NodeFatal> {
        let thread = self.thread.take().expect("running");
        let _ = self.handle.send_blocking(Command::Stop);
        thread.join().expect("the sequencer thread panicked")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = self.handle.send_blocking(Command::Stop);
            let _ = thread.join();
        }
    }
}

/// Funds the fee account and users `1..=users` (with `fund` each), registers the users' keys
/// and seals everything.
fn setup(dir: &Path, users: u8, fund: Balance) {
    let node = Node::open(dir, config(BATCH_SHAPE, Duration::from_millis(20), users));
    assert_eq!(node.next_priority, 0);
    node.priority(
        std::iter::once(eth_deposit(0, OPERATOR, OPERATOR_DEPOSIT))
            .chain((1..=users).map(|n| eth_deposit(n.into(), addr(n), fund)))
            .collect(),
    );
    let count = u32::from(users) + 1;
    poll_until("the setup deposits", || {
        node.query(move |soft| soft.exec.account_count()) == count
    });
    let answers: Vec<_> = (1..=users).map(|n| node.send(register(n))).collect();
    for answer in answers {
        wait(answer).expect("ChangePubKey accepted");
    }
    node.stop().expect("clean stop");
}

fn setup_dir(users: u8, fund: Balance) -> TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    setup(dir.path(), users, fund);
    dir
}

/// Chunks of the open block's ops.
fn open_chunks(soft: &Soft<'_>) -> usize {
    soft.exec
        .receipts()
        .iter()
        .map(|r| r.executed.chunks())
        .sum()
}

/// Copies `<from>/state.redb` to a fresh directory while `node` (with blocks of `chunks`) runs;
/// see the module docs.
fn crash_image(node: &Node, from: &Path, chunks: usize) -> TempDir {
    // The barrier: a query is answered only after the journal writes of every earlier
    // command have returned, and a full block is closed before the next command is read; a
    // closed block is written on the committing thread, so wait until it is applied (no new
    // write starts without a command).
    loop {
        let (open, sealing) = node.query(move |soft| (open_chunks(soft), soft.sealing.len()));
        assert!(
            open < chunks,
            "a full block waited for a command to be closed"
        );
        if sealing == 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let to = tempfile::tempdir().expect("tempdir");
    std::fs::copy(from.join("state.redb"), to.path().join("state.redb")).expect("copy");
    to
}

/// Reads the committed database after the sequencer stopped.
fn committed(dir: &Path) -> Database {
    Database::open(dir.join("state.redb")).expect("reopen the database")
}

fn blocks(db: &Database) -> Vec<BlockRecord> {
    (1..=db.latest_block().unwrap_or(0))
        .map(|n| db.block(n).expect("read").expect("committed block"))
        .collect()
}

fn chunks(block: &BlockRecord) -> usize {
    assert_eq!(block.pubdata.len() % CHUNK_BYTES, 0);
    block.pubdata.len() / CHUNK_BYTES
}

fn priority_ids(blocks: &[BlockRecord]) -> Vec<u64> {
    blocks
        .iter()
        .flat_map(|b| &b.ops)
        .filter_map(|op| match op {
            Op::Deposit(d) => Some(d.priority_id),
            Op::FullExit(e) => Some(e.priority_id),
            _ => None,
        })
        .collect()
}

/// Everything a client can observe of the soft state (ETH only).
#[derive(Debug, Clone, PartialEq, Eq)]
struct SoftView {
    /// Per account id: address, soft nonce, next nonce (past parked ops), ETH balance.
    accounts: Vec<(Address, Nonce, Nonce, Balance)>,
    /// Journaled ops not in a sealed block.
    pending: BTreeSet<B256>,
    /// The open block's ops, in execution order.
    open: Vec<B256>,
    parked: Vec<(u32, Nonce, B256)>,
    next_block: u64,
}

fn soft_view(soft: &Soft<'_>) -> SoftView {
    let accounts = (0..soft.exec.account_count())
        .map(|n| {
            let a = soft.exec.account(id(n)).expect("account below the count");
            let next = soft.next_nonce(id(n)).expect("exists");
            (
                a.address,
                a.nonce,
                next,
                soft.exec.balance(id(n), TokenId::ETH),
            )
        })
        .collect();
    SoftView {
        accounts,
        pending: soft.mempool.hashes.keys().copied().collect(),
        open: soft.mempool.open.iter().map(|(_, op)| op.hash()).collect(),
        parked: soft
            .mempool
            .parked
            .iter()
            .map(|((a, n), p)| (a.get(), *n, p.op.hash()))
            .collect(),
        next_block: soft.next_block,
    }
}

/// Where an acknowledged op is: pending, in a sealed block, or gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Where {
    Pending,
    Sealed(u64, u32),
    Gone,
}

fn locate(node: &Node, hashes: Vec<B256>) -> Vec<Where> {
    node.settled(move |soft| {
        hashes
            .iter()
            .map(|h| {
                if soft.mempool.hashes.contains_key(h) {
                    Where::Pending
                } else {
                    match soft.db.find_op(h).expect("find_op") {
                        Some((b, i)) => Where::Sealed(b, i),
                        None => Where::Gone,
                    }
                }
            })
            .collect()
    })
}

fn soft_eth(node: &Node, n: u32) -> (Nonce, Balance) {
    node.query(move |soft| {
        let a = soft.exec.account(id(n)).expect("exists");
        (a.nonce, soft.exec.balance(id(n), TokenId::ETH))
    })
}

// 1. Acceptance, soft state, sealing.

#[test]
fn accepted_ops_run_at_once_and_seal_into_blocks_of_at_most_shape_chunks() {
    let dir = setup_dir(2, 1_000_000);
    let block_time = Duration::from_millis(300);
    let node = Node::open(dir.path(), config(BATCH_SHAPE, block_time, 2));
    let first = node.latest_block();
    let (nonce_a, bal_a) = soft_eth(&node, 1);
    let (_, bal_b) = soft_eth(&node, 2);
    assert_eq!(nonce_a, 1, "the ChangePubKey used nonce 0");

    // One op: executed and acknowledged with its hash at once, sealed only after block_time.
    let op = transfer(1, addr(2), 1_000, 1);
    let sent = Instant::now();
    assert_eq!(node.submit(op.clone()), Ok(op.hash()));
    assert_eq!(soft_eth(&node, 1), (2, bal_a - 1_000 - FEE));
    assert_eq!(soft_eth(&node, 2).1, bal_b + 1_000);
    let hash = op.hash();
    assert!(node.query(move |soft| soft.pending_op(&hash).is_some()));
    assert_eq!(node.latest_block(), first, "sealed before block_time");
    poll_until("the block to age", || node.latest_block() == first + 1);
    assert!(
        sent.elapsed() >= block_time,
        "sealed after {:?}",
        sent.elapsed()
    );

    // Eight one-chunk ops at once: a full block of 6, sealed at once, then 2 sealed by age.
    let ops: Vec<Op> = (2..10).map(|n| transfer(1, addr(2), 10, n)).collect();
    let answers: Vec<_> = ops.iter().map(|op| node.send(op.clone())).collect();
    for (op, answer) in ops.iter().zip(answers) {
        assert_eq!(wait(answer), Ok(op.hash()));
    }
    poll_until("everything sealed", || {
        node.latest_block() == first + 3 && node.progress_mempool() == 0
    });

    // No empty block is ever made.
    std::thread::sleep(block_time * 3);
    assert_eq!(node.latest_block(), first + 3);
    node.stop().expect("clean stop");

    let db = committed(dir.path());
    let all = blocks(&db);
    assert!(all.iter().all(|b| !b.ops.is_empty()), "an empty block");
    assert!(all.iter().all(|b| chunks(b) <= BATCH_SHAPE.chunks));
    let new = &all[first as usize..];
    assert_eq!(new.len(), 3);
    assert_eq!(new[0].ops, vec![op]);
    assert_eq!(new[1].ops, ops[..6]);
    assert_eq!(chunks(&new[1]), 6);
    assert_eq!(new[2].ops, ops[6..]);
    // Fees reach the fee account when blocks are sealed.
    assert_eq!(
        db.state().balance(id(0), TokenId::ETH),
        OPERATOR_DEPOSIT + 9 * FEE
    );
}

// 2. Refusals.

#[test]
fn refused_ops_get_their_typed_error_and_change_nothing() {
    let fund = 1_000_000;
    let dir = setup_dir(2, fund);
    let node = Node::open(dir.path(), config(BATCH_SHAPE, LONG, 2));
    let ok = transfer(1, addr(2), 100, 1);
    assert_eq!(node.submit(ok.clone()), Ok(ok.hash()));

    let observe = |node: &Node| {
        let soft = node.query(|soft| {
            (
                soft_view(soft),
                soft.mempool.len(),
                soft.db.journal().expect("journal").len(),
            )
        });
        (soft, node.progress_mempool())
    };
    let before = observe(&node);
    assert_eq!((before.0.1, before.0.2, before.1), (1, 1, 1));

    let rejected = |reason: &str| {
        let reason = reason.to_owned();
        move |e: &NodeError| matches!(e, NodeError::Rejected { reason: r, .. } if *r == reason)
    };
    let mut tampered = signed_transfer(1, id(1), addr(2), 100, FEE, 2);
    tampered.amount = 200; // signed for 100
    let cases: Vec<(&str, Op, ErrorCheck)> = vec![
        (
            "bad signature",
            Op::Transfer(tampered),
            Box::new(rejected("BadSignature")),
        ),
        (
            "wrong signer",
            Op::Transfer(signed_transfer(2, id(1), addr(2), 100, FEE, 2)),
            Box::new(rejected("WrongSigner")),
        ),
        (
            "old nonce",
            transfer(1, addr(2), 101, 1),
            Box::new(rejected("WrongNonce")),
        ),
        (
            "overdraft",
            transfer(1, addr(2), 2 * fund, 2),
            Box::new(rejected("InsufficientBalance")),
        ),
        (
            "fee below the floor",
            Op::Transfer(signed_transfer(1, id(1), addr(2), 100, FEE - 1, 2)),
            Box::new(|e: &NodeError| {
                *e == NodeError::FeeTooLow {
                    offered: U256::from(FEE - 1),
                    minimum: U256::from(FEE),
                }
            }),
        ),
        (
            "unknown account",
            Op::Transfer(signed_transfer(1, id(999), addr(2), 100, FEE, 0)),
            Box::new(rejected("AccountNotFound")),
        ),
    ];
    for (what, op, expected) in cases {
        match node.submit(op) {
            Err(e) => assert!(expected(&e), "{what}: unexpected error {e:?}"),
            Ok(h) => panic!("{what}: accepted as {h}"),
        }
        assert_eq!(observe(&node), before, "{what} changed something");
    }
    node.stop().expect("clean stop");
    let db = committed(dir.path());
    assert!(db.journal().expect("journal").is_empty());
    let last = blocks(&db).pop().expect("a block");
    assert_eq!(last.ops, vec![ok], "only the accepted op was sealed");
}

// 3. Parking.

#[test]
fn a_future_nonce_is_parked_until_the_gap_is_filled() {
    let dir = setup_dir(2, 1_000_000);
    let node = Node::open(dir.path(), config(BATCH_SHAPE, LONG, 2));
    let (nonce, bal_a) = soft_eth(&node, 1);
    let (_, bal_b) = soft_eth(&node, 2);

    let later = transfer(1, addr(2), 100, nonce + 1);
    assert_eq!(node.submit(later.clone()), Ok(later.hash()));
    let view = node.query(soft_view);
    assert_eq!(soft_eth(&node, 1), (nonce, bal_a), "a parked op ran");
    assert_eq!(soft_eth(&node, 2).1, bal_b);
    assert_eq!(view.parked, vec![(1, nonce + 1, later.hash())]);
    assert!(view.open.is_empty());
    assert!(view.pending.contains(&later.hash()));
    assert_eq!(view.accounts[1].2, nonce, "next nonce stops at the gap");
    assert_eq!(node.progress_mempool(), 1);

    let now = transfer(1, addr(2), 50, nonce);
    assert_eq!(node.submit(now.clone()), Ok(now.hash()));
    let view = node.query(soft_view);
    assert_eq!(soft_eth(&node, 1), (nonce + 2, bal_a - 150 - 2 * FEE));
    assert_eq!(soft_eth(&node, 2).1, bal_b + 150);
    assert!(view.parked.is_empty());
    assert_eq!(
        view.open,
        vec![now.hash(), later.hash()],
        "run in nonce order"
    );

    node.stop().expect("clean stop");
    let db = committed(dir.path());
    assert_eq!(blocks(&db).pop().expect("a block").ops, vec![now, later]);
}

#[test]
fn too_many_parked_ops_and_duplicates_are_refused() {
    let dir = setup_dir(2, 1_000_000);
    let node = Node::open(dir.path(), config(BATCH_SHAPE, LONG, 2));
    let (nonce, _) = soft_eth(&node, 1);
    let limit = 4; // config's max_parked_per_sender

    let parked: Vec<Op> = (1..=limit)
        .map(|d| transfer(1, addr(2), 10, nonce + d))
        .collect();
    for op in &parked {
        assert_eq!(node.submit(op.clone()), Ok(op.hash()));
    }
    let before = node.query(soft_view);
    assert_eq!(before.parked.len(), limit as usize);
    assert_eq!(
        node.submit(transfer(1, addr(2), 10, nonce + limit + 1)),
        Err(NodeError::SenderLimit(addr(1)))
    );
    // The same op again, and another op for a taken nonce.
    assert_eq!(node.submit(parked[0].clone()), Err(NodeError::AlreadyKnown));
    assert_eq!(
        node.submit(transfer(1, addr(2), 11, nonce + 1)),
        Err(NodeError::AlreadyKnown)
    );
    assert_eq!(node.query(soft_view), before);
    // Another sender is not limited by this one's parked ops.
    let other = transfer(2, addr(1), 10, nonce + 1);
    assert_eq!(node.submit(other.clone()), Ok(other.hash()));

    // Filling the gap runs all of them; an executed op resubmitted is still known.
    let gap = transfer(1, addr(2), 10, nonce);
    assert_eq!(node.submit(gap.clone()), Ok(gap.hash()));
    assert_eq!(soft_eth(&node, 1).0, nonce + limit + 1);
    assert_eq!(node.submit(gap), Err(NodeError::AlreadyKnown));
    assert_eq!(
        node.query(soft_view).parked.len(),
        1,
        "only the other sender's"
    );
}

// 4. Restart: deterministic replay of the journal.

#[derive(Debug, Clone)]
enum Target {
    User(u8),
    /// An address with no account yet (a 3-chunk TransferToNew the first time).
    Fresh(u8),
}

#[derive(Debug, Clone, Copy)]
enum NonceChoice {
    Next,
    Ahead(u32),
    Old,
}

#[derive(Debug, Clone)]
struct Step {
    from: u8,
    to: Target,
    amount: Balance,
    nonce: NonceChoice,
}

const USERS: u8 = 3;
const FUND: Balance = 1_000;

fn step() -> impl Strategy<Value = Step> {
    (
        1..=USERS,
        prop_oneof![
            4 => (1..=USERS).prop_map(Target::User),
            1 => (0u8..3).prop_map(Target::Fresh),
        ],
        1u128..=400,
        prop_oneof![
            6 => Just(NonceChoice::Next),
            2 => (1u32..=2).prop_map(NonceChoice::Ahead),
            1 => Just(NonceChoice::Old),
        ],
    )
        .prop_map(|(from, to, amount, nonce)| Step {
            from,
            to,
            amount,
            nonce,
        })
}

/// The op `s` stands for against `node`'s soft state, and whether it may be dropped after
/// being acknowledged (a parked op that no longer applies when its turn comes).
fn make_op(node: &Node, s: &Step) -> (Op, bool) {
    let from = id(s.from.into());
    let next = node.query(move |soft| soft.next_nonce(from).expect("a user"));
    let (nonce, ahead) = match s.nonce {
        NonceChoice::Next => (next, false),
        NonceChoice::Ahead(d) => (next + d, true),
        NonceChoice::Old => (next.saturating_sub(1), false),
    };
    let to = match s.to {
        Target::User(n) => addr(n),
        Target::Fresh(n) => addr(0x40 + n),
    };
    (transfer(s.from, to, s.amount, nonce), ahead)
}

fn sum_balances(db: &Database) -> Balance {
    db.state().balances().map(|(_, b)| b).sum()
}

const DEPOSITED: Balance = OPERATOR_DEPOSIT + USERS as Balance * FUND;

fn proptest_config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 64,
        ..Config::default()
    }
}

/// Runs `steps` on a copy of `template`, takes a crash image after `crash` of them, reopens
/// it, and checks the reopened sequencer against the original, then runs the remaining steps
/// on both and checks again.
fn restart_case(
    template: &Path,
    shape: BatchShape,
    steps: &[Step],
    crash: usize,
) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(template.join("state.redb"), dir.path().join("state.redb")).expect("copy");
    let cfg = config(shape, LONG, USERS);
    let original = Node::open(dir.path(), cfg.clone());

    let mut acked: Vec<(B256, bool)> = Vec::new();
    for s in &steps[..crash] {
        let (op, may_drop) = make_op(&original, s);
        if let Ok(h) = original.submit(op.clone()) {
            prop_assert_eq!(h, op.hash());
            acked.push((h, may_drop));
        }
    }
    let image = crash_image(&original, dir.path(), shape.chunks);
    let expected = original.query(soft_view);
    let hashes: Vec<B256> = acked.iter().map(|(h, _)| *h).collect();
    let expected_where = locate(&original, hashes.clone());

    let reopened = Node::open(image.path(), cfg);
    let Some(got) = reopened.try_settled(soft_view) else {
        let end = reopened.stop();
        return Err(TestCaseError::fail(format!(
            "the reopened sequencer stopped: {end:?}"
        )));
    };
    prop_assert_eq!(&got, &expected, "soft state after the restart");
    let got_where = locate(&reopened, hashes);
    prop_assert_eq!(&got_where, &expected_where);
    for ((h, may_drop), w) in acked.iter().zip(&got_where) {
        prop_assert!(*w != Where::Gone || *may_drop, "acknowledged op {} lost", h);
    }

    // Both go on identically.
    for s in &steps[crash..] {
        let (op, _) = make_op(&original, s);
        let a = original.submit(op.clone());
        let b = reopened.submit(op);
        prop_assert_eq!(a, b);
    }
    prop_assert_eq!(original.settled(soft_view), reopened.settled(soft_view));

    original.stop().expect("clean stop");
    reopened.stop().expect("clean stop");
    let (a, b) = (committed(dir.path()), committed(image.path()));
    prop_assert_eq!(a.latest_block(), b.latest_block());
    prop_assert_eq!(blocks(&a), {
        // Timestamps are the only thing allowed to differ.
        let mut bb = blocks(&b);
        for (x, y) in bb.iter_mut().zip(blocks(&a)) {
            x.timestamp = y.timestamp;
        }
        bb
    });
    prop_assert_eq!(a.journal().expect("journal"), b.journal().expect("journal"));
    prop_assert_eq!(sum_balances(&a), DEPOSITED);
    prop_assert_eq!(sum_balances(&b), DEPOSITED);
    Ok(())
}

fn restart_property(shape_chunks: &'static [usize], cases: u32) {
    let template = setup_dir(USERS, FUND);
    let strategy = (
        proptest::collection::vec(step(), 4..=16),
        any::<prop::sample::Index>(),
        prop::sample::select(shape_chunks),
    );
    let mut runner = TestRunner::new(proptest_config(cases));
    runner
        .run(&strategy, |(steps, crash, chunks)| {
            let crash = crash.index(steps.len() + 1);
            restart_case(template.path(), BatchShape::new(chunks, 1), &steps, crash)
        })
        .unwrap();
}

/// Nothing is sealed between the last commit and the crash: the whole window is journal.
#[test]
fn restart_replays_the_journal_to_the_same_soft_state() {
    restart_property(&[64], 16);
}

/// Small blocks (3 chunks hold one TransferToNew): some are sealed (full) during the run,
/// before and after the crash point, and parked ops sometimes do not fit when their turn
/// comes (see `a_ready_parked_op_that_does_not_fit_ends_the_block`).
#[test]
fn restart_with_blocks_sealed_during_the_run_replays_to_the_same_soft_state() {
    restart_property(&[3, 4, 6], 16);
}

/// A witness stage that fails while no block is being made stops the sequencer at once, not
/// when the next block is sealed: a node whose blocks get no prover jobs must not go on
/// acknowledging ops as if they would reach L1.
#[test]
fn a_witness_stage_that_fails_stops_an_idle_sequencer() {
    let dir = setup_dir(2, 1_000_000);
    let node = Node::open(
        dir.path(),
        config(BATCH_SHAPE, Duration::from_millis(50), 2),
    );
    // The block sealed below gets no job: its directory is gone.
    std::fs::remove_dir_all(dir.path().join("prover")).expect("remove the job queue");
    let first = node.latest_block();
    assert!(node.submit(transfer(1, addr(2), 1_000, 1)).is_ok());
    poll_until("the block", || node.latest_block() == first + 1);
    poll_until("the sequencer to stop", || {
        node.thread.as_ref().is_some_and(JoinHandle::is_finished)
    });
    let end = node.stop();
    assert!(end.is_err(), "stopped with {end:?}");
}

// 5. Priority ops.

#[test]
fn priority_ops_delivered_twice_run_once_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Node::open(
        dir.path(),
        config(BATCH_SHAPE, Duration::from_millis(50), 0),
    );
    let ops: Vec<Op> = (0..4u8)
        .map(|n| eth_deposit(n.into(), addr(0x10 + n), 100))
        .collect();
    node.priority(ops[..3].to_vec());
    // A restarted watcher delivers again from where it believes the node is.
    node.priority(ops.clone());
    node.priority(ops[1..3].to_vec());
    poll_until("the deposits", || {
        node.query(|soft| soft.db.next_priority_op() == 4 && soft.mempool.is_empty())
    });
    node.stop().expect("clean stop");

    let db = committed(dir.path());
    assert_eq!(priority_ids(&blocks(&db)), vec![0, 1, 2, 3]);
    assert_eq!(db.state().account_count(), 4);
    assert_eq!(sum_balances(&db), 400);
    assert!(db.journal().expect("journal").is_empty());
}

#[test]
fn priority_ops_overflowing_a_block_continue_in_the_next_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Node::open(
        dir.path(),
        config(BATCH_SHAPE, Duration::from_millis(50), 0),
    );
    // 3 chunks each: two per 6-chunk block.
    node.priority(
        (0..5u8)
            .map(|n| eth_deposit(n.into(), addr(0x10 + n), 100))
            .collect(),
    );
    poll_until("the deposits", || {
        node.query(|soft| soft.db.next_priority_op() == 5)
    });
    node.stop().expect("clean stop");

    let db = committed(dir.path());
    let per_block: Vec<Vec<u64>> = blocks(&db)
        .iter()
        .map(|b| priority_ids(std::slice::from_ref(b)))
        .collect();
    assert_eq!(per_block, vec![vec![0, 1], vec![2, 3], vec![4]]);
    drop(db);
    let reopened = Node::open(dir.path(), config(BATCH_SHAPE, LONG, 0));
    assert_eq!(reopened.next_priority, 5);
}

#[test]
fn next_priority_after_a_reopen_counts_the_journal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Node::open(dir.path(), config(BATCH_SHAPE, LONG, 0));
    assert_eq!(node.next_priority, 0);
    let ops: Vec<Op> = (0..4u8)
        .map(|n| eth_deposit(n.into(), addr(0x10 + n), 100))
        .collect();
    node.priority(ops[..2].to_vec()); // a full block: sealed at once
    node.priority(ops[2..3].to_vec()); // journaled, in the open block
    poll_until("the third deposit", || {
        node.query(|soft| soft.db.latest_block() == Some(1) && soft.mempool.len() == 1)
    });

    // A crash: the block with op 2 was never sealed, but op 2 is in the journal.
    let image = crash_image(&node, dir.path(), BATCH_SHAPE.chunks);
    assert_eq!(node.query(|soft| soft.db.next_priority_op()), 2);
    let reopened = Node::open(image.path(), config(BATCH_SHAPE, LONG, 0));
    assert_eq!(reopened.next_priority, 3);
    // A watcher that delivers op 2 again anyway: it runs once.
    reopened.priority(ops[2..].to_vec());
    poll_until("the fourth deposit", || {
        reopened.query(|soft| soft.exec.account_count()) == 4
    });
    reopened.stop().expect("clean stop");
    let db = committed(image.path());
    assert_eq!(priority_ids(&blocks(&db)), vec![0, 1, 2, 3]);
    assert_eq!(sum_balances(&db), 400);
    drop(db);
    let again = Node::open(image.path(), config(BATCH_SHAPE, LONG, 0));
    assert_eq!(again.next_priority, 4);

    // A clean stop seals op 2: the same answer from the committed blocks alone.
    node.stop().expect("clean stop");
    let reopened = Node::open(dir.path(), config(BATCH_SHAPE, LONG, 0));
    assert_eq!(reopened.next_priority, 3);
}

// 6. Conservation.

#[test]
fn balances_sum_to_the_deposits_across_random_runs() {
    let template = setup_dir(USERS, FUND);
    let strategy = (
        proptest::collection::vec(step(), 1..=24),
        proptest::collection::vec(any::<bool>(), 24),
    );
    let mut runner = TestRunner::new(proptest_config(8));
    runner
        .run(&strategy, |(steps, pipelined)| {
            let dir = tempfile::tempdir().expect("tempdir");
            std::fs::copy(
                template.path().join("state.redb"),
                dir.path().join("state.redb"),
            )
            .expect("copy");
            let node = Node::open(
                dir.path(),
                config(BATCH_SHAPE, Duration::from_millis(30), USERS),
            );
            let mut acked = BTreeSet::new();
            let mut waiting = Vec::new();
            for (s, pipe) in steps.iter().zip(&pipelined) {
                let (op, _) = make_op(&node, s);
                waiting.push((op.hash(), node.send(op)));
                // Sometimes several ops go in one group.
                if !pipe {
                    for (h, answer) in waiting.drain(..) {
                        if let Ok(got) = wait(answer) {
                            prop_assert_eq!(got, h);
                            acked.insert(h);
                        }
                    }
                }
            }
            for (h, answer) in waiting.drain(..) {
                if wait(answer).is_ok() {
                    acked.insert(h);
                }
            }
            node.stop().expect("clean stop");

            let db = committed(dir.path());
            prop_assert_eq!(sum_balances(&db), DEPOSITED);
            let all = blocks(&db);
            let mut fees = 0;
            for b in &all {
                prop_assert!(!b.ops.is_empty());
                prop_assert!(chunks(b) <= BATCH_SHAPE.chunks);
                for op in &b.ops {
                    if let Op::Transfer(t) = op {
                        prop_assert!(acked.contains(&op.hash()), "unacknowledged op sealed");
                        fees += t.fee;
                    }
                }
            }
            prop_assert_eq!(
                db.state().balance(id(0), TokenId::ETH),
                OPERATOR_DEPOSIT + fees
            );
            Ok(())
        })
        .unwrap();
}

// Regressions: each of these failed before the sequencer's invariants 6 and 7.

/// A parked op whose turn comes but that does not fit the open block ends that block and runs
/// first in the next one (invariant 7): an op taking its nonce meanwhile is refused, and a
/// restart finds the same blocks and the same soft state.
#[test]
fn a_ready_parked_op_that_does_not_fit_ends_the_block() {
    let dir = setup_dir(2, 1_000_000);
    let shape = BatchShape::new(3, 1);
    let cfg = config(shape, LONG, 2);
    let node = Node::open(dir.path(), cfg.clone());
    let (nonce, _) = soft_eth(&node, 1);
    let parked = transfer(1, addr(0x40), 10, nonce + 1); // 3 chunks (a new account)
    assert_eq!(node.submit(parked.clone()), Ok(parked.hash()));
    let gap = transfer(1, addr(2), 10, nonce); // 1 chunk: 1 + 3 > 3
    assert_eq!(node.submit(gap.clone()), Ok(gap.hash()));
    // The parked op's nonce, once more: it ran first in the next block, so this is old.
    let taker = transfer(1, addr(2), 20, nonce + 1);
    let answer = node.submit(taker);
    assert!(
        matches!(&answer, Err(NodeError::Rejected { reason, .. }) if reason == "WrongNonce"),
        "{answer:?}"
    );
    let image = crash_image(&node, dir.path(), shape.chunks);
    let before = node.query(soft_view);
    assert!(before.parked.is_empty(), "{:?}", before.parked);

    let reopened = Node::open(image.path(), cfg);
    assert_eq!(reopened.settled(soft_view), before);
    drop(reopened);
    node.stop().expect("clean stop");
    let db = committed(dir.path());
    let ops: Vec<Vec<B256>> = blocks(&db)
        .iter()
        .map(|b| b.ops.iter().map(Op::hash).collect())
        .collect();
    let at = ops
        .iter()
        .position(|b| b == &vec![gap.hash()])
        .expect("a block of the gap op alone");
    assert_eq!(ops[at + 1].first(), Some(&parked.hash()));
}

/// The L1 watcher delivers a token listing and then the deposits confirmed in the same poll
/// (`follow.rs`). The listing ends the open block (here an empty one), so the deposit of the
/// new token runs in a block that knows it; judged under the old list, the stf would refuse it
/// (UnknownToken), the next deposit would run in its place, and committing the block would
/// fail with `PriorityOutOfOrder`.
#[test]
fn a_deposit_of_a_token_listed_in_the_same_l1_poll_is_executed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Node::open(
        dir.path(),
        config(BATCH_SHAPE, Duration::from_millis(50), 0),
    );
    node.priority(vec![eth_deposit(0, OPERATOR, OPERATOR_DEPOSIT)]);
    poll_until("block 1", || node.latest_block() == 1);

    let token = TokenId::new(1).expect("token id");
    node.handle
        .send_blocking(Command::L1Context {
            token_count: 2,
            auths: Vec::new(),
        })
        .expect("queued");
    node.priority(vec![
        deposit(1, addr(1), token, 500),
        eth_deposit(2, addr(1), 100),
    ]);
    poll_until("both deposits, or the sequencer's end", || {
        node.try_query(|soft| soft.db.next_priority_op())
            .is_none_or(|n| n == 3)
    });
    let end = node.stop();
    assert!(end.is_ok(), "the sequencer stopped with {end:?}");
    let db = committed(dir.path());
    assert_eq!(priority_ids(&blocks(&db)), vec![0, 1, 2]);
    assert_eq!(db.state().balance(id(1), token), 500);
}

/// `run.rs` opens the sequencer with no on-chain authorizations and token count 1, and the
/// watcher re-sends them only after its first poll of L1. The journal is replayed before any
/// command is read, so an op accepted under that context (here a ChangePubKey authorized on
/// L1) needs the stored context (invariant 6): without it, every restart would stop with
/// `NodeFatal::Replay`. Here the watcher never reports again.
#[test]
fn a_journaled_op_accepted_under_l1_context_survives_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = config(BATCH_SHAPE, LONG, 0); // as run.rs: no auths
    let auth = Command::L1Context {
        token_count: 1,
        auths: vec![(addr(1), key(1).public_key().to_packed(), 0)],
    };
    let node = Node::open(dir.path(), base.clone());
    node.priority(vec![
        eth_deposit(0, OPERATOR, OPERATOR_DEPOSIT),
        eth_deposit(1, addr(1), 1_000),
    ]); // a full block, sealed at once
    poll_until("block 1", || node.latest_block() == 1);
    node.handle.send_blocking(auth).expect("queued");
    node.priority(vec![eth_deposit(2, addr(2), 1_000)]);
    // 3 + 5 chunks do not fit: block 2 is sealed and block 3 has the authorization.
    let cpk = register(1);
    assert_eq!(node.submit(cpk.clone()), Ok(cpk.hash()));
    let image = crash_image(&node, dir.path(), BATCH_SHAPE.chunks);

    let reopened = Node::open(image.path(), base);
    let hash = cpk.hash();
    let pending = reopened.try_query(move |soft| soft.pending_op(&hash).is_some());
    if pending.is_none() {
        panic!("the reopened sequencer stopped: {:?}", reopened.stop());
    }
    assert_eq!(pending, Some(true));
}

/// A future-nonce op is parked only if the account's current key signed it (invariant 7):
/// otherwise anyone could fill another account's parking slots with ops signed by their own
/// key, and the owner's op for that nonce would be refused as `AlreadyKnown` until the forged
/// one was dropped when its turn came.
#[test]
fn a_future_op_signed_by_another_key_is_refused() {
    let dir = setup_dir(2, 1_000_000);
    let node = Node::open(dir.path(), config(BATCH_SHAPE, LONG, 2));
    let (nonce, _) = soft_eth(&node, 1);
    // User 2 signs a transfer out of user 1's account.
    let forged = Op::Transfer(signed_transfer(2, id(1), addr(2), 10, FEE, nonce + 1));
    let owners = transfer(1, addr(2), 10, nonce + 1);
    let forged_answer = node.submit(forged);
    let owners_answer = node.submit(owners.clone());
    assert!(
        matches!(&forged_answer, Err(NodeError::Rejected { reason, .. }) if reason == "WrongSigner")
            && owners_answer == Ok(owners.hash()),
        "forged op: {forged_answer:?}; the owner's op: {owners_answer:?}"
    );
}

// The witness stage (crate::witness): a prover job for every committed block, in order.

/// The bytes of every pending prover job under `dir`, by id.
fn jobs(dir: &Path) -> std::collections::BTreeMap<u64, Vec<u8>> {
    let queue = JobQueue::open(dir.join("prover")).expect("open the job queue");
    queue
        .pending()
        .expect("pending jobs")
        .into_iter()
        .map(|id| {
            let path = dir.join("prover").join("pending").join(format!("{id}.job"));
            (id, std::fs::read(path).expect("a job file"))
        })
        .collect()
}

#[test]
fn every_committed_block_gets_its_job_and_a_crash_backlog_is_produced_again() {
    let dir = setup_dir(3, 1_000_000);
    let node = Node::open(
        dir.path(),
        config(BATCH_SHAPE, Duration::from_millis(20), 3),
    );
    // Transfers between existing accounts and to new ones, over several blocks.
    for nonce in 1..8 {
        node.submit(transfer(1, addr(2), 100, nonce))
            .expect("transfer");
        node.submit(transfer(2, addr(100 + nonce as u8), 7, nonce))
            .expect("transfer to a new account");
        node.submit(transfer(3, addr(1), 5, nonce))
            .expect("transfer");
    }
    poll_until("everything sealed", || node.progress_mempool() == 0);
    node.stop().expect("clean stop");

    // A clean stop waits for the stage: one job per committed block, and the mark says so.
    let latest = committed(dir.path()).latest_block().expect("blocks");
    assert!(latest >= 6, "{latest} blocks");
    let written = jobs(dir.path());
    assert_eq!(
        written.keys().copied().collect::<Vec<_>>(),
        (1..=latest).collect::<Vec<_>>()
    );
    let queue = JobQueue::open(dir.path().join("prover")).unwrap();
    assert_eq!(queue.produced().unwrap(), Some(latest));

    // A crash that left a backlog: the mark at block k, block k + 1's job written but not yet
    // marked, the later ones never written.
    let k = latest - 4;
    for id in k + 2..=latest {
        std::fs::remove_file(dir.path().join("prover/pending").join(format!("{id}.job"))).unwrap();
    }
    queue.set_produced(k).unwrap();
    let node = Node::open(
        dir.path(),
        config(BATCH_SHAPE, Duration::from_millis(20), 3),
    );
    poll_until("the backlog produced", || {
        node.handle.progress.witnessed.load(Ordering::Relaxed) == latest
    });
    node.stop().expect("clean stop");
    // The same jobs, byte for byte: the replica rebuilt from the committed blocks is the
    // state the first run had.
    assert_eq!(jobs(dir.path()), written);
    assert_eq!(queue.produced().unwrap(), Some(latest));
}
