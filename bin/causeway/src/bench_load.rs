//! `causeway bench load`: the node under load from outside, as clients see it.
//!
//! What is measured: signed transfers submitted over JSON-RPC (`causeway_sendOp`) by a
//! separate process to a node running as its own process (`causeway node --config`), the
//! sustained rate of acknowledged transfers (acknowledged / wall time of the timed phase) and
//! each transfer's soft-confirmation latency: from the moment its request is sent to the
//! node's answer, which comes only once the op has been executed against the soft state and
//! written durably to the mempool journal (see docs/node.md). Then, after the load stops,
//! whether the node kept sealing blocks and queueing them for L1 and the prover, and whether
//! every acknowledged transfer is still there.
//!
//! How, in order:
//! 1. anvil (1-second blocks), the contracts for `--chunks`-chunk batches, and a node config
//!    with no prover workers: a circuit that large cannot be proven on this machine, so the
//!    node only queues prover jobs; proving lag is reported as the queue it leaves behind.
//!    The operator deposits first (account 0 takes the fees), then the node process starts.
//! 2. `--senders` L1 keys (derived from their index) get ETH with `anvil_setBalance`, deposit
//!    it to L2, and once their accounts exist register their L2 keys with a ChangePubKey
//!    authorized by their Ethereum signature.
//! 3. Every transfer is signed before the clock starts (signing is the clients' work, and on
//!    a 2-core machine it would otherwise compete with the node): for each sender, K
//!    consecutive nonces to the other senders (existing accounts: one pubdata chunk each), at
//!    the node's fee floor. K covers `--duration` seconds at `--rate`, with headroom; unless
//!    `--calibrate 0`, a short closed-loop run first measures what the node takes, and K is
//!    sized for at most three times that (signing costs about 0.2-0.4 ms per transfer per
//!    core, so 750k transfers the node cannot take would cost minutes).
//! 4. The timed phase: `--connections` client tasks, each owning some senders; each sender
//!    keeps at most `--pipeline` transfers in flight, in nonce order, and sends the next one
//!    when one is acknowledged (closed loop). BUSY answers (mempool or sender limit) are
//!    retried and counted; any other error stops that sender and is reported. Besides the
//!    rate and latencies it prints the node's CPU per thread and where the sequencer thread's
//!    wall time went (`causeway_status.sequencer`: signature checks, execution, journal
//!    writes, sealing, block commits, and the rest, mostly waiting for ops).
//! 5. After the load: the mempool drains, then the chain's progress (blocks, L1 commits, how
//!    many blocks the witness stage had not turned into prover jobs yet and how long it took to
//!    catch up, prover jobs queued), a check that nothing acknowledged was lost (op statuses of a random
//!    sample and of every sender's last transfer, and every sender's nonce), and the node
//!    process's CPU time (per thread) and peak RSS from `/proc`.
//!
//! The load generator shares the machine with the node: its own CPU time is printed next to
//! the node's so the reader can tell how much of the machine each took.

use crate::step::{Context, StepFailed};
use alloy::network::EthereumWallet;
use alloy::primitives::{Address, B256, U256, keccak256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use causeway_bindings::ZkRollup;
use causeway_bindings::anvil::{Anvil, AnvilError, DEV_KEY};
use causeway_crypto::eddsa::{PrivateKey, PublicKey};
use causeway_crypto::l2key::{L2_KEY_MESSAGE, derive_from_eth_signature};
use causeway_crypto::poseidon::hash4;
use causeway_node::config::{
    DEVNET_L2_CHAIN_ID, L1Section, NodeConfig, ProverSection, SequencerSection,
};
use causeway_node::devnet::{deploy, deposit_eth};
use causeway_primitives::{
    AccountId, ChangePubKey, ChangePubKeyAuth, Domain, Op, PackedPoint, TokenId, Transfer,
    TxSignature, change_pubkey_eth_message, eth_signed_message_hash,
};
use causeway_rpc::api::{FeeKind, OpRequest, OpStage, SequencerPhases};
use causeway_rpc::client::{Client, ClientError};
use causeway_rpc::error::BUSY;
use futures::stream::{FuturesUnordered, StreamExt};
use jsonrpsee::core::client::ClientT;
use jsonrpsee::rpc_params;
use jsonrpsee::ws_client::{WsClient, WsClientBuilder};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct LoadArgs {
    /// L2 accounts sending transfers (to each other).
    #[arg(long, default_value_t = 256)]
    senders: usize,
    /// Seconds of load.
    #[arg(long, default_value_t = 60)]
    duration: u64,
    /// Transfers per second the pre-signed supply must cover for `--duration` (it sizes the
    /// signing, it does not pace the load).
    #[arg(long, default_value_t = 10_000)]
    rate: u64,
    /// Pubdata chunks per block (the batch circuit's size in the deployed contract).
    #[arg(long, default_value_t = 1024)]
    chunks: usize,
    /// The node's `sequencer.block_time_ms`.
    #[arg(long, default_value_t = 1000)]
    block_time_ms: u64,
    /// Concurrent client tasks, each with its own JSON-RPC client (default: one per sender).
    #[arg(long)]
    connections: Option<usize>,
    /// Transfers each sender keeps in flight (the node parks up to 16 future nonces).
    #[arg(long, default_value_t = 1)]
    pipeline: usize,
    /// JSON-RPC transport for the load: `http` (one keep-alive connection per request in
    /// flight) or `ws` (one WebSocket per client task, requests multiplexed on it).
    #[arg(long, value_enum, default_value_t = Transport::Http)]
    transport: Transport,
    /// Seconds of a calibration run before pre-signing, to sign only what the node can take
    /// (0: sign for `--rate` × `--duration` outright). Its transfers are not in the figures.
    #[arg(long, default_value_t = 3)]
    calibrate: u64,
    /// The node's `prover.nice`: the witness stage's priority (0: the sequencer's own).
    #[arg(long, default_value_t = causeway_node::priority::LOWEST)]
    nice: i32,
    /// Where the node keeps its database, prover queue and log (must be empty or absent;
    /// default: a temporary directory, removed after a successful run).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Transport {
    Http,
    Ws,
}

/// Why the benchmark stopped.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("invalid arguments: {0}")]
    Args(String),
    #[error(transparent)]
    Anvil(#[from] AnvilError),
    /// A set-up or reporting step failed.
    #[error(transparent)]
    Step(#[from] StepFailed),
    #[error("timed out after {0:?} waiting for {1}")]
    Timeout(Duration, String),
    #[error("the node process exited ({status}); see its log {}", log.display())]
    NodeExited { status: String, log: PathBuf },
    #[error("{0} acknowledged transfers are missing or unsealed, or nonces disagree (see above)")]
    Lost(usize),
}

const ETHER: u128 = 1_000_000_000_000_000_000;
/// What each sender deposits to L2: fees for a few million transfers at the default floor.
const DEPOSIT: u128 = 10 * ETHER;
/// Each transfer's amount: small, and exactly packable (one significant digit).
const AMOUNT: u128 = 1_000_000_000;
/// Pre-signed transfers beyond `--rate × --duration`, so that a node faster than the target
/// does not run the senders dry before the duration ends.
const HEADROOM: f64 = 1.25;
/// Transfers pre-signed for the calibration run, at most (in all).
const CALIBRATION_OPS: usize = 8192;
/// The timed phase is signed for this many times the calibrated rate (capped by `--rate`):
/// the node may run faster once warm.
const CALIBRATION_MARGIN: f64 = 3.0;
/// At most this many pre-signed transfers (about 250 bytes each in memory).
const MAX_PRESIGNED: usize = 2_000_000;
/// Random acknowledged transfers whose status is checked after the run.
const STATUS_SAMPLE: usize = 1000;
/// How long set-up steps (deposits reaching L2, the node starting) may take.
const SETUP_LIMIT: Duration = Duration::from_secs(120);
/// How long a BUSY op waits before it is sent again.
const BUSY_BACKOFF: Duration = Duration::from_millis(5);

pub fn run(args: &LoadArgs) -> Result<(), LoadError> {
    if args.senders < 2 || args.duration == 0 || args.pipeline == 0 || args.chunks == 0 {
        return Err(LoadError::Args(
            "need --senders >= 2, --duration >= 1, --pipeline >= 1, --chunks >= 1".into(),
        ));
    }
    if args.connections == Some(0) {
        return Err(LoadError::Args("--connections must be at least 1".into()));
    }
    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build; run `cargo build --release` for meaningful figures");
    }
    // Two workers: the machine has two cores, shared with the node and anvil.
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(bench(args))
}

async fn bench(args: &LoadArgs) -> Result<(), LoadError> {
    let connections = args.connections.unwrap_or(args.senders).min(args.senders);
    let (data_dir, temporary) = match &args.data_dir {
        Some(dir) => (dir.clone(), false),
        None => (
            std::env::temp_dir().join(format!("causeway-bench-load-{}", std::process::id())),
            true,
        ),
    };
    if std::fs::read_dir(&data_dir).is_ok_and(|mut d| d.next().is_some()) {
        return Err(LoadError::Args(format!(
            "--data-dir {} is not empty: the benchmark starts a fresh chain",
            data_dir.display()
        )));
    }
    std::fs::create_dir_all(&data_dir).context("creating the data directory")?;
    println!(
        "bench load: {} senders, {} s, {} connections ({:?}), pipeline {}, {}-chunk blocks, \
         block time {} ms",
        args.senders,
        args.duration,
        connections,
        args.transport,
        args.pipeline,
        args.chunks,
        args.block_time_ms
    );

    // 1. L1, the contracts, the node.
    let t = Instant::now();
    let anvil = Anvil::spawn_with_args(&["--block-time", "1"])?;
    let l1_url = anvil.endpoint();
    let operator: PrivateKeySigner = DEV_KEY.parse().context("the operator key")?;
    let deployment = deploy(&l1_url, operator.clone(), 600, args.chunks)
        .await
        .context("deploying the contracts")?;
    let key_file = data_dir.join("operator.key");
    std::fs::write(&key_file, DEV_KEY).context("writing the operator key")?;
    let rpc_addr = free_port().context("finding a free port for the node's RPC")?;
    let config = NodeConfig {
        data_dir: data_dir.clone(),
        l1_rpc: l1_url.clone(),
        rollup: deployment.rollup,
        deploy_block: deployment.block,
        operator_key_file: key_file,
        rpc_listen: rpc_addr,
        l2_chain_id: DEVNET_L2_CHAIN_ID,
        fee_account: 0,
        sequencer: SequencerSection {
            block_time_ms: args.block_time_ms,
            ..SequencerSection::default()
        },
        fees: Default::default(),
        l1: L1Section {
            confirmations: 1,
            poll_ms: 500,
            max_batches_per_tx: 8,
            group_wait_ms: 0,
        },
        prover: ProverSection {
            workers: 0,
            chunks: args.chunks,
            fee_slots: 1,
            dev_seed: Some(causeway_l1_gen::DEV_SEED),
            keys_dir: None,
            nice: args.nice,
        },
    };
    let config_file = data_dir.join("node.toml");
    std::fs::write(
        &config_file,
        toml::to_string_pretty(&config).context("writing the node config")?,
    )
    .context("writing the node config")?;
    // Priority op 0: account 0, the fee account, is the operator's.
    deposit_eth(&l1_url, deployment.rollup, &operator, ETHER)
        .await
        .context("the operator's deposit")?;
    let mut node = NodeProcess::spawn(&config_file, &data_dir.join("node.log"))?;
    let url = format!("http://{rpc_addr}");
    let client = Client::new(&url).context("the JSON-RPC client")?;
    let started = Instant::now();
    let info = loop {
        node.check_alive()?;
        if let Ok(info) = client.node_info().await {
            break info;
        }
        if started.elapsed() > SETUP_LIMIT {
            return Err(LoadError::Timeout(SETUP_LIMIT, "the node's RPC".into()));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let domain = info.domain();
    println!(
        "  anvil {l1_url}, rollup {}, node pid {} at {url} (log {}) in {:.1?}",
        deployment.rollup,
        node.pid(),
        node.log.display(),
        t.elapsed()
    );

    // 2. Funded senders with registered L2 keys.
    let t = Instant::now();
    let mut senders = make_senders(args.senders)?;
    fund(&l1_url, deployment.rollup, &senders).await?;
    wait_for_accounts(&client, &mut node, &mut senders).await?;
    register_keys(&client, &mut node, &senders, &domain).await?;
    println!(
        "  {} senders deposited and registered their L2 keys in {:.1?}",
        senders.len(),
        t.elapsed()
    );

    // 3. Every transfer signed before the clock starts, as many as the node can take: a
    //    short calibration run measures that first, unless disabled.
    let fee: u128 = client
        .get_fee_quote(FeeKind::Transfer, 0)
        .await
        .context("the transfer fee quote")?
        .fee
        .to();
    let n = senders.len();
    let mut next_nonce = vec![1u32; n];
    let mut target = args.rate as f64;
    if args.calibrate > 0 {
        let per_sender = CALIBRATION_OPS.div_ceil(n).max(2);
        let ops = presign(&senders, &next_nonce, per_sender, fee, &domain);
        let cal = drive(
            args,
            connections,
            &url,
            ops,
            &client,
            Duration::from_secs(args.calibrate),
            false,
        )
        .await?;
        if !cal.errors.is_empty() {
            return Err(StepFailed::new(
                "the calibration run",
                format!("errors: {:?}", cal.errors),
            )
            .into());
        }
        for a in &cal.acks {
            next_nonce[a.sender as usize] += 1;
        }
        let measured = cal.acks.len() as f64 / cal.wall.as_secs_f64();
        target = target.min(CALIBRATION_MARGIN * measured);
        println!(
            "  calibration: {} transfers in {:.1?} = {measured:.0} tx/s; pre-signing for \
             {target:.0} tx/s (min of --rate and {CALIBRATION_MARGIN} × that)",
            cal.acks.len(),
            cal.wall
        );
    }
    let wanted = (target * args.duration as f64 * HEADROOM / n as f64).ceil() as usize;
    let per_sender = wanted.clamp(1, MAX_PRESIGNED / n);
    let t = Instant::now();
    let ops = presign(&senders, &next_nonce, per_sender, fee, &domain);
    let signing = t.elapsed();
    let total = per_sender * n;
    println!(
        "  pre-signed {total} transfers ({per_sender} per sender{}) in {:.1?}: {:.0} signatures/s \
         on {} threads (not part of the timed phase)",
        if per_sender < wanted {
            format!(", capped from {wanted}")
        } else {
            String::new()
        },
        signing,
        total as f64 / signing.as_secs_f64(),
        rayon::current_num_threads()
    );

    // 4. The timed phase.
    let before = client.status().await.context("causeway_status")?;
    let node_cpu_before = ProcCpu::read(node.pid());
    let self_cpu_before = cpu_time("/proc/self/stat");
    let result = drive(
        args,
        connections,
        &url,
        ops,
        &client,
        Duration::from_secs(args.duration),
        true,
    )
    .await?;
    let node_cpu_after = ProcCpu::read(node.pid());
    let self_cpu_after = cpu_time("/proc/self/stat");
    let phases_after = client.status().await.context("causeway_status")?.sequencer;
    node.check_alive()?;
    report_run(args, &result);
    report_cpu(
        &result,
        node_cpu_before.zip(node_cpu_after),
        self_cpu_before.zip(self_cpu_after),
    );
    report_phases(&result, &before.sequencer, &phases_after);
    // What each sender's nonce must be if nothing acknowledged was lost.
    for a in &result.acks {
        next_nonce[a.sender as usize] += 1;
    }

    // 5. After the load: the chain's progress and nothing lost.
    let lost = report_after(
        args,
        &client,
        &mut node,
        &senders
            .iter()
            .map(Sender::address)
            .zip(next_nonce)
            .collect::<Vec<_>>(),
        &result,
        &data_dir,
        before,
    )
    .await?;
    if let Some(cpu) = ProcCpu::read(node.pid()) {
        println!(
            "node process: {:.1} s CPU since start, peak RSS {}",
            cpu.total.as_secs_f64(),
            crate::proc_status::peak_rss_kb(crate::proc_status::Process::Pid(node.pid()))
                .map_or("unknown".into(), |kb| format!("{} MB", kb / 1024))
        );
    }
    node.stop();
    drop(anvil);
    if lost > 0 {
        return Err(LoadError::Lost(lost));
    }
    if temporary {
        let _ = std::fs::remove_dir_all(&data_dir);
    }
    Ok(())
}

/// A port nobody listens on now. The node is a separate process that binds it itself, and
/// it cannot report a port 0 pick back to this one, so the choice is made here; the short
/// race with other processes is acceptable for a benchmark.
fn free_port() -> std::io::Result<SocketAddr> {
    TcpListener::bind("127.0.0.1:0")?.local_addr()
}

/// `causeway node --config <file>` as a child process, with its output in a log file.
struct NodeProcess {
    child: Child,
    log: PathBuf,
}

impl NodeProcess {
    fn spawn(config: &Path, log: &Path) -> Result<Self, LoadError> {
        let exe = std::env::current_exe().context("locating the causeway binary")?;
        let out = std::fs::File::create(log).context("creating the node log")?;
        let err = out.try_clone().context("creating the node log")?;
        let child = Command::new(exe)
            .arg("node")
            .arg("--config")
            .arg(config)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .context("starting the node process")?;
        Ok(Self {
            child,
            log: log.to_path_buf(),
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// An error if the node has exited: every later step would only time out.
    fn check_alive(&mut self) -> Result<(), LoadError> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(LoadError::NodeExited {
                status: status.to_string(),
                log: self.log.clone(),
            }),
            Err(e) => Err(LoadError::NodeExited {
                status: e.to_string(),
                log: self.log.clone(),
            }),
        }
    }

    /// SIGTERM, as Ctrl-C would (the node seals its open block and stops), then SIGKILL if it
    /// is still there after 15 s.
    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Drop kills it.
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One sender: its L1 key, L2 key and account.
struct Sender {
    l1: PrivateKeySigner,
    l2: PrivateKey,
    l2_public: PublicKey,
    id: AccountId,
}

impl Sender {
    fn address(&self) -> Address {
        self.l1.address()
    }
}

/// Deterministic L1 keys (keccak of the index), so that runs are repeatable; the L2 key is
/// derived from the Ethereum signature as a wallet derives it.
fn make_senders(n: usize) -> Result<Vec<Sender>, LoadError> {
    (0..n as u32)
        .into_par_iter()
        .map(|i| {
            let seed =
                keccak256([b"causeway bench load sender ".as_slice(), &i.to_be_bytes()].concat());
            let l1 = PrivateKeySigner::from_bytes(&seed).context("a sender's L1 key")?;
            let sig = l1
                .sign_message_sync(L2_KEY_MESSAGE.as_bytes())
                .context("signing the L2 key message")?;
            let l2 = derive_from_eth_signature(&sig.as_bytes());
            let l2_public = l2.public_key();
            Ok(Sender {
                l1,
                l2,
                l2_public,
                // Known once the deposit reaches L2.
                id: AccountId::new(0).expect("0 is in range"),
            })
        })
        .collect()
}

/// Gives every sender ETH on L1 and deposits it to L2. All deposits are sent before any
/// receipt is awaited: anvil mines them together in the next block or two.
async fn fund(l1_url: &str, rollup: Address, senders: &[Sender]) -> Result<(), LoadError> {
    let url: alloy::transports::http::reqwest::Url = l1_url.parse().context("anvil's URL")?;
    let plain = ProviderBuilder::new().connect_http(url.clone());
    let mut wallet = EthereumWallet::new(senders[0].l1.clone());
    for s in senders {
        let _: serde_json::Value = plain
            .raw_request(
                "anvil_setBalance".into(),
                (s.address(), U256::from(DEPOSIT + ETHER)),
            )
            .await
            .context("anvil_setBalance")?;
        wallet.register_signer(s.l1.clone());
    }
    let l1 = ProviderBuilder::new().wallet(wallet).connect_http(url);
    let contract = ZkRollup::new(rollup, &l1);
    let mut pending = Vec::with_capacity(senders.len());
    for s in senders {
        pending.push(
            contract
                .depositETH(s.address())
                .value(U256::from(DEPOSIT))
                .from(s.address())
                .send()
                .await
                .context("sending a deposit")?,
        );
    }
    for p in pending {
        let receipt = p.get_receipt().await.context("a deposit's receipt")?;
        if !receipt.status() {
            return Err(StepFailed::new("a sender's deposit", "reverted").into());
        }
    }
    Ok(())
}

/// Waits until every sender's deposit has reached L2, and learns its account id.
async fn wait_for_accounts(
    client: &Client,
    node: &mut NodeProcess,
    senders: &mut [Sender],
) -> Result<(), LoadError> {
    let start = Instant::now();
    let mut missing: Vec<usize> = (0..senders.len()).collect();
    while !missing.is_empty() {
        node.check_alive()?;
        if start.elapsed() > SETUP_LIMIT {
            return Err(LoadError::Timeout(
                SETUP_LIMIT,
                format!("{} senders' deposits on L2", missing.len()),
            ));
        }
        let mut still = Vec::new();
        for i in missing {
            match client
                .get_account(senders[i].address())
                .await
                .context("causeway_getAccount")?
            {
                Some(account) => {
                    senders[i].id = AccountId::new(account.id).context("an account id")?;
                }
                None => still.push(i),
            }
        }
        missing = still;
        if !missing.is_empty() {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    Ok(())
}

/// Registers every sender's L2 key (ChangePubKey, nonce 0, authorized by its Ethereum
/// signature) and waits until they are all sealed, so that the timed phase starts on
/// settled accounts.
async fn register_keys(
    client: &Client,
    node: &mut NodeProcess,
    senders: &[Sender],
    domain: &Domain,
) -> Result<(), LoadError> {
    let fee: u128 = client
        .get_fee_quote(FeeKind::ChangePubKey, 0)
        .await
        .context("the ChangePubKey fee quote")?
        .fee
        .to();
    let mut requests = FuturesUnordered::new();
    for s in senders {
        let mut cpk = ChangePubKey {
            account: s.id,
            new_pubkey: s.l2_public.to_packed(),
            fee_token: TokenId::ETH,
            fee,
            nonce: 0,
            auth: ChangePubKeyAuth::Onchain,
        };
        let digest = eth_signed_message_hash(&change_pubkey_eth_message(domain, &cpk));
        cpk.auth = ChangePubKeyAuth::EthSignature(
            s.l1.sign_hash_sync(&digest)
                .context("signing a ChangePubKey")?
                .as_bytes(),
        );
        let request = OpRequest::from_op(&Op::ChangePubKey(cpk)).expect("an L2 op");
        requests.push(async move { client.send_op(&request).await });
    }
    let mut hashes = Vec::with_capacity(senders.len());
    while let Some(answer) = requests.next().await {
        hashes.push(answer.context("a ChangePubKey")?);
    }
    drop(requests);
    let start = Instant::now();
    for hash in hashes {
        loop {
            let status = client
                .get_op_status(hash)
                .await
                .context("causeway_getOpStatus")?;
            if status.is_some_and(|s| s.stage >= OpStage::Included) {
                break;
            }
            node.check_alive()?;
            if start.elapsed() > SETUP_LIMIT {
                return Err(LoadError::Timeout(
                    SETUP_LIMIT,
                    "the ChangePubKeys sealed".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

fn unsigned() -> TxSignature {
    TxSignature {
        pubkey: PackedPoint([0; 32]),
        r8_x: [0; 32],
        r8_y: [0; 32],
        s: [0; 32],
    }
}

/// Signs `per_sender` transfers for every sender, from its nonce `first[i]` on; transfer `k`
/// of sender `s` goes to sender `s + 1 + k mod (n - 1)`, never to itself, always to an
/// existing account.
fn presign(
    senders: &[Sender],
    first: &[u32],
    per_sender: usize,
    fee: u128,
    domain: &Domain,
) -> Vec<Vec<OpRequest>> {
    let n = senders.len();
    let addresses: Vec<Address> = senders.iter().map(Sender::address).collect();
    senders
        .par_iter()
        .enumerate()
        .map(|(i, s)| {
            (0..per_sender)
                .into_par_iter()
                .map(|k| {
                    let mut t = Transfer {
                        from: s.id,
                        to: addresses[(i + 1 + k % (n - 1)) % n],
                        token: TokenId::ETH,
                        amount: AMOUNT,
                        fee,
                        nonce: first[i] + k as u32,
                        signature: unsigned(),
                    };
                    t.signature =
                        s.l2.sign(hash4(&t.signing_fields(domain)))
                            .to_tx_signature(&s.l2_public);
                    OpRequest::from_op(&Op::Transfer(t)).expect("an L2 op")
                })
                .collect()
        })
        .collect()
}

/// A JSON-RPC connection for the load.
#[derive(Clone)]
enum Conn {
    Http(Client),
    Ws(Arc<WsClient>),
}

impl Conn {
    async fn send_op(&self, op: &OpRequest) -> Result<B256, ClientError> {
        match self {
            Conn::Http(c) => c.send_op(op).await,
            // The same call as `Client::send_op`, over a WebSocket.
            Conn::Ws(ws) => Ok(ws.request("causeway_sendOp", rpc_params![op]).await?),
        }
    }
}

/// One acknowledged transfer.
struct Ack {
    sender: u32,
    nonce: u32,
    /// Since the timed phase started, when the acknowledgement arrived.
    done_ms: u32,
    latency_us: u32,
    hash: B256,
}

/// What the timed phase produced.
struct RunResult {
    wall: Duration,
    acks: Vec<Ack>,
    errors: BTreeMap<String, u64>,
    busy_retries: u64,
    /// Senders that used up their pre-signed transfers before the deadline.
    ran_dry: usize,
    /// Per second: (latest block, committed batches, mempool), from `causeway_status`.
    progress: Vec<(u64, u64, u64)>,
}

/// What one client task produced.
#[derive(Default)]
struct TaskResult {
    acks: Vec<Ack>,
    errors: BTreeMap<String, u64>,
    busy_retries: u64,
    ran_dry: usize,
}

/// The timed phase: every client task until the deadline, then drained.
async fn drive(
    args: &LoadArgs,
    connections: usize,
    url: &str,
    ops: Vec<Vec<OpRequest>>,
    client: &Client,
    duration: Duration,
    print_progress: bool,
) -> Result<RunResult, LoadError> {
    // Senders dealt round-robin to the client tasks.
    let mut shares: Vec<Vec<(u32, std::vec::IntoIter<OpRequest>)>> =
        (0..connections).map(|_| Vec::new()).collect();
    for (i, list) in ops.into_iter().enumerate() {
        shares[i % connections].push((i as u32, list.into_iter()));
    }
    let mut conns = Vec::with_capacity(connections);
    for _ in 0..connections {
        conns.push(match args.transport {
            Transport::Http => Conn::Http(Client::new(url).context("the JSON-RPC client")?),
            // The handshake is made before the clock starts.
            Transport::Ws => Conn::Ws(Arc::new(
                WsClientBuilder::default()
                    .max_concurrent_requests(1 << 16)
                    .build(url.replacen("http://", "ws://", 1))
                    .await
                    .context("a WebSocket connection")?,
            )),
        });
    }
    let acked = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = shares
        .into_iter()
        .zip(conns)
        .map(|(share, conn)| {
            tokio::spawn(client_task(
                conn,
                share,
                args.pipeline,
                start,
                deadline,
                acked.clone(),
            ))
        })
        .collect();

    // Progress once a second (what a dashboard would show), printed every 10 s.
    let mut progress = Vec::new();
    let mut last_print = (start, 0u64);
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::from_std(start) + Duration::from_secs(1),
        Duration::from_secs(1),
    );
    while Instant::now() < deadline {
        tick.tick().await;
        if let Ok(s) = client.status().await {
            progress.push((s.latest_block, s.committed, s.mempool));
            let now = Instant::now();
            if print_progress
                && (now.duration_since(last_print.0) >= Duration::from_secs(10) || now >= deadline)
            {
                let n = acked.load(Ordering::Relaxed);
                println!(
                    "  t={:>3.0}s  acknowledged {n:>8}  ({:>6.0} tx/s)  block {}  committed {}  \
                     mempool {}",
                    now.duration_since(start).as_secs_f64(),
                    (n - last_print.1) as f64 / now.duration_since(last_print.0).as_secs_f64(),
                    s.latest_block,
                    s.committed,
                    s.mempool
                );
                last_print = (now, n);
            }
        }
    }
    let mut result = RunResult {
        wall: Duration::ZERO,
        acks: Vec::new(),
        errors: BTreeMap::new(),
        busy_retries: 0,
        ran_dry: 0,
        progress,
    };
    for task in tasks {
        let t = task.await.context("a client task")?;
        result.acks.extend(t.acks);
        for (kind, n) in t.errors {
            *result.errors.entry(kind).or_default() += n;
        }
        result.busy_retries += t.busy_retries;
        result.ran_dry += t.ran_dry;
    }
    // The run ends with its last acknowledgement: at the deadline plus the drain of what was
    // in flight, or earlier if every sender stopped.
    result.wall = result
        .acks
        .iter()
        .map(|a| Duration::from_millis(u64::from(a.done_ms)))
        .max()
        .unwrap_or_else(|| start.elapsed());
    Ok(result)
}

/// One client task: its senders' transfers in nonce order, at most `pipeline` in flight per
/// sender, each next one sent as soon as one is acknowledged, until the deadline.
async fn client_task(
    conn: Conn,
    mut share: Vec<(u32, std::vec::IntoIter<OpRequest>)>,
    pipeline: usize,
    start: Instant,
    deadline: Instant,
    acked: Arc<AtomicU64>,
) -> TaskResult {
    let mut out = TaskResult::default();
    let mut stopped = vec![false; share.len()];
    // Each future gives back its op, so that a BUSY answer can be retried.
    let send = |conn: Conn, local: usize, op: OpRequest, first_sent: Instant, delay: Duration| async move {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let answer = conn.send_op(&op).await;
        (local, op, first_sent, answer)
    };
    let mut inflight = FuturesUnordered::new();
    for (local, (_, ops)) in share.iter_mut().enumerate() {
        for op in ops.by_ref().take(pipeline) {
            inflight.push(send(
                conn.clone(),
                local,
                op,
                Instant::now(),
                Duration::ZERO,
            ));
        }
    }
    while let Some((local, op, first_sent, answer)) = inflight.next().await {
        let now = Instant::now();
        match answer {
            Ok(hash) => {
                out.acks.push(Ack {
                    sender: share[local].0,
                    nonce: match &op {
                        OpRequest::Transfer { nonce, .. } => *nonce,
                        _ => 0,
                    },
                    done_ms: now.duration_since(start).as_millis() as u32,
                    latency_us: now.duration_since(first_sent).as_micros() as u32,
                    hash,
                });
                acked.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) if e.code() == Some(BUSY) => {
                // The node asked to retry later; the latency keeps counting from the first try.
                out.busy_retries += 1;
                inflight.push(send(conn.clone(), local, op, first_sent, BUSY_BACKOFF));
                continue;
            }
            Err(e) => {
                // Later nonces of this sender could only be parked or refused.
                *out.errors.entry(error_kind(&e)).or_default() += 1;
                stopped[local] = true;
                continue;
            }
        }
        if stopped[local] || now >= deadline {
            continue;
        }
        match share[local].1.next() {
            Some(op) => inflight.push(send(
                conn.clone(),
                local,
                op,
                Instant::now(),
                Duration::ZERO,
            )),
            None => {
                stopped[local] = true;
                out.ran_dry += 1;
            }
        }
    }
    out
}

/// A short name for an error, to count errors by kind.
fn error_kind(e: &ClientError) -> String {
    match e {
        ClientError::Rpc {
            code,
            message,
            data,
            ..
        } => match data
            .as_ref()
            .and_then(|d| d.get("reason"))
            .and_then(|r| r.as_str())
        {
            Some(reason) => format!("code {code} {reason}"),
            None => format!("code {code}: {message}"),
        },
        ClientError::Transport(t) => format!("transport: {t}"),
    }
}

/// The `q`-quantile of sorted latencies, in milliseconds.
fn quantile_ms(sorted_us: &[u32], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let i = ((sorted_us.len() as f64 * q).ceil() as usize).clamp(1, sorted_us.len()) - 1;
    f64::from(sorted_us[i]) / 1000.0
}

fn report_run(args: &LoadArgs, r: &RunResult) {
    let n = r.acks.len();
    let mut lat: Vec<u32> = r.acks.iter().map(|a| a.latency_us).collect();
    lat.sort_unstable();
    println!("timed phase ({:.2} s wall):", r.wall.as_secs_f64());
    println!("  acknowledged: {n} transfers");
    if r.errors.is_empty() {
        println!("  errors: none");
    } else {
        for (kind, count) in &r.errors {
            println!("  errors: {count} × {kind}");
        }
    }
    println!("  busy answers retried: {}", r.busy_retries);
    if r.ran_dry > 0 {
        println!(
            "  {} senders ran out of pre-signed transfers before the deadline (raise --rate)",
            r.ran_dry
        );
    }
    println!(
        "  sustained: {:.0} tx/s (--rate {})",
        n as f64 / r.wall.as_secs_f64(),
        args.rate
    );
    println!(
        "  latency (send → acknowledged): p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms \
         (target p99 < 50 ms)",
        quantile_ms(&lat, 0.50),
        quantile_ms(&lat, 0.90),
        quantile_ms(&lat, 0.99),
        quantile_ms(&lat, 1.0)
    );
    // Is the rate sustained? The same figures per tenth of the run.
    let window_ms = (args.duration * 1000 / 10).max(1000);
    let mut windows: BTreeMap<u64, Vec<u32>> = BTreeMap::new();
    for a in &r.acks {
        windows
            .entry(u64::from(a.done_ms) / window_ms)
            .or_default()
            .push(a.latency_us);
    }
    println!("  per {} s window: tx/s, p99 ms", window_ms / 1000);
    let mut line = String::from("   ");
    for (w, mut l) in windows {
        l.sort_unstable();
        line += &format!(
            " [{}s {:.0}, {:.1}]",
            w * window_ms / 1000,
            l.len() as f64 * 1000.0 / window_ms as f64,
            quantile_ms(&l, 0.99)
        );
    }
    println!("{line}");
    if let (Some(first), Some(last)) = (r.progress.first(), r.progress.last()) {
        let max_mempool = r.progress.iter().map(|p| p.2).max().unwrap_or(0);
        println!(
            "  during the run: blocks {} → {}, committed {} → {}, mempool at most {max_mempool}",
            first.0, last.0, first.1, last.1
        );
    }
}

/// CPU time of a process and of each of its threads.
struct ProcCpu {
    total: Duration,
    threads: BTreeMap<u32, ThreadCpu>,
}

/// One thread's name and counters (`stat` and `schedstat`).
struct ThreadCpu {
    name: String,
    cpu: Duration,
    /// Time on a CPU, and time runnable but waiting for one (another process had it).
    sched: Option<(Duration, Duration)>,
}

impl ProcCpu {
    fn read(pid: u32) -> Option<Self> {
        let total = cpu_time(format!("/proc/{pid}/stat"))?;
        let mut threads = BTreeMap::new();
        for entry in std::fs::read_dir(format!("/proc/{pid}/task"))
            .ok()?
            .flatten()
        {
            let stat = entry.path().join("stat");
            let (Some(tid), Some(name), Some(cpu)) = (
                entry.file_name().to_str().and_then(|t| t.parse().ok()),
                thread_name(&stat),
                cpu_time(&stat),
            ) else {
                continue;
            };
            let sched = std::fs::read_to_string(entry.path().join("schedstat"))
                .ok()
                .and_then(|t| {
                    let mut f = t.split_whitespace().map(|v| v.parse::<u64>().ok());
                    Some((
                        Duration::from_nanos(f.next()??),
                        Duration::from_nanos(f.next()??),
                    ))
                });
            threads.insert(tid, ThreadCpu { name, cpu, sched });
        }
        Some(Self { total, threads })
    }
}

/// utime + stime of a `/proc/.../stat` file. Linux reports them in USER_HZ, 100 per second
/// on every architecture it runs on.
fn cpu_time(stat: impl AsRef<Path>) -> Option<Duration> {
    let text = std::fs::read_to_string(stat).ok()?;
    // The name (field 2) is in parentheses and may hold spaces: fields restart after it.
    let rest: Vec<&str> = text.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: u64 = rest.get(11)?.parse().ok()?;
    let stime: u64 = rest.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

fn thread_name(stat: &Path) -> Option<String> {
    let text = std::fs::read_to_string(stat).ok()?;
    let name = &text[text.find('(')? + 1..text.rfind(')')?];
    // Numbered threads of one pool (`prover-0`, ...) count together.
    Some(
        name.trim_end_matches(|c: char| c.is_ascii_digit())
            .to_owned(),
    )
}

fn report_cpu(
    r: &RunResult,
    node: Option<(ProcCpu, ProcCpu)>,
    client: Option<(Duration, Duration)>,
) {
    let wall = r.wall.as_secs_f64();
    if let Some((before, after)) = node {
        let used = after.total.saturating_sub(before.total).as_secs_f64();
        println!(
            "  node CPU during the run: {used:.1} s = {:.2} cores, {:.0} µs per acknowledged \
             transfer; by thread:",
            used / wall,
            used * 1e6 / r.acks.len().max(1) as f64
        );
        // By name: total, threads that ran, and the busiest one. Unnamed threads inherit
        // their creator's name: rayon's pool (the node's signature checks) is started by the
        // sequencer thread, so its workers are also called "sequencer"; the busiest
        // "sequencer" is the sequencer itself. A pool's numbered threads (`witness-0`,
        // `witness-1`) count under the pool's name.
        let mut by_name: BTreeMap<&str, (f64, usize, f64)> = BTreeMap::new();
        let mut busiest: Option<(f64, u32)> = None;
        for (tid, t) in &after.threads {
            let was = before.threads.get(tid).map_or(Duration::ZERO, |b| b.cpu);
            let used = t.cpu.saturating_sub(was).as_secs_f64();
            if used > 0.0 {
                let pool = t
                    .name
                    .trim_end_matches(|c: char| c.is_ascii_digit())
                    .strip_suffix('-')
                    .unwrap_or(&t.name);
                let e = by_name.entry(pool).or_default();
                e.0 += used;
                e.1 += 1;
                e.2 = e.2.max(used);
                if busiest.is_none_or(|(b, _)| used > b) {
                    busiest = Some((used, *tid));
                }
            }
        }
        let mut by_name: Vec<_> = by_name.into_iter().collect();
        by_name.sort_by(|a, b| b.1.0.total_cmp(&a.1.0));
        let mut line = String::from("   ");
        for (name, (t, count, busiest)) in by_name {
            line += &format!(
                " {name}: {t:.1} s = {:.2} cores in {count} threads (busiest {:.2} cores);",
                t / wall,
                busiest / wall
            );
        }
        println!("{line}");
        // Where the busiest thread's wall time went: running, waiting for a CPU (the
        // machine is shared), or blocked (disk syncs, channels, the rayon pool).
        let sched = busiest.and_then(|(_, tid)| {
            let a = after.threads.get(&tid)?;
            let (run, wait) = a.sched?;
            let (run0, wait0) = before.threads.get(&tid)?.sched?;
            Some((a.name.clone(), run - run0, wait - wait0))
        });
        if let Some((name, run, wait)) = sched {
            let (run, wait) = (run.as_secs_f64() / wall, wait.as_secs_f64() / wall);
            println!(
                "    busiest thread ({name}): running {:.0}%, waiting for a CPU {:.0}%, blocked \
                 {:.0}% of the wall time",
                run * 100.0,
                wait * 100.0,
                (1.0 - run - wait).max(0.0) * 100.0
            );
        }
    }
    if let Some((before, after)) = client {
        let used = after.saturating_sub(before).as_secs_f64();
        println!(
            "  load generator CPU (this process): {used:.1} s = {:.2} cores",
            used / wall
        );
    }
}

/// Where the sequencer thread's wall time went during the run (`causeway_status.sequencer`):
/// what acceptance waits on, and how long the thread waited for ops.
fn report_phases(r: &RunResult, before: &SequencerPhases, after: &SequencerPhases) {
    let wall = r.wall.as_secs_f64();
    let share = |us: u64| {
        let secs = us as f64 / 1e6;
        format!("{secs:.1} s ({:.0}%)", secs / wall * 100.0)
    };
    let phases = [
        (
            "execution",
            after.execute_us.saturating_sub(before.execute_us),
        ),
        (
            "journal writes",
            after.flush_us.saturating_sub(before.flush_us),
        ),
    ];
    let busy: u64 = phases.iter().map(|(_, us)| us).sum();
    let mut line = String::from("  sequencer thread's wall time:");
    for (name, us) in phases {
        line += &format!(" {name} {};", share(us));
    }
    let idle = (wall - busy as f64 / 1e6).max(0.0);
    line += &format!(
        " the rest, mostly waiting for ops, {idle:.1} s ({:.0}%)",
        idle / wall * 100.0
    );
    println!("{line}");
    println!(
        "  checking thread's wall time: signature checks {} (beside the sequencer thread)",
        share(after.verify_us.saturating_sub(before.verify_us))
    );
    println!(
        "  committing thread's wall time: sealing {}; block writes {} (beside the sequencer thread)",
        share(after.seal_us.saturating_sub(before.seal_us)),
        share(after.commit_us.saturating_sub(before.commit_us)),
    );
}

/// Waits for the mempool to drain, then reports the chain's progress and checks that every
/// acknowledged transfer is sealed and every nonce adds up. Returns how many checks failed.
async fn report_after(
    args: &LoadArgs,
    client: &Client,
    node: &mut NodeProcess,
    expected_nonces: &[(Address, u32)],
    r: &RunResult,
    data_dir: &Path,
    before: causeway_rpc::api::ChainStatus,
) -> Result<usize, LoadError> {
    let t = Instant::now();
    let limit = Duration::from_secs(60);
    loop {
        node.check_alive()?;
        let s = client.status().await.context("causeway_status")?;
        if s.mempool == 0 {
            break;
        }
        if t.elapsed() > limit {
            println!(
                "  the mempool still holds {} ops after {limit:?}",
                s.mempool
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let drained = t.elapsed();
    // A few L1 blocks for the commits of the last blocks.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let s = client.status().await.context("causeway_status")?;
    let jobs_dir = data_dir.join("prover").join("pending");
    let queued = || {
        std::fs::read_dir(&jobs_dir)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".job"))
                    .filter_map(|e| e.metadata().ok())
                    .fold((0u64, 0u64), |(n, bytes), m| (n + 1, bytes + m.len()))
            })
            .unwrap_or((0, 0))
    };
    // The witness stage writes jobs behind the sequencer: how far behind it was, and how long
    // it took to catch up.
    let behind = s.latest_block.saturating_sub(queued().0);
    let t = Instant::now();
    let catch_up_limit = Duration::from_secs(600);
    while queued().0 < s.latest_block && t.elapsed() < catch_up_limit {
        node.check_alive()?;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let caught_up = t.elapsed();
    let pending = queued();
    let blocks = s.latest_block.saturating_sub(before.latest_block);
    println!(
        "after the run (mempool drained {:.1?} after the load stopped, then 3 s):",
        drained
    );
    println!(
        "  L2 blocks sealed: {} (latest block {}), {:.1} blocks/s, {:.0} transfers per block of \
         at most {} chunks",
        blocks,
        s.latest_block,
        blocks as f64 / r.wall.as_secs_f64(),
        r.acks.len() as f64 / blocks.max(1) as f64,
        args.chunks
    );
    println!(
        "  batches committed on L1: {} ({} behind the latest block), proven {}, executed {}",
        s.committed,
        s.latest_block.saturating_sub(s.committed),
        s.proven,
        s.executed
    );
    println!(
        "  witness stage: {behind} blocks without a prover job once the mempool drained; \
         {} after {:.1?}",
        if pending.0 >= s.latest_block {
            "caught up"
        } else {
            "still behind"
        },
        caught_up
    );
    println!(
        "  prover jobs queued: {} ({} MB in {}; one per sealed block: {}), none proven: no \
         prover runs (prover.workers = 0)",
        pending.0,
        pending.1 >> 20,
        jobs_dir.display(),
        if pending.0 == s.latest_block {
            "yes"
        } else {
            "NO"
        }
    );
    println!("  mempool: {}", s.mempool);

    // Nothing lost: a random sample of statuses, every sender's last transfer, every nonce.
    let mut check: Vec<usize> = rand::seq::index::sample(
        &mut rand::thread_rng(),
        r.acks.len(),
        STATUS_SAMPLE.min(r.acks.len()),
    )
    .into_vec();
    // Each sender's highest acknowledged nonce (acks arrive out of nonce order when
    // pipelined).
    let mut last: BTreeMap<u32, (u32, usize)> = BTreeMap::new();
    for (i, a) in r.acks.iter().enumerate() {
        let best = last.entry(a.sender).or_insert((a.nonce, i));
        if a.nonce >= best.0 {
            *best = (a.nonce, i);
        }
    }
    check.extend(last.values().map(|(_, i)| *i));
    check.sort_unstable();
    check.dedup();
    let mut by_stage: BTreeMap<String, usize> = BTreeMap::new();
    let mut failed = 0;
    for i in &check {
        let status = client
            .get_op_status(r.acks[*i].hash)
            .await
            .context("causeway_getOpStatus")?;
        let stage = match status {
            Some(st) => {
                if st.stage < OpStage::Included {
                    failed += 1;
                }
                format!("{:?}", st.stage).to_lowercase()
            }
            None => {
                failed += 1;
                "unknown to the node".into()
            }
        };
        *by_stage.entry(stage).or_default() += 1;
    }
    println!(
        "  statuses of {} acknowledged transfers ({} random + each sender's last): {}",
        check.len(),
        STATUS_SAMPLE.min(r.acks.len()),
        by_stage
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut wrong_nonces = 0;
    for (address, nonce) in expected_nonces {
        let account = client
            .get_account(*address)
            .await
            .context("causeway_getAccount")?;
        if account.map(|a| a.nonce) != Some(*nonce) {
            wrong_nonces += 1;
            failed += 1;
        }
    }
    println!(
        "  sender nonces = 1 + acknowledged transfers (calibration included): {}/{} senders",
        expected_nonces.len() - wrong_nonces,
        expected_nonces.len()
    );
    println!("  nothing lost: {}", if failed == 0 { "yes" } else { "NO" });
    Ok(failed)
}
