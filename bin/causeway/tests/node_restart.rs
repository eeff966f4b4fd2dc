//! A node process killed with SIGKILL in the middle of a block loses nothing it acknowledged
//! and applies nothing twice.
//!
//! A real anvil and contracts; `causeway node --config` runs as a child process. Alice sends a
//! stream of transfers to Bob, each after the previous one was acknowledged; the node is
//! killed (kill -9) while transfers are in flight and blocks are open, then started again on
//! the same data directory. Every acknowledged transfer must be there, and the balances must
//! show each applied transfer exactly once (Alice's nonce counts them). The node then goes on:
//! a new transfer is accepted and every sealed block is committed on L1, and a batch committed
//! before the crash still reports its L1 commit transaction. A second test runs the submitter
//! with `l1.group_wait_ms`: blocks sealed within the wait share one commit transaction.
//! Proving is off here (no workers): these tests are about the sequencer and the submitter.

mod common;

use alloy::signers::local::PrivateKeySigner;
use causeway_bindings::anvil::{Anvil, DEV_KEY};
use causeway_l1_gen::{BATCH_SHAPE, DEV_SEED};
use causeway_node::config::{L1Section, NodeConfig, ProverSection, SequencerSection};
use causeway_node::devnet::{TEST_KEYS, deploy, deposit_eth};
use causeway_primitives::{AccountId, Address, Domain, Op};
use causeway_rpc::client::Client;
use common::{ETHER, TRANSFER_FEE, WITHDRAW_FEE, account, activate, eth, request, transfer, until};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `causeway node` child process, killed (SIGKILL) and reaped when dropped.
struct NodeProcess(Child);

impl NodeProcess {
    /// kill -9, and wait until the process is gone.
    fn kill9(&mut self) {
        self.0.kill().expect("kill -9");
        self.0.wait().expect("reaped");
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_node(config: &std::path::Path, log: &std::path::Path) -> NodeProcess {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    NodeProcess(
        Command::new(env!("CARGO_BIN_EXE_causeway"))
            .args(["node", "--config"])
            .arg(config)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn causeway node"),
    )
}

/// Anvil with the contracts, the operator's deposit and a funded Alice on L1, and a node
/// configuration with `l1` and `block_time_ms` (the node is not started).
struct Setup {
    _dir: tempfile::TempDir,
    _anvil: Anvil,
    config_file: std::path::PathBuf,
    log: std::path::PathBuf,
    client: Client,
    alice_l1: PrivateKeySigner,
}

impl Setup {
    async fn new(l1: L1Section, block_time_ms: u64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let anvil = Anvil::spawn_with_args(&["--block-time", "1"]).expect("anvil");
        let l1_url = anvil.endpoint();
        let operator: PrivateKeySigner = DEV_KEY.parse().unwrap();
        let deployment = deploy(&l1_url, operator.clone(), 600, BATCH_SHAPE.chunks)
            .await
            .expect("deploy");
        let key_file = dir.path().join("operator.key");
        std::fs::write(&key_file, DEV_KEY).unwrap();
        let rpc_port = free_port();
        let config = NodeConfig {
            data_dir: dir.path().join("node"),
            l1_rpc: l1_url.clone(),
            rollup: deployment.rollup,
            deploy_block: deployment.block,
            operator_key_file: key_file,
            rpc_listen: format!("127.0.0.1:{rpc_port}").parse().unwrap(),
            l2_chain_id: 7,
            fee_account: 0,
            sequencer: SequencerSection {
                block_time_ms,
                ..SequencerSection::default()
            },
            fees: Default::default(),
            l1,
            prover: ProverSection {
                workers: 0,
                dev_seed: Some(DEV_SEED),
                ..ProverSection::default()
            },
        };
        let config_file = dir.path().join("node.toml");
        std::fs::write(&config_file, toml::to_string(&config).unwrap()).unwrap();
        let log = dir.path().join("node.log");

        deposit_eth(&l1_url, deployment.rollup, &operator, ETHER)
            .await
            .unwrap();
        let alice_l1: PrivateKeySigner = TEST_KEYS[0].parse().unwrap();
        deposit_eth(&l1_url, deployment.rollup, &alice_l1, 10 * ETHER)
            .await
            .unwrap();
        let client = Client::new(format!("http://127.0.0.1:{rpc_port}")).unwrap();
        Self {
            _dir: dir,
            _anvil: anvil,
            config_file,
            log,
            client,
            alice_l1,
        }
    }

    fn spawn_node(&self) -> NodeProcess {
        spawn_node(&self.config_file, &self.log)
    }

    /// Waits for the node's RPC, then for Alice's deposit: her account, and the domain.
    async fn alice(&self) -> (AccountId, Domain) {
        let client = &self.client;
        let info = until("the node's RPC", Duration::from_secs(60), || async {
            client.node_info().await.ok()
        })
        .await;
        let domain = Domain {
            chain_id: info.l1_chain_id,
            contract: info.rollup,
        };
        let alice = self.alice_l1.address();
        let funded = until("Alice's deposit", Duration::from_secs(60), || async {
            account(client, alice).await.filter(|a| eth(a) > 0)
        })
        .await;
        (AccountId::new(funded.id).unwrap(), domain)
    }

    /// Waits until every sealed block is committed on L1 and the mempool is empty.
    async fn all_committed(&self, limit: Duration) {
        let client = &self.client;
        until("every block committed on L1", limit, || async {
            let s = client.status().await.ok()?;
            (s.latest_block > 0 && s.committed == s.latest_block && s.mempool == 0).then_some(())
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_block_loses_nothing_and_applies_nothing_twice() {
    let setup = Setup::new(
        L1Section {
            confirmations: 1,
            poll_ms: 200,
            max_batches_per_tx: 8,
            group_wait_ms: 0,
        },
        400,
    )
    .await;
    let (client, alice_l1) = (&setup.client, &setup.alice_l1);
    let mut node = setup.spawn_node();
    let (id, domain) = setup.alice().await;
    let alice = alice_l1.address();
    let (l2, cpk) = activate(alice_l1, id, 0, WITHDRAW_FEE, &domain);
    let cpk_hash = client.send_op(&request(&cpk)).await.expect("ChangePubKey");
    // Its batch committed on L1 before the crash: the restarted node must still report the
    // commit transaction (recovered from the contract's events).
    let cpk_commit = until(
        "the ChangePubKey committed",
        Duration::from_secs(60),
        || async { client.get_op_status(cpk_hash).await.unwrap()?.commit_tx },
    )
    .await;

    // Transfers until the kill; each acknowledged one is remembered.
    let bob = Address::repeat_byte(0xb0);
    let amount = ETHER / 1000;
    let mut acknowledged = Vec::new();
    let mut nonce = 1;
    let kill_after = 25;
    loop {
        let t = transfer(&l2, id, bob, amount, nonce, &domain);
        let submitted = client.send_op(&request(&Op::Transfer(t))).await;
        match submitted {
            Ok(hash) => {
                acknowledged.push(hash);
                nonce += 1;
            }
            Err(e) => panic!("transfer {nonce} refused before the kill: {e}"),
        }
        if acknowledged.len() == kill_after {
            // Send one more without waiting for its answer, then kill the node mid-flight.
            let t = transfer(&l2, id, bob, amount, nonce, &domain);
            let in_flight = {
                let client = client.clone();
                tokio::spawn(async move { client.send_op(&request(&Op::Transfer(t))).await })
            };
            tokio::time::sleep(Duration::from_millis(2)).await;
            node.kill9();
            if let Ok(Ok(hash)) = in_flight.await {
                acknowledged.push(hash);
            }
            break;
        }
    }

    let node = setup.spawn_node();
    until(
        "the restarted node's RPC",
        Duration::from_secs(60),
        || async { client.node_info().await.ok() },
    )
    .await;
    for hash in &acknowledged {
        let status = client.get_op_status(*hash).await.unwrap();
        assert!(status.is_some(), "acknowledged op {hash} lost in the crash");
    }
    let cpk_status = client.get_op_status(cpk_hash).await.unwrap().unwrap();
    assert_eq!(
        cpk_status.commit_tx,
        Some(cpk_commit),
        "the commit transaction of a batch committed before the crash"
    );
    let after = account(client, alice).await.unwrap();
    let applied = u128::from(after.nonce - 1); // nonce 0 was the ChangePubKey
    assert!(
        applied >= acknowledged.len() as u128,
        "acknowledged transfers missing"
    );
    assert!(
        applied <= acknowledged.len() as u128 + 1,
        "more transfers than were sent"
    );
    assert_eq!(
        eth(&after),
        10 * ETHER - WITHDRAW_FEE - applied * (amount + TRANSFER_FEE),
        "Alice's balance counts each applied transfer exactly once"
    );
    let bob_now = account(client, bob).await.unwrap();
    assert_eq!(eth(&bob_now), applied * amount);

    // The node goes on: a new transfer, and every sealed block committed on L1.
    let t = transfer(&l2, id, bob, amount, after.nonce, &domain);
    client
        .send_op(&request(&Op::Transfer(t)))
        .await
        .expect("a transfer after the restart");
    setup.all_committed(Duration::from_secs(60)).await;
    drop(node);
}

/// With `l1.group_wait_ms` set, blocks sealed within that wait are committed on L1 together,
/// in one `commitBatches` transaction, instead of one transaction each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_sealed_within_the_group_wait_are_committed_in_one_transaction() {
    let setup = Setup::new(
        L1Section {
            confirmations: 1,
            poll_ms: 200,
            max_batches_per_tx: 8,
            group_wait_ms: 6_000,
        },
        200,
    )
    .await;
    let client = &setup.client;
    let _node = setup.spawn_node();
    let (id, domain) = setup.alice().await;
    // The deposits' blocks first, so the three blocks below start a group of their own.
    setup.all_committed(Duration::from_secs(60)).await;

    // Three ops, each sent once the previous one's block is sealed: three blocks in about a
    // second, well within the 6 s wait.
    let (l2, cpk) = activate(&setup.alice_l1, id, 0, WITHDRAW_FEE, &domain);
    let bob = Address::repeat_byte(0xb0);
    let ops = [
        cpk,
        Op::Transfer(transfer(&l2, id, bob, ETHER / 100, 1, &domain)),
        Op::Transfer(transfer(&l2, id, bob, ETHER / 100, 2, &domain)),
    ];
    let mut hashes = Vec::new();
    let mut blocks = Vec::new();
    for op in &ops {
        let hash = client.send_op(&request(op)).await.expect("accepted");
        let block = until("the op's block sealed", Duration::from_secs(30), || async {
            let block = client.get_op_status(hash).await.ok()??.block?;
            let sealed = client.status().await.ok()?.latest_block;
            (sealed >= block).then_some(block)
        })
        .await;
        hashes.push(hash);
        blocks.push(block);
    }
    assert!(
        blocks.windows(2).all(|w| w[0] < w[1]),
        "each op in a block of its own: {blocks:?}"
    );
    let mut commits = Vec::new();
    for hash in &hashes {
        commits.push(
            until(
                "the op committed on L1",
                Duration::from_secs(60),
                || async { client.get_op_status(*hash).await.ok()??.commit_tx },
            )
            .await,
        );
    }
    assert!(
        commits.iter().all(|c| *c == commits[0]),
        "blocks {blocks:?} committed by {commits:?}: one transaction expected"
    );
    // The status reports where the sequencer's time went: the checks, seals and commits of
    // these blocks took some.
    let phases = client.status().await.unwrap().sequencer;
    assert!(
        phases.verify_us > 0 && phases.seal_us > 0 && phases.commit_us > 0,
        "{phases:?}"
    );
}
