//! Sealing a block: crediting the collected fees, then committing to the new state.
//!
//! The commitment is computed in one batch: every touched balance tree is updated once per
//! block (in parallel across accounts), then every touched account leaf is rehashed, then the
//! account tree is updated once, hashing each shared node a single time. This is the fast path;
//! when a witness is recorded, its op-by-op root chain must end at the same root (checked here).
//!
//! The two steps can also be taken apart: [`Closed`] is a block with its fees credited and its
//! changes held as values, sealed later over the state it ran on. A pipelined sequencer closes
//! block n, runs block n+1 over it, and seals and commits block n on another thread meanwhile.

use crate::effects::{Layered, Pending};
use crate::error::BlockError;
use crate::executor::Receipt;
use crate::state::Tree;
use crate::state::{StateDiff, StateView};
use crate::witness::{BlockWitness, WitnessBuilder};
use causeway_crypto::poseidon;
use causeway_primitives::pubdata::PubdataOp;
use causeway_primitives::{AccountId, Balance, Fr, TokenId, checked_add};
use causeway_tree::NodeDiff;
use rayon::prelude::*;

/// Account leaves hashed per task on the pool.
const LEAF_CHUNK: usize = 32;
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
        pubdata(&self.receipts)
    }
}

/// A block whose ops ran and whose fees are credited, before its commitment is computed: its
/// changes as owned values. A sequencer hands it to another thread to seal and commit while
/// the next block runs over it ([`Executor::after`](crate::Executor::after)).
#[derive(Debug, Clone)]
pub struct Closed {
    pub receipts: Vec<Receipt>,
    /// Fees credited to the fee account, per token.
    pub fees: BTreeMap<TokenId, Balance>,
    pending: Pending,
    /// Accounts in the state the block ran on: the state it must be sealed over.
    base_count: u32,
}

impl Closed {
    pub(crate) fn pending(&self) -> &Pending {
        &self.pending
    }

    /// The block's pubdata.
    pub fn pubdata(&self) -> Vec<u8> {
        pubdata(&self.receipts)
    }

    /// Computes the block's commitment over `base`, which must be the state the block ran
    /// on (with any block it ran after applied). Refused with [`BlockError::WrongBase`] when
    /// `base` visibly is not that state (see [`check_base`](Self::check_base)).
    pub fn seal<V: StateView>(self, base: &V) -> Result<Sealed, BlockError> {
        Ok(Sealed {
            diff: self.commitment(base)?,
            receipts: self.receipts,
            fees: self.fees,
            witness: None,
        })
    }

    /// The new roots and node writes of the block over `base`, as [`seal`](Self::seal)
    /// computes them, leaving the block in place (a sequencer still runs the next block
    /// over it meanwhile).
    pub fn commitment<V: StateView>(&self, base: &V) -> Result<StateDiff, BlockError> {
        self.check_base(base)?;
        Ok(commit(base, &self.pending))
    }

    /// Whether `base` can be the state the block ran on. Only the account count is compared:
    /// a wrong base with as many accounts passes, and the seal over it is consistent but
    /// wrong (the caller's order of blocks is what makes the base right).
    pub fn check_base<V: StateView>(&self, base: &V) -> Result<(), BlockError> {
        if base.account_count() != self.base_count {
            return Err(BlockError::WrongBase {
                expected: self.base_count,
                found: base.account_count(),
            });
        }
        Ok(())
    }
}

fn pubdata(receipts: &[Receipt]) -> Vec<u8> {
    let mut out = Vec::new();
    for receipt in receipts {
        receipt.executed.encode_into(&mut out);
    }
    out
}

/// Credits the block's collected fees to the fee account (recording each credit in the
/// witness, if there is one).
fn credit_fees<V: StateView>(
    state: &mut Layered<'_, V>,
    fee_account: AccountId,
    mut witness: Option<&mut WitnessBuilder<'_, V>>,
) -> Result<BTreeMap<TokenId, Balance>, BlockError> {
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
        if let Some(w) = witness.as_deref_mut() {
            w.record_fee(&before, &state.snapshot(&[(fee_account, Some(*token))]));
        }
    }
    Ok(fees)
}

/// Credits the fees and hands the block's changes over as owned values.
pub(crate) fn close<V: StateView>(
    mut state: Layered<'_, V>,
    fee_account: AccountId,
    receipts: Vec<Receipt>,
    base_count: u32,
) -> Result<Closed, BlockError> {
    let fees = credit_fees(&mut state, fee_account, None)?;
    Ok(Closed {
        receipts,
        fees,
        pending: state.pending,
        base_count,
    })
}

pub(crate) fn seal<V: StateView>(
    mut state: Layered<'_, V>,
    fee_account: AccountId,
    receipts: Vec<Receipt>,
    mut witness: Option<WitnessBuilder<'_, V>>,
) -> Result<Sealed, BlockError> {
    assert!(
        state.prior.is_none(),
        "a block that ran after an uncommitted one is closed, then sealed once that one is in the base"
    );
    let fees = credit_fees(&mut state, fee_account, witness.as_mut())?;
    let diff = commit(state.base, &state.pending);
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
fn commit<V: StateView>(base: &V, pending: &Pending) -> StateDiff {
    let mut by_account: BTreeMap<AccountId, Vec<(u64, Fr)>> = BTreeMap::new();
    for ((account, token), balance) in &pending.balances {
        by_account
            .entry(*account)
            .or_default()
            .push((u64::from(token.get()), Fr::from(*balance)));
    }
    let trees: Vec<(Tree, &[(u64, Fr)])> = by_account
        .iter()
        .map(|(account, leaves)| (Tree::balances(account.get()), leaves.as_slice()))
        .collect();
    let balance_roots: Vec<(AccountId, Fr, NodeDiff)> = by_account
        .keys()
        .zip(
            Tree::update_trees(base, &trees)
                .expect("token ids are below 2^10, the balance tree's width"),
        )
        .map(|(account, (root, nodes))| (*account, root, nodes))
        .collect();

    let touched: BTreeSet<AccountId> = pending
        .accounts
        .keys()
        .copied()
        .chain(balance_roots.iter().map(|(a, _, _)| *a))
        .collect();
    let new_balance_roots: BTreeMap<AccountId, Fr> =
        balance_roots.iter().map(|(a, r, _)| (*a, *r)).collect();
    let touched: Vec<AccountId> = touched.into_iter().collect();
    // Leaves hashed a chunk at a time (eight lanes where the CPU has them).
    let leaves: Vec<(u64, Fr)> = touched
        .par_chunks(LEAF_CHUNK)
        .flat_map_iter(|ids| {
            let inputs: Vec<[Fr; 4]> = ids
                .iter()
                .map(|&id| {
                    let account = pending
                        .accounts
                        .get(&id)
                        .cloned()
                        .or_else(|| base.account(id))
                        .expect("only existing accounts change");
                    let balances_root = new_balance_roots
                        .get(&id)
                        .copied()
                        .unwrap_or_else(|| base.balances_root(id));
                    account.leaf_inputs(balances_root)
                })
                .collect();
            ids.iter()
                .map(|id| u64::from(id.get()))
                .zip(poseidon::hash_many(&inputs))
                .collect::<Vec<_>>()
        })
        .collect();
    let (new_root, account_nodes) = Tree::accounts()
        .update(base, &leaves)
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
        old_root: base.root(),
        new_root,
    }
}
