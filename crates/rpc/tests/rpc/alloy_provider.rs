//! (d) alloy's provider, the strictest of the Ethereum clients (its types reject a missing
//! field or a malformed quantity), reads every Ethereum method the server answers.

use crate::Running;
use crate::mem_node::{
    self, ALICE, ALICE_ETH, ALICE_ETH_SEALED, ALICE_NONCE, BOB, CLIENT_VERSION, FEE_RECIPIENT,
    L1_DEPOSITOR, L2_CHAIN_ID, NOBODY,
};
use alloy::consensus::Transaction as _;
use alloy::network::TransactionResponse;
use alloy::providers::{Provider, ProviderBuilder};
use alloy::rpc::types::{BlockId, BlockNumberOrTag, BlockTransactions, TransactionRequest};
use alloy_primitives::{B256, U256};
use causeway_rpc::eth::{BLOCK_GAS_LIMIT, EMPTY_ROOT_HASH, EMPTY_UNCLES_HASH};

fn provider(rpc: &Running) -> impl Provider {
    ProviderBuilder::new().connect_http(rpc.http_url().parse().unwrap())
}

#[tokio::test]
async fn alloy_reads_chain_accounts_and_fees() {
    let rpc = Running::start().await;
    let eth = provider(&rpc);

    assert_eq!(eth.get_chain_id().await.unwrap(), L2_CHAIN_ID);
    assert_eq!(eth.get_net_version().await.unwrap(), L2_CHAIN_ID);
    assert_eq!(eth.get_client_version().await.unwrap(), CLIENT_VERSION);
    assert_eq!(eth.get_block_number().await.unwrap(), 2);

    assert_eq!(eth.get_balance(ALICE).await.unwrap(), U256::from(ALICE_ETH));
    // Bob's account holds only an ERC-20; nobody has no account: both hold no ETH.
    assert_eq!(eth.get_balance(BOB).await.unwrap(), U256::ZERO);
    assert_eq!(eth.get_balance(NOBODY).await.unwrap(), U256::ZERO);
    // `pending` answers from the soft state, as `latest` does.
    assert_eq!(
        eth.get_balance(ALICE)
            .block_id(BlockNumberOrTag::Pending.into())
            .await
            .unwrap(),
        U256::from(ALICE_ETH)
    );
    assert_eq!(
        eth.get_transaction_count(ALICE).await.unwrap(),
        u64::from(ALICE_NONCE)
    );
    assert_eq!(eth.get_transaction_count(NOBODY).await.unwrap(), 0);
    assert!(eth.get_code_at(ALICE).await.unwrap().is_empty());

    assert_eq!(eth.get_gas_price().await.unwrap(), 0);
    assert_eq!(eth.get_max_priority_fee_per_gas().await.unwrap(), 0);
    let history = eth
        .get_fee_history(2, BlockNumberOrTag::Latest, &[25.0, 75.0])
        .await
        .unwrap();
    assert_eq!(history.oldest_block, 1);
    assert_eq!(history.base_fee_per_gas, [0, 0, 0]);
    assert_eq!(history.gas_used_ratio, [0.0, 0.0]);
    assert_eq!(history.reward, Some(vec![vec![0, 0]; 2]));
    // What wallets do before they sign (eth_feeHistory underneath); alloy floors the
    // priority fee at 1 wei, so that is all it asks.
    let fees = eth.estimate_eip1559_fees().await.unwrap();
    assert_eq!(fees.max_priority_fee_per_gas, 1);
    assert_eq!(fees.max_fee_per_gas, 1);

    let transfer = TransactionRequest::default()
        .from(ALICE)
        .to(BOB)
        .value(U256::from(1));
    assert_eq!(eth.estimate_gas(transfer.clone()).await.unwrap(), 0);
    assert!(eth.call(transfer).await.unwrap().is_empty());

    assert!(eth.get_accounts().await.unwrap().is_empty());
    assert_eq!(
        eth.syncing().await.unwrap(),
        alloy::rpc::types::SyncStatus::None
    );
}

#[tokio::test]
async fn alloy_reads_balances_and_nonces_at_past_blocks() {
    let rpc = Running::start().await;
    let eth = provider(&rpc);

    // Every reference but `latest` and `pending` names a sealed block and gets the state
    // after it: safe = committed = 1, finalized = executed = 0, earliest = 0.
    for (at, balance, nonce) in [
        (BlockNumberOrTag::Number(0).into(), 0, 0),
        (BlockNumberOrTag::Number(1).into(), ALICE_ETH_SEALED, 1),
        (BlockNumberOrTag::Number(2).into(), ALICE_ETH_SEALED, 2),
        (BlockNumberOrTag::Safe.into(), ALICE_ETH_SEALED, 1),
        (BlockNumberOrTag::Finalized.into(), 0, 0),
        (BlockNumberOrTag::Earliest.into(), 0, 0),
        (BlockId::hash(mem_node::block_hash(1)), ALICE_ETH_SEALED, 1),
    ] {
        assert_eq!(
            eth.get_balance(ALICE).block_id(at).await.unwrap(),
            U256::from(balance),
            "{at}"
        );
        assert_eq!(
            eth.get_transaction_count(ALICE).block_id(at).await.unwrap(),
            nonce,
            "{at}"
        );
    }
    assert_eq!(
        rpc.node.account_at_blocks(),
        [0, 0, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, 1, 1]
    );
    // `latest` counts the pending op, which the state after block 2 (nonce 2) does not.
    assert_eq!(
        eth.get_transaction_count(ALICE).latest().await.unwrap(),
        u64::from(ALICE_NONCE)
    );
    assert_eq!(
        eth.get_balance(NOBODY)
            .block_id(BlockNumberOrTag::Number(1).into())
            .await
            .unwrap(),
        U256::ZERO
    );
    // eth_getCode takes a block too, and there is never code.
    assert!(
        eth.get_code_at(ALICE)
            .block_id(BlockNumberOrTag::Number(1).into())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn state_reads_of_blocks_the_node_lacks_are_errors() {
    let rpc = Running::start().await;
    let eth = provider(&rpc);

    // A block beyond the latest, or a hash of no block: what geth answers, -32000 "header not
    // found".
    for at in [
        BlockId::from(BlockNumberOrTag::Number(3)),
        BlockId::from(BlockNumberOrTag::Number(u64::MAX)),
        BlockId::hash(B256::repeat_byte(9)),
    ] {
        let err = eth.get_balance(ALICE).block_id(at).await.unwrap_err();
        let resp = err.as_error_resp().expect("a JSON-RPC error");
        assert_eq!(
            (resp.code, resp.message.as_ref()),
            (-32000, "header not found"),
            "{at}"
        );
        let err = eth
            .get_transaction_count(ALICE)
            .block_id(at)
            .await
            .unwrap_err();
        assert_eq!(err.as_error_resp().expect("an error").code, -32000, "{at}");
    }

    // A block older than the node's state history.
    rpc.node.set_history_from(2);
    let err = eth
        .get_balance(ALICE)
        .block_id(BlockNumberOrTag::Number(1).into())
        .await
        .unwrap_err();
    let resp = err.as_error_resp().expect("a JSON-RPC error");
    assert_eq!(resp.code, -32000);
    assert!(resp.message.contains("history starts at block 2"), "{resp}");
    assert_eq!(
        resp.data.as_ref().map(|d| d.get()),
        Some(r#"{"firstBlock":2}"#)
    );
}

#[tokio::test]
async fn alloy_reads_blocks_with_hashes_and_full_transactions() {
    let rpc = Running::start().await;
    let eth = provider(&rpc);

    let block = eth
        .get_block_by_number(BlockNumberOrTag::Number(1))
        .hashes()
        .await
        .unwrap()
        .expect("block 1 is sealed");
    let header = &block.header;
    assert_eq!(header.hash, mem_node::block_hash(1));
    assert_eq!(header.number, 1);
    assert_eq!(header.parent_hash, B256::ZERO);
    assert_eq!(header.beneficiary, FEE_RECIPIENT);
    assert_eq!(header.timestamp, 1_700_000_012);
    assert_eq!(header.gas_limit, BLOCK_GAS_LIMIT);
    assert_eq!(header.gas_used, 0);
    assert_eq!(header.base_fee_per_gas, Some(0));
    assert_eq!(header.ommers_hash, EMPTY_UNCLES_HASH);
    assert_eq!(header.transactions_root, EMPTY_ROOT_HASH);
    assert_eq!(header.receipts_root, EMPTY_ROOT_HASH);
    assert_eq!(
        block.transactions,
        BlockTransactions::Hashes(vec![mem_node::transfer_eth(), mem_node::deposit()])
    );

    let full = eth
        .get_block_by_number(BlockNumberOrTag::Number(1))
        .full()
        .await
        .unwrap()
        .unwrap();
    let txs = full
        .transactions
        .as_transactions()
        .expect("full transactions");
    assert_eq!(txs.len(), 2);
    assert_eq!(txs[0].tx_hash(), mem_node::transfer_eth());
    assert_eq!(txs[0].block_hash(), Some(mem_node::block_hash(1)));
    assert_eq!(txs[1].from(), L1_DEPOSITOR);
    assert_eq!(txs[1].transaction_index(), Some(1));

    let by_hash = eth
        .get_block_by_hash(mem_node::block_hash(2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_hash.header.number, 2);
    assert_eq!(by_hash.header.parent_hash, mem_node::block_hash(1));

    // Tags: latest = 2, safe = committed = 1, finalized = executed = 0.
    for (tag, number) in [
        (BlockNumberOrTag::Latest, 2),
        (BlockNumberOrTag::Pending, 2),
        (BlockNumberOrTag::Safe, 1),
        (BlockNumberOrTag::Finalized, 0),
        (BlockNumberOrTag::Earliest, 0),
    ] {
        let block = eth.get_block_by_number(tag).await.unwrap().unwrap();
        assert_eq!(block.header.number, number, "{tag}");
    }
    assert!(
        eth.get_block_by_number(BlockNumberOrTag::Number(3))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        eth.get_block_by_hash(B256::repeat_byte(9))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn alloy_reads_transactions_and_receipts() {
    let rpc = Running::start().await;
    let eth = provider(&rpc);

    let tx = eth
        .get_transaction_by_hash(mem_node::transfer_eth())
        .await
        .unwrap()
        .expect("the op is a transaction");
    assert_eq!(tx.tx_hash(), mem_node::transfer_eth());
    assert_eq!(tx.from(), ALICE);
    assert_eq!(tx.to(), Some(BOB));
    assert_eq!(tx.value(), U256::from(1_000_000_000_000_000_000u128));
    assert_eq!(tx.block_number(), Some(1));
    assert_eq!(tx.transaction_index(), Some(0));
    assert_eq!(tx.chain_id(), Some(L2_CHAIN_ID));

    // An ERC-20 transfer moves no ETH.
    let erc20 = eth
        .get_transaction_by_hash(mem_node::transfer_erc20())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(erc20.value(), U256::ZERO);
    assert_eq!(erc20.nonce(), 1);

    let receipt = eth
        .get_transaction_receipt(mem_node::transfer_eth())
        .await
        .unwrap()
        .expect("sealed ops have receipts");
    assert!(receipt.status());
    assert_eq!(receipt.transaction_hash, mem_node::transfer_eth());
    assert_eq!(receipt.block_hash, Some(mem_node::block_hash(1)));
    assert_eq!(receipt.block_number, Some(1));
    assert_eq!((receipt.from, receipt.to), (ALICE, Some(BOB)));
    assert_eq!(receipt.gas_used, 0);
    assert_eq!(receipt.contract_address, None);

    // A pending op: a transaction without a block, and no receipt yet.
    let pending = eth
        .get_transaction_by_hash(mem_node::pending())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pending.block_hash(), None);
    assert_eq!(pending.block_number(), None);
    assert!(
        eth.get_transaction_receipt(mem_node::pending())
            .await
            .unwrap()
            .is_none()
    );

    assert!(
        eth.get_transaction_by_hash(B256::ZERO)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        eth.get_transaction_receipt(B256::ZERO)
            .await
            .unwrap()
            .is_none()
    );
}
