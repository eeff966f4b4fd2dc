//! Causeway's prover service: everything around a batch proof that touches a disk.
//!
//! The circuit crate proves a [`BatchInput`](causeway_circuit::batch::BatchInput) in memory;
//! this crate (unlike the pure core, it does IO) makes that a service:
//! - [`keys`]: a directory of proving and verifying keys per batch shape, with development
//!   keys made on demand and production keys validated ([`KeyStore`]);
//! - [`codec`]: the versioned byte forms of a job ([`Job`]) and of its proof
//!   ([`ProofRecord`]);
//! - [`queue`]: a job queue in a directory that any number of worker processes, on one
//!   machine or several sharing a filesystem, take jobs from without a coordinator
//!   ([`JobQueue`]);
//! - [`worker`]: proving one batch, and the loop that proves a queue's jobs ([`Worker`]);
//! - [`durable`]: the atomic, fsynced file writes all of the above use.
//!
//! Errors: [`ProverError`] is the prover's own failure (disk, keys), after which a job is
//! put back for another attempt; a batch that cannot be proven is a [`Rejection`], and bytes
//! that are not a job a [`DecodeError`].

pub mod codec;
pub mod durable;
pub mod keys;
pub mod queue;
pub mod worker;

pub use codec::{DecodeError, Job, ProofRecord, decode_job, encode_job};
pub use keys::{KeyMode, KeyPaths, KeySource, KeyStore, ShapeProver};
pub use queue::{Claim, JobQueue};
pub use worker::{Outcome, Rejection, RunSummary, Worker};

use causeway_circuit::batch::BatchShape;
use causeway_circuit::groth16::ProofError;
use std::io;
use std::path::{Path, PathBuf};

/// A failure of the prover itself, as opposed to a batch that cannot be proven.
#[derive(Debug, thiserror::Error)]
pub enum ProverError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "no proving key for shape {shape} at {}: place the ceremony's key there, or use \
         development mode (NOT FOR PRODUCTION)",
        path.display()
    )]
    KeyMissing { shape: BatchShape, path: PathBuf },
    #[error(
        "{} is a development key (public seed {seed}) and this prover runs in production mode",
        path.display()
    )]
    DevelopmentKey { path: PathBuf, seed: u64 },
    #[error("{} is not the verifying key of {}", verifying.display(), proving.display())]
    KeyMismatch {
        proving: PathBuf,
        verifying: PathBuf,
    },
    #[error("{} is not a valid key: {reason}", path.display())]
    KeyFile { path: PathBuf, reason: String },
    #[error("development setup failed: {0}")]
    Setup(ProofError),
    #[error("the circuit of shape {shape}: {source} (key at {})", path.display())]
    Circuit {
        shape: BatchShape,
        path: PathBuf,
        source: ProofError,
    },
    #[error("{}: {source}", path.display())]
    Decode { path: PathBuf, source: DecodeError },
    #[error("job {0} is already pending")]
    JobExists(u64),
    #[error("worker name {0:?} must be 1 to 64 ASCII letters, digits, '-' or '_'")]
    WorkerName(String),
}

impl ProverError {
    pub(crate) fn io(path: &Path, source: io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            source,
        }
    }
}
