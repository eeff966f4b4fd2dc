//! (a) Every `causeway_*` method round-trips through the typed client.

use crate::Running;
use crate::mem_node::{self, ALICE, BOB, ERC20, MemNode, NOBODY};
use alloy_primitives::{Address, B256, Bytes, U256};
use causeway_rpc::api::{FeeKind, FeeQuote, NodeApi, OpRequest, OpStage, SignatureJson, TokenInfo};
use causeway_rpc::client::Client;
use causeway_rpc::server::MAX_HISTORY;

/// The nonce Alice's next op carries.
const ALICE_NEXT: u32 = mem_node::ALICE_NONCE;

fn signature() -> SignatureJson {
    SignatureJson {
        pubkey: B256::repeat_byte(0x11),
        r8x: B256::repeat_byte(1),
        r8y: B256::repeat_byte(2),
        s: B256::repeat_byte(3),
    }
}

pub fn transfer(nonce: u32) -> OpRequest {
    OpRequest::Transfer {
        from: 1,
        to: BOB,
        token: 0,
        amount: U256::from(10u64),
        fee: U256::from(1000u64),
        nonce,
        signature: signature(),
    }
}

#[tokio::test]
async fn send_op_submits_each_kind_and_the_op_reads_back_pending() {
    let rpc = Running::start().await;
    let client = Client::new(rpc.http_url()).unwrap();
    let requests = [
        transfer(ALICE_NEXT),
        OpRequest::Withdraw {
            from: 1,
            to: Address::repeat_byte(0x99),
            token: 1,
            amount: U256::from(5u64),
            fee: U256::from(5000u64),
            nonce: ALICE_NEXT + 1,
            signature: signature(),
        },
        OpRequest::ChangePubKey {
            account: 2,
            new_pubkey: B256::repeat_byte(0x22),
            fee_token: 0,
            fee: U256::from(3000u64),
            nonce: 0,
            eth_signature: Some(Bytes::from(vec![7u8; 65])),
        },
    ];
    for request in &requests {
        let hash = client.send_op(request).await.unwrap();
        let op = request.to_op().unwrap();
        assert_eq!(hash, op.hash());
        assert_eq!(rpc.node.submitted().last(), Some(&op));

        let view = client.get_op(hash).await.unwrap().expect("the op is known");
        assert_eq!((view.block, view.index), (None, None));
        let status = client.get_op_status(hash).await.unwrap().unwrap();
        assert_eq!(status.stage, OpStage::Pending);
    }
    assert_eq!(rpc.node.submitted().len(), requests.len());
}

#[tokio::test]
async fn reads_round_trip_what_the_node_answers() {
    let rpc = Running::start().await;
    let client = Client::new(rpc.http_url()).unwrap();
    let node = MemNode::fixture();

    assert_eq!(client.node_info().await.unwrap(), node.info());
    assert_eq!(client.status().await.unwrap(), node.status().await.unwrap());

    assert_eq!(
        client.get_account(ALICE).await.unwrap(),
        node.account(ALICE).await.unwrap()
    );
    assert!(client.get_account(ALICE).await.unwrap().is_some());
    assert_eq!(client.get_account(NOBODY).await.unwrap(), None);

    let sealed = mem_node::transfer_eth();
    let status = client.get_op_status(sealed).await.unwrap().unwrap();
    assert_eq!(
        (status.stage, status.block, status.index),
        (OpStage::Committed, Some(1), Some(0))
    );
    assert!(status.commit_tx.is_some());
    assert_eq!(client.get_op_status(B256::ZERO).await.unwrap(), None);

    let deposit = mem_node::deposit();
    assert_eq!(
        client.get_op(deposit).await.unwrap(),
        node.op(deposit).await.unwrap()
    );
    assert_eq!(client.get_op(B256::ZERO).await.unwrap(), None);

    for number in 0..=2 {
        let block = client.get_block(number).await.unwrap();
        assert_eq!(block, node.block(number).await.unwrap());
        assert!(block.is_some());
    }
    assert_eq!(client.get_block(99).await.unwrap(), None);

    assert_eq!(
        client.get_fee_quote(FeeKind::Withdraw, 1).await.unwrap(),
        FeeQuote {
            token: 1,
            fee: U256::from(5000u64)
        }
    );
    assert_eq!(
        client.get_tokens().await.unwrap(),
        vec![
            TokenInfo {
                id: 0,
                address: Address::ZERO
            },
            TokenInfo {
                id: 1,
                address: ERC20
            }
        ]
    );

    assert_eq!(
        client.get_account_proof(1, 0).await.unwrap(),
        Some(MemNode::proof())
    );
    assert_eq!(client.get_account_proof(1, 1).await.unwrap(), None);
}

#[tokio::test]
async fn history_is_newest_first_and_its_limit_is_capped() {
    let rpc = Running::start().await;
    let client = Client::new(rpc.http_url()).unwrap();

    let latest_two: Vec<B256> = client
        .get_history(ALICE, 2)
        .await
        .unwrap()
        .iter()
        .map(|op| op.hash)
        .collect();
    assert_eq!(
        latest_two,
        [mem_node::pending(), mem_node::transfer_erc20()]
    );
    assert_eq!(rpc.node.last_history_limit(), Some(2));

    let all = client.get_history(ALICE, u64::MAX).await.unwrap();
    assert_eq!(all.len(), 4);
    assert_eq!(rpc.node.last_history_limit(), Some(MAX_HISTORY as usize));

    assert!(client.get_history(NOBODY, 10).await.unwrap().is_empty());
}
