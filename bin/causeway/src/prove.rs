//! `causeway setup`, `causeway prove` and `causeway prover worker`: batch proofs from the
//! command line, over `causeway-prover`'s key directory, job files and job queue.
//!
//! Owns the commands' arguments, their progress display and their output; the work is the
//! prover crate's. Invariants:
//! - Development keys (from a public seed, forgeable by anyone) are made or used only when
//!   asked: by `setup`, or with `--dev`. Every command that does so says NOT FOR PRODUCTION.
//! - A proof is written only after it verified natively against the proving key's own
//!   verifying key.
//! - Exit codes as in `main`: a job file that does not decode and a shape the circuit cannot
//!   have are bad input (2); a batch that cannot be proven, a missing key and disk failures
//!   are 1.

use causeway_circuit::batch::BatchShape;
use causeway_circuit::groth16::KeyOrigin;
use causeway_primitives::{Fr, fr_to_be_bytes};
use causeway_prover::worker::{prove_batch, verify_batch};
use causeway_prover::{
    DecodeError, JobQueue, KeyMode, KeySource, KeyStore, ProofRecord, ProverError, Rejection,
    Worker, decode_job, durable,
};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The public seed of development setups unless `--seed` says otherwise.
pub const DEFAULT_DEV_SEED: u64 = 0;

#[derive(clap::Args, Debug)]
pub struct SetupArgs {
    /// Pubdata chunks (op slots) of the batch circuit.
    #[arg(long)]
    chunks: usize,
    /// Fee slots (tokens a batch may collect fees in).
    #[arg(long)]
    fee_slots: usize,
    /// Key directory (created if missing).
    #[arg(long, value_name = "DIR")]
    keys: PathBuf,
    /// Public seed of the setup's randomness.
    #[arg(long, default_value_t = DEFAULT_DEV_SEED)]
    seed: u64,
}

#[derive(clap::Args, Debug)]
pub struct ProveArgs {
    /// A job file (as a producer writes into a queue's `pending/`).
    #[arg(long, value_name = "FILE")]
    job: PathBuf,
    /// Key directory.
    #[arg(long, value_name = "DIR")]
    keys: PathBuf,
    /// Where to write the proof (default: the job file with extension `.proof`).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Development mode: use development keys, and make them if missing. NOT FOR PRODUCTION.
    #[arg(long)]
    dev: bool,
    /// Public seed of a development setup made with `--dev`.
    #[arg(long, default_value_t = DEFAULT_DEV_SEED, requires = "dev")]
    seed: u64,
}

#[derive(clap::Subcommand, Debug)]
pub enum ProverCommand {
    /// Proves jobs from a queue directory until Ctrl-C (which lets the current proof finish;
    /// a second Ctrl-C exits at once, and the job is requeued once its claim goes stale).
    Worker(WorkerArgs),
}

#[derive(clap::Args, Debug)]
pub struct WorkerArgs {
    /// Queue directory (created if missing).
    #[arg(long, value_name = "DIR")]
    queue: PathBuf,
    /// Key directory.
    #[arg(long, value_name = "DIR")]
    keys: PathBuf,
    /// Development mode: use development keys, and make them if missing. NOT FOR PRODUCTION.
    #[arg(long)]
    dev: bool,
    /// Public seed of a development setup made with `--dev`.
    #[arg(long, default_value_t = DEFAULT_DEV_SEED, requires = "dev")]
    seed: u64,
    /// This worker's name in claim files (default: host name and process id).
    #[arg(long)]
    name: Option<String>,
    /// Seconds between touches of the claim of the job being proven.
    #[arg(long, default_value_t = 10)]
    heartbeat_secs: u64,
    /// Requeue other workers' claims untouched for this many seconds when idle (0: never).
    #[arg(long, default_value_t = 120)]
    requeue_after_secs: u64,
    /// Milliseconds to wait before looking again at an empty queue.
    #[arg(long, default_value_t = 1000)]
    poll_ms: u64,
}

/// Every way the proving commands fail.
#[derive(Debug, thiserror::Error)]
pub enum ProveError {
    #[error("{}: not a job: {source}", path.display())]
    Job { path: PathBuf, source: DecodeError },
    #[error("invalid shape: {0}")]
    Shape(&'static str),
    #[error("invalid argument: {0}")]
    Args(String),
    #[error("the batch cannot be proven: {0}")]
    Rejected(#[from] Rejection),
    #[error(transparent)]
    Prover(#[from] ProverError),
    #[error("cannot handle Ctrl-C: {0}")]
    Signal(#[from] ctrlc::Error),
}

impl ProveError {
    pub fn exit_code(&self) -> u8 {
        match self {
            ProveError::Job { .. } | ProveError::Shape(_) | ProveError::Args(_) => 2,
            ProveError::Rejected(_) | ProveError::Prover(_) | ProveError::Signal(_) => 1,
        }
    }
}

/// The shape `--chunks`/`--fee-slots` ask for, if a circuit can have it.
pub fn shape(chunks: usize, fee_slots: usize) -> Result<BatchShape, ProveError> {
    if chunks == 0 || fee_slots == 0 {
        return Err(ProveError::Shape(
            "--chunks and --fee-slots must be at least 1",
        ));
    }
    if u32::try_from(chunks).is_err() || u32::try_from(fee_slots).is_err() {
        return Err(ProveError::Shape(
            "--chunks and --fee-slots must be below 2^32",
        ));
    }
    Ok(BatchShape::new(chunks, fee_slots))
}

pub fn fr_hex(f: &Fr) -> String {
    format!("0x{}", hex::encode(fr_to_be_bytes(f)))
}

pub fn origin_text(origin: KeyOrigin) -> String {
    match origin {
        KeyOrigin::Development { seed } => causeway_prover::keys::development_origin_line(seed),
        KeyOrigin::Ceremony => "ceremony".to_owned(),
    }
}

/// `causeway setup`.
pub fn setup(args: &SetupArgs) -> Result<(), ProveError> {
    let shape = shape(args.chunks, args.fee_slots)?;
    let store = KeyStore::open(&args.keys, KeyMode::Development { seed: args.seed })?;
    let paths = store.paths(shape);
    if paths.proving.exists() {
        // Not loaded: a large key takes a while to read, and setup has nothing to do.
        let origin = store.origin(shape)?;
        println!(
            "setup: keys for shape {shape} already present ({})",
            origin_text(origin)
        );
        println!("proving key: {}", paths.proving.display());
        println!("verifying key: {}", paths.verifying.display());
        if origin == KeyOrigin::Ceremony {
            return Ok(());
        }
    } else {
        let spinner = spinner(format!("development setup for shape {shape}"));
        let loaded = store.load(shape);
        spinner.finish_and_clear();
        let (_, source) = loaded?;
        if let KeySource::Created { seed, took } = source {
            println!("setup: shape {shape}, public seed {seed}, {took:.2?}");
        }
        println!("proving key: {}", paths.proving.display());
        println!("verifying key: {}", paths.verifying.display());
    }
    println!("origin: {}", paths.origin.display());
    println!(
        "WARNING: development setup from a public seed: anyone can forge proofs for these \
         keys. NOT FOR PRODUCTION."
    );
    Ok(())
}

/// `causeway prove`.
pub fn prove(args: &ProveArgs) -> Result<(), ProveError> {
    let bytes = std::fs::read(&args.job).map_err(|source| ProverError::Io {
        path: args.job.clone(),
        source,
    })?;
    let job = decode_job(&bytes).map_err(|source| ProveError::Job {
        path: args.job.clone(),
        source,
    })?;
    let shape = job.input.shape;
    let store = KeyStore::open(&args.keys, mode(args.dev, args.seed))?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_proof_path(&args.job));

    let spinner = spinner(format!(
        "job {}: loading the proving key for {shape}",
        job.id
    ));
    let t = Instant::now();
    let (_, source) = cleared(&spinner, store.load(shape))?;
    let load = t.elapsed();
    let origin = match source {
        KeySource::Created { seed, .. } => KeyOrigin::Development { seed },
        _ => cleared(&spinner, store.origin(shape))?,
    };
    if let KeyOrigin::Development { seed } = origin {
        spinner.suspend(|| {
            eprintln!(
                "WARNING: development key (public seed {seed}): NOT FOR PRODUCTION, anyone \
                 can forge proofs for it"
            );
        });
    }

    spinner.set_message(format!(
        "job {}: building the circuit's constraints",
        job.id
    ));
    let t = Instant::now();
    let prover = cleared(&spinner, store.prover(shape))?;
    let constraints = t.elapsed();

    spinner.set_message(format!("job {}: proving", job.id));
    let proved = prove_batch(&prover, &job.input);
    let (proof, timings) = cleared(&spinner, proved)?;

    spinner.set_message(format!("job {}: verifying", job.id));
    let t = Instant::now();
    let verified = verify_batch(&prover.pk.vk, &job.input, &proof);
    let verify = t.elapsed();
    spinner.finish_and_clear();
    verified?;

    let commitment = job.input.commitment();
    let record = ProofRecord {
        id: job.id,
        shape,
        commitment,
        proof,
    };
    durable::write(&out, &record.encode()).map_err(|source| ProverError::Io {
        path: out.clone(),
        source,
    })?;
    println!("job: {} (shape {shape})", job.id);
    println!("commitment: {}", fr_hex(&commitment));
    println!("proof: {}", out.display());
    println!("load key: {load:.2?} ({})", source_text(&source, origin));
    println!(
        "constraints: {} in {constraints:.2?}",
        prover.r1cs.constraints()
    );
    println!(
        "prove: {:.2?} (witness {:.2?}, FFT {:.2?}, MSM {:.2?})",
        timings.total(),
        timings.witness,
        timings.fft,
        timings.msm
    );
    println!("verify: {verify:.2?}");
    Ok(())
}

fn source_text(source: &KeySource, origin: KeyOrigin) -> String {
    match source {
        KeySource::Created { seed, .. } => format!("made now from public seed {seed}"),
        KeySource::Disk { .. } | KeySource::Memory => format!("from disk, {}", origin_text(origin)),
    }
}

/// `causeway prover …`.
pub fn prover(command: &ProverCommand) -> Result<(), ProveError> {
    match command {
        ProverCommand::Worker(args) => worker(args),
    }
}

fn worker(args: &WorkerArgs) -> Result<(), ProveError> {
    let name = args.name.clone().unwrap_or_else(default_worker_name);
    if !causeway_prover::queue::valid_worker_name(&name) {
        return Err(ProveError::Args(format!(
            "worker name {name:?} must be 1 to 64 ASCII letters, digits, '-' or '_'"
        )));
    }
    if args.heartbeat_secs == 0 {
        return Err(ProveError::Args(
            "--heartbeat-secs must be at least 1".into(),
        ));
    }
    if args.requeue_after_secs != 0 && args.requeue_after_secs <= 2 * args.heartbeat_secs {
        return Err(ProveError::Args(
            "--requeue-after-secs must be more than twice --heartbeat-secs (or 0)".into(),
        ));
    }
    init_logs();

    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            eprintln!("second interrupt: exiting now");
            std::process::exit(130);
        }
        eprintln!("interrupt: finishing the current job (Ctrl-C again to exit now)");
    })?;

    let queue = JobQueue::open(&args.queue)?;
    let keys = Arc::new(KeyStore::open(&args.keys, mode(args.dev, args.seed))?);
    if args.dev {
        tracing::warn!(seed = args.seed, "development mode: NOT FOR PRODUCTION");
    }
    let mut worker = Worker::new(name.clone(), queue, keys)?
        .with_heartbeat(Duration::from_secs(args.heartbeat_secs));
    if args.requeue_after_secs > 0 {
        worker = worker.with_requeue(Duration::from_secs(args.requeue_after_secs));
    }
    tracing::info!(worker = %name, queue = %args.queue.display(), "worker started");
    let summary = worker.run(&stop, Duration::from_millis(args.poll_ms))?;
    tracing::info!(
        proven = summary.proven,
        failed = summary.failed,
        "worker stopped"
    );
    Ok(())
}

/// Logs of this command and the prover crate on stderr, nothing else: arkworks' gadgets are
/// `#[instrument]`ed (target `r1cs`) with their arguments, and formatting those for every
/// gadget call made a proof ten times slower. Only whitelisted targets create spans at all.
fn init_logs() {
    use tracing::level_filters::LevelFilter;
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::prelude::*;
    let targets = Targets::new()
        .with_target("causeway", LevelFilter::INFO)
        .with_target("causeway_prover", LevelFilter::INFO)
        .with_target("r1cs", LevelFilter::OFF);
    let logs = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    let _ = tracing_subscriber::registry()
        .with(logs.with_filter(targets))
        .try_init();
}

fn mode(dev: bool, seed: u64) -> KeyMode {
    if dev {
        KeyMode::Development { seed }
    } else {
        KeyMode::Production
    }
}

/// `<host>-<pid>`, the host name cut to what a worker name allows.
fn default_worker_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .unwrap_or_default();
    let host: String = host
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    let host = if host.is_empty() {
        "worker".to_owned()
    } else {
        host
    };
    format!("{host}-{}", std::process::id())
}

/// `result`, with `bar` cleared first if it is an error (so the error is not printed after
/// a stale spinner line).
fn cleared<T, E>(bar: &ProgressBar, result: Result<T, E>) -> Result<T, E> {
    if result.is_err() {
        bar.finish_and_clear();
    }
    result
}

/// A spinner on stderr (hidden when stderr is not a terminal).
pub fn spinner(message: String) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
            .expect("the template is valid"),
    );
    bar.set_message(message);
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// The path a job's proof goes to by default.
pub fn default_proof_path(job: &Path) -> PathBuf {
    job.with_extension("proof")
}
