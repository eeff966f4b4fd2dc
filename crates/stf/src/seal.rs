//! Sealing a block: crediting the collected fees, then committing to the new state.
//!
//! The commitment is computed in one batch: every touched balance tree is updated once per
//! block (in parallel across accounts), then every touched account leaf is rehashed, then the
//! account tree is updated once, hashing each shared node a single time. This is the fast path;
//! when a witness is recorded, its op-by-op root chain must end at the same root (checked here).

use crate::effects::Layered;
use crate::error::BlockError;
use crate::executor::Receipt;
use crate::state::Tree;
use crate::state::{StateDiff, StateView};
use crate::witness::{BlockWitness, WitnessBuilder};
use causeway_primitives::pubdata::PubdataOp;
use causeway_primitives::{AccountId, Balance, Fr, TokenId, checked_add};
use causeway_tree::NodeDiff;
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// A sealed block: what it did, what it changed, and (if asked) how to prove it.
#[derive(Debug, Clone)]
pub struct Sealed {
    pub receipts: Vec<Receipt>,
    pub diff: StateDiff,
    /// Fees credited to the fee account, per token.
    pub fees: BTreeMap<TokenId, Balance>,
    pub witness: Option<BlockWitness>,
}

impl Sealed {
    /// The executed ops, in order.
    pub fn executed(&self) -> Vec<PubdataOp> {
        self.receipts.iter().map(|r| r.executed.clone()).collect()
    }

    /// The block's pubdata.
    pub fn pubdata(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for receipt in &self.receipts {
            receipt.executed.encode_into(&mut out);
        }
        out
    }
}

pub(crate) fn seal<V: StateView>(
    mut state: Layered<'_, V>,
    fee_account: AccountId,
    receipts: Vec<Receipt>,
    mut witness: Option<WitnessBuilder<'_, V>>,
) -> Result<Sealed, BlockError> {
    let fees: BTreeMap<TokenId, Balance> = std::mem::take(&mut state.pending.collected_fees)
        .into_iter()
        .filter(|(_, fee)| *fee > 0)
        .collect();
    if !fees.is_empty() && state.account(fee_account).is_none() {
        return Err(BlockError::NoFeeAccount(fee_account));
    }
    for (token, fee) in &fees {
        let before = state.snapshot(&[(fee_account, Some(*token))]);
        let credited = checked_add(state.balance(fee_account, *token), *fee)
            .ok_or(BlockError::FeeOverflow(*token))?;
        state
            .pending
            .balances
            .insert((fee_account, *token), credited);
        if let Some(w) = &mut witness {
            w.record_fee(&before, &state.snapshot(&[(fee_account, Some(*token))]));
        }
    }

    let diff = commit(&state);
    let witness = witness.map(|w| w.finish(state.pending.account_count));
    if let Some(w) = &witness {
        assert_eq!(
            w.new_root, diff.new_root,
            "witness root chain diverged from the batch commit"
        );
    }
    Ok(Sealed {
        receipts,
        diff,
        fees,
        witness,
    })
}

/// Computes the new roots and every node write for a block's pending changes.
fn commit<V: StateView>(state: &Layered<'_, V>) -> StateDiff {
    let pending = &state.pending;
    let mut by_account: BTreeMap<AccountId, Vec<(u64, Fr)>> = BTreeMap::new();
    for ((account, token), balance) in &pending.balances {
        by_account
            .entry(*account)
            .or_default()
            .push((u64::from(token.get()), Fr::from(*balance)));
    }
    let balance_roots: Vec<(AccountId, Fr, NodeDiff)> = by_account
        .into_par_iter()
        .map(|(account, leaves)| {
            let (root, nodes) = Tree::balances(account.get())
                .update(state.base, &leaves)
                .expect("token ids are below 2^10, the balance tree's width");
            (account, root, nodes)
        })
        .collect();

    let touched: BTreeSet<AccountId> = pending
        .accounts
        .keys()
        .copied()
        .chain(balance_roots.iter().map(|(a, _, _)| *a))
        .collect();
    let new_balance_roots: BTreeMap<AccountId, Fr> =
        balance_roots.iter().map(|(a, r, _)| (*a, *r)).collect();
    let leaves: Vec<(u64, Fr)> = touched
        .into_par_iter()
        .map(|id| {
            let account = state.account(id).expect("only existing accounts change");
            let balances_root = new_balance_roots
                .get(&id)
                .copied()
                .unwrap_or_else(|| state.base.balances_root(id));
            (u64::from(id.get()), account.leaf_hash(balances_root))
        })
        .collect();
    let (new_root, account_nodes) = Tree::accounts()
        .update(state.base, &leaves)
        .expect("account ids are below 2^24, the account tree's width");

    let mut nodes = account_nodes;
    for (_, _, balance_nodes) in balance_roots {
        nodes.extend(balance_nodes);
    }
    StateDiff {
        accounts: pending
            .accounts
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect(),
        balances: pending.balances.iter().map(|(k, v)| (*k, *v)).collect(),
        nodes,
        account_count: pending.account_count,
        old_root: state.base.root(),
        new_root,
    }
}
