//! The watcher on a real L1 (anvil, instant mining; blocks added with `anvil_mine`, reorgs
//! made with `evm_snapshot`/`evm_revert`): events become confirmed only at the configured
//! depth, in log order, once; a shallow reorg replaces the unconfirmed view and is reported; a
//! reorg below the depth is fatal; a resumed watcher skips the priority ops already included
//! and refuses a gap.

mod common;

use alloy::primitives::{Address, U256};
use alloy::providers::DynProvider;
use alloy::rpc::types::TransactionReceipt;
use causeway_bindings::ZkRollup;
use causeway_bindings::anvil::Anvil;
use causeway_l1::BadL1Data;
use causeway_l1::watch::{L1Event, WatchConfig, WatchError, WatchUpdate, Watcher};
use causeway_primitives::{AccountId, Deposit, FullExit, Op, TokenId};
use common::{Chain, ETHER, deploy, mine, revert_to, snapshot};

const ALICE: Address = Address::repeat_byte(0xa1);
const BOB: Address = Address::repeat_byte(0xb0);

fn config(chain: &Chain, confirmations: u64) -> WatchConfig {
    WatchConfig {
        rollup: chain.rollup,
        confirmations,
        from_block: chain.deploy_block,
        // Small, so that the tests also read in several chunks.
        max_range: 2,
    }
}

async fn deposit(chain: &Chain, to: Address, amount: u128) -> TransactionReceipt {
    let receipt = ZkRollup::new(chain.rollup, &chain.l1)
        .depositETH(to)
        .value(U256::from(amount))
        .send()
        .await
        .expect("deposit sent")
        .get_receipt()
        .await
        .expect("deposit mined");
    assert!(receipt.status());
    receipt
}

async fn poll(watcher: &mut Watcher, l1: &DynProvider) -> WatchUpdate {
    watcher.poll(l1).await.expect("poll")
}

/// The priority ids among `events`.
fn priority_ids(events: &[L1Event]) -> Vec<u64> {
    events
        .iter()
        .filter_map(|e| match e {
            L1Event::Priority {
                op: Op::Deposit(d), ..
            } => Some(d.priority_id),
            L1Event::Priority {
                op: Op::FullExit(f),
                ..
            } => Some(f.priority_id),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "current_thread")]
async fn deposits_and_full_exit_confirm_at_depth_in_order_once() {
    let chain = deploy(Anvil::spawn().expect("anvil")).await;
    let l1 = &chain.l1;
    let mut watcher = Watcher::new(config(&chain, 3));

    // The deployment's own events are there, not yet confirmed.
    let u = poll(&mut watcher, l1).await;
    assert_eq!(u.head, chain.deploy_block);
    assert!(u.confirmed.is_empty());
    assert_eq!(u.unconfirmed.len(), 2, "{:?}", u.unconfirmed);
    assert_eq!(
        u.unconfirmed[0],
        L1Event::TokenListed {
            id: TokenId::ETH,
            token: Address::ZERO
        }
    );
    assert!(matches!(
        u.unconfirmed[1],
        L1Event::BatchCommitted { number: 0, .. }
    ));

    // Two deposits and a full exit, one block each.
    let r0 = deposit(&chain, ALICE, ETHER).await;
    let r1 = deposit(&chain, BOB, 2 * ETHER).await;
    let r2 = ZkRollup::new(chain.rollup, l1)
        .requestFullExit(7, 0)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(r2.status());
    let d = chain.deploy_block;
    assert_eq!(r2.block_number, Some(d + 3));

    // Head d+3: the deployment block is 3 deep, confirmed; the ops are not.
    let u = poll(&mut watcher, l1).await;
    assert_eq!(u.head, d + 3);
    assert_eq!(u.confirmed.len(), 2, "{:?}", u.confirmed);
    assert_eq!(priority_ids(&u.unconfirmed), [0, 1, 2]);
    assert_eq!(u.reorged, None);

    // One block on top: the first deposit is confirmed, in full.
    mine(l1, 1).await;
    let u = poll(&mut watcher, l1).await;
    let deadline = match &u.confirmed[..] {
        [L1Event::Priority { deadline, .. }] => *deadline,
        other => panic!("expected the first deposit, got {other:?}"),
    };
    assert_eq!(
        u.confirmed,
        [L1Event::Priority {
            op: Op::Deposit(Deposit {
                priority_id: 0,
                from: chain.operator,
                to: ALICE,
                token: TokenId::ETH,
                amount: ETHER,
            }),
            deadline,
            l1_block: d + 1,
            tx_hash: r0.transaction_hash,
        }]
    );
    assert!(deadline > 3600);
    assert_eq!(priority_ids(&u.unconfirmed), [1, 2]);

    // Nothing new: nothing confirmed twice.
    let u = poll(&mut watcher, l1).await;
    assert!(u.confirmed.is_empty());
    assert_eq!(priority_ids(&u.unconfirmed), [1, 2]);

    // Two more blocks: the rest, in order.
    mine(l1, 2).await;
    let u = poll(&mut watcher, l1).await;
    assert_eq!(priority_ids(&u.confirmed), [1, 2]);
    assert!(u.unconfirmed.is_empty());
    match &u.confirmed[..] {
        [
            L1Event::Priority {
                op: Op::Deposit(second),
                tx_hash,
                ..
            },
            L1Event::Priority {
                op: Op::FullExit(exit),
                l1_block,
                ..
            },
        ] => {
            assert_eq!((second.to, second.amount), (BOB, 2 * ETHER));
            assert_eq!(*tx_hash, r1.transaction_hash);
            assert_eq!(
                *exit,
                FullExit {
                    priority_id: 2,
                    account: AccountId::new(7).unwrap(),
                    owner: chain.operator,
                    token: TokenId::ETH,
                }
            );
            assert_eq!(*l1_block, d + 3);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(watcher.next_priority_id(), 3);
    assert_eq!(watcher.next_block(), d + 4);

    mine(l1, 5).await;
    let u = poll(&mut watcher, l1).await;
    assert!(u.confirmed.is_empty() && u.unconfirmed.is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn shallow_reorg_replaces_the_unconfirmed_view() {
    let chain = deploy(Anvil::spawn().expect("anvil")).await;
    let l1 = &chain.l1;
    let mut watcher = Watcher::new(config(&chain, 3));
    mine(l1, 3).await;
    let u = poll(&mut watcher, l1).await;
    assert_eq!(u.confirmed.len(), 2, "the deployment's events");

    let before = snapshot(l1).await;
    let a = deposit(&chain, ALICE, ETHER).await;
    let block = a.block_number.unwrap();
    let u = poll(&mut watcher, l1).await;
    assert_eq!(priority_ids(&u.unconfirmed), [0]);
    assert_eq!(u.reorged, None);

    // The deposit's block is replaced by one with another deposit, at the same height.
    revert_to(l1, before).await;
    let b = deposit(&chain, BOB, 2 * ETHER).await;
    assert_eq!(b.block_number, Some(block));
    assert_ne!(b.block_hash, a.block_hash);
    let u = poll(&mut watcher, l1).await;
    assert_eq!(u.reorged, Some(block));
    assert!(u.confirmed.is_empty());
    match &u.unconfirmed[..] {
        [
            L1Event::Priority {
                op: Op::Deposit(d),
                tx_hash,
                ..
            },
        ] => {
            assert_eq!((d.priority_id, d.to, d.amount), (0, BOB, 2 * ETHER));
            assert_eq!(*tx_hash, b.transaction_hash);
        }
        other => panic!("expected Bob's deposit only, got {other:?}"),
    }

    // A shorter chain (the replacement block gone, nothing new) is a reorg too.
    let again = snapshot(l1).await;
    let c = deposit(&chain, ALICE, 3 * ETHER).await;
    let u = poll(&mut watcher, l1).await;
    assert_eq!(priority_ids(&u.unconfirmed), [0, 1]);
    revert_to(l1, again).await;
    let u = poll(&mut watcher, l1).await;
    assert_eq!(u.reorged, c.block_number);
    assert_eq!(priority_ids(&u.unconfirmed), [0]);

    // The replacement is what gets confirmed, once.
    mine(l1, 3).await;
    let u = poll(&mut watcher, l1).await;
    assert_eq!(u.reorged, None);
    match &u.confirmed[..] {
        [L1Event::Priority { tx_hash, .. }] => assert_eq!(*tx_hash, b.transaction_hash),
        other => panic!("expected Bob's deposit, got {other:?}"),
    }
    let u = poll(&mut watcher, l1).await;
    assert!(u.confirmed.is_empty() && u.unconfirmed.is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn reorg_below_the_confirmation_depth_is_fatal() {
    let chain = deploy(Anvil::spawn().expect("anvil")).await;
    let l1 = &chain.l1;
    let mut watcher = Watcher::new(config(&chain, 2));
    let before = snapshot(l1).await;
    deposit(&chain, ALICE, ETHER).await;
    mine(l1, 2).await;
    let u = poll(&mut watcher, l1).await;
    assert_eq!(priority_ids(&u.confirmed), [0]);

    revert_to(l1, before).await;
    mine(l1, 4).await;
    let err = watcher
        .poll(l1)
        .await
        .expect_err("a confirmed deposit vanished");
    assert!(
        matches!(err, WatchError::DeepReorg { block, .. } if block == chain.deploy_block + 1),
        "{err:?}"
    );
    assert!(!err.is_transient());
    // The watcher is unchanged: it keeps refusing.
    assert!(matches!(
        watcher.poll(l1).await,
        Err(WatchError::DeepReorg { .. })
    ));
}

#[tokio::test(flavor = "current_thread")]
async fn resume_skips_included_priority_ops_and_refuses_a_gap() {
    let chain = deploy(Anvil::spawn().expect("anvil")).await;
    let l1 = &chain.l1;
    let mut blocks = Vec::new();
    for i in 0..3 {
        let r = deposit(&chain, ALICE, (i + 1) * ETHER).await;
        blocks.push(r.block_number.unwrap());
    }
    mine(l1, 1).await;

    // The node included ops 0 and 1 before it restarted.
    let mut watcher = Watcher::resume(config(&chain, 1), 2);
    let u = poll(&mut watcher, l1).await;
    assert_eq!(priority_ids(&u.confirmed), [2]);
    assert_eq!(u.confirmed.len(), 3, "plus the deployment's events");

    deposit(&chain, BOB, ETHER).await;
    mine(l1, 1).await;
    let u = poll(&mut watcher, l1).await;
    assert_eq!(priority_ids(&u.confirmed), [3]);
    assert_eq!(watcher.next_priority_id(), 4);

    // Starting after op 1's block while expecting op 1: a gap, not silence.
    let mut late = Watcher::resume(
        WatchConfig {
            from_block: blocks[2],
            ..config(&chain, 1)
        },
        1,
    );
    let err = late.poll(l1).await.expect_err("op 1 is missing");
    assert!(
        matches!(
            err,
            WatchError::BadData(BadL1Data::PriorityGap {
                expected: 1,
                found: 2,
                ..
            })
        ),
        "{err:?}"
    );
}
