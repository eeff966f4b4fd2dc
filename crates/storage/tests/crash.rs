//! Crash recovery: a child process commits blocks as fast as it can and is killed with
//! SIGKILL at a random moment; the database must reopen holding every block the child
//! reported committed, exactly the state after its latest stored block, and a root that the
//! stored accounts and balances hash to.
//!
//! The child is this test binary re-run with `--exact crash_writer_child --ignored`; the
//! database path travels in [`CHILD_DB_ENV`].

mod support;

use causeway_storage::{Database, FIRST_BLOCK};
use rand::Rng;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use support::{Replay, assert_matches_replay, batch_blocks, batch_of, next_block};

const CHILD_DB_ENV: &str = "CAUSEWAY_STORAGE_CRASH_DB";
const ROUNDS: usize = 3;

/// What the child announces on stdout, one line each, only after the call returned.
enum Event {
    Ready,
    Block(u64),
    Batch(u64),
}

fn parse(line: &str) -> Option<Event> {
    let mut words = line.split_whitespace();
    match (words.next()?, words.next()) {
        ("ready", None) => Some(Event::Ready),
        ("committed", Some(n)) => n.parse().ok().map(Event::Block),
        ("batched", Some(n)) => n.parse().ok().map(Event::Batch),
        _ => None,
    }
}

#[test]
#[ignore = "run by crash_recovery in a child process"]
fn crash_writer_child() {
    let Some(path) = std::env::var_os(CHILD_DB_ENV) else {
        return;
    };
    let mut db = Database::open(path).unwrap();
    println!("ready");
    // A bound in case the parent dies without killing us.
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let number = db.latest_block().map_or(FIRST_BLOCK, |n| n + 1);
        let (block, diff) = next_block(db.state(), number);
        db.commit_block(&block, &diff).unwrap();
        println!("committed {number}");

        let batch = db.latest_batch().map_or(1, |n| n + 1);
        let (first, last) = batch_blocks(batch);
        if db.latest_block() >= Some(last) {
            let first = db.block(first).unwrap().unwrap();
            let last = db.block(last).unwrap().unwrap();
            db.put_batch(&batch_of(batch, &first, &last)).unwrap();
            println!("batched {batch}");
        }
    }
}

#[test]
fn crash_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.redb");
    let mut rng = rand::thread_rng();
    let mut replay = Replay::default();
    let mut reported_blocks = 0;

    for round in 0..ROUNDS {
        let delay = Duration::from_millis(rng.gen_range(100..=600));
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "crash_writer_child", "--ignored", "--nocapture"])
            .env(CHILD_DB_ENV, &path)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut stdout = BufReader::new(stdout);
            let mut line = String::new();
            // A line cut short by the kill has no newline: the child never finished
            // announcing it, so it is not a claim.
            while stdout.read_line(&mut line).unwrap_or(0) > 0 && line.ends_with('\n') {
                if let Some(event) = parse(&line) {
                    let _ = tx.send(event);
                }
                line.clear();
            }
        });

        // The delay runs from the child's first line, so the kill lands among commits rather
        // than in process start-up.
        let spawned = Instant::now();
        let mut events = Vec::new();
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(event) => events.push(event),
            Err(_) => panic!("child never became ready"),
        }
        let ready_after = spawned.elapsed();
        std::thread::sleep(delay);
        assert!(
            child.try_wait().unwrap().is_none(),
            "the child exited before it was killed"
        );
        child.kill().unwrap();
        child.wait().unwrap();
        reader.join().unwrap();
        events.extend(rx.try_iter());

        let last_reported_block = events
            .iter()
            .filter_map(|e| match e {
                Event::Block(n) => Some(*n),
                _ => None,
            })
            .max();
        let last_reported_batch = events
            .iter()
            .filter_map(|e| match e {
                Event::Batch(n) => Some(*n),
                _ => None,
            })
            .max();
        let blocks_this_round = events
            .iter()
            .filter(|e| matches!(e, Event::Block(_)))
            .count();
        reported_blocks += blocks_this_round;

        let opening = Instant::now();
        let db = Database::open(&path).unwrap();
        let open_time = opening.elapsed();
        let latest = db.latest_block();
        assert!(
            latest >= last_reported_block,
            "block {last_reported_block:?} was reported committed, the database holds up to \
             {latest:?}"
        );
        // At most the one block in flight may have reached the disk unreported.
        assert!(latest <= last_reported_block.map(|n| n + 1).or(Some(FIRST_BLOCK)));
        replay.advance_to(latest);
        assert_matches_replay(&db, &replay);

        assert!(db.latest_batch() >= last_reported_batch);
        for number in 1..=db.latest_batch().unwrap_or(0) {
            assert_eq!(db.batch(number).unwrap(), Some(replay.batch(number)));
        }
        eprintln!(
            "round {round}: child ready after {ready_after:?}, killed {delay:?} later having \
             reported {blocks_this_round} blocks (up to {last_reported_block:?}); \
             reopened at block {latest:?}, batch {:?} in {open_time:?}",
            db.latest_batch()
        );
    }
    assert!(reported_blocks > 0, "the child never committed a block");

    // After the last crash, this process carries on from where the child stopped.
    let mut db = Database::open(&path).unwrap();
    for _ in 0..3 {
        let (block, diff) = replay.advance();
        db.commit_block(&block, &diff).unwrap();
    }
    drop(db);
    assert_matches_replay(&Database::open(&path).unwrap(), &replay);
}
