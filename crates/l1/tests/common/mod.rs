//! A rollup deployed on a fresh anvil, shared by the L1 integration tests.

#![allow(dead_code)]

use alloy::network::EthereumWallet;
use alloy::primitives::{Address, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use causeway_bindings::anvil::{Anvil, DEV_KEY};
use causeway_bindings::{BatchVerifier, StateTree, ZkRollup};
use causeway_l1::batch::root_word;
use causeway_stf::{MemoryState, StateView};

pub const ETHER: u128 = 1_000_000_000_000_000_000;
/// Pubdata chunks per batch of the committed verifier (`causeway_l1_gen::BATCH_SHAPE`).
pub const CHUNKS: u64 = 6;

/// A rollup on anvil, operated and governed by anvil's first dev account.
pub struct Chain {
    pub anvil: Anvil,
    /// Signs with [`DEV_KEY`].
    pub l1: DynProvider,
    pub operator: Address,
    pub rollup: Address,
    /// The block of the rollup's deployment (its `TokenListed(0)` and genesis
    /// `BatchCommitted(0)` events).
    pub deploy_block: u64,
}

pub fn operator_signer() -> PrivateKeySigner {
    DEV_KEY.parse().unwrap()
}

/// A provider signing with [`DEV_KEY`]. It reads the nonce from the node for every
/// transaction (alloy caches it by default): the tests rewind the chain with `evm_revert`, and
/// send with the same key through the sender under test.
pub fn connect(anvil: &Anvil) -> DynProvider {
    ProviderBuilder::new()
        .disable_recommended_fillers()
        .with_gas_estimation()
        .with_simple_nonce_management()
        .fetch_chain_id()
        .wallet(EthereumWallet::from(operator_signer()))
        .connect_http(anvil.endpoint_url())
        .erased()
}

/// Deploys the verifier, the exit-proof tree and the rollup over the empty state.
pub async fn deploy(anvil: Anvil) -> Chain {
    let l1 = connect(&anvil);
    let operator = operator_signer().address();
    let verifier = BatchVerifier::deploy(&l1).await.expect("deploy verifier");
    let state_tree = StateTree::deploy(&l1).await.expect("deploy state tree");
    let rollup = ZkRollup::deploy(
        &l1,
        *verifier.address(),
        *state_tree.address(),
        U256::from(CHUNKS),
        operator,
        operator,
        3600,
        root_word(&MemoryState::new().root()),
    )
    .await
    .expect("deploy rollup");
    let deploy_block = l1.get_block_number().await.unwrap();
    let rollup = *rollup.address();
    Chain {
        anvil,
        l1,
        operator,
        rollup,
        deploy_block,
    }
}

pub async fn mine(l1: &DynProvider, blocks: u64) {
    l1.raw_request::<_, serde_json::Value>("anvil_mine".into(), (U256::from(blocks),))
        .await
        .expect("anvil_mine");
}

pub async fn snapshot(l1: &DynProvider) -> U256 {
    l1.raw_request("evm_snapshot".into(), ())
        .await
        .expect("evm_snapshot")
}

pub async fn revert_to(l1: &DynProvider, id: U256) {
    let ok: bool = l1
        .raw_request("evm_revert".into(), (id,))
        .await
        .expect("evm_revert");
    assert!(ok, "evm_revert");
}

/// A fixed address in front of an L1 node that comes and goes: the tests that restart anvil
/// point their clients here and restart anvil on whatever port the OS gives it. Restarting
/// anvil on its old port instead raced with the other tests' anvils for that port (one freed
/// for a second is free for anyone), and a client could end up on another test's chain.
///
/// While no node is set, connections are accepted and closed at once: to a client, the node
/// is down. Each connection is copied both ways by two threads until either side closes.
pub struct Relay {
    address: std::net::SocketAddr,
    target: std::sync::Arc<std::sync::Mutex<Option<std::net::SocketAddr>>>,
}

impl Relay {
    pub fn new(target: &Anvil) -> Relay {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the relay");
        let address = listener.local_addr().expect("relay address");
        let relay = Relay {
            address,
            target: Default::default(),
        };
        relay.point_to(Some(target));
        let current = relay.target.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                let Some(to) = *current.lock().unwrap() else {
                    continue; // dropped: closed
                };
                let Ok(node) = std::net::TcpStream::connect(to) else {
                    continue;
                };
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), node.try_clone().unwrap()),
                    (node, client),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        relay
    }

    /// Sends new connections to `anvil`, or refuses them (`None`).
    pub fn point_to(&self, anvil: Option<&Anvil>) {
        let to = anvil.map(|a| {
            format!("127.0.0.1:{}", a.port())
                .parse()
                .expect("anvil's address")
        });
        *self.target.lock().unwrap() = to;
    }

    pub fn url(&self) -> alloy::transports::http::reqwest::Url {
        format!("http://{}", self.address).parse().expect("url")
    }
}
