//! The batch-chain reader on a real L1 (anvil): the counters, genesis, and a batch committed
//! (through the sender), reverted and committed again, where only the live commit's
//! `StoredBatch` is returned.

mod common;

use alloy::network::TransactionBuilder;
use alloy::primitives::U256;
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::SolCall;
use causeway_bindings::anvil::Anvil;
use causeway_bindings::{BatchChain::StoredBatch, ZkRollup};
use causeway_l1::batch::commit_info;
use causeway_l1::rollup::{BatchCounters, RollupError, batch_counters, stored_batch};
use causeway_l1::send::{SendConfig, TxSender};
use causeway_primitives::{AccountId, Deposit, Domain, Op, TokenId};
use causeway_stf::{BlockContext, MemoryState, StateView, WitnessMode, apply_block};
use common::{ETHER, deploy, operator_signer};

fn key(b: &StoredBatch) -> (u64, u64, u64, alloy::primitives::B256, U256) {
    (b.number, b.priorityOps, b.timestamp, b.root, b.commitment)
}

#[tokio::test(flavor = "current_thread")]
async fn reads_counters_and_the_live_stored_batch() {
    let chain = deploy(Anvil::spawn().expect("anvil")).await;
    let (l1, rollup) = (&chain.l1, chain.rollup);
    let zero = BatchCounters {
        committed: 0,
        proven: 0,
        executed: 0,
    };
    assert_eq!(batch_counters(l1, rollup).await.unwrap(), zero);
    let genesis = stored_batch(l1, rollup, 0, chain.deploy_block)
        .await
        .expect("genesis");
    assert_eq!(genesis.number, 0);
    assert_eq!(
        genesis.root,
        causeway_l1::batch::root_word(&MemoryState::new().root())
    );
    assert!(matches!(
        stored_batch(l1, rollup, 1, chain.deploy_block).await,
        Err(RollupError::NotCommitted {
            number: 1,
            committed: 0
        })
    ));

    // A deposit, and batch 1 executing it.
    let mut sender = TxSender::new(
        chain.anvil.endpoint_url(),
        operator_signer(),
        SendConfig {
            poll_interval: std::time::Duration::from_millis(50),
            ..SendConfig::default()
        },
    )
    .await
    .unwrap();
    let deposit = TransactionRequest::default()
        .with_to(rollup)
        .with_value(U256::from(ETHER))
        .with_input(ZkRollup::depositETHCall { to: chain.operator }.abi_encode());
    sender.send(deposit).await.expect("deposit");
    let ctx = BlockContext {
        domain: Domain {
            chain_id: l1.get_chain_id().await.unwrap(),
            contract: rollup,
        },
        fee_account: AccountId::new(0).unwrap(),
        token_count: 1,
        onchain_auths: Default::default(),
        max_fee_tokens: 1,
    };
    let ops = vec![Op::Deposit(Deposit {
        priority_id: 0,
        from: chain.operator,
        to: chain.operator,
        token: TokenId::ETH,
        amount: ETHER,
    })];
    let sealed = apply_block(&MemoryState::new(), &ctx, &ops, WitnessMode::Skip).expect("sealed");
    let commit = |last: StoredBatch| {
        TransactionRequest::default().with_to(rollup).with_input(
            ZkRollup::commitBatchesCall {
                last,
                batches: vec![commit_info(&sealed, &ops, ctx.fee_account)],
            }
            .abi_encode(),
        )
    };
    let committed_in = |receipt: &alloy::rpc::types::TransactionReceipt| {
        receipt
            .decoded_log::<ZkRollup::BatchCommitted>()
            .expect("BatchCommitted")
            .data
            .batch
    };

    let first = committed_in(&sender.send(commit(genesis.clone())).await.expect("commit"));
    let read = stored_batch(l1, rollup, 1, chain.deploy_block)
        .await
        .unwrap();
    assert_eq!(key(&read), key(&first));
    assert_eq!(
        batch_counters(l1, rollup).await.unwrap(),
        BatchCounters {
            committed: 1,
            ..zero
        }
    );

    // Reverted and committed again, later: two events for batch 1, only the second live.
    let revert = TransactionRequest::default().with_to(rollup).with_input(
        ZkRollup::revertBatchesCall {
            batches: vec![first.clone()],
        }
        .abi_encode(),
    );
    sender.send(revert).await.expect("revert");
    let _: serde_json::Value = l1
        .raw_request("evm_increaseTime".into(), (U256::from(10),))
        .await
        .unwrap();
    let second = committed_in(&sender.send(commit(genesis)).await.expect("recommit"));
    assert_ne!(second.timestamp, first.timestamp);
    let read = stored_batch(l1, rollup, 1, chain.deploy_block)
        .await
        .unwrap();
    assert_eq!(key(&read), key(&second));
}
