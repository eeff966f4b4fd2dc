//! A whole Causeway deployment on a local anvil: what `causeway devnet` runs, and what the
//! end-to-end tests start.
//!
//! Steps: start anvil (mining a block every `l1_block_time` seconds, so that confirmations
//! come without traffic) → deploy the verifier of the devnet's batch shape (development keys
//! from a public seed: NOT FOR PRODUCTION), the exit-proof tree and the rollup → deploy
//! [`DEV_TOKEN_SYMBOL`], a plain ERC-20, list it as token 1 and give each test account
//! [`DEV_TOKEN_GRANT`] of it on L1 → write the node's configuration → the operator deposits
//! first, so that the fee account (account 0) is the operator's → the test accounts deposit
//! ETH → start the node.
//!
//! The test accounts are anvil's well-known dev accounts 1 to 3 (public keys of a public
//! mnemonic: never use them on a real network). Account 0 of anvil is the operator. They hold
//! the dev token on L1 only: depositing it (`causeway wallet deposit --token 1`) is left to
//! the user, so that the devnet's start costs no extra batch proofs.

use crate::NodeFatal;
use crate::config::{L1Section, NodeConfig, ProverSection, SequencerSection};
use crate::run::{RunningNode, start};
use alloy::contract::{CallBuilder, CallDecoder};
use alloy::network::EthereumWallet;
use alloy::primitives::{Address, U256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use causeway_bindings::anvil::{Anvil, DEV_KEY};
use causeway_bindings::{BatchVerifier, DevToken, StateTree, ZkRollup};
use causeway_l1::batch::root_word;
use causeway_l1_gen::{BATCH_SHAPE, DEV_SEED};
use causeway_stf::{MemoryState, StateView};
use std::net::SocketAddr;
use std::path::PathBuf;

/// anvil's dev accounts 1, 2 and 3: the devnet's documented test accounts.
pub const TEST_KEYS: [&str; 3] = [
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
];

const ETHER: u128 = 1_000_000_000_000_000_000;

/// The symbol of the devnet's ERC-20 (18 decimals), listed as token 1.
pub const DEV_TOKEN_SYMBOL: &str = "CDT";
/// What each test account holds of the dev token on L1 at start: 1,000,000 CDT.
pub const DEV_TOKEN_GRANT: u128 = 1_000_000 * ETHER;
/// The dev token's supply, all of it the operator's before the grants: 1,000,000,000 CDT.
const DEV_TOKEN_SUPPLY: u128 = 1_000_000_000 * ETHER;

/// How to start a devnet.
#[derive(Debug, Clone)]
pub struct DevnetOptions {
    pub data_dir: PathBuf,
    /// anvil's port; 0 picks a free one.
    pub l1_port: u16,
    pub rpc_listen: SocketAddr,
    /// Seconds between anvil blocks.
    pub l1_block_time: u64,
    pub block_time_ms: u64,
    pub prover_workers: usize,
    /// Where proving keys are kept (shared between devnets: a setup takes a while).
    pub keys_dir: Option<PathBuf>,
    /// Seconds a priority op may wait before anyone may start exodus. Short on a devnet, so
    /// that escape-hatch tests run in seconds; days on a real network (see docs/node.md).
    pub priority_deadline: u64,
    /// ETH each test account deposits to L2 at start (in wei).
    pub test_deposit: u128,
}

impl Default for DevnetOptions {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from(".causeway-devnet"),
            l1_port: 8545,
            rpc_listen: SocketAddr::from(([127, 0, 0, 1], 3050)),
            l1_block_time: 1,
            block_time_ms: 1000,
            prover_workers: 1,
            keys_dir: None,
            priority_deadline: 600,
            test_deposit: 10 * ETHER,
        }
    }
}

/// The contracts of one deployment.
#[derive(Debug, Clone, Copy)]
pub struct Deployment {
    pub rollup: Address,
    pub verifier: Address,
    pub state_tree: Address,
    /// The L1 block the rollup was deployed in (from its receipt, so that a watcher starting
    /// there misses none of its events).
    pub block: u64,
}

/// Deploys the devnet's contracts with `operator` as governance and operator, for batches of
/// `chunks` chunks. The verifier is the devnet's (6 chunks): a deployment with another size
/// commits batches but cannot prove them (load benchmarks use this).
pub async fn deploy(
    l1_url: &str,
    operator: PrivateKeySigner,
    priority_deadline: u64,
    chunks: usize,
) -> Result<Deployment, NodeFatal> {
    let address = operator.address();
    let l1 = signing(l1_url, operator)?;
    let verifier = BatchVerifier::deploy(&l1).await.map_err(NodeFatal::l1)?;
    let state_tree = StateTree::deploy(&l1).await.map_err(NodeFatal::l1)?;
    let receipt = ZkRollup::deploy_builder(
        &l1,
        *verifier.address(),
        *state_tree.address(),
        U256::from(chunks),
        address,
        address,
        priority_deadline,
        root_word(&MemoryState::new().root()),
    )
    .send()
    .await
    .map_err(NodeFatal::l1)?
    .get_receipt()
    .await
    .map_err(NodeFatal::l1)?;
    let (Some(rollup), Some(block)) = (receipt.contract_address, receipt.block_number) else {
        return Err(NodeFatal::L1(format!(
            "the rollup's deployment {} did not create a contract",
            receipt.transaction_hash
        )));
    };
    Ok(Deployment {
        rollup,
        verifier: *verifier.address(),
        state_tree: *state_tree.address(),
        block,
    })
}

/// A provider on `l1_url` that signs with `key`.
fn signing(l1_url: &str, key: PrivateKeySigner) -> Result<impl Provider + Clone, NodeFatal> {
    let url = l1_url
        .parse()
        .map_err(|e| NodeFatal::Config(format!("{l1_url}: {e}")))?;
    Ok(ProviderBuilder::new()
        .wallet(EthereumWallet::from(key))
        .connect_http(url))
}

/// Sends a contract call and waits for its receipt; `what` names it if it reverts.
async fn mined<P: Provider, D: CallDecoder>(
    call: CallBuilder<P, D>,
    what: impl FnOnce() -> String,
) -> Result<(), NodeFatal> {
    let receipt = call
        .send()
        .await
        .map_err(NodeFatal::l1)?
        .get_receipt()
        .await
        .map_err(NodeFatal::l1)?;
    if receipt.status() {
        Ok(())
    } else {
        Err(NodeFatal::L1(format!("{} reverted", what())))
    }
}

/// Deploys the dev token with its whole supply to `governance`, lists it on `rollup` (the
/// next token id: 1 on a fresh devnet) and gives each of `holders` [`DEV_TOKEN_GRANT`] on L1.
pub async fn deploy_dev_token(
    l1_url: &str,
    rollup: Address,
    governance: PrivateKeySigner,
    holders: &[Address],
) -> Result<Address, NodeFatal> {
    let l1 = signing(l1_url, governance)?;
    let token = DevToken::deploy(
        &l1,
        "Causeway Dev Token".to_owned(),
        DEV_TOKEN_SYMBOL.to_owned(),
        U256::from(DEV_TOKEN_SUPPLY),
    )
    .await
    .map_err(NodeFatal::l1)?;
    mined(
        ZkRollup::new(rollup, &l1).listToken(*token.address()),
        || "listing the dev token".to_owned(),
    )
    .await?;
    for holder in holders {
        mined(token.transfer(*holder, U256::from(DEV_TOKEN_GRANT)), || {
            format!("the dev token grant to {holder}")
        })
        .await?;
    }
    Ok(*token.address())
}

/// Deposits `amount` wei from `key`'s L1 account to its own L2 account.
pub async fn deposit_eth(
    l1_url: &str,
    rollup: Address,
    key: &PrivateKeySigner,
    amount: u128,
) -> Result<(), NodeFatal> {
    let l1 = signing(l1_url, key.clone())?;
    mined(
        ZkRollup::new(rollup, &l1)
            .depositETH(key.address())
            .value(U256::from(amount)),
        || format!("deposit from {}", key.address()),
    )
    .await
}

/// A running devnet: anvil, the contracts and the node.
pub struct Devnet {
    pub anvil: Anvil,
    pub node: RunningNode,
    pub deployment: Deployment,
    /// The dev token's L1 address (token 1).
    pub dev_token: Address,
    pub config: NodeConfig,
    pub l1_url: String,
}

/// Starts a devnet; see the module docs.
pub async fn start_devnet(opts: DevnetOptions) -> Result<Devnet, NodeFatal> {
    std::fs::create_dir_all(&opts.data_dir)?;
    let anvil = Anvil::spawn_on_port(
        opts.l1_port,
        &["--block-time", &opts.l1_block_time.to_string()],
    )
    .map_err(NodeFatal::l1)?;
    let l1_url = anvil.endpoint();
    let operator: PrivateKeySigner = DEV_KEY.parse().expect("a valid key");
    let deployment = deploy(
        &l1_url,
        operator.clone(),
        opts.priority_deadline,
        BATCH_SHAPE.chunks,
    )
    .await?;
    let test_accounts: Vec<Address> = TEST_KEYS
        .iter()
        .map(|key| {
            key.parse::<PrivateKeySigner>()
                .expect("a valid key")
                .address()
        })
        .collect();
    let dev_token =
        deploy_dev_token(&l1_url, deployment.rollup, operator.clone(), &test_accounts).await?;
    tracing::info!(rollup = %deployment.rollup, %dev_token, "contracts deployed");

    let key_file = opts.data_dir.join("operator.key");
    std::fs::write(&key_file, DEV_KEY)?;
    let config = NodeConfig {
        data_dir: opts.data_dir.clone(),
        l1_rpc: l1_url.clone(),
        rollup: deployment.rollup,
        deploy_block: deployment.block,
        operator_key_file: key_file,
        rpc_listen: opts.rpc_listen,
        l2_chain_id: crate::config::DEVNET_L2_CHAIN_ID,
        fee_account: 0,
        sequencer: SequencerSection {
            block_time_ms: opts.block_time_ms,
            ..SequencerSection::default()
        },
        fees: Default::default(),
        l1: L1Section {
            confirmations: 1,
            poll_ms: 500,
            max_batches_per_tx: 8,
            group_wait_ms: 0,
        },
        prover: ProverSection {
            workers: opts.prover_workers,
            dev_seed: Some(DEV_SEED),
            keys_dir: opts.keys_dir.clone(),
            ..ProverSection::default()
        },
    };
    let toml = toml::to_string_pretty(&config).map_err(|e| NodeFatal::Config(e.to_string()))?;
    std::fs::write(opts.data_dir.join("node.toml"), toml)?;

    // The operator's deposit is priority op 0: account 0, the fee account, is the operator's.
    deposit_eth(&l1_url, deployment.rollup, &operator, ETHER).await?;
    if opts.test_deposit > 0 {
        for key in TEST_KEYS {
            let key: PrivateKeySigner = key.parse().expect("a valid key");
            deposit_eth(&l1_url, deployment.rollup, &key, opts.test_deposit).await?;
        }
    }
    let node = start(config.clone()).await?;
    Ok(Devnet {
        anvil,
        node,
        deployment,
        dev_token,
        config,
        l1_url,
    })
}

impl Devnet {
    /// What `causeway devnet` prints: where everything is.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        let info = &self.node.info;
        out += &format!("L1  {}  chain id {}\n", self.l1_url, info.l1_chain_id);
        out += &format!(
            "L2  http://{0}  ws://{0}  chain id {1}\n",
            self.node.rpc_addr, info.l2_chain_id
        );
        // The exit tool reads the rollup's history from its deployment block (`--from-block`).
        out += &format!(
            "rollup      {}  deployed in L1 block {}\n",
            self.deployment.rollup, self.deployment.block
        );
        out += &format!("verifier    {}\n", self.deployment.verifier);
        out += &format!("state tree  {}\n", self.deployment.state_tree);
        out += &format!(
            "dev token   {}  token 1, {DEV_TOKEN_SYMBOL}, 18 decimals\n",
            self.dev_token
        );
        out += &format!("data        {}\n", self.config.data_dir.display());
        out += &format!(
            "test accounts, {} {DEV_TOKEN_SYMBOL} each on L1 (anvil's public dev keys: never use them on a real network):\n",
            DEV_TOKEN_GRANT / ETHER
        );
        for key in TEST_KEYS {
            let signer: PrivateKeySigner = key.parse().expect("a valid key");
            out += &format!("  {}  key {}\n", signer.address(), key);
        }
        out
    }
}
