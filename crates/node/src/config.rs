//! The node's configuration: one TOML file (`causeway node --config <file>`), every field
//! with a documented default, and the parts each component takes.

use causeway_circuit::batch::BatchShape;
use causeway_primitives::{AccountId, Address, Balance, Domain, Nonce, PackedPoint};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The minimum fee per op kind, in units of the op's fee token. One schedule for every token:
/// a per-token price list is a later step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeeSchedule {
    #[serde(with = "decimal")]
    pub transfer: Balance,
    #[serde(with = "decimal")]
    pub withdraw: Balance,
    #[serde(with = "decimal")]
    pub change_pubkey: Balance,
}

impl Default for FeeSchedule {
    /// 10^12, 10^13 and 10^13 wei: about the price of one L2 transfer's share of an L1
    /// batch at a few gwei, and all packable (one significant digit).
    fn default() -> Self {
        Self {
            transfer: 1_000_000_000_000,
            withdraw: 10_000_000_000_000,
            change_pubkey: 10_000_000_000_000,
        }
    }
}

/// Amounts as decimal strings: TOML integers stop at 2^63.
mod decimal {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What the sequencer needs.
#[derive(Debug, Clone)]
pub struct SequencerConfig {
    /// The proving circuit's shape: a block holds at most `shape.chunks` pubdata chunks and
    /// collects fees in at most `shape.fee_slots` tokens.
    pub shape: BatchShape,
    /// A block is sealed this long after its first op, if it has not filled up before.
    pub block_time: Duration,
    pub fee_account: AccountId,
    pub domain: Domain,
    /// Tokens listed on L1 so far.
    pub token_count: u16,
    /// ChangePubKey authorizations registered on L1 so far.
    pub auths: BTreeSet<(Address, PackedPoint, Nonce)>,
    pub fees: FeeSchedule,
    /// Ops of one sender waiting for an earlier nonce, at most (and at most this far ahead).
    pub max_parked_per_sender: usize,
    /// Commands taken per group commit, at most.
    pub max_group: usize,
    /// Where the witness stage computes.
    pub background: crate::priority::Background,
}

/// The whole node's configuration file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Where the database, the prover queue and keys live.
    pub data_dir: PathBuf,
    /// The L1 JSON-RPC endpoint (http or https).
    pub l1_rpc: String,
    /// The rollup contract and the L1 block it was deployed in (where the watcher starts).
    pub rollup: Address,
    #[serde(default)]
    pub deploy_block: u64,
    /// A file holding the operator's L1 private key as hex; the key is never logged.
    pub operator_key_file: PathBuf,
    /// Where the JSON-RPC server listens (HTTP and WebSocket on one port).
    #[serde(default = "default_rpc_listen")]
    pub rpc_listen: SocketAddr,
    /// The chain id `eth_chainId` reports.
    #[serde(default = "default_l2_chain_id")]
    pub l2_chain_id: u64,
    /// The account every block's fees go to. It must exist before the first fee is paid:
    /// the devnet makes the operator's deposit the first priority op, so it is account 0.
    #[serde(default)]
    pub fee_account: u32,
    #[serde(default)]
    pub sequencer: SequencerSection,
    #[serde(default)]
    pub fees: FeeSchedule,
    #[serde(default)]
    pub l1: L1Section,
    #[serde(default)]
    pub prover: ProverSection,
}

fn default_rpc_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 3050))
}

/// The devnet's L2 chain id (0xCA05E): distinct from any public chain's.
pub const DEVNET_L2_CHAIN_ID: u64 = 0xCA05E;

fn default_l2_chain_id() -> u64 {
    DEVNET_L2_CHAIN_ID
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SequencerSection {
    /// Milliseconds from a block's first op to its sealing (1000: soft confirmation within a
    /// second, as users of L2s expect).
    pub block_time_ms: u64,
    pub max_parked_per_sender: usize,
    pub max_group: usize,
    /// Commands that may wait for the sequencer; beyond, submissions get "mempool full".
    pub queue_capacity: usize,
}

impl Default for SequencerSection {
    fn default() -> Self {
        Self {
            block_time_ms: 1000,
            max_parked_per_sender: 16,
            max_group: 4096,
            queue_capacity: 65_536,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct L1Section {
    /// Blocks a priority op must be buried under before the node includes it. 12 on mainnet
    /// (about 2.5 minutes, past ordinary reorgs); the devnet uses 1.
    pub confirmations: u64,
    pub poll_ms: u64,
    /// Batches sent in one commit, prove or execute transaction, at most.
    pub max_batches_per_tx: usize,
    /// How long a commit, prove or execute step with fewer than `max_batches_per_tx` batches
    /// ready waits for more (0: it sends at once). Batches sent together share the
    /// transaction's fixed gas and, when proven together, one pairing check (docs/gas.md).
    pub group_wait_ms: u64,
}

impl Default for L1Section {
    fn default() -> Self {
        Self {
            confirmations: 12,
            poll_ms: 2000,
            max_batches_per_tx: 8,
            group_wait_ms: 0,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProverSection {
    /// Proving threads inside the node; 0 leaves the queue to `causeway prover worker`
    /// processes.
    pub workers: usize,
    /// The circuit: pubdata chunks per batch and fee tokens per batch. Must match the
    /// deployed verifier.
    pub chunks: usize,
    pub fee_slots: usize,
    /// `Some(seed)`: development keys from a public seed (NOT FOR PRODUCTION); `None`: only
    /// a ceremony's keys placed in `<data_dir>/keys`.
    pub dev_seed: Option<u64>,
    /// Where proving keys live; default `<data_dir>/keys`.
    pub keys_dir: Option<PathBuf>,
    /// Linux nice value (0..=19) of the witness stage's and these workers' threads: on a
    /// busy machine, acknowledging transactions comes before proving them (see
    /// [`crate::priority`]). 0 runs them at the node's own priority.
    pub nice: i32,
}

impl Default for ProverSection {
    fn default() -> Self {
        Self {
            workers: 1,
            chunks: causeway_l1_gen::BATCH_SHAPE.chunks,
            fee_slots: causeway_l1_gen::BATCH_SHAPE.fee_slots,
            dev_seed: None,
            keys_dir: None,
            nice: crate::priority::LOWEST,
        }
    }
}

impl NodeConfig {
    pub fn shape(&self) -> BatchShape {
        BatchShape::new(self.prover.chunks, self.prover.fee_slots)
    }
}
