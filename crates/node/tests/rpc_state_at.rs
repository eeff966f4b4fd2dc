//! `eth_getBalance` and `eth_getTransactionCount` at past blocks, through the whole stack: the
//! JSON-RPC server over the node's [`Service`], the sequencer on its own thread and its redb
//! file in a temporary directory, read with alloy's provider. No L1: deposits are fed as
//! `Command::Priority`, the L2 key is registered with a ChangePubKey authorized in
//! `SequencerConfig::auths`, and blocks are sealed by age.

mod support;

use alloy::providers::{Provider, ProviderBuilder};
use alloy::rpc::types::{BlockId, BlockNumberOrTag};
use alloy_primitives::U256;
use causeway_l1_gen::BATCH_SHAPE;
use causeway_node::config::SequencerConfig;
use causeway_node::follow::L1View;
use causeway_node::sequencer::{Command, Sequencer, SequencerHandle, channel};
use causeway_node::service::Service;
use causeway_primitives::{Address, Balance, Nonce, Op, TokenId};
use causeway_prover::JobQueue;
use causeway_rpc::api::{NodeApi, NodeInfo};
use causeway_storage::Database;
use jsonrpsee::server::ServerHandle;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use support::{DOMAIN, FEE, OPERATOR, deposit, register, transfer};

/// Alice is user 1: account 1, key `[1; 32]`.
const ALICE: Address = Address::repeat_byte(0x01);
const BOB: Address = Address::repeat_byte(0x02);
const ALICE_DEPOSIT: Balance = 1_000_000;
/// Long enough for a test's ops sent together to land in one block, short enough to wait for.
const BLOCK_TIME: Duration = Duration::from_millis(700);
const TIMEOUT: Duration = Duration::from_secs(30);

fn config() -> SequencerConfig {
    support::config(BATCH_SHAPE, BLOCK_TIME, 1)
}

/// Alice pays `amount` ETH to `to` with fee [`FEE`].
fn alice_pays(to: Address, amount: Balance, nonce: Nonce) -> Op {
    transfer(1, to, amount, nonce)
}

/// The sequencer over `<dir>/state.redb`, its service and the RPC server on a free port.
struct Node {
    handle: SequencerHandle,
    thread: Option<JoinHandle<Result<(), causeway_node::NodeFatal>>>,
    service: Arc<Service>,
    url: String,
    _rpc: ServerHandle,
}

impl Node {
    async fn start(dir: &Path) -> Node {
        let db = Database::open(dir.join("state.redb")).expect("open the database");
        let queue = JobQueue::open(dir.join("prover")).expect("open the job queue");
        let (handle, rx) = channel(1024);
        let sequencer = Sequencer::open(db, config(), queue, handle.progress.clone())
            .expect("open the sequencer");
        let thread = std::thread::spawn(move || sequencer.run(rx));
        let service = Arc::new(Service {
            info: NodeInfo {
                l2_chain_id: 31_337_001,
                l1_chain_id: DOMAIN.chain_id,
                rollup: DOMAIN.contract,
                batch_chunks: 64,
                client_version: "causeway/test".into(),
            },
            fees: config().fees,
            sequencer: handle.clone(),
            l1: Arc::default(),
            view: Arc::new(L1View::default()),
        });
        let (rpc, addr) =
            causeway_rpc::server::serve(service.clone(), "127.0.0.1:0".parse().unwrap())
                .await
                .expect("the server starts");
        Node {
            handle,
            thread: Some(thread),
            service,
            url: format!("http://{addr}"),
            _rpc: rpc,
        }
    }

    fn latest_block(&self) -> u64 {
        self.handle.progress.latest_block.load(Ordering::Relaxed)
    }

    /// Waits until a block after `after` is sealed and nothing waits in the mempool; returns
    /// the latest block.
    async fn sealed_after(&self, after: u64) -> u64 {
        let start = Instant::now();
        while self.latest_block() <= after
            || self.handle.progress.mempool.load(Ordering::Relaxed) > 0
        {
            assert!(start.elapsed() < TIMEOUT, "no block sealed after {after}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.latest_block()
    }

    fn stop(mut self) {
        let thread = self.thread.take().expect("running");
        self.handle.send_blocking(Command::Stop).expect("queued");
        thread
            .join()
            .expect("the sequencer thread panicked")
            .expect("clean stop");
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = self.handle.send_blocking(Command::Stop);
            let _ = thread.join();
        }
    }
}

fn at(number: u64) -> BlockId {
    BlockNumberOrTag::Number(number).into()
}

#[tokio::test(flavor = "multi_thread")]
async fn balances_and_nonces_at_past_blocks_survive_later_blocks_and_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Node::start(dir.path()).await;

    // Block b1: the fee account and Alice are created by deposits.
    node.handle
        .send_blocking(Command::Priority(vec![
            deposit(0, OPERATOR, TokenId::ETH, 1_000),
            deposit(1, ALICE, TokenId::ETH, ALICE_DEPOSIT),
        ]))
        .expect("queued");
    let b1 = node.sealed_after(0).await;

    // Block b2: Alice registers her L2 key (a ChangePubKey ends its block).
    node.service.submit(register(1)).await.expect("accepted");
    let b2 = node.sealed_after(b1).await;

    // Block b3: Alice pays Bob twice, so her balance changes twice in the block; Bob's account
    // is created by the first payment.
    let (first, second) = tokio::join!(
        node.service.submit(alice_pays(BOB, 100, 1)),
        node.service.submit(alice_pays(BOB, 200, 2)),
    );
    first.expect("accepted");
    second.expect("accepted");
    let b3 = node.sealed_after(b2).await;

    // Block b4: one more payment.
    node.service
        .submit(alice_pays(BOB, 50, 3))
        .await
        .expect("accepted");
    let b4 = node.sealed_after(b3).await;
    assert_eq!((b1, b2, b3, b4), (1, 2, 3, 4), "each step sealed one block");
    let ops = |n| {
        let service = node.service.clone();
        async move { service.block(n).await.unwrap().expect("sealed").ops.len() }
    };
    assert_eq!(ops(3).await, 2, "both payments are in block 3");

    let after_b3 = ALICE_DEPOSIT - 300 - 2 * FEE;
    let after_b4 = after_b3 - 50 - FEE;
    let check = |url: String| async move {
        let eth = ProviderBuilder::new().connect_http(url.parse().unwrap());
        let balance = |who, block: BlockId| {
            let eth = &eth;
            async move { eth.get_balance(who).block_id(block).await.unwrap() }
        };
        let nonce = |who, block: BlockId| {
            let eth = &eth;
            async move {
                eth.get_transaction_count(who)
                    .block_id(block)
                    .await
                    .unwrap()
            }
        };
        for (block, alice, bob, alice_nonce) in [
            (0, 0, 0, 0),
            (1, ALICE_DEPOSIT, 0, 0),
            (2, ALICE_DEPOSIT, 0, 1),
            (3, after_b3, 300, 3),
            (4, after_b4, 350, 4),
        ] {
            assert_eq!(
                balance(ALICE, at(block)).await,
                U256::from(alice),
                "block {block}"
            );
            assert_eq!(
                balance(BOB, at(block)).await,
                U256::from(bob),
                "block {block}"
            );
            assert_eq!(nonce(ALICE, at(block)).await, alice_nonce, "block {block}");
            assert_eq!(nonce(BOB, at(block)).await, 0, "block {block}");
        }
        assert_eq!(
            balance(ALICE, BlockNumberOrTag::Latest.into()).await,
            U256::from(after_b4)
        );
        assert_eq!(
            balance(ALICE, BlockNumberOrTag::Earliest.into()).await,
            U256::ZERO
        );
        // EIP-1898: block 1 named by its hash.
        let hash1 = eth
            .get_block_by_number(BlockNumberOrTag::Number(1))
            .await
            .unwrap()
            .expect("block 1")
            .header
            .hash;
        assert_eq!(
            balance(ALICE, BlockId::hash(hash1)).await,
            U256::from(ALICE_DEPOSIT)
        );

        // The next block is not sealed: geth's answer.
        let err = eth.get_balance(ALICE).block_id(at(5)).await.unwrap_err();
        let resp = err.as_error_resp().expect("a JSON-RPC error");
        assert_eq!(
            (resp.code, resp.message.as_ref()),
            (-32000, "header not found")
        );
        let err = eth
            .get_transaction_count(BOB)
            .block_id(at(5))
            .await
            .unwrap_err();
        assert_eq!(err.as_error_resp().expect("a JSON-RPC error").code, -32000);
        // An address that never had an account gets the same refusal for a future block.
        let err = eth
            .get_balance(Address::repeat_byte(0x77))
            .block_id(at(5))
            .await
            .unwrap_err();
        assert_eq!(err.as_error_resp().expect("a JSON-RPC error").code, -32000);
    };
    check(node.url.clone()).await;

    // The history is on disk: a restarted node answers the same.
    node.stop();
    let node = Node::start(dir.path()).await;
    assert_eq!(node.latest_block(), 4);
    check(node.url.clone()).await;
}
