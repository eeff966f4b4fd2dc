//! The node as the JSON-RPC server sees it: [`NodeApi`] over the sequencer, the L1 submitter's
//! progress and the watcher's view.
//!
//! Reads of the state and of blocks run on the sequencer thread (as [`Soft`] queries), so an
//! answer never mixes two moments of the state. L1 stages come from the submitter's counters:
//! a block's stage is the furthest L1 step its batch number has reached.

use crate::config::FeeSchedule;
use crate::follow::L1View;
use crate::sequencer::{Command, SequencerHandle, Soft};
use crate::settle::L1Progress;
use alloy_primitives::{Address, B256, U256};
use causeway_l1::batch::field_word;
use causeway_primitives::{AccountId, Op, TokenId};
use causeway_rpc::api::{
    AccountAt, AccountInfo, AccountProof, BlockInfo, ChainStatus, FeeKind, FeeQuote, NodeApi,
    NodeError, NodeInfo, OpStage, OpStatus, OpView, TokenBalance, TokenInfo,
};
use causeway_stf::StateView;
use causeway_storage::{BlockRecord, StorageError};
use causeway_tree::{Poseidon, SparseMerkleTree};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::oneshot;

/// The node's RPC face.
pub struct Service {
    pub info: NodeInfo,
    pub fees: FeeSchedule,
    pub sequencer: SequencerHandle,
    pub l1: Arc<L1Progress>,
    pub view: Arc<L1View>,
}

fn storage(e: causeway_storage::StorageError) -> NodeError {
    NodeError::Unavailable(format!("storage: {e}"))
}

/// A historical read's refusal as the RPC reports it: the caller named a block the node has
/// no state of; anything else is the node's failure.
fn history(e: StorageError) -> NodeError {
    match e {
        StorageError::BlockNotCommitted { .. } => NodeError::UnknownBlock,
        StorageError::HistoryUnavailable { block, from } => {
            NodeError::HistoryUnavailable { block, first: from }
        }
        other => storage(other),
    }
}

impl Service {
    /// The stage of sealed block `number` on L1.
    fn stage(&self, number: u64) -> OpStage {
        if number <= self.l1.executed.load(Ordering::Relaxed) {
            OpStage::Executed
        } else if number <= self.l1.proven.load(Ordering::Relaxed) {
            OpStage::Proven
        } else if number <= self.l1.committed.load(Ordering::Relaxed) {
            OpStage::Committed
        } else {
            OpStage::Included
        }
    }
}

/// An op as the RPC shows it, with account ids resolved to addresses through `soft`.
fn op_view(soft: &Soft<'_>, op: &Op, at: Option<(u64, u32)>) -> OpView {
    let address = |id: AccountId| soft.exec.account(id).map_or(Address::ZERO, |a| a.address);
    let (kind, from, to, token, amount, fee, nonce, priority_id) = match op {
        Op::Noop => ("noop", Address::ZERO, None, 0, 0, 0, None, None),
        Op::Deposit(d) => (
            "deposit",
            d.from,
            Some(d.to),
            d.token.get(),
            d.amount,
            0,
            None,
            Some(d.priority_id),
        ),
        Op::FullExit(e) => (
            "fullExit",
            e.owner,
            Some(e.owner),
            e.token.get(),
            0,
            0,
            None,
            Some(e.priority_id),
        ),
        Op::Transfer(t) => (
            "transfer",
            address(t.from),
            Some(t.to),
            t.token.get(),
            t.amount,
            t.fee,
            Some(t.nonce),
            None,
        ),
        Op::Withdraw(w) => (
            "withdraw",
            address(w.from),
            Some(w.to),
            w.token.get(),
            w.amount,
            w.fee,
            Some(w.nonce),
            None,
        ),
        Op::ChangePubKey(c) => (
            "changePubKey",
            address(c.account),
            None,
            c.fee_token.get(),
            0,
            c.fee,
            Some(c.nonce),
            None,
        ),
    };
    OpView {
        hash: op.hash(),
        kind: kind.into(),
        from,
        to,
        token,
        amount: U256::from(amount),
        fee: U256::from(fee),
        nonce,
        priority_id,
        block: at.map(|(b, _)| b),
        index: at.map(|(_, i)| i),
    }
}

/// A block as read on the sequencer thread: its record, its parent's hash, its ops and the
/// fee recipient's address.
type BlockParts = (BlockRecord, B256, Vec<OpView>, Address);

/// The hash of block `number` (zero for the genesis' parent).
fn block_hash(soft: &Soft<'_>, number: u64) -> Result<B256, NodeError> {
    if number == 0 {
        return Ok(B256::ZERO);
    }
    Ok(soft
        .db
        .block(number)
        .map_err(storage)?
        .map_or(B256::ZERO, |b| b.hash()))
}

impl NodeApi for Service {
    fn info(&self) -> NodeInfo {
        self.info.clone()
    }

    async fn submit(&self, op: Op) -> Result<B256, NodeError> {
        if matches!(op, Op::Deposit(_) | Op::FullExit(_) | Op::Noop) {
            return Err(NodeError::Rejected {
                reason: "PriorityOp".into(),
                message: "deposits and full exits are requested on L1".into(),
            });
        }
        let (reply, answer) = oneshot::channel();
        self.sequencer.send(Command::Submit { op, reply })?;
        answer
            .await
            .map_err(|_| NodeError::Unavailable("the sequencer stopped".into()))?
    }

    async fn account(&self, address: Address) -> Result<Option<AccountInfo>, NodeError> {
        self.sequencer
            .query(move |soft| {
                let id = soft.exec.account_id(&address)?;
                let account = soft.exec.account(id)?;
                let balances = (0..soft.token_count)
                    .filter_map(|t| {
                        let token = TokenId::new(t).ok()?;
                        let amount = soft.exec.balance(id, token);
                        (amount > 0).then(|| TokenBalance {
                            token: t,
                            amount: U256::from(amount),
                        })
                    })
                    .collect();
                Some(AccountInfo {
                    id: id.get(),
                    address,
                    nonce: soft.next_nonce(id).unwrap_or(account.nonce),
                    pubkey: account.pubkey.map(|k| B256::from(k.packed().0)),
                    balances,
                })
            })
            .await
    }

    async fn account_at(&self, address: Address, block: u64) -> Result<AccountAt, NodeError> {
        self.sequencer
            .query(move |soft| {
                let db = soft.db;
                // Addresses never move and ids are never reused, so the account's id now is its
                // id at every block; an address the committed state does not know had no
                // account at any sealed block, but the block must still exist.
                let Some(id) = db.state().account_id(&address) else {
                    db.check_history_block(block).map_err(history)?;
                    return Ok(AccountAt {
                        block,
                        balance: U256::ZERO,
                        nonce: 0,
                    });
                };
                Ok(AccountAt {
                    block,
                    balance: U256::from(db.balance_at(id, TokenId::ETH, block).map_err(history)?),
                    nonce: db.nonce_at(id, block).map_err(history)?,
                })
            })
            .await?
    }

    async fn op_status(&self, hash: B256) -> Result<Option<OpStatus>, NodeError> {
        let found = self
            .sequencer
            .query(move |soft| {
                if soft.pending_op(&hash).is_some() {
                    return Ok(Some(None));
                }
                soft.db.find_op(&hash).map(|f| f.map(Some))
            })
            .await?
            .map_err(storage)?;
        Ok(found.map(|at| match at {
            None => OpStatus {
                hash,
                stage: OpStage::Pending,
                block: None,
                index: None,
                commit_tx: None,
                prove_tx: None,
                execute_tx: None,
            },
            Some((block, index)) => {
                let txs = self.l1.txs_of(block);
                OpStatus {
                    hash,
                    stage: self.stage(block),
                    block: Some(block),
                    index: Some(index),
                    commit_tx: txs.commit,
                    prove_tx: txs.prove,
                    execute_tx: txs.execute,
                }
            }
        }))
    }

    async fn op(&self, hash: B256) -> Result<Option<OpView>, NodeError> {
        self.sequencer
            .query(move |soft| {
                if let Some(op) = soft.pending_op(&hash) {
                    return Ok(Some(op_view(soft, op, None)));
                }
                let Some((block, index)) = soft.db.find_op(&hash).map_err(storage)? else {
                    return Ok(None);
                };
                let record = soft.db.block(block).map_err(storage)?;
                Ok(record.and_then(|r| {
                    let op = r.ops.get(index as usize)?;
                    Some(op_view(soft, op, Some((block, index))))
                }))
            })
            .await?
    }

    async fn block(&self, number: u64) -> Result<Option<BlockInfo>, NodeError> {
        let found = self
            .sequencer
            .query(move |soft| -> Result<Option<BlockParts>, NodeError> {
                let record = if number == 0 {
                    genesis()
                } else {
                    match soft.db.block(number).map_err(storage)? {
                        Some(r) => r,
                        None => return Ok(None),
                    }
                };
                let parent = block_hash(soft, number.saturating_sub(1))?;
                let ops = record
                    .ops
                    .iter()
                    .enumerate()
                    .map(|(i, op)| op_view(soft, op, Some((number, i as u32))))
                    .collect();
                let fee_recipient = soft
                    .exec
                    .account(record.fee_account)
                    .map_or(Address::ZERO, |a| a.address);
                Ok(Some((record, parent, ops, fee_recipient)))
            })
            .await??;
        Ok(found.map(|(record, parent_hash, ops, fee_recipient)| {
            let txs = self.l1.txs_of(number);
            BlockInfo {
                number,
                hash: if number == 0 {
                    genesis_hash()
                } else {
                    record.hash()
                },
                parent_hash,
                timestamp: record.timestamp,
                state_root: causeway_l1::batch::root_word(&record.new_root),
                fee_recipient,
                ops,
                stage: if number == 0 {
                    OpStage::Executed
                } else {
                    self.stage(number)
                },
                commit_tx: txs.commit,
                prove_tx: txs.prove,
                execute_tx: txs.execute,
            }
        }))
    }

    async fn block_number_by_hash(&self, hash: B256) -> Result<Option<u64>, NodeError> {
        if hash == genesis_hash() {
            return Ok(Some(0));
        }
        self.sequencer
            .query(move |soft| soft.db.block_number_by_hash(&hash))
            .await?
            .map_err(storage)
    }

    async fn status(&self) -> Result<ChainStatus, NodeError> {
        Ok(ChainStatus {
            latest_block: self.sequencer.progress.latest_block.load(Ordering::Relaxed),
            committed: self.l1.committed.load(Ordering::Relaxed),
            proven: self.l1.proven.load(Ordering::Relaxed),
            executed: self.l1.executed.load(Ordering::Relaxed),
            mempool: self.sequencer.progress.mempool.load(Ordering::Relaxed),
            unconfirmed_priority_ops: self.view.unconfirmed.load(Ordering::Relaxed),
            sequencer: self.sequencer.progress.phases.snapshot(),
        })
    }

    async fn fee_quote(&self, kind: FeeKind, token: u16) -> Result<FeeQuote, NodeError> {
        let tokens = self
            .view
            .tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len();
        if usize::from(token) >= tokens {
            return Err(NodeError::Rejected {
                reason: "UnknownToken".into(),
                message: format!("token {token} is not listed"),
            });
        }
        let fee = match kind {
            FeeKind::Transfer => self.fees.transfer,
            FeeKind::Withdraw => self.fees.withdraw,
            FeeKind::ChangePubKey => self.fees.change_pubkey,
        };
        Ok(FeeQuote {
            token,
            fee: U256::from(fee),
        })
    }

    async fn tokens(&self) -> Result<Vec<TokenInfo>, NodeError> {
        let tokens = self.view.tokens.lock().unwrap_or_else(|e| e.into_inner());
        Ok(tokens
            .iter()
            .enumerate()
            .map(|(id, address)| TokenInfo {
                id: id as u16,
                address: *address,
            })
            .collect())
    }

    async fn account_proof(
        &self,
        account: u32,
        token: u16,
    ) -> Result<Option<AccountProof>, NodeError> {
        let (Ok(id), Ok(token_id)) = (AccountId::new(account), TokenId::new(token)) else {
            return Ok(None);
        };
        self.sequencer
            .query(move |soft| {
                // The committed state (the latest sealed block), not the soft one: a proof is
                // only useful against a root that goes to L1.
                let state = soft.db.state();
                let owner = state.account(id)?;
                let balances = SparseMerkleTree::<Poseidon>::balances(account)
                    .proof(state, u64::from(token))
                    .ok()?;
                let accounts = SparseMerkleTree::<Poseidon>::accounts()
                    .proof(state, u64::from(account))
                    .ok()?;
                let path = |s: &[[causeway_primitives::Fr; 3]]| -> Vec<[U256; 3]> {
                    s.iter().map(|l| l.map(|f| field_word(&f))).collect()
                };
                let zero = causeway_primitives::Fr::from(0u64);
                let (x, y) = owner.pubkey.map_or((zero, zero), |k| (k.x, k.y));
                Some(AccountProof {
                    block: soft.db.latest_block().unwrap_or(0),
                    root: causeway_l1::batch::root_word(&state.root()),
                    account_id: account,
                    token,
                    balance: U256::from(state.balance(id, token_id)),
                    owner: owner.address,
                    nonce: owner.nonce,
                    pubkey_x: field_word(&x),
                    pubkey_y: field_word(&y),
                    balance_path: path(&balances.siblings),
                    account_path: path(&accounts.siblings),
                })
            })
            .await
    }

    async fn history(&self, address: Address, limit: usize) -> Result<Vec<OpView>, NodeError> {
        /// Blocks scanned back from the latest, at most: history is a convenience, not an
        /// index (an indexer is a later step).
        const SCAN: u64 = 10_000;
        self.sequencer
            .query(move |soft| {
                let mut out = Vec::new();
                let touches = |v: &OpView| v.from == address || v.to == Some(address);
                for (_, op) in soft.sealing.iter().chain(&soft.mempool.open).rev() {
                    let v = op_view(soft, op, None);
                    if touches(&v) {
                        out.push(v);
                    }
                }
                let latest = soft.db.latest_block().unwrap_or(0);
                let mut n = latest;
                while n > 0 && n + SCAN > latest && out.len() < limit {
                    let Some(record) = soft.db.block(n).map_err(storage)? else {
                        break;
                    };
                    for (i, op) in record.ops.iter().enumerate().rev() {
                        let v = op_view(soft, op, Some((n, i as u32)));
                        if touches(&v) {
                            out.push(v);
                        }
                    }
                    n -= 1;
                }
                out.truncate(limit);
                Ok(out)
            })
            .await?
    }
}

/// Block 0: the empty state before any op.
fn genesis() -> BlockRecord {
    let root = causeway_stf::MemoryState::new().root();
    BlockRecord {
        number: 0,
        timestamp: 0,
        fee_account: AccountId::new(0).expect("0 is an account id"),
        old_root: root,
        new_root: root,
        account_count: 0,
        ops: vec![],
        pubdata: vec![],
    }
}

/// The genesis block's hash: a constant any client can recompute.
fn genesis_hash() -> B256 {
    alloy_primitives::keccak256(b"causeway:genesis:v1")
}
