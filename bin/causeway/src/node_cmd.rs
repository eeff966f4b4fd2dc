//! `causeway devnet` and `causeway node`: running the node from the command line.
//!
//! Both run until Ctrl-C (or SIGTERM), then stop the node cleanly: the open block is sealed
//! and the witness stage writes the jobs of the committed blocks; a proof in progress is
//! abandoned, and the next start proves that job again. A kill -9 is also safe (see
//! `causeway_node::sequencer`).

use causeway_node::NodeFatal;
use causeway_node::config::NodeConfig;
use causeway_node::devnet::{DevnetOptions, start_devnet};
use causeway_node::run::start;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct DevnetArgs {
    /// Where the devnet keeps its database, prover queue and keys. Everything but the keys is
    /// reset at start: each devnet is a fresh chain.
    #[arg(long, default_value = ".causeway-devnet")]
    pub data_dir: PathBuf,
    /// anvil's port (the L1 RPC).
    #[arg(long, default_value_t = 8545)]
    pub l1_port: u16,
    /// Where the L2 JSON-RPC listens (HTTP and WebSocket).
    #[arg(long, default_value = "127.0.0.1:3050")]
    pub rpc: SocketAddr,
    /// Milliseconds from an L2 block's first op to its sealing.
    #[arg(long, default_value_t = 1000)]
    pub block_time_ms: u64,
    /// Proving threads (0: leave proving to `causeway prover worker` processes).
    #[arg(long, default_value_t = 1)]
    pub prover_workers: usize,
    /// Seconds a deposit or full exit may wait before anyone may start exodus.
    #[arg(long, default_value_t = 600)]
    pub priority_deadline: u64,
}

#[derive(clap::Args, Debug)]
pub struct NodeArgs {
    /// The node's TOML configuration (see docs/node.md; a devnet writes one in its data dir).
    #[arg(long)]
    pub config: PathBuf,
}

/// Logs on stderr, filtered by `RUST_LOG` (default `info`). The `r1cs` target is always off:
/// arkworks' gadgets make a span per call and format their arguments, which made proofs many
/// times slower.
fn init_logs() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info"))
        .add_directive("r1cs=off".parse().expect("a valid directive"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

fn runtime() -> Result<tokio::runtime::Runtime, NodeFatal> {
    init_logs();
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

pub fn devnet(args: &DevnetArgs) -> Result<(), NodeFatal> {
    for stale in ["state.redb", "prover", "node.toml", "operator.key"] {
        let path = args.data_dir.join(stale);
        if path.is_dir() {
            std::fs::remove_dir_all(&path)?;
        } else if path.exists() {
            std::fs::remove_file(&path)?;
        }
    }
    runtime()?.block_on(async {
        let devnet = start_devnet(DevnetOptions {
            data_dir: args.data_dir.clone(),
            l1_port: args.l1_port,
            rpc_listen: args.rpc,
            block_time_ms: args.block_time_ms,
            prover_workers: args.prover_workers,
            keys_dir: Some(args.data_dir.join("keys")),
            priority_deadline: args.priority_deadline,
            ..DevnetOptions::default()
        })
        .await?;
        println!("Causeway devnet is running (Ctrl-C stops it).\n");
        println!("{}", devnet.describe());
        println!(
            "node config: {} (run it again with `causeway node --config` against this L1)",
            args.data_dir.join("node.toml").display()
        );
        let outcome = devnet.node.run_until(shutdown_signal()).await;
        drop(devnet.anvil);
        outcome
    })
}

pub fn node(args: &NodeArgs) -> Result<(), NodeFatal> {
    let text = std::fs::read_to_string(&args.config)
        .map_err(|e| NodeFatal::Config(format!("{}: {e}", args.config.display())))?;
    let cfg: NodeConfig = toml::from_str(&text)
        .map_err(|e| NodeFatal::Config(format!("{}: {e}", args.config.display())))?;
    runtime()?.block_on(async {
        let node = start(cfg).await?;
        println!("L2 JSON-RPC: http://{0}  ws://{0}", node.rpc_addr);
        node.run_until(shutdown_signal()).await
    })
}
