//! CPU priority for the work that may lag: the witness stage and the node's prover workers.
//!
//! Owns the thread pools those parts compute on. A user waits on the sequencer and the RPC
//! for an acknowledgment; nobody waits on a proof in the same way, since proving lags
//! sequencing by design (a batch proves in tens of seconds) and catches up when the load
//! drops. So when every core is busy, a burst of transactions should slow proving, not
//! acknowledgments. Each background part computes on its own rayon pool whose threads run
//! at a lower OS priority (a Linux nice value, `prover.nice` in the configuration); the
//! sequencer's own parallel work (signature checks, sealing) stays on rayon's global pool at
//! the node's priority. A lower priority only reorders who runs first: on an idle core the
//! background threads run at full speed.
//!
//! Invariants:
//! - every thread of a background pool lowers its priority before it runs any work, and a
//!   thread never raises it back (an unprivileged process cannot), so background pools are
//!   used for background work only;
//! - the work a background part runs through [`Background::pool`] (its nested parallel
//!   iterators included) stays on that pool, off the global one.
//!
//! Where threads have no priority of their own (outside Linux), the pools run at the node's
//! priority and the order is left to the OS.

use crate::NodeFatal;

/// The highest nice value (a weight of 15 against 1,024 for nice 0 under Linux's fair
/// scheduler). Threads given it are also put in the `SCHED_IDLE` class: they get a core only
/// when no other thread wants it, and give it up as soon as one does.
pub const LOWEST: i32 = 19;

/// How background pools are built: their threads' nice value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Background {
    nice: i32,
}

impl Background {
    /// Background threads at nice value `nice`, clamped to `0..=19` (0: the node's own
    /// priority).
    pub fn new(nice: i32) -> Self {
        Self {
            nice: nice.clamp(0, LOWEST),
        }
    }

    pub fn nice(self) -> i32 {
        self.nice
    }

    /// A pool of one thread per core, named `<name>-<i>`, each at this priority.
    pub fn pool(self, name: &str) -> Result<rayon::ThreadPool, NodeFatal> {
        let name = name.to_owned();
        rayon::ThreadPoolBuilder::new()
            .thread_name(move |i| format!("{name}-{i}"))
            .start_handler(move |_| lower_current_thread(self.nice))
            .build()
            .map_err(|e| NodeFatal::Io(std::io::Error::other(e)))
    }
}

/// Sets the calling thread's nice value. Failing to lower one's own priority is not worth
/// stopping a node for: the work still runs, only in the OS's order, so it is logged.
#[cfg(target_os = "linux")]
fn lower_current_thread(nice: i32) {
    use rustix::process::setpriority_process;
    use rustix::thread::gettid;
    // On Linux a nice value belongs to a thread: `PRIO_PROCESS` with a thread id sets that
    // thread's alone.
    if let Err(e) = setpriority_process(Some(gettid()), nice) {
        tracing::warn!(error = %e, nice, "could not lower a background thread's priority");
    }
    if nice == LOWEST {
        // A nice-19 thread still keeps the core for the rest of its time slice when a node
        // thread wakes up, and a transaction's path wakes several threads in turn; a
        // SCHED_IDLE thread is preempted at once (measured: 10,717 tx/s and p99 58 ms instead
        // of 9,403-9,763 tx/s and 62-64 ms at 256 senders).
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: `sched_setscheduler` reads `param`, a valid `sched_param`, and pid 0 names
        // the calling thread; it touches no memory of ours.
        if unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) } != 0 {
            let e = std::io::Error::last_os_error();
            tracing::warn!(error = %e, "could not move a background thread to SCHED_IDLE");
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_current_thread(_nice: i32) {}

/// The calling thread's nice value (Linux only).
#[cfg(all(test, target_os = "linux"))]
fn current_nice() -> i32 {
    rustix::process::getpriority_process(Some(rustix::thread::gettid())).expect("getpriority")
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use rayon::prelude::*;

    #[test]
    fn pool_threads_and_their_nested_work_run_at_the_lower_priority() {
        let pool = Background::new(7).pool("test-bg").unwrap();
        let base = current_nice();
        let seen: Vec<i32> = pool.install(|| {
            (0..64)
                .into_par_iter()
                .map(|_| current_nice())
                .collect::<Vec<_>>()
        });
        assert!(seen.iter().all(|&n| n == base.max(7)), "{seen:?}");
        // The caller's own thread keeps its priority.
        assert_eq!(current_nice(), base);
    }

    #[test]
    fn the_lowest_priority_is_the_idle_class() {
        let policy = || {
            // SAFETY: `sched_getscheduler` only reads the calling thread's policy (pid 0).
            unsafe { libc::sched_getscheduler(0) }
        };
        let idle: Vec<i32> = Background::new(LOWEST)
            .pool("test-idle")
            .unwrap()
            .install(|| (0..16).into_par_iter().map(|_| policy()).collect());
        assert!(idle.iter().all(|&p| p == libc::SCHED_IDLE), "{idle:?}");
        let niced: Vec<i32> = Background::new(7)
            .pool("test-niced")
            .unwrap()
            .install(|| (0..16).into_par_iter().map(|_| policy()).collect());
        assert!(niced.iter().all(|&p| p == libc::SCHED_OTHER), "{niced:?}");
        assert_eq!(policy(), libc::SCHED_OTHER);
    }

    #[test]
    fn nice_values_are_clamped_to_what_a_thread_can_take() {
        assert_eq!(Background::new(-5).nice(), 0);
        assert_eq!(Background::new(40).nice(), LOWEST);
        assert_eq!(Background::new(10).nice(), 10);
    }
}
