//! Proving one batch, and the worker loop that proves the queue's jobs one after another.
//!
//! A job ends in one of two ways: a proof that verified natively (stored in `proofs/`), or a
//! [`Rejection`] (stored in `failed/`) when the batch itself cannot be proven: malformed
//! bytes, a shape the circuit refuses, or a batch that breaks one of the circuit's rules. A
//! failure of the prover's own (a missing key, a full disk) is a [`ProverError`] instead: the
//! job goes back to `pending/` for a worker that can prove it, and the worker stops.
//!
//! A worker proves one job at a time; the proof itself uses every core (arkworks on rayon),
//! so more workers per machine only add memory.

use crate::ProverError;
use crate::codec::{ProofRecord, decode_job};
use crate::keys::{KeyStore, ShapeProver};
use crate::queue::{Claim, JobQueue, valid_worker_name};
use causeway_circuit::batch::{BatchInput, check};
use causeway_circuit::groth16::{self, Proof, ProveTimings, VerifyingKey};
use causeway_primitives::Fr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Why a batch cannot be proven: the batch's fault, not the prover's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Rejection(pub String);

/// Proves `input` with `prover`, reporting where the time went.
///
/// # Errors
/// [`Rejection`] when the batch cannot be synthesized. A batch that synthesizes but breaks a
/// rule of the circuit gives a proof that does not verify: [`verify_batch`] rejects it, with
/// the rule.
pub fn prove_batch(
    prover: &ShapeProver,
    input: &BatchInput,
) -> Result<(Proof, ProveTimings), Rejection> {
    let mut rng = rand::rngs::OsRng;
    let proved = catch_unwind(AssertUnwindSafe(|| {
        groth16::prove_timed(&prover.pk, &prover.r1cs, input, &mut rng)
    }));
    match proved {
        Ok(Ok(proved)) => Ok(proved),
        Ok(Err(e)) => Err(Rejection(format!("cannot prove the batch: {e}"))),
        Err(_) => Err(Rejection(format!(
            "cannot prove the batch: {}",
            diagnose(input)
        ))),
    }
}

/// Checks `proof` of `input` against `vk`.
///
/// # Errors
/// [`Rejection`] when it does not verify, with the rule the batch breaks if it breaks one.
pub fn verify_batch(vk: &VerifyingKey, input: &BatchInput, proof: &Proof) -> Result<(), Rejection> {
    match groth16::verify(vk, input.commitment(), proof) {
        Ok(true) => Ok(()),
        Ok(false) => Err(Rejection(format!(
            "the proof does not verify: {}",
            diagnose(input)
        ))),
        Err(e) => Err(Rejection(format!("the proof does not verify: {e}"))),
    }
}

/// The first rule `input` breaks, in words.
pub fn diagnose(input: &BatchInput) -> String {
    match check(input) {
        Ok(Some(v)) => match v.slot {
            Some(slot) => format!("the batch breaks the rule `{}` in slot {slot}", v.rule),
            None => format!("the batch breaks the rule `{}`", v.rule),
        },
        Ok(None) => "the batch satisfies the circuit (a key of the wrong circuit?)".to_owned(),
        Err(e) => format!("the batch does not fit its circuit: {e}"),
    }
}

/// What one [`Worker::run_once`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// No pending job.
    Idle,
    Proven {
        id: u64,
        commitment: Fr,
        took: Duration,
    },
    Failed {
        id: u64,
        reason: String,
    },
}

/// Totals of a [`Worker::run`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunSummary {
    pub proven: u64,
    pub failed: u64,
}

/// A prover taking jobs from a queue.
#[derive(Debug)]
pub struct Worker {
    name: String,
    queue: JobQueue,
    keys: Arc<KeyStore>,
    heartbeat: Duration,
    stale_after: Option<Duration>,
}

impl Worker {
    /// A worker called `name` (see [`valid_worker_name`]; it must be unique among the
    /// queue's workers, e.g. host and pid).
    pub fn new(
        name: impl Into<String>,
        queue: JobQueue,
        keys: Arc<KeyStore>,
    ) -> Result<Self, ProverError> {
        let name = name.into();
        if !valid_worker_name(&name) {
            return Err(ProverError::WorkerName(name));
        }
        Ok(Self {
            name,
            queue,
            keys,
            heartbeat: Duration::from_secs(10),
            stale_after: None,
        })
    }

    /// How often the claim of the job being proven is touched (default 10 s).
    pub fn with_heartbeat(mut self, every: Duration) -> Self {
        self.heartbeat = every;
        self
    }

    /// Makes [`Worker::run`] requeue other workers' claims untouched for `after` whenever
    /// it finds the queue empty. `after` must be well above every worker's heartbeat.
    pub fn with_requeue(mut self, after: Duration) -> Self {
        self.stale_after = Some(after);
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Claims and proves one job, if one is pending.
    ///
    /// # Errors
    /// [`ProverError`] for failures of the prover (keys, disk); the claimed job is released
    /// back to `pending/` first.
    pub fn run_once(&self) -> Result<Outcome, ProverError> {
        let Some(claim) = self.queue.claim(&self.name)? else {
            return Ok(Outcome::Idle);
        };
        let id = claim.id;
        tracing::info!(id, worker = %self.name, "claimed");
        let bytes = match claim.read() {
            Ok(b) => b,
            Err(e) => return self.release_after(claim, e),
        };
        let job = match decode_job(&bytes) {
            Ok(job) if job.id == id => job,
            Ok(job) => {
                let reason = format!("the file of job {id} holds job {}", job.id);
                return self.fail(claim, reason);
            }
            Err(e) => return self.fail(claim, format!("malformed job: {e}")),
        };
        let shape = job.input.shape;
        let prover = match self.keys.prover(shape) {
            Ok(prover) => prover,
            Err(e) => return self.release_after(claim, e),
        };

        let started = Instant::now();
        let proved = self.with_heartbeat_on(&claim, || {
            let (proof, timings) = prove_batch(&prover, &job.input)?;
            verify_batch(&prover.pk.vk, &job.input, &proof)?;
            Ok::<_, Rejection>((proof, timings))
        });
        let took = started.elapsed();
        let (proof, timings) = match proved {
            Ok(p) => p,
            Err(Rejection(reason)) => return self.fail(claim, reason),
        };
        let commitment = job.input.commitment();
        let record = ProofRecord {
            id,
            shape,
            commitment,
            proof,
        };
        let path = self.queue.complete(claim, &record)?;
        tracing::info!(
            id,
            %shape,
            ?took,
            witness = ?timings.witness,
            fft = ?timings.fft,
            msm = ?timings.msm,
            path = %path.display(),
            "proven"
        );
        Ok(Outcome::Proven {
            id,
            commitment,
            took,
        })
    }

    /// Proves jobs until `stop` is set (checked between jobs and every `idle_wait` while the
    /// queue is empty). A proof in progress is finished first.
    ///
    /// # Errors
    /// The first [`ProverError`] (see [`Worker::run_once`]).
    pub fn run(&self, stop: &AtomicBool, idle_wait: Duration) -> Result<RunSummary, ProverError> {
        let mut summary = RunSummary::default();
        while !stop.load(Ordering::Relaxed) {
            match self.run_once()? {
                Outcome::Proven { .. } => summary.proven += 1,
                Outcome::Failed { .. } => summary.failed += 1,
                Outcome::Idle => {
                    if let Some(after) = self.stale_after {
                        self.queue.requeue_stale(after)?;
                    }
                    thread::sleep(idle_wait);
                }
            }
        }
        Ok(summary)
    }

    fn fail(&self, claim: Claim, reason: String) -> Result<Outcome, ProverError> {
        let id = claim.id;
        tracing::warn!(id, %reason, "job failed");
        self.queue.fail(claim, &reason)?;
        Ok(Outcome::Failed { id, reason })
    }

    fn release_after(&self, claim: Claim, error: ProverError) -> Result<Outcome, ProverError> {
        tracing::error!(id = claim.id, %error, "cannot prove; job released");
        self.queue.release(claim)?;
        Err(error)
    }

    /// Runs `work` while touching `claim` every heartbeat.
    fn with_heartbeat_on<T>(&self, claim: &Claim, work: impl FnOnce() -> T) -> T {
        let done = AtomicBool::new(false);
        thread::scope(|s| {
            let beat = s.spawn(|| {
                while !done.load(Ordering::Relaxed) {
                    thread::park_timeout(self.heartbeat);
                    if done.load(Ordering::Relaxed) {
                        break;
                    }
                    if let Err(e) = claim.heartbeat() {
                        tracing::warn!(id = claim.id, error = %e, "heartbeat failed (requeued?)");
                    }
                }
            });
            let out = work();
            done.store(true, Ordering::Relaxed);
            beat.thread().unpark();
            out
        })
    }
}
