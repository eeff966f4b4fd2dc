//! Rebuilding state from pubdata alone: what exit tools and verifying nodes run.
//!
//! Replaying runs the same [`effects`](crate::effects) as executing signed ops, minus the
//! authorization checks (L1 accepted the batch, so its ops were authorized), and seals the
//! block the same way. A batch whose pubdata does not replay (an overdraft, an account that
//! does not exist, a wrong new-account id) is refused whole.

use crate::effects::Layered;
use crate::error::BlockError;
use crate::executor::Receipt;
use crate::seal::{Sealed, seal};
use crate::state::StateView;
use causeway_primitives::AccountId;
use causeway_primitives::pubdata::decode;

/// Replays one batch's pubdata on `view`, crediting fees to `fee_account`.
pub fn replay<V: StateView>(
    view: &V,
    fee_account: AccountId,
    pubdata: &[u8],
) -> Result<Sealed, BlockError> {
    let ops = decode(pubdata)?;
    let mut state = Layered::new(view);
    let mut receipts = Vec::with_capacity(ops.len());
    for (index, op) in ops.into_iter().enumerate() {
        let count_before = state.pending.account_count;
        state
            .apply_effects(&op)
            .map_err(|error| BlockError::InvalidOp { index, error })?;
        let created = (state.pending.account_count > count_before)
            .then(|| AccountId::new(count_before).expect("created ids are valid"));
        receipts.push(Receipt {
            executed: op,
            created,
        });
    }
    seal(state, fee_account, receipts, None)
}
