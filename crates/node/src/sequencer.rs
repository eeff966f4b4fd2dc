//! The sequencer: the mempool, the soft state, and sealing blocks.
//!
//! One thread owns the [`Database`] and an open block (an stf [`Executor`] over the committed
//! state). Everything that reads or changes the L2 state goes through its command channel, so
//! there is exactly one order of events and no lock; the only other writer is the committing
//! thread, which writes the closed block before the open one (see below).
//!
//! # How an op is accepted
//!
//! Commands pass two threads, in arrival order. The first takes them from the channel in
//! groups and checks the L2 ops' signatures in parallel, each against the key it carries
//! (signatures do not depend on the state; which key must have signed does, and the executor
//! decides that). It hands the group on and checks the next one while the sequencer thread
//! runs the last: every op goes through the open block in arrival order, refused ops get
//! their typed error, accepted ones are executed against the soft state (or, when their
//! nonce is ahead of the account's, parked until the gap is filled). The accepted ops of the
//! group are then appended to the storage journal in one durable write (group commit), and
//! only after that write returns are the senders told "accepted".
//!
//! # How a block is sealed
//!
//! A full or aged block is closed (fees credited, its changes held as values: an stf
//! [`Closed`]) and the next block opens at once over it ([`Executor::after`]). A scoped
//! committing thread seals the closed block (tree hashing) over the committed state and
//! writes it ([`Database::write_block_consuming`]) while the sequencer thread goes on
//! accepting ops; acceptance no longer stops for a block's seal and write. Once the write
//! returns, the open block is paused between two command groups, the written block is applied
//! to the in-memory state ([`Database::apply_written`]) and handed to the witness stage, and
//! the open block resumes over the new state ([`Executor::resume`]). At most one block is in
//! flight: if the open block closes before the one before it is written, the sequencer waits
//! for that write. Until a block is applied, queries see its ops as pending
//! ([`Soft::sealing`]) and the soft state includes them.
//!
//! # Invariants
//!
//! 1. **Durable before acknowledged.** No reply `Ok` leaves before the journal write that
//!    holds the op has returned. If that write fails, the node stops (the open block holds
//!    ops that are not durable); on restart the journal is the truth.
//! 2. **Deterministic replay.** The journal holds every accepted op not yet in a sealed block,
//!    in acceptance order. Acceptance depends only on the state and the order of ops, so on
//!    restart replaying the journal through the same code rebuilds the same open block and the
//!    same parked ops: nothing acknowledged is lost, nothing is applied twice.
//! 3. **Sealed with its journal.** A sealed block is committed together with the removal of
//!    the journal entries it executed, in one storage transaction.
//! 4. **Every committed block gets a prover job, in order.** Blocks run without recording the
//!    circuit's witness; once committed, a block goes to the witness stage
//!    ([`crate::witness`]), which re-executes it on its own thread and writes its job. The
//!    stage lags like proving does and resumes after a crash; stopping the sequencer waits
//!    for it.
//! 5. **Priority ops in order.** Deposits and full exits arrive from the L1 watcher already
//!    confirmed and in queue order; they are executed in that order and never parked or
//!    refused for fees.
//! 6. **Context before replay.** Acceptance also depends on what L1 said (listed tokens, key
//!    authorizations). A block runs under the context known when it started; what L1 reports
//!    during a block applies from the next one (and ends the open block, so nothing queued
//!    after the report is judged under the old context). The context is stored before the
//!    first block that uses it, so a restart replays the journal under it without waiting for
//!    L1. It only grows, so an op accepted under an older context is accepted again.
//! 7. **A parked op's turn is kept.** When a parked op's nonce comes up and it does not fit
//!    the open block, the block takes nothing more and is sealed; the parked op runs first in
//!    the next block. No other op can take its nonce, and replay finds the same boundary.
//!    Only an op signed by the account's current L2 key is parked, so nobody can fill
//!    another account's nonces.

use crate::NodeFatal;
use crate::config::{FeeSchedule, SequencerConfig};
use crate::witness::{JobShape, Task, WitnessStage};
use causeway_primitives::{
    AccountId, Address, B256, Balance, Domain, Nonce, Op, OpKind, PackedPoint,
};
use causeway_prover::JobQueue;
use causeway_rpc::api::NodeError;
use causeway_stf::{
    BlockContext, Closed, Executor, MemoryState, OpError, Paused, SignatureCheck, SignerTables,
    WitnessMode,
};
use causeway_storage::{BlockRecord, Database, L1Context, Written};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::oneshot;

/// A ChangePubKey authorization registered on L1: owner, key, nonce.
pub type OnchainAuth = (Address, PackedPoint, Nonce);

/// A read of the soft state, run on the sequencer thread between groups.
pub type Query = Box<dyn FnOnce(&Soft<'_>) + Send>;

/// What the sequencer thread is asked to do.
pub enum Command {
    /// An L2 op from a client; the reply carries its hash once it is durable.
    Submit {
        op: Op,
        reply: oneshot::Sender<Result<B256, NodeError>>,
    },
    /// Priority ops confirmed on L1, in queue order.
    Priority(Vec<Op>),
    /// What the L1 watcher learned that changes what the next blocks accept.
    L1Context {
        token_count: u16,
        auths: Vec<OnchainAuth>,
    },
    Query(Query),
    Stop,
}

/// A [`Command`] on its way from the checking thread to the sequencer thread: an L2 op comes
/// with the check of its signature against the key it carries.
// Nearly every item is an op, so the small variants waste little; boxing would allocate once
// per op.
#[allow(clippy::large_enum_variant)]
enum Checked {
    Submit {
        op: Op,
        check: Result<(), OpError>,
        reply: oneshot::Sender<Result<B256, NodeError>>,
    },
    Priority(Vec<Op>),
    L1Context {
        token_count: u16,
        auths: Vec<OnchainAuth>,
    },
    Query(Query),
    Stop,
}

/// The soft state as a query sees it: the committed state with the open block's ops applied.
pub struct Soft<'a> {
    pub exec: &'a Executor<'a, MemoryState>,
    pub db: &'a Database,
    pub mempool: &'a Mempool,
    /// The ops of the block before the open one while it is being sealed and written, with
    /// their journal sequence numbers: accepted, in no committed block yet.
    pub sealing: &'a [(u64, Op)],
    pub token_count: u16,
    /// The number the open block will get.
    pub next_block: u64,
}

impl Soft<'_> {
    /// The nonce the account's next op must carry: its soft nonce, past any parked ops that
    /// directly follow it.
    pub fn next_nonce(&self, id: AccountId) -> Option<Nonce> {
        let mut nonce = self.exec.account(id)?.nonce;
        while self.mempool.parked.contains_key(&(id, nonce)) {
            nonce += 1;
        }
        Some(nonce)
    }

    /// The journaled op with this hash that is not in a committed block yet.
    pub fn pending_op(&self, hash: &B256) -> Option<&Op> {
        let seq = self.mempool.hashes.get(hash)?;
        self.mempool
            .open
            .iter()
            .chain(self.sealing)
            .find(|(s, _)| s == seq)
            .map(|(_, op)| op)
            .or_else(|| {
                self.mempool
                    .parked
                    .values()
                    .find(|p| p.seq == *seq)
                    .map(|p| &p.op)
            })
    }
}

/// An op whose nonce is ahead of its account's: it runs once the ops before it have.
pub struct Parked {
    pub seq: u64,
    pub op: Op,
}

/// Accepted ops that are not in a sealed block yet.
#[derive(Default)]
pub struct Mempool {
    /// The open block's ops in execution order, with their journal sequence numbers.
    pub open: Vec<(u64, Op)>,
    /// Every journaled op not in a committed block yet (open, parked, or in the block being
    /// written), by hash.
    pub hashes: HashMap<B256, u64>,
    pub parked: BTreeMap<(AccountId, Nonce), Parked>,
    parked_by_account: HashMap<AccountId, usize>,
}

impl Mempool {
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }
}

/// Counters other tasks read without asking the thread.
#[derive(Debug, Default)]
pub struct Progress {
    /// The latest sealed block (0 before the first).
    pub latest_block: AtomicU64,
    /// Ops accepted and not yet sealed.
    pub mempool: AtomicU64,
    /// The latest block whose prover job is written (the witness stage's progress).
    pub witnessed: AtomicU64,
    /// Where the sequencer thread's time went since it started.
    pub phases: PhaseTimes,
}

/// Microseconds the sequencer's threads spent in each phase of their work, summed since they
/// started: what a benchmark compares with the wall time to see what acceptance waits on.
#[derive(Debug, Default)]
pub struct PhaseTimes {
    /// Signature checks of each group (parallel, on the checking stage's own pool), on the
    /// checking thread: beside the sequencer thread's phases, not part of its time.
    pub verify_us: AtomicU64,
    /// Running each group's ops through the open block.
    pub execute_us: AtomicU64,
    /// Each group's durable journal write, then the acknowledgments.
    pub flush_us: AtomicU64,
    /// Sealing closed blocks (balance trees, the account tree), on the committing thread.
    pub seal_us: AtomicU64,
    /// Writing sealed blocks to the database, on the committing thread.
    pub commit_us: AtomicU64,
}

impl PhaseTimes {
    fn add(counter: &AtomicU64, since: Instant) {
        let us = u64::try_from(since.elapsed().as_micros()).unwrap_or(u64::MAX);
        counter.fetch_add(us, Ordering::Relaxed);
    }

    /// The counters, in the RPC's form.
    pub fn snapshot(&self) -> causeway_rpc::api::SequencerPhases {
        causeway_rpc::api::SequencerPhases {
            verify_us: self.verify_us.load(Ordering::Relaxed),
            execute_us: self.execute_us.load(Ordering::Relaxed),
            flush_us: self.flush_us.load(Ordering::Relaxed),
            seal_us: self.seal_us.load(Ordering::Relaxed),
            commit_us: self.commit_us.load(Ordering::Relaxed),
        }
    }
}

/// The handle other tasks send commands through.
#[derive(Clone)]
pub struct SequencerHandle {
    tx: SyncSender<Command>,
    pub progress: Arc<Progress>,
}

impl SequencerHandle {
    /// Queues `cmd`; a full queue is reported, not waited on, so a flood of clients cannot
    /// block the RPC threads.
    pub fn send(&self, cmd: Command) -> Result<(), NodeError> {
        self.tx.try_send(cmd).map_err(|e| match e {
            TrySendError::Full(_) => NodeError::MempoolFull,
            TrySendError::Disconnected(_) => NodeError::Unavailable("the sequencer stopped".into()),
        })
    }

    /// Queues `cmd`, waiting for room (for the watcher, whose ops must not be dropped).
    pub fn send_blocking(&self, cmd: Command) -> Result<(), NodeError> {
        self.tx
            .send(cmd)
            .map_err(|_| NodeError::Unavailable("the sequencer stopped".into()))
    }

    /// Runs `f` on the soft state and returns its answer.
    pub async fn query<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Soft<'_>) -> T + Send + 'static,
    ) -> Result<T, NodeError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Query(Box::new(move |soft| {
            let _ = reply.send(f(soft));
        })))?;
        answer
            .await
            .map_err(|_| NodeError::Unavailable("the sequencer stopped".into()))
    }
}

/// The channel between the handle and the thread.
pub fn channel(capacity: usize) -> (SequencerHandle, Receiver<Command>) {
    let (tx, rx) = std::sync::mpsc::sync_channel(capacity);
    (
        SequencerHandle {
            tx,
            progress: Arc::default(),
        },
        rx,
    )
}

/// An op waiting for room in a block: not journaled, not acknowledged yet.
enum Incoming {
    L2 {
        op: Op,
        sig: SignatureCheck,
        reply: oneshot::Sender<Result<B256, NodeError>>,
    },
    Priority(Op),
}

/// Where to put an L2 op that passed the stateless checks.
enum Placement {
    Run,
    /// Its nonce is ahead of the account's: it waits for the ops before it.
    Park(AccountId, Nonce),
}

/// Whether the admission checks of parking (per-sender limits, the signer) apply (new ops) or
/// not (ops replayed from the journal, admitted under the state of their time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Limits {
    Enforce,
    Ignore,
}

/// What became of an op offered to the open block.
enum Offer {
    /// Executed or parked, and added to the journal batch.
    Accepted,
    /// Refused; the sender was told why.
    Refused,
    /// It does not fit this block: seal, then offer it again.
    Full(Box<Incoming>),
}

/// The block being filled.
struct OpenBlock<'a> {
    exec: Executor<'a, MemoryState>,
    chunks: usize,
    first_op: Option<Instant>,
    /// A parked op's turn came and it does not fit: nothing more goes into this block, so
    /// that the parked op runs first in the next one (no later op can take its nonce), live
    /// and on replay alike.
    full: bool,
}

/// How a block run ended.
enum BlockEnd {
    /// The block closed (`None` if it had no ops).
    Closed(Option<ClosedBlock>),
    /// The block before it was written: the open block steps off so that it can be applied,
    /// then goes on over the new state.
    Paused(PausedBlock),
}

/// An open block between two runs of it.
struct PausedBlock {
    paused: Paused,
    ctx: BlockContext,
    chunks: usize,
    first_op: Option<Instant>,
    full: bool,
}

impl OpenBlock<'_> {
    fn pause(self, ctx: &BlockContext) -> PausedBlock {
        PausedBlock {
            paused: self.exec.pause(),
            ctx: ctx.clone(),
            chunks: self.chunks,
            first_op: self.first_op,
            full: self.full,
        }
    }
}

/// A closed block: executed, fees credited, waiting to be sealed and written. The committing
/// thread seals and writes it while the next block runs after it.
struct ClosedBlock {
    number: u64,
    timestamp: u64,
    ctx: BlockContext,
    closed: Closed,
    /// Its ops with their journal sequence numbers, in execution order.
    entries: Vec<(u64, Op)>,
}

/// Keys whose precomputed tables the signature checks keep (48 KiB each, 48 MiB in all; 109 KiB
/// and 109 MiB with the IFMA lane form): the senders that sign most get their checks at about
/// half the cost (a quarter with the lanes).
const SIGNER_TABLES: usize = 1024;

/// The sequencer's state between blocks.
pub struct Sequencer {
    db: Database,
    cfg: SequencerConfig,
    witness: WitnessStage,
    progress: Arc<Progress>,
    intake: Intake,
}

/// What the sequencer thread changes while it fills a block (the database and the
/// configuration are only read then).
struct Intake {
    mempool: Mempool,
    next_seq: u64,
    /// The next priority op to execute; earlier ids are in blocks or the journal already.
    next_priority: u64,
    /// Ops that did not fit the last block, in arrival order.
    carry: std::collections::VecDeque<Incoming>,
    /// This group's journal entries and the acknowledgements waiting for them.
    batch: Vec<(u64, Op)>,
    replies: Vec<(oneshot::Sender<Result<B256, NodeError>>, B256)>,
    dropped: Vec<u64>,
    /// L1 context learned during a block, applied from the next block on.
    l1_updates: Vec<(u16, Vec<OnchainAuth>)>,
}

/// The committing thread's work on the closed block before the open one: its seal and its
/// database write.
type Committing<'scope> = std::thread::ScopedJoinHandle<'scope, Result<Written, NodeFatal>>;

impl Sequencer {
    /// Opens the sequencer over `db`, discarding prover jobs of blocks that were never
    /// committed.
    pub fn open(
        db: Database,
        mut cfg: SequencerConfig,
        queue: JobQueue,
        progress: Arc<Progress>,
    ) -> Result<Self, NodeFatal> {
        let latest = db.latest_block().unwrap_or(0);
        let discarded = queue.discard_above(latest).map_err(NodeFatal::prover)?;
        if !discarded.is_empty() {
            tracing::warn!(
                ?discarded,
                "discarded prover jobs of blocks never committed"
            );
        }
        progress.latest_block.store(latest, Ordering::Relaxed);
        // The context the journal's ops were accepted under (invariant 6).
        if let Some(stored) = db.l1_context().map_err(NodeFatal::storage)? {
            cfg.token_count = cfg.token_count.max(stored.token_count);
            cfg.auths.extend(stored.auths);
        }
        let witness = WitnessStage::start(
            &db,
            queue,
            JobShape {
                shape: cfg.shape,
                domain: cfg.domain,
                fee_account: cfg.fee_account,
            },
            &context(&cfg),
            progress.clone(),
            cfg.background,
        )?;
        let intake = Intake {
            mempool: Mempool::default(),
            next_seq: db.journal_next(),
            next_priority: db.next_priority_op(),
            carry: Default::default(),
            batch: Vec::new(),
            replies: Vec::new(),
            dropped: Vec::new(),
            l1_updates: Vec::new(),
        };
        Ok(Self {
            db,
            cfg,
            witness,
            progress,
            intake,
        })
    }

    /// The first priority op id the L1 watcher must deliver (earlier ones are in blocks or in
    /// the journal).
    pub fn next_priority(&self) -> Result<u64, NodeFatal> {
        let journal = self.db.journal().map_err(NodeFatal::storage)?;
        Ok(journal
            .iter()
            .filter_map(|(_, op)| priority_id(op))
            .map(|id| id + 1)
            .fold(self.intake.next_priority, u64::max))
    }

    /// Runs until [`Command::Stop`] (or the channel closes) or a fatal error; then lets the
    /// witness stage write the jobs of the blocks committed so far.
    pub fn run(mut self, rx: Receiver<Command>) -> Result<(), NodeFatal> {
        // One group may wait checked while the next is being checked.
        let (tx, checked) = std::sync::mpsc::sync_channel(self.cfg.max_group);
        let (domain, max_group, progress) =
            (self.cfg.domain, self.cfg.max_group, self.progress.clone());
        // Its own pool: on rayon's global one, which sealing uses, a group's checks would wait
        // for a block's hashing to finish (and the reverse), and the two stages would take
        // turns instead of overlapping.
        let pool = rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("sigcheck-{i}"))
            .build()
            .map_err(|e| NodeFatal::Io(std::io::Error::other(e)))?;
        // Not joined: it ends after passing on Stop, or at its next command once this thread
        // has gone (its send then fails).
        std::thread::Builder::new()
            .name("sigcheck".into())
            .spawn(move || check_signatures(&rx, &tx, &pool, &domain, max_group, &progress))?;
        let outcome = self.run_blocks(&checked);
        // A failed witness stage is the cause when both fail (the sequencer then only saw
        // that the stage stopped).
        match self.witness.finish() {
            Err(e) => Err(e),
            Ok(()) => outcome,
        }
    }

    /// Fills blocks one after the other. Block n is sealed and written on a committing
    /// thread while block n+1 runs over the state block n left (an stf [`Closed`] block
    /// layered over the committed state). Once block n is written, block n+1 is paused at
    /// the end of its command group, block n is applied to the in-memory state, and block
    /// n+1 resumes over it; if block n+1 closes first, it waits for block n's write.
    fn run_blocks(&mut self, rx: &Receiver<Checked>) -> Result<(), NodeFatal> {
        let mut replay: std::collections::VecDeque<(u64, Op)> =
            self.db.journal().map_err(NodeFatal::storage)?.into();
        if !replay.is_empty() {
            tracing::info!(ops = replay.len(), "replaying the mempool journal");
        }
        let mut closed: Option<ClosedBlock> = None;
        let mut paused: Option<PausedBlock> = None;
        loop {
            self.witness.check()?;
            // A paused block goes on under the context it started with (it was paused, not
            // closed, so no L1 context arrived meanwhile).
            let ctx = match &paused {
                Some(p) => p.ctx.clone(),
                None => {
                    self.apply_l1_updates()?;
                    context(&self.cfg)
                }
            };
            let prior = closed.take();
            let Self {
                db,
                cfg,
                witness,
                progress,
                intake,
            } = self;
            let (run, written) = std::thread::scope(|s| {
                let committing = prior
                    .as_ref()
                    .map(|block| {
                        std::thread::Builder::new()
                            .name("committing".into())
                            .spawn_scoped(s, || seal_and_write(db, block, &progress.phases))
                    })
                    .transpose()?;
                let env = Env {
                    db,
                    cfg,
                    progress,
                    prior: prior.as_ref(),
                    committing: committing.as_ref(),
                };
                let run = intake.run_block(&env, witness, &ctx, rx, &mut replay, paused.take());
                let written =
                    committing.map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
                Ok::<_, NodeFatal>((run, written))
            })?;
            if let (Some(block), Some(written)) = (prior, written) {
                self.apply(block, written?)?;
            }
            let (end, stop) = run?;
            match end {
                BlockEnd::Closed(block) => closed = block,
                BlockEnd::Paused(block) => paused = Some(block),
            }
            if stop {
                if let Some(block) = closed.take() {
                    let written = seal_and_write(&self.db, &block, &self.progress.phases)?;
                    self.apply(block, written)?;
                }
                return Ok(());
            }
        }
    }

    /// Applies the L1 context learned during the last block, storing it first when it grew
    /// (invariant 6).
    fn apply_l1_updates(&mut self) -> Result<(), NodeFatal> {
        let before = (self.cfg.token_count, self.cfg.auths.len());
        for (token_count, auths) in std::mem::take(&mut self.intake.l1_updates) {
            self.cfg.token_count = self.cfg.token_count.max(token_count);
            self.cfg.auths.extend(auths);
        }
        if (self.cfg.token_count, self.cfg.auths.len()) != before {
            self.db
                .put_l1_context(&L1Context {
                    token_count: self.cfg.token_count,
                    auths: self.cfg.auths.iter().copied().collect(),
                })
                .map_err(NodeFatal::storage)?;
        }
        Ok(())
    }

    /// Applies a written block to the in-memory state, then hands it to the witness stage.
    fn apply(&mut self, block: ClosedBlock, written: Written) -> Result<(), NodeFatal> {
        let new_root = written.diff().new_root;
        self.db.apply_written(written).map_err(NodeFatal::storage)?;
        let ClosedBlock {
            number,
            ctx,
            entries,
            ..
        } = block;
        let (consumed, ops): (std::collections::HashSet<u64>, Vec<Op>) =
            entries.into_iter().unzip();
        let count = ops.len();
        self.witness.send(Task {
            number,
            ctx,
            ops,
            new_root,
        })?;
        let mempool = &mut self.intake.mempool;
        mempool.hashes.retain(|_, s| !consumed.contains(s));
        self.progress.latest_block.store(number, Ordering::Relaxed);
        self.progress
            .mempool
            .store(mempool.len() as u64, Ordering::Relaxed);
        tracing::info!(
            block = number,
            ops = count,
            root = %causeway_l1::batch::root_word(&new_root),
            "sealed"
        );
        Ok(())
    }
}

impl Intake {
    /// Fills one block (a new one, or `resumed`) until it must be closed; returns it (if it
    /// has ops) and whether to stop. Once the block before it is written, steps off at the
    /// end of a command group ([`BlockEnd::Paused`]) so that block can be applied.
    fn run_block(
        &mut self,
        env: &Env<'_, '_>,
        witness: &mut WitnessStage,
        ctx: &BlockContext,
        rx: &Receiver<Checked>,
        replay: &mut std::collections::VecDeque<(u64, Op)>,
        resumed: Option<PausedBlock>,
    ) -> Result<(BlockEnd, bool), NodeFatal> {
        // The state is borrowed for the whole block; the database is only written through
        // `&self` meanwhile (journal appends here, the block before on the committing thread).
        let db: &Database = env.db;
        let resuming = resumed.is_some();
        let mut open = match resumed {
            Some(paused) => OpenBlock {
                exec: Executor::resume(db.state(), paused.paused, ctx)
                    .map_err(|e| NodeFatal::Seal(e.to_string()))?,
                chunks: paused.chunks,
                first_op: paused.first_op,
                full: paused.full,
            },
            None => OpenBlock {
                exec: match env.prior {
                    Some(prior) => Executor::after(db.state(), &prior.closed, ctx)
                        .map_err(|e| NodeFatal::Seal(e.to_string()))?,
                    None => Executor::new(db.state(), ctx, WitnessMode::Skip),
                },
                chunks: 0,
                first_op: None,
                full: false,
            },
        };
        let mut st = BlockRun {
            cfg: env.cfg,
            db,
            ctx,
            next_block: env.next_block(),
            mempool: &mut self.mempool,
            next_seq: &mut self.next_seq,
            next_priority: &mut self.next_priority,
            batch: &mut self.batch,
            replies: &mut self.replies,
            dropped: &mut self.dropped,
        };

        // A resumed block went through these when it opened, and was paused only between
        // command groups (the journal replayed, nothing carried, no parked op due).
        if !resuming {
            // 1. The journal: ops acknowledged before a restart, in acceptance order.
            while let Some((seq, op)) = replay.pop_front() {
                match st.replay(&mut open, seq, op)? {
                    None => {}
                    Some(op) => {
                        replay.push_front((seq, op));
                        return st.close(open).map(|b| (BlockEnd::Closed(b), false));
                    }
                }
            }
            // 2. Parked ops whose turn came (one that did not fit sealed the last block), and
            //    what did not fit the last block.
            if st.unpark(&mut open) {
                st.flush()?;
                return st.close(open).map(|b| (BlockEnd::Closed(b), false));
            }
            while let Some(incoming) = self.carry.pop_front() {
                if let Offer::Full(back) = st.offer(&mut open, incoming) {
                    self.carry.push_front(*back);
                    st.flush()?;
                    return st.close(open).map(|b| (BlockEnd::Closed(b), false));
                }
            }
            st.flush()?;
            // A block these filled exactly seals now, as one a command group fills does: a
            // reader must never see a full block waiting for the next command to arrive (the
            // same ops would otherwise show as sealed or still open depending on where a
            // restart cut the block run).
            if open.chunks >= st.cfg.shape.chunks {
                return st.close(open).map(|b| (BlockEnd::Closed(b), false));
            }
        }

        // 3. New commands, a group at a time.
        let mut stop = false;
        loop {
            let mut wait = match open.first_op {
                Some(t) => st.cfg.block_time.saturating_sub(t.elapsed()),
                None => Duration::from_millis(100),
            };
            if env.committing.is_some() {
                // The block before is being written: look again soon to apply it.
                wait = wait.min(Duration::from_millis(2));
            }
            let mut group = Vec::new();
            match rx.recv_timeout(wait) {
                Ok(cmd) => group.push(cmd),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => stop = true,
            }
            while group.len() < st.cfg.max_group {
                match rx.try_recv() {
                    Ok(cmd) => group.push(cmd),
                    Err(_) => break,
                }
            }
            // A witness stage that stopped is fatal now, not at the next block, which an idle
            // chain may not make for a long time (invariant 4).
            witness.check()?;
            let executing = Instant::now();
            let mut queries = Vec::new();
            let mut full = false;
            // How many queued ops may still go into this block: new L1 context (a token
            // listing, a key authorization) applies from the next block, so what arrived after
            // it waits for that block. A deposit of a token listed in the same L1 poll is
            // thus never judged against the old token list.
            let mut cut: Option<usize> = None;
            for cmd in group {
                match cmd {
                    Checked::Submit { op, check, reply } => match check {
                        Ok(()) => self.carry.push_back(Incoming::L2 {
                            op,
                            sig: SignatureCheck::Valid,
                            reply,
                        }),
                        Err(e) => {
                            let _ = reply.send(Err(rejected(&e)));
                        }
                    },
                    Checked::Priority(ops) => {
                        self.carry.extend(ops.into_iter().map(Incoming::Priority));
                    }
                    Checked::L1Context { token_count, auths } => {
                        // The open block keeps its context; the next one gets this.
                        self.l1_updates.push((token_count, auths));
                        cut.get_or_insert(self.carry.len());
                    }
                    Checked::Query(q) => queries.push(q),
                    Checked::Stop => stop = true,
                }
            }
            // Everything queued (up to the cut) goes through the block in arrival order.
            let mut budget = cut.unwrap_or(usize::MAX);
            while budget > 0
                && !full
                && let Some(incoming) = self.carry.pop_front()
            {
                budget -= 1;
                if let Offer::Full(back) = st.offer(&mut open, incoming) {
                    self.carry.push_front(*back);
                    full = true;
                }
            }
            PhaseTimes::add(&env.progress.phases.execute_us, executing);
            let flushing = Instant::now();
            st.flush()?;
            PhaseTimes::add(&env.progress.phases.flush_us, flushing);
            if !queries.is_empty() {
                let soft = Soft {
                    exec: &open.exec,
                    db: st.db,
                    mempool: st.mempool,
                    sealing: env.prior.map_or(&[][..], |p| &p.entries),
                    token_count: ctx.token_count,
                    next_block: st.next_block,
                };
                for q in queries {
                    q(&soft);
                }
            }
            st.progress_mempool(env.progress);
            let aged = open
                .first_op
                .is_some_and(|t| t.elapsed() >= st.cfg.block_time);
            if full
                || open.full
                || cut.is_some()
                || aged
                || open.chunks >= st.cfg.shape.chunks
                || (stop && open.first_op.is_some())
            {
                return st.close(open).map(|b| (BlockEnd::Closed(b), stop));
            }
            if stop {
                return Ok((BlockEnd::Closed(None), true));
            }
            if env.prior_written() {
                return Ok((BlockEnd::Paused(open.pause(ctx)), false));
            }
        }
    }
}

/// What a block run reads: the database, the configuration, and the closed block it runs
/// after, if that one is still being committed.
struct Env<'e, 'scope> {
    db: &'e Database,
    cfg: &'e SequencerConfig,
    progress: &'e Progress,
    prior: Option<&'e ClosedBlock>,
    committing: Option<&'e Committing<'scope>>,
}

impl Env<'_, '_> {
    /// The number the open block gets.
    fn next_block(&self) -> u64 {
        self.db.latest_block().unwrap_or(0) + 1 + u64::from(self.prior.is_some())
    }

    /// Whether the closed block before the open one is written and waits to be applied.
    fn prior_written(&self) -> bool {
        self.committing.is_some_and(|h| h.is_finished())
    }
}

/// Seals a closed block over the committed state and writes it: the committing thread's work.
fn seal_and_write(
    db: &Database,
    block: &ClosedBlock,
    phases: &PhaseTimes,
) -> Result<Written, NodeFatal> {
    let sealing = Instant::now();
    let diff = block
        .closed
        .commitment(db.state())
        .map_err(|e| NodeFatal::Seal(e.to_string()))?;
    PhaseTimes::add(&phases.seal_us, sealing);
    let committing = Instant::now();
    let (consumed, ops): (Vec<u64>, Vec<Op>) = block.entries.iter().cloned().unzip();
    let record = BlockRecord {
        number: block.number,
        timestamp: block.timestamp,
        fee_account: block.ctx.fee_account,
        old_root: diff.old_root,
        new_root: diff.new_root,
        account_count: diff.account_count,
        ops,
        pubdata: block.closed.pubdata(),
    };
    let written = db
        .write_block_consuming(&record, diff, &consumed)
        .map_err(NodeFatal::storage)?;
    PhaseTimes::add(&phases.commit_us, committing);
    Ok(written)
}

/// The sequencer's fields one block's run works with (the state is borrowed from `db`).
struct BlockRun<'s> {
    cfg: &'s SequencerConfig,
    db: &'s Database,
    ctx: &'s BlockContext,
    /// The number the open block gets.
    next_block: u64,
    mempool: &'s mut Mempool,
    next_seq: &'s mut u64,
    next_priority: &'s mut u64,
    batch: &'s mut Vec<(u64, Op)>,
    replies: &'s mut Vec<(oneshot::Sender<Result<B256, NodeError>>, B256)>,
    /// Journal entries of parked ops that were dropped.
    dropped: &'s mut Vec<u64>,
}

impl<'s> BlockRun<'s> {
    /// Offers a new op to the open block (see [`Offer`]).
    fn offer(&mut self, open: &mut OpenBlock<'s>, incoming: Incoming) -> Offer {
        if open.full {
            return Offer::Full(Box::new(incoming));
        }
        match incoming {
            Incoming::Priority(op) => {
                let Some(id) = priority_id(&op) else {
                    return Offer::Refused;
                };
                if id < *self.next_priority {
                    // Delivered again after a restart: already in a block or the journal.
                    return Offer::Refused;
                }
                if !fits(open, &op, self.cfg.shape.chunks) {
                    return Offer::Full(Box::new(Incoming::Priority(op)));
                }
                match open.exec.apply(&op, SignatureCheck::Valid) {
                    Ok(_) => {
                        *self.next_priority = id + 1;
                        let seq = self.journal(op.clone(), None);
                        self.ran(open, seq, op);
                        Offer::Accepted
                    }
                    Err(OpError::FeeTokensFull { .. }) => {
                        Offer::Full(Box::new(Incoming::Priority(op)))
                    }
                    Err(e) => {
                        // The stf accepts every deposit and full exit the contract queues.
                        tracing::error!(priority_id = id, error = %e, "priority op refused");
                        Offer::Refused
                    }
                }
            }
            Incoming::L2 { op, sig, reply } => {
                let hash = op.hash();
                if self.mempool.hashes.contains_key(&hash) {
                    let _ = reply.send(Err(NodeError::AlreadyKnown));
                    return Offer::Refused;
                }
                if let Err(e) = check_fee(&self.cfg.fees, &op) {
                    let _ = reply.send(Err(e));
                    return Offer::Refused;
                }
                if let Err(e) = self.fee_account_ready(open, &op) {
                    let _ = reply.send(Err(e));
                    return Offer::Refused;
                }
                match self.place(open, &op, Limits::Enforce) {
                    Err(e) => {
                        let _ = reply.send(Err(e));
                        Offer::Refused
                    }
                    Ok(Placement::Park(id, nonce)) => {
                        let seq = self.journal(op.clone(), Some((reply, hash)));
                        self.park(id, nonce, seq, op);
                        Offer::Accepted
                    }
                    Ok(Placement::Run) => {
                        if !fits(open, &op, self.cfg.shape.chunks) {
                            return Offer::Full(Box::new(Incoming::L2 { op, sig, reply }));
                        }
                        match open.exec.apply(&op, sig) {
                            Ok(_) => {
                                let seq = self.journal(op.clone(), Some((reply, hash)));
                                self.ran(open, seq, op);
                                open.full |= self.unpark(open);
                                Offer::Accepted
                            }
                            Err(OpError::FeeTokensFull { .. }) => {
                                Offer::Full(Box::new(Incoming::L2 { op, sig, reply }))
                            }
                            Err(e) => {
                                let _ = reply.send(Err(rejected(&e)));
                                Offer::Refused
                            }
                        }
                    }
                }
            }
        }
    }

    /// Re-runs a journaled op after a restart. `Some(op)` when it does not fit this block.
    fn replay(
        &mut self,
        open: &mut OpenBlock<'s>,
        seq: u64,
        op: Op,
    ) -> Result<Option<Op>, NodeFatal> {
        if open.full {
            return Ok(Some(op));
        }
        if let Some(id) = priority_id(&op) {
            if !fits(open, &op, self.cfg.shape.chunks) {
                return Ok(Some(op));
            }
            open.exec
                .apply(&op, SignatureCheck::Unchecked)
                .map_err(|e| NodeFatal::Replay(seq, e.to_string()))?;
            *self.next_priority = (*self.next_priority).max(id + 1);
            self.mempool.hashes.insert(op.hash(), seq);
            self.ran(open, seq, op);
            return Ok(None);
        }
        match self
            .place(open, &op, Limits::Ignore)
            .map_err(|e| NodeFatal::Replay(seq, e.to_string()))?
        {
            Placement::Park(id, nonce) => {
                self.mempool.hashes.insert(op.hash(), seq);
                self.park(id, nonce, seq, op);
            }
            Placement::Run => {
                if !fits(open, &op, self.cfg.shape.chunks) {
                    return Ok(Some(op));
                }
                open.exec
                    .apply(&op, SignatureCheck::Unchecked)
                    .map_err(|e| NodeFatal::Replay(seq, e.to_string()))?;
                self.mempool.hashes.insert(op.hash(), seq);
                self.ran(open, seq, op);
                open.full |= self.unpark(open);
            }
        }
        Ok(None)
    }

    /// Refuses a fee-paying op while the fee account does not exist: sealing a block whose
    /// fees have nowhere to go would fail, and so would every restart that replays it.
    fn fee_account_ready(&self, open: &OpenBlock<'s>, op: &Op) -> Result<(), NodeError> {
        let fee = match op {
            Op::Transfer(t) => t.fee,
            Op::Withdraw(w) => w.fee,
            Op::ChangePubKey(c) => c.fee,
            _ => 0,
        };
        if fee > 0 && open.exec.account(self.cfg.fee_account).is_none() {
            return Err(NodeError::Unavailable(format!(
                "the fee account {} does not exist yet; the operator must deposit first",
                self.cfg.fee_account
            )));
        }
        Ok(())
    }

    /// Whether an L2 op runs now or waits for earlier nonces; refuses what can never run.
    /// A replayed op was accepted under the limits of its time: they are not checked again.
    fn place(&self, open: &OpenBlock<'s>, op: &Op, limits: Limits) -> Result<Placement, NodeError> {
        let Some((account, nonce)) = signer(op) else {
            return Ok(Placement::Run);
        };
        let Some(state) = open.exec.account(account) else {
            return Ok(Placement::Run); // the stf names the missing account
        };
        if nonce <= state.nonce {
            return Ok(Placement::Run); // the stf refuses an old nonce
        }
        if self.mempool.parked.contains_key(&(account, nonce)) {
            return Err(NodeError::AlreadyKnown);
        }
        // Check now what would make the op fail when its turn comes, so that a forged op
        // cannot hold another account's nonce (invariant 7). A ChangePubKey's authorization
        // is not checked here: it must use the current nonce.
        // A replayed op was parked under the key of its time (a ChangePubKey may have run
        // since); as live, it is dropped when its turn comes.
        let refuse = |e: OpError| Err(rejected(&e));
        match (op, state.pubkey) {
            _ if limits == Limits::Ignore => {}
            (Op::ChangePubKey(_), _) => {
                return refuse(OpError::WrongNonce {
                    account,
                    expected: state.nonce,
                    got: nonce,
                });
            }
            (_, None) => return refuse(OpError::NoPubKey(account)),
            (Op::Transfer(t), Some(key)) if t.signature.pubkey != key.packed() => {
                return refuse(OpError::WrongSigner(account));
            }
            (Op::Withdraw(w), Some(key)) if w.signature.pubkey != key.packed() => {
                return refuse(OpError::WrongSigner(account));
            }
            _ => {}
        }
        let parked = self
            .mempool
            .parked_by_account
            .get(&account)
            .copied()
            .unwrap_or(0);
        if limits == Limits::Enforce
            && (nonce - state.nonce > self.cfg.max_parked_per_sender as u32
                || parked >= self.cfg.max_parked_per_sender)
        {
            return Err(NodeError::SenderLimit(state.address));
        }
        Ok(Placement::Park(account, nonce))
    }

    fn park(&mut self, account: AccountId, nonce: Nonce, seq: u64, op: Op) {
        self.mempool
            .parked
            .insert((account, nonce), Parked { seq, op });
        *self.mempool.parked_by_account.entry(account).or_default() += 1;
    }

    /// Runs parked ops whose nonce is now current; `true` when one did not fit.
    fn unpark(&mut self, open: &mut OpenBlock<'s>) -> bool {
        loop {
            let ready = self
                .mempool
                .parked
                .iter()
                .find_map(|((account, nonce), _)| {
                    let current = open.exec.account(*account)?.nonce;
                    (current == *nonce).then_some((*account, *nonce))
                });
            let Some(key) = ready else {
                return false;
            };
            let parked = self.mempool.parked.remove(&key).expect("found above");
            if let Some(n) = self.mempool.parked_by_account.get_mut(&key.0) {
                *n -= 1;
            }
            if !fits(open, &parked.op, self.cfg.shape.chunks) {
                self.mempool.parked.insert(key, parked);
                *self.mempool.parked_by_account.entry(key.0).or_default() += 1;
                return true;
            }
            match open.exec.apply(&parked.op, SignatureCheck::Unchecked) {
                Ok(_) => self.ran(open, parked.seq, parked.op),
                Err(e) => {
                    // Valid when parked, refused now (e.g. the balance went elsewhere first):
                    // it leaves the mempool, as an Ethereum tx whose nonce was taken does.
                    tracing::info!(seq = parked.seq, error = %e, "parked op dropped");
                    self.mempool.hashes.retain(|_, s| *s != parked.seq);
                    self.dropped.push(parked.seq);
                }
            }
        }
    }

    /// Records an executed op in the open block.
    fn ran(&mut self, open: &mut OpenBlock<'s>, seq: u64, op: Op) {
        let receipt = open.exec.receipts().last().expect("the op just ran");
        open.chunks += receipt.executed.chunks();
        open.first_op.get_or_insert_with(Instant::now);
        self.mempool.open.push((seq, op));
    }

    /// Adds an accepted op to this group's journal batch.
    fn journal(
        &mut self,
        op: Op,
        reply: Option<(oneshot::Sender<Result<B256, NodeError>>, B256)>,
    ) -> u64 {
        let seq = *self.next_seq;
        *self.next_seq += 1;
        self.mempool.hashes.insert(op.hash(), seq);
        self.batch.push((seq, op));
        if let Some(r) = reply {
            self.replies.push(r);
        }
        seq
    }

    /// Makes this group's accepted ops durable, then acknowledges them.
    fn flush(&mut self) -> Result<(), NodeFatal> {
        if !self.dropped.is_empty() {
            self.db
                .remove_journal(&std::mem::take(self.dropped))
                .map_err(NodeFatal::storage)?;
        }
        if self.batch.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.db.append_journal(self.batch) {
            for (reply, _) in self.replies.drain(..) {
                let _ = reply.send(Err(NodeError::Unavailable("storage failed".into())));
            }
            return Err(NodeFatal::storage(e));
        }
        self.batch.clear();
        for (reply, hash) in self.replies.drain(..) {
            let _ = reply.send(Ok(hash));
        }
        Ok(())
    }

    fn progress_mempool(&self, progress: &Progress) {
        progress
            .mempool
            .store(self.mempool.len() as u64, Ordering::Relaxed);
    }

    /// Closes the open block (if it ran anything).
    fn close(&mut self, open: OpenBlock<'s>) -> Result<Option<ClosedBlock>, NodeFatal> {
        self.flush()?;
        if open.first_op.is_none() {
            return Ok(None);
        }
        let closed = open
            .exec
            .close()
            .map_err(|e| NodeFatal::Seal(e.to_string()))?;
        Ok(Some(ClosedBlock {
            number: self.next_block,
            timestamp: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            ctx: self.ctx.clone(),
            closed,
            entries: std::mem::take(&mut self.mempool.open),
        }))
    }
}

/// The checking thread: takes commands from the handles in groups, checks the L2 ops'
/// signatures in parallel (keeping tables for the keys that sign most), and passes every
/// command on in arrival order. Group n+1 is checked while the sequencer thread runs group n.
fn check_signatures(
    rx: &Receiver<Command>,
    tx: &SyncSender<Checked>,
    pool: &rayon::ThreadPool,
    domain: &Domain,
    max_group: usize,
    progress: &Progress,
) {
    let mut tables = SignerTables::new(SIGNER_TABLES);
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < max_group {
            match rx.try_recv() {
                Ok(cmd) => group.push(cmd),
                Err(_) => break,
            }
        }
        let ops: Vec<Op> = group
            .iter()
            .filter_map(|c| match c {
                Command::Submit { op, .. } => Some(op.clone()),
                _ => None,
            })
            .collect();
        let checking = Instant::now();
        let mut checks = pool.install(|| tables.check(&ops, domain)).into_iter();
        PhaseTimes::add(&progress.phases.verify_us, checking);
        for cmd in group {
            let checked = match cmd {
                Command::Submit { op, reply } => Checked::Submit {
                    op,
                    check: checks.next().expect("one check per submitted op"),
                    reply,
                },
                Command::Priority(ops) => Checked::Priority(ops),
                Command::L1Context { token_count, auths } => {
                    Checked::L1Context { token_count, auths }
                }
                Command::Query(q) => Checked::Query(q),
                Command::Stop => Checked::Stop,
            };
            let stop = matches!(checked, Checked::Stop);
            if tx.send(checked).is_err() || stop {
                return;
            }
        }
    }
}

/// The context a block runs under: the configuration and what L1 said so far.
fn context(cfg: &SequencerConfig) -> BlockContext {
    BlockContext {
        domain: cfg.domain,
        fee_account: cfg.fee_account,
        token_count: cfg.token_count,
        onchain_auths: cfg.auths.clone(),
        max_fee_tokens: cfg.shape.fee_slots,
    }
}

/// Whether `op` fits the open block's remaining chunks. A transfer's size depends on whether
/// its recipient exists (1 chunk) or is created (3); the soft state knows.
fn fits(open: &OpenBlock<'_>, op: &Op, capacity: usize) -> bool {
    let kind = match op {
        Op::Noop => OpKind::Noop,
        Op::Deposit(_) => OpKind::Deposit,
        Op::FullExit(_) => OpKind::FullExit,
        Op::Transfer(t) if open.exec.account_id(&t.to).is_some() => OpKind::Transfer,
        Op::Transfer(_) => OpKind::TransferToNew,
        Op::Withdraw(_) => OpKind::Withdraw,
        Op::ChangePubKey(_) => OpKind::ChangePubKey,
    };
    open.chunks + causeway_primitives::pubdata::chunks_of(kind) <= capacity
}

fn priority_id(op: &Op) -> Option<u64> {
    match op {
        Op::Deposit(d) => Some(d.priority_id),
        Op::FullExit(e) => Some(e.priority_id),
        _ => None,
    }
}

/// The account that signs an L2 op, and the nonce it uses.
fn signer(op: &Op) -> Option<(AccountId, Nonce)> {
    match op {
        Op::Transfer(t) => Some((t.from, t.nonce)),
        Op::Withdraw(w) => Some((w.from, w.nonce)),
        Op::ChangePubKey(c) => Some((c.account, c.nonce)),
        _ => None,
    }
}

/// Refuses an L2 op whose fee is below the floor of its kind.
fn check_fee(fees: &FeeSchedule, op: &Op) -> Result<(), NodeError> {
    let (offered, minimum): (Balance, Balance) = match op {
        Op::Transfer(t) => (t.fee, fees.transfer),
        Op::Withdraw(w) => (w.fee, fees.withdraw),
        Op::ChangePubKey(c) => (c.fee, fees.change_pubkey),
        _ => return Ok(()),
    };
    if offered < minimum {
        return Err(NodeError::FeeTooLow {
            offered: alloy_primitives::U256::from(offered),
            minimum: alloy_primitives::U256::from(minimum),
        });
    }
    Ok(())
}

/// An stf refusal as the RPC reports it: the variant's name as the machine-readable reason.
pub fn rejected(e: &OpError) -> NodeError {
    let debug = format!("{e:?}");
    let reason = debug
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or("Rejected")
        .to_owned();
    NodeError::Rejected {
        reason,
        message: e.to_string(),
    }
}
