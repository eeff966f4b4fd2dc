//! Assembling a node from its configuration and running it.
//!
//! The parts and where they run:
//! - the sequencer: its own thread (it owns the database), and the witness stage's thread
//!   (prover jobs of committed blocks, on a background pool);
//! - prover workers: `prover.workers` threads proving the queue in `<data_dir>/prover`, named
//!   `node-<i>` (more can run as `causeway prover worker` processes on the same directory),
//!   each on its own background pool ([`crate::priority`]).
//!   A stop does not wait for a proof in progress: the thread is left to the process's exit,
//!   and the next start takes the job back at once ([`JobQueue::requeue_workers`]);
//! - the L1 watcher and the L1 submitter: tokio tasks;
//! - the JSON-RPC server: jsonrpsee on tokio.
//!
//! Files under `data_dir`: `state.redb` (the database), `prover/` (the job queue and
//! proofs), `keys/` (proving keys).
//!
//! The first part to fail stops the node; [`RunningNode::wait`] returns its error. After any
//! stop, even a kill -9, starting again from the same `data_dir` continues where the
//! database and L1 say the node was.

use crate::NodeFatal;
use crate::config::{NodeConfig, SequencerConfig};
use crate::follow::{L1View, follow};
use crate::priority::Background;
use crate::sequencer::{Progress, Sequencer, SequencerHandle, channel};
use crate::service::Service;
use crate::settle::{L1Progress, SettleConfig, Submitter};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use causeway_l1::send::{SendConfig, TxSender};
use causeway_l1::watch::WatchConfig;
use causeway_primitives::{AccountId, Address, Domain};
use causeway_prover::{JobQueue, KeyMode, KeyStore, Worker};
use causeway_rpc::api::NodeInfo;
use causeway_storage::Database;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;
use tokio::sync::mpsc;

/// A started node.
pub struct RunningNode {
    pub rpc_addr: SocketAddr,
    pub info: NodeInfo,
    pub sequencer: SequencerHandle,
    rpc: jsonrpsee::server::ServerHandle,
    stop_workers: Arc<AtomicBool>,
    failures: mpsc::UnboundedReceiver<NodeFatal>,
    threads: Vec<std::thread::JoinHandle<()>>,
    /// Prover threads: told to stop, never waited for (see the module docs).
    provers: Vec<std::thread::JoinHandle<()>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// The name prefix of the node's own prover workers.
const NODE_WORKERS: &str = "node-";

fn read_key(cfg: &NodeConfig) -> Result<PrivateKeySigner, NodeFatal> {
    let text = std::fs::read_to_string(&cfg.operator_key_file).map_err(|e| {
        NodeFatal::Config(format!(
            "operator key file {}: {e}",
            cfg.operator_key_file.display()
        ))
    })?;
    text.trim().parse().map_err(|_| {
        NodeFatal::Config(format!(
            "{} does not hold a hex private key",
            cfg.operator_key_file.display()
        ))
    })
}

/// Starts every part of the node; returns once the RPC server listens.
pub async fn start(cfg: NodeConfig) -> Result<RunningNode, NodeFatal> {
    std::fs::create_dir_all(&cfg.data_dir)?;
    let signer = read_key(&cfg)?;
    let l1_url: alloy::transports::http::reqwest::Url = cfg
        .l1_rpc
        .parse()
        .map_err(|e| NodeFatal::Config(format!("l1_rpc {:?}: {e}", cfg.l1_rpc)))?;
    let l1 = ProviderBuilder::new().connect_http(l1_url.clone());
    let l1_chain_id = l1.get_chain_id().await.map_err(NodeFatal::l1)?;
    let shape = cfg.shape();
    let domain = Domain {
        chain_id: l1_chain_id,
        contract: cfg.rollup,
    };
    let info = NodeInfo {
        l2_chain_id: cfg.l2_chain_id,
        l1_chain_id,
        rollup: cfg.rollup,
        batch_chunks: shape.chunks as u32,
        client_version: format!("causeway/{}", env!("CARGO_PKG_VERSION")),
    };
    let fee_account = AccountId::new(cfg.fee_account)
        .map_err(|_| NodeFatal::Config(format!("fee_account {} out of range", cfg.fee_account)))?;

    let db = Database::open(cfg.data_dir.join("state.redb"))?;
    let queue = JobQueue::open(cfg.data_dir.join("prover"))?;
    let (handle, rx) = channel(cfg.sequencer.queue_capacity);
    let progress: Arc<Progress> = handle.progress.clone();
    // The witness stage and the in-node prover workers compute at this priority.
    let background = Background::new(cfg.prover.nice);
    let seq_cfg = SequencerConfig {
        shape,
        block_time: Duration::from_millis(cfg.sequencer.block_time_ms),
        fee_account,
        domain,
        // ETH until the watcher reports listings.
        token_count: 1,
        auths: Default::default(),
        fees: cfg.fees,
        max_parked_per_sender: cfg.sequencer.max_parked_per_sender,
        max_group: cfg.sequencer.max_group,
        background,
    };
    let sequencer = Sequencer::open(db, seq_cfg, queue.clone(), progress)?;
    let next_priority = sequencer.next_priority()?;

    let (fail_tx, failures) = mpsc::unbounded_channel();
    let mut threads = Vec::new();
    {
        let fail = fail_tx.clone();
        threads.push(
            std::thread::Builder::new()
                .name("sequencer".into())
                .spawn(move || {
                    if let Err(e) = sequencer.run(rx) {
                        tracing::error!(error = %e, "sequencer stopped");
                        let _ = fail.send(e);
                    }
                })?,
        );
    }

    let stop_workers = Arc::new(AtomicBool::new(false));
    let mut provers = Vec::new();
    if cfg.prover.workers > 0 {
        let mode = match cfg.prover.dev_seed {
            Some(seed) => KeyMode::Development { seed },
            None => KeyMode::Production,
        };
        let keys = Arc::new(KeyStore::open(
            cfg.prover
                .keys_dir
                .clone()
                .unwrap_or_else(|| cfg.data_dir.join("keys")),
            mode,
        )?);
        // Claims of this node's workers can only be left by its previous run.
        let back = queue
            .requeue_workers(NODE_WORKERS)
            .map_err(NodeFatal::prover)?;
        if !back.is_empty() {
            tracing::info!(jobs = ?back, "took back the jobs the last run was proving");
        }
        for i in 0..cfg.prover.workers {
            let worker = Worker::new(format!("{NODE_WORKERS}{i}"), queue.clone(), keys.clone())?
                .with_requeue(Duration::from_secs(120));
            let stop = stop_workers.clone();
            let fail = fail_tx.clone();
            let pool = background.pool(&format!("prover-{i}"))?;
            provers.push(
                std::thread::Builder::new()
                    .name(format!("prover-{i}"))
                    .spawn(move || {
                        // The worker's loop and its proofs' parallel work run on `pool`.
                        let run = pool.install(|| worker.run(&stop, Duration::from_millis(200)));
                        if let Err(e) = run {
                            tracing::error!(error = %e, "prover worker stopped");
                            let _ = fail.send(NodeFatal::Prover(e));
                        }
                    })?,
            );
        }
    }

    let l1_progress = Arc::new(L1Progress::default());
    let view = Arc::new(L1View::default());
    view.tokens
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Address::ZERO);
    let poll = Duration::from_millis(cfg.l1.poll_ms);
    let mut tasks = Vec::new();

    let send_cfg = SendConfig {
        poll_interval: poll.min(Duration::from_secs(2)),
        bump_after: (poll * 6).max(Duration::from_secs(6)),
        ..SendConfig::default()
    };
    let sender = TxSender::new(l1_url.clone(), signer, send_cfg)
        .await
        .map_err(NodeFatal::l1)?;
    let submitter = Submitter::new(
        SettleConfig {
            rollup: cfg.rollup,
            deploy_block: cfg.deploy_block,
            max_per_tx: cfg.l1.max_batches_per_tx,
            group_wait: Duration::from_millis(cfg.l1.group_wait_ms),
            poll,
        },
        sender,
        queue,
        handle.clone(),
        l1_progress.clone(),
    );
    tasks.push(spawn_part(submitter.run(), fail_tx.clone()));
    tasks.push(spawn_part(
        follow(
            l1,
            WatchConfig {
                rollup: cfg.rollup,
                confirmations: cfg.l1.confirmations,
                from_block: cfg.deploy_block,
                max_range: 10_000,
            },
            next_priority,
            poll,
            handle.clone(),
            view.clone(),
        ),
        fail_tx.clone(),
    ));

    let service = Arc::new(Service {
        info: info.clone(),
        fees: cfg.fees,
        sequencer: handle.clone(),
        l1: l1_progress,
        view,
    });
    let (rpc, rpc_addr) = causeway_rpc::server::serve(service, cfg.rpc_listen)
        .await
        .map_err(|e| NodeFatal::Config(format!("JSON-RPC server: {e}")))?;
    tracing::info!(%rpc_addr, rollup = %cfg.rollup, "node started");
    Ok(RunningNode {
        rpc_addr,
        info,
        sequencer: handle,
        rpc,
        stop_workers,
        failures,
        threads,
        provers,
        tasks,
    })
}

fn spawn_part(
    part: impl std::future::Future<Output = Result<(), NodeFatal>> + Send + 'static,
    fail: mpsc::UnboundedSender<NodeFatal>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if let Err(e) = part.await {
            tracing::error!(error = %e, "node part stopped");
            let _ = fail.send(e);
        }
    })
}

impl RunningNode {
    /// Waits until a part fails (its error) or `shutdown` resolves (`Ok`), then stops the
    /// node: the sequencer seals its open block, the witness stage writes its jobs, a proof
    /// in progress is abandoned.
    pub async fn run_until(
        mut self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<(), NodeFatal> {
        let outcome = tokio::select! {
            e = self.failures.recv() => e.map_or(Ok(()), Err),
            () = shutdown => Ok(()),
        };
        self.stop().await;
        outcome
    }

    /// Stops every part and waits for the sequencer (which waits for the witness stage); a
    /// proof in progress is abandoned (see the module docs).
    pub async fn stop(self) {
        let _ = self.rpc.stop();
        for task in &self.tasks {
            task.abort();
        }
        let _ = self
            .sequencer
            .send_blocking(crate::sequencer::Command::Stop);
        self.stop_workers
            .store(true, std::sync::atomic::Ordering::Relaxed);
        drop(self.provers);
        let threads = self.threads;
        let _ = tokio::task::spawn_blocking(move || {
            for t in threads {
                let _ = t.join();
            }
        })
        .await;
    }
}
