//! `causeway bench exit`: how fast `causeway exit` rebuilds the last executed state from
//! pubdata, and how much memory it takes.
//!
//! Measures exactly `causeway_l1::exodus::rebuild`, the part of an exit that grows with the
//! rollup's history: each batch's pubdata replayed through the stf from the empty state, the
//! diff applied, the root and account count checked against the batch's. Reading L1 (logs,
//! commit transactions) is left out: it depends on the endpoint, not on this code.
//!
//! The history is synthesized, no L1 involved: `--accounts` deposits, each creating an
//! account (fee account 0 is the first), with `--transfers` transfers between accounts that
//! already exist mixed in at random, cut into batches of `--batch-ops` ops. Building it
//! replays it once to learn each batch's root, as an operator would have committed it; that
//! part is not timed, and the peak-memory mark is reset before the timed rebuild
//! (`/proc/self/clear_refs`), so the reported peak is the rebuild's.

use crate::proc_status::{Process, peak_rss_kb, status_kb};
use alloy::primitives::{Address, B256, U256};
use causeway_bindings::BatchChain::StoredBatch;
use causeway_l1::batch::root_word;
use causeway_l1::exodus::{self, ExecutedBatch, ExecutedChain, Progress};
use causeway_primitives::pubdata::{PubdataOp, encode};
use causeway_primitives::{AccountId, PackedAmount, PackedFee, TokenId};
use causeway_stf::{MemoryState, StateView};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct ExitBenchArgs {
    /// Accounts the history creates (one deposit each).
    #[arg(long, default_value_t = 100_000)]
    accounts: u32,
    /// Transfers between existing accounts mixed in [default: a quarter of --accounts].
    #[arg(long)]
    transfers: Option<u64>,
    /// Ops per batch.
    #[arg(long, default_value_t = 1000)]
    batch_ops: usize,
    /// Seed of the synthesized history.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ExitBenchError {
    #[error("invalid arguments: {0}")]
    Args(&'static str),
    #[error("building the history: {0}")]
    Setup(String),
    #[error("the rebuild failed: {0}")]
    Rebuild(#[from] exodus::ExodusError),
}

const DEPOSIT: u128 = 1_000_000_000_000_000_000;

fn address(i: u32) -> Address {
    let mut a = [0u8; 20];
    a[0] = 0xe0;
    a[16..].copy_from_slice(&i.to_be_bytes());
    Address::from(a)
}

/// The ops of the history, in order: deposits creating accounts `0..accounts`, transfers
/// among the accounts created so far at random positions.
fn history(
    accounts: u32,
    transfers: u64,
    rng: &mut StdRng,
) -> Result<Vec<PubdataOp>, ExitBenchError> {
    let id = |i: u32| AccountId::new(i).map_err(|e| ExitBenchError::Setup(e.to_string()));
    let total = u64::from(accounts) + transfers;
    let (mut created, mut sent) = (0u32, 0u64);
    let mut ops = Vec::with_capacity(total as usize);
    while created < accounts || sent < transfers {
        let transfer = created > 0
            && sent < transfers
            && (created == accounts || rng.gen_range(0..total) < transfers);
        if transfer {
            // At most 10^15 (a thousandth of a deposit) each: nobody runs dry.
            let amount = rng.gen_range(1..1_000_000u128) * 1_000_000_000;
            let fee = rng.gen_range(1..1000u128) * 1_000_000;
            let pack = |e: causeway_primitives::PackError| ExitBenchError::Setup(e.to_string());
            ops.push(PubdataOp::Transfer {
                from: id(rng.gen_range(0..created))?,
                to: id(rng.gen_range(0..created))?,
                token: TokenId::ETH,
                amount: PackedAmount::pack(amount).map_err(pack)?,
                fee: PackedFee::pack(fee).map_err(pack)?,
            });
            sent += 1;
        } else {
            ops.push(PubdataOp::Deposit {
                account: id(created)?,
                token: TokenId::ETH,
                amount: DEPOSIT,
                address: address(created),
            });
            created += 1;
        }
    }
    Ok(ops)
}

/// The history as committed batches: pubdata, and the root and account count each batch
/// committed (from replaying it once).
fn chain(ops: &[PubdataOp], batch_ops: usize) -> Result<ExecutedChain, ExitBenchError> {
    let fee_account = AccountId::new(0).map_err(|e| ExitBenchError::Setup(e.to_string()))?;
    let mut state = MemoryState::new();
    let genesis = StoredBatch {
        number: 0,
        priorityOps: 0,
        accountCount: 0,
        timestamp: 0,
        root: root_word(&state.root()),
        withdrawalsHash: B256::ZERO,
        commitment: U256::ZERO,
    };
    let mut batches = Vec::new();
    for (i, part) in ops.chunks(batch_ops).enumerate() {
        let pubdata = encode(part);
        let sealed = causeway_stf::replay(&state, fee_account, &pubdata)
            .map_err(|e| ExitBenchError::Setup(format!("batch {}: {e}", i + 1)))?;
        state.apply(&sealed.diff);
        batches.push(ExecutedBatch {
            stored: StoredBatch {
                number: i as u64 + 1,
                priorityOps: 0,
                accountCount: sealed.diff.account_count,
                timestamp: 0,
                root: root_word(&sealed.diff.new_root),
                withdrawalsHash: B256::ZERO,
                commitment: U256::ZERO,
            },
            fee_account: 0,
            pubdata: pubdata.into(),
            commit_tx: B256::ZERO,
        });
    }
    Ok(ExecutedChain { genesis, batches })
}

pub fn run(a: &ExitBenchArgs) -> Result<(), ExitBenchError> {
    if a.accounts == 0 || a.accounts > AccountId::MAX || a.batch_ops == 0 {
        return Err(ExitBenchError::Args(
            "need 1 <= accounts < 2^24 and batch-ops >= 1",
        ));
    }
    let transfers = a.transfers.unwrap_or(u64::from(a.accounts) / 4);
    println!(
        "bench exit: rebuild of {} accounts and {transfers} transfers in batches of {} ops, {} \
         rayon threads",
        a.accounts,
        a.batch_ops,
        rayon::current_num_threads()
    );
    let t = Instant::now();
    let mut rng = StdRng::seed_from_u64(a.seed);
    let ops = history(a.accounts, transfers, &mut rng)?;
    let chain = chain(&ops, a.batch_ops)?;
    drop(ops);
    let pubdata: usize = chain.batches.iter().map(|b| b.pubdata.len()).sum();
    println!(
        "  history: {} batches, {:.1} MB of pubdata (built in {:.1?}, not timed)",
        chain.batches.len(),
        pubdata as f64 / 1e6,
        t.elapsed()
    );

    let reset = crate::proc_status::reset_peak_rss();
    let before_kb = status_kb(Process::This, "VmRSS:");
    let total = chain.batches.len() as u64;
    let step = (total / 10).max(1);
    let t = Instant::now();
    let state = exodus::rebuild(&chain, &mut |p| {
        if let Progress::Replayed { batch, total } = p
            && (batch % step == 0 || batch == total)
        {
            eprintln!("  replayed batch {batch} of {total} ({:.1?})", t.elapsed());
        }
    })?;
    let elapsed = t.elapsed();
    let peak_kb = peak_rss_kb(Process::This);

    // One exit proof, as `causeway exit` then builds per balance.
    let last = AccountId::new(a.accounts - 1).map_err(|e| ExitBenchError::Setup(e.to_string()))?;
    let t_proof = Instant::now();
    let proof = exodus::exit_proof(&state, last, TokenId::ETH)?;
    let proof_time = t_proof.elapsed();

    let secs = elapsed.as_secs_f64();
    let ops = u64::from(a.accounts) + transfers;
    println!(
        "  rebuild: {secs:.2} s, {:.0} accounts/s, {:.0} ops/s, {} accounts, root {}",
        f64::from(a.accounts) / secs,
        ops as f64 / secs,
        state.account_count(),
        root_word(&state.root())
    );
    println!(
        "  exit proof of account {}: {proof_time:.2?} (balance {})",
        proof.accountId, proof.balance
    );
    match (peak_kb, before_kb) {
        (Some(peak), Some(before)) => println!(
            "  peak RSS: {:.1} MB{} (RSS before it, holding the history: {:.1} MB)",
            peak as f64 / 1024.0,
            if reset {
                " during the rebuild"
            } else {
                " over the whole run (the mark could not be reset)"
            },
            before as f64 / 1024.0
        ),
        _ => println!("  peak RSS: unknown (no /proc/self/status)"),
    }
    Ok(())
}
