//! Two workers sharing one queue (one calling `run_once`, one in its `run` loop): every valid
//! job is proven exactly once and its proof verifies; a malformed job and an unprovable batch end in `failed/` with their reasons.
//!
//! Uses the smallest circuit (1 chunk, 1 fee slot, about 75k constraints) and Noop batches,
//! so each proof takes seconds.

use causeway_circuit::batch::{BatchInput, BatchShape};
use causeway_circuit::groth16;
use causeway_primitives::{Address, Domain, Fr};
use causeway_prover::{Job, JobQueue, KeyMode, KeyStore, Outcome, Worker};
use std::collections::BTreeMap;
use std::fs;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

const SHAPE: BatchShape = BatchShape::new(1, 1);

fn job(id: u64) -> Job {
    // Different domains, so every job has its own commitment.
    let domain = Domain {
        chain_id: id,
        contract: Address::repeat_byte(0xcc),
    };
    Job {
        id,
        input: BatchInput::empty(SHAPE, domain),
    }
}

#[test]
fn two_workers_prove_each_job_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let queue = JobQueue::open(dir.path().join("queue")).unwrap();
    let keys = Arc::new(
        KeyStore::open(dir.path().join("keys"), KeyMode::Development { seed: 1 }).unwrap(),
    );
    for id in 1..=3 {
        queue.submit(&job(id)).unwrap();
    }
    // A batch whose claimed new root is not where its ops lead.
    let mut wrong = job(4);
    wrong.input.new_root = Fr::from(1u64);
    queue.submit(&wrong).unwrap();
    // Bytes that are not a job at all.
    fs::write(dir.path().join("queue/pending/5.job"), b"CWJB\0\x01garbage").unwrap();

    // `alpha` takes jobs one by one until it finds none; `beta` runs its loop until stopped,
    // which happens once every job has ended somewhere.
    let stop = AtomicBool::new(false);
    let (alpha, beta) = thread::scope(|s| {
        let worker = Worker::new("alpha", queue.clone(), keys.clone()).unwrap();
        let alpha = s.spawn(move || {
            let mut done = Vec::new();
            loop {
                match worker.run_once().expect("no infrastructure failure") {
                    Outcome::Idle => return done,
                    o => done.push(o),
                }
            }
        });
        let worker = Worker::new("beta", queue.clone(), keys.clone())
            .unwrap()
            .with_requeue(Duration::from_secs(600));
        let stop = &stop;
        let beta = s.spawn(move || worker.run(stop, Duration::from_millis(50)));
        let ended =
            || (1..=5).all(|id| queue.proof_path(id).exists() || queue.failure_path(id).exists());
        while !ended() {
            thread::sleep(Duration::from_millis(50));
        }
        stop.store(true, Ordering::Relaxed);
        (alpha.join().unwrap(), beta.join().unwrap().unwrap())
    });

    let mut proven: BTreeMap<u64, usize> = BTreeMap::new();
    let mut failed: BTreeMap<u64, String> = BTreeMap::new();
    for o in alpha {
        match o {
            Outcome::Proven { id, .. } => *proven.entry(id).or_default() += 1,
            Outcome::Failed { id, reason } => {
                assert!(failed.insert(id, reason).is_none(), "job {id} failed twice");
            }
            Outcome::Idle => unreachable!(),
        }
    }
    assert!(proven.values().all(|n| *n == 1), "{proven:?}");
    // Three proofs on disk, three proving runs in all: none was proven twice.
    assert_eq!(proven.len() as u64 + beta.proven, 3, "{proven:?} {beta:?}");
    assert_eq!(failed.len() as u64 + beta.failed, 2, "{failed:?} {beta:?}");
    assert_eq!(
        fs::read_dir(dir.path().join("queue/proofs"))
            .unwrap()
            .count(),
        3
    );
    let reason = |id| queue.failure(id).unwrap().expect("a failure reason");
    assert!(reason(4).contains("commitment"), "{}", reason(4));
    assert!(reason(5).contains("malformed job"), "{}", reason(5));
    if let Some(r) = failed.get(&4) {
        assert_eq!(*r, reason(4));
    }

    // The stored proofs verify against the verifying key written beside the proving key.
    let vk = keys.verifying_key(SHAPE).unwrap();
    for id in 1..=3 {
        let record = queue.proof(id).unwrap().expect("proof stored");
        assert_eq!(record.id, id);
        assert_eq!(record.commitment, job(id).input.commitment());
        assert!(groth16::verify(&vk, record.commitment, &record.proof).unwrap());
    }
    // Nothing is left pending or claimed.
    assert!(queue.pending().unwrap().is_empty());
    assert_eq!(
        fs::read_dir(dir.path().join("queue/claimed"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn a_production_worker_without_keys_puts_the_job_back() {
    let dir = tempfile::tempdir().unwrap();
    let queue = JobQueue::open(dir.path().join("queue")).unwrap();
    fs::create_dir(dir.path().join("keys")).unwrap();
    let keys = Arc::new(KeyStore::open(dir.path().join("keys"), KeyMode::Production).unwrap());
    queue.submit(&job(7)).unwrap();
    let worker = Worker::new("prod", queue.clone(), keys).unwrap();
    let err = worker.run_once().unwrap_err();
    assert!(err.to_string().contains("c1-f1.pk"), "{err}");
    assert_eq!(queue.pending().unwrap(), vec![7]);
}
