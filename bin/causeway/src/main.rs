//! The `causeway` command.
//!
//! Owns the command-line surface: parsing the arguments, routing each subcommand to its
//! module ([`util`] for the offline tools, [`bench`] for benchmarks, [`prove`] for keys and
//! batch proofs, [`exit_cmd`] for exodus), and turning every failure into one [`CliError`]
//! printed on stderr with its exit code. Nothing here panics on user input.
//!
//! Exit codes, which scripts may rely on:
//! - `0`: success (`util verify`: the signature is valid).
//! - `1`: the command ran and its answer is "no" (`util verify`: the signature does not
//!   verify), or it failed for a reason other than its input (a benchmark error, unwritable
//!   output).
//! - `2`: bad input: malformed or out-of-range values, and usage errors (clap uses 2 as well).

mod bench;
mod bench_exit;
mod bench_l1;
mod bench_prove;
mod exit_cmd;
mod node_cmd;
mod proc_status;
mod prove;
mod step;
mod util;
mod wallet;

use causeway_crypto::eddsa::SignatureError;
use causeway_crypto::poseidon::PoseidonError;
use causeway_primitives::pubdata::CodecError;
use clap::{Parser, Subcommand};
use std::io::{self, Write};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(name = "causeway", version, about = "Causeway layer-2 tools")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Offline utilities: Poseidon, L2 keys, EdDSA-Poseidon signatures, pubdata.
    #[command(subcommand)]
    Util(util::UtilCommand),
    /// Benchmarks of the node's components.
    Bench(bench::BenchArgs),
    /// Development setup of a batch circuit's keys (NOT FOR PRODUCTION).
    Setup(prove::SetupArgs),
    /// Proves one batch job file.
    Prove(prove::ProveArgs),
    /// The prover service.
    #[command(subcommand)]
    Prover(prove::ProverCommand),
    /// A wallet: keystore, deposits, transfers, withdrawals and claims on a Causeway node.
    Wallet(wallet::WalletArgs),
    /// A whole local deployment: anvil, the contracts, the node, funded test accounts.
    Devnet(node_cmd::DevnetArgs),
    /// The node (sequencer, prover, L1 watcher and submitter, JSON-RPC) from a config file,
    /// against any Ethereum JSON-RPC URL.
    Node(node_cmd::NodeArgs),
    /// Exodus: withdraws an account's balances of the last executed state, and reclaims its
    /// unprocessed deposits, from L1 data alone (no operator, no node).
    Exit(exit_cmd::ExitArgs),
}

/// Every way a `causeway` command can fail.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{what} is not hex: invalid character {c:?} at position {index}")]
    InvalidHexChar {
        what: &'static str,
        c: char,
        index: usize,
    },
    #[error("{what} has an odd number of hex digits ({digits}): each byte takes two")]
    OddHexLength { what: &'static str, digits: usize },
    #[error("{what} must be {expected} bytes, got {got}")]
    WrongLength {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("{what} {input:?} is not a number: expected decimal digits or 0x-prefixed hex")]
    InvalidNumber { what: &'static str, input: String },
    #[error("not a field element: value exceeds the BN254 scalar field modulus ({what} {input:?})")]
    NotFieldElement { what: &'static str, input: String },
    #[error(transparent)]
    Poseidon(#[from] PoseidonError),
    #[error("invalid public key: {0}")]
    PublicKey(SignatureError),
    #[error("invalid pubdata: {0}")]
    Pubdata(#[from] CodecError),
    /// Not an input error: the signature is well-formed input whose answer is "invalid".
    #[error("signature rejected: {0}")]
    SignatureRejected(SignatureError),
    #[error("bench: {0}")]
    Bench(#[from] bench::BenchError),
    #[error(transparent)]
    Prove(#[from] prove::ProveError),
    #[error("cannot write output: {0}")]
    Output(#[from] io::Error),
    #[error("node: {0}")]
    Node(#[from] causeway_node::NodeFatal),
    #[error("exit: {0}")]
    Exit(#[from] exit_cmd::ExitError),
}

impl CliError {
    /// The process exit code for this error (see the module docs).
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::SignatureRejected(_)
            | CliError::Bench(_)
            | CliError::Output(_)
            | CliError::Node(_) => 1,
            CliError::InvalidHexChar { .. }
            | CliError::OddHexLength { .. }
            | CliError::WrongLength { .. }
            | CliError::InvalidNumber { .. }
            | CliError::NotFieldElement { .. }
            | CliError::Poseidon(_)
            | CliError::PublicKey(_)
            | CliError::Pubdata(_) => 2,
            CliError::Prove(e) => e.exit_code(),
            CliError::Exit(e) => e.exit_code(),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Util(command) => {
            let mut out = io::stdout().lock();
            util::run(command, &mut out).and_then(|()| out.flush().map_err(CliError::from))
        }
        Command::Bench(args) => bench::run(args).map_err(CliError::from),
        Command::Setup(args) => prove::setup(args).map_err(CliError::from),
        Command::Prove(args) => prove::prove(args).map_err(CliError::from),
        Command::Prover(command) => prove::prover(command).map_err(CliError::from),
        // The wallet prints its own errors: its exit codes follow the same rules.
        Command::Wallet(args) => return wallet::run(args),
        Command::Devnet(args) => node_cmd::devnet(args).map_err(CliError::from),
        Command::Node(args) => node_cmd::node(args).map_err(CliError::from),
        Command::Exit(args) => {
            let mut out = io::stdout().lock();
            exit_cmd::run(args, &mut out)
                .map_err(CliError::from)
                .and_then(|()| out.flush().map_err(CliError::from))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`causeway util … | head`): nobody is left to tell.
        Err(CliError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            // `eprintln!` would panic if stderr is closed; there is nothing better to do then.
            let _ = writeln!(io::stderr(), "error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
