//! The L1 watcher loop: confirmed deposits and full exits go to the sequencer in queue order;
//! token listings and on-chain key authorizations update what the next blocks accept.
//!
//! The watcher re-reads the contract's events from its deployment block on every start
//! (token listings and authorizations are not stored by the node) and resumes priority ops at
//! the first id the node has not included, so a restart neither skips nor repeats one. A
//! reorg deeper than the confirmation depth is fatal: the node may hold an op L1 no longer
//! has, which only an operator can sort out.

use crate::NodeFatal;
use crate::sequencer::{Command, SequencerHandle};
use alloy::providers::Provider;
use causeway_l1::watch::{L1Event, WatchConfig, Watcher};
use causeway_primitives::{Address, Op};
use causeway_rpc::api::NodeError;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What the watcher knows that the RPC shows.
#[derive(Debug, Default)]
pub struct L1View {
    /// Listed tokens by id; ETH (id 0, address zero) first.
    pub tokens: Mutex<Vec<Address>>,
    /// Priority ops seen on L1 above the confirmation depth.
    pub unconfirmed: AtomicU64,
    pub head: AtomicU64,
}

/// Follows L1 until a fatal error.
pub async fn follow<P: Provider>(
    l1: P,
    cfg: WatchConfig,
    next_priority: u64,
    poll: Duration,
    sequencer: SequencerHandle,
    view: std::sync::Arc<L1View>,
) -> Result<(), NodeFatal> {
    let mut watcher = Watcher::resume(cfg, next_priority);
    loop {
        let update = match watcher.poll(&l1).await {
            Ok(u) => u,
            Err(e) if e.is_transient() => {
                tracing::warn!(error = %e, "L1 watcher poll failed; retrying");
                tokio::time::sleep(poll).await;
                continue;
            }
            Err(e) => return Err(NodeFatal::l1(e)),
        };
        if let Some(block) = update.reorged {
            tracing::warn!(block, "L1 reorganized above the confirmation depth");
        }
        view.head.store(update.head, Ordering::Relaxed);
        let unconfirmed = update
            .unconfirmed
            .iter()
            .filter(|e| matches!(e, L1Event::Priority { .. }))
            .count();
        view.unconfirmed
            .store(unconfirmed as u64, Ordering::Relaxed);

        let mut ops: Vec<Op> = Vec::new();
        let mut auths = Vec::new();
        let mut listed = false;
        for event in update.confirmed {
            match event {
                L1Event::Priority { op, .. } => ops.push(op),
                L1Event::TokenListed { id, token } => {
                    let mut tokens = view.tokens.lock().unwrap_or_else(|e| e.into_inner());
                    let id = usize::from(id.get());
                    if tokens.len() <= id {
                        tokens.resize(id + 1, Address::ZERO);
                    }
                    tokens[id] = token;
                    listed = true;
                }
                L1Event::PubkeyAuthorized {
                    owner,
                    nonce,
                    pubkey,
                } => auths.push((owner, pubkey, nonce)),
                _ => {}
            }
        }
        if listed || !auths.is_empty() {
            let token_count = view.tokens.lock().unwrap_or_else(|e| e.into_inner()).len();
            deliver(
                &sequencer,
                Command::L1Context {
                    token_count: u16::try_from(token_count).unwrap_or(u16::MAX),
                    auths,
                },
            )
            .await?;
        }
        if !ops.is_empty() {
            tracing::info!(count = ops.len(), "priority ops confirmed on L1");
            deliver(&sequencer, Command::Priority(ops)).await?;
        }
        tokio::time::sleep(poll).await;
    }
}

/// Hands `cmd` to the sequencer, waiting while its queue is full: L1's ops are never dropped.
async fn deliver(sequencer: &SequencerHandle, cmd: Command) -> Result<(), NodeFatal> {
    let sequencer = sequencer.clone();
    tokio::task::spawn_blocking(move || sequencer.send_blocking(cmd))
        .await
        .map_err(|e| NodeFatal::L1(e.to_string()))?
        .map_err(|e: NodeError| NodeFatal::L1(e.to_string()))
}
