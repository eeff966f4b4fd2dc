//! `causeway bench stf`: sustained throughput of the state core on signed transfers.
//!
//! What one measured block does, in order, as a node would: check every EdDSA signature (in
//! parallel), execute the transfers against the state (nonces, balances, signer keys), seal
//! (fees credited, every touched balance tree and the account tree rehashed once), and commit
//! the diff and the block to redb durably. Signing happens before the clock starts: it is the
//! clients' work.
//!
//! The genesis state is built directly (accounts with a registered key and an ETH balance),
//! since building a million accounts through deposits would measure something else. To keep
//! set-up short, accounts share `--keys` distinct L2 keys; verification cost does not depend on
//! which key signs.

use causeway_crypto::eddsa::PrivateKey;
use causeway_primitives::{AccountId, Address, Domain, Op, TokenId, Transfer, TxSignature};
use causeway_stf::{
    AccountState, BlockContext, Executor, MemoryState, PubKey, SignatureCheck, StateDiff,
    StateView, WitnessMode, build_state_nodes, verify_signatures,
};
use causeway_storage::{BlockRecord, Database, StorageError};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    target: BenchTarget,
}

#[derive(clap::Subcommand, Debug)]
enum BenchTarget {
    /// Signed transfers through signature checks, execution, root updates and persistence.
    Stf(StfArgs),
    /// One batch proof of signed transfers: constraints, witness, setup, proof, memory.
    Prove(crate::bench_prove::ProveBenchArgs),
    /// L1 gas of deposits, commits at several batch sizes, real proofs, execution,
    /// withdrawals and exodus, from receipts on a real anvil.
    L1Gas(crate::bench_l1::L1GasArgs),
    /// Signed transfers over JSON-RPC to a node process: sustained tx/s, soft-confirmation
    /// latency, blocks and L1 commits kept up, nothing lost.
    Load(load::LoadArgs),
    /// Rebuilding the last executed state from pubdata, as `causeway exit` does: accounts/s,
    /// seconds, peak memory.
    Exit(crate::bench_exit::ExitBenchArgs),
}

// Declared here rather than in main.rs: `bench load` is only reachable through `bench`.
#[path = "bench_load.rs"]
mod load;

#[derive(clap::Args, Debug)]
struct StfArgs {
    /// Accounts in the genesis state.
    #[arg(long, default_value_t = 1000)]
    accounts: u32,
    /// Transfers to apply (after signing them).
    #[arg(long, default_value_t = 50_000)]
    transfers: usize,
    /// Transfers per block.
    #[arg(long, default_value_t = 10_000)]
    block_size: usize,
    /// Distinct L2 keys the accounts share.
    #[arg(long, default_value_t = 256)]
    keys: u32,
    /// redb file to use (default: a fresh temporary file, removed afterwards).
    #[arg(long)]
    db: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    #[error("a benchmark block was refused: {0}")]
    Block(String),
    #[error("invalid arguments: {0}")]
    Args(&'static str),
    #[error(transparent)]
    Prove(#[from] crate::prove::ProveError),
    #[error("l1-gas: {0}")]
    L1Gas(#[from] crate::bench_l1::L1GasError),
    #[error("load: {0}")]
    Load(#[from] load::LoadError),
    #[error("exit: {0}")]
    Exit(#[from] crate::bench_exit::ExitBenchError),
}

pub fn run(args: &BenchArgs) -> Result<(), BenchError> {
    match &args.target {
        BenchTarget::Stf(a) => bench_stf(a),
        BenchTarget::Prove(a) => crate::bench_prove::run(a).map_err(BenchError::from),
        BenchTarget::L1Gas(a) => crate::bench_l1::run(a).map_err(BenchError::from),
        BenchTarget::Load(a) => load::run(a).map_err(BenchError::from),
        BenchTarget::Exit(a) => crate::bench_exit::run(a).map_err(BenchError::from),
    }
}

const DOMAIN: Domain = Domain {
    chain_id: 31337,
    contract: Address::repeat_byte(0xcc),
};
const FUNDS: u128 = 1_000_000_000_000_000_000;

fn address(i: u32) -> Address {
    let mut a = [0u8; 20];
    a[0] = 0xa0;
    a[16..].copy_from_slice(&i.to_be_bytes());
    Address::from(a)
}

fn account(i: u32) -> AccountId {
    AccountId::new(i).expect("benchmark ids are in range")
}

#[derive(Default)]
struct Phases {
    verify: Duration,
    execute: Duration,
    seal: Duration,
    persist: Duration,
}

fn bench_stf(a: &StfArgs) -> Result<(), BenchError> {
    if a.accounts < 2 || a.accounts > AccountId::MAX || a.keys == 0 || a.block_size == 0 {
        return Err(BenchError::Args(
            "need 2 <= accounts < 2^24, keys >= 1, block-size >= 1",
        ));
    }
    println!(
        "bench stf: {} accounts, {} transfers in blocks of {}, {} rayon threads",
        a.accounts,
        a.transfers,
        a.block_size,
        rayon::current_num_threads()
    );

    let t = Instant::now();
    let keys: Vec<PrivateKey> = (0..a.keys)
        .into_par_iter()
        .map(|k| {
            let mut seed = [0u8; 32];
            seed[..4].copy_from_slice(&k.to_be_bytes());
            seed[31] = 1;
            PrivateKey::from_bytes(seed)
        })
        .collect();
    let pubkeys: Vec<PubKey> = keys
        .par_iter()
        .map(|k| {
            let p = k.public_key().0;
            PubKey { x: p.x, y: p.y }
        })
        .collect();
    let accounts: Vec<AccountState> = (0..a.accounts)
        .map(|i| AccountState {
            address: address(i),
            nonce: 0,
            pubkey: Some(pubkeys[(i % a.keys) as usize]),
        })
        .collect();
    let balances: Vec<((AccountId, TokenId), u128)> = (0..a.accounts)
        .map(|i| ((account(i), TokenId::ETH), FUNDS))
        .collect();
    let (root, nodes) = build_state_nodes(
        accounts
            .iter()
            .enumerate()
            .map(|(i, s)| (account(i as u32), s)),
        balances.iter().copied(),
    );
    println!(
        "  genesis: {} tree nodes built in {:.2?}",
        nodes.len(),
        t.elapsed()
    );

    let (path, temporary) = match &a.db {
        Some(p) => (p.clone(), false),
        None => {
            let p =
                std::env::temp_dir().join(format!("causeway-bench-{}.redb", std::process::id()));
            (p, true)
        }
    };
    let _ = std::fs::remove_file(&path);
    let t = Instant::now();
    let mut db = Database::open(&path)?;
    let genesis = StateDiff {
        accounts: accounts
            .iter()
            .enumerate()
            .map(|(i, s)| (account(i as u32), s.clone()))
            .collect(),
        balances: balances.iter().copied().collect(),
        nodes,
        account_count: a.accounts,
        old_root: MemoryState::new().root(),
        new_root: root,
    };
    let record = BlockRecord {
        number: causeway_storage::FIRST_BLOCK,
        timestamp: 0,
        fee_account: account(0),
        old_root: genesis.old_root,
        new_root: root,
        account_count: genesis.account_count,
        ops: vec![],
        pubdata: vec![],
    };
    db.commit_block(&record, &genesis)?;
    drop(genesis);
    println!("  genesis persisted in {:.2?}", t.elapsed());

    // Clients sign; not timed as node work.
    let t = Instant::now();
    let mut rng = StdRng::seed_from_u64(42);
    let mut nonces = vec![0u32; a.accounts as usize];
    let unsigned: Vec<Transfer> = (0..a.transfers)
        .map(|_| {
            let from = rng.gen_range(0..a.accounts);
            let mut to = rng.gen_range(0..a.accounts);
            if to == from {
                to = (to + 1) % a.accounts;
            }
            let nonce = nonces[from as usize];
            nonces[from as usize] += 1;
            Transfer {
                from: account(from),
                to: address(to),
                token: TokenId::ETH,
                amount: 1_000 + rng.gen_range(0..1_000u128),
                fee: 1 + rng.gen_range(0..100u128),
                nonce,
                signature: TxSignature {
                    pubkey: causeway_primitives::PackedPoint([0; 32]),
                    r8_x: [0; 32],
                    r8_y: [0; 32],
                    s: [0; 32],
                },
            }
        })
        .collect();
    let packed_keys: Vec<_> = keys.iter().map(|k| k.public_key()).collect();
    let ops: Vec<Op> = unsigned
        .into_par_iter()
        .map(|mut tr| {
            let k = (tr.from.get() % a.keys) as usize;
            let msg = causeway_crypto::poseidon::hash4(&tr.signing_fields(&DOMAIN));
            tr.signature = keys[k].sign(msg).to_tx_signature(&packed_keys[k]);
            Op::Transfer(tr)
        })
        .collect();
    println!(
        "  signed {} transfers (client side) in {:.2?}",
        ops.len(),
        t.elapsed()
    );

    let ctx = BlockContext {
        domain: DOMAIN,
        fee_account: account(0),
        token_count: 1,
        onchain_auths: Default::default(),
        max_fee_tokens: 4,
    };
    let mut phases = Phases::default();
    let started = Instant::now();
    for (n, block) in ops.chunks(a.block_size).enumerate() {
        let t = Instant::now();
        let checks = verify_signatures(block, &DOMAIN, db.state());
        if let Some(Err(e)) = checks.iter().find(|c| c.is_err()) {
            return Err(BenchError::Block(e.to_string()));
        }
        phases.verify += t.elapsed();

        let t = Instant::now();
        let mut exec = Executor::new(db.state(), &ctx, WitnessMode::Skip);
        for op in block {
            exec.apply(op, SignatureCheck::Valid)
                .map_err(|e| BenchError::Block(e.to_string()))?;
        }
        phases.execute += t.elapsed();

        let t = Instant::now();
        let sealed = exec.seal().map_err(|e| BenchError::Block(e.to_string()))?;
        phases.seal += t.elapsed();

        let t = Instant::now();
        let record = BlockRecord {
            number: causeway_storage::FIRST_BLOCK + n as u64 + 1,
            timestamp: n as u64 + 1,
            fee_account: account(0),
            old_root: sealed.diff.old_root,
            new_root: sealed.diff.new_root,
            account_count: sealed.diff.account_count,
            ops: block.to_vec(),
            pubdata: sealed.pubdata(),
        };
        db.commit_block(&record, &sealed.diff)?;
        phases.persist += t.elapsed();
    }
    let total = started.elapsed();
    let tps = ops.len() as f64 / total.as_secs_f64();
    println!(
        "  applied {} transfers in {:.2?}: {:.0} transfers/s",
        ops.len(),
        total,
        tps
    );
    for (name, d) in [
        ("verify signatures (parallel)", phases.verify),
        ("execute (nonces, balances, keys)", phases.execute),
        ("seal (fees, balance trees, account tree)", phases.seal),
        ("persist (redb, durable commit)", phases.persist),
    ] {
        println!(
            "    {name:<42} {:>9.2?}  {:>5.1}%  {:>8.1} µs/transfer",
            d,
            100.0 * d.as_secs_f64() / total.as_secs_f64(),
            d.as_secs_f64() * 1e6 / ops.len() as f64
        );
    }
    drop(db);
    if temporary {
        let _ = std::fs::remove_file(&path);
    }
    Ok(())
}
