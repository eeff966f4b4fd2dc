//! A job queue in a directory, shared by any number of worker processes, on one machine or on
//! several sharing a filesystem. The filesystem is the only coordinator: no lock files, no
//! server.
//!
//! ```text
//! <queue>/pending/<id>.job            written by the producer (atomically, never replaced)
//! <queue>/claimed/<id>.<worker>.job   a worker's claim: the pending file, renamed
//! <queue>/proofs/<id>.proof           a ProofRecord (atomically); the claim is then removed
//! <queue>/failed/<id>.txt             why the job cannot be proven; the job moves beside it
//! <queue>/failed/<id>.job
//! <queue>/produced                   the producer's own mark: the last id it submitted in order
//! ```
//!
//! Invariants and their reasons:
//! - **One claimant.** Claiming is `rename(pending/<id>.job, claimed/<id>.<worker>.job)`;
//!   `rename` is atomic on POSIX filesystems (and on NFS, where the server serializes it), so
//!   of any number of workers racing for a job exactly one succeeds and the others get
//!   `NotFound` and move on.
//! - **No partial files.** Every file another process reads is written to a temporary name and
//!   renamed into place after an fsync (`durable`). Scans only look at `*.job` names.
//! - **At least once.** A claimed job whose worker died is put back by
//!   [`JobQueue::requeue_stale`]: a working worker touches its claim every few seconds (a
//!   heartbeat), so a claim untouched for longer than the threshold is abandoned. If the
//!   threshold is shorter than a heartbeat gap (or a worker is merely frozen), a job can be
//!   proven twice; both proofs are of the same statement, and the last one written stays.
//! - **Ids are the producer's.** A job id is submitted once: [`JobQueue::submit`] refuses an id
//!   that is pending (it never replaces a file), and the producer is expected not to reuse
//!   ids of claimed or finished jobs.

use crate::codec::{Job, ProofRecord, encode_job};
use crate::{ProverError, durable};
use std::fs::{self, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

const PENDING: &str = "pending";
const CLAIMED: &str = "claimed";
const PROOFS: &str = "proofs";
const FAILED: &str = "failed";
const PRODUCED: &str = "produced";

/// A queue directory.
#[derive(Debug, Clone)]
pub struct JobQueue {
    root: PathBuf,
}

/// A job this worker holds. Dropping it does nothing: a claim ends only by
/// [`JobQueue::complete`], [`JobQueue::fail`] or [`JobQueue::release`] (or, if the worker
/// dies, by [`JobQueue::requeue_stale`]).
#[derive(Debug)]
pub struct Claim {
    pub id: u64,
    path: PathBuf,
}

impl Claim {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The claimed job's bytes.
    pub fn read(&self) -> Result<Vec<u8>, ProverError> {
        fs::read(&self.path).map_err(|e| ProverError::io(&self.path, e))
    }

    /// Marks the claim as alive now (see the module docs).
    ///
    /// # Errors
    /// `NotFound` once the claim has been requeued by someone else.
    pub fn heartbeat(&self) -> io::Result<()> {
        OpenOptions::new()
            .append(true)
            .open(&self.path)?
            .set_modified(SystemTime::now())
    }
}

/// A worker's name as it appears in claim file names: 1 to 64 ASCII letters, digits, `-`
/// or `_` (no `.`, which separates the parts of a claim's name).
pub fn valid_worker_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl JobQueue {
    /// Opens the queue at `root`, creating its directories if needed.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, ProverError> {
        let root = root.into();
        for sub in [PENDING, CLAIMED, PROOFS, FAILED] {
            let dir = root.join(sub);
            fs::create_dir_all(&dir).map_err(|e| ProverError::io(&dir, e))?;
        }
        Ok(Self { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn pending_path(&self, id: u64) -> PathBuf {
        self.root.join(PENDING).join(format!("{id}.job"))
    }

    pub fn proof_path(&self, id: u64) -> PathBuf {
        self.root.join(PROOFS).join(format!("{id}.proof"))
    }

    pub fn failure_path(&self, id: u64) -> PathBuf {
        self.root.join(FAILED).join(format!("{id}.txt"))
    }

    /// Adds `job` to the pending jobs.
    ///
    /// # Errors
    /// [`ProverError::JobExists`] when a job with its id is pending.
    pub fn submit(&self, job: &Job) -> Result<PathBuf, ProverError> {
        let path = self.pending_path(job.id);
        match durable::write_new(&path, &encode_job(job)) {
            Ok(()) => Ok(path),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                Err(ProverError::JobExists(job.id))
            }
            Err(e) => Err(ProverError::io(&path, e)),
        }
    }

    /// Whether job `id` is here in any state: pending, claimed, proven or failed. A producer
    /// resuming after a crash uses it to skip a job it submitted but had not marked yet (see
    /// [`JobQueue::set_produced`]), since ids must not be reused.
    pub fn knows(&self, id: u64) -> Result<bool, ProverError> {
        if self.pending_path(id).exists()
            || self.proof_path(id).exists()
            || self.failure_path(id).exists()
        {
            return Ok(true);
        }
        let prefix = format!("{id}.");
        Ok(self
            .entries(CLAIMED)?
            .iter()
            .any(|name| name.starts_with(&prefix)))
    }

    /// The producer's mark: the last id it submitted, every earlier one included; `None`
    /// before the first [`JobQueue::set_produced`].
    pub fn produced(&self) -> Result<Option<u64>, ProverError> {
        let path = self.root.join(PRODUCED);
        match fs::read_to_string(&path) {
            Ok(text) => text.trim().parse().map(Some).map_err(|_| {
                ProverError::io(
                    &path,
                    io::Error::new(io::ErrorKind::InvalidData, "not a job id"),
                )
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ProverError::io(&path, e)),
        }
    }

    /// Records (atomically, durably) that every job up to `id` has been submitted.
    pub fn set_produced(&self, id: u64) -> Result<(), ProverError> {
        let path = self.root.join(PRODUCED);
        durable::write(&path, id.to_string().as_bytes()).map_err(|e| ProverError::io(&path, e))
    }

    /// Removes pending jobs and proofs whose id is above `last`: a producer that writes a job
    /// before it durably records the batch (so no recorded batch is ever without its job)
    /// calls this on restart, since a batch not recorded before a crash is built again,
    /// maybe with other contents, under the same id. Returns the ids removed.
    pub fn discard_above(&self, last: u64) -> Result<Vec<u64>, ProverError> {
        let mut removed = Vec::new();
        for id in self.pending()?.into_iter().filter(|id| *id > last) {
            remove_if_present(&self.pending_path(id))?;
            removed.push(id);
        }
        for name in self.entries(PROOFS)? {
            if let Some(id) = name
                .strip_suffix(".proof")
                .and_then(|n| n.parse::<u64>().ok())
                .filter(|id| *id > last)
            {
                remove_if_present(&self.proof_path(id))?;
                removed.push(id);
            }
        }
        if !removed.is_empty() {
            durable::sync_dir(&self.root.join(PENDING))
                .map_err(|e| ProverError::io(&self.root, e))?;
            durable::sync_dir(&self.root.join(PROOFS))
                .map_err(|e| ProverError::io(&self.root, e))?;
        }
        Ok(removed)
    }

    /// Ids of the pending jobs, lowest first.
    pub fn pending(&self) -> Result<Vec<u64>, ProverError> {
        let mut ids: Vec<u64> = self
            .entries(PENDING)?
            .iter()
            .filter_map(|name| name.strip_suffix(".job")?.parse().ok())
            .collect();
        ids.sort_unstable();
        Ok(ids)
    }

    /// Claims the pending job with the lowest id that no other worker claims first.
    pub fn claim(&self, worker: &str) -> Result<Option<Claim>, ProverError> {
        if !valid_worker_name(worker) {
            return Err(ProverError::WorkerName(worker.to_owned()));
        }
        for id in self.pending()? {
            let from = self.pending_path(id);
            let to = self.root.join(CLAIMED).join(format!("{id}.{worker}.job"));
            match fs::rename(&from, &to) {
                Ok(()) => {
                    let claim = Claim { id, path: to };
                    // The rename kept the producer's mtime; the claim's age starts now.
                    claim
                        .heartbeat()
                        .map_err(|e| ProverError::io(&claim.path, e))?;
                    return Ok(Some(claim));
                }
                // Another worker was first.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(ProverError::io(&from, e)),
            }
        }
        Ok(None)
    }

    /// Stores the proof of a claimed job and ends the claim.
    pub fn complete(&self, claim: Claim, record: &ProofRecord) -> Result<PathBuf, ProverError> {
        let path = self.proof_path(claim.id);
        durable::write(&path, &record.encode()).map_err(|e| ProverError::io(&path, e))?;
        remove_if_present(&claim.path)?;
        Ok(path)
    }

    /// Records why a claimed job cannot be proven, and moves it beside the reason.
    pub fn fail(&self, claim: Claim, reason: &str) -> Result<PathBuf, ProverError> {
        let path = self.failure_path(claim.id);
        durable::write(&path, format!("{reason}\n").as_bytes())
            .map_err(|e| ProverError::io(&path, e))?;
        let job = self.root.join(FAILED).join(format!("{}.job", claim.id));
        match fs::rename(&claim.path, &job) {
            Ok(()) => durable::sync_parent(&job).map_err(|e| ProverError::io(&job, e))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(ProverError::io(&claim.path, e)),
        }
        Ok(path)
    }

    /// Puts a claimed job back, for another worker (this one cannot prove it now, through no
    /// fault of the job's).
    pub fn release(&self, claim: Claim) -> Result<(), ProverError> {
        let to = self.pending_path(claim.id);
        match fs::rename(&claim.path, &to) {
            Ok(()) => durable::sync_parent(&to).map_err(|e| ProverError::io(&to, e)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ProverError::io(&claim.path, e)),
        }
    }

    /// Puts back every claimed job whose claim has not been touched for `older_than` (its
    /// worker died or hangs); returns their ids.
    pub fn requeue_stale(&self, older_than: Duration) -> Result<Vec<u64>, ProverError> {
        let now = SystemTime::now();
        self.requeue_if(|_, touched| now.duration_since(touched).unwrap_or_default() >= older_than)
    }

    /// Puts back every job claimed by a worker whose name starts with `prefix`; returns their
    /// ids. A process that runs its own workers under such names calls it when it starts:
    /// claims under them can only be left by its previous run, whose proofs died with it, so
    /// waiting for them to go stale would only delay the proofs.
    pub fn requeue_workers(&self, prefix: &str) -> Result<Vec<u64>, ProverError> {
        self.requeue_if(|worker, _| worker.starts_with(prefix))
    }

    /// Puts back the claims for which `abandoned(worker, last touched)` holds.
    fn requeue_if(
        &self,
        abandoned: impl Fn(&str, SystemTime) -> bool,
    ) -> Result<Vec<u64>, ProverError> {
        let mut requeued = Vec::new();
        for name in self.entries(CLAIMED)? {
            let Some((id, worker)) = name
                .strip_suffix(".job")
                .and_then(|rest| rest.split_once('.'))
                .and_then(|(id, worker)| Some((id.parse::<u64>().ok()?, worker)))
            else {
                continue;
            };
            let path = self.root.join(CLAIMED).join(&name);
            let touched = match fs::metadata(&path) {
                Ok(m) => last_touched(&m)?,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(ProverError::io(&path, e)),
            };
            if !abandoned(worker, touched) {
                continue;
            }
            let to = self.pending_path(id);
            match fs::rename(&path, &to) {
                Ok(()) => {
                    tracing::warn!(id, claim = %name, "requeued an abandoned claim");
                    requeued.push(id);
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(ProverError::io(&path, e)),
            }
        }
        if !requeued.is_empty() {
            let dir = self.root.join(PENDING);
            durable::sync_dir(&dir).map_err(|e| ProverError::io(&dir, e))?;
        }
        requeued.sort_unstable();
        Ok(requeued)
    }

    /// The proof of job `id`, if one was stored.
    pub fn proof(&self, id: u64) -> Result<Option<ProofRecord>, ProverError> {
        let path = self.proof_path(id);
        match fs::read(&path) {
            Ok(bytes) => ProofRecord::decode(&bytes)
                .map(Some)
                .map_err(|source| ProverError::Decode { path, source }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ProverError::io(&path, e)),
        }
    }

    /// Why job `id` failed, if it did.
    pub fn failure(&self, id: u64) -> Result<Option<String>, ProverError> {
        let path = self.failure_path(id);
        match fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text.trim_end().to_owned())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ProverError::io(&path, e)),
        }
    }

    /// File names in a subdirectory (temporary files excluded).
    fn entries(&self, sub: &str) -> Result<Vec<String>, ProverError> {
        let dir = self.root.join(sub);
        let mut names = Vec::new();
        for entry in fs::read_dir(&dir).map_err(|e| ProverError::io(&dir, e))? {
            let entry = entry.map_err(|e| ProverError::io(&dir, e))?;
            if let Ok(name) = entry.file_name().into_string()
                && !name.starts_with('.')
            {
                names.push(name);
            }
        }
        Ok(names)
    }
}

fn remove_if_present(path: &Path) -> Result<(), ProverError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ProverError::io(path, e)),
    }
}

/// When a claim was last renamed or touched: its mtime, or on Unix its ctime if later (a
/// rename updates the ctime, so a claim is fresh even before its first heartbeat).
fn last_touched(m: &fs::Metadata) -> Result<SystemTime, ProverError> {
    let modified = m.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let changed = u64::try_from(m.ctime())
            .ok()
            .map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s))
            .unwrap_or(SystemTime::UNIX_EPOCH);
        Ok(modified.max(changed))
    }
    #[cfg(not(unix))]
    Ok(modified)
}

#[cfg(test)]
mod tests {
    use super::*;
    use causeway_circuit::batch::{BatchInput, BatchShape};
    use causeway_primitives::{Address, Domain};

    fn job(id: u64) -> Job {
        Job {
            id,
            input: BatchInput::empty(
                BatchShape::new(1, 1),
                Domain {
                    chain_id: 1,
                    contract: Address::ZERO,
                },
            ),
        }
    }

    #[test]
    fn claims_are_exclusive_and_stale_ones_come_back() {
        let dir = tempfile::tempdir().unwrap();
        let q = JobQueue::open(dir.path()).unwrap();
        q.submit(&job(2)).unwrap();
        q.submit(&job(1)).unwrap();
        assert!(matches!(q.submit(&job(1)), Err(ProverError::JobExists(1))));
        assert_eq!(q.pending().unwrap(), vec![1, 2]);

        assert!(matches!(
            q.claim("bad.name"),
            Err(ProverError::WorkerName(_))
        ));
        let a = q.claim("a").unwrap().unwrap();
        let b = q.claim("b").unwrap().unwrap();
        assert_eq!((a.id, b.id), (1, 2));
        assert!(q.claim("c").unwrap().is_none());
        assert_eq!(
            crate::codec::decode_job(&a.read().unwrap()).unwrap(),
            job(1)
        );

        // Fresh claims are not stale; with a zero threshold both are.
        assert!(q.requeue_stale(Duration::from_secs(60)).unwrap().is_empty());
        assert_eq!(q.requeue_stale(Duration::ZERO).unwrap(), vec![1, 2]);
        assert_eq!(q.pending().unwrap(), vec![1, 2]);
        // The old claimants' heartbeats now fail; their late results still land.
        assert_eq!(a.heartbeat().unwrap_err().kind(), io::ErrorKind::NotFound);
        q.fail(a, "bad batch").unwrap();
        assert_eq!(q.failure(1).unwrap().as_deref(), Some("bad batch"));
        q.release(b).unwrap();
        assert_eq!(q.pending().unwrap(), vec![1, 2]);
    }

    #[test]
    fn knows_a_job_in_every_state_and_keeps_the_producers_mark() {
        let dir = tempfile::tempdir().unwrap();
        let q = JobQueue::open(dir.path()).unwrap();
        assert_eq!(q.produced().unwrap(), None);
        for id in [1, 2, 3, 11] {
            q.submit(&job(id)).unwrap();
        }
        let one = q.claim("w").unwrap().unwrap();
        let two = q.claim("w").unwrap().unwrap();
        q.fail(two, "bad batch").unwrap();
        // 1 claimed, 2 failed, 3 and 11 pending; 4 never submitted (and "1" is not "11").
        assert!(q.knows(1).unwrap() && q.knows(2).unwrap() && q.knows(3).unwrap());
        assert!(!q.knows(4).unwrap());
        q.release(one).unwrap();
        q.set_produced(3).unwrap();
        q.set_produced(11).unwrap();
        assert_eq!(
            JobQueue::open(dir.path()).unwrap().produced().unwrap(),
            Some(11)
        );
        std::fs::write(dir.path().join(PRODUCED), "eleven").unwrap();
        assert!(
            q.produced().is_err(),
            "a damaged mark is an error, not a restart from 0"
        );
    }

    #[test]
    fn a_process_takes_back_the_claims_of_its_own_workers() {
        let dir = tempfile::tempdir().unwrap();
        let q = JobQueue::open(dir.path()).unwrap();
        for id in [1, 2, 3] {
            q.submit(&job(id)).unwrap();
        }
        let _mine = q.claim("node-0").unwrap().unwrap();
        let _old_style = q.claim("node-4242-1").unwrap().unwrap();
        let _other = q.claim("gpu-box-1").unwrap().unwrap();
        assert_eq!(q.requeue_workers("node-").unwrap(), vec![1, 2]);
        assert_eq!(q.pending().unwrap(), vec![1, 2]);
        assert!(q.knows(3).unwrap(), "another worker's claim stays");
        assert!(q.requeue_workers("node-").unwrap().is_empty());
    }

    #[test]
    fn discard_above_removes_only_later_jobs() {
        let dir = tempfile::tempdir().unwrap();
        let q = JobQueue::open(dir.path()).unwrap();
        for id in [3, 4, 5] {
            q.submit(&job(id)).unwrap();
        }
        assert_eq!(q.discard_above(3).unwrap(), vec![4, 5]);
        assert_eq!(q.pending().unwrap(), vec![3]);
        // The same id can be submitted again once discarded.
        q.submit(&job(4)).unwrap();
        assert!(q.discard_above(10).unwrap().is_empty());
    }
}
