//! `causeway bench prove`: what one batch proof of signed transfers costs.
//!
//! The world is built through the stf, as a real one would be: one block of deposits creating
//! the accounts, one block registering their L2 keys (ChangePubKey authorized on L1). The
//! measured block is `--chunks` signed transfers between existing accounts (one chunk each,
//! fees in ETH), executed by the stf with a witness recorded, turned into the circuit's input,
//! proven and verified. Reported, each with its time: the circuit's constraints (and per
//! transfer) and the time to build its matrices, the witness (stf execution with recording,
//! then the circuit input; the circuit's own `check` is not run unless `--check`), the setup
//! (or loading the keys), the proof (split into witness synthesis, FFTs and MSMs) and its
//! verification, and the process's peak resident memory.

use crate::prove::{DEFAULT_DEV_SEED, ProveError, fr_hex, shape, spinner};
use ark_serialize::{CanonicalSerialize, Compress};
use causeway_circuit::batch::{BatchInput, check};
use causeway_circuit::groth16::{self, BatchR1cs};
use causeway_crypto::eddsa::PrivateKey;
use causeway_primitives::{
    AccountId, Address, ChangePubKey, ChangePubKeyAuth, Deposit, Domain, Op, TokenId, Transfer,
    TxSignature,
};
use causeway_prover::worker::{prove_batch, verify_batch};
use causeway_prover::{
    Job, KeyMode, KeySource, KeyStore, ProverError, ShapeProver, durable, encode_job,
};
use causeway_stf::{BlockContext, MemoryState, WitnessMode, apply_block};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct ProveBenchArgs {
    /// Pubdata chunks of the circuit; the batch holds this many transfers.
    #[arg(long)]
    chunks: usize,
    /// Fee slots of the circuit.
    #[arg(long, default_value_t = 1)]
    fee_slots: usize,
    /// Accounts transferring to each other (at least 2).
    #[arg(long, default_value_t = 8)]
    accounts: u32,
    /// Key directory to load the development keys from, or to save them to when missing
    /// (default: a fresh setup, not saved).
    #[arg(long, value_name = "DIR")]
    keys: Option<PathBuf>,
    /// Also run the circuit's constraint check on the batch (one more synthesis), timed.
    #[arg(long)]
    check: bool,
    /// Also write the batch as a job file (id 1), for `causeway prove` or a queue's
    /// `pending/`.
    #[arg(long, value_name = "FILE")]
    write_job: Option<PathBuf>,
}

const DOMAIN: Domain = Domain {
    chain_id: 31337,
    contract: Address::repeat_byte(0xcc),
};
const FUNDS: u128 = 1_000_000_000_000_000_000;

fn account(i: u32) -> AccountId {
    AccountId::new(i).expect("benchmark ids are in range")
}

fn blank_signature() -> TxSignature {
    TxSignature {
        pubkey: causeway_primitives::PackedPoint([0; 32]),
        r8_x: [0; 32],
        r8_y: [0; 32],
        s: [0; 32],
    }
}

/// A user of the benchmark world: an address and an L2 key, both from its index.
struct User {
    address: Address,
    key: PrivateKey,
}

impl User {
    fn new(i: u32) -> Self {
        let mut a = [0u8; 20];
        a[0] = 0xa0;
        a[16..].copy_from_slice(&i.to_be_bytes());
        let mut seed = [0u8; 32];
        seed[..4].copy_from_slice(&i.to_be_bytes());
        seed[31] = 7;
        Self {
            address: Address::from(a),
            key: PrivateKey::from_bytes(seed),
        }
    }
}

/// Accounts `0..n` funded with ETH and with their L2 keys registered, built by two blocks
/// through the stf; account 0 collects fees.
fn world(users: &[User], ctx: &mut BlockContext) -> Result<MemoryState, ProveError> {
    let mut state = MemoryState::new();
    let deposits: Vec<Op> = users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            Op::Deposit(Deposit {
                priority_id: i as u64,
                from: u.address,
                to: u.address,
                token: TokenId::ETH,
                amount: FUNDS,
            })
        })
        .collect();
    let keys: Vec<Op> = users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let new_pubkey = u.key.public_key().to_packed();
            ctx.onchain_auths.insert((u.address, new_pubkey, 0));
            Op::ChangePubKey(ChangePubKey {
                account: account(i as u32),
                new_pubkey,
                fee_token: TokenId::ETH,
                fee: 0,
                nonce: 0,
                auth: ChangePubKeyAuth::Onchain,
            })
        })
        .collect();
    for ops in [deposits, keys] {
        let sealed = apply_block(&state, ctx, &ops, WitnessMode::Skip)
            .map_err(|e| ProveError::Args(format!("benchmark world refused: {e}")))?;
        state.apply(&sealed.diff);
    }
    Ok(state)
}

/// `n` signed transfers between the users, round robin (account `i` to `i + 1`).
fn transfers(users: &[User], n: usize) -> Vec<Op> {
    let count = users.len();
    // Registering a key took nonce 0.
    let mut nonces = vec![1u32; count];
    (0..n)
        .map(|j| {
            let from = j % count;
            let to = (j + 1) % count;
            let mut t = Transfer {
                from: account(from as u32),
                to: users[to].address,
                token: TokenId::ETH,
                amount: 1_000 + j as u128,
                fee: 10,
                nonce: nonces[from],
                signature: blank_signature(),
            };
            nonces[from] += 1;
            let key = &users[from].key;
            let msg = causeway_crypto::poseidon::hash4(&t.signing_fields(&DOMAIN));
            t.signature = key.sign(msg).to_tx_signature(&key.public_key());
            Op::Transfer(t)
        })
        .collect()
}

pub fn run(args: &ProveBenchArgs) -> Result<(), ProveError> {
    let shape = shape(args.chunks, args.fee_slots)?;
    if args.accounts < 2 || args.accounts > 1 << 20 {
        return Err(ProveError::Args("--accounts must be 2 to 2^20".into()));
    }
    let n = shape.chunks;
    println!(
        "bench prove: shape {shape}, {n} transfers, {} accounts, {} rayon threads",
        args.accounts,
        rayon::current_num_threads()
    );

    let t = Instant::now();
    let users: Vec<User> = (0..args.accounts).map(User::new).collect();
    let mut ctx = BlockContext {
        domain: DOMAIN,
        fee_account: account(0),
        token_count: 1,
        onchain_auths: Default::default(),
        max_fee_tokens: shape.fee_slots,
    };
    let state = world(&users, &mut ctx)?;
    let ops = transfers(&users, n);
    println!(
        "  world: {} accounts with keys and funds, {n} transfers signed, {:.2?}",
        args.accounts,
        t.elapsed()
    );

    let t = Instant::now();
    let r1cs = BatchR1cs::new(shape)
        .map_err(|e| ProveError::Args(format!("the circuit does not synthesize: {e}")))?;
    let constraints = r1cs.constraints();
    println!(
        "  constraints: {constraints} ({} per transfer; QAP domain 2^{}), matrices built in {:.2?}",
        constraints / n,
        r1cs.domain_size().trailing_zeros(),
        t.elapsed()
    );

    let t = Instant::now();
    let sealed = apply_block(&state, &ctx, &ops, WitnessMode::Record)
        .map_err(|e| ProveError::Args(format!("the benchmark block was refused: {e}")))?;
    let execute = t.elapsed();
    let witness = sealed.witness.expect("a witness was recorded");
    let t = Instant::now();
    let input = BatchInput::new(shape, DOMAIN, ctx.fee_account, &witness)
        .map_err(|e| ProveError::Args(format!("the block does not fit the circuit: {e}")))?;
    let build = t.elapsed();
    println!("  witness: stf execution with recording {execute:.2?}, circuit input {build:.2?}");
    if let Some(path) = &args.write_job {
        let job = Job {
            id: 1,
            input: input.clone(),
        };
        durable::write(path, &encode_job(&job)).map_err(|source| ProverError::Io {
            path: path.clone(),
            source,
        })?;
        println!("  job written to {}", path.display());
    }
    if args.check {
        let t = Instant::now();
        let violation = check(&input)
            .map_err(|e| ProveError::Args(format!("the circuit does not synthesize: {e}")))?;
        println!("  check: {violation:?} in {:.2?}", t.elapsed());
    }

    let t = Instant::now();
    let (pk, how) = match &args.keys {
        Some(dir) => {
            let store = KeyStore::open(
                dir,
                KeyMode::Development {
                    seed: DEFAULT_DEV_SEED,
                },
            )?;
            let bar = spinner(format!("loading or making the keys for {shape}"));
            let loaded = store.load(shape);
            bar.finish_and_clear();
            let (pk, source) = loaded?;
            let how = match source {
                KeySource::Created { .. } => format!("setup, saved to {}", dir.display()),
                _ => format!("loaded from {}", dir.display()),
            };
            (pk, how)
        }
        None => {
            let bar = spinner(format!("development setup for {shape}"));
            let pk = groth16::dev_setup(shape, DEFAULT_DEV_SEED);
            bar.finish_and_clear();
            let pk = pk.map_err(|e| ProveError::Args(format!("setup failed: {e}")))?;
            (Arc::new(pk), "setup".to_owned())
        }
    };
    let setup = t.elapsed();
    println!(
        "  keys: {how} in {setup:.2?} (development, NOT FOR PRODUCTION); proving key {:.1} MB",
        pk.serialized_size(Compress::No) as f64 / 1e6
    );

    r1cs.check_key(&pk)
        .map_err(|e| ProveError::Args(format!("the keys do not fit the circuit: {e}")))?;
    let prover = ShapeProver {
        pk,
        r1cs: Arc::new(r1cs),
    };
    let bar = spinner(format!("proving {n} transfers"));
    let proved = prove_batch(&prover, &input);
    bar.finish_and_clear();
    let (proof, timings) = proved?;
    let t = Instant::now();
    verify_batch(&prover.pk.vk, &input, &proof)?;
    let verify = t.elapsed();
    let prove = timings.total();
    println!(
        "  prove: {prove:.2?}, {:.2} transfers/s, {:.1} µs/constraint",
        n as f64 / prove.as_secs_f64(),
        prove.as_secs_f64() * 1e6 / constraints as f64
    );
    println!(
        "    witness synthesis {:.2?}, FFTs {:.2?}, MSMs {:.2?}",
        timings.witness, timings.fft, timings.msm
    );
    println!(
        "  verify: {verify:.2?} (commitment {})",
        fr_hex(&input.commitment())
    );
    match crate::proc_status::peak_rss_kb(crate::proc_status::Process::This) {
        Some(kb) => println!("  peak RSS: {:.1} MB", kb as f64 / 1024.0),
        None => println!("  peak RSS: unknown (no /proc/self/status)"),
    }
    Ok(())
}
