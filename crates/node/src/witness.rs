//! The witness stage: a prover job for every committed block, built off the sequencer's thread.
//!
//! The sequencer runs blocks in [`WitnessMode::Skip`]: acceptance needs the new state, not the
//! circuit's witness, and without a witness the tree is rehashed once per block with shared
//! paths hashed once. The witness (each op's Merkle paths before and after it) costs several
//! times more hashing. This stage builds it on its own thread, from a replica of the state
//! that follows the committed blocks: for each committed block, in order, it executes the
//! block's ops on the replica in [`WitnessMode::Record`], checks that they land on the
//! block's committed root, writes the prover job and marks it produced
//! ([`JobQueue::set_produced`]). It computes on a background pool ([`crate::priority`]), and
//! before each block it waits while the sequencer is acknowledging transactions (at most
//! [`QUIET_LIMIT`]): when the cores are busy, acknowledging transactions goes first and this
//! stage lags further.
//!
//! Invariants:
//! 1. **Every committed block gets its job, in order.** Job `n` is submitted after job
//!    `n - 1`, and the queue's produced mark says how far the stage got. It lags the
//!    sequencer as proving does; nothing but proving waits for it.
//! 2. **The replica is the committed state of the last produced block.** A block that does
//!    not land on its committed root on the replica stops the node: the stf is deterministic,
//!    so that is a bug to report, never a witness to send to the prover.
//! 3. **Resumable.** When the node opens, the blocks after the produced mark get their jobs
//!    again, from a replica rebuilt by executing the committed blocks up to the mark (only
//!    after a crash left such blocks; after a clean stop the stage has caught up and the
//!    replica is a copy of the database's state). A job submitted but not yet marked when the
//!    node died is not submitted twice: the queue knows its id.
//! 4. **Stopping waits for the backlog.** [`WitnessStage::finish`] lets the thread produce
//!    every block already committed before it returns.
//!
//! The ops of a committed block were checked when they were accepted (signatures included),
//! so they run here as [`SignatureCheck::Valid`]; the circuit checks every signature again.
//! Blocks re-executed after a restart use the latest L1 context: it only grows, and an op
//! accepted under an older one is accepted the same way under a newer one (sequencer
//! invariant 6).

use crate::NodeFatal;
use crate::priority::Background;
use crate::sequencer::Progress;
use causeway_circuit::batch::{BatchInput, BatchShape};
use causeway_primitives::{AccountId, Domain, Fr, Op};
use causeway_prover::{Job, JobQueue};
use causeway_stf::{BlockContext, Executor, MemoryState, SignatureCheck, WitnessMode};
use causeway_storage::Database;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A committed block the stage must produce a job for.
pub struct Task {
    pub number: u64,
    pub ctx: BlockContext,
    pub ops: Vec<Op>,
    /// The root the block committed.
    pub new_root: Fr,
}

/// What jobs look like: the circuit's shape and the constants it binds.
#[derive(Debug, Clone, Copy)]
pub struct JobShape {
    pub shape: BatchShape,
    pub domain: Domain,
    pub fee_account: AccountId,
}

/// The running stage: where committed blocks are sent, and its thread.
pub struct WitnessStage {
    tx: Option<Sender<Task>>,
    thread: Option<JoinHandle<Result<(), NodeFatal>>>,
}

impl WitnessStage {
    /// Starts the stage over the committed blocks in `db` (see invariant 3): the blocks after
    /// the queue's produced mark are queued at once, with `ctx` as their context.
    pub fn start(
        db: &Database,
        queue: JobQueue,
        jobs: JobShape,
        ctx: &BlockContext,
        progress: Arc<Progress>,
        background: Background,
    ) -> Result<Self, NodeFatal> {
        let latest = db.latest_block().unwrap_or(0);
        let produced = match queue.produced().map_err(NodeFatal::prover)? {
            Some(n) => n.min(latest),
            // A queue without a mark was written before this stage existed, when every
            // committed block got its job before being committed.
            None => {
                queue.set_produced(latest).map_err(NodeFatal::prover)?;
                latest
            }
        };
        let replica = if produced == latest {
            db.state().clone()
        } else {
            tracing::info!(
                produced,
                latest,
                "rebuilding the witness replica: blocks without prover jobs"
            );
            replica_at(db, ctx, produced)?
        };
        progress.witnessed.store(produced, Ordering::Relaxed);
        let (tx, rx) = channel();
        for number in produced + 1..=latest {
            let record = db
                .block(number)
                .map_err(NodeFatal::storage)?
                .ok_or_else(|| NodeFatal::Seal(format!("committed block {number} is missing")))?;
            let _ = tx.send(Task {
                number,
                ctx: ctx.clone(),
                ops: record.ops,
                new_root: record.new_root,
            });
        }
        let pool = background.pool("witness")?;
        // The loop runs on the pool (it only waits there when it has nothing to do), so the
        // re-execution's parallel hashing stays on the pool's threads too.
        let thread = std::thread::Builder::new()
            .name("witness".into())
            .spawn(move || {
                pool.install(move || run(replica, produced, &rx, &queue, jobs, &progress))
            })?;
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Hands a committed block to the stage. Fails only if the stage has stopped (its error
    /// is then reported by [`WitnessStage::check`] or [`WitnessStage::finish`]).
    pub fn send(&self, task: Task) -> Result<(), NodeFatal> {
        self.tx
            .as_ref()
            .and_then(|tx| tx.send(task).ok())
            .ok_or_else(|| NodeFatal::Seal("the witness stage has stopped".into()))
    }

    /// The stage's error, if its thread has stopped.
    pub fn check(&mut self) -> Result<(), NodeFatal> {
        if self.thread.as_ref().is_some_and(JoinHandle::is_finished) {
            return self.join();
        }
        Ok(())
    }

    /// Lets the stage produce every block it was given, then stops it (invariant 4).
    pub fn finish(mut self) -> Result<(), NodeFatal> {
        self.tx = None;
        self.join()
    }

    fn join(&mut self) -> Result<(), NodeFatal> {
        match self.thread.take().map(JoinHandle::join) {
            None => Ok(()),
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(NodeFatal::Seal("the witness thread panicked".into())),
        }
    }
}

/// The state after committed block `number`, by executing blocks `1..=number` from the empty
/// state, each checked against its committed root.
fn replica_at(db: &Database, ctx: &BlockContext, number: u64) -> Result<MemoryState, NodeFatal> {
    let mut state = MemoryState::new();
    for n in 1..=number {
        let record = db
            .block(n)
            .map_err(NodeFatal::storage)?
            .ok_or_else(|| NodeFatal::Seal(format!("committed block {n} is missing")))?;
        let sealed = execute(&state, ctx, &record.ops, WitnessMode::Skip, n)?;
        check_root(n, sealed.diff.new_root, record.new_root)?;
        state.apply(&sealed.diff);
    }
    Ok(state)
}

fn execute(
    state: &MemoryState,
    ctx: &BlockContext,
    ops: &[Op],
    mode: WitnessMode,
    number: u64,
) -> Result<causeway_stf::Sealed, NodeFatal> {
    let mut exec = Executor::new(state, ctx, mode);
    for (index, op) in ops.iter().enumerate() {
        exec.apply(op, SignatureCheck::Valid).map_err(|e| {
            NodeFatal::Seal(format!(
                "committed block {number}, op {index}, no longer executes: {e}"
            ))
        })?;
    }
    exec.seal()
        .map_err(|e| NodeFatal::Seal(format!("committed block {number}: {e}")))
}

fn check_root(number: u64, got: Fr, committed: Fr) -> Result<(), NodeFatal> {
    if got == committed {
        Ok(())
    } else {
        Err(NodeFatal::Seal(format!(
            "committed block {number} re-executes to another root ({got}, committed {committed})"
        )))
    }
}

/// How often the stage looks whether the sequencer is still acknowledging transactions.
const QUIET_POLL: Duration = Duration::from_millis(50);

/// The longest the stage waits for acceptance to go quiet before each block: under a load
/// that never stops, it still produces a block every few seconds.
const QUIET_LIMIT: Duration = Duration::from_secs(2);

/// Watches the sequencer's journal writes (one per command group that accepted ops) so that
/// the stage computes between bursts of transactions rather than during them.
///
/// The background pool's priority alone does not do it: under load, the kernel queued the
/// node's waking threads on one core while this stage's thread, though in the idle class, ran
/// on the other (`ps -L` during `causeway bench load`: four of the node's threads runnable on
/// CPU 0, the witness thread alone on CPU 1; the scheduler counters showed the node's threads
/// waiting for a CPU as long as they ran).
struct Acceptance<'a> {
    progress: &'a Progress,
    /// The journal-write time last seen.
    seen: u64,
}

impl<'a> Acceptance<'a> {
    fn new(progress: &'a Progress) -> Self {
        Self {
            progress,
            seen: progress.phases.flush_us.load(Ordering::Relaxed),
        }
    }

    /// Returns once no journal write happened for [`QUIET_POLL`], at once if none happened
    /// since the last call, and after [`QUIET_LIMIT`] at the latest.
    fn wait_until_quiet(&mut self) {
        let start = Instant::now();
        loop {
            // Every journal write adds its (non-zero) duration.
            let now = self.progress.phases.flush_us.load(Ordering::Relaxed);
            let quiet = now == self.seen;
            self.seen = now;
            if quiet || start.elapsed() >= QUIET_LIMIT {
                return;
            }
            std::thread::sleep(QUIET_POLL);
        }
    }
}

/// The stage's loop: one job per task, in order, until the sender is dropped.
fn run(
    mut replica: MemoryState,
    mut produced: u64,
    rx: &Receiver<Task>,
    queue: &JobQueue,
    jobs: JobShape,
    progress: &Progress,
) -> Result<(), NodeFatal> {
    // Jobs are submitted in order and marked one by one, so only the block right after the
    // mark can have a job already (submitted just before a crash).
    let maybe_written = produced + 1;
    let mut acceptance = Acceptance::new(progress);
    while let Ok(task) = rx.recv() {
        acceptance.wait_until_quiet();
        if task.number != produced + 1 {
            return Err(NodeFatal::Seal(format!(
                "the witness stage got block {} after block {produced}",
                task.number
            )));
        }
        let sealed = execute(
            &replica,
            &task.ctx,
            &task.ops,
            WitnessMode::Record,
            task.number,
        )?;
        check_root(task.number, sealed.diff.new_root, task.new_root)?;
        let written =
            task.number == maybe_written && queue.knows(task.number).map_err(NodeFatal::prover)?;
        if !written {
            let witness = sealed.witness.as_ref().expect("recorded");
            let input = BatchInput::new(jobs.shape, jobs.domain, jobs.fee_account, witness)
                .map_err(|e| NodeFatal::Seal(format!("block {}: {e}", task.number)))?;
            queue
                .submit(&Job {
                    id: task.number,
                    input,
                })
                .map_err(NodeFatal::prover)?;
        }
        queue.set_produced(task.number).map_err(NodeFatal::prover)?;
        replica.apply(&sealed.diff);
        produced = task.number;
        progress.witnessed.store(produced, Ordering::Relaxed);
    }
    Ok(())
}
