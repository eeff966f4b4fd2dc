//! The witness: for every op, each touched account leaf before and after, with its paths.
//!
//! Ops are replayed against an overlay of the tree, one account update at a time, so each
//! [`AccountUpdate`] carries the Merkle paths valid at that moment and the root chain
//! `root_before -> root_after` links op to op. This is what a prover consumes for a batch and
//! what a one-step fraud proof consumes for a single op. An op touches each account at most
//! once (a self-transfer is one update), and each update changes at most one token's balance.
//! A full exit records its account even when it exits nothing, so the claim "nothing to exit"
//! is checkable too. Fee credits at the end of the block are updates of the fee account.

use crate::effects::{Layered, Snapshot};
use crate::state::Tree;
use crate::state::{AccountState, StateView};
use causeway_primitives::pubdata::PubdataOp;
use causeway_primitives::{AccountId, Balance, Fr, TokenId, TxSignature};
use causeway_tree::{MerkleProof, Overlay};

/// One account leaf update.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountUpdate {
    pub account: AccountId,
    /// `None` for a slot that held no account (the update creates it, or proves it empty).
    pub before: Option<AccountState>,
    pub after: Option<AccountState>,
    pub balances_root_before: Fr,
    pub balances_root_after: Fr,
    pub balance: Option<BalanceUpdate>,
    /// Path of the account leaf in the account tree before the update.
    pub account_proof: MerkleProof,
    pub root_before: Fr,
    pub root_after: Fr,
}

/// One balance leaf update inside an account.
#[derive(Debug, Clone, PartialEq)]
pub struct BalanceUpdate {
    pub token: TokenId,
    pub before: Balance,
    pub after: Balance,
    /// Path of the balance leaf in the account's balance tree before the update.
    pub proof: MerkleProof,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OpWitness {
    pub op: PubdataOp,
    /// The L2 signature that authorized the op (transfers and withdrawals); the circuit
    /// verifies it against the key in the sender's leaf.
    pub signature: Option<TxSignature>,
    pub updates: Vec<AccountUpdate>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BlockWitness {
    pub old_root: Fr,
    pub ops: Vec<OpWitness>,
    /// Fee credits to the fee account, one per token that collected fees.
    pub fee_updates: Vec<AccountUpdate>,
    pub new_root: Fr,
    /// Accounts in the state before and after the block: new accounts take ids in order, so
    /// a batch creates exactly the ids `old_account_count..new_account_count`.
    pub old_account_count: u32,
    pub new_account_count: u32,
}

/// The accounts (and the token of each) an executed op touches, in update order.
pub(crate) fn touched(op: &PubdataOp) -> Vec<(AccountId, Option<TokenId>)> {
    match op {
        PubdataOp::Noop => vec![],
        PubdataOp::Transfer {
            from, to, token, ..
        }
        | PubdataOp::TransferToNew {
            from, to, token, ..
        } => {
            if from == to {
                vec![(*from, Some(*token))]
            } else {
                vec![(*from, Some(*token)), (*to, Some(*token))]
            }
        }
        PubdataOp::Withdraw { from, token, .. } => vec![(*from, Some(*token))],
        PubdataOp::Deposit { account, token, .. } | PubdataOp::FullExit { account, token, .. } => {
            vec![(*account, Some(*token))]
        }
        PubdataOp::ChangePubKey {
            account, fee_token, ..
        } => vec![(*account, Some(*fee_token))],
    }
}

pub(crate) struct WitnessBuilder<'a, V: StateView> {
    nodes: Overlay<'a, V>,
    old_root: Fr,
    old_account_count: u32,
    ops: Vec<OpWitness>,
    fee_updates: Vec<AccountUpdate>,
}

impl<'a, V: StateView> WitnessBuilder<'a, V> {
    pub fn new(view: &'a V) -> Self {
        Self {
            nodes: Overlay::new(view),
            old_root: view.root(),
            old_account_count: view.account_count(),
            ops: Vec::new(),
            fee_updates: Vec::new(),
        }
    }

    pub fn record_op(
        &mut self,
        op: &PubdataOp,
        signature: Option<TxSignature>,
        before: &Snapshot,
        after: &Snapshot,
    ) {
        let updates = self.updates(before, after);
        self.ops.push(OpWitness {
            op: op.clone(),
            signature,
            updates,
        });
    }

    pub fn record_fee(&mut self, before: &Snapshot, after: &Snapshot) {
        let updates = self.updates(before, after);
        self.fee_updates.extend(updates);
    }

    fn updates(&mut self, before: &Snapshot, after: &Snapshot) -> Vec<AccountUpdate> {
        before
            .iter()
            .zip(after)
            .map(|(b, a)| self.update(b, a))
            .collect()
    }

    fn update(
        &mut self,
        before: &(AccountId, Option<AccountState>, Option<(TokenId, Balance)>),
        after: &(AccountId, Option<AccountState>, Option<(TokenId, Balance)>),
    ) -> AccountUpdate {
        let account = before.0;
        let balances = Tree::balances(account.get());
        let accounts = Tree::accounts();
        let balances_root_before = balances.root(&self.nodes);
        let root_before = accounts.root(&self.nodes);
        let account_proof = accounts
            .proof(&self.nodes, u64::from(account.get()))
            .expect("account ids fit the account tree");

        let balance = match (before.2, after.2) {
            (Some((token, b)), Some((_, a))) => {
                let index = u64::from(token.get());
                let proof = balances.proof(&self.nodes, index).expect("token ids fit");
                let (_, diff) = balances
                    .update(&self.nodes, &[(index, Fr::from(a))])
                    .expect("token ids fit");
                self.nodes.apply(&diff);
                Some(BalanceUpdate {
                    token,
                    before: b,
                    after: a,
                    proof,
                })
            }
            _ => None,
        };
        let balances_root_after = balances.root(&self.nodes);
        let leaf = after
            .1
            .as_ref()
            .map_or(Fr::from(0u64), |s| s.leaf_hash(balances_root_after));
        let (root_after, diff) = accounts
            .update(&self.nodes, &[(u64::from(account.get()), leaf)])
            .expect("account ids fit the account tree");
        self.nodes.apply(&diff);
        AccountUpdate {
            account,
            before: before.1.clone(),
            after: after.1.clone(),
            balances_root_before,
            balances_root_after,
            balance,
            account_proof,
            root_before,
            root_after,
        }
    }

    pub fn finish(self, new_account_count: u32) -> BlockWitness {
        let new_root = Tree::accounts().root(&self.nodes);
        BlockWitness {
            old_root: self.old_root,
            ops: self.ops,
            fee_updates: self.fee_updates,
            new_root,
            old_account_count: self.old_account_count,
            new_account_count,
        }
    }
}

impl<V: StateView> Layered<'_, V> {
    /// The current value of each touched account and balance.
    pub(crate) fn snapshot(&self, slots: &[(AccountId, Option<TokenId>)]) -> Snapshot {
        slots
            .iter()
            .map(|(id, token)| {
                (
                    *id,
                    self.account(*id),
                    token.map(|t| (t, self.balance(*id, t))),
                )
            })
            .collect()
    }
}
